// SPDX-License-Identifier: GPL-2.0
/*
 * ksmd passing over a long run of pages that smart scan skips must not
 * hold the mmap_lock of their process all that time: a writer of the
 * lock (here mprotect()) waits for one page at most, not for the run.
 * The bound is loose (a quarter of a second, for a run of 32768 pages
 * that takes a second or more to pass over under emulation) so that only
 * a lock held across the run fails it.
 */
#include "ksm_test_util.h"

#define NR_PAGES	32768
#define WATCH_SCANS	3
#define BOUND_MS	250

static void cleanup(void)
{
	ksmt_restore();
}

/*
 * Longest mprotect() of one page, in ms, over @secs seconds or until
 * @scans more full scans, whichever comes first.
 */
static double longest_mprotect(char *page, double secs, long scans)
{
	double end = ksmt_now() + secs, worst = 0, t;
	long until = ksmt_get("full_scans") + scans;
	int prot = PROT_READ;

	while (ksmt_now() < end && ksmt_get("full_scans") < until) {
		t = ksmt_now();
		if (mprotect(page, ksmt_page_size, prot))
			ksft_exit_fail_msg("mprotect: %s\n", strerror(errno));
		t = (ksmt_now() - t) * 1000;
		if (t > worst)
			worst = t;
		prot ^= PROT_WRITE;
		usleep(1000);
	}
	return worst;
}

int main(void)
{
	long skipped;
	double idle, busy;
	char *p, *page;
	bool ok;

	ksmt_start();
	ksft_set_plan(1);
	ksmt_take_over(cleanup);
	ksmt_setup();
	ksmt_set("smart_scan", 1);

	p = ksmt_map(NR_PAGES);
	ksmt_fill_range(p, NR_PAGES, 0x5c, false);
	ksmt_mergeable(p, NR_PAGES);
	/* not mergeable: mprotect() only needs the mmap_lock */
	page = ksmt_map(1);
	memset(page, 1, ksmt_page_size);

	idle = longest_mprotect(page, 2, 1000);
	ksmt_set("run", 1);
	/* all pages age together: from the 4th scan on they are skipped */
	ok = ksmt_wait_scans(6);
	skipped = ksmt_get("pages_skipped");
	busy = longest_mprotect(page, KSMT_TIMEOUT_S, WATCH_SCANS);
	skipped = ksmt_get("pages_skipped") - skipped;
	ksft_print_msg("longest mprotect: %.1f ms with ksmd off, %.1f ms while\n",
		       idle, busy);
	ksft_print_msg("it skipped %ld pages\n", skipped);
	ok = ok && skipped >= NR_PAGES && busy < BOUND_MS &&
	     ksmt_check_range(p, NR_PAGES, 0x5c, false);
	ksft_test_result(ok, "skipping pages does not hold off mmap_lock writers\n");
	cleanup();
	ksft_finished();
}
