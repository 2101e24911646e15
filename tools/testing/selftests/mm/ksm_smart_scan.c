// SPDX-License-Identifier: GPL-2.0
/*
 * Smart scan: with smart_scan=1 (the default) ksmd passes over pages that
 * keep failing to merge for a growing number of full scans, and counts
 * each such pass in pages_skipped; with smart_scan=0 it visits every page
 * every scan.  A page passed over that turns into a duplicate must still
 * be merged eventually.
 */
#include <sys/prctl.h>
#include <linux/prctl.h>

#include "ksm_test_util.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#endif

#define NPAGES		64
#define TAG_UNIQUE	0x5a1
#define TAG_PAIRS	0x5a2

static void cleanup(void)
{
	ksmt_restore();
}

/* pages_skipped over @scans full scans, -1 if ksmd stalls. */
static long skipped_over(int scans)
{
	long before = ksmt_get("pages_skipped");

	if (!ksmt_wait_scans(scans))
		return -1;
	return ksmt_get("pages_skipped") - before;
}

/*
 * A process that merges everything (PR_SET_MEMORY_MERGE) and maps and
 * unmaps 64 KiB every 10 ms, as allocators do, until killed.
 */
static pid_t start_churn(void)
{
	pid_t pid;
	char *q;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (pid)
		return pid;
	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0))
		_exit(1);
	for (;;) {
		q = mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (q != MAP_FAILED) {
			memset(q, 0x11, 64 << 10);
			munmap(q, 64 << 10);
		}
		usleep(10000);
	}
}

/*
 * Defect: every new area of a merge-any process suspended smart scan for
 * all processes, so with such a process around nothing was ever skipped.
 */
static void test_merge_any_churn(void)
{
	pid_t churn = start_churn();
	long skipped;

	ksmt_set("run", 1);
	skipped = skipped_over(16);
	kill(churn, SIGKILL);
	waitpid(churn, NULL, 0);
	ksft_print_msg("merge-any process mapping and unmapping: %ld skipped in 16 scans\n",
		       skipped);
	ksft_test_result(skipped >= NPAGES,
			 "a merge-any process's new areas leave smart scan on\n");
}

/*
 * Defect: run=2 counts full scans from 0 again, and smart scan stayed
 * suspended until the count caught up with where it had been.
 */
static void test_after_unmerge(char *p)
{
	long skipped;
	char *q;

	ksmt_set("run", 1);
	if (!ksmt_wait_scans(50)) {
		ksft_test_result_fail("run=2 then run=1: ksmd stalls\n");
		return;
	}
	/* new mergeable memory, late in the count of full scans */
	q = ksmt_map(1);
	ksmt_fill(q, TAG_UNIQUE, NPAGES);
	ksmt_mergeable(q, 1);
	ksmt_wait_scans(4);
	ksmt_stop_unmerge();
	ksmt_set("run", 1);
	skipped = skipped_over(16);
	ksft_print_msg("after 50 scans and run=2: %ld skipped over 16 scans\n",
		       skipped);
	ksft_test_result(skipped >= NPAGES && ksmt_check_range(p, NPAGES, TAG_UNIQUE, false),
			 "run=2 then run=1: smart scan resumes\n");
	munmap(q, ksmt_page_size);
}

int main(void)
{
	long before, after, dflt;
	bool ok;
	char *p;
	size_t i;

	ksmt_start();
	ksft_set_plan(6);

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

	ksmt_stop_unmerge();
	test_merge_any_churn();
	ksmt_stop_unmerge();
	test_after_unmerge(p);
	ksmt_stop_unmerge();

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
