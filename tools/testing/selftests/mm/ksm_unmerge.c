// SPDX-License-Identifier: GPL-2.0
/*
 * Unmerging KSM pages: MADV_UNMERGEABLE on part and all of a range, and
 * run=2; the contents must survive byte for byte, every mapping must get
 * its own page frame back, and the counters must fall to 0.
 */
#include "ksm_test_util.h"

#define COPIES	4
#define PAT	16
#define NPAGES	(COPIES * PAT)

/* Four copies of a 16-page pattern: 16 KSM pages, each mapped 4 times. */
static char *setup_copies(uint64_t tag)
{
	char *p = ksmt_map(NPAGES);
	int c;

	for (c = 0; c < COPIES; c++)
		ksmt_fill_range(p + c * PAT * ksmt_page_size, PAT, tag, false);
	ksmt_mergeable(p, NPAGES);
	return p;
}

static bool check_copies(const char *p, int from, int to, uint64_t tag)
{
	int c;

	for (c = from; c < to; c++)
		if (!ksmt_check_range(p + c * PAT * ksmt_page_size, PAT, tag, false)) {
			ksft_print_msg("copy %d: contents differ\n", c);
			return false;
		}
	return true;
}

/* Copies from..to-1 map PAT distinct frames each, shared with nobody. */
static bool own_frames(const char *p, int from, int to)
{
	int c, d, i;

	for (i = 0; i < PAT; i++)
		for (c = from; c < to; c++) {
			uint64_t pfn = ksmt_pfn(0, p + (c * PAT + i) * ksmt_page_size);

			if (!pfn) {
				ksft_print_msg("page %d not present\n", c * PAT + i);
				return false;
			}
			for (d = 0; d < COPIES; d++) {
				const char *q = p + (d * PAT + i) * ksmt_page_size;

				if (d != c && pfn == ksmt_pfn(0, q)) {
					ksft_print_msg("page %d: copies %d and %d share a frame\n",
						       i, c, d);
					return false;
				}
			}
		}
	return true;
}

/* Copies from..to-1 all map the same frames. */
static bool same_frames(const char *p, int from, int to)
{
	int c, i;

	for (i = 0; i < PAT; i++) {
		uint64_t pfn = ksmt_pfn(0, p + (from * PAT + i) * ksmt_page_size);

		for (c = from + 1; c < to; c++)
			if (!pfn || ksmt_pfn(0, p + (c * PAT + i) * ksmt_page_size) != pfn) {
				ksft_print_msg("page %d: copies %d and %d not merged\n",
					       i, from, c);
				return false;
			}
	}
	return true;
}

static void test_madv_unmergeable(void)
{
	struct ksmt_worker ticker;
	bool ok = true;
	char *p;

	/* fork before mapping: the child must not inherit the range */
	ksmt_ticker_start(&ticker);
	p = setup_copies(1);
	ksmt_set("run", 1);
	if (!ksmt_wait_merged(PAT, (COPIES - 1) * PAT) || !same_frames(p, 0, COPIES)) {
		ok = false;
		goto out;
	}
	/* the first half: broken at once, the rest stays merged */
	if (madvise(p, NPAGES / 2 * ksmt_page_size, MADV_UNMERGEABLE)) {
		ksft_print_msg("MADV_UNMERGEABLE: %s\n", strerror(errno));
		ok = false;
		goto out;
	}
	ok &= own_frames(p, 0, 2) && same_frames(p, 2, COPIES) &&
	      check_copies(p, 0, COPIES, 1);
	if (!ksmt_wait_merged(PAT, PAT) ||
	    ksmt_merging_pages(getpid()) != 2 * PAT) {
		ksft_print_msg("after half: ksm_merging_pages %ld, want %d\n",
			       ksmt_merging_pages(getpid()), 2 * PAT);
		ok = false;
	}
	ksft_test_result(ok, "MADV_UNMERGEABLE on half: those unmerged, contents intact\n");

	ok = !madvise(p, NPAGES * ksmt_page_size, MADV_UNMERGEABLE);
	ok &= own_frames(p, 0, COPIES) && check_copies(p, 0, COPIES, 1);
	if (!ksmt_wait_merged(0, 0)) {
		ok = false;
	} else {
		ksmt_set("run", 0);
		if (ksmt_merging_pages(getpid()) ||
		    ksmt_proc_field(getpid(), "ksm_stat", "ksm_rmap_items")) {
			ksft_print_msg("process: ksm_merging_pages %ld, ksm_rmap_items %ld\n",
				       ksmt_merging_pages(getpid()),
				       ksmt_proc_field(getpid(), "ksm_stat", "ksm_rmap_items"));
			ok = false;
		}
	}
	/* no longer mergeable: ksmd must leave the range alone */
	ksmt_set("run", 1);
	if (!ksmt_wait_scans(2) || ksmt_get("pages_shared") || !own_frames(p, 0, COPIES))
		ok = false;
	ksft_test_result(ok, "MADV_UNMERGEABLE on all: counters 0, not merged again\n");
	ksmt_stop_unmerge();
	ksmt_worker_stop(&ticker);
	munmap(p, NPAGES * ksmt_page_size);
	return;
out:
	ksft_test_result_fail("MADV_UNMERGEABLE on half\n");
	ksft_test_result_skip("MADV_UNMERGEABLE on all: setup failed\n");
	ksmt_stop_unmerge();
	ksmt_worker_stop(&ticker);
	munmap(p, NPAGES * ksmt_page_size);
}

static char child_fn(char cmd, void *arg)
{
	char **pp = arg;

	switch (cmd) {
	case 's':
		*pp = setup_copies(2);
		return 'y';
	case 'c':
		return check_copies(*pp, 0, COPIES, 2) ? 'y' : 'n';
	case 'o':
		return own_frames(*pp, 0, COPIES) ? 'y' : 'n';
	}
	return 'n';
}

static bool run2_check(struct ksmt_worker *w, char *p)
{
	bool ok = true;

	if (ksmt_write("run", "2")) {
		ksft_print_msg("run=2 refused\n");
		return false;
	}
	if (ksmt_get("pages_shared") || ksmt_get("pages_sharing") ||
	    ksmt_get("pages_unshared") || ksmt_get("pages_volatile") ||
	    ksmt_get("stable_node_chains") || ksmt_get("stable_node_dups")) {
		ksft_print_msg("run=2 left shared %ld sharing %ld unshared %ld volatile %ld\n",
			       ksmt_get("pages_shared"), ksmt_get("pages_sharing"),
			       ksmt_get("pages_unshared"), ksmt_get("pages_volatile"));
		ok = false;
	}
	if (ksmt_get("run") != 2) {
		ksft_print_msg("run reads %ld after run=2\n", ksmt_get("run"));
		ok = false;
	}
	if (ksmt_merging_pages(getpid()) || ksmt_merging_pages(w->pid) ||
	    ksmt_proc_field(getpid(), "ksm_stat", "ksm_rmap_items") ||
	    ksmt_proc_field(w->pid, "ksm_stat", "ksm_rmap_items")) {
		ksft_print_msg("run=2 left per-process counts\n");
		ok = false;
	}
	if (!check_copies(p, 0, COPIES, 2) || !own_frames(p, 0, COPIES) ||
	    !ksmt_worker_do(w, 'c') || !ksmt_worker_do(w, 'o')) {
		ksft_print_msg("contents or frames wrong after run=2\n");
		ok = false;
	}
	return ok;
}

/* run=2 unmerges everything at once; run=1 again merges again. */
static void test_run2(void)
{
	struct ksmt_worker w;
	bool ok = true;
	char *p = NULL;

	ksmt_worker_start(&w, child_fn, &p);
	p = setup_copies(2);
	ksmt_set("run", 1);
	if (!ksmt_wait_merged(PAT, (2 * COPIES - 1) * PAT))
		ok = false;
	else
		ok &= run2_check(&w, p);
	ksft_test_result(ok, "run=2: counters 0 at once, contents intact\n");

	/* the processes stay registered: merged again without madvise */
	ok = true;
	ksmt_set("run", 1);
	if (!ksmt_wait_merged(PAT, (2 * COPIES - 1) * PAT) || !same_frames(p, 0, COPIES))
		ok = false;
	else
		ok &= run2_check(&w, p);
	ksft_test_result(ok, "run=1 after run=2 merges again, run=2 again unmerges\n");
	ksmt_write("run", "0");
	ksmt_worker_stop(&w);
	munmap(p, NPAGES * ksmt_page_size);
}

/* KSM zero pages: MADV_UNMERGEABLE gives back private zeroed pages. */
static void test_zero_unmerge(void)
{
	const int n = 32;
	bool ok = true;
	char *p;
	int i;

	ksmt_set("use_zero_pages", 1);
	p = ksmt_map(n);
	memset(p, 0xff, n * ksmt_page_size);
	memset(p, 0, n * ksmt_page_size);
	ksmt_mergeable(p, n);
	ksmt_set("run", 1);
	if (!ksmt_wait_counter("ksm_zero_pages", n)) {
		ok = false;
		goto out;
	}
	ksmt_set("run", 0);
	if (madvise(p, n * ksmt_page_size, MADV_UNMERGEABLE)) {
		ok = false;
		goto out;
	}
	if (ksmt_get("ksm_zero_pages") ||
	    ksmt_proc_field(getpid(), "ksm_stat", "ksm_zero_pages")) {
		ksft_print_msg("ksm_zero_pages %ld, process %ld after MADV_UNMERGEABLE\n",
			       ksmt_get("ksm_zero_pages"),
			       ksmt_proc_field(getpid(), "ksm_stat", "ksm_zero_pages"));
		ok = false;
	}
	for (i = 0; i < n * (int)ksmt_page_size; i++)
		if (p[i]) {
			ksft_print_msg("byte %d not zero\n", i);
			ok = false;
			break;
		}
out:
	ksft_test_result(ok, "MADV_UNMERGEABLE of KSM zero pages: ksm_zero_pages 0\n");
	ksmt_stop_unmerge();
	ksmt_set("use_zero_pages", 0);
	munmap(p, n * ksmt_page_size);
}

int main(void)
{
	ksmt_start();
	ksft_set_plan(5);
	ksmt_setup();

	test_madv_unmergeable();
	test_run2();
	test_zero_unmerge();

	ksmt_restore();
	ksft_finished();
}
