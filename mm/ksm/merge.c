// SPDX-License-Identifier: GPL-2.0-only
/*
 * KSM page-table work: making a page a KSM page, mapping a KSM page (or the
 * zero page) in place of an identical one, and undoing all that.
 *
 * ksmd works on other processes' mms.  It pins an mm with mmget_not_zero()
 * around each piece of page-table work, so exit_mmap() cannot start tearing
 * down page tables under it, while an exiting task never waits for ksmd:
 * if ksmd's reference is the last one, ksmd hands the teardown off with
 * mmput_async().
 */

#include <linux/hugetlb.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/oom.h>
#include <linux/pagemap.h>
#include <linux/pagewalk.h>
#include <linux/rmap.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/swap.h>
#include <linux/swapops.h>
#include <trace/events/ksm.h>
#include <asm/tlbflush.h>

#include "../internal.h"
#include "internal.h"

/* The pte that will map @kpage (a KSM page or the zero page) at @addr. */
static pte_t ksm_make_pte(struct vm_area_struct *vma, unsigned long addr,
			  struct page *kpage)
{
	struct folio *kfolio = page_folio(kpage);
	struct mm_struct *mm = vma->vm_mm;

	if (is_zero_pfn(page_to_pfn(kpage))) {
		/*
		 * The dirty bit tells a KSM zero page from a plain one (see
		 * is_ksm_zero_pte()); the page it replaces stops counting
		 * as anonymous memory.
		 */
		ksm_map_zero_page(mm);
		dec_mm_counter(mm, MM_ANONPAGES);
		return pte_mkdirty(pte_mkspecial(pfn_pte(page_to_pfn(kpage),
							 vma->vm_page_prot)));
	}
	folio_get(kfolio);
	folio_add_anon_rmap_pte(kfolio, kpage, vma, addr, RMAP_NONE);
	return mk_pte(kpage, vma->vm_page_prot);
}

/*
 * The pte at @ptep, once @pte, is cleared and flushed, and nobody can write
 * to @folio behind our back: map @kpage there instead if the contents are
 * the same, else fail with -ENOENT.  Comparing with the pte cleared rather
 * than write protected saves a second flush.
 */
static int ksm_switch_pte(struct vm_area_struct *vma, unsigned long addr,
			  pte_t *ptep, pte_t pte, struct folio *folio,
			  struct page *kpage)
{
	if (!ksm_pages_same(&folio->page, kpage))
		return -ENOENT;
	/* Other mappings of the folio keep it: keep its data too. */
	if (pte_dirty(pte))
		folio_mark_dirty(folio);
	set_pte_at(vma->vm_mm, addr, ptep, ksm_make_pte(vma, addr, kpage));
	folio_remove_rmap_pte(folio, &folio->page, vma);
	if (!folio_mapped(folio))
		folio_free_swap(folio);
	folio_put(folio);
	return 0;
}

/*
 * Clear and flush before looking at the refcount: once no TLB maps the
 * page, GUP-fast cannot take a new reference, so the comparison stays
 * true.  Besides the mappings, the locked @folio has the caller's
 * reference and the swap cache's, if any.
 */
static bool ksm_folio_unpinned(struct folio *folio)
{
	if (folio_ref_count(folio) ==
	    folio_mapcount(folio) + 1 + folio_test_swapcache(folio))
		return true;
	/* Off the LRU, a per-cpu LRU batch may hold the reference more. */
	if (!folio_test_lru(folio))
		ksm_cursor.drain = true;
	return false;
}

/*
 * The pte at @ptep, once @pte, is cleared and flushed: map @kpage in place
 * of @folio unless someone may be writing to the folio behind our back (a
 * GUP pin, O_DIRECT in flight) or the contents differ, else restore @pte.
 */
static int ksm_replace_cleared(struct vm_area_struct *vma, unsigned long addr,
			       pte_t *ptep, pte_t pte, struct folio *folio,
			       struct page *kpage)
{
	int err = -EFAULT;

	if (ksm_folio_unpinned(folio))
		err = ksm_switch_pte(vma, addr, ptep, pte, folio, kpage);
	if (err)
		set_pte_at(vma->vm_mm, addr, ptep, pte);
	return err;
}

/*
 * Write-protect the pte found by @pvmw, or with @kpage map that in its
 * place, unless someone may be writing to the folio behind our back (a GUP
 * pin, O_DIRECT in flight) or the folio cannot stop being exclusive.
 */
static int ksm_merge_pte(struct vm_area_struct *vma, struct folio *folio,
			 struct page_vma_mapped_walk *pvmw, struct page *kpage)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long addr = pvmw->address;
	bool exclusive = PageAnonExclusive(&folio->page);
	pte_t pte = ptep_get(pvmw->pte);

	if (!kpage && !pte_write(pte) && !pte_dirty(pte) && !exclusive &&
	    !mm_tlb_flush_pending(mm))
		return 0;

	flush_cache_page(vma, addr, folio_pfn(folio));
	pte = ptep_clear_flush(vma, addr, pvmw->pte);
	if (kpage)
		return ksm_replace_cleared(vma, addr, pvmw->pte, pte, folio,
					   kpage);
	if (!ksm_folio_unpinned(folio))
		goto restore;
	if (exclusive && folio_try_share_anon_rmap_pte(folio, &folio->page))
		goto restore;

	if (pte_dirty(pte))
		folio_mark_dirty(folio);
	set_pte_at(mm, addr, pvmw->pte, pte_wrprotect(pte_mkclean(pte)));
	return 0;

restore:
	set_pte_at(mm, addr, pvmw->pte, pte);
	return -EFAULT;
}

/*
 * Write-protect @folio where @vma maps it, or with @kpage replace it there
 * by @kpage.
 */
static int ksm_merge_mapping(struct vm_area_struct *vma, struct folio *folio,
			     struct page *kpage)
{
	DEFINE_FOLIO_VMA_WALK(pvmw, folio, vma, 0, 0);
	struct mmu_notifier_range range;
	int err = -EFAULT;

	/*
	 * No folio_maybe_dma_pinned() shortcut: a small folio mapped by 1024
	 * processes would look pinned.  The exact reference count test in
	 * ksm_merge_pte() refuses pinned folios all the same.
	 */
	if (WARN_ON_ONCE(folio_test_large(folio)))
		return -EFAULT;
	pvmw.address = page_address_in_vma(&folio->page, vma);
	if (pvmw.address == -EFAULT)
		return -EFAULT;

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, vma->vm_mm,
				pvmw.address, pvmw.address + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	if (page_vma_mapped_walk(&pvmw)) {
		if (!WARN_ONCE(!pvmw.pte, "ksm: PMD-mapped small folio"))
			err = ksm_merge_pte(vma, folio, &pvmw, kpage);
		page_vma_mapped_walk_done(&pvmw);
	}
	mmu_notifier_invalidate_range_end(&range);
	return err;
}

/*
 * Turn the locked, write-protected @folio into a KSM folio that has no
 * stable node yet; ksm_stable_insert() gives it one.
 */
static void ksm_promote(struct folio *folio)
{
	ksm_folio_set_snode(folio, NULL);
	folio_mark_accessed(folio);
	/* A clean page would be dropped by reclaim, not swapped: dirty it. */
	if (!folio_test_dirty(folio))
		folio_set_dirty(folio);
}

/*
 * Lock anonymous @page to merge it into @kpage (NULL: to make it a KSM
 * page).  The folio lock keeps the swapcache flag stable.  Do not wait for
 * it: ksmd has other pages to look at and comes back later.
 */
static bool ksm_trylock_for(struct page *page, struct page *kpage)
{
	if (!PageAnon(page) || !trylock_page(page))
		return false;
	/* The trees sort by scope, but only now is the charge held still. */
	if (!kpage || is_zero_pfn(page_to_pfn(kpage)) ||
	    ksm_same_scope(page_folio(page), page_folio(kpage)))
		return true;
	unlock_page(page);
	return false;
}

/*
 * Merge @page, mapped in @vma, into @kpage; with @kpage NULL, make @page a
 * KSM page itself.  Returns 0 on success, -ENOENT if the contents differ,
 * -EFAULT if the page cannot be merged now.
 */
static int ksm_merge_one(struct vm_area_struct *vma, struct page *page,
			 struct page *kpage)
{
	int err = -EFAULT;

	if (page == kpage)		/* the KSM page was forked */
		return 0;
	if (!ksm_trylock_for(page, kpage))
		return -EFAULT;
	if (PageTransCompound(page) && split_huge_page(page))
		goto unlock;

	err = ksm_merge_mapping(vma, page_folio(page), kpage);
	if (!err && !kpage)
		ksm_promote(page_folio(page));
unlock:
	unlock_page(page);
	return err;
}

/*
 * The key samples the page: look at all of it before write protecting a
 * page that only may be empty, and so making its next write fault.
 */
static bool ksm_page_is_zero(struct page *page)
{
	void *addr = kmap_local_page(page);
	bool zero = !memchr_inv(addr, 0, PAGE_SIZE);

	kunmap_local(addr);
	return zero;
}

/* Where rmap finds what @vma maps at @addr: taken under the mmap_lock. */
static void ksm_anchor_at(struct ksm_anchor *at, struct vm_area_struct *vma,
			  unsigned long addr)
{
	at->anon_vma = vma->anon_vma;	/* pinned by the vma */
	at->index = linear_page_index(vma, addr);
	get_anon_vma(at->anon_vma);
}

/*
 * The vma of @item's page, with its mm pinned and locked: @held if the
 * caller holds them for it, else taken here.  NULL, with nothing taken,
 * when the area is gone.
 */
static struct vm_area_struct *ksm_merge_begin(struct ksm_item *item,
					      struct vm_area_struct *held)
{
	struct mm_struct *mm = item->mm;
	struct vm_area_struct *vma;

	if (held)
		return ksm_mm_exiting(mm) ? NULL : held;
	if (!ksm_lock_mm(mm))
		return NULL;
	vma = ksm_mergeable_vma(mm, ksm_item_addr(item));
	if (!vma)
		ksm_unlock_mm(mm);
	return vma;
}

/* Undo ksm_merge_begin(). */
static void ksm_merge_end(struct vm_area_struct *vma,
			  struct vm_area_struct *held)
{
	if (!held)
		ksm_unlock_mm(vma->vm_mm);
}

/**
 * ksm_merge_zero - map the zero page in place of an all-zero page
 * @item: the item of @page
 * @page: the page being scanned
 * @held: the vma of @page if the caller holds its mm pinned (mmget) and
 *	  its mmap_lock, or NULL to take them here
 *
 * Return: 0 if done (or if the area went away meanwhile), an error when the
 * page is not a zero-page candidate or could not be replaced.
 */
int ksm_merge_zero(struct ksm_item *item, struct page *page,
		   struct vm_area_struct *held)
{
	struct vm_area_struct *vma;
	struct page *zpage;
	int err;

	if (!ksm_cfg.use_zero_pages || item->key != ksm_zero_key ||
	    !ksm_page_is_zero(page))
		return -EFAULT;
	vma = ksm_merge_begin(item, held);
	if (!vma)
		return 0;
	zpage = ZERO_PAGE(ksm_item_addr(item));
	err = ksm_merge_one(vma, page, zpage);
	trace_ksm_merge_one_page(page_to_pfn(zpage), item, item->mm, err);
	ksm_merge_end(vma, held);
	return err;
}

/**
 * ksm_merge_with - merge the page of @item into a KSM page
 * @item: the item of @page
 * @page: the page to merge away
 * @kpage: the KSM page, or NULL to make @page a new KSM page
 * @at: filled in on success
 * @held: the vma of @page if the caller holds its mm pinned (mmget) and
 *	  its mmap_lock, or NULL to take them here
 *
 * On success @at tells where rmap will find the new mapping, holding a
 * reference on its anon_vma: the caller passes it on to
 * ksm_stable_add_item(), or drops it with ksm_undo_merge().
 *
 * Return: 0 if merged, -ENOENT if the contents of @page and @kpage differ,
 * -EFAULT if @page cannot be merged now.
 */
int ksm_merge_with(struct ksm_item *item, struct page *page,
		   struct page *kpage, struct ksm_anchor *at,
		   struct vm_area_struct *held)
{
	unsigned long addr = ksm_item_addr(item);
	struct vm_area_struct *vma;
	int err = -EFAULT;

	vma = ksm_merge_begin(item, held);
	if (!vma)
		goto out;
	err = ksm_merge_one(vma, page, kpage);
	if (!err)
		ksm_anchor_at(at, vma, addr);
	ksm_merge_end(vma, held);
out:
	trace_ksm_merge_with_ksm_page(kpage, page_to_pfn(kpage ? kpage : page),
				      item, item->mm, err);
	return err;
}

/*
 * With the page table lock held, clear the ptes at @start_pte (mapping
 * @start) of the pages of @req that are locked for the merge (those with
 * err 0), flush the TLB once for all of them, then map @kpage in place of
 * each page that has its content.  [@start, @end) spans @req.
 */
static void ksm_replace_locked(struct vm_area_struct *vma, struct page *kpage,
			       struct ksm_merge_req *req, unsigned int nr,
			       pte_t *start_pte, unsigned long start,
			       unsigned long end)
{
	struct mm_struct *mm = vma->vm_mm;
	pte_t old[KSM_BATCH_MAX], *ptep;
	bool flush = false;
	unsigned long addr;
	unsigned int k;

	for (k = 0; k < nr; k++) {
		if (req[k].err)
			continue;
		addr = ksm_item_addr(req[k].item);
		ptep = start_pte + PFN_DOWN(addr - start);
		old[k] = ptep_get(ptep);
		if (!pte_present(old[k]) ||
		    pte_pfn(old[k]) != page_to_pfn(req[k].page)) {
			req[k].err = -EFAULT;
			continue;
		}
		flush_cache_page(vma, addr, pte_pfn(old[k]));
		old[k] = ptep_get_and_clear(mm, addr, ptep);
		flush |= pte_accessible(mm, old[k]);
	}
	if (flush)
		flush_tlb_range(vma, start, end);
	for (k = 0; k < nr; k++) {
		if (req[k].err)
			continue;
		addr = ksm_item_addr(req[k].item);
		req[k].err = ksm_replace_cleared(vma, addr,
						 start_pte + PFN_DOWN(addr - start),
						 old[k], page_folio(req[k].page),
						 kpage);
	}
}

/*
 * Merge the pages of @req locked for it into @kpage, with the page table
 * of [@start, @end) locked once; without one, none of them.
 */
static void ksm_replace_ptes(struct vm_area_struct *vma, struct page *kpage,
			     struct ksm_merge_req *req, unsigned int nr,
			     unsigned long start, unsigned long end)
{
	pte_t *start_pte = NULL;
	spinlock_t *ptl;	/* the page table lock */
	unsigned int k;
	pmd_t *pmd;

	pmd = mm_find_pmd(vma->vm_mm, start);
	if (pmd)
		start_pte = pte_offset_map_lock(vma->vm_mm, pmd, start, &ptl);
	if (!start_pte) {
		for (k = 0; k < nr; k++)
			if (!req[k].err)
				req[k].err = -EFAULT;
		return;
	}
	ksm_replace_locked(vma, kpage, req, nr, start_pte, start, end);
	pte_unmap_unlock(start_pte, ptl);
}

/**
 * ksm_merge_batch - merge several pages of one page table into a KSM page
 * @vma: the vma of the pages; the caller holds its mm pinned (mmget) and
 *	 its mmap_lock
 * @kpage: the KSM page, referenced
 * @req: the pages, small ones referenced by the caller, in address order,
 *	 all mapped by one page table
 * @nr: how many, at most KSM_BATCH_MAX
 *
 * What ksm_merge_with() does for one page, with one page table lock hold
 * and one TLB flush for all: each req[k].err and req[k].at are what
 * ksm_merge_with() would return and fill in for req[k].page.
 */
void ksm_merge_batch(struct vm_area_struct *vma, struct page *kpage,
		     struct ksm_merge_req *req, unsigned int nr)
{
	unsigned long start = ksm_item_addr(req[0].item);
	unsigned long end = ksm_item_addr(req[nr - 1].item) + PAGE_SIZE;
	struct mm_struct *mm = vma->vm_mm;
	struct mmu_notifier_range range;
	unsigned long locked = 0;
	unsigned int k;

	VM_WARN_ON_ONCE(nr > KSM_BATCH_MAX ||
			(start & PMD_MASK) != ((end - 1) & PMD_MASK));
	for (k = 0; k < nr; k++) {
		req[k].err = -EFAULT;
		if (!PageTransCompound(req[k].page) &&
		    ksm_trylock_for(req[k].page, kpage)) {
			req[k].err = 0;
			locked |= BIT(k);
		}
	}

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, start, end);
	mmu_notifier_invalidate_range_start(&range);
	ksm_replace_ptes(vma, kpage, req, nr, start, end);
	mmu_notifier_invalidate_range_end(&range);

	for (k = 0; k < nr; k++) {
		if (locked & BIT(k))
			unlock_page(req[k].page);
		if (!req[k].err)
			ksm_anchor_at(&req[k].at, vma, ksm_item_addr(req[k].item));
		trace_ksm_merge_with_ksm_page(kpage, page_to_pfn(kpage),
					      req[k].item, mm, req[k].err);
	}
}

/* Is what @vma maps at @addr merged by KSM (KSM folio or KSM zero page)? */
static bool ksm_merged_at(struct vm_area_struct *vma, unsigned long addr)
{
	struct folio_walk fw;
	struct folio *folio;
	bool merged = false;

	folio = folio_walk_start(&fw, vma, addr, FW_MIGRATION | FW_ZEROPAGE);
	if (!folio)
		return false;
	/* A small folio is mapped at pte level. */
	if (!folio_test_large(folio))
		merged = folio_test_ksm(folio) ||
			 (pte_present(fw.pte) && is_ksm_zero_pte(fw.pte));
	folio_walk_end(&fw, vma);
	return merged;
}

/*
 * Replace what KSM merged at @addr by a private copy, as a write would.
 * The fault may back out (e.g. on a racing accessed-bit update), so try
 * until the page is no longer merged.  SIGBUS means truncation unmapped it
 * for us, and a poisoned KSM page cannot be copied at all: every access to
 * it raises SIGBUS, so it is left as it is.  An OOM or a fatal signal is
 * reported, and the caller keeps VM_MERGEABLE so that a later pass
 * retries.
 */
static int ksm_break_cow_at(struct vm_area_struct *vma, unsigned long addr)
{
	const vm_fault_t fatal = VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV |
				 VM_FAULT_OOM | VM_FAULT_HWPOISON |
				 VM_FAULT_HWPOISON_LARGE;
	vm_fault_t ret;

	do {
		cond_resched();
		if (fatal_signal_pending(current))
			return -EINTR;
		if (!ksm_merged_at(vma, addr))
			return 0;
		/* Remote: on behalf of another task, and no pkey checks. */
		ret = handle_mm_fault(vma, addr,
				      FAULT_FLAG_UNSHARE | FAULT_FLAG_REMOTE,
				      NULL);
	} while (!(ret & fatal));
	return (ret & VM_FAULT_OOM) ? -ENOMEM : 0;
}

/**
 * ksm_undo_merge - break a merge that ksmd itself made a moment ago
 * @item: the loose item that merged
 * @at: what ksm_merge_with() filled in; its anon_vma reference is dropped
 */
void ksm_undo_merge(struct ksm_item *item, struct ksm_anchor *at)
{
	unsigned long addr = ksm_item_addr(item);
	struct mm_struct *mm = item->mm;
	struct vm_area_struct *vma;

	put_anon_vma(at->anon_vma);
	if (!ksm_lock_mm(mm))
		return;
	vma = ksm_mergeable_vma(mm, addr);
	if (vma)
		ksm_break_cow_at(vma, addr);
	ksm_unlock_mm(mm);
}

/* Does @pte map something KSM merged: KSM folio, KSM zero page? */
static bool ksm_pte_merged(struct vm_area_struct *vma, unsigned long addr,
			   pte_t pte)
{
	struct page *page;
	swp_entry_t entry;

	if (pte_present(pte)) {
		if (is_ksm_zero_pte(pte))
			return true;
		page = vm_normal_page(vma, addr, pte);
		return page && folio_test_ksm(page_folio(page));
	}
	if (pte_none(pte))
		return false;
	/* A KSM folio under migration must be waited for, then broken. */
	entry = pte_to_swp_entry(pte);
	return is_migration_entry(entry) &&
	       folio_test_ksm(pfn_swap_entry_folio(entry));
}

/* Addresses of merged ptes collected by one page walk, broken after it. */
struct ksm_merged_batch {
	unsigned long addr[32];
	unsigned int nr;
};

static int ksm_find_merged_pmd(pmd_t *pmd, unsigned long addr,
			       unsigned long end, struct mm_walk *walk)
{
	struct ksm_merged_batch *batch = walk->private;
	pmd_t pmdval = pmdp_get_lockless(pmd);
	spinlock_t *ptl;	/* the page table lock of @pmd */
	pte_t *start, *ptep;
	int ret = 0;

	if (signal_pending(current))
		return -ERESTARTSYS;
	cond_resched();
	/* KSM only ever merges small folios, mapped by ptes. */
	if (!pmd_present(pmdval) || pmd_leaf(pmdval))
		return 0;
	start = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	if (!start)
		return 0;
	for (ptep = start; addr < end; ptep++, addr += PAGE_SIZE) {
		if (!ksm_pte_merged(walk->vma, addr, ptep_get(ptep)))
			continue;
		batch->addr[batch->nr++] = addr;
		if (batch->nr == ARRAY_SIZE(batch->addr)) {
			ret = 1;	/* full: stop the walk here */
			break;
		}
	}
	pte_unmap_unlock(start, ptl);
	return ret;
}

static const struct mm_walk_ops ksm_find_merged_ops = {
	.pmd_entry = ksm_find_merged_pmd,
	.walk_lock = PGWALK_RDLOCK,
};

/*
 * Pin @mm, which run=2 holds by mmgrab() only, for one batch of faults.
 * Once the pin is the last reference the mm's users are gone: let
 * exit_mmap() go ahead rather than copy pages nobody will see.
 */
static bool ksm_pin_for_batch(struct mm_struct *mm)
{
	if (!mmget_not_zero(mm))
		return false;
	if (atomic_read(&mm->mm_users) > 1)
		return true;
	mmput_async(mm);
	return false;
}

/* Break the merges of one batch, collected from @addr on; 1 if more. */
static int ksm_unmerge_batch(struct vm_area_struct *vma, unsigned long *addr,
			     unsigned long end)
{
	struct ksm_merged_batch batch = { .nr = 0 };
	unsigned int i;
	int more, ret;

	more = walk_page_range_vma(vma, *addr, end, &ksm_find_merged_ops,
				   &batch);
	if (more < 0)
		return more;
	for (i = 0; i < batch.nr; i++) {
		ret = ksm_break_cow_at(vma, batch.addr[i]);
		if (ret)
			return ret;
	}
	if (batch.nr)
		*addr = batch.addr[batch.nr - 1] + PAGE_SIZE;
	return more && *addr < end;
}

/**
 * ksm_unmerge_range - break every KSM merge in [@start, @end) of @vma
 * @vma: a VM_MERGEABLE vma with an anon_vma; its mm's mmap_lock is held
 * @start: start of the range
 * @end: end of the range
 * @remote: the mm is not current's but one that run=2 holds by mmgrab():
 *	    pin it per batch, and stop once it has no users left; otherwise
 *	    write-lock the vma against per-vma-lock faults
 *
 * The page walk skips unpopulated page tables, so that a huge sparse range
 * costs what is mapped in it, not its size; it collects merged ptes in
 * batches, as the faults breaking them cannot run under the page table
 * lock.  Items are left alone: ksmd drops them on its next visit.
 *
 * Return: 0, -ERESTARTSYS or -EINTR on a signal, or -ENOMEM.
 */
int ksm_unmerge_range(struct vm_area_struct *vma, unsigned long start,
		      unsigned long end, bool remote)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long addr = start;
	int more;

	if (!remote)
		vma_start_write(vma);
	do {
		if (ksm_mm_exiting(mm))
			return 0;
		if (remote && !ksm_pin_for_batch(mm))
			return 0;
		more = ksm_unmerge_batch(vma, &addr, end);
		if (remote)
			mmput_async(mm);
	} while (more > 0);
	return more;
}

/**
 * ksm_unmerge_mm - break every KSM merge in @mm, for run=2
 * @mm: an mm held by mmgrab(), with its mmap_lock held for reading
 *
 * Return: 0, or the error (signal, OOM) that stopped the walk.
 */
int ksm_unmerge_mm(struct mm_struct *mm)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;
	int err;

	for_each_vma(vmi, vma) {
		if (!(vma->vm_flags & VM_MERGEABLE) || !vma->anon_vma)
			continue;
		err = ksm_unmerge_range(vma, vma->vm_start, vma->vm_end, true);
		if (err)
			return err;
	}
	return 0;
}
