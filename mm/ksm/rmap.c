// SPDX-License-Identifier: GPL-2.0-only
/*
 * KSM folios seen from the rest of mm: reverse mapping, migration, swapin,
 * memory failure and memory hot-remove.
 *
 * These run outside ksmd, under the KSM folio lock, which is what keeps
 * the member list of a stable node stable for them.
 */

#include <linux/memcontrol.h>
#include <linux/memory.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/sched/signal.h>
#include <linux/swap.h>
#include <linux/wait_bit.h>

#include "../internal.h"
#include "internal.h"

/*
 * Walk the vmas mapping @folio at @item's rmap anchor: on the first pass
 * the one that merged, on the second pass those of mms forked from it
 * since ksmd last saw it.  The interval tree is queried at the anchor's
 * index alone, so the walk does not grow with the number of vmas sharing
 * the anon_vma.  Returns false to end the walk.
 */
static bool ksm_rmap_item(struct folio *folio, struct ksm_item *item,
			  struct rmap_walk_control *rwc, bool forks)
{
	struct anon_vma *anon_vma = item->anon_vma;
	pgoff_t index = item->index;
	struct vm_area_struct *vma;
	struct anon_vma_chain *avc;
	unsigned long addr;
	bool more = true;
	bool own;

	if (!anon_vma_trylock_read(anon_vma)) {
		if (rwc->try_lock) {
			rwc->contended = true;
			return false;
		}
		anon_vma_lock_read(anon_vma);
	}
	anon_vma_interval_tree_foreach(avc, &anon_vma->rb_root, index, index) {
		cond_resched();
		vma = avc->vma;
		/*
		 * The merged vma on the first pass, forked ones on the
		 * second: a fork gives the child's vma an anon_vma of its own.
		 */
		own = vma->anon_vma == anon_vma;
		if (own == forks)
			continue;
		if (rwc->invalid_vma && rwc->invalid_vma(vma, rwc->arg))
			continue;
		addr = vma_address(vma, index, 1);
		if (WARN_ON_ONCE(addr == -EFAULT))
			continue;
		if (!rwc->rmap_one(folio, vma, addr, rwc->arg) ||
		    (rwc->done && rwc->done(folio))) {
			more = false;
			break;
		}
	}
	anon_vma_unlock_read(anon_vma);
	return more;
}

/**
 * rmap_walk_ksm - call @rwc on every vma mapping a KSM folio
 * @folio: the KSM folio, locked
 * @rwc: the walk control
 */
void rmap_walk_ksm(struct folio *folio, struct rmap_walk_control *rwc)
{
	struct ksm_snode *snode;
	struct ksm_item *item;
	int forks;

	VM_WARN_ON_ONCE_FOLIO(!folio_test_ksm(folio), folio);
	VM_WARN_ON_ONCE_FOLIO(!folio_test_locked(folio), folio);

	snode = ksm_folio_snode(folio);
	if (!snode)
		return;
	for (forks = 0; forks < 2; forks++) {
		for (item = ksm_first_member(snode); item;
		     item = ksm_next_member(item)) {
			cond_resched();
			if (!ksm_rmap_item(folio, item, rwc, forks))
				return;
		}
	}
}

#ifdef CONFIG_MIGRATION
/**
 * folio_migrate_ksm - move the stable node of @folio over to @newfolio
 * @newfolio: the destination, locked, ->mapping already copied
 * @folio: the source KSM folio, locked
 */
void folio_migrate_ksm(struct folio *newfolio, struct folio *folio)
{
	struct ksm_snode *snode = ksm_folio_snode(folio);

	VM_WARN_ON_ONCE_FOLIO(!folio_test_locked(folio) ||
			      !folio_test_locked(newfolio), folio);
	VM_WARN_ON_ONCE_FOLIO(newfolio->mapping != folio->mapping, newfolio);
	if (!snode)
		return;
	VM_WARN_ON_ONCE_FOLIO(snode->kpfn != folio_pfn(folio), folio);
	snode->kpfn = folio_pfn(newfolio);
	/*
	 * Publish the new kpfn before the old folio stops pointing at the
	 * node; pairs with smp_rmb() in ksm_snode_folio().
	 */
	smp_wmb();
	ksm_folio_set_snode(folio, NULL);
}
#endif

/*
 * Can the swapped-in @folio be mapped at @addr of @vma as it is?  A KSM
 * folio can in a VM_MERGEABLE vma while KSM is not unmerging everything:
 * unmerging (MADV_UNMERGEABLE, prctl, run=2) breaks only what is mapped,
 * and nothing would break a KSM page mapped afterwards where merging is
 * off.  An anon folio can when it stays at its index under the same
 * anon_vma root.
 */
static bool ksm_swapin_fits(struct folio *folio, struct vm_area_struct *vma,
			    unsigned long addr)
{
	struct anon_vma *anon_vma = folio_anon_vma(folio);

	if (folio_test_ksm(folio))
		return ksm_folio_snode(folio) &&
		       (vma->vm_flags & VM_MERGEABLE) &&
		       !(ksm_run_state & KSM_RUN_UNMERGE);
	if (!anon_vma)
		return true;
	return folio->index == linear_page_index(vma, addr) &&
	       anon_vma->root == vma->anon_vma->root;
}

/**
 * ksm_might_need_to_copy - copy a swapped-in folio that cannot be reused
 * @folio: the folio from the swap cache, locked
 * @vma: where it is to be mapped
 * @addr: the address
 *
 * do_swap_page() cannot rebuild a KSM page shared across anon_vmas, so it
 * maps a private copy and leaves the remerging to ksmd.
 *
 * Return: @folio, a new locked copy, NULL without memory, or
 * ERR_PTR(-EHWPOISON).
 */
struct folio *ksm_might_need_to_copy(struct folio *folio,
				     struct vm_area_struct *vma,
				     unsigned long addr)
{
	struct page *page = folio_page(folio, 0);
	struct folio *copy;

	if (folio_test_large(folio) || ksm_swapin_fits(folio, vma, addr))
		return folio;
	if (PageHWPoison(page))
		return ERR_PTR(-EHWPOISON);
	if (!folio_test_uptodate(folio))
		return folio;	/* do_swap_page() reports the error */

	copy = vma_alloc_folio(GFP_HIGHUSER_MOVABLE, 0, vma, addr, false);
	if (!copy)
		return NULL;
	if (mem_cgroup_charge(copy, vma->vm_mm, GFP_KERNEL)) {
		folio_put(copy);
		return NULL;
	}
	if (copy_mc_user_highpage(folio_page(copy, 0), page, addr, vma)) {
		folio_put(copy);
		return ERR_PTR(-EHWPOISON);
	}
	folio_set_dirty(copy);
	__folio_mark_uptodate(copy);
	__folio_set_locked(copy);
#ifdef CONFIG_SWAP
	count_vm_event(KSM_SWPIN_COPY);
#endif
	return copy;
}

/*
 * A KSM folio keeps the memory cgroup charge of the page it was made of,
 * maybe another tenant's: taking it over would give the faulting process
 * memory its own cgroup never pays for.
 */
static bool ksm_folio_charged_to(struct folio *folio, struct mm_struct *mm)
{
#ifdef CONFIG_MEMCG
	bool same;

	if (mem_cgroup_disabled())
		return true;
	rcu_read_lock();
	same = folio_memcg(folio) ==
	       mem_cgroup_from_task(rcu_dereference(mm->owner));
	rcu_read_unlock();
	return same;
#else
	return true;
#endif
}

/**
 * __ksm_reuse_folio - let a write fault take over a KSM folio in place
 * @folio: a KSM folio mapped by the faulting pte
 * @vma: the vma of the fault
 * @addr: the address of the fault
 *
 * The folio must be mapped by that pte only, with no other reference: not
 * pinned or held by GUP, and not held by ksmd, which keeps a reference on
 * every KSM folio it merges into; a swap cache reference is dropped first
 * if no swap entry needs it any more.  It must also be charged to the
 * faulting process's memory cgroup.  Freezing the refcount at one while
 * the folio turns into an anonymous folio of @vma makes the check and the
 * change one step for ksmd: its folio_try_get() fails during the change,
 * and once it succeeds the folio no longer looks like the stable node's,
 * so nothing can merge into the folio any more.  The stable node goes
 * stale, as if the folio had been freed, and ksmd drops it lazily.  The
 * folio lock keeps rmap walks (which read the node's items), migration
 * and swap cache changes away meanwhile.
 *
 * Context: the page table lock of the faulting pte is held.
 * Return: true if @folio is now an anonymous folio mapped at @addr only;
 * the caller marks the page exclusive.
 */
bool __ksm_reuse_folio(struct folio *folio, struct vm_area_struct *vma,
		       unsigned long addr)
{
	if (folio_test_large(folio))
		return false;
	if (!folio_test_lru(folio))
		lru_add_drain();	/* an LRU batch may hold a reference */
	if (folio_ref_count(folio) > 1 + folio_test_swapcache(folio) ||
	    !folio_trylock(folio))
		return false;
	if (!folio_test_ksm(folio) ||
	    !ksm_folio_charged_to(folio, vma->vm_mm))
		goto unlock;
	if (folio_test_swapcache(folio) && !folio_free_swap(folio))
		goto unlock;
	if (!folio_ref_freeze(folio, 1))
		goto unlock;
	VM_WARN_ON_ONCE_FOLIO(folio_mapcount(folio) != 1, folio);
	folio_move_anon_rmap(folio, vma);
	folio->index = linear_page_index(vma, addr);
	/* Release: the new ->mapping is seen before the reference. */
	folio_ref_unfreeze(folio, 1);
	folio_unlock(folio);
	atomic_long_inc(&ksm_pages_reused);
	return true;
unlock:
	folio_unlock(folio);
	return false;
}

#ifdef CONFIG_MEMORY_FAILURE
/* Add @t to @to_kill for each of its vmas mapping @page at @item's anchor. */
static void ksm_collect_task(struct ksm_item *item, struct task_struct *t,
			     struct page *page, struct list_head *to_kill)
{
	struct vm_area_struct *vma;
	struct anon_vma_chain *avc;

	anon_vma_interval_tree_foreach(avc, &item->anon_vma->rb_root,
				       item->index, item->index) {
		vma = avc->vma;
		if (vma->vm_mm == t->mm)
			add_to_kill_ksm(t, page, vma, to_kill,
					vma_address(vma, item->index, 1));
	}
}

/**
 * collect_procs_ksm - list the tasks to signal for a poisoned KSM page
 * @folio: the KSM folio, locked
 * @page: the poisoned page
 * @to_kill: where to add them
 * @force_early: kill even tasks that did not ask for early kill
 */
void collect_procs_ksm(struct folio *folio, struct page *page,
		       struct list_head *to_kill, int force_early)
{
	struct ksm_snode *snode = ksm_folio_snode(folio);
	struct task_struct *tsk, *t;
	struct ksm_item *item;

	if (!snode)
		return;
	for (item = ksm_first_member(snode); item;
	     item = ksm_next_member(item)) {
		anon_vma_lock_read(item->anon_vma);
		rcu_read_lock();
		for_each_process(tsk) {
			t = task_early_kill(tsk, force_early);
			if (t)
				ksm_collect_task(item, t, page, to_kill);
		}
		rcu_read_unlock();
		anon_vma_unlock_read(item->anon_vma);
	}
}
#endif

#ifdef CONFIG_MEMORY_HOTREMOVE
/**
 * ksm_wait_while_offlining - hold off while memory goes offline
 *
 * Called with ksm_scan_mutex held, which is dropped while waiting: the
 * stable trees must not be walked while their folios are being migrated
 * away and their struct pages may vanish.
 */
void ksm_wait_while_offlining(void)
{
	while (ksm_run_state & KSM_RUN_OFFLINE) {
		mutex_unlock(&ksm_scan_mutex);
		wait_on_bit(&ksm_run_state, ilog2(KSM_RUN_OFFLINE),
			    TASK_UNINTERRUPTIBLE);
		mutex_lock(&ksm_scan_mutex);
	}
}

/*
 * While memory goes offline, ksmd and the sysfs paths that reshape the
 * trees stay out; unmerging, rmap walks and the rest do not need
 * ksm_scan_mutex and go on.
 */
static void ksm_set_offline(bool offline)
{
	mutex_lock(&ksm_scan_mutex);
	if (offline)
		ksm_run_state |= KSM_RUN_OFFLINE;
	else
		ksm_run_state &= ~KSM_RUN_OFFLINE;
	mutex_unlock(&ksm_scan_mutex);
	if (!offline) {
		smp_mb();	/* make the clear bit visible to the waiters */
		wake_up_bit(&ksm_run_state, ilog2(KSM_RUN_OFFLINE));
	}
}

static int ksm_memory_callback(struct notifier_block *nb,
			       unsigned long action, void *arg)
{
	struct memory_notify *mn = arg;

	if (action == MEM_GOING_OFFLINE) {
		ksm_set_offline(true);
	} else if (action == MEM_OFFLINE || action == MEM_CANCEL_OFFLINE) {
		/* Migration moved the KSM folios; forget what is left. */
		if (action == MEM_OFFLINE)
			ksm_stable_drop_pfn_range(mn->start_pfn,
						  mn->start_pfn + mn->nr_pages);
		ksm_set_offline(false);
	}
	return NOTIFY_OK;
}

/**
 * ksm_hotplug_init - register for memory hot-remove events
 */
void __init ksm_hotplug_init(void)
{
	hotplug_memory_notifier(ksm_memory_callback, KSM_CALLBACK_PRI);
}
#else
void ksm_wait_while_offlining(void)
{
}

void __init ksm_hotplug_init(void)
{
}
#endif
