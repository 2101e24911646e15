// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmd: the KSM scanner.
 *
 * ksmd walks the registered mms in rounds, pages_to_scan pages per batch
 * with sleep_millisecs between batches.  For each anonymous page of a
 * VM_MERGEABLE area it keeps a struct ksm_item and decides:
 *
 *  - a KSM page already: nothing to do, or note a fork of it;
 *  - otherwise look for its content in the stable tree, by the key it had
 *    at its last visit, and merge it into the KSM page found;
 *  - failing that, a page whose key changed since the last round is too
 *    volatile: remember the new key and move on;
 *  - otherwise look in the unstable tree; a match there makes a new KSM
 *    page of the pair, which moves to the stable tree.
 *
 * Smart scan lets pages that keep failing to merge sit out some rounds; the
 * scan-time advisor retunes pages_to_scan after each round to meet a target
 * round duration.
 */

#include <linux/freezer.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/mm_inline.h>
#include <linux/pagemap.h>
#include <linux/pagevec.h>
#include <linux/pagewalk.h>
#include <linux/rmap.h>
#include <linux/sched/cputime.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/xxhash.h>

#include <trace/events/ksm.h>

#include "internal.h"

/* Scan-time advisor tunables (sysfs) and state (ksmd). */
enum ksm_advisor_mode {
	KSM_ADVISOR_NONE,
	KSM_ADVISOR_SCAN_TIME,
};

static enum ksm_advisor_mode ksm_advisor;
#define KSM_ADVISOR_MIN_CPU	10
#define KSM_ADVISOR_MIN_PAGES	10UL	/* lowest pages_to_scan it sets */
#define KSM_ADVISOR_EWMA_PCT	30	/* weight of the newest sample */

struct ksm_advisor_state {
	ktime_t round_start;		/* 0: mode entered mid-round */
	unsigned long last_secs;	/* duration of the previous round */
	unsigned long change;		/* smoothed round-time ratio, in % */
	unsigned long long cpu_ns;	/* ksmd runtime at round start */
};

static struct ksm_advisor_state ksm_adv;

/*
 * The key of a page is a hash of a sample of it: KSM_KEY_CHUNKS runs of
 * KSM_KEY_CHUNK bytes, one in each equal slice of the page, each one
 * cache line further into its slice than the one before: the first
 * bytes of the page are in it (and with 4 KiB pages the last), and a
 * pattern repeating with the slice size cannot hide the same bytes in
 * every slice.  An eighth of the page is read to tell a page's changes
 * and to order the trees; only a merge candidate is read in full, and a
 * merge is still decided by comparing whole pages under write protection.
 */
#define KSM_KEY_CHUNKS		8
#define KSM_KEY_CHUNK		64
#define KSM_KEY_SLICE		(PAGE_SIZE / KSM_KEY_CHUNKS)
static_assert(KSM_KEY_CHUNKS * KSM_KEY_CHUNK <= KSM_KEY_SLICE);

static u32 ksm_key_of(const void *addr)
{
	u64 sample[KSM_KEY_CHUNKS * KSM_KEY_CHUNK / sizeof(u64)];
	int i;

	for (i = 0; i < KSM_KEY_CHUNKS; i++)
		memcpy((char *)sample + i * KSM_KEY_CHUNK,
		       addr + i * (KSM_KEY_SLICE + KSM_KEY_CHUNK),
		       KSM_KEY_CHUNK);
	return xxhash(sample, sizeof(sample), 0);
}

/*
 * The KSM_KEY_BITS of @hash that make a key.  0 is left to an item not
 * hashed yet, which has nothing to look for in the stable tree.
 */
static u32 ksm_key_fold(u32 hash)
{
	u32 key = hash >> (32 - KSM_KEY_BITS);

	return key ?: 1;
}

/**
 * ksm_page_key - content key of @page, for change detection and the trees
 * @page: the page
 *
 * Return: a KSM_KEY_BITS hash of a fixed sample of the page's bytes, not 0.
 */
u32 ksm_page_key(struct page *page)
{
	void *addr = kmap_local_page(page);
	u32 key = ksm_key_fold(ksm_key_of(addr));

	kunmap_local(addr);
	return key;
}

/* Take @item, not a stable one, out of the unstable tree if it is in it. */
static void ksm_item_untrack(struct ksm_item *item)
{
	VM_WARN_ON_ONCE(ksm_item_state(item) == KSM_ITEM_STABLE);
	if (ksm_item_state(item) == KSM_ITEM_UNSTABLE)
		ksm_unstable_unlink_item(item);
}

/* Free @item, which the caller took off the list of @mm. */
static void ksm_item_drop(struct ksm_item *item, struct mm_struct *mm)
{
	if (ksm_item_state(item) == KSM_ITEM_STABLE) {
		ksm_stable_unlink_item(item, mm);	/* its node frees it */
	} else {
		ksm_item_untrack(item);
		ksm_item_free(item, mm);
	}
	cond_resched();		/* callers loop over many items */
}

/*
 * Free the items of @mm from *@link to the end of the list, leaving it
 * NULL.
 */
static void ksm_items_free_from(struct ksm_item **link, struct mm_struct *mm)
{
	struct ksm_item *item;

	while ((item = *link)) {
		*link = item->next;
		ksm_item_drop(item, mm);
	}
}

/*
 * The item for @addr, the next one after *@link in address order: items
 * for addresses passed over (unmapped since) are freed on the way.
 */
static struct ksm_item *ksm_item_at(struct mm_struct *mm,
				    struct ksm_item **link, unsigned long addr)
{
	struct ksm_item *item;

	while ((item = *link) && ksm_item_addr(item) < addr) {
		*link = item->next;
		ksm_item_drop(item, mm);
	}
	if (item && ksm_item_addr(item) == addr)
		return item;

	item = ksm_item_alloc(mm, addr);
	if (item) {
		item->next = *link;
		*link = item;
	}
	return item;
}

/*
 * Whether plain @page is what its @item saw at the last visit; if not, it
 * is volatile, not worth a search: its new key is kept for next round.
 */
static bool ksm_page_unchanged(struct ksm_item *item, struct page *page)
{
	u32 key = ksm_page_key(page);

	if (key == item->key)
		return true;
	item->key = key;
	ksm_cursor.drain = true;	/* a candidate next round */
	return false;
}

/* Is @item a stable one whose page no longer maps its node's folio? */
static bool ksm_item_stale(struct ksm_item *item, struct page *page)
{
	return ksm_item_state(item) == KSM_ITEM_STABLE &&
	       item->snode != ksm_page_snode(page);
}

/*
 * The stable item at *@link, of @mm, leaves its stable node: put a new
 * loose item in its place on the list (the node frees the old one).  NULL,
 * with nothing changed, when out of memory.
 */
static struct ksm_item *ksm_item_renew(struct mm_struct *mm,
				       struct ksm_item **link)
{
	struct ksm_item *old = *link, *item;

	item = ksm_item_alloc(mm, ksm_item_addr(old));
	if (!item)
		return NULL;
	item->next = old->next;
	*link = item;
	if (ksm_cursor.link == &old->next)
		ksm_cursor.link = &item->next;
	ksm_stable_unlink_item(old, mm);
	return item;
}

/*
 * Rounds a page that failed to merge sits out before a retry, by age:
 * up to 3 visits old 1, up to 5 then 2, up to 8 then 4, older 8.
 */
static unsigned int ksm_skip_rounds(u8 age)
{
	if (age > 8)
		return 8;
	if (age > 5)
		return 4;
	return age > 3 ? 2 : 1;
}

/**
 * ksm_scan_restart - count full scans from zero again, after run=2
 *
 * Everything was unmerged and every item freed: there is no page left to
 * retry, so a suspension of smart scan ends too, rather than lasting until
 * the count catches up with where it was.
 */
void ksm_scan_restart(void)
{
	ksm_cursor.rounds = 0;
	WRITE_ONCE(ksm_no_skip_before, 0);
}

/* Smart scan: should this visit of @item be skipped? */
static bool ksm_smart_skip(struct page *page, struct ksm_item *item)
{
	unsigned int age;

	/* KSM pages must be visited for their bookkeeping. */
	if (!ksm_cfg.smart_scan || folio_test_ksm(page_folio(page)))
		return false;
	age = item->age;
	item->age = min(age + 1, KSM_ITEM_AGE_MAX);
	/*
	 * Young items need their rounds to get through both trees.  While
	 * new areas get their first visits every page is visited, but keeps
	 * ageing: it resumes its pace of skips right after.
	 */
	if (age < 3 ||
	    time_before(ksm_cursor.rounds, READ_ONCE(ksm_no_skip_before)))
		return false;
	if (item->skips) {
		item->skips--;
		ksm_stats.skipped++;
		ksm_item_untrack(item);
		return true;
	}
	/* Visit now, and sit out more rounds the older the item gets. */
	item->skips = ksm_skip_rounds(age);
	return false;
}

/*
 * One page walk collects up to KSM_BATCH_MAX candidate pages, referenced,
 * for ksmd to visit after one mmap_lock round trip instead of one each,
 * and with the lock let go.
 */
struct ksm_found {
	unsigned int nr;		/* pages found */
	unsigned int max;		/* how many the walk may collect */
	struct page *page[KSM_BATCH_MAX];
	unsigned long addr[KSM_BATCH_MAX];
};

/*
 * Pages ksmd is to visit next, referenced, with their items.  The first
 * join pins their mm and read-locks it for the visits after it: merging
 * those into a KSM page then costs no lock round trip or vma lookup of
 * its own.  Plain pages of one page table that are to merge into the same
 * KSM folio wait as joins, and merge together with one TLB flush.  All of
 * it is ksmd's.
 */
struct ksm_visits {
	struct mm_struct *mm;		/* whose pages they are */
	struct vm_area_struct *vma;	/* theirs, while @mm is still held */
	unsigned int nr;
	struct page *page[KSM_BATCH_MAX];
	struct ksm_item *item[KSM_BATCH_MAX];
	struct ksm_item **link[KSM_BATCH_MAX];	/* where each item is linked */
	unsigned int nr_joins;		/* none unless @vma is held */
	struct folio *join_folio;	/* one reference per join */
	unsigned int join[KSM_BATCH_MAX];	/* indexes of the joins */
	struct ksm_merge_req req[KSM_BATCH_MAX];	/* the joins merging */
};

/* ksmd's, under ksm_scan_mutex: too large for its stack. */
static struct ksm_visits ksm_batch;

/* An anonymous, non-device page of @folio: what ksmd looks at. */
static bool ksm_candidate(struct folio *folio)
{
	return folio_test_anon(folio) && !folio_is_zone_device(folio);
}

/*
 * Collect @page of @folio at @addr; 1 when the walk is to stop before it
 * or there.  The pages of a large folio go only with others of the same
 * folio: see ksm_visits_truncate().
 */
static int ksm_found_add(struct ksm_found *found, struct folio *folio,
			 struct page *page, unsigned long addr)
{
	struct folio *last = NULL;

	if (found->nr)
		last = page_folio(found->page[found->nr - 1]);
	if (last && last != folio &&
	    (folio_test_large(folio) || folio_test_large(last)))
		return 1;
	folio_get(folio);
	found->page[found->nr] = page;
	found->addr[found->nr++] = addr;
	return found->nr == found->max;
}

/*
 * Collect the pages of the THP that @pmdp maps, from @addr to @end: 1 to
 * stop the walk, -EAGAIN to go on with the next pmd, 0 if it was split.
 */
static int ksm_find_pmd_leaf(pmd_t *pmdp, unsigned long addr,
			     unsigned long end, struct mm_walk *walk)
{
	struct ksm_found *found = walk->private;
	struct page *page;
	spinlock_t *ptl;	/* the lock of the pmd */
	int ret = -EAGAIN;
	pmd_t pmd;

	ptl = pmd_lock(walk->mm, pmdp);
	pmd = pmdp_get(pmdp);
	if (pmd_present(pmd) && !pmd_leaf(pmd))
		ret = 0;
	page = pmd_present(pmd) && pmd_leaf(pmd) ?
	       vm_normal_page_pmd(walk->vma, addr, pmd) : NULL;
	if (page && ksm_candidate(page_folio(page))) {
		page += (addr & ~PMD_MASK) >> PAGE_SHIFT;
		for (; addr < end && ret < 0; addr += PAGE_SIZE, page++)
			if (ksm_found_add(found, page_folio(page), page, addr))
				ret = 1;
	}
	spin_unlock(ptl);
	return ret;
}

static int ksm_find_page_pmd(pmd_t *pmdp, unsigned long addr,
			     unsigned long end, struct mm_walk *walk)
{
	struct ksm_found *found = walk->private;
	struct page *page;
	pte_t *start, *ptep, pte;
	spinlock_t *ptl;	/* the page table lock */
	pmd_t pmd;
	int ret;

	cond_resched();
	pmd = pmdp_get_lockless(pmdp);
	if (!pmd_present(pmd))
		return 0;
	if (IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE) && pmd_leaf(pmd)) {
		ret = ksm_find_pmd_leaf(pmdp, addr, end, walk);
		if (ret)
			return ret > 0 ? ret : 0;
		/* The THP was split meanwhile: look at its ptes. */
	}

	start = pte_offset_map_lock(walk->mm, pmdp, addr, &ptl);
	if (!start)
		return 0;
	ret = 0;
	for (ptep = start; addr < end; ptep++, addr += PAGE_SIZE) {
		pte = ptep_get(ptep);
		if (!pte_present(pte))
			continue;
		page = vm_normal_page(walk->vma, addr, pte);
		if (page && ksm_candidate(page_folio(page)) &&
		    ksm_found_add(found, page_folio(page), page, addr)) {
			ret = 1;
			break;
		}
	}
	pte_unmap_unlock(start, ptl);
	return ret;
}

static const struct mm_walk_ops ksm_find_page_ops = {
	.pmd_entry = ksm_find_page_pmd,
	.walk_lock = PGWALK_RDLOCK,
};

static void ksm_advisor_round_begin(void)
{
	if (ksm_advisor != KSM_ADVISOR_SCAN_TIME)
		return;
	ksm_adv.round_start = ktime_get();
	/* ksmd's CPU time before this round is not this round's cost */
	ksm_adv.cpu_ns = task_sched_runtime(current);
}

/* Exponentially weighted moving average of percentages. */
static unsigned long ksm_ewma(unsigned long prev, unsigned long sample)
{
	return ((100 - KSM_ADVISOR_EWMA_PCT) * prev +
		KSM_ADVISOR_EWMA_PCT * sample) / 100;
}

/* Inputs and outputs of one advisor step, kept pure for testing. */
struct ksm_advice {
	unsigned long pages;		/* in: current pages_to_scan */
	unsigned long ms;		/* in: duration of this round */
	unsigned long cpu_ms;		/* in: ksmd CPU time this round */
	unsigned long secs;		/* out: the duration, at least 1 */
	unsigned long last_secs;	/* in/out: previous round's duration */
	unsigned long change;		/* in/out: smoothed change, % */
	unsigned int cpu_pct;		/* out: ksmd CPU use this round */
};

/*
 * Scale pages_to_scan by how far the round was from the target duration,
 * damped by the smoothed change of round durations; then keep the
 * estimated CPU use between KSM_ADVISOR_MIN_CPU and advisor_max_cpu
 * percent and the result under advisor_max_pages_to_scan.
 */
static unsigned long ksm_advise(struct ksm_advice *a, unsigned long target,
				unsigned int max_cpu, unsigned long max_pages)
{
	unsigned long prev, ratio, change, pages;
	u64 cur;

	/* A round shorter than a second counts as one against the target, */
	a->secs = max(1UL, a->ms / MSEC_PER_SEC);
	prev = a->last_secs ? a->last_secs : a->secs;
	/* but its CPU share is that of its real duration (one thread). */
	a->cpu_pct = clamp(min(a->cpu_ms, ULONG_MAX / 100) * 100 /
			   max(1UL, a->ms), 1UL, 100UL);
	/* A target too large to scale asks for the slowest scan. */
	if (check_mul_overflow(target, 100UL, &ratio))
		ratio = ULONG_MAX;
	ratio = max(1UL, ratio / a->secs);
	change = ksm_ewma(a->change, max(1UL, a->secs * 100 / prev));

	pages = a->pages * 100 / ratio;
	pages = pages * change / 100;

	/*
	 * pages_to_scan at a given CPU share, assuming cost in proportion
	 * to pages.  Dividing last keeps small rates from being rounded
	 * down to the cpu_pct granularity, where they could never grow;
	 * the product of two 32-bit values fits in 64 bits.
	 */
	cur = min_t(u64, a->pages, U32_MAX);
	pages = min_t(u64, pages, cur * max_cpu / a->cpu_pct);
	pages = max_t(u64, pages, cur * KSM_ADVISOR_MIN_CPU / a->cpu_pct);
	/* A rate of 0 could never be measured again: keep a few pages. */
	pages = max(pages, KSM_ADVISOR_MIN_PAGES);
	pages = min(pages, max_pages);

	a->change = change;
	a->last_secs = a->secs;
	return pages;
}

static void ksm_advisor_round_end(void)
{
	unsigned long long cpu_ns;
	struct ksm_advice a;
	s64 ms;

	if (ksm_advisor != KSM_ADVISOR_SCAN_TIME || !ksm_adv.round_start)
		return;
	ms = ktime_ms_delta(ktime_get(), ksm_adv.round_start);
	cpu_ns = task_sched_runtime(current);
	a.pages = ksm_cfg.pages_to_scan;
	a.ms = max_t(s64, ms, 0);
	a.cpu_ms = (cpu_ns - ksm_adv.cpu_ns) / NSEC_PER_MSEC;
	a.last_secs = ksm_adv.last_secs;
	a.change = ksm_adv.change;

	ksm_cfg.pages_to_scan = ksm_advise(&a, ksm_advisor_target_secs,
					   ksm_advisor_max_cpu,
					   ksm_advisor_max_pages);
	ksm_adv.last_secs = a.last_secs;
	ksm_adv.change = a.change;
	trace_ksm_advisor(a.secs, ksm_cfg.pages_to_scan, a.cpu_pct);
}

/**
 * ksm_advisor_active - whether the scan-time advisor owns pages_to_scan
 *
 * Return: true in scan-time mode.
 */
bool ksm_advisor_active(void)
{
	return ksm_advisor != KSM_ADVISOR_NONE;
}

/**
 * ksm_advisor_set - switch advisor mode, resetting what it controls
 * @scan_time: true for "scan-time", false for "none"
 */
void ksm_advisor_set(bool scan_time)
{
	enum ksm_advisor_mode mode = scan_time ? KSM_ADVISOR_SCAN_TIME :
						 KSM_ADVISOR_NONE;

	if (mode == ksm_advisor)
		return;
	ksm_advisor = mode;
	if (mode == KSM_ADVISOR_SCAN_TIME) {
		memset(&ksm_adv, 0, sizeof(ksm_adv));
		ksm_cfg.pages_to_scan = ksm_advisor_min_pages;
	} else {
		ksm_cfg.pages_to_scan = 100;
	}
}

static void ksm_round_begin(void)
{
	ksm_advisor_round_begin();
	trace_ksm_start_scan(ksm_cursor.rounds, ksm_stats.items);
	/*
	 * Pages held in per-cpu LRU batches carry an extra reference that
	 * defeats ksm_merge_pte().  Draining all CPUs queues work on each
	 * (on the CPUs of the guests we serve, many times a second when
	 * rounds are short): do it only when pages may merge this round.
	 */
	if (ksm_cursor.drain) {
		ksm_cursor.drain = false;
		lru_add_drain_all();
	}
	if (!ksm_cfg.merge_across_nodes)
		ksm_prune_migrated();
	ksm_unstable_reset();
}

static void ksm_round_end(void)
{
	ksm_advisor_round_end();
	trace_ksm_stop_scan(ksm_cursor.rounds, ksm_stats.items);
	ksm_cursor.rounds++;
}

static void ksm_cursor_enter(struct ksm_mm *kmm)
{
	ksm_cursor.addr = 0;
	ksm_cursor.link = &kmm->items;
}

/*
 * ksmd is done with the mm under the cursor: drop the items past the last
 * page seen, and move on.  An mm with no VM_MERGEABLE area left (cursor
 * address still 0), or exiting, is unregistered; MMF_VM_MERGEABLE is
 * cleared under mmap_lock so that MADV_MERGEABLE registers it afresh.
 */
static void ksm_leave_mm(struct ksm_mm *kmm, bool locked)
{
	struct mm_struct *mm = kmm->slot.mm;
	bool reap;

	if (!locked)
		ksm_cursor_enter(kmm);
	ksm_items_free_from(ksm_cursor.link, mm);
	reap = !ksm_cursor.addr;
	ksm_cursor_step(kmm, reap);
	/*
	 * MMF_VM_MERGE_ANY stays: the mm may just not have mapped its
	 * anonymous memory yet, and ksm_add_vma() registers it again.
	 */
	if (reap)
		clear_bit(MMF_VM_MERGEABLE, &mm->flags);
	if (locked)
		mmap_read_unlock(mm);
	if (reap)
		ksm_mm_release(kmm);
}

/* What ksm_scan_vmas() ended with. */
enum ksm_scan_result {
	KSM_SCAN_FOUND,		/* pages to visit (or no memory); see @v */
	KSM_SCAN_DONE,		/* no more pages; mmap_lock still held */
	KSM_SCAN_YIELD,		/* let others have mmap_lock; dropped */
};

/*
 * Smart scan may pass over many pages in one go.  Do not make exit_mmap()
 * or a writer of mmap_lock wait through all of them: the cursor keeps our
 * place.
 */
static bool ksm_should_yield(struct mm_struct *mm)
{
	return ksm_mm_exiting(mm) || mmap_lock_is_contended(mm);
}

/*
 * Take the pages one walk found in @vma, in address order: find or make
 * the item of each, and add those smart scan does not skip to @v.  False
 * when out of memory for an item: the cursor then stays at that page.
 */
static bool ksm_take_found(struct vm_area_struct *vma,
			   struct ksm_found *found, struct ksm_visits *v)
{
	struct ksm_item *item = NULL;
	unsigned int i;

	for (i = 0; i < found->nr; i++) {
		struct ksm_item **link = ksm_cursor.link;
		struct page *page = found->page[i];
		unsigned long addr = found->addr[i];

		ksm_cursor.addr = addr;
		item = ksm_item_at(vma->vm_mm, link, addr);
		/* Written to, or unmapped, since it merged: start over. */
		if (item && ksm_item_stale(item, page))
			item = ksm_item_renew(vma->vm_mm, link);
		if (!item)
			break;
		ksm_cursor.link = &item->next;
		ksm_cursor.addr += PAGE_SIZE;
		/* A large folio's pages meet smart scan in ksm_visit(). */
		if (!folio_test_large(page_folio(page)) &&
		    ksm_smart_skip(page, item)) {
			put_page(page);
			continue;
		}
		flush_anon_page(vma, page, addr);
		flush_dcache_page(page);
		v->mm = vma->vm_mm;
		v->link[v->nr] = link;
		v->page[v->nr] = page;
		v->item[v->nr++] = item;
	}
	for (; i < found->nr; i++)
		put_page(found->page[i]);
	return item || !found->nr;
}

/*
 * Walk the VM_MERGEABLE vmas of the mm under the cursor, from the cursor
 * on, with its mmap_lock held for reading, until @v holds pages to visit
 * (at most @want).
 */
static enum ksm_scan_result ksm_scan_vmas(struct mm_struct *mm,
					  struct ksm_visits *v,
					  unsigned int want)
{
	struct ksm_found found = { .max = want };
	struct vm_area_struct *vma;
	struct vma_iterator vmi;
	bool done, taken;

	vma_iter_init(&vmi, mm, ksm_cursor.addr);
	for_each_vma(vmi, vma) {
		if (!(vma->vm_flags & VM_MERGEABLE))
			continue;
		ksm_cursor.addr = max(ksm_cursor.addr, vma->vm_start);
		if (!vma->anon_vma)
			ksm_cursor.addr = vma->vm_end;

		while (ksm_cursor.addr < vma->vm_end) {
			found.nr = 0;
			done = walk_page_range_vma(vma, ksm_cursor.addr,
						   vma->vm_end,
						   &ksm_find_page_ops,
						   &found) <= 0;
			taken = ksm_take_found(vma, &found, v);
			if (taken && done)
				ksm_cursor.addr = vma->vm_end;
			/*
			 * The visits read pages we hold references on, and
			 * take the lock again to merge (ksm_visits_relock()):
			 * a writer of mmap_lock waits for one walk at most.
			 */
			if (!taken || v->nr) {
				mmap_read_unlock(mm);
				return KSM_SCAN_FOUND;
			}
			if (found.nr && ksm_should_yield(mm)) {
				mmap_read_unlock(mm);
				return KSM_SCAN_YIELD;
			}
			cond_resched();
		}
	}
	return KSM_SCAN_DONE;
}

/*
 * Find the next pages to visit in the mm under the cursor.  Returns true
 * if ksmd should stop there, with the pages in @v (none if no memory for
 * an item); false when the mm is done and the cursor moved.
 */
static bool ksm_scan_mm(struct ksm_mm *kmm, struct ksm_visits *v,
			unsigned int want)
{
	struct mm_struct *mm = kmm->slot.mm;
	enum ksm_scan_result res;

	do {
		cond_resched();
		if (!ksm_lock_mm_read(mm)) {
			ksm_leave_mm(kmm, false);
			return false;
		}
		res = ksm_scan_vmas(mm, v, want);
	} while (res == KSM_SCAN_YIELD);

	if (res == KSM_SCAN_FOUND)
		return true;
	ksm_leave_mm(kmm, true);
	return false;
}

/*
 * Fill @v with up to @want pages for ksmd to visit, with their items.
 * Returns how many: 0 at the end of a round, when nothing is registered,
 * or when out of memory.
 */
static unsigned int ksm_scan_next(struct ksm_visits *v, unsigned int want)
{
	struct ksm_mm *kmm;

	v->nr = 0;
	v->vma = NULL;
	v->nr_joins = 0;
	if (list_empty(&ksm_mm_head.slot.mm_node))
		return 0;

	if (ksm_cursor.kmm == &ksm_mm_head) {
		ksm_round_begin();
		kmm = ksm_cursor_step(&ksm_mm_head, false);
		/* The last mm may have exited since the check above. */
		if (kmm == &ksm_mm_head)
			return 0;
		ksm_cursor_enter(kmm);
	}

	for (;;) {
		if (ksm_scan_mm(ksm_cursor.kmm, v, want))
			return v->nr;
		if (ksm_cursor.kmm == &ksm_mm_head)
			break;
		ksm_cursor_enter(ksm_cursor.kmm);
	}
	ksm_round_end();
	return 0;
}

/*
 * A KSM page met again.  Returns true if there is nothing more to do;
 * *@over_limit is set when the folio is already shared beyond
 * max_page_sharing (by fork), so one more sharer must not warn.
 */
static bool ksm_visit_ksm_page(struct ksm_snode *own, struct ksm_item *item,
			       bool *over_limit)
{
	ksm_snode_rehome_if_misplaced(own);
	if (own->kind != KSM_SNODE_MIGRATED &&
	    ksm_item_state(item) == KSM_ITEM_STABLE && item->snode == own)
		return true;
	*over_limit = !ksm_snode_has_room(own);
	return false;
}

/*
 * Make @page a KSM page and map it in place of the identical @peer_page;
 * on success @at and @peer_at say where rmap finds the two mappings.
 */
static bool ksm_merge_pair(struct ksm_item *item, struct page *page,
			   struct ksm_anchor *at, struct ksm_item *peer,
			   struct page *peer_page, struct ksm_anchor *peer_at)
{
	if (ksm_merge_with(item, page, NULL, at, NULL))
		return false;
	if (!ksm_merge_with(peer, peer_page, page, peer_at, NULL)) {
		ksm_item_untrack(peer);		/* out of the unstable tree */
		return true;
	}
	/* A KSM page mapped only once is no gain: break it again. */
	ksm_undo_merge(item, at);
	return false;
}

/* Merge the pair found in the unstable tree into a new KSM page. */
static void ksm_merge_unstable(struct ksm_item *item, struct page *page,
			       struct ksm_item *peer, struct page *peer_page)
{
	struct ksm_anchor at, peer_at;
	struct ksm_snode *snode;
	bool merged, same_thp;

	merged = ksm_merge_pair(item, page, &at, peer, peer_page, &peer_at);
	/*
	 * Both pages in one THP: the extra reference we held on it made the
	 * split fail.  Once that reference is gone, split it so that the
	 * next round can merge.
	 */
	same_thp = PageTransCompound(page) &&
		   compound_head(page) == compound_head(peer_page);
	put_page(peer_page);

	if (!merged) {
		if (same_thp && trylock_page(page)) {
			split_huge_page(page);
			unlock_page(page);
		}
		return;
	}

	lock_page(page);
	/* Write protected now: this key holds for the KSM page's life. */
	snode = ksm_stable_insert(page_folio(page), ksm_page_key(page));
	if (snode) {
		ksm_stable_add_item(peer, snode, &peer_at, false);
		ksm_stable_add_item(item, snode, &at, false);
	}
	unlock_page(page);

	/* Out of memory: undo both halves rather than leak a KSM page. */
	if (!snode) {
		ksm_undo_merge(peer, &peer_at);
		ksm_undo_merge(item, &at);
	}
}

/*
 * Merge @page into KSM folio @kfolio found in the stable tree, and drop
 * the reference on @kfolio.  Our reference kept migration from moving
 * @kfolio, so it still has its stable node.  @held as for
 * ksm_merge_with(), whose result this returns.
 */
static int ksm_join_stable(struct ksm_item *item, struct page *page,
			   struct folio *kfolio, bool over_limit,
			   struct vm_area_struct *held)
{
	struct ksm_anchor at;
	int err;

	err = ksm_merge_with(item, page, &kfolio->page, &at, held);
	if (!err) {
		folio_lock(kfolio);
		ksm_stable_add_item(item, ksm_folio_snode(kfolio), &at,
				    over_limit);
		folio_unlock(kfolio);
	}
	folio_put(kfolio);
	return err;
}

/*
 * The visits of @v do not hold its mm (the walk let it go, or a lookup in
 * the unstable tree did): take it for page @i to join a KSM folio, with
 * the pages after it.  The vma may have changed since the walk.
 */
static void ksm_visits_relock(struct ksm_visits *v, unsigned int i)
{
	struct vm_area_struct *vma;

	if (v->vma || !ksm_lock_mm(v->mm))
		return;
	vma = ksm_mergeable_vma(v->mm, ksm_item_addr(v->item[i]));
	if (vma)
		v->vma = vma;
	else
		ksm_unlock_mm(v->mm);
}

/* Let go of the mm of @v, if its visits still hold it; no joins wait. */
static void ksm_visits_unlock(struct ksm_visits *v)
{
	VM_WARN_ON_ONCE(v->nr_joins);
	if (!v->vma)
		return;
	v->vma = NULL;
	ksm_unlock_mm(v->mm);
}

/*
 * Look for a match of plain page @i of @v in the unstable tree, or file it
 * there.  The lookup locks the mms of other pages: @v's is let go.
 */
static void ksm_visit_unstable(struct ksm_visits *v, unsigned int i)
{
	struct ksm_item *item = v->item[i], *peer;
	struct page *page = v->page[i], *peer_page = NULL;

	peer = ksm_unstable_match(item, page, &peer_page);
	if (peer)
		ksm_merge_unstable(item, page, peer, peer_page);
}

/*
 * Drop our references on the small pages of @req but those to look for in
 * the unstable tree (-ENOENT): the pages merged away go back to the page
 * allocator together.
 */
static void ksm_put_pages(struct ksm_merge_req *req, unsigned int nr)
{
	struct folio_batch fbatch;
	unsigned int k;

	folio_batch_init(&fbatch);
	for (k = 0; k < nr; k++)
		if (req[k].err != -ENOENT &&
		    !folio_batch_add(&fbatch, page_folio(req[k].page)))
			folios_put(&fbatch);
	folios_put(&fbatch);
}

/*
 * Merge the pages of @v waiting to join @v->join_folio, with one page
 * table lock hold and one TLB flush, and drop their references.  Those
 * whose content turned out not to be the folio's go on to the unstable
 * tree, with @v's mm let go.
 */
static void ksm_joins_run(struct ksm_visits *v)
{
	struct ksm_merge_req *req = v->req;
	struct folio *kfolio = v->join_folio;
	unsigned int nr = v->nr_joins, k;
	bool retry = false;

	if (!nr)
		return;
	v->nr_joins = 0;
	for (k = 0; k < nr; k++) {
		req[k].item = v->item[v->join[k]];
		req[k].page = v->page[v->join[k]];
	}
	ksm_merge_batch(v->vma, &kfolio->page, req, nr);

	folio_lock(kfolio);
	for (k = 0; k < nr; k++) {
		if (!req[k].err)
			ksm_stable_add_item(req[k].item, ksm_folio_snode(kfolio),
					    &req[k].at, false);
		retry |= req[k].err == -ENOENT;
	}
	folio_unlock(kfolio);
	folio_put_refs(kfolio, nr);

	ksm_put_pages(req, nr);
	if (!retry)
		return;
	/* As in ksm_scan_batch(): a peer must not find our reference. */
	ksm_visits_unlock(v);
	for (k = 0; k < nr; k++) {
		if (req[k].err != -ENOENT)
			continue;
		if (ksm_page_unchanged(req[k].item, req[k].page) &&
		    ksm_merge_zero(req[k].item, req[k].page, NULL))
			ksm_visit_unstable(v, v->join[k]);
		put_page(req[k].page);
	}
}

/* Did the visit of page @i of @v leave it waiting to join a KSM folio? */
static bool ksm_visit_waits(struct ksm_visits *v, unsigned int i)
{
	return v->nr_joins && v->join[v->nr_joins - 1] == i;
}

/*
 * Done with what needs the mm of @v held, if it still is: at the end of
 * the visits, before a lookup in the unstable tree, and when a writer
 * waits for the mmap_lock.
 */
static void ksm_visits_release(struct ksm_visits *v)
{
	ksm_joins_run(v);
	ksm_visits_unlock(v);
}

/*
 * The vma of page @i of @v if the visits hold its mm, else NULL.  Held for
 * another vma (ksm_visits_relock() found the area split since the walk),
 * the mm is let go first: the caller's merge then takes it itself, which
 * it must not do while we hold it.
 */
static struct vm_area_struct *ksm_visits_vma(struct ksm_visits *v,
					     unsigned int i)
{
	unsigned long addr = ksm_item_addr(v->item[i]);

	if (!v->vma)
		return NULL;
	if (addr >= v->vma->vm_start && addr < v->vma->vm_end)
		return v->vma;
	ksm_visits_release(v);
	return NULL;
}

/*
 * May plain page @i of @v wait to join @kfolio: with the mm held, small,
 * and with the pages already waiting, if any, in its page table and for
 * the same folio, which has room for one more?
 */
static bool ksm_join_can_wait(struct ksm_visits *v, unsigned int i,
			      struct folio *kfolio)
{
	unsigned long addr = ksm_item_addr(v->item[i]);
	unsigned long first;

	if (!ksm_visits_vma(v, i) || folio_test_large(page_folio(v->page[i])))
		return false;
	if (!v->nr_joins)
		return true;
	first = ksm_item_addr(v->item[v->join[0]]);
	return kfolio == v->join_folio &&
	       (addr & PMD_MASK) == (first & PMD_MASK) &&
	       ksm_sharing_room(ksm_folio_snode(kfolio)->nr_items,
				v->nr_joins, ksm_cfg.max_sharing);
}

/*
 * Merge plain page @i of @v into @kfolio, found in the stable tree with
 * room for it, and drop the reference on @kfolio; or have the page wait to
 * merge together with others.  Returns 0 if merged or waiting, -ENOSPC if
 * the pages that waited before took the room, else ksm_join_stable()'s
 * result.
 */
static int ksm_join_plain(struct ksm_visits *v, unsigned int i,
			  struct folio *kfolio)
{
	ksm_visits_relock(v, i);
	if (!ksm_join_can_wait(v, i, kfolio)) {
		ksm_joins_run(v);
		if (!ksm_snode_has_room(ksm_folio_snode(kfolio))) {
			folio_put(kfolio);
			return -ENOSPC;
		}
		if (!ksm_join_can_wait(v, i, kfolio))
			return ksm_join_stable(v->item[i], v->page[i], kfolio,
					       false, ksm_visits_vma(v, i));
	}
	v->join_folio = kfolio;
	v->join[v->nr_joins++] = i;
	return 0;
}

/*
 * Merge KSM page @i of @v into @kfolio, found in the stable tree with room
 * for it, and drop the reference on @kfolio.  Pages waiting to join
 * @kfolio go first, and may take the room.  Returns ksm_join_stable()'s
 * result, or -ENOSPC.
 */
static int ksm_join_own(struct ksm_visits *v, unsigned int i,
			struct folio *kfolio, bool over_limit)
{
	if (v->nr_joins && kfolio == v->join_folio) {
		ksm_joins_run(v);
		if (!over_limit && !ksm_snode_has_room(ksm_folio_snode(kfolio))) {
			folio_put(kfolio);
			return -ENOSPC;
		}
	}
	return ksm_join_stable(v->item[i], v->page[i], kfolio, over_limit,
			       ksm_visits_vma(v, i));
}

/*
 * Visit @i of @v moves its stable item to another stable node: renew the
 * item, keeping the link of the next visit right.  NULL without memory.
 */
static struct ksm_item *ksm_visit_renew(struct ksm_visits *v, unsigned int i)
{
	struct ksm_item *old = v->item[i], *item;

	item = ksm_item_renew(v->mm, v->link[i]);
	if (!item)
		return NULL;
	if (i + 1 < v->nr && v->link[i + 1] == &old->next)
		v->link[i + 1] = &item->next;
	v->item[i] = item;
	return item;
}

/*
 * Page @i of @v, of a large folio, may merge now, which splits the folio:
 * that would fail with our references on its other pages in @v.  Give
 * those up, and walk them again next.  Smart scan has not met them yet.
 */
static void ksm_visits_truncate(struct ksm_visits *v, unsigned int i)
{
	unsigned int j;

	if (!folio_test_large(page_folio(v->page[i])) || i + 1 == v->nr)
		return;
	for (j = i + 1; j < v->nr; j++)
		put_page(v->page[j]);
	v->nr = i + 1;
	ksm_cursor.addr = ksm_item_addr(v->item[i]) + PAGE_SIZE;
	ksm_cursor.link = &v->item[i]->next;
}

/*
 * Look for plain page @i of @v in the stable tree under its item's key, and
 * merge it into the KSM folio found there, or have it wait to.  Returns
 * true if that is all, false if the page is still to be looked for in the
 * unstable tree.
 */
static bool ksm_visit_stable(struct ksm_visits *v, unsigned int i)
{
	struct folio *kfolio;
	int err;

	kfolio = ksm_stable_find(v->page[i], v->item[i]->key);
	if (IS_ERR(kfolio))
		return true;
	if (!kfolio)
		return false;
	ksm_visits_truncate(v, i);
	err = ksm_join_plain(v, i, kfolio);
	/*
	 * -ENOENT: the folio's key was alone in the tree, but its content
	 * is not the page's, which the unstable tree may have.
	 * -ENOSPC: the folio filled up: as if it had no room.
	 */
	return err != -ENOENT && err != -ENOSPC;
}

/*
 * Page @i of @v is not KSM yet.  The stable tree is searched first, under
 * the key the page had at its last visit: the page joins a KSM folio only
 * if the merge finds it the same as the folio, whose key is that key, so
 * its key is unchanged.  The merges are those that hashing first would
 * allow, and a page that joins is not hashed again.  Not so for a page
 * never hashed (key 0), and for an empty one, which the zero page takes
 * first, as in 6.12.
 */
static void ksm_visit_plain(struct ksm_visits *v, unsigned int i)
{
	struct ksm_item *item = v->item[i];
	struct page *page = v->page[i];
	bool looked = false;

	ksm_item_untrack(item);
	if (item->key &&
	    !(ksm_cfg.use_zero_pages && item->key == ksm_zero_key)) {
		if (ksm_visit_stable(v, i))
			return;
		looked = true;
	}
	if (!ksm_page_unchanged(item, page))
		return;
	ksm_visits_truncate(v, i);
	if (!ksm_merge_zero(item, page, ksm_visits_vma(v, i)))
		return;
	if (!looked && ksm_visit_stable(v, i))
		return;
	ksm_visits_release(v);
	ksm_visit_unstable(v, i);
}

/* KSM page @i of @v, of stable node @own: bookkeeping, or a move. */
static void ksm_visit_own(struct ksm_visits *v, unsigned int i,
			  struct ksm_snode *own)
{
	struct page *page = v->page[i];
	struct ksm_item *item = v->item[i];
	bool over_limit = false;
	struct folio *kfolio;

	if (ksm_visit_ksm_page(own, item, &over_limit))
		return;
	kfolio = ksm_stable_find(page, own->key);
	if (ksm_item_state(item) == KSM_ITEM_STABLE) {
		/*
		 * Our migrated KSM folio: rehomed (still ours), or else with
		 * a copy elsewhere to move over to, if there is room.
		 */
		if (IS_ERR_OR_NULL(kfolio) || kfolio == page_folio(page) ||
		    !ksm_visit_renew(v, i)) {
			if (!IS_ERR_OR_NULL(kfolio))
				folio_put(kfolio);
			return;
		}
		item = v->item[i];
	}

	ksm_item_untrack(item);
	if (IS_ERR(kfolio))
		return;
	if (kfolio) {
		ksm_join_own(v, i, kfolio, over_limit);
		return;
	}
	/* A KSM page's key is its snode's: the item may hold its index. */
	item->key = own->key;
	ksm_visits_release(v);
	ksm_visit_unstable(v, i);
}

/* Decide what to do with page @i of @v. */
static void ksm_visit(struct ksm_visits *v, unsigned int i)
{
	struct page *page = v->page[i];
	struct ksm_snode *own = ksm_page_snode(page);
	struct ksm_item *item = v->item[i];

	/* Merged since the walk, as the peer of a page visited before. */
	if (ksm_item_state(item) == KSM_ITEM_STABLE && item->snode != own)
		return;
	if (folio_test_large(page_folio(page)) && ksm_smart_skip(page, item))
		return;
	if (own)
		ksm_visit_own(v, i, own);
	else
		ksm_visit_plain(v, i);
}

/* Visit up to @nr_pages pages; stop early at the end of a round. */
static void ksm_scan_batch(unsigned int nr_pages)
{
	struct ksm_visits *v = &ksm_batch;
	unsigned int done, i;

	for (done = 0; done < nr_pages; done += v->nr) {
		if (unlikely(freezing(current)))
			break;
		cond_resched();
		if (!ksm_scan_next(v, min(nr_pages - done, KSM_BATCH_MAX)))
			break;
		for (i = 0; i < v->nr; i++) {
			ksm_visit(v, i);
			/*
			 * A reference more would make another page's merge
			 * with this one fail: only joins keep theirs.
			 */
			if (!ksm_visit_waits(v, i))
				put_page(v->page[i]);
			ksm_stats.scanned++;
			if (v->vma && mmap_lock_is_contended(v->mm))
				ksm_visits_release(v);
			cond_resched();
		}
		ksm_visits_release(v);
	}
}

/**
 * ksm_unmerge_everything - undo all merging, for sysfs "run" = 2
 *
 * Walks the registered mms with ksmd's cursor (ksmd is stopped: the
 * caller holds ksm_scan_mutex), unmerging and dropping all items, then
 * empties the stable trees.  Mms found exiting are unregistered.
 *
 * Return: 0, or the error (signal, OOM) that stopped the walk.
 */
int ksm_unmerge_everything(void)
{
	struct ksm_mm *kmm;
	struct mm_struct *mm;
	bool exiting;
	int err;

	spin_lock(&ksm_list_lock);
	ksm_cursor.kmm = list_first_entry(&ksm_mm_head.slot.mm_node,
					  struct ksm_mm, slot.mm_node);
	spin_unlock(&ksm_list_lock);

	while ((kmm = ksm_cursor.kmm) != &ksm_mm_head) {
		mm = kmm->slot.mm;
		if (ksm_lock_mm_read(mm)) {
			err = ksm_unmerge_mm(mm);
			mmap_read_unlock(mm);
			if (err) {
				spin_lock(&ksm_list_lock);
				ksm_cursor.kmm = &ksm_mm_head;
				spin_unlock(&ksm_list_lock);
				return err;
			}
		}
		/* Exiting now, or gone while we were at it. */
		exiting = ksm_mm_exiting(mm);
		ksm_items_free_from(&kmm->items, mm);

		ksm_cursor_step(kmm, exiting);
		if (exiting) {
			clear_bit(MMF_VM_MERGE_ANY, &mm->flags);
			clear_bit(MMF_VM_MERGEABLE, &mm->flags);
			ksm_mm_release(kmm);
		}
	}

	/* KSM folios still mapped by exiting mms stay: that is fine. */
	ksm_stable_remove_all();
	return 0;
}

static bool ksmd_has_work(void)
{
	return (ksm_run_state & KSM_RUN_MERGE) &&
	       !list_empty(&ksm_mm_head.slot.mm_node);
}

/*
 * Sleep sleep_millisecs between batches (a new value cuts the current
 * sleep short), or until there is work at all.
 */
static void ksmd_pause(void)
{
	unsigned int ms = READ_ONCE(ksm_cfg.sleep_ms);

	if (!ksmd_has_work())
		wait_event_freezable(ksm_thread_wait,
				     ksmd_has_work() || kthread_should_stop());
	else
		wait_event_freezable_timeout(ksm_iter_wait,
					     READ_ONCE(ksm_cfg.sleep_ms) != ms,
					     msecs_to_jiffies(ms));
	/*
	 * With sleep_millisecs 0 the wait returns at once, and a batch that
	 * does nothing (pages_to_scan 0) has no scheduling point of its own.
	 */
	cond_resched();
}

/* One batch, with the trees to itself and memory not going offline. */
static void ksmd_batch(void)
{
	mutex_lock(&ksm_scan_mutex);
	ksm_wait_while_offlining();
	if (ksmd_has_work())
		ksm_scan_batch(READ_ONCE(ksm_cfg.pages_to_scan));
	mutex_unlock(&ksm_scan_mutex);
}

static int ksmd(void *unused)
{
	set_freezable();
	/* Merging is never urgent: yield to ordinary tasks. */
	set_user_nice(current, 5);
	while (!kthread_should_stop()) {
		ksmd_batch();
		ksmd_pause();
	}
	return 0;
}

/**
 * ksm_scan_init - set up what ksmd needs before it starts
 *
 * Return: 0, or -ENOMEM.
 */
int __init ksm_scan_init(void)
{
	/* The zero page checksum depends on page size and endianness. */
	ksm_zero_key = ksm_page_key(ZERO_PAGE(0));
	return ksm_items_init();
}

/**
 * ksm_start_thread - start ksmd, idle until there is work
 *
 * Return: the task, or an ERR_PTR().
 */
struct task_struct * __init ksm_start_thread(void)
{
	struct task_struct *task = kthread_run(ksmd, NULL, "ksmd");

	if (IS_ERR(task))
		pr_err("ksm: creating kthread failed\n");
	return task;
}

#ifdef CONFIG_KSM_KUNIT_TEST
#include "tests/scan-kunit.h"
#endif
