// SPDX-License-Identifier: GPL-2.0-only
/*
 * KSM unstable trees: candidate pages whose key held still for a whole
 * scan round, sorted by merge scope, key and then by their (writable,
 * hence unreliable) content.
 *
 * Since the pages may change under us, an unstable tree is only a hint: it
 * is thrown away at the start of every round and rebuilt as ksmd goes, and
 * a red-black tree keeps its shape whatever happens to the content.  Each
 * throwing away starts a new generation of trees, and items remember the
 * generation they were inserted in: one removed while its generation is
 * current is erased from its tree, while one left over from an earlier
 * generation, whose tree no longer exists, is simply forgotten.  The
 * generation is not the round number: run=2 counts rounds from zero again,
 * and an interrupted run=2 leaves items behind in the middle of a round.
 *
 * All of this is ksmd's alone, under ksm_scan_mutex.
 */

#include <linux/mm.h>
#include <linux/rbtree.h>
#include <linux/sched.h>

#include "internal.h"

/* ksmd: how many times the unstable trees were thrown away. */
static unsigned long ksm_unstable_gen;

/**
 * ksm_unstable_reset - throw the unstable trees away, start new ones
 */
void ksm_unstable_reset(void)
{
	int nid;

	/*
	 * Every root there is, not just those of nr_trees: after a switch of
	 * merge_across_nodes the other nodes' roots would keep pointing at
	 * items freed since, for a switch back to walk.
	 */
	for (nid = 0; nid < ksm_nr_roots; nid++)
		ksm_unstable_roots[nid] = RB_ROOT;
	ksm_unstable_gen++;
}

/*
 * Generations between the insertion of an unstable item and now, from the
 * low eight bits of both: 0 while its tree is still the current one.
 */
static unsigned int ksm_gens_since(u8 inserted, unsigned long now)
{
	return (u8)((u8)now - inserted);
}

/*
 * The root of the unstable tree @item is in.  Items do not keep their
 * tree's index: erasing is rare enough (a merged peer, an unmapped page)
 * for a climb to the top of the tree to be cheaper than 4 bytes an item.
 */
static struct rb_root *ksm_unstable_root_of(struct ksm_item *item)
{
	struct rb_node *node = &item->rb;
	int nid;

	while (rb_parent(node))
		node = rb_parent(node);
	for (nid = 0; nid < ksm_nr_roots; nid++)
		if (ksm_unstable_roots[nid].rb_node == node)
			return ksm_unstable_roots + nid;
	return NULL;
}

/**
 * ksm_unstable_unlink_item - take an item out of the unstable tree
 * @item: an item in state KSM_ITEM_UNSTABLE
 */
void ksm_unstable_unlink_item(struct ksm_item *item)
{
	unsigned int age = ksm_gens_since(ksm_item_gen(item), ksm_unstable_gen);
	struct rb_root *root;

	/*
	 * An item is revisited every round, so it is normally at most one
	 * generation old; a round that run=2 cut short leaves the items it
	 * had not reached one more generation behind.  Only the current
	 * generation's items are in a tree: erasing a node from another
	 * tree would graft parts of that tree into this one.
	 */
	if (!age) {
		root = ksm_unstable_root_of(item);
		if (!WARN_ON_ONCE(!root))
			rb_erase(&item->rb, root);
	}
	ksm_stats.pages_unshared--;
	ksm_item_set_state(item, KSM_ITEM_LOOSE);
}

static void ksm_unstable_link(struct ksm_item *item, int nid, u32 scope,
			      struct rb_node *parent, struct rb_node **link)
{
	ksm_item_set_state(item, KSM_ITEM_UNSTABLE);
	ksm_item_set_gen(item, ksm_unstable_gen);
	item->scope = scope;
	rb_link_node(&item->rb, parent, link);
	rb_insert_color(&item->rb, ksm_unstable_roots + nid);
	ksm_stats.pages_unshared++;
}

/* ksm_unstable_cmp() result: the search cannot go on. */
#define KSM_CMP_GIVE_UP		INT_MIN

/*
 * Compare @page, of scope @scope and key @key, with the page of unstable
 * item @peer: <0, >0, or 0 with the peer's page referenced in *@match.
 * Scopes and keys decide unless they are equal; then the pages do.  KSM_CMP_GIVE_UP when the
 * peer's page is gone or is @page itself (shared by fork: nothing to
 * gain), or a match sits on another node than @nid (merge_across_nodes
 * 0, migrated since insertion: the next round files it correctly).
 */
static int ksm_unstable_cmp(struct page *page, u32 scope, u32 key,
			    struct ksm_item *peer, int nid, struct page **match)
{
	struct page *peer_page;
	int cmp;

	cmp = ksm_tree_cmp(scope, key, peer->scope, peer->key);
	if (cmp)
		return cmp;
	peer_page = ksm_item_get_page(peer);
	if (!peer_page)
		return KSM_CMP_GIVE_UP;
	cmp = peer_page == page ? KSM_CMP_GIVE_UP : memcmp_pages(page, peer_page);
	if (!cmp && !ksm_cfg.merge_across_nodes &&
	    page_to_nid(peer_page) != nid)
		cmp = KSM_CMP_GIVE_UP;
	if (cmp) {
		put_page(peer_page);
		return cmp;
	}
	*match = peer_page;
	return 0;
}

/**
 * ksm_unstable_match - find an unstable item with the content of @page
 * @item: the loose item of @page, holding its key
 * @page: the page being scanned, referenced by the caller
 * @match: set to the matching page, referenced, when one is found
 *
 * Without a match, @item is inserted where the search ended.  The search
 * gives up (without inserting) when it meets a page it cannot read any
 * more, or @page itself (shared by fork, so no merge to gain).
 *
 * Return: the matching item, or NULL.
 */
struct ksm_item *ksm_unstable_match(struct ksm_item *item, struct page *page,
				    struct page **match)
{
	int nid = ksm_tree_nid(page_to_pfn(page));
	u32 scope = ksm_folio_scope(page_folio(page));
	struct rb_node **link = &ksm_unstable_roots[nid].rb_node;
	struct rb_node *parent = NULL;
	struct ksm_item *peer;
	int cmp;

	while (*link) {
		cond_resched();
		peer = rb_entry(*link, struct ksm_item, rb);
		cmp = ksm_unstable_cmp(page, scope, item->key, peer, nid,
				       match);
		if (cmp == KSM_CMP_GIVE_UP)
			return NULL;
		if (cmp == 0)
			return peer;
		parent = *link;
		link = cmp < 0 ? &parent->rb_left : &parent->rb_right;
	}

	ksm_unstable_link(item, nid, scope, parent, link);
	return NULL;
}

#ifdef CONFIG_KSM_KUNIT_TEST
#include "tests/unstable-kunit.h"
#endif
