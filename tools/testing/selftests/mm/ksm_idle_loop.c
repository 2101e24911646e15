// SPDX-License-Identifier: GPL-2.0
/*
 * ksmd told to scan no pages without sleeping (pages_to_scan 0 and
 * sleep_millisecs 0, both accepted) must still let the rest of its CPU
 * run: a loop of empty batches with no scheduling point is a soft lockup.
 * The kernel log is read for one after RUN_S seconds, beyond the soft
 * lockup threshold.
 */
#include "ksm_test_util.h"

#define RUN_S	30
#define NPAGES	64

static void cleanup(void)
{
	ksmt_restore();
}

/* Whether the kernel log got a soft lockup report since @fd was opened. */
static bool soft_lockup_logged(int fd)
{
	char rec[1024];
	ssize_t n;
	bool seen = false;

	while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 || errno == EPIPE) {
		if (n <= 0)
			continue;	/* records overwritten: read on */
		rec[n] = 0;
		if (strstr(rec, "soft lockup") && strstr(rec, "ksmd"))
			seen = true;
	}
	return seen;
}

int main(void)
{
	char *p;
	int fd;

	ksmt_start();
	ksft_set_plan(1);
	ksmt_take_over(cleanup);
	ksmt_setup();
	/*
	 * 6.12's ksm_scan_thread() has the same loop and would fail the
	 * whole run with its soft lockup: do not run it there.
	 */
	if (access(KSMT_DIR "pages_reused", F_OK)) {
		/* the reason in the name, for expected-skips to match */
		ksft_test_result_code(KSFT_SKIP,
				      "6.12 spins in ksm_scan_thread()", "%s",
				      "not run there");
		ksft_finished();
	}

	fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (fd < 0 || lseek(fd, 0, SEEK_END) < 0)
		ksft_exit_fail_msg("/dev/kmsg: %s\n", strerror(errno));

	p = ksmt_map(NPAGES);
	ksmt_fill_range(p, NPAGES, 0x1d1e, true);
	ksmt_mergeable(p, NPAGES);
	ksmt_set("pages_to_scan", 0);
	ksmt_set("sleep_millisecs", 0);
	ksmt_set("run", 1);
	sleep(RUN_S);
	ksmt_set("run", 0);

	ksft_test_result(!soft_lockup_logged(fd) &&
			 ksmt_check_range(p, NPAGES, 0x1d1e, true),
			 "pages_to_scan 0, sleep_millisecs 0: no soft lockup\n");
	munmap(p, NPAGES * ksmt_page_size);
	close(fd);
	ksft_finished();
}
