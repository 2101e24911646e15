/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * KUnit tests of the stable tree rules: sharing limits, which dup of a
 * chain takes the next sharer, when a chain is due for pruning.
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

static struct kunit_case ksm_stable_cases[] = {
	KUNIT_CASE(ksm_test_sharing_room),
	KUNIT_CASE(ksm_test_dup_choice),
	KUNIT_CASE(ksm_test_prune_due),
	KUNIT_CASE(ksm_test_pfn_range),
	{}
};

static struct kunit_suite ksm_stable_suite = {
	.name = "ksm-stable",
	.test_cases = ksm_stable_cases,
};

kunit_test_suite(ksm_stable_suite);
