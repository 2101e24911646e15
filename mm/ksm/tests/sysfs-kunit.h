/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * KUnit tests of the parsing and range checks of /sys/kernel/mm/ksm.
 */
#include <kunit/test.h>

static void ksm_test_parse_run(struct kunit *test)
{
	unsigned int v;

	KUNIT_EXPECT_EQ(test, ksm_parse_run("0\n", &v), 0);
	KUNIT_EXPECT_EQ(test, v, 0U);
	KUNIT_EXPECT_EQ(test, ksm_parse_run("2", &v), 0);
	KUNIT_EXPECT_EQ(test, v, 2U);
	KUNIT_EXPECT_EQ(test, ksm_parse_run("3", &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, ksm_parse_run("-1", &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, ksm_parse_run("one", &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, ksm_parse_run("", &v), -EINVAL);
}

static void ksm_test_parse_uint(struct kunit *test)
{
	unsigned int v;

	KUNIT_EXPECT_EQ(test, ksm_parse_uint("4294967295", &v), 0);
	KUNIT_EXPECT_EQ(test, v, 4294967295U);
	/* Out of range is -EINVAL here, not -ERANGE. */
	KUNIT_EXPECT_EQ(test, ksm_parse_uint("4294967296", &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, ksm_parse_uint("0x10", &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, ksm_parse_uint("12abc", &v), -EINVAL);
}

static void ksm_test_parse_merge_across(struct kunit *test)
{
	unsigned long v;

	KUNIT_EXPECT_EQ(test, ksm_parse_merge_across("0", &v), 0);
	KUNIT_EXPECT_EQ(test, ksm_parse_merge_across("1\n", &v), 0);
	KUNIT_EXPECT_EQ(test, v, 1UL);
	KUNIT_EXPECT_EQ(test, ksm_parse_merge_across("2", &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, ksm_parse_merge_across("x", &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, ksm_parse_merge_across("99999999999999999999", &v),
			-ERANGE);
}

static void ksm_test_parse_max_sharing(struct kunit *test)
{
	int v;

	KUNIT_EXPECT_EQ(test, ksm_parse_max_sharing("2", &v), 0);
	KUNIT_EXPECT_EQ(test, v, 2);
	KUNIT_EXPECT_EQ(test, ksm_parse_max_sharing("1", &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, ksm_parse_max_sharing("-5", &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, ksm_parse_max_sharing("2147483648", &v), -ERANGE);
	KUNIT_EXPECT_EQ(test, ksm_parse_max_sharing("abc", &v), -EINVAL);
}

static void ksm_test_parse_misc(struct kunit *test)
{
	unsigned long ul;
	u8 scope;
	bool b;

	KUNIT_EXPECT_EQ(test, ksm_parse_bool("y", &b), 0);
	KUNIT_EXPECT_TRUE(test, b);
	KUNIT_EXPECT_EQ(test, ksm_parse_bool("0", &b), 0);
	KUNIT_EXPECT_FALSE(test, b);
	KUNIT_EXPECT_EQ(test, ksm_parse_bool("maybe", &b), -EINVAL);

	KUNIT_EXPECT_EQ(test, ksm_parse_advisor("scan-time\n", &b), 0);
	KUNIT_EXPECT_TRUE(test, b);
	KUNIT_EXPECT_EQ(test, ksm_parse_advisor("none", &b), 0);
	KUNIT_EXPECT_FALSE(test, b);
	KUNIT_EXPECT_EQ(test, ksm_parse_advisor("scan", &b), -EINVAL);

	KUNIT_EXPECT_EQ(test, ksm_parse_scope("memcg\n", &scope), 0);
	KUNIT_EXPECT_EQ(test, scope, KSM_SCOPE_MEMCG);
	KUNIT_EXPECT_EQ(test, ksm_parse_scope("global", &scope), 0);
	KUNIT_EXPECT_EQ(test, scope, KSM_SCOPE_GLOBAL);
	KUNIT_EXPECT_EQ(test, ksm_parse_scope("memcg2", &scope), -EINVAL);
	KUNIT_EXPECT_EQ(test, ksm_parse_scope("", &scope), -EINVAL);
	KUNIT_EXPECT_TRUE(test, ksm_scope_supported(KSM_SCOPE_GLOBAL));

	KUNIT_EXPECT_EQ(test, ksm_parse_target_secs("1", &ul), 0);
	KUNIT_EXPECT_EQ(test, ksm_parse_target_secs("0", &ul), -EINVAL);
	KUNIT_EXPECT_EQ(test, ksm_parse_target_secs("-1", &ul), -EINVAL);
}

static void ksm_test_volatile(struct kunit *test)
{
	struct ksm_stats s = { .items = 10, .pages_shared = 2,
			       .pages_sharing = 3, .pages_unshared = 1 };

	KUNIT_EXPECT_EQ(test, ksm_pages_volatile(&s), 4L);
	s.items = 5;
	KUNIT_EXPECT_EQ(test, ksm_pages_volatile(&s), 0L);
}

static struct kunit_case ksm_sysfs_cases[] = {
	KUNIT_CASE(ksm_test_parse_run),
	KUNIT_CASE(ksm_test_parse_uint),
	KUNIT_CASE(ksm_test_parse_merge_across),
	KUNIT_CASE(ksm_test_parse_max_sharing),
	KUNIT_CASE(ksm_test_parse_misc),
	KUNIT_CASE(ksm_test_volatile),
	{}
};

static struct kunit_suite ksm_sysfs_suite = {
	.name = "ksm-sysfs",
	.test_cases = ksm_sysfs_cases,
};

kunit_test_suite(ksm_sysfs_suite);
