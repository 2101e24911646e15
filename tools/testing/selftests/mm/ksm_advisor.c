// SPDX-License-Identifier: GPL-2.0
/*
 * The scan-time advisor: its sysfs files with their defaults and errors,
 * and its effect.  In scan-time mode ksmd owns pages_to_scan and retunes
 * it after every full scan toward advisor_target_scan_time: up when a
 * scan takes longer than the target, down when a busy ksmd finishes
 * sooner.
 */
#include "ksm_test_util.h"

#define LARGE_PAGES	8192
#define TINY_PAGES	2048

static void cleanup(void)
{
	ksmt_restore();
}

static bool mode_is(const char *want)
{
	char buf[64];

	return ksmt_read_str("advisor_mode", buf, sizeof(buf)) > 0 &&
	       !strcmp(buf, want);
}

static bool expect_einval(const char *name, const char *val)
{
	int ret = ksmt_write(name, val);

	if (ret != -EINVAL)
		ksft_print_msg("writing \"%s\" to %s: %s, want EINVAL\n", val,
			       name, ret ? strerror(-ret) : "accepted");
	return ret == -EINVAL;
}

static void test_abi(void)
{
	bool ok;

	ksft_test_result(mode_is("[none] scan-time") &&
			 ksmt_get("advisor_max_cpu") == 70 &&
			 ksmt_get("advisor_min_pages_to_scan") == 500 &&
			 ksmt_get("advisor_max_pages_to_scan") == 30000 &&
			 ksmt_get("advisor_target_scan_time") == 200,
			 "defaults: none, 70%%, 500, 30000, 200 s\n");

	ok = expect_einval("advisor_mode", "scan_time");
	ok &= expect_einval("advisor_mode", "None");
	ok &= expect_einval("advisor_target_scan_time", "0");
	ok &= expect_einval("advisor_target_scan_time", "-1");
	ok &= expect_einval("advisor_max_cpu", "x");
	ok &= expect_einval("advisor_min_pages_to_scan", "-5");
	ok &= expect_einval("advisor_max_pages_to_scan", "1k");
	ok &= !ksmt_write("advisor_target_scan_time", "1") &&
	      ksmt_get("advisor_target_scan_time") == 1;
	ok &= !ksmt_write("advisor_max_cpu", "50") &&
	      ksmt_get("advisor_max_cpu") == 50;
	ok &= !ksmt_write("advisor_max_pages_to_scan", "4000") &&
	      ksmt_get("advisor_max_pages_to_scan") == 4000;
	ok &= mode_is("[none] scan-time");
	ksft_test_result(ok, "bad values are refused, good ones taken\n");

	/* Entering scan-time starts from advisor_min_pages_to_scan. */
	ksmt_set("pages_to_scan", 123);
	ksmt_set("advisor_min_pages_to_scan", 321);
	ok = !ksmt_write("advisor_mode", "scan-time") &&
	     mode_is("none [scan-time]") &&
	     ksmt_get("pages_to_scan") == 321;
	ksft_test_result(ok, "scan-time: pages_to_scan starts at the minimum\n");

	ok = expect_einval("pages_to_scan", "1000") &&
	     ksmt_get("pages_to_scan") == 321;
	ksft_test_result(ok, "scan-time: pages_to_scan cannot be written\n");

	ok = !ksmt_write("advisor_mode", "none") && mode_is("[none] scan-time") &&
	     ksmt_get("pages_to_scan") == 100 &&
	     !ksmt_write("pages_to_scan", "1000") &&
	     ksmt_get("pages_to_scan") == 1000;
	ksft_test_result(ok, "none again: pages_to_scan back to 100, writable\n");
}

/*
 * Run ksmd with the advisor over npages unique pages, starting from
 * pages_to_scan = start, until pages_to_scan has moved by a factor of 2
 * in the wanted direction; false on timeout.
 */
static bool advisor_moves(size_t npages, unsigned long start,
			  unsigned long sleep_ms, unsigned long target,
			  bool up)
{
	double end;
	long scans = 0, pages = start;
	bool ok = false;
	char *p;

	ksmt_stop_unmerge();
	p = ksmt_map(npages);
	ksmt_fill_range(p, npages, 0xad7 + up, false);
	ksmt_mergeable(p, npages);

	ksmt_set("advisor_min_pages_to_scan", start);
	ksmt_set("advisor_max_pages_to_scan", 30000);
	ksmt_set("advisor_max_cpu", 70);
	ksmt_set("advisor_target_scan_time", target);
	ksmt_set("sleep_millisecs", sleep_ms);
	if (ksmt_write("advisor_mode", "scan-time") ||
	    ksmt_get("pages_to_scan") != (long)start)
		ksft_exit_fail_msg("cannot enter scan-time mode\n");
	ksmt_set("run", 1);

	end = ksmt_now() + KSMT_TIMEOUT_S;
	while (ksmt_now() < end) {
		pages = ksmt_get("pages_to_scan");
		scans = ksmt_get("full_scans");
		/* the first scan (from a zeroed state) does not count */
		if (scans >= 3 && (up ? pages >= 2 * (long)start :
				   pages <= (long)start / 2)) {
			ok = true;
			break;
		}
		usleep(50000);
	}
	ksft_print_msg("%zu pages, sleep %lu ms, target %lu s: ", npages,
		       sleep_ms, target);
	printf("pages_to_scan %lu -> %ld after %ld scans\n", start, pages,
	       scans);

	ksmt_stop_unmerge();
	ksmt_write("advisor_mode", "none");
	munmap(p, npages * ksmt_page_size);
	return ok;
}

int main(void)
{
	ksmt_start();
	ksft_set_plan(7);

	if (access(KSMT_DIR "advisor_mode", W_OK))
		ksft_exit_skip("no advisor_mode\n");

	ksmt_take_over(cleanup);

	test_abi();

	/* Every page visited every scan: scan times follow pages_to_scan. */
	ksmt_set("smart_scan", 0);

	/* Scans far over the 1 s target: ksmd must scan faster. */
	ksft_test_result(advisor_moves(LARGE_PAGES, 64, 50, 1, true),
			 "large workload, slow scans: pages_to_scan goes up\n");
	/* A busy ksmd done well within 10 s: it must scan slower. */
	ksft_test_result(advisor_moves(TINY_PAGES, TINY_PAGES, 0, 10, false),
			 "tiny workload, quick scans: pages_to_scan goes down\n");

	cleanup();
	ksft_finished();
}
