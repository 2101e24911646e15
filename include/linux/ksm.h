/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __LINUX_KSM_H
#define __LINUX_KSM_H
/*
 * Kernel Samepage Merging: merges anonymous pages of identical content,
 * in areas that asked for it, into write-protected shared KSM pages.
 * See Documentation/mm/ksm.rst and Documentation/admin-guide/mm/ksm.rst.
 */

#include <linux/bitops.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/sched.h>
#include <linux/sched/coredump.h>

#ifdef CONFIG_KSM
/* Registration of mms with ksmd, see mm/ksm/mm.c. */
int __ksm_enter(struct mm_struct *mm);
void __ksm_exit(struct mm_struct *mm);

/* MADV_MERGEABLE, MADV_UNMERGEABLE */
int ksm_madvise(struct vm_area_struct *vma, unsigned long start,
		unsigned long end, int advice, unsigned long *vm_flags);

/* PR_SET_MEMORY_MERGE, and s390 which cannot have KSM with some guests */
int ksm_enable_merge_any(struct mm_struct *mm);
int ksm_disable_merge_any(struct mm_struct *mm);
int ksm_disable(struct mm_struct *mm);
void ksm_add_vma(struct vm_area_struct *vma);

/* Zero pages mapped by KSM, over all mms. */
extern atomic_long_t ksm_zero_pages;

static inline long mm_ksm_zero_pages(struct mm_struct *mm)
{
	return atomic_long_read(&mm->ksm_zero_pages);
}

/*
 * KSM maps the zero page in place of empty pages when use_zero_pages is
 * set, with the pte marked dirty: that is how such a mapping is told from
 * an ordinary zero page mapping, to keep the counts right.
 */
static inline bool is_ksm_zero_pte(pte_t pte)
{
	return pte_dirty(pte) && is_zero_pfn(pte_pfn(pte));
}

static inline void ksm_map_zero_page(struct mm_struct *mm)
{
	atomic_long_inc(&mm->ksm_zero_pages);
	atomic_long_inc(&ksm_zero_pages);
}

/* Called wherever a pte is zapped or replaced that may be a KSM zero page. */
static inline void ksm_might_unmap_zero_page(struct mm_struct *mm, pte_t pte)
{
	if (is_ksm_zero_pte(pte)) {
		atomic_long_dec(&mm->ksm_zero_pages);
		atomic_long_dec(&ksm_zero_pages);
	}
}

/*
 * A new mm starts with nothing merged, whatever the parent's counts that
 * fork copied along with the rest of its mm_struct.
 */
static inline void ksm_mm_init_counters(struct mm_struct *mm)
{
	mm->ksm_merging_pages = 0;
	mm->ksm_rmap_items = 0;
	atomic_long_set(&mm->ksm_zero_pages, 0);
}

/*
 * Fork copies a pte that maps no normal page: if it is a KSM zero page
 * mapping, the child has one more.  Counting the mappings as they are
 * copied stays exact while the parent's threads and ksmd change them up
 * to the moment fork takes their vma.
 */
static inline void ksm_copy_zero_pte(struct mm_struct *dst_mm, pte_t pte)
{
	if (is_ksm_zero_pte(pte))
		ksm_map_zero_page(dst_mm);
}

/*
 * A child of a registered mm is registered too (best effort).  It starts
 * with no items and no merged pages of its own to count; its KSM zero
 * page mappings were counted as fork copied them.
 */
static inline void ksm_fork(struct mm_struct *mm, struct mm_struct *oldmm)
{
	if (test_bit(MMF_VM_MERGEABLE, &oldmm->flags))
		__ksm_enter(mm);
}

/* PR_SET_MEMORY_MERGE survives execve: register the new mm as well. */
static inline int ksm_execve(struct mm_struct *mm)
{
	if (!test_bit(MMF_VM_MERGE_ANY, &mm->flags))
		return 0;
	return __ksm_enter(mm);
}

static inline void ksm_exit(struct mm_struct *mm)
{
	if (test_bit(MMF_VM_MERGEABLE, &mm->flags))
		__ksm_exit(mm);
}

/* /proc/PID/ksm_stat */
long ksm_process_profit(struct mm_struct *mm);
bool ksm_process_mergeable(struct mm_struct *mm);

/* The KSM lines of a cgroup's memory.stat. */
struct mem_cgroup;
struct seq_file;
void ksm_memcg_stat_show(struct seq_file *m, struct mem_cgroup *memcg);

/* KSM folios seen by rmap, migration and memory failure, see rmap.c. */
void rmap_walk_ksm(struct folio *folio, struct rmap_walk_control *rwc);
void folio_migrate_ksm(struct folio *newfolio, struct folio *folio);
void collect_procs_ksm(struct folio *folio, struct page *page,
		       struct list_head *to_kill, int force_early);

/*
 * A KSM page read back from swap belongs to no anon_vma in particular, and
 * do_swap_page() cannot rebuild its sharing: when the folio cannot be
 * mapped as it is, it gets a private copy, and ksmd merges it again later.
 * This cannot depend on VM_MERGEABLE: the area may have been unmerged while
 * the page was out.
 */
struct folio *ksm_might_need_to_copy(struct folio *folio,
				     struct vm_area_struct *vma,
				     unsigned long addr);

bool __ksm_reuse_folio(struct folio *folio, struct vm_area_struct *vma,
		       unsigned long addr);

/*
 * do_wp_page(): may a write fault (or unshare) at @addr take over the KSM
 * folio @folio in place?  It may when @folio is mapped there only, held
 * by nobody else: it then becomes an exclusive anonymous folio of @vma.
 * Called with the page table lock held.
 */
static inline bool ksm_reuse_folio(struct folio *folio,
				   struct vm_area_struct *vma,
				   unsigned long addr)
{
	return folio_test_ksm(folio) && __ksm_reuse_folio(folio, vma, addr);
}

#else  /* !CONFIG_KSM */

/* Without KSM nothing is ever merged: registration and exit are no-ops. */
static inline void ksm_mm_init_counters(struct mm_struct *mm) { }
static inline void ksm_copy_zero_pte(struct mm_struct *dst_mm, pte_t pte) { }
static inline void ksm_fork(struct mm_struct *mm, struct mm_struct *oldmm) { }
static inline int ksm_execve(struct mm_struct *mm) { return 0; }
static inline void ksm_exit(struct mm_struct *mm) { }
static inline void ksm_add_vma(struct vm_area_struct *vma) { }
static inline int ksm_disable(struct mm_struct *mm) { return 0; }
static inline void ksm_might_unmap_zero_page(struct mm_struct *mm,
					     pte_t pte) { }
static inline void collect_procs_ksm(struct folio *folio, struct page *page,
				     struct list_head *to_kill,
				     int force_early) { }
struct mem_cgroup;
struct seq_file;
static inline void ksm_memcg_stat_show(struct seq_file *m,
				       struct mem_cgroup *memcg) { }

#ifdef CONFIG_MMU
static inline int ksm_madvise(struct vm_area_struct *vma,
			      unsigned long start, unsigned long end,
			      int advice, unsigned long *vm_flags)
{
	return 0;
}

/* No folio is ever KSM: it can always be mapped as it is. */
static inline struct folio *ksm_might_need_to_copy(struct folio *folio,
						   struct vm_area_struct *vma,
						   unsigned long addr)
{
	return folio;
}

static inline bool ksm_reuse_folio(struct folio *folio,
				   struct vm_area_struct *vma,
				   unsigned long addr)
{
	return false;
}

static inline void rmap_walk_ksm(struct folio *folio,
				 struct rmap_walk_control *rwc) { }
static inline void folio_migrate_ksm(struct folio *newfolio,
				     struct folio *folio) { }
#endif /* CONFIG_MMU */
#endif /* !CONFIG_KSM */

#endif /* __LINUX_KSM_H */
