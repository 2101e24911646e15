// SPDX-License-Identifier: GPL-2.0-only
/*
 * KSM stable trees: the write-protected KSM folios, sorted by merge scope
 * and content.
 *
 * A tree node is either a PLAIN snode for one KSM folio, or a CHAIN whose
 * members are DUP snodes, one per KSM folio of that same content, so that
 * no folio gets more than max_page_sharing sharers.  Snodes of folios that
 * were migrated to another NUMA node while merge_across_nodes is 0 wait on
 * ksm_migrated_nodes until ksmd meets them again and rehomes them.
 *
 * Everything here runs under ksm_scan_mutex, or with ksmd held off by
 * KSM_RUN_OFFLINE for memory hot-remove.
 */

#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <trace/events/ksm.h>

#include "internal.h"

static struct kmem_cache *ksm_snode_cache;

/**
 * ksm_stable_init - create the slab cache of struct ksm_snode
 *
 * Return: 0, or -ENOMEM.
 */
int __init ksm_stable_init(void)
{
	ksm_snode_cache = KMEM_CACHE(ksm_snode, 0);
	return ksm_snode_cache ? 0 : -ENOMEM;
}

static struct ksm_snode *ksm_snode_alloc(void)
{
	/* __GFP_HIGH: ksmd must not stall for long under memory pressure. */
	return kmem_cache_zalloc(ksm_snode_cache, GFP_KERNEL | __GFP_HIGH);
}

static void ksm_snode_free(struct ksm_snode *snode)
{
	VM_WARN_ON_ONCE(snode->kind != KSM_SNODE_CHAIN &&
			(snode->nr_items || snode->items));
	kmem_cache_free(ksm_snode_cache, snode);
}

/*
 * Bumped by every sharer that leaves a stable node, ksmd's: it may leave
 * room in a dup further down a chain.
 */
static unsigned int ksm_room_gen;

static void ksm_chain_add_dup(struct ksm_snode *chain, struct ksm_snode *dup)
{
	struct ksm_snode *first = hlist_entry_safe(chain->dups.first,
						   struct ksm_snode, dup_link);

	/* The first dup goes second: if it has room, so may others now. */
	if (first && ksm_snode_has_room(first))
		chain->full_gen = ksm_room_gen - 1;
	dup->kind = KSM_SNODE_DUP;
	hlist_add_head(&dup->dup_link, &chain->dups);
	ksm_stats.dups++;
}

static void ksm_chain_del_dup(struct ksm_snode *dup)
{
	hlist_del(&dup->dup_link);
	ksm_stats.dups--;
}

/* Turn tree node @node into the first dup of a new chain taking its place. */
static struct ksm_snode *ksm_chain_create(struct ksm_snode *node,
					  struct rb_root *root)
{
	struct ksm_snode *chain = ksm_snode_alloc();

	if (!chain)
		return NULL;
	chain->kind = KSM_SNODE_CHAIN;
	chain->nid = node->nid;
	chain->key = node->key;
	chain->scope = node->scope;
	chain->pruned_at = jiffies;
	chain->full_gen = ksm_room_gen;		/* no dup but the first */
	rb_replace_node(&node->rb, &chain->rb, root);
	ksm_chain_add_dup(chain, node);
	ksm_stats.chains++;
	return chain;
}

static void ksm_chain_free(struct ksm_snode *chain, struct rb_root *root)
{
	VM_WARN_ON_ONCE(!hlist_empty(&chain->dups));
	rb_erase(&chain->rb, root);
	ksm_snode_free(chain);
	ksm_stats.chains--;
}

/* Take @snode out of whatever it is linked into. */
static void ksm_snode_unlink(struct ksm_snode *snode)
{
	switch (snode->kind) {
	case KSM_SNODE_PLAIN:
		rb_erase(&snode->rb, ksm_stable_roots + snode->nid);
		break;
	case KSM_SNODE_DUP:
		ksm_chain_del_dup(snode);
		break;
	case KSM_SNODE_MIGRATED:
		list_del(&snode->migrated);
		break;
	default:
		VM_WARN_ON_ONCE(1);
	}
}

/*
 * Whether a node with @nr_left LEFT and @nr_items STABLE items is due for
 * ksm_snode_sweep(): once there are as many left as still there, a walk
 * of the list costs no more than two steps per item left would have.
 */
static bool ksm_sweep_due(unsigned int nr_left, int nr_items)
{
	return nr_left >= nr_items || nr_left == U16_MAX;
}

/* Free the LEFT items of @snode, whose folio, if any, the caller locked. */
static void ksm_snode_sweep(struct ksm_snode *snode)
{
	struct ksm_item **link = &snode->items, *item;

	while ((item = *link)) {
		if (ksm_item_state(item) == KSM_ITEM_LEFT) {
			*link = item->sibling;
			ksm_item_free_left(item);
		} else {
			link = &item->sibling;
		}
	}
	snode->nr_left = 0;
}

static void ksm_snode_park_migrated(struct ksm_snode *snode)
{
	snode->kind = KSM_SNODE_MIGRATED;
	list_add(&snode->migrated, &ksm_migrated_nodes);
}

/*
 * Forget a stable node whose folio is gone (or is being given up).  Its
 * items do not know their mm, which only ksmd's walk of each mm tells: so
 * the node leaves the trees and the counts now, but stays, DEAD, for its
 * items to leave one by one as ksmd meets them (ksm_stable_unlink_item()),
 * the last one freeing it.
 */
static void ksm_snode_forget(struct ksm_snode *snode)
{
	VM_WARN_ON_ONCE(snode->kind == KSM_SNODE_CHAIN ||
			snode->kind == KSM_SNODE_DEAD);
	if (snode->nr_items) {
		ksm_stats.pages_shared--;
		ksm_stats.pages_sharing -= snode->nr_items - 1;
	}
	trace_ksm_remove_ksm_page(snode->kpfn);
	ksm_snode_unlink(snode);
	if (!snode->nr_items) {
		ksm_snode_free(snode);
		return;
	}
	snode->kind = KSM_SNODE_DEAD;
}

/* A reference on @folio if its ->mapping is still @key, else NULL. */
static struct folio *ksm_get_keyed_folio(struct folio *folio, void *key)
{
	if (READ_ONCE(folio->mapping) != key)
		return NULL;
	/*
	 * Zero references: the folio is on its way to be freed, unless
	 * migration froze a swapcache folio that may yet stay ours.
	 */
	for (;;) {
		if (folio_try_get(folio))
			break;
		if (!folio_test_swapcache(folio))
			return NULL;
		cpu_relax();
	}
	if (READ_ONCE(folio->mapping) == key)
		return folio;
	folio_put(folio);
	return NULL;
}

/*
 * Lock @folio as @how asks, checking again that it is still ours.
 * Returns the folio, NULL if it went stale, or ERR_PTR(-EBUSY).
 */
static struct folio *ksm_lock_keyed_folio(struct folio *folio, void *key,
					  enum ksm_folio_lock how)
{
	if (how == KSM_FOLIO_UNLOCKED)
		return folio;
	if (how == KSM_FOLIO_LOCKED) {
		folio_lock(folio);
	} else if (!folio_trylock(folio)) {
		folio_put(folio);
		return ERR_PTR(-EBUSY);
	}
	if (READ_ONCE(folio->mapping) == key)
		return folio;
	folio_unlock(folio);
	folio_put(folio);
	return NULL;
}

/**
 * ksm_snode_folio - get the KSM folio of a stable node, if it still is one
 * @snode: a PLAIN, DUP or MIGRATED stable node
 * @how: whether to return the folio unlocked, locked, or trylocked
 *
 * Stable nodes hold no reference on their folio, so that reclaim and
 * migration need not wait for ksmd: the folio is trusted only while its
 * ->mapping still points back at @snode.  A node whose folio went away is
 * stale: it is forgotten here, which may rebalance the tree.
 *
 * Return: the folio with a reference held, NULL if @snode was stale (and
 * is now freed, or DEAD until its items leave), or ERR_PTR(-EBUSY) if
 * KSM_FOLIO_TRYLOCKED failed.
 */
struct folio *ksm_snode_folio(struct ksm_snode *snode, enum ksm_folio_lock how)
{
	void *key = ksm_snode_mapping(snode);
	struct folio *folio;
	unsigned long kpfn;

	for (;;) {
		kpfn = READ_ONCE(snode->kpfn);
		folio = ksm_get_keyed_folio(pfn_folio(kpfn), key);
		if (folio)
			folio = ksm_lock_keyed_folio(folio, key, how);
		if (folio)
			return folio;	/* or ERR_PTR(-EBUSY) */
		/* Pairs with smp_wmb() in folio_migrate_ksm(). */
		smp_rmb();
		if (READ_ONCE(snode->kpfn) == kpfn)
			break;
		/* The folio was migrated meanwhile: look at the new one. */
	}
	ksm_snode_forget(snode);
	return NULL;
}

/*
 * @item, of @mm, leaves its stable node, whose folio, if any, the caller
 * locked: it stays on the list, LEFT, until the node is swept.
 */
static void ksm_snode_del_item(struct ksm_snode *snode, struct ksm_item *item,
			       struct mm_struct *mm)
{
	bool dead = snode->kind == KSM_SNODE_DEAD;

	VM_WARN_ON_ONCE(snode->nr_items <= 0);
	snode->nr_items--;
	/* A dead node's folio left the counts when it was forgotten. */
	if (!dead && !snode->nr_items)
		ksm_stats.pages_shared--;
	else if (!dead)
		ksm_stats.pages_sharing--;
	if (dead)
		trace_ksm_remove_rmap_item(snode->kpfn, item, mm);
	mm->ksm_merging_pages--;
	ksm_room_gen++;
	put_anon_vma(item->anon_vma);
	ksm_item_retire(item, mm);
	if (ksm_sweep_due(++snode->nr_left, snode->nr_items))
		ksm_snode_sweep(snode);
	if (dead && !snode->nr_items)
		ksm_snode_free(snode);
}

/**
 * ksm_stable_unlink_item - take a stable item off its KSM folio
 * @item: an item in state KSM_ITEM_STABLE, already off the list of @mm
 * @mm: the mm it was an item of
 *
 * The item is then LEFT: its stable node frees it.
 */
void ksm_stable_unlink_item(struct ksm_item *item, struct mm_struct *mm)
{
	struct ksm_snode *snode = item->snode;
	struct folio *folio = NULL;

	/* The folio lock keeps rmap walks off the list; a dead node has none. */
	if (snode->kind != KSM_SNODE_DEAD)
		folio = ksm_snode_folio(snode, KSM_FOLIO_LOCKED);
	ksm_snode_del_item(snode, item, mm);
	if (folio) {
		folio_unlock(folio);
		folio_put(folio);
	}
}

/**
 * ksm_stable_add_item - record that @item now maps the KSM folio of @snode
 * @item: a loose item
 * @snode: a PLAIN or DUP node; its folio is locked by the caller
 * @at: where rmap finds the mapping, from ksm_merge_with(); @item takes
 *	over its anon_vma reference
 * @over_limit: the mapping came by fork and may exceed max_page_sharing
 */
void ksm_stable_add_item(struct ksm_item *item, struct ksm_snode *snode,
			 const struct ksm_anchor *at, bool over_limit)
{
	/* A chain has no folio: rmap would never find this mapping. */
	VM_WARN_ON_ONCE(snode->kind == KSM_SNODE_CHAIN || snode->nr_items < 0);

	snode->nr_items++;
	WARN_ON_ONCE(!over_limit && snode->nr_items > ksm_cfg.max_sharing);

	item->mm->ksm_merging_pages++;
	item->snode = snode;
	item->anon_vma = at->anon_vma;	/* in place of the mm */
	item->index = at->index;
	ksm_item_set_state(item, KSM_ITEM_STABLE);
	item->sibling = snode->items;
	snode->items = item;
	if (snode->nr_items > 1)
		ksm_stats.pages_sharing++;
	else
		ksm_stats.pages_shared++;
}

/*
 * Dup selection: prefer a dup that can take another sharer, and among those
 * the fullest one, so that the folios of a chain fill up one after another
 * and emptied copies can be freed.
 */
static bool ksm_dup_beats(int cand_nr, int best_nr, bool have_best, int max)
{
	bool cand_room = ksm_sharing_room(cand_nr, 0, max);

	if (!have_best)
		return true;
	if (!cand_room)
		return false;
	return !ksm_sharing_room(best_nr, 0, max) || cand_nr > best_nr;
}

/* Whether a chain last pruned at @pruned_at is due for another pruning. */
static bool ksm_prune_due(unsigned long now, unsigned long pruned_at,
			  unsigned int prune_ms)
{
	return !time_before(now, pruned_at + msecs_to_jiffies(prune_ms));
}

/*
 * Pick the dup of @chain to merge into, or with @merging false any dup to
 * compare contents with; returns its folio (referenced) and the dup in
 * *@dupp.  Stale dups met on the way are freed; when merging, every dup is
 * visited at most once per prune_ms so that stale ones do not accumulate.
 * Merging takes the first dup with room, which is kept at the head: the
 * walk stops there, or right at a full head while @chain->full_gen says
 * that all other dups are full, as they are once a walk of all of them
 * found at most the one it picks with room.
 * A chain left with a single dup collapses back into a plain node, in
 * which case *@nodep is updated; an empty chain is freed and NULL returned.
 */
static struct folio *ksm_chain_pick(struct ksm_snode **nodep,
				    struct ksm_snode **dupp,
				    struct rb_root *root, bool merging)
{
	struct ksm_snode *chain = *nodep, *dup, *best = NULL;
	struct folio *folio, *best_folio = NULL;
	bool prune = false, rest_full, all_seen = true;
	struct hlist_node *tmp;
	int best_nr = 0, roomy = 0;

	if (merging && ksm_prune_due(jiffies, chain->pruned_at,
				     ksm_cfg.prune_ms)) {
		chain->pruned_at = jiffies;
		prune = true;
	}
	rest_full = chain->full_gen == ksm_room_gen;

	hlist_for_each_entry_safe(dup, tmp, &chain->dups, dup_link) {
		cond_resched();
		folio = ksm_snode_folio(dup, KSM_FOLIO_UNLOCKED);
		if (!folio)
			continue;	/* stale, and now freed */
		roomy += ksm_snode_has_room(dup);
		if (!ksm_dup_beats(dup->nr_items, best_nr, best,
				   ksm_cfg.max_sharing)) {
			folio_put(folio);
			continue;
		}
		if (best_folio)
			folio_put(best_folio);
		best = dup;
		best_nr = dup->nr_items;
		best_folio = folio;
		/* Inserting a full chain's next dup: any copy will do. */
		if (!merging ||
		    (!prune && (rest_full || ksm_snode_has_room(best)))) {
			all_seen = false;
			break;
		}
	}

	*dupp = best;
	if (!best) {
		ksm_chain_free(chain, root);
		return NULL;
	}

	if (hlist_is_singular_node(&best->dup_link, &chain->dups)) {
		/* A lone dup needs no chain: put it in the chain's place. */
		hlist_del(&best->dup_link);
		best->kind = KSM_SNODE_PLAIN;
		rb_replace_node(&chain->rb, &best->rb, root);
		ksm_snode_free(chain);
		ksm_stats.chains--;
		ksm_stats.dups--;
		*nodep = best;
	} else {
		if (chain->dups.first != &best->dup_link &&
		    ksm_sharing_room(best->nr_items, 1, ksm_cfg.max_sharing)) {
			/* Keep a dup with room at the head: found first next time. */
			hlist_del(&best->dup_link);
			hlist_add_head(&best->dup_link, &chain->dups);
		}
		if (all_seen && (!roomy || (roomy == 1 &&
					    chain->dups.first == &best->dup_link)))
			chain->full_gen = ksm_room_gen;
	}
	return best_folio;
}

/*
 * Resolve tree node *@nodep to a KSM folio to compare against, in *@dupp
 * the snode of that folio.  NULL means the tree changed: restart the walk.
 */
static struct folio *ksm_node_folio(struct ksm_snode **nodep,
				    struct ksm_snode **dupp,
				    struct rb_root *root, bool merging)
{
	if ((*nodep)->kind == KSM_SNODE_CHAIN)
		return ksm_chain_pick(nodep, dupp, root, merging);
	*dupp = *nodep;
	return ksm_snode_folio(*nodep, KSM_FOLIO_UNLOCKED);
}

/* Result of descending a stable tree looking for a page's content. */
struct ksm_descent {
	struct rb_root *root;
	u32 scope;			/* where the page belongs */
	bool merging;			/* for a merge, not an insertion */
	/*
	 * Take a node that alone in the tree has the page's scope and key
	 * for a match without comparing: merging compares the pages anyway,
	 * under write protection, and the caller looks on in the unstable
	 * tree when that finds them different (ksm_merge_with() -ENOENT).
	 */
	bool presume;
	struct rb_node *parent;
	struct rb_node **link;		/* where a new node would go */
	struct ksm_snode *node;		/* on a match: the tree node */
	struct ksm_snode *dup;		/* on a match: the folio's snode */
	struct folio *folio;		/* on a match: referenced */
};

/* Whether tree node @rb, if any, has the scope and key of @node. */
static bool ksm_same_key(const struct ksm_snode *node, struct rb_node *rb)
{
	const struct ksm_snode *other = rb_entry_safe(rb, struct ksm_snode, rb);

	return other && !ksm_tree_cmp(node->scope, node->key, other->scope,
				      other->key);
}

/*
 * Whether no other node of its tree has the scope and key of @node: the
 * trees are ordered by scope and key first, so any would be next to it.
 */
static bool ksm_key_alone(struct ksm_snode *node)
{
	return !ksm_same_key(node, rb_prev(&node->rb)) &&
	       !ksm_same_key(node, rb_next(&node->rb));
}

/*
 * Order @page, of key @key, against the content of tree node *@nodep:
 * scopes and keys decide unless equal, then the pages (see @d->presume).
 * On 0, *@foliop is the node's folio, referenced, and *@dupp its snode.
 * KSM_CMP_RESTART: a stale node went, the tree was rebalanced.
 */
#define KSM_CMP_RESTART		INT_MIN
static int ksm_stable_cmp(struct ksm_descent *d, struct page *page, u32 key,
			  struct ksm_snode **nodep, struct ksm_snode **dupp,
			  struct folio **foliop)
{
	int cmp = ksm_tree_cmp(d->scope, key, (*nodep)->scope, (*nodep)->key);

	if (cmp)
		return cmp;
	*foliop = ksm_node_folio(nodep, dupp, d->root, d->merging);
	if (!*foliop)
		return KSM_CMP_RESTART;
	if (d->presume && ksm_key_alone(*nodep))
		return 0;
	cmp = memcmp_pages(page, &(*foliop)->page);
	if (cmp)
		folio_put(*foliop);
	return cmp;
}

static void ksm_stable_descend(struct ksm_descent *d, struct page *page,
			       u32 key)
{
	struct ksm_snode *node, *dup;
	struct folio *folio;
	int cmp;

restart:
	d->parent = NULL;
	d->link = &d->root->rb_node;
	d->folio = NULL;
	while (*d->link) {
		cond_resched();
		node = rb_entry(*d->link, struct ksm_snode, rb);
		cmp = ksm_stable_cmp(d, page, key, &node, &dup, &folio);
		if (cmp == KSM_CMP_RESTART)
			goto restart;

		d->parent = *d->link;
		if (!cmp) {
			d->node = node;
			d->dup = dup;
			d->folio = folio;
			return;
		}
		d->link = cmp < 0 ? &d->parent->rb_left : &d->parent->rb_right;
	}
}

/* Give the caller @folio with a reference if its snode takes sharers. */
static struct folio *ksm_offer(struct folio *folio, struct ksm_snode *snode)
{
	if (!folio || !ksm_snode_has_room(snode))
		return NULL;
	folio_get(folio);
	return folio;
}

/* Move migrated @own into the tree at the place the descent stopped. */
static void ksm_rehome_at(struct ksm_snode *own, struct ksm_descent *d,
			  int nid)
{
	list_del(&own->migrated);
	own->kind = KSM_SNODE_PLAIN;
	own->nid = nid;
	rb_link_node(&own->rb, d->parent, d->link);
	rb_insert_color(&own->rb, d->root);
}

/*
 * Add @dup to the dups of tree node @node, first making @node a chain if
 * it is a plain node.  False if that needed memory there was not.
 */
static bool ksm_add_dup_of(struct ksm_snode *node, struct ksm_snode *dup,
			   struct rb_root *root)
{
	if (node->kind != KSM_SNODE_CHAIN) {
		node = ksm_chain_create(node, root);
		if (!node)
			return false;
	}
	ksm_chain_add_dup(node, dup);
	return true;
}

/*
 * The dup matched lives on the wrong NUMA node (merge_across_nodes is 0 and
 * it was migrated): park it on the migrated list, putting @own, if any, in
 * its place.
 */
static void ksm_swap_out_misplaced(struct ksm_descent *d,
				   struct ksm_snode *own, int nid)
{
	struct ksm_snode *dup = d->dup;

	if (dup == d->node) {
		if (own) {
			list_del(&own->migrated);
			own->kind = KSM_SNODE_PLAIN;
			own->nid = nid;
			rb_replace_node(&dup->rb, &own->rb, d->root);
		} else {
			rb_erase(&dup->rb, d->root);
		}
	} else {
		ksm_chain_del_dup(dup);
		if (own) {
			list_del(&own->migrated);
			own->nid = nid;
			ksm_chain_add_dup(d->node, own);
		}
	}
	ksm_snode_park_migrated(dup);
}

/**
 * ksm_stable_find - look for a KSM folio with the content of @page
 * @page: the page being scanned, referenced by the caller
 * @key: its key: ksm_page_key(), or its stable node's for a KSM page
 *
 * If @page itself belongs to a KSM folio on the migrated list, this is also
 * where that folio finds its new place in the tree of its node.
 *
 * Return: a referenced KSM folio to merge @page into (which may be @page's
 * own folio), NULL if there is none with room, or ERR_PTR(-EBUSY) when the
 * candidate is locked and the page is best retried later.  The folio's
 * content may differ from @page's when no other KSM folio has the same
 * key: the merge compares them, and fails with -ENOENT then.
 */
struct folio *ksm_stable_find(struct page *page, u32 key)
{
	struct folio *folio = page_folio(page);
	struct ksm_snode *own = ksm_folio_snode(folio);
	struct ksm_descent d;
	struct folio *kfolio;
	int nid;

	if (own && own->kind != KSM_SNODE_MIGRATED) {
		/* Already a KSM folio in the tree: reached again via fork. */
		folio_get(folio);
		return folio;
	}

	nid = ksm_tree_nid(folio_pfn(folio));
	d.root = ksm_stable_roots + nid;
	/* A migrated KSM folio keeps the scope it was filed under. */
	d.scope = own ? own->scope : ksm_folio_scope(folio);
	d.merging = true;
	/* Our own folio would join or rehome on what the descent finds. */
	d.presume = !own;
again:
	ksm_stable_descend(&d, page, key);
	if (!d.folio) {
		if (!own)
			return NULL;
		ksm_rehome_at(own, &d, nid);
		return ksm_offer(folio, own);
	}
	/*
	 * Our migrated folio has sharers of its own: rather than merging
	 * them one by one, keep it as a further dup of this content.
	 */
	if (own && folio_mapcount(folio) > 1) {
		folio_put(d.folio);
		list_del(&own->migrated);
		own->nid = nid;
		if (ksm_add_dup_of(d.node, own, d.root))
			return ksm_offer(folio, own);
		/* No memory for the chain: back to the migrated list. */
		ksm_snode_park_migrated(own);
		return NULL;
	}

	/* All copies are full: let the unstable tree make a new one. */
	if (!ksm_snode_has_room(d.dup)) {
		folio_put(d.folio);
		return NULL;
	}

	/* Lock and unlock so that a racing migration sees our reference. */
	kfolio = ksm_lock_keyed_folio(d.folio, ksm_snode_mapping(d.dup),
				      KSM_FOLIO_TRYLOCKED);
	if (IS_ERR(kfolio))
		return kfolio;
	if (!kfolio)
		goto again;
	folio_unlock(kfolio);

	if (ksm_tree_nid(d.dup->kpfn) != d.dup->nid) {
		folio_put(kfolio);
		ksm_swap_out_misplaced(&d, own, nid);
		return own ? ksm_offer(folio, own) : NULL;
	}
	return kfolio;
}

/**
 * ksm_stable_insert - add a new KSM folio to the stable tree
 * @kfolio: the folio, locked, already marked KSM with no stable node
 * @key: ksm_page_key() of its content
 *
 * Return: the new stable node, or NULL if memory ran out.
 */
struct ksm_snode *ksm_stable_insert(struct folio *kfolio, u32 key)
{
	unsigned long kpfn = folio_pfn(kfolio);
	int nid = ksm_tree_nid(kpfn);
	struct ksm_descent d = {
		.root = ksm_stable_roots + nid,
		.scope = ksm_folio_scope(kfolio),
	};
	struct ksm_snode *snode;
	bool same_content;

	ksm_stable_descend(&d, &kfolio->page, key);
	same_content = d.folio;
	if (same_content)
		folio_put(d.folio);

	snode = ksm_snode_alloc();
	if (!snode)
		return NULL;
	snode->kpfn = kpfn;
	snode->nid = nid;
	snode->key = key;
	snode->scope = d.scope;

	if (!same_content) {
		snode->kind = KSM_SNODE_PLAIN;
		rb_link_node(&snode->rb, d.parent, d.link);
		rb_insert_color(&snode->rb, d.root);
	} else if (!ksm_add_dup_of(d.node, snode, d.root)) {
		ksm_snode_free(snode);
		return NULL;
	}
	ksm_folio_set_snode(kfolio, snode);
	return snode;
}

/**
 * ksm_snode_rehome_if_misplaced - notice a KSM folio migrated to another node
 * @snode: the stable node of a folio being scanned
 *
 * With merge_across_nodes 0, each node has its own tree; a folio migrated
 * away goes on the migrated list, from where ksm_stable_find() rehomes it.
 */
void ksm_snode_rehome_if_misplaced(struct ksm_snode *snode)
{
	if (snode->kind == KSM_SNODE_MIGRATED)
		return;
	if (ksm_tree_nid(READ_ONCE(snode->kpfn)) == snode->nid)
		return;
	ksm_snode_unlink(snode);
	ksm_snode_park_migrated(snode);
}

/**
 * ksm_prune_migrated - free the stale nodes of the migrated list
 *
 * Tree nodes get pruned as lookups walk over them; the migrated list is
 * never walked that way, so ksmd sweeps it once per full scan.
 */
void ksm_prune_migrated(void)
{
	struct ksm_snode *snode, *next;
	struct folio *folio;

	list_for_each_entry_safe(snode, next, &ksm_migrated_nodes, migrated) {
		folio = ksm_snode_folio(snode, KSM_FOLIO_UNLOCKED);
		if (folio)
			folio_put(folio);
		cond_resched();
	}
}

/* Give up the stable node of a KSM folio that nobody maps any more. */
static int ksm_snode_remove(struct ksm_snode *snode)
{
	struct folio *folio;
	int err = 0;

	folio = ksm_snode_folio(snode, KSM_FOLIO_LOCKED);
	if (!folio)
		return 0;
	/*
	 * Still mapped: an exiting mm may be between ksm_exit() and
	 * exit_mmap().  Refuse, the caller reports -EBUSY.
	 */
	if (folio_mapped(folio)) {
		err = -EBUSY;
	} else {
		ksm_folio_set_snode(folio, NULL);
		ksm_snode_forget(snode);
	}
	folio_unlock(folio);
	folio_put(folio);
	return err;
}

static int ksm_tree_node_remove(struct ksm_snode *node, struct rb_root *root)
{
	struct ksm_snode *dup;
	struct hlist_node *tmp;

	if (node->kind != KSM_SNODE_CHAIN)
		return ksm_snode_remove(node);

	hlist_for_each_entry_safe(dup, tmp, &node->dups, dup_link) {
		if (ksm_snode_remove(dup))
			return -EBUSY;
	}
	ksm_chain_free(node, root);
	return 0;
}

/**
 * ksm_stable_remove_all - empty the stable trees and the migrated list
 *
 * Used when all KSM folios have been unmerged, before changing a tunable
 * that shapes the trees.
 *
 * Return: 0, or -EBUSY if some KSM folio was still mapped.
 */
int ksm_stable_remove_all(void)
{
	struct ksm_snode *snode, *next;
	int nid, err = 0, busy = 0;
	struct rb_root *root;

	for (nid = 0; nid < ksm_cfg.nr_trees; nid++) {
		root = ksm_stable_roots + nid;
		/* Stop at a busy node: it would be met again and again. */
		while (root->rb_node && !err) {
			snode = rb_entry(root->rb_node, struct ksm_snode, rb);
			err = ksm_tree_node_remove(snode, root);
			cond_resched();
		}
		busy |= err;
		err = 0;
	}
	list_for_each_entry_safe(snode, next, &ksm_migrated_nodes, migrated) {
		busy |= ksm_snode_remove(snode);
		cond_resched();
	}
	return busy ? -EBUSY : 0;
}

static bool ksm_pfn_in(unsigned long pfn, unsigned long start,
		       unsigned long end)
{
	return pfn >= start && pfn < end;
}

/* Drop what @node holds in [start, end); true if the tree changed shape. */
static bool ksm_tree_node_drop_range(struct ksm_snode *node,
				     struct rb_root *root,
				     unsigned long start, unsigned long end)
{
	struct ksm_snode *dup;
	struct hlist_node *tmp;

	if (node->kind != KSM_SNODE_CHAIN) {
		if (!ksm_pfn_in(node->kpfn, start, end))
			return false;
		ksm_snode_forget(node);
		return true;
	}
	hlist_for_each_entry_safe(dup, tmp, &node->dups, dup_link) {
		if (ksm_pfn_in(dup->kpfn, start, end))
			ksm_snode_forget(dup);
	}
	if (!hlist_empty(&node->dups))
		return false;
	ksm_chain_free(node, root);
	return true;
}

/**
 * ksm_stable_drop_pfn_range - forget stable nodes of offlined memory
 * @start_pfn: first pfn of the range
 * @end_pfn: pfn just past the range
 *
 * Migration moved nearly every KSM folio away already; nodes left pointing
 * into the range must go before anyone dereferences their struct page.
 * The folios are gone, so this works from kpfn alone.
 */
void ksm_stable_drop_pfn_range(unsigned long start_pfn, unsigned long end_pfn)
{
	struct ksm_snode *snode, *next;
	struct rb_root *root;
	struct rb_node *rb;
	int nid;

	for (nid = 0; nid < ksm_cfg.nr_trees; nid++) {
		root = ksm_stable_roots + nid;
		rb = rb_first(root);
		while (rb) {
			snode = rb_entry(rb, struct ksm_snode, rb);
			if (ksm_tree_node_drop_range(snode, root, start_pfn,
						     end_pfn))
				rb = rb_first(root);
			else
				rb = rb_next(rb);
			cond_resched();
		}
	}
	list_for_each_entry_safe(snode, next, &ksm_migrated_nodes, migrated) {
		if (ksm_pfn_in(snode->kpfn, start_pfn, end_pfn))
			ksm_snode_forget(snode);
		cond_resched();
	}
}

#ifdef CONFIG_KSM_KUNIT_TEST
#include "tests/stable-kunit.h"
#endif
