/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * KUnit tests of the unstable tree generations: an item inserted in the
 * current generation must be erased from the tree, an older one not.
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

static struct kunit_case ksm_unstable_cases[] = {
	KUNIT_CASE(ksm_test_gens_since),
	{}
};

static struct kunit_suite ksm_unstable_suite = {
	.name = "ksm-unstable",
	.test_cases = ksm_unstable_cases,
};

kunit_test_suite(ksm_unstable_suite);
