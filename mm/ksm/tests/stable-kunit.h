/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * KUnit tests of the stable tree rules: sharing limits, which dup of a
 * chain takes the next sharer, when a chain is due for pruning, when a
 * key is alone in its tree, and how members that left are swept.
 */
#include <kunit/test.h>

static void ksm_test_sharing_room(struct kunit *test)
{
	/* A folio nobody maps takes no sharers, whatever the limit. */
	KUNIT_EXPECT_FALSE(test, ksm_sharing_room(0, 0, 256));
	KUNIT_EXPECT_TRUE(test, ksm_sharing_room(1, 0, 2));
	KUNIT_EXPECT_FALSE(test, ksm_sharing_room(2, 0, 2));
	KUNIT_EXPECT_TRUE(test, ksm_sharing_room(254, 1, 256));
	KUNIT_EXPECT_FALSE(test, ksm_sharing_room(255, 1, 256));
	KUNIT_EXPECT_FALSE(test, ksm_sharing_room(300, 0, 256));
}

static void ksm_test_dup_choice(struct kunit *test)
{
	/* Anything live beats nothing. */
	KUNIT_EXPECT_TRUE(test, ksm_dup_beats(256, 0, false, 256));
	/* A full dup never displaces another. */
	KUNIT_EXPECT_FALSE(test, ksm_dup_beats(256, 3, true, 256));
	/* With room, it displaces a full one... */
	KUNIT_EXPECT_TRUE(test, ksm_dup_beats(3, 256, true, 256));
	/* ...and a less full one: fill dups one after another. */
	KUNIT_EXPECT_TRUE(test, ksm_dup_beats(10, 3, true, 256));
	KUNIT_EXPECT_FALSE(test, ksm_dup_beats(3, 10, true, 256));
	KUNIT_EXPECT_FALSE(test, ksm_dup_beats(10, 10, true, 256));
}

static void ksm_test_prune_due(struct kunit *test)
{
	unsigned long t = jiffies;
	unsigned long step = msecs_to_jiffies(2000);

	KUNIT_EXPECT_FALSE(test, ksm_prune_due(t, t, 2000));
	KUNIT_EXPECT_FALSE(test, ksm_prune_due(t + step - 1, t, 2000));
	KUNIT_EXPECT_TRUE(test, ksm_prune_due(t + step, t, 2000));
	/* Zero delay: every lookup prunes. */
	KUNIT_EXPECT_TRUE(test, ksm_prune_due(t, t, 0));
	/* Jiffies wrap-around. */
	KUNIT_EXPECT_TRUE(test, ksm_prune_due(step - 1, ULONG_MAX, 0));
	KUNIT_EXPECT_TRUE(test, ksm_prune_due(step, -1UL, 2000));
}

static void ksm_test_pfn_range(struct kunit *test)
{
	KUNIT_EXPECT_FALSE(test, ksm_pfn_in(99, 100, 200));
	KUNIT_EXPECT_TRUE(test, ksm_pfn_in(100, 100, 200));
	KUNIT_EXPECT_TRUE(test, ksm_pfn_in(199, 100, 200));
	KUNIT_EXPECT_FALSE(test, ksm_pfn_in(200, 100, 200));
}

/* Link @node into @root in (scope, key) order, after any equal ones. */
static void ksm_test_link_snode(struct rb_root *root, struct ksm_snode *node)
{
	struct rb_node **link = &root->rb_node, *parent = NULL;
	struct ksm_snode *at;

	while (*link) {
		parent = *link;
		at = rb_entry(parent, struct ksm_snode, rb);
		if (ksm_tree_cmp(node->scope, node->key, at->scope, at->key) < 0)
			link = &parent->rb_left;
		else
			link = &parent->rb_right;
	}
	rb_link_node(&node->rb, parent, link);
	rb_insert_color(&node->rb, root);
}

static void ksm_test_key_alone(struct kunit *test)
{
	/* Scope and key of each node, and whether it is alone with them. */
	static const struct { u32 scope, key; bool alone; } n[] = {
		{ 0, 5, true },
		{ 0, 7, false }, { 0, 7, false }, { 0, 7, false },
		{ 0, 9, true },
		/* The same key in another scope is another key. */
		{ 1, 7, true },
		{ 1, 0xffffffff, false }, { 1, 0xffffffff, false },
		{ 2, 0, true },
	};
	struct ksm_snode *nodes;
	struct rb_root root = RB_ROOT;
	int i, order[ARRAY_SIZE(n)];

	nodes = kunit_kcalloc(test, ARRAY_SIZE(n), sizeof(*nodes), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, nodes);
	/* Insert out of order, so that the tree reshapes as it grows. */
	for (i = 0; i < ARRAY_SIZE(n); i++)
		order[i] = (i * 5) % ARRAY_SIZE(n);
	for (i = 0; i < ARRAY_SIZE(n); i++) {
		nodes[order[i]].scope = n[order[i]].scope;
		nodes[order[i]].key = n[order[i]].key;
		ksm_test_link_snode(&root, &nodes[order[i]]);
	}
	for (i = 0; i < ARRAY_SIZE(n); i++)
		KUNIT_EXPECT_EQ_MSG(test, ksm_key_alone(&nodes[i]), n[i].alone,
				    "node %d", i);

	/* Taking a twin out leaves its last twin alone. */
	rb_erase(&nodes[6].rb, &root);
	KUNIT_EXPECT_TRUE(test, ksm_key_alone(&nodes[7]));
	rb_erase(&nodes[2].rb, &root);
	KUNIT_EXPECT_FALSE(test, ksm_key_alone(&nodes[1]));
	rb_erase(&nodes[3].rb, &root);
	KUNIT_EXPECT_TRUE(test, ksm_key_alone(&nodes[1]));
}

static void ksm_test_sweep_due(struct kunit *test)
{
	KUNIT_EXPECT_TRUE(test, ksm_sweep_due(1, 0));	/* the last one left */
	KUNIT_EXPECT_FALSE(test, ksm_sweep_due(1, 2));
	KUNIT_EXPECT_TRUE(test, ksm_sweep_due(2, 2));
	KUNIT_EXPECT_FALSE(test, ksm_sweep_due(U16_MAX - 1, 100000));
	/* The count of those left must not wrap. */
	KUNIT_EXPECT_TRUE(test, ksm_sweep_due(U16_MAX, 100000));
}

/*
 * A member list of stable and left items: walking it sees the stable ones
 * only, in list order; a sweep frees the left ones and keeps the others
 * in order.
 */
static void ksm_test_sweep(struct kunit *test)
{
	const int nr = 12;
	struct ksm_item *items[12], *item;
	struct ksm_snode snode = { .kind = KSM_SNODE_DEAD };
	unsigned long saved_items;
	struct mm_struct *mm;
	int i, seen = 0, kept = 0;

	mm = kunit_kzalloc(test, sizeof(*mm), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, mm);
	mutex_lock(&ksm_scan_mutex);
	saved_items = ksm_stats.items;
	for (i = nr - 1; i >= 0; i--) {
		items[i] = ksm_item_alloc(mm, (i + 1) * PAGE_SIZE);
		KUNIT_ASSERT_NOT_NULL(test, items[i]);
		items[i]->snode = &snode;
		items[i]->sibling = snode.items;
		snode.items = items[i];
		if (i % 3) {
			ksm_item_set_state(items[i], KSM_ITEM_STABLE);
			snode.nr_items++;
		} else {
			ksm_item_retire(items[i], mm);
			snode.nr_left++;
		}
	}
	for (item = ksm_first_member(&snode); item;
	     item = ksm_next_member(item))
		seen += item == items[seen + seen / 2 + 1];
	KUNIT_EXPECT_EQ(test, seen, 8);

	ksm_snode_sweep(&snode);
	KUNIT_EXPECT_EQ(test, snode.nr_left, 0);
	for (item = snode.items, i = 1; item; item = item->sibling, i++) {
		if (i % 3 == 0)
			i++;
		kept += item == items[i];
	}
	KUNIT_EXPECT_EQ(test, kept, 8);

	/* Let the rest leave too: nothing is left on the list. */
	for (item = ksm_first_member(&snode); item;
	     item = ksm_next_member(item))
		ksm_item_retire(item, mm);
	ksm_snode_sweep(&snode);
	KUNIT_EXPECT_NULL(test, snode.items);
	KUNIT_EXPECT_EQ(test, mm->ksm_rmap_items, 0);
	KUNIT_EXPECT_EQ(test, ksm_stats.items, saved_items);
	mutex_unlock(&ksm_scan_mutex);
}

static struct kunit_case ksm_stable_cases[] = {
	KUNIT_CASE(ksm_test_sharing_room),
	KUNIT_CASE(ksm_test_dup_choice),
	KUNIT_CASE(ksm_test_prune_due),
	KUNIT_CASE(ksm_test_pfn_range),
	KUNIT_CASE(ksm_test_key_alone),
	KUNIT_CASE(ksm_test_sweep_due),
	KUNIT_CASE(ksm_test_sweep),
	{}
};

static struct kunit_suite ksm_stable_suite = {
	.name = "ksm-stable",
	.test_cases = ksm_stable_cases,
};

kunit_test_suite(ksm_stable_suite);
