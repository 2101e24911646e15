/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * KUnit tests of the unstable table's generations (an item filed in the
 * current generation must be taken off its chain, an older one not), of
 * its chains, of the order the stable trees keep (merge scope first,
 * then content key, then content), and of the page equality merges use.
 */
#include <kunit/test.h>

static void ksm_test_gens_since(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, ksm_gens_since(5, 5), 0U);
	KUNIT_EXPECT_EQ(test, ksm_gens_since(5, 6), 1U);
	/* Only the low eight bits of the generation are kept. */
	KUNIT_EXPECT_EQ(test, ksm_gens_since(0xff, 0x100), 1U);
	KUNIT_EXPECT_EQ(test, ksm_gens_since(0x34, 0x1234), 0U);
	KUNIT_EXPECT_EQ(test, ksm_gens_since(0xfe, 0x300), 2U);
}

static void ksm_test_key_cmp(struct kunit *test)
{
	u32 saved = ksm_key_mask;

	KUNIT_EXPECT_EQ(test, ksm_key_cmp(1, 2), -1);
	KUNIT_EXPECT_EQ(test, ksm_key_cmp(2, 1), 1);
	KUNIT_EXPECT_EQ(test, ksm_key_cmp(7, 7), 0);
	/* Unsigned: the top bit does not make a key smaller. */
	KUNIT_EXPECT_EQ(test, ksm_key_cmp(0x80000000, 1), 1);
	KUNIT_EXPECT_EQ(test, ksm_key_cmp(U32_MAX, 0), 1);
	/* The debug mask makes keys collide, and only it. */
	ksm_key_mask = 0x3;
	KUNIT_EXPECT_EQ(test, ksm_key_cmp(0x10, 0x20), 0);
	KUNIT_EXPECT_EQ(test, ksm_key_cmp(0x11, 0x22), -1);
	ksm_key_mask = 0;
	KUNIT_EXPECT_EQ(test, ksm_key_cmp(0, U32_MAX), 0);
	ksm_key_mask = saved;
}

static void ksm_test_tree_cmp(struct kunit *test)
{
	u32 saved = ksm_key_mask;

	KUNIT_EXPECT_EQ(test, ksm_tree_cmp(0, 1, 0, 2), -1);
	KUNIT_EXPECT_EQ(test, ksm_tree_cmp(3, 9, 3, 9), 0);
	/* The scope decides before the key does, whatever the keys are. */
	KUNIT_EXPECT_EQ(test, ksm_tree_cmp(1, U32_MAX, 2, 0), -1);
	KUNIT_EXPECT_EQ(test, ksm_tree_cmp(2, 0, 1, U32_MAX), 1);
	KUNIT_EXPECT_EQ(test, ksm_tree_cmp(U32_MAX, 0, 0, 0), 1);
	/* Keys that collide by the debug mask still keep scopes apart. */
	ksm_key_mask = 0;
	KUNIT_EXPECT_EQ(test, ksm_tree_cmp(4, 1, 5, 2), -1);
	KUNIT_EXPECT_EQ(test, ksm_tree_cmp(5, 1, 5, 2), 0);
	ksm_key_mask = saved;
}

/*
 * A node of a model tree ordered as the KSM trees are: scope, key, then
 * content.
 */
struct ksm_test_node {
	struct rb_node rb;
	u32 scope;
	u32 key;
	u64 content;
};

static int ksm_test_order(u32 scope, u32 key, u64 content,
			  struct ksm_test_node *n)
{
	int cmp = ksm_tree_cmp(scope, key, n->scope, n->key);

	if (cmp)
		return cmp;
	return content < n->content ? -1 : content > n->content;
}

/* Find (scope, key, content), inserting @new there if not found. */
static struct ksm_test_node *ksm_test_find(struct rb_root *root, u32 scope,
					   u32 key, u64 content,
					   struct ksm_test_node *new)
{
	struct rb_node **link = &root->rb_node, *parent = NULL;
	struct ksm_test_node *n;
	int cmp;

	while (*link) {
		n = rb_entry(*link, struct ksm_test_node, rb);
		cmp = ksm_test_order(scope, key, content, n);
		if (!cmp)
			return n;
		parent = *link;
		link = cmp < 0 ? &parent->rb_left : &parent->rb_right;
	}
	if (new) {
		rb_link_node(&new->rb, parent, link);
		rb_insert_color(&new->rb, root);
	}
	return NULL;
}

/*
 * With keys of a few bits, most contents collide: every content put in
 * is found again, at its own node, and one never put in is not found,
 * though its key is in the tree many times over.
 */
static void ksm_test_colliding_keys(struct kunit *test)
{
	const int nr = 200;
	struct ksm_test_node *nodes;
	struct rb_root root = RB_ROOT;
	u32 saved = ksm_key_mask;
	int i, found = 0;

	nodes = kunit_kcalloc(test, nr, sizeof(*nodes), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, nodes);
	ksm_key_mask = 0x3;
	for (i = 0; i < nr; i++) {
		nodes[i].key = i * 2654435761U;
		nodes[i].content = (u64)i * 7919;
		KUNIT_EXPECT_NULL(test, ksm_test_find(&root, 0, nodes[i].key,
						      nodes[i].content,
						      &nodes[i]));
	}
	for (i = 0; i < nr; i++)
		found += ksm_test_find(&root, 0, nodes[i].key,
				       nodes[i].content, NULL) == &nodes[i];
	KUNIT_EXPECT_EQ(test, found, nr);
	/* Same key as node 5 and as a quarter of the tree: no content match. */
	KUNIT_EXPECT_NULL(test, ksm_test_find(&root, 0, nodes[5].key, 1, NULL));
	ksm_key_mask = saved;
}

/*
 * The same contents in several scopes, all keys colliding: each scope
 * finds its own node of every content and never another scope's, and a
 * scope with nothing in the tree finds nothing.
 */
static void ksm_test_scopes_apart(struct kunit *test)
{
	const int scopes = 4, contents = 50;
	struct ksm_test_node *nodes, *n;
	struct rb_root root = RB_ROOT;
	u32 saved = ksm_key_mask;
	int s, c, own = 0;

	nodes = kunit_kcalloc(test, scopes * contents, sizeof(*nodes),
			      GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, nodes);
	ksm_key_mask = 0;
	for (s = 0; s < scopes; s++) {
		for (c = 0; c < contents; c++) {
			n = &nodes[s * contents + c];
			n->scope = 10 + s;
			n->key = c;
			n->content = c;
			KUNIT_EXPECT_NULL(test, ksm_test_find(&root, n->scope,
							      c, c, n));
		}
	}
	for (s = 0; s < scopes; s++)
		for (c = 0; c < contents; c++)
			own += ksm_test_find(&root, 10 + s, c, c, NULL) ==
			       &nodes[s * contents + c];
	KUNIT_EXPECT_EQ(test, own, scopes * contents);
	for (c = 0; c < contents; c++) {
		KUNIT_EXPECT_NULL(test, ksm_test_find(&root, 0, c, c, NULL));
		KUNIT_EXPECT_NULL(test, ksm_test_find(&root, 9 + scopes + 1,
						      c, c, NULL));
	}
	ksm_key_mask = saved;
}

/* About a chain per eight pages to file, within the bounds. */
static void ksm_test_bucket_bits(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, ksm_unstable_bits_for(0), KSM_UNSTABLE_MIN_BITS);
	KUNIT_EXPECT_EQ(test, ksm_unstable_bits_for(8 << KSM_UNSTABLE_MIN_BITS),
			KSM_UNSTABLE_MIN_BITS);
	KUNIT_EXPECT_EQ(test,
			ksm_unstable_bits_for((8 << KSM_UNSTABLE_MIN_BITS) + 1),
			KSM_UNSTABLE_MIN_BITS + 1);
	KUNIT_EXPECT_EQ(test, ksm_unstable_bits_for(3000), 9U);
	KUNIT_EXPECT_EQ(test, ksm_unstable_bits_for(ULONG_MAX),
			KSM_UNSTABLE_MAX_BITS);
}

/* A round may file every item not on a stable node, and no fewer. */
static void ksm_test_candidates(struct kunit *test)
{
	struct ksm_stats saved;

	mutex_lock(&ksm_scan_mutex);
	saved = ksm_stats;
	ksm_stats.items = 10;
	ksm_stats.pages_shared = 2;
	ksm_stats.pages_sharing = 3;
	KUNIT_EXPECT_EQ(test, ksm_unstable_candidates(), 5UL);
	/* Whatever the counters say, the count does not wrap. */
	ksm_stats.items = 4;
	KUNIT_EXPECT_EQ(test, ksm_unstable_candidates(), 0UL);
	ksm_stats = saved;
	mutex_unlock(&ksm_scan_mutex);
}

/*
 * Hashes that the mask makes equal must meet in one chain, whatever their
 * other bits, while distinct hashes spread over the table.
 */
static void ksm_test_bucket_spread(struct kunit *test)
{
	u32 saved = ksm_unstable_key_mask;
	DECLARE_BITMAP(used, 1 << KSM_UNSTABLE_MIN_BITS) = { };
	struct hlist_head *b;
	u64 i;

	mutex_lock(&ksm_scan_mutex);
	ksm_unstable_key_mask = 0x3;
	b = ksm_unstable_bucket(0x1, 7, 0);
	for (i = 0; i < 1000; i++)
		KUNIT_EXPECT_PTR_EQ(test,
				    ksm_unstable_bucket(i << 34 | i << 2 | 0x1,
							7, 0), b);
	ksm_unstable_key_mask = U32_MAX;
	for (i = 0; i < 1000; i++) {
		b = ksm_unstable_bucket(i * 0x9e3779b97f4a7c15ULL, 0, 0);
		KUNIT_ASSERT_TRUE(test, b >= ksm_unstable_buckets &&
				  b < ksm_unstable_buckets +
				  (1UL << ksm_unstable_bits));
		if (ksm_unstable_bits == KSM_UNSTABLE_MIN_BITS)
			__set_bit(b - ksm_unstable_buckets, used);
	}
	if (ksm_unstable_bits == KSM_UNSTABLE_MIN_BITS)
		KUNIT_EXPECT_GT(test, bitmap_weight(used,
						    1 << KSM_UNSTABLE_MIN_BITS),
				48U);
	ksm_unstable_key_mask = saved;
	mutex_unlock(&ksm_scan_mutex);
}

/* Is @item on the chain of @bucket? */
static bool ksm_test_on_chain(struct hlist_head *bucket, struct ksm_item *item)
{
	struct ksm_item *at;

	hlist_for_each_entry(at, bucket, chain)
		if (at == item)
			return true;
	return false;
}

/*
 * Items leave their chains on their own, with hashes colliding in few
 * chains, several scopes in each: the others stay where they were, and
 * every chain ends up empty.
 */
static void ksm_test_bucket_erase(struct kunit *test)
{
	const int nr = 96;
	unsigned long pages_unshared;
	u32 saved = ksm_unstable_key_mask;
	struct hlist_head **bucket;
	struct ksm_item *items;
	int i, right = 0;

	items = kunit_kcalloc(test, nr, sizeof(*items), GFP_KERNEL);
	bucket = kunit_kcalloc(test, nr, sizeof(*bucket), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, items);
	KUNIT_ASSERT_NOT_NULL(test, bucket);
	mutex_lock(&ksm_scan_mutex);
	pages_unshared = ksm_stats.pages_unshared;
	ksm_unstable_key_mask = 0x3;
	for (i = 0; i < nr; i++) {
		bucket[i] = ksm_unstable_bucket(i * 0x9e3779b97f4a7c15ULL,
						i % 3, 0);
		items[i].key = i;
		ksm_unstable_link(&items[i], bucket[i], i % 3);
	}
	for (i = 0; i < nr; i++)
		right += ksm_test_on_chain(bucket[i], &items[i]);
	KUNIT_EXPECT_EQ(test, right, nr);
	for (i = 0; i < nr; i += 2)
		ksm_unstable_unlink_item(&items[i]);
	for (i = 0, right = 0; i < nr; i++)
		right += i & 1 ? ksm_test_on_chain(bucket[i], &items[i]) :
				 ksm_item_state(&items[i]) == KSM_ITEM_LOOSE &&
				 !ksm_test_on_chain(bucket[i], &items[i]);
	KUNIT_EXPECT_EQ(test, right, nr);
	for (i = 1; i < nr; i += 2)
		ksm_unstable_unlink_item(&items[i]);
	for (i = 0; i < 1 << ksm_unstable_bits; i++)
		KUNIT_EXPECT_TRUE(test, hlist_empty(&ksm_unstable_buckets[i]));
	KUNIT_EXPECT_EQ(test, ksm_stats.pages_unshared, pages_unshared);
	ksm_unstable_key_mask = saved;
	mutex_unlock(&ksm_scan_mutex);
}

/*
 * The equality a merge and a peer match decide by: a change of any one
 * bit, at any byte of the page, must tell the pages apart.
 */
static void ksm_test_same_bytes(struct kunit *test)
{
	unsigned char *a, *b;
	unsigned int i, apart = 0;

	a = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	b = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_NOT_NULL(test, b);
	for (i = 0; i < PAGE_SIZE; i++)
		a[i] = i * 7 + (i >> 8);
	memcpy(b, a, PAGE_SIZE);
	KUNIT_EXPECT_TRUE(test, ksm_same_bytes(a, b));

	for (i = 0; i < PAGE_SIZE; i++) {
		b[i] ^= 1 << (i % 8);
		apart += !ksm_same_bytes(a, b) && !ksm_same_bytes(b, a);
		b[i] = a[i];
	}
	KUNIT_EXPECT_EQ(test, apart, (unsigned int)PAGE_SIZE);
	KUNIT_EXPECT_TRUE(test, ksm_same_bytes(a, b));
	memset(a, 0, PAGE_SIZE);
	memset(b, 0, PAGE_SIZE);
	KUNIT_EXPECT_TRUE(test, ksm_same_bytes(a, b));
}

static struct kunit_case ksm_unstable_cases[] = {
	KUNIT_CASE(ksm_test_gens_since),
	KUNIT_CASE(ksm_test_key_cmp),
	KUNIT_CASE(ksm_test_tree_cmp),
	KUNIT_CASE(ksm_test_colliding_keys),
	KUNIT_CASE(ksm_test_scopes_apart),
	KUNIT_CASE(ksm_test_bucket_bits),
	KUNIT_CASE(ksm_test_candidates),
	KUNIT_CASE(ksm_test_bucket_spread),
	KUNIT_CASE(ksm_test_bucket_erase),
	KUNIT_CASE(ksm_test_same_bytes),
	{}
};

static struct kunit_suite ksm_unstable_suite = {
	.name = "ksm-unstable",
	.test_cases = ksm_unstable_cases,
};

kunit_test_suite(ksm_unstable_suite);
