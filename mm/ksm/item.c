// SPDX-License-Identifier: GPL-2.0-only
/*
 * KSM items: one struct ksm_item per scanned virtual page of a registered
 * mm, kept in a list per mm in ascending address order.  Here they are
 * made and freed, and the page an item stands for is looked up in its
 * mm's page tables, which ksmd holds by mmgrab() only.
 *
 * An item is freed loose: taking it out of a tree first is the business
 * of the trees' callers (see ksm_item_untrack() in scan.c).
 */

#include <linux/mm.h>
#include <linux/pagewalk.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "internal.h"

static struct kmem_cache *ksm_item_cache;

/**
 * ksm_items_init - create the slab cache of struct ksm_item
 *
 * Return: 0, or -ENOMEM.
 */
int __init ksm_items_init(void)
{
	ksm_item_cache = KMEM_CACHE(ksm_item, 0);
	return ksm_item_cache ? 0 : -ENOMEM;
}

/**
 * ksm_item_alloc - a new loose item for @addr of @mm
 * @mm: the mm, registered
 * @addr: the page aligned address
 *
 * Return: the item, or NULL without memory (ksmd tries again later).
 */
struct ksm_item *ksm_item_alloc(struct mm_struct *mm, unsigned long addr)
{
	struct ksm_item *item;

	item = kmem_cache_zalloc(ksm_item_cache, GFP_KERNEL |
				 __GFP_NORETRY | __GFP_NOWARN);
	if (!item)
		return NULL;
	item->mm = mm;
	item->addr_state = addr | KSM_ITEM_LOOSE;
	ksm_stats.items++;
	mm->ksm_rmap_items++;
	return item;
}

/**
 * ksm_item_free - free a loose item
 * @item: the item, in no tree and on no list
 * @mm: the mm it was an item of
 */
void ksm_item_free(struct ksm_item *item, struct mm_struct *mm)
{
	VM_WARN_ON_ONCE(ksm_item_state(item) != KSM_ITEM_LOOSE ||
			item->mm != mm);
	ksm_item_retire(item, mm);
	ksm_item_free_left(item);
}

/**
 * ksm_item_retire - count @item as freed, though a list still links it
 * @item: the item, taken off the list of @mm
 * @mm: the mm it was an item of
 *
 * The item is LEFT from now on, until ksm_item_free_left().
 */
void ksm_item_retire(struct ksm_item *item, struct mm_struct *mm)
{
	ksm_stats.items--;
	mm->ksm_rmap_items--;
	ksm_item_set_state(item, KSM_ITEM_LEFT);
}

/**
 * ksm_item_free_left - free an item that ksm_item_retire() counted out
 * @item: the item, on no list any more
 */
void ksm_item_free_left(struct ksm_item *item)
{
	VM_WARN_ON_ONCE(ksm_item_state(item) != KSM_ITEM_LEFT);
	kmem_cache_free(ksm_item_cache, item);
}

/**
 * ksm_lock_mm - pin @mm and take its mmap_lock for reading
 * @mm: an mm that ksmd holds by mmgrab() only
 *
 * Return: false, with nothing taken, if @mm is already exiting.
 */
bool ksm_lock_mm(struct mm_struct *mm)
{
	if (!mmget_not_zero(mm))
		return false;
	mmap_read_lock(mm);
	return true;
}

/**
 * ksm_lock_mm_read - take @mm's mmap_lock for reading, to look only
 * @mm: an mm that ksmd holds by mmgrab() only
 *
 * Enough to walk the page tables and take page references: exit_mmap()
 * frees page tables only with the mmap_lock held for writing.  Lookups
 * are frequent (one per unstable tree node compared), and this spares
 * them the two atomics of ksm_lock_mm(), which changing ptes needs.
 * Release with mmap_read_unlock().
 *
 * Return: false, with nothing taken, if @mm is already exiting.
 */
bool ksm_lock_mm_read(struct mm_struct *mm)
{
	mmap_read_lock(mm);
	if (!ksm_mm_exiting(mm))
		return true;
	mmap_read_unlock(mm);
	return false;
}

/**
 * ksm_unlock_mm - undo ksm_lock_mm()
 * @mm: the mm
 */
void ksm_unlock_mm(struct mm_struct *mm)
{
	mmap_read_unlock(mm);
	mmput_async(mm);
}

/**
 * ksm_mergeable_vma - the VM_MERGEABLE vma with anon pages covering @addr
 * @mm: the mm, with its mmap_lock held
 * @addr: the address
 *
 * Return: the vma, or NULL when the area is gone or no longer mergeable.
 */
struct vm_area_struct *ksm_mergeable_vma(struct mm_struct *mm,
					 unsigned long addr)
{
	struct vm_area_struct *vma = NULL;

	if (!ksm_mm_exiting(mm))
		vma = vma_lookup(mm, addr);
	if (vma && (vma->vm_flags & VM_MERGEABLE) && vma->anon_vma)
		return vma;
	return NULL;
}

/**
 * ksm_item_get_page - the anonymous page mapped where @item is, if any
 * @item: the item, not KSM_ITEM_STABLE
 *
 * Return: the page, referenced, or NULL.
 */
struct page *ksm_item_get_page(struct ksm_item *item)
{
	unsigned long addr = ksm_item_addr(item);
	struct mm_struct *mm = item->mm;
	struct vm_area_struct *vma;
	struct page *page = NULL;
	struct folio_walk fw;
	struct folio *folio;

	if (!ksm_lock_mm_read(mm))
		return NULL;
	vma = ksm_mergeable_vma(mm, addr);
	if (vma) {
		folio = folio_walk_start(&fw, vma, addr, 0);
		if (folio) {
			if (folio_test_anon(folio) &&
			    !folio_is_zone_device(folio)) {
				folio_get(folio);
				page = fw.page;
			}
			folio_walk_end(&fw, vma);
		}
	}
	if (page) {
		flush_anon_page(vma, page, addr);
		flush_dcache_page(page);
	}
	mmap_read_unlock(mm);
	return page;
}
