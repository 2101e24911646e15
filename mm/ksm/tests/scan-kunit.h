/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * KUnit tests of ksmd's arithmetic: smart scan back-off, the scan-time
 * advisor, and the profit figures.
 */
#include <kunit/test.h>

static void ksm_test_skip_rounds(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, ksm_skip_rounds(3), 1U);
	KUNIT_EXPECT_EQ(test, ksm_skip_rounds(4), 2U);
	KUNIT_EXPECT_EQ(test, ksm_skip_rounds(5), 2U);
	KUNIT_EXPECT_EQ(test, ksm_skip_rounds(6), 4U);
	KUNIT_EXPECT_EQ(test, ksm_skip_rounds(8), 4U);
	KUNIT_EXPECT_EQ(test, ksm_skip_rounds(9), 8U);
	KUNIT_EXPECT_EQ(test, ksm_skip_rounds(U8_MAX), 8U);
}

static void ksm_test_ewma(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, ksm_ewma(0, 100), 30UL);
	KUNIT_EXPECT_EQ(test, ksm_ewma(100, 100), 100UL);
	KUNIT_EXPECT_EQ(test, ksm_ewma(100, 0), 70UL);
}

static void ksm_test_advise(struct kunit *test)
{
	struct ksm_advice a = {
		.pages = 1000, .ms = 100000, .cpu_ms = 50000,
		.last_secs = 0, .change = 0,
	};
	unsigned long pages;

	/* First round took half the 200s target, at 50% CPU. */
	pages = ksm_advise(&a, 200, 70, 30000);
	KUNIT_EXPECT_EQ(test, a.cpu_pct, 50U);
	KUNIT_EXPECT_EQ(test, a.change, 30UL);
	KUNIT_EXPECT_EQ(test, a.last_secs, 100UL);
	/* 1000 * 100 / 200 * 30%: below the 10% CPU floor of 20 * 10. */
	KUNIT_EXPECT_EQ(test, pages, 200UL);

	/* Steady state at the target keeps the rate. */
	a = (struct ksm_advice){ .pages = 1000, .ms = 200000, .cpu_ms = 40000,
				 .last_secs = 200, .change = 100 };
	KUNIT_EXPECT_EQ(test, ksm_advise(&a, 200, 70, 30000), 1000UL);

	/* Too slow: scan twice as much, but 40% CPU caps it at 70%. */
	a = (struct ksm_advice){ .pages = 1000, .ms = 400000, .cpu_ms = 160000,
				 .last_secs = 400, .change = 100 };
	KUNIT_EXPECT_EQ(test, ksm_advise(&a, 200, 70, 30000), 1750UL);
	/* At 1% CPU the 10% floor lifts it, then max pages caps it. */
	a = (struct ksm_advice){ .pages = 1000, .ms = 400000, .cpu_ms = 4000,
				 .last_secs = 400, .change = 100 };
	KUNIT_EXPECT_EQ(test, ksm_advise(&a, 200, 70, 1500), 1500UL);

	/*
	 * A low rate at 40% CPU, far too slow: the 70% cap is 64 * 70 / 40,
	 * not 64 / 40 * 70, which would hold it at 70 for good.
	 */
	a = (struct ksm_advice){ .pages = 64, .ms = 6000, .cpu_ms = 2400,
				 .last_secs = 6, .change = 100 };
	KUNIT_EXPECT_EQ(test, ksm_advise(&a, 1, 70, 30000), 112UL);
	KUNIT_EXPECT_EQ(test, a.cpu_pct, 40U);
	/* More CPU time than time (clock granularity) is 100%. */
	a = (struct ksm_advice){ .pages = 1000, .ms = 1000, .cpu_ms = 1900,
				 .last_secs = 1, .change = 100 };
	ksm_advise(&a, 1, 70, 30000);
	KUNIT_EXPECT_EQ(test, a.cpu_pct, 100U);

	/*
	 * A busy 50 ms round of a 10 s target: 100% CPU, not 5% of the
	 * second it counts as, which would lift the rate to the 10% floor
	 * of 2048 * 10 / 5 and so scan faster yet.
	 */
	a = (struct ksm_advice){ .pages = 2048, .ms = 50, .cpu_ms = 50,
				 .last_secs = 1, .change = 100 };
	KUNIT_EXPECT_EQ(test, ksm_advise(&a, 10, 70, 30000), 204UL);
	KUNIT_EXPECT_EQ(test, a.cpu_pct, 100U);

	/* Going down from 2 pages: never to 0, which would stop ksmd. */
	a = (struct ksm_advice){ .pages = 2, .ms = 50, .cpu_ms = 50,
				 .last_secs = 1, .change = 100 };
	KUNIT_EXPECT_EQ(test, ksm_advise(&a, 10, 70, 30000), 10UL);
}

static void ksm_test_advise_edges(struct kunit *test)
{
	struct ksm_advice a = { .pages = 1000, .ms = 0, .cpu_ms = 0 };

	/*
	 * A round under a second, without measurable CPU time: counted as
	 * 1 s at 1% CPU, and the 10% CPU floor lifts the rate tenfold.
	 */
	KUNIT_EXPECT_EQ(test, ksm_advise(&a, 1, 70, 30000), 10000UL);
	KUNIT_EXPECT_EQ(test, a.last_secs, 1UL);
	KUNIT_EXPECT_EQ(test, a.cpu_pct, 1U);
	KUNIT_EXPECT_EQ(test, a.change, 30UL);

	/*
	 * A target whose percentage does not fit in a long must not wrap
	 * to a short one (here 84%, which would speed the scan up): it
	 * asks for the slowest rate, the 10% CPU floor.
	 */
	a = (struct ksm_advice){ .pages = 1000, .ms = 1000, .cpu_ms = 500 };
	KUNIT_EXPECT_EQ(test, ksm_advise(&a, ULONG_MAX / 100 + 1, 70, 30000),
			200UL);
	a = (struct ksm_advice){ .pages = 1000, .ms = 1000, .cpu_ms = 500 };
	KUNIT_EXPECT_EQ(test, ksm_advise(&a, ULONG_MAX, 70, 30000), 200UL);

	/* The largest pages_to_scan, far too slow: capped by max pages. */
	a = (struct ksm_advice){ .pages = UINT_MAX, .ms = 1000000,
				 .cpu_ms = 1000000, .last_secs = 1000,
				 .change = 100 };
	KUNIT_EXPECT_EQ(test, ksm_advise(&a, 1, 70, 30000), 30000UL);
	/* A first round as long as the uptime: no overflow either. */
	a = (struct ksm_advice){ .pages = 500, .ms = ULONG_MAX / 1000 * 1000,
				 .cpu_ms = ULONG_MAX / 100 };
	KUNIT_EXPECT_LE(test, ksm_advise(&a, 200, 70, 30000), 30000UL);
	KUNIT_EXPECT_GE(test, ksm_advise(&a, 200, 70, 30000), 1UL);
}

static void ksm_test_profit(struct kunit *test)
{
	long item = sizeof(struct ksm_item);

	KUNIT_EXPECT_EQ(test, ksm_profit(0, 0, 0), 0L);
	KUNIT_EXPECT_EQ(test, ksm_profit(10, 0, 10), 10 * (long)PAGE_SIZE - 10 * item);
	KUNIT_EXPECT_EQ(test, ksm_profit(0, 4, 0), 4 * (long)PAGE_SIZE);
	/* Tracking without merging costs. */
	KUNIT_EXPECT_EQ(test, ksm_profit(0, 0, 3), -3 * item);
	/* Both halves of a merged pair cost what their slab objects do. */
	KUNIT_EXPECT_EQ(test, item, 48L);
}

/*
 * The state and the tree generation live in the low bits of the address,
 * and a stable item's rmap anchor overlays its mm and scan history:
 * none may disturb another.
 */
static void ksm_test_item_packing(struct kunit *test)
{
	const unsigned long addr = 0x7f1234567000UL & PAGE_MASK;
	struct ksm_item item = { .addr_state = addr | KSM_ITEM_LOOSE };
	struct mm_struct *mm = (struct mm_struct *)0x1000;

	item.mm = mm;
	ksm_item_set_state(&item, KSM_ITEM_UNSTABLE);
	ksm_item_set_gen(&item, 0xa5);
	KUNIT_EXPECT_EQ(test, ksm_item_addr(&item), addr);
	KUNIT_EXPECT_EQ(test, ksm_item_state(&item), KSM_ITEM_UNSTABLE);
	KUNIT_EXPECT_EQ(test, ksm_item_gen(&item), 0xa5);
	item.key = 0xdeadbe;
	item.age = KSM_ITEM_AGE_MAX;
	item.skips = 8;
	item.scope = U32_MAX;
	KUNIT_EXPECT_EQ(test, (u32)item.key, 0xdeadbeU);
	KUNIT_EXPECT_EQ(test, (u32)item.age, KSM_ITEM_AGE_MAX);
	KUNIT_EXPECT_EQ(test, (u32)item.skips, 8U);
	KUNIT_EXPECT_PTR_EQ(test, item.mm, mm);
	ksm_item_set_state(&item, KSM_ITEM_STABLE);
	item.index = ULONG_MAX;		/* anything at all */
	KUNIT_EXPECT_EQ(test, ksm_item_addr(&item), addr);
	KUNIT_EXPECT_EQ(test, ksm_item_state(&item), KSM_ITEM_STABLE);
	KUNIT_EXPECT_EQ(test, ksm_item_gen(&item), 0xa5);
	ksm_item_set_state(&item, KSM_ITEM_LEFT);
	KUNIT_EXPECT_EQ(test, ksm_item_addr(&item), addr);
	KUNIT_EXPECT_EQ(test, ksm_item_state(&item), KSM_ITEM_LEFT);
	ksm_item_set_gen(&item, 0);
	ksm_item_set_state(&item, KSM_ITEM_LOOSE);
	KUNIT_EXPECT_EQ(test, ksm_item_addr(&item), addr);
	KUNIT_EXPECT_EQ(test, ksm_item_state(&item), KSM_ITEM_LOOSE);
	KUNIT_EXPECT_EQ(test, ksm_item_gen(&item), 0);
	/* Every key fits the item's field. */
	KUNIT_EXPECT_EQ(test, ksm_page_key(ZERO_PAGE(0)) >> KSM_KEY_BITS, 0U);
}

/*
 * The key reads a cache line in each eighth of the page: a change there
 * shows, one elsewhere need not (the merge itself compares whole pages).
 */
static void ksm_test_key_sample(struct kunit *test)
{
	char *buf = kunit_kzalloc(test, PAGE_SIZE, GFP_KERNEL);
	u32 key;
	int i;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	key = ksm_key_of(buf);
	for (i = 0; i < KSM_KEY_CHUNKS; i++) {
		char *c = buf + i * (KSM_KEY_SLICE + KSM_KEY_CHUNK);

		c[0] = 1;
		KUNIT_EXPECT_NE(test, ksm_key_of(buf), key);
		c[0] = 0;
		c[KSM_KEY_CHUNK - 1] = 1;
		KUNIT_EXPECT_NE(test, ksm_key_of(buf), key);
		c[KSM_KEY_CHUNK - 1] = 0;
		/* Just past the chunk, if in the page: not sampled. */
		if (c + KSM_KEY_CHUNK < buf + PAGE_SIZE) {
			c[KSM_KEY_CHUNK] = 1;
			KUNIT_EXPECT_EQ(test, ksm_key_of(buf), key);
			c[KSM_KEY_CHUNK] = 0;
		}
	}
	buf[0] = 1;
	KUNIT_EXPECT_NE(test, ksm_key_of(buf), key);
	buf[0] = 0;
	if (PAGE_SIZE == SZ_4K) {
		buf[PAGE_SIZE - 1] = 1;
		KUNIT_EXPECT_NE(test, ksm_key_of(buf), key);
	}
}

/* Keys fill their bits, and none is 0, which marks an item never hashed. */
static void ksm_test_key_fold(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, ksm_key_fold(U32_MAX), BIT(KSM_KEY_BITS) - 1);
	KUNIT_EXPECT_EQ(test, ksm_key_fold(0x80000000), BIT(KSM_KEY_BITS - 1));
	KUNIT_EXPECT_EQ(test, ksm_key_fold(BIT(32 - KSM_KEY_BITS)), 1U);
	KUNIT_EXPECT_EQ(test, ksm_key_fold(0), 1U);
	KUNIT_EXPECT_EQ(test, ksm_key_fold(BIT(32 - KSM_KEY_BITS) - 1), 1U);
	KUNIT_EXPECT_NE(test, ksm_page_key(ZERO_PAGE(0)), 0U);
}

static struct kunit_case ksm_scan_cases[] = {
	KUNIT_CASE(ksm_test_skip_rounds),
	KUNIT_CASE(ksm_test_ewma),
	KUNIT_CASE(ksm_test_advise),
	KUNIT_CASE(ksm_test_advise_edges),
	KUNIT_CASE(ksm_test_profit),
	KUNIT_CASE(ksm_test_item_packing),
	KUNIT_CASE(ksm_test_key_sample),
	KUNIT_CASE(ksm_test_key_fold),
	{}
};

static struct kunit_suite ksm_scan_suite = {
	.name = "ksm-scan",
	.test_cases = ksm_scan_cases,
};

kunit_test_suite(ksm_scan_suite);
