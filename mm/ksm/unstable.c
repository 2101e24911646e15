// SPDX-License-Identifier: GPL-2.0-only
/*
 * KSM unstable trees: candidate pages whose key held still for a whole
 * scan round, sorted by merge scope, key and then by their (writable,
 * hence unreliable) content.
 *
 * The pages are spread over the buckets of a hash table by scope, key and
 * node, each bucket a red-black tree of its own in that order: a lookup
 * reads a bucket and a node or two, however many candidates there are,
 * and pages whose keys collide (which a process can make as many of as it
 * likes) still share one tree, where the content orders them.
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

#include <linux/hash.h>
#include <linux/mm.h>
#include <linux/rbtree.h>
#include <linux/sched.h>
#include <linux/vmalloc.h>

#include "internal.h"

/*
 * The table has about one bucket for every two pages filed in the round
 * before, between these bounds; it shrinks only when four times too big.
 */
#define KSM_UNSTABLE_MIN_BITS	6
#define KSM_UNSTABLE_MAX_BITS	20

static struct rb_root ksm_unstable_first[1 << KSM_UNSTABLE_MIN_BITS];

/* ksmd: the table, and what its generation hashes by. */
static struct rb_root *ksm_unstable_buckets = ksm_unstable_first;
static unsigned int ksm_unstable_bits = KSM_UNSTABLE_MIN_BITS;
static u32 ksm_unstable_key_mask = U32_MAX;	/* ksm_key_mask then */
static unsigned long ksm_unstable_filed;	/* insertions so far */

/* ksmd: how many times the unstable trees were thrown away. */
static unsigned long ksm_unstable_gen;

/* The table size, in bits, for a round that filed @filed pages. */
static unsigned int ksm_unstable_bits_for(unsigned long filed)
{
	unsigned int bits = KSM_UNSTABLE_MIN_BITS;

	while (bits < KSM_UNSTABLE_MAX_BITS && (2UL << bits) < filed)
		bits++;
	return bits;
}

/* Switch to a table of 1 << @bits buckets, unless out of memory. */
static void ksm_unstable_resize(unsigned int bits)
{
	struct rb_root *buckets = ksm_unstable_first;

	if (bits > KSM_UNSTABLE_MIN_BITS) {
		buckets = __vmalloc(sizeof(*buckets) << bits,
				    GFP_KERNEL | __GFP_NOWARN);
		if (!buckets)
			return;		/* the old size will do */
	}
	if (ksm_unstable_buckets != ksm_unstable_first)
		vfree(ksm_unstable_buckets);
	ksm_unstable_buckets = buckets;
	ksm_unstable_bits = bits;
}

/**
 * ksm_unstable_reset - throw the unstable trees away, start new ones
 *
 * Every bucket, whatever merge_across_nodes is now: a tree left over from
 * before a switch would point at items freed since.
 */
void ksm_unstable_reset(void)
{
	unsigned int bits = ksm_unstable_bits_for(ksm_unstable_filed);

	if (bits > ksm_unstable_bits || bits + 2 < ksm_unstable_bits)
		ksm_unstable_resize(bits);
	memset(ksm_unstable_buckets, 0,
	       sizeof(*ksm_unstable_buckets) << ksm_unstable_bits);
	/* The buckets of a generation must not move under its items. */
	ksm_unstable_key_mask = READ_ONCE(ksm_key_mask);
	ksm_unstable_filed = 0;
	ksm_unstable_gen++;
}

/*
 * The tree for pages of @scope and @key on node @nid.  Keys the debug mask
 * makes equal share a bucket, so that they meet in its tree as in a
 * single one.
 */
static struct rb_root *ksm_unstable_bucket(u32 scope, u32 key, int nid)
{
	u32 where = hash_32(scope, 32) ^ hash_32(nid, 32) ^
		    (key & ksm_unstable_key_mask);

	return ksm_unstable_buckets + hash_32(where, ksm_unstable_bits);
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
 * The tree @item is in.  Items do not keep their node, only their scope
 * and key: of the buckets these give on each node, it is the one whose
 * root @item climbs up to.  Erasing is rare enough (a merged peer, a page
 * unmapped since) for that to beat 4 bytes an item.
 */
static struct rb_root *ksm_unstable_root_of(struct ksm_item *item)
{
	struct rb_node *node = &item->rb;
	struct rb_root *root;
	int nid;

	while (rb_parent(node))
		node = rb_parent(node);
	for (nid = 0; nid < ksm_nr_roots; nid++) {
		root = ksm_unstable_bucket(item->scope, item->key, nid);
		if (root->rb_node == node)
			return root;
	}
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

static void ksm_unstable_link(struct ksm_item *item, struct rb_root *root,
			      u32 scope, struct rb_node *parent,
			      struct rb_node **link)
{
	ksm_item_set_state(item, KSM_ITEM_UNSTABLE);
	ksm_item_set_gen(item, ksm_unstable_gen);
	item->scope = scope;
	rb_link_node(&item->rb, parent, link);
	rb_insert_color(&item->rb, root);
	ksm_unstable_filed++;
	ksm_stats.pages_unshared++;
}

/* ksm_unstable_cmp() result: the search cannot go on. */
#define KSM_CMP_GIVE_UP		INT_MIN

/*
 * Compare @page, of scope @scope and key @key, with the page of unstable
 * item @peer: <0, >0, or 0 with the peer's page referenced in *@match.
 * Scopes and keys decide unless they are equal; then the pages do.
 * KSM_CMP_GIVE_UP when the peer's page is gone or is @page itself (shared
 * by fork: nothing to gain), or a match sits on another node than @nid
 * (merge_across_nodes 0, migrated since insertion or in a bucket shared
 * with another node's: the next round files it correctly).
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
	struct rb_root *root = ksm_unstable_bucket(scope, item->key, nid);
	struct rb_node **link = &root->rb_node;
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

	ksm_unstable_link(item, root, scope, parent, link);
	return NULL;
}

#ifdef CONFIG_KSM_KUNIT_TEST
#include "tests/unstable-kunit.h"
#endif
