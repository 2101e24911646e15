/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel Samepage Merging: state shared by the files of mm/ksm/.
 *
 * Documentation/mm/ksm.rst describes the design; the comment next to each
 * field below names what serializes writers of that field.  "ksmd" means
 * ksm_scan_mutex, which ksmd holds while it works and which the sysfs paths
 * that reshape the trees take as well.
 */
#ifndef _MM_KSM_INTERNAL_H
#define _MM_KSM_INTERNAL_H

#include <linux/highmem.h>
#include <linux/ksm.h>
#include <linux/list.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>

#include "../internal.h"
#include "../mm_slot.h"

/* Bits of ksm_run_state; the first three are the values of sysfs "run". */
#define KSM_RUN_STOP		0
#define KSM_RUN_MERGE		1
#define KSM_RUN_UNMERGE		2
#define KSM_RUN_OFFLINE		4	/* memory is going offline */

/* Where a struct ksm_item currently is. */
enum ksm_item_state {
	KSM_ITEM_LOOSE,		/* in no tree */
	KSM_ITEM_UNSTABLE,	/* on a chain of the unstable table */
	KSM_ITEM_STABLE,	/* on the member list of a stable node */
	KSM_ITEM_LEFT,		/* left a stable node, off its mm's list */
};

/* Bits of the content key that an item keeps: see ksm_page_key(). */
#define KSM_KEY_BITS		24
#define KSM_ITEM_AGE_MAX	15U	/* where an item's age saturates */

/* The low bits of ksm_item->addr_state: state, then tree generation. */
#define KSM_ITEM_STATE_MASK	0x3UL
#define KSM_ITEM_GEN_SHIFT	2
#define KSM_ITEM_GEN_MASK	(0xffUL << KSM_ITEM_GEN_SHIFT)
static_assert((KSM_ITEM_STATE_MASK | KSM_ITEM_GEN_MASK) < PAGE_SIZE);

/*
 * struct ksm_item - one scanned virtual page of a registered mm
 *
 * Items of an mm form a singly linked list in ascending address order,
 * rebuilt lazily as ksmd walks the mm.  Each state overlays what it does
 * not need: a stable item gives up its mm (ksmd knows it from the list it
 * walks) and its scan history for its rmap anchor, and the state and the
 * unstable table generation live in the low bits of the address.
 *
 * A stable node's members are singly linked.  An item leaving one is not
 * unlinked, which would mean a walk of the list: it is LEFT there, off its
 * mm's list (a new item takes its place), for ksm_snode_sweep() to free.
 */
struct ksm_item {
	struct ksm_item *next;		/* ksmd: next item of the same mm */
	union {
		/* !KSM_ITEM_STABLE, constant: mmgrab()ed by the mm slot */
		struct mm_struct *mm;
		/*
		 * KSM_ITEM_STABLE, ksmd, holds a ref: with @index, where
		 * rmap finds the mapping (struct ksm_anchor).
		 */
		struct anon_vma *anon_vma;
	};
	/* page aligned address (constant) | generation | state (ksmd) */
	unsigned long addr_state;
	union {
		struct {			/* not KSM_ITEM_STABLE, ksmd */
			u32 key : KSM_KEY_BITS;	/* ksm_page_key() last visit */
			u32 age : 4;		/* visits without merging */
			u32 skips : 4;		/* visits still to skip */
			u32 scope;		/* UNSTABLE: ksm_folio_scope() */
		};
		pgoff_t index;		/* KSM_ITEM_STABLE, ksmd: see above */
	};
	union {
		struct hlist_node chain;	/* KSM_ITEM_UNSTABLE, ksmd */
		struct {			/* KSM_ITEM_STABLE, LEFT */
			struct ksm_snode *snode;	/* ksmd */
			/* next member of @snode: KSM folio lock (DEAD: ksmd) */
			struct ksm_item *sibling;
		};
	};
};

static_assert(sizeof(struct ksm_item) <= 48);

static inline unsigned long ksm_item_addr(const struct ksm_item *item)
{
	return item->addr_state & PAGE_MASK;
}

static inline enum ksm_item_state ksm_item_state(const struct ksm_item *item)
{
	return item->addr_state & KSM_ITEM_STATE_MASK;
}

/* @item, or the first STABLE member of its stable node after it. */
static inline struct ksm_item *ksm_member_from(struct ksm_item *item)
{
	while (item && ksm_item_state(item) != KSM_ITEM_STABLE)
		item = item->sibling;
	return item;
}

static inline void ksm_item_set_state(struct ksm_item *item,
				      enum ksm_item_state state)
{
	item->addr_state = (item->addr_state & ~KSM_ITEM_STATE_MASK) | state;
}

/* Unstable tree generation the item was inserted in, see unstable.c. */
static inline u8 ksm_item_gen(const struct ksm_item *item)
{
	return (item->addr_state & KSM_ITEM_GEN_MASK) >> KSM_ITEM_GEN_SHIFT;
}

static inline void ksm_item_set_gen(struct ksm_item *item, u8 gen)
{
	item->addr_state = (item->addr_state & ~KSM_ITEM_GEN_MASK) |
			   ((unsigned long)gen << KSM_ITEM_GEN_SHIFT);
}

/*
 * struct ksm_anchor - where rmap finds a mapping of a KSM folio
 * @anon_vma: anon_vma of the vma that mapped the page when it merged
 * @index: linear page index of the mapping in that vma
 *
 * The linear page index is what the anon_vma interval tree is keyed by,
 * and what fork, vma splits and merges, and mremap all keep; so an rmap
 * walk queries the tree at @index alone and computes each vma's address
 * from it, instead of testing every vma of the anon_vma.
 */
struct ksm_anchor {
	struct anon_vma *anon_vma;
	pgoff_t index;
};

/* The most pages one page walk of ksmd collects, and merges in one go. */
#define KSM_BATCH_MAX	32

/**
 * struct ksm_merge_req - a page for ksm_merge_batch()
 * @item: the item of @page
 * @page: the page, referenced
 * @at: on success, where rmap finds the new mapping
 * @err: 0 if merged, else as ksm_merge_with()
 */
struct ksm_merge_req {
	struct ksm_item *item;
	struct page *page;
	struct ksm_anchor at;
	int err;
};

/* What a struct ksm_snode stands for. */
enum ksm_snode_kind {
	KSM_SNODE_PLAIN,	/* KSM folio, linked directly in a stable tree */
	KSM_SNODE_DUP,		/* KSM folio, one of the dups of a chain */
	KSM_SNODE_CHAIN,	/* tree node grouping dups of equal content */
	KSM_SNODE_MIGRATED,	/* KSM folio on the wrong node, awaiting rehoming */
	KSM_SNODE_DEAD,		/* folio gone, items not yet told (see stable.c) */
};

/*
 * struct ksm_snode - stable tree node
 *
 * A KSM folio points at its snode through folio->mapping (tagged with
 * PAGE_MAPPING_KSM); the snode finds the folio again through @kpfn and only
 * trusts it while folio->mapping still points back (see ksm_snode_folio()).
 */
struct ksm_snode {
	union {
		struct rb_node rb;		/* ksmd: PLAIN, CHAIN */
		struct hlist_node dup_link;	/* ksmd: DUP, on chain->members */
		struct list_head migrated;	/* ksmd: MIGRATED */
	};
	union {
		/*
		 * !CHAIN: items, STABLE and LEFT ones (KSM folio lock; DEAD:
		 * ksmd); none once @nr_items is 0
		 */
		struct ksm_item *items;
		struct hlist_head dups;		/* CHAIN, ksmd */
	};
	union {
		unsigned long kpfn;	/* !CHAIN: folio lock + ksmd, see above */
		unsigned long pruned_at; /* CHAIN, ksmd: jiffies of last prune */
	};
	union {
		int nr_items;		/* !CHAIN, ksmd: STABLE ones of @items */
		/*
		 * CHAIN, ksmd: while equal to ksm_room_gen, every dup but the
		 * first is full (see ksm_chain_pick())
		 */
		unsigned int full_gen;
	};
	u32 key : KSM_KEY_BITS;		/* constant: key of the content */
	u32 kind : 8;			/* ksmd: enum ksm_snode_kind */
	u32 scope;			/* constant: see ksm_folio_scope() */
	u16 nid;			/* ksmd: index of the tree linked in */
	u16 nr_left;			/* !CHAIN, ksmd: LEFT ones of @items */
};

static_assert(sizeof(struct ksm_snode) <= 56);

/*
 * The STABLE members of a stable node, not CHAIN nor DEAD, with its folio
 * locked (or from ksmd): LEFT items are passed over.
 */
static inline struct ksm_item *ksm_first_member(struct ksm_snode *snode)
{
	return ksm_member_from(snode->items);
}

static inline struct ksm_item *ksm_next_member(struct ksm_item *item)
{
	return ksm_member_from(item->sibling);
}

static_assert(NODES_SHIFT <= 16);	/* any node id fits in @nid */

/* struct ksm_mm - a registered mm (the MMF_VM_MERGEABLE bit is set) */
struct ksm_mm {
	struct mm_slot slot;		/* ksm_list_lock: hash and scan list */
	struct ksm_item *items;		/* ksmd, while ksm_cursor is on it */
};

/*
 * struct ksm_cursor - where ksmd is in its walk over the registered mms
 *
 * __ksm_exit() never frees the ksm_mm the cursor is on, so ksmd may use it
 * without ksm_list_lock; moving the cursor takes ksm_list_lock.
 */
struct ksm_cursor {
	struct ksm_mm *kmm;		/* ksmd + ksm_list_lock */
	unsigned long addr;		/* ksmd: next address to look at */
	struct ksm_item **link;		/* ksmd: where the item for addr goes */
	unsigned long rounds;		/* ksmd: completed full scans */
	bool drain;			/* ksmd: drain LRU batches next round */
};

/* Which pages may merge with which: sysfs "merge_scope". */
enum ksm_merge_scope {
	KSM_SCOPE_GLOBAL,	/* any with any */
	KSM_SCOPE_MEMCG,	/* only pages charged to the same memory cgroup */
};

/* Tunables, all written from sysfs. */
struct ksm_config {
	unsigned int pages_to_scan;	/* pages per batch */
	unsigned int sleep_ms;		/* pause between batches */
	unsigned int prune_ms;		/* stable_node_chains_prune_millisecs */
	int max_sharing;		/* ksmd: max_page_sharing, >= 2 */
	unsigned int merge_across_nodes; /* ksmd: one tree for all nodes */
	int nr_trees;			/* ksmd: 1, or nr_node_ids */
	u8 merge_scope;			/* ksmd: enum ksm_merge_scope */
	bool use_zero_pages;
	bool smart_scan;
};

/* Statistics, updated by ksmd (or with ksmd excluded), read locklessly. */
struct ksm_stats {
	unsigned long pages_shared;	/* KSM folios with sharers */
	unsigned long pages_sharing;	/* items beyond the first of a folio */
	unsigned long pages_unshared;	/* items in unstable trees */
	unsigned long items;		/* allocated struct ksm_item */
	unsigned long chains;		/* KSM_SNODE_CHAIN nodes */
	unsigned long dups;		/* KSM_SNODE_DUP nodes */
	unsigned long scanned;		/* pages looked at */
	unsigned long skipped;		/* pages passed over by smart scan */
};

/*
 * state.c: the configuration and state every file may use.  The files of
 * mm/ksm/ call each other top down only, in the order of the declarations
 * below (sysfs.c first): Documentation/mm/ksm.rst has the file table.
 */
extern struct ksm_config ksm_cfg;
extern unsigned long ksm_advisor_max_pages;	/* sysfs */
extern unsigned long ksm_advisor_min_pages;	/* sysfs */
extern unsigned int ksm_advisor_max_cpu;	/* sysfs */
extern unsigned long ksm_advisor_target_secs;	/* sysfs */
extern struct ksm_stats ksm_stats;
extern struct ksm_cursor ksm_cursor;
extern struct ksm_mm ksm_mm_head;	/* list head of registered mms */
extern unsigned long ksm_run_state;	/* ksm_scan_mutex */
extern struct mutex ksm_scan_mutex;
extern spinlock_t ksm_list_lock;
extern wait_queue_head_t ksm_thread_wait;
extern wait_queue_head_t ksm_iter_wait;
extern unsigned long ksm_no_skip_before;	/* see ksm_note_new_candidates() */
extern struct rb_root *ksm_stable_roots;	/* ksmd */
extern int ksm_nr_roots;	/* ksmd: stable roots, 1 or nr_node_ids */
extern struct list_head ksm_migrated_nodes;	/* ksmd */
extern u32 ksm_zero_key;
extern u32 ksm_key_mask;		/* debugfs */
extern atomic_long_t ksm_pages_reused;

void ksm_note_new_candidates(void);
int ksm_use_node_roots(void);

/* Index of the tree (stable or unstable) in which a pfn belongs. */
static inline int ksm_tree_nid(unsigned long pfn)
{
#ifdef CONFIG_NUMA
	if (!ksm_cfg.merge_across_nodes)
		return pfn_to_nid(pfn);
#endif
	return 0;
}

/*
 * Both trees are ordered by content key first, and by the content itself
 * only among equal keys: a descent reads another page only where the keys
 * collide.  @ksm_key_mask lets a debug kernel make keys collide at will.
 */
static inline int ksm_key_cmp(u32 a, u32 b)
{
	a &= READ_ONCE(ksm_key_mask);
	b &= READ_ONCE(ksm_key_mask);
	return a < b ? -1 : a > b;
}

/*
 * Where a page belongs in the trees under the merge scope: 0 for all pages
 * with scope global, else the serial number of the memory cgroup @folio
 * is charged to, which no other cgroup ever gets (unlike its id, reused
 * once a cgroup is gone).  Read unlocked, it only orders the trees:
 * ksm_same_scope() decides, under the folio lock, whether two pages merge.
 */
static inline u32 ksm_folio_scope(struct folio *folio)
{
	u32 scope = 0;
#ifdef CONFIG_MEMCG
	struct mem_cgroup *memcg;

	if (ksm_cfg.merge_scope != KSM_SCOPE_MEMCG)
		return 0;
	rcu_read_lock();
	memcg = folio_memcg(folio);
	if (memcg)
		scope = memcg->css.serial_nr;
	rcu_read_unlock();
#endif
	return scope;
}

/*
 * May @folio, locked, be mapped in place of, or replaced by, @kfolio?  The
 * lock holds @folio's charge still; a KSM folio, referenced, keeps its own
 * until freed, as cgroup v2 never moves the charge of a live folio.
 */
static inline bool ksm_same_scope(struct folio *folio, struct folio *kfolio)
{
	return ksm_cfg.merge_scope != KSM_SCOPE_MEMCG ||
	       folio_memcg(folio) == folio_memcg(kfolio);
}

/* Order in both trees: the scope, then the content key. */
static inline int ksm_tree_cmp(u32 scope_a, u32 key_a, u32 scope_b, u32 key_b)
{
	if (scope_a != scope_b)
		return scope_a < scope_b ? -1 : 1;
	return ksm_key_cmp(key_a, key_b);
}

/*
 * Whether the pages mapped at @a and @b hold the same bytes.  A merge asks
 * only that, not memcmp()'s order: so each step folds a cache line of
 * differences into a single test, where memcmp() tests word by word.
 */
static inline bool ksm_same_bytes(const void *a, const void *b)
{
	const unsigned long *x = a, *y = b;
	unsigned int i;

	for (i = 0; i < PAGE_SIZE / sizeof(long); i += 8) {
		if ((x[i] ^ y[i]) | (x[i + 1] ^ y[i + 1]) |
		    (x[i + 2] ^ y[i + 2]) | (x[i + 3] ^ y[i + 3]) |
		    (x[i + 4] ^ y[i + 4]) | (x[i + 5] ^ y[i + 5]) |
		    (x[i + 6] ^ y[i + 6]) | (x[i + 7] ^ y[i + 7]))
			return false;
	}
	return true;
}

/*
 * Whether @page and @kpage have the same content, to merge one into the
 * other.  An arch that refuses to merge tagged pages (arm64 MTE) says so in
 * its own memcmp_pages(): leave the decision to it there.
 */
static inline bool ksm_pages_same(struct page *page, struct page *kpage)
{
	void *a, *b;
	bool same;

	if (IS_ENABLED(CONFIG_ARM64_MTE))
		return pages_identical(page, kpage);
	a = kmap_local_page(page);
	b = kmap_local_page(kpage);
	same = ksm_same_bytes(a, b);
	kunmap_local(b);
	kunmap_local(a);
	return same;
}

/* An mm whose last user is gone: its page tables are off limits. */
static inline bool ksm_mm_exiting(struct mm_struct *mm)
{
	return atomic_read(&mm->mm_users) == 0;
}

static inline struct ksm_snode *ksm_folio_snode(struct folio *folio)
{
	return folio_test_ksm(folio) ? folio_raw_mapping(folio) : NULL;
}

static inline struct ksm_snode *ksm_page_snode(struct page *page)
{
	return ksm_folio_snode(page_folio(page));
}

/*
 * Room for @extra more sharers on a KSM folio now mapped by @nr_items
 * items, within a limit of @max.  A folio nobody maps any more is about to
 * go away and takes no new sharers at all.
 */
static inline bool ksm_sharing_room(int nr_items, int extra, int max)
{
	return nr_items > 0 && nr_items + extra < max;
}

static inline bool ksm_snode_has_room(const struct ksm_snode *snode)
{
	return ksm_sharing_room(snode->nr_items, 0, ksm_cfg.max_sharing);
}

/*
 * Bytes saved by @merged pages mapped from KSM folios (or, for the global
 * figure, by the sharers beyond the first) and @zero_pages KSM zero pages,
 * less the cost of @items tracking items.
 */
static inline long ksm_profit(unsigned long merged, long zero_pages,
			      unsigned long items)
{
	return (long)(merged + zero_pages) * PAGE_SIZE -
	       (long)(items * sizeof(struct ksm_item));
}

/* How ksm_snode_folio() should leave the folio it returns. */
enum ksm_folio_lock {
	KSM_FOLIO_UNLOCKED,
	KSM_FOLIO_LOCKED,
	KSM_FOLIO_TRYLOCKED,	/* ERR_PTR(-EBUSY) if the lock is taken */
};

/* What ->mapping of the KSM folio of @snode (NULL: none yet) holds. */
static inline void *ksm_snode_mapping(struct ksm_snode *snode)
{
	return (void *)((unsigned long)snode | PAGE_MAPPING_KSM);
}

/*
 * Make @folio point at its stable node @snode, or with @snode NULL mark it
 * a KSM folio not yet in a tree; @folio is small, anonymous and locked,
 * with no exclusive page.
 */
static inline void ksm_folio_set_snode(struct folio *folio,
				       struct ksm_snode *snode)
{
	VM_WARN_ON_FOLIO(folio_test_anon(folio) &&
			 PageAnonExclusive(&folio->page), folio);
	folio->mapping = ksm_snode_mapping(snode);
}

/* sysfs.c */
int __init ksm_sysfs_init(void);

/* scan.c */
int __init ksm_scan_init(void);
struct task_struct * __init ksm_start_thread(void);
u32 ksm_page_key(struct page *page);
void ksm_advisor_set(bool scan_time);
bool ksm_advisor_active(void);
void ksm_scan_restart(void);
int ksm_unmerge_everything(void);

/* mm.c */
int __init ksm_mm_init(void);
bool ksm_vma_compatible(struct vm_area_struct *vma);
struct ksm_mm *ksm_cursor_step(struct ksm_mm *from, bool reap);
void ksm_mm_release(struct ksm_mm *kmm);

/* rmap.c */
void ksm_wait_while_offlining(void);
void __init ksm_hotplug_init(void);

/* merge.c */
int ksm_merge_zero(struct ksm_item *item, struct page *page,
		   struct vm_area_struct *held);
int ksm_merge_with(struct ksm_item *item, struct page *page,
		   struct page *kpage, struct ksm_anchor *at,
		   struct vm_area_struct *held);
void ksm_merge_batch(struct vm_area_struct *vma, struct page *kpage,
		     struct ksm_merge_req *req, unsigned int nr);
void ksm_undo_merge(struct ksm_item *item, struct ksm_anchor *at);
int ksm_unmerge_range(struct vm_area_struct *vma, unsigned long start,
		      unsigned long end, bool remote);
int ksm_unmerge_mm(struct mm_struct *mm);

/* stable.c */
int __init ksm_stable_init(void);
struct folio *ksm_snode_folio(struct ksm_snode *snode,
			      enum ksm_folio_lock how);
void ksm_stable_unlink_item(struct ksm_item *item, struct mm_struct *mm);
void ksm_stable_add_item(struct ksm_item *item, struct ksm_snode *snode,
			 const struct ksm_anchor *at, bool over_limit);
struct folio *ksm_stable_find(struct page *page, u32 key);
struct ksm_snode *ksm_stable_insert(struct folio *kfolio, u32 key);
void ksm_snode_rehome_if_misplaced(struct ksm_snode *snode);
void ksm_prune_migrated(void);
int ksm_stable_remove_all(void);
void ksm_stable_drop_pfn_range(unsigned long start_pfn,
			       unsigned long end_pfn);

/* unstable.c */
void ksm_unstable_reset(void);
struct ksm_item *ksm_unstable_match(struct ksm_item *item, struct page *page,
				    struct page **match);
void ksm_unstable_unlink_item(struct ksm_item *item);

/* item.c */
int __init ksm_items_init(void);
struct ksm_item *ksm_item_alloc(struct mm_struct *mm, unsigned long addr);
void ksm_item_free(struct ksm_item *item, struct mm_struct *mm);
void ksm_item_retire(struct ksm_item *item, struct mm_struct *mm);
void ksm_item_free_left(struct ksm_item *item);
bool ksm_lock_mm(struct mm_struct *mm);
bool ksm_lock_mm_read(struct mm_struct *mm);
void ksm_unlock_mm(struct mm_struct *mm);
struct vm_area_struct *ksm_mergeable_vma(struct mm_struct *mm,
					 unsigned long addr);
struct page *ksm_item_get_page(struct ksm_item *item);

#endif /* _MM_KSM_INTERNAL_H */
