// SPDX-License-Identifier: GPL-2.0
/*
 * Smart scan: with smart_scan=1 (the default) ksmd passes over pages that
 * keep failing to merge for a growing number of full scans, and counts
 * each such pass in pages_skipped; with smart_scan=0 it visits every page
 * every scan.  A page passed over that turns into a duplicate must still
 * be merged eventually.
 */
#include "ksm_test_util.h"

#define NPAGES		64
#define TAG_UNIQUE	0x5a1
#define TAG_PAIRS	0x5a2

static void cleanup(void)
{
	ksmt_restore();
}

int main(void)
{
	long before, after, dflt;
	bool ok;
	char *p;
	size_t i;

	ksmt_start();
	ksft_set_plan(4);

	if (access(KSMT_DIR "smart_scan", W_OK) ||
	    access(KSMT_DIR "pages_skipped", R_OK))
		ksft_exit_skip("no smart_scan or pages_skipped\n");

	/* the other tests restore what they change: this is the default */
	dflt = ksmt_get("smart_scan");
	ksmt_take_over(cleanup);

	ksft_test_result(dflt == 1, "smart_scan reads 1 by default\n");

	/* Unique pages: they never merge, so smart scan backs off them. */
	p = ksmt_map(NPAGES);
	ksmt_fill_range(p, NPAGES, TAG_UNIQUE, false);
	ksmt_mergeable(p, NPAGES);

	ksmt_fast_scan();
	ksmt_set("smart_scan", 0);
	ksmt_set("run", 1);

	/* smart_scan=0: every page is visited every scan, none skipped. */
	if (!ksmt_wait_scans(4))
		ksft_exit_fail_msg("ksmd does not scan\n");
	before = ksmt_get("pages_skipped");
	ok = ksmt_wait_scans(10);
	after = ksmt_get("pages_skipped");
	ksft_print_msg("smart_scan=0: pages_skipped %ld -> %ld over 10 scans\n",
		       before, after);
	ksft_test_result(ok && after == before,
			 "smart_scan=0: pages_skipped does not grow\n");

	/*
	 * smart_scan=1: the unique pages get passed over.  Start afresh, so
	 * that all pages age together: the two pages of a pair skipped in
	 * different scans would never meet in the unstable tree.
	 */
	ksmt_stop_unmerge();
	ksmt_set("smart_scan", 1);
	ksmt_set("run", 1);
	ok = ksmt_wait_scans(2);
	before = ksmt_get("pages_skipped");
	ok = ok && ksmt_wait_scans(16);
	after = ksmt_get("pages_skipped");
	ksft_print_msg("smart_scan=1: pages_skipped %ld -> %ld over 16 scans\n",
		       before, after);
	ksft_test_result(ok && after >= before + NPAGES,
			 "smart_scan=1: unique pages are skipped\n");

	/*
	 * The pages backed off from become pairs of duplicates: skipping
	 * must only delay, never prevent, their merging.  ksmd is paused
	 * meanwhile, so that both pages of a pair change in the same scan.
	 */
	ksmt_set("run", 0);
	for (i = 0; i < NPAGES; i++)
		ksmt_fill(p + i * ksmt_page_size, TAG_PAIRS, i / 2);
	ksmt_set("run", 1);
	ok = ksmt_wait_merged(NPAGES / 2, NPAGES / 2) &&
	     ksmt_check_range(p, 2, TAG_PAIRS, true);
	ksft_print_msg("pairs: pages_shared %ld pages_sharing %ld, skipped %ld\n",
		       ksmt_get("pages_shared"), ksmt_get("pages_sharing"),
		       ksmt_get("pages_skipped"));
	ksft_test_result(ok, "skipped pages that become duplicates get merged\n");

	cleanup();
	munmap(p, NPAGES * ksmt_page_size);
	ksft_finished();
}
