// SPDX-License-Identifier: GPL-2.0-only
/*
 * The KSM unstable tree: candidate pages whose key held still for a whole
 * scan round, filed by merge scope and content.
 *
 * It is no tree but a hash table, its chains picked by scope, node and a
 * hash of the whole page.  A lookup reads one chain,
 * about one item long, and compares a page only with those of the same
 * scope and key; pages differing outside the key's sample, which a
 * process can make as many of as it likes (and sparse data makes without
 * trying), land in chains of their own, since the whole page is hashed.
 * The hash is seeded afresh for every table, so that nobody can tell which
 * contents would share a chain.
 *
 * Since the pages may change under us, the table is only a hint: it is
 * thrown away at the start of every round and refilled as ksmd goes, and a
 * page that changed after it was filed is merely in the wrong chain.  Each
 * throwing away starts a new generation, and items remember the generation
 * they were filed in: one removed while its generation is current is taken
 * off its chain, while one left over from an earlier generation, whose
 * chain no longer exists, is simply forgotten.  The generation is not the
 * round number: run=2 counts rounds from zero again, and an interrupted
 * run=2 leaves items behind in the middle of a round.
 *
 * All of this is ksmd's alone, under ksm_scan_mutex.
 */

#include <linux/hash.h>
#include <linux/mm.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/vmalloc.h>
#include <linux/xxhash.h>

#include "internal.h"

/*
 * At the start of a round, the table gets about one chain for every eight
 * items that are not stable, between these bounds; it shrinks only when
 * four times too big.  Those are all the pages the round can file, even
 * when smart scan makes pages that sat out rounds in step come back
 * together: an undersized table would make chains, and lookups, long.
 * Walking a few items costs little next to hashing the page, and the chain
 * heads take a byte per page that could be filed.
 */
#define KSM_UNSTABLE_MIN_BITS	6
#define KSM_UNSTABLE_MAX_BITS	20

static struct hlist_head ksm_unstable_first[1 << KSM_UNSTABLE_MIN_BITS];

/* ksmd: the table, and what its generation hashes by. */
static struct hlist_head *ksm_unstable_buckets = ksm_unstable_first;
static unsigned int ksm_unstable_bits = KSM_UNSTABLE_MIN_BITS;
static u32 ksm_unstable_key_mask = U32_MAX;	/* ksm_key_mask then */
static u64 ksm_unstable_seed;			/* of the page hash */

/* ksmd: how many times the unstable table was thrown away. */
static unsigned long ksm_unstable_gen;

/* The table size, in bits, for a round that may file @pages pages. */
static unsigned int ksm_unstable_bits_for(unsigned long pages)
{
	unsigned int bits = KSM_UNSTABLE_MIN_BITS;

	while (bits < KSM_UNSTABLE_MAX_BITS && (8UL << bits) < pages)
		bits++;
	return bits;
}

/* Items that are not on a stable node: what a round may file. */
static unsigned long ksm_unstable_candidates(void)
{
	unsigned long stable = ksm_stats.pages_shared + ksm_stats.pages_sharing;

	return ksm_stats.items > stable ? ksm_stats.items - stable : 0;
}

/* Switch to a table of 1 << @bits buckets, unless out of memory. */
static void ksm_unstable_resize(unsigned int bits)
{
	struct hlist_head *buckets = ksm_unstable_first;

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
 * ksm_unstable_reset - throw the unstable table away, start a new one
 *
 * Every chain, whatever merge_across_nodes is now: a chain left over from
 * before a switch would point at items freed since.
 */
void ksm_unstable_reset(void)
{
	unsigned int bits = ksm_unstable_bits_for(ksm_unstable_candidates());

	if (bits > ksm_unstable_bits || bits + 2 < ksm_unstable_bits)
		ksm_unstable_resize(bits);
	memset(ksm_unstable_buckets, 0,
	       sizeof(*ksm_unstable_buckets) << ksm_unstable_bits);
	/* What a generation hashes by holds for its whole life. */
	ksm_unstable_key_mask = READ_ONCE(ksm_key_mask);
	ksm_unstable_seed = get_random_u64();
	ksm_unstable_gen++;
}

/*
 * The chain for pages of @scope on node @nid whose content hashes to
 * @hash.  Hashes the debug mask makes equal share a chain, so that pages
 * with keys it makes equal meet there too.
 */
static struct hlist_head *ksm_unstable_bucket(u64 hash, u32 scope, int nid)
{
	u32 where = hash_32(scope, 32) ^ hash_32(nid, 32) ^
		    ((u32)hash & ksm_unstable_key_mask);

	return ksm_unstable_buckets + hash_32(where, ksm_unstable_bits);
}

/* The chain @page, of @scope and on node @nid, is filed in. */
static struct hlist_head *ksm_unstable_bucket_of(struct page *page,
						 u32 scope, int nid)
{
	void *addr = kmap_local_page(page);
	u64 hash = xxh64(addr, PAGE_SIZE, ksm_unstable_seed);

	kunmap_local(addr);
	return ksm_unstable_bucket(hash, scope, nid);
}

/*
 * Generations between the insertion of an unstable item and now, from the
 * low eight bits of both: 0 while its tree is still the current one.
 */
static unsigned int ksm_gens_since(u8 inserted, unsigned long now)
{
	return (u8)((u8)now - inserted);
}

/**
 * ksm_unstable_unlink_item - take an item out of the unstable table
 * @item: an item in state KSM_ITEM_UNSTABLE
 */
void ksm_unstable_unlink_item(struct ksm_item *item)
{
	unsigned int age = ksm_gens_since(ksm_item_gen(item), ksm_unstable_gen);

	/*
	 * An item is revisited every round, so it is normally at most one
	 * generation old; a round that run=2 cut short leaves the items it
	 * had not reached one more generation behind.  Only the current
	 * generation's items are on a chain: the chains of an older table
	 * were zeroed, or freed, under them.
	 */
	if (!age)
		hlist_del(&item->chain);
	ksm_stats.pages_unshared--;
	ksm_item_set_state(item, KSM_ITEM_LOOSE);
}

static void ksm_unstable_link(struct ksm_item *item, struct hlist_head *bucket,
			      u32 scope)
{
	ksm_item_set_state(item, KSM_ITEM_UNSTABLE);
	ksm_item_set_gen(item, ksm_unstable_gen);
	item->scope = scope;
	hlist_add_head(&item->chain, bucket);
	ksm_stats.pages_unshared++;
}

/*
 * Is the page of unstable item @peer the content of @page, of scope @scope
 * and key @key on node @nid?  Returns the peer's page, referenced, if so,
 * NULL if not, or ERR_PTR(-EEXIST) if it is @page itself (shared by fork:
 * nothing to gain).  Only a peer of the same scope and key is read; with
 * merge_across_nodes 0, one migrated to another node since it was filed
 * does not match (the next round files it correctly).
 */
static struct page *ksm_unstable_peer(struct page *page, u32 scope, u32 key,
				      struct ksm_item *peer, int nid)
{
	struct page *peer_page;

	if (ksm_tree_cmp(scope, key, peer->scope, peer->key))
		return NULL;
	peer_page = ksm_item_get_page(peer);
	if (!peer_page)
		return NULL;
	if (peer_page == page) {
		put_page(peer_page);
		return ERR_PTR(-EEXIST);
	}
	if (ksm_pages_same(page, peer_page) &&
	    (ksm_cfg.merge_across_nodes || page_to_nid(peer_page) == nid))
		return peer_page;
	put_page(peer_page);
	return NULL;
}

/**
 * ksm_unstable_match - find an unstable item with the content of @page
 * @item: the loose item of @page, holding its key
 * @page: the page being scanned, referenced by the caller
 * @match: set to the matching page, referenced, when one is found
 *
 * Without a match, @item is filed in the chain it looked in, unless that
 * has @page itself already (shared by fork, so no merge to gain).
 *
 * Return: the matching item, or NULL.
 */
struct ksm_item *ksm_unstable_match(struct ksm_item *item, struct page *page,
				    struct page **match)
{
	int nid = ksm_tree_nid(page_to_pfn(page));
	u32 scope = ksm_folio_scope(page_folio(page));
	struct hlist_head *bucket = ksm_unstable_bucket_of(page, scope, nid);
	struct ksm_item *peer;
	struct page *peer_page;

	hlist_for_each_entry(peer, bucket, chain) {
		cond_resched();
		peer_page = ksm_unstable_peer(page, scope, item->key, peer,
					      nid);
		if (IS_ERR(peer_page))
			return NULL;
		if (peer_page) {
			*match = peer_page;
			return peer;
		}
	}

	ksm_unstable_link(item, bucket, scope);
	return NULL;
}

#ifdef CONFIG_KSM_KUNIT_TEST
#include "tests/unstable-kunit.h"
#endif
