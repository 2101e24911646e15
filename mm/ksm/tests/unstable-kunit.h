/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * KUnit tests of the unstable tree generations (an item inserted in the
 * current generation must be erased from the tree, an older one not), of
 * the hash table the unstable trees are buckets of, and of the order all
 * trees keep: merge scope first, then content key, then content.
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

/* About a bucket per two pages filed, within the bounds. */
static void ksm_test_bucket_bits(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, ksm_unstable_bits_for(0), KSM_UNSTABLE_MIN_BITS);
	KUNIT_EXPECT_EQ(test, ksm_unstable_bits_for(2 << KSM_UNSTABLE_MIN_BITS),
			KSM_UNSTABLE_MIN_BITS);
	KUNIT_EXPECT_EQ(test,
			ksm_unstable_bits_for((2 << KSM_UNSTABLE_MIN_BITS) + 1),
			KSM_UNSTABLE_MIN_BITS + 1);
	KUNIT_EXPECT_EQ(test, ksm_unstable_bits_for(3000), 11U);
	KUNIT_EXPECT_EQ(test, ksm_unstable_bits_for(ULONG_MAX),
			KSM_UNSTABLE_MAX_BITS);
}

/*
 * Keys that the mask makes equal must meet in one bucket, whatever their
 * other bits, while distinct keys spread over the table.
 */
static void ksm_test_bucket_spread(struct kunit *test)
{
	u32 saved = ksm_unstable_key_mask;
	DECLARE_BITMAP(used, 1 << KSM_UNSTABLE_MIN_BITS) = { };
	struct rb_root *b;
	u32 i;

	mutex_lock(&ksm_scan_mutex);
	ksm_unstable_key_mask = 0x3;
	b = ksm_unstable_bucket(7, 0x1, 0);
	for (i = 0; i < 1000; i++)
		KUNIT_EXPECT_PTR_EQ(test, ksm_unstable_bucket(7, i << 2 | 0x1, 0),
				    b);
	ksm_unstable_key_mask = U32_MAX;
	for (i = 0; i < 1000; i++) {
		b = ksm_unstable_bucket(0, i * 2654435761U >> 8, 0);
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

/* Insert @item in its bucket, ordered by scope, key, then address. */
static void ksm_test_file(struct ksm_item *item, u32 scope, u32 key)
{
	struct rb_root *root = ksm_unstable_bucket(scope, key, 0);
	struct rb_node **link = &root->rb_node, *parent = NULL;
	struct ksm_item *at;
	int cmp;

	item->key = key;
	while (*link) {
		parent = *link;
		at = rb_entry(parent, struct ksm_item, rb);
		cmp = ksm_tree_cmp(scope, key, at->scope, at->key);
		if (!cmp)
			cmp = item < at ? -1 : 1;
		link = cmp < 0 ? &parent->rb_left : &parent->rb_right;
	}
	ksm_unstable_link(item, root, scope, parent, link);
}

/*
 * Items do not record their bucket: erasing one must find it from its
 * scope and key, with keys colliding in few buckets, each of several
 * nodes, and leave the other items where they were.
 */
static void ksm_test_bucket_erase(struct kunit *test)
{
	const int nr = 96;
	unsigned long pages_unshared, filed;
	u32 saved = ksm_unstable_key_mask;
	struct ksm_item *items;
	int i, right = 0;

	items = kunit_kcalloc(test, nr, sizeof(*items), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, items);
	mutex_lock(&ksm_scan_mutex);
	pages_unshared = ksm_stats.pages_unshared;
	filed = ksm_unstable_filed;
	ksm_unstable_key_mask = 0x3;
	for (i = 0; i < nr; i++)
		ksm_test_file(&items[i], i % 3, i * 2654435761U >> 8);
	for (i = 0; i < nr; i++)
		right += ksm_unstable_root_of(&items[i]) ==
			 ksm_unstable_bucket(i % 3, items[i].key, 0);
	KUNIT_EXPECT_EQ(test, right, nr);
	for (i = 0; i < nr; i += 2)
		ksm_unstable_unlink_item(&items[i]);
	for (i = 0, right = 0; i < nr; i++)
		right += i & 1 ? ksm_unstable_root_of(&items[i]) ==
				 ksm_unstable_bucket(i % 3, items[i].key, 0) :
				 ksm_item_state(&items[i]) == KSM_ITEM_LOOSE;
	KUNIT_EXPECT_EQ(test, right, nr);
	for (i = 1; i < nr; i += 2)
		ksm_unstable_unlink_item(&items[i]);
	for (i = 0; i < 1 << ksm_unstable_bits; i++)
		KUNIT_EXPECT_TRUE(test, RB_EMPTY_ROOT(&ksm_unstable_buckets[i]));
	KUNIT_EXPECT_EQ(test, ksm_stats.pages_unshared, pages_unshared);
	ksm_unstable_filed = filed;
	ksm_unstable_key_mask = saved;
	mutex_unlock(&ksm_scan_mutex);
}

static struct kunit_case ksm_unstable_cases[] = {
	KUNIT_CASE(ksm_test_gens_since),
	KUNIT_CASE(ksm_test_key_cmp),
	KUNIT_CASE(ksm_test_tree_cmp),
	KUNIT_CASE(ksm_test_colliding_keys),
	KUNIT_CASE(ksm_test_scopes_apart),
	KUNIT_CASE(ksm_test_bucket_bits),
	KUNIT_CASE(ksm_test_bucket_spread),
	KUNIT_CASE(ksm_test_bucket_erase),
	{}
};

static struct kunit_suite ksm_unstable_suite = {
	.name = "ksm-unstable",
	.test_cases = ksm_unstable_cases,
};

kunit_test_suite(ksm_unstable_suite);
