// SPDX-License-Identifier: GPL-2.0-only
/*
 * KSM registration of mms and areas: madvise(MADV_MERGEABLE/UNMERGEABLE),
 * prctl(PR_SET_MEMORY_MERGE), fork, execve and exit.
 *
 * An mm is registered (MMF_VM_MERGEABLE, a struct ksm_mm on ksmd's list,
 * mmgrab()ed) as soon as one of its areas may be merged.  It is
 * unregistered by ksmd when it finds no VM_MERGEABLE area left, or on exit.
 *
 * Exit never waits for ksmd.  ksmd changes ptes only with the mm pinned by
 * mmget_not_zero() (ksm_lock_mm()), and looks at page tables only with
 * mm_users still non-zero under the mmap_lock (ksm_lock_mm_read()), which
 * exit_mmap() takes for writing before freeing them; so once mm_users is
 * zero ksmd keeps out, and exit_mmap() can tear down the page tables
 * right away.
 * What ksmd still owns (the ksm_mm under its cursor, items in the trees)
 * is reclaimed by ksmd itself when it next comes by.
 */

#include <linux/cgroup.h>
#include <linux/hashtable.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/oom.h>
#include <linux/sched/coredump.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <trace/events/ksm.h>

#include "internal.h"

#define KSM_MM_HASH_BITS	10
static DEFINE_HASHTABLE(ksm_mm_hash, KSM_MM_HASH_BITS);	/* ksm_list_lock */
static struct kmem_cache *ksm_mm_cache;

/**
 * ksm_mm_init - create the slab cache of struct ksm_mm
 *
 * Return: 0, or -ENOMEM.
 */
int __init ksm_mm_init(void)
{
	ksm_mm_cache = KMEM_CACHE(ksm_mm, 0);
	return ksm_mm_cache ? 0 : -ENOMEM;
}

/**
 * ksm_cursor_step - move ksmd's cursor to the mm after @from
 * @from: the ksm_mm the cursor is on (or the list head)
 * @reap: also take @from off the list and hash; then the caller owns it
 *	  and frees it with ksm_mm_release()
 *
 * Return: the ksm_mm the cursor is now on; the list head ends a round.
 */
struct ksm_mm *ksm_cursor_step(struct ksm_mm *from, bool reap)
{
	struct ksm_mm *next;

	spin_lock(&ksm_list_lock);
	next = list_next_entry(from, slot.mm_node);
	ksm_cursor.kmm = next;
	if (reap) {
		hash_del(&from->slot.hash);
		list_del(&from->slot.mm_node);
	}
	spin_unlock(&ksm_list_lock);
	return next;
}

/**
 * ksm_mm_release - free an unlisted ksm_mm and drop its hold on the mm
 * @kmm: the ksm_mm
 */
void ksm_mm_release(struct ksm_mm *kmm)
{
	struct mm_struct *mm = kmm->slot.mm;

	mm_slot_free(ksm_mm_cache, kmm);
	mmdrop(mm);
}

/**
 * ksm_vma_compatible - may KSM merge pages of @vma at all?
 * @vma: the vma
 *
 * Return: false for shared, special, huge-page and device-backed areas.
 */
bool ksm_vma_compatible(struct vm_area_struct *vma)
{
	vm_flags_t never = VM_SHARED | VM_MAYSHARE | VM_PFNMAP | VM_IO |
			   VM_DONTEXPAND | VM_HUGETLB | VM_MIXEDMAP |
			   VM_DROPPABLE;

#ifdef VM_SAO
	never |= VM_SAO;
#endif
#ifdef VM_SPARC_ADI
	never |= VM_SPARC_ADI;
#endif
	return !(vma->vm_flags & never) && !vma_is_dax(vma);
}

/**
 * __ksm_enter - register @mm with ksmd
 * @mm: the mm; its mmap_lock is held for writing, or it is not yet visible
 *
 * Return: 0, or -ENOMEM.
 */
int __ksm_enter(struct mm_struct *mm)
{
	struct ksm_mm *kmm = mm_slot_alloc(ksm_mm_cache);
	struct mm_slot *slot;
	bool was_idle;

	if (!kmm)
		return -ENOMEM;
	slot = &kmm->slot;

	mmgrab(mm);
	set_bit(MMF_VM_MERGEABLE, &mm->flags);

	spin_lock(&ksm_list_lock);
	was_idle = list_empty(&ksm_mm_head.slot.mm_node);
	mm_slot_insert(ksm_mm_hash, mm, slot);
	/*
	 * Merging: queue just behind the cursor, so a fork about to exec
	 * is not scanned for nothing.  Unmerging everything: queue at the
	 * end, so that the pass does not miss the KSM pages of a new child.
	 */
	if (ksm_run_state & KSM_RUN_UNMERGE)
		list_add_tail(&slot->mm_node, &ksm_mm_head.slot.mm_node);
	else
		list_add_tail(&slot->mm_node, &ksm_cursor.kmm->slot.mm_node);
	spin_unlock(&ksm_list_lock);

	if (was_idle)
		wake_up_interruptible(&ksm_thread_wait);
	trace_ksm_enter(mm);
	return 0;
}

/**
 * __ksm_exit - unregister an exiting mm, as far as ksmd lets us
 * @mm: the mm, whose mm_users has dropped to zero
 *
 * Frees the ksm_mm right away when ksmd has nothing there; otherwise moves
 * it just after the cursor, for ksmd to clear up soon.  Never blocks.
 */
void __ksm_exit(struct mm_struct *mm)
{
	struct ksm_mm *kmm = NULL;
	struct mm_slot *slot;
	bool unlisted = false;

	spin_lock(&ksm_list_lock);
	slot = mm_slot_lookup(ksm_mm_hash, mm);
	if (slot) {
		kmm = mm_slot_entry(slot, struct ksm_mm, slot);
		if (kmm == ksm_cursor.kmm) {
			/* ksmd is on it and will notice the exit. */
		} else if (!kmm->items) {
			hash_del(&slot->hash);
			list_del(&slot->mm_node);
			unlisted = true;
		} else {
			list_move(&slot->mm_node, &ksm_cursor.kmm->slot.mm_node);
		}
	}
	spin_unlock(&ksm_list_lock);

	if (unlisted) {
		clear_bit(MMF_VM_MERGE_ANY, &mm->flags);
		clear_bit(MMF_VM_MERGEABLE, &mm->flags);
		ksm_mm_release(kmm);
	}
	trace_ksm_exit(mm);
}

/* Make @vma mergeable if it may be; true if it was not before. */
static bool ksm_mark_vma(struct vm_area_struct *vma)
{
	if ((vma->vm_flags & VM_MERGEABLE) || !ksm_vma_compatible(vma))
		return false;
	vm_flags_set(vma, VM_MERGEABLE);
	return true;
}

/* Unmerge all of @vma and stop merging it. */
static int ksm_unmark_vma(struct vm_area_struct *vma)
{
	int err = 0;

	if (vma->vm_flags & VM_MERGEABLE) {
		if (vma->anon_vma)
			err = ksm_unmerge_range(vma, vma->vm_start,
						vma->vm_end, false);
		if (!err)
			vm_flags_clear(vma, VM_MERGEABLE);
	}
	return err;
}

static void ksm_mark_all_vmas(struct mm_struct *mm)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;
	bool marked = false;

	for_each_vma(vmi, vma)
		marked |= ksm_mark_vma(vma);
	if (marked)
		ksm_note_new_candidates();
}

/* Stops at the first vma that fails to unmerge. */
static int ksm_unmark_all_vmas(struct mm_struct *mm)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;
	int err = 0;

	for_each_vma(vmi, vma) {
		err = ksm_unmark_vma(vma);
		if (err)
			break;
	}
	return err;
}

/* Register @mm unless it is registered already. */
static int ksm_ensure_registered(struct mm_struct *mm)
{
	if (test_bit(MMF_VM_MERGEABLE, &mm->flags))
		return 0;
	return __ksm_enter(mm);
}

/**
 * ksm_add_vma - make a new vma mergeable if its mm merges everything
 * @vma: the vma, just mapped; mmap_lock held for writing
 *
 * Smart scan goes on as it was: a process that merges everything maps
 * and unmaps areas all the time, and its new pages get their first visits
 * like any others.
 */
void ksm_add_vma(struct vm_area_struct *vma)
{
	struct mm_struct *mm = vma->vm_mm;

	if (test_bit(MMF_VM_MERGE_ANY, &mm->flags)) {
		ksm_mark_vma(vma);
		/* ksmd unregisters an mm it saw without a mergeable area. */
		ksm_ensure_registered(mm);
	}
}

/**
 * ksm_enable_merge_any - merge all compatible areas, now and future
 * @mm: the mm, mmap_lock held for writing (prctl PR_SET_MEMORY_MERGE 1)
 *
 * The setting survives fork and execve.
 *
 * Return: 0, or -ENOMEM.
 */
int ksm_enable_merge_any(struct mm_struct *mm)
{
	int err = 0;

	if (!test_bit(MMF_VM_MERGE_ANY, &mm->flags)) {
		err = ksm_ensure_registered(mm);
		if (!err) {
			set_bit(MMF_VM_MERGE_ANY, &mm->flags);
			ksm_mark_all_vmas(mm);
		}
	}
	return err;
}

/**
 * ksm_disable_merge_any - undo ksm_enable_merge_any()
 * @mm: the mm, mmap_lock held for writing (prctl PR_SET_MEMORY_MERGE 0)
 *
 * Unmerges everything, as MADV_UNMERGEABLE would; all or nothing: on
 * failure merging stays enabled everywhere.
 *
 * Return: 0, or the unmerge error.
 */
int ksm_disable_merge_any(struct mm_struct *mm)
{
	int err = 0;

	if (test_bit(MMF_VM_MERGE_ANY, &mm->flags)) {
		err = ksm_unmark_all_vmas(mm);
		if (err)
			ksm_mark_all_vmas(mm);
		else
			clear_bit(MMF_VM_MERGE_ANY, &mm->flags);
	}
	return err;
}

/**
 * ksm_disable - stop all merging in @mm, however it was enabled
 * @mm: the mm, mmap_lock held for writing
 *
 * Return: 0, or the unmerge error.
 */
int ksm_disable(struct mm_struct *mm)
{
	mmap_assert_write_locked(mm);

	/*
	 * Not registered: ksmd found no mergeable area left, so nothing is
	 * merged; but MMF_VM_MERGE_ANY would still mark every new vma.
	 */
	if (!test_bit(MMF_VM_MERGEABLE, &mm->flags)) {
		clear_bit(MMF_VM_MERGE_ANY, &mm->flags);
		return 0;
	}
	return test_bit(MMF_VM_MERGE_ANY, &mm->flags) ?
	       ksm_disable_merge_any(mm) : ksm_unmark_all_vmas(mm);
}

static int ksm_advise_merge(struct vm_area_struct *vma,
			    unsigned long *vm_flags)
{
	int err;

	/* Incompatible areas just ignore the advice. */
	if (!(vma->vm_flags & VM_MERGEABLE) && ksm_vma_compatible(vma)) {
		err = ksm_ensure_registered(vma->vm_mm);
		if (err)
			return err;
		*vm_flags |= VM_MERGEABLE;
		ksm_note_new_candidates();
	}
	return 0;
}

static int ksm_advise_unmerge(struct vm_area_struct *vma,
			      unsigned long start, unsigned long end,
			      unsigned long *vm_flags)
{
	int err = 0;

	if (*vm_flags & VM_MERGEABLE) {
		if (vma->anon_vma)
			err = ksm_unmerge_range(vma, start, end, false);
		if (!err)
			*vm_flags &= ~VM_MERGEABLE;
	}
	return err;
}

/**
 * ksm_madvise - MADV_MERGEABLE and MADV_UNMERGEABLE on part of a vma
 * @vma: the vma; mmap_lock held for writing
 * @start: start of the range
 * @end: end of the range
 * @advice: MADV_MERGEABLE or MADV_UNMERGEABLE
 * @vm_flags: the flags the caller will give the range, updated here
 *
 * Return: 0, or an error from registration or unmerging.
 */
int ksm_madvise(struct vm_area_struct *vma, unsigned long start,
		unsigned long end, int advice, unsigned long *vm_flags)
{
	if (advice == MADV_MERGEABLE)
		return ksm_advise_merge(vma, vm_flags);
	if (advice == MADV_UNMERGEABLE)
		return ksm_advise_unmerge(vma, start, end, vm_flags);
	return 0;
}
EXPORT_SYMBOL_GPL(ksm_madvise);

#ifdef CONFIG_PROC_FS
/**
 * ksm_process_mergeable - does @mm have a VM_MERGEABLE area now?
 * @mm: the mm, with its mmap_lock held
 *
 * Return: true if so, for the "ksm_mergeable" line of /proc/PID/ksm_stat.
 */
bool ksm_process_mergeable(struct mm_struct *mm)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;

	mmap_assert_locked(mm);
	for_each_vma(vmi, vma) {
		if (vma->vm_flags & VM_MERGEABLE)
			return true;
	}
	return false;
}

/**
 * ksm_process_profit - memory KSM saves @mm, less what tracking it costs
 * @mm: the mm
 *
 * Return: the profit in bytes, for /proc/PID/ksm_stat.
 */
long ksm_process_profit(struct mm_struct *mm)
{
	return ksm_profit(mm->ksm_merging_pages, mm_ksm_zero_pages(mm),
			  mm->ksm_rmap_items);
}
#endif

#ifdef CONFIG_MEMCG
/* What the processes of a memory cgroup have of KSM. */
struct ksm_memcg_sum {
	unsigned long merging;		/* pages mapped from KSM folios */
	unsigned long zero;		/* KSM zero pages */
	unsigned long items;		/* tracking items */
};

/*
 * Add the counters of @task's mm, once per mm: when @task's process is
 * where the mm's owner is (threads and vfork share an mm).
 */
static int ksm_memcg_add_task(struct task_struct *task, void *arg)
{
	struct ksm_memcg_sum *sum = arg;
	struct task_struct *t, *owner;
	struct mm_struct *mm;
	bool ours;

	t = find_lock_task_mm(task);
	if (!t)
		return 0;
	mm = t->mm;
	rcu_read_lock();
	owner = rcu_dereference(mm->owner);
	ours = owner && same_thread_group(owner, task);
	rcu_read_unlock();
	if (ours) {
		sum->merging += READ_ONCE(mm->ksm_merging_pages);
		sum->zero += max(mm_ksm_zero_pages(mm), 0L);
		sum->items += READ_ONCE(mm->ksm_rmap_items);
	}
	task_unlock(t);
	return 0;
}

/**
 * ksm_memcg_stat_show - the KSM lines of a cgroup v2 memory.stat
 * @m: the memory.stat file
 * @memcg: its cgroup, summed with its descendants
 *
 * In bytes: memory mapped from KSM pages, memory KSM replaced by the zero
 * page, and the cost of tracking, by the processes of the cgroup.  The
 * root cgroup has no memory.stat in v2; the global figures are in
 * /sys/kernel/mm/ksm.
 */
void ksm_memcg_stat_show(struct seq_file *m, struct mem_cgroup *memcg)
{
	struct ksm_memcg_sum sum = {};

	if (!cgroup_subsys_on_dfl(memory_cgrp_subsys) ||
	    mem_cgroup_is_root(memcg))
		return;
	mem_cgroup_scan_tasks(memcg, ksm_memcg_add_task, &sum);
	seq_printf(m, "ksm_merging %lu\n", sum.merging * PAGE_SIZE);
	seq_printf(m, "ksm_zero %lu\n", sum.zero * PAGE_SIZE);
	seq_printf(m, "ksm_metadata %lu\n",
		   sum.items * sizeof(struct ksm_item));
}
#endif

#ifdef CONFIG_KSM_KUNIT_TEST
#include "tests/mm-kunit.h"
#endif
