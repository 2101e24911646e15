// SPDX-License-Identifier: GPL-2.0
/*
 * Memory failure on a KSM page: every process sharing it gets SIGBUS when
 * it touches that page, and only that page; MADV_UNMERGEABLE over it and
 * run=2 still finish.  The poisoned frame is lost to the guest for good.
 */
#include <setjmp.h>

#include "ksm_test_util.h"

#ifndef MADV_HWPOISON
#define MADV_HWPOISON	100
#endif

#define N		8
#define VICTIM		3	/* the page poisoned */
#define UNMERGE_SECS	60

static sigjmp_buf jump;

static void on_sigbus(int sig)
{
	siglongjmp(jump, 1);
}

static void cleanup(void)
{
	ksmt_restore();
}

/* Read every page; returns a bitmask of the pages that raised SIGBUS. */
static unsigned int touch_all(char *p)
{
	unsigned int bad = 0;
	int i;

	signal(SIGBUS, on_sigbus);
	for (i = 0; i < N; i++) {
		if (sigsetjmp(jump, 1)) {
			bad |= 1u << i;
			continue;
		}
		/* a read the compiler must do */
		(void)__atomic_load_n(p + i * ksmt_page_size, __ATOMIC_RELAXED);
	}
	signal(SIGBUS, SIG_DFL);
	return bad;
}

static char *twin_area;

static char twin_fn(char cmd, void *arg)
{
	int i;

	switch (cmd) {
	case 's':
		ksmt_fill_range(twin_area, N, 0x7e, false);
		ksmt_mergeable(twin_area, N);
		return 'y';
	case 't':	/* 'y' if only the victim raises SIGBUS */
		return touch_all(twin_area) == 1u << VICTIM ? 'y' : 'n';
	case 'c':	/* the other pages kept their contents */
		for (i = 0; i < N; i++)
			if (i != VICTIM &&
			    !ksmt_check(twin_area + i * ksmt_page_size, 0x7e, i))
				return 'n';
		return 'y';
	}
	return 'n';
}

/* MADV_UNMERGEABLE in a child, bounded: false if it hangs or fails. */
static bool unmerge_bounded(char *p)
{
	double end = ksmt_now() + UNMERGE_SECS;
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (!pid)
		_exit(madvise(p, N * ksmt_page_size, MADV_UNMERGEABLE) ? 1 : 0);
	while (!waitpid(pid, &status, WNOHANG)) {
		if (ksmt_now() > end) {
			ksft_print_msg("MADV_UNMERGEABLE still running after %ds\n",
				       UNMERGE_SECS);
			kill(pid, SIGKILL);
			return false;
		}
		usleep(10000);
	}
	return WIFEXITED(status) && !WEXITSTATUS(status);
}

int main(void)
{
	struct ksmt_worker w;
	unsigned int bad;
	bool ok;
	int i;

	ksmt_start();
	ksft_set_plan(4);
	ksmt_take_over(cleanup);
	ksmt_setup();

	twin_area = ksmt_map(N);
	ksmt_worker_start(&w, twin_fn, NULL);
	ksmt_fill_range(twin_area, N, 0x7e, false);
	ksmt_mergeable(twin_area, N);
	ksmt_set("run", 1);
	if (!ksmt_wait_merged(N, N))
		ksft_exit_fail_msg("not merged\n");
	ksmt_set("run", 0);

	/* the poisoning process is sent SIGBUS at once, as on a real error */
	signal(SIGBUS, on_sigbus);
	if (!sigsetjmp(jump, 1) &&
	    madvise(twin_area + VICTIM * ksmt_page_size, ksmt_page_size,
		    MADV_HWPOISON)) {
		if (errno == EINVAL || errno == EPERM)
			ksft_exit_skip("MADV_HWPOISON: %s\n", strerror(errno));
		ksft_exit_fail_msg("MADV_HWPOISON: %s\n", strerror(errno));
	}
	signal(SIGBUS, SIG_DFL);

	bad = touch_all(twin_area);
	ksft_print_msg("pages raising SIGBUS here: %#x, want %#x\n", bad,
		       1u << VICTIM);
	ok = bad == 1u << VICTIM;
	for (i = 0; i < N; i++)
		if (i != VICTIM && !ksmt_check(twin_area + i * ksmt_page_size, 0x7e, i))
			ok = false;
	ksft_test_result(ok, "the poisoning process: SIGBUS on the poisoned page only\n");
	ksft_test_result(ksmt_worker_do(&w, 't') && ksmt_worker_do(&w, 'c'),
			 "the other sharer: SIGBUS on the poisoned page only\n");

	ksft_test_result(unmerge_bounded(twin_area),
			 "MADV_UNMERGEABLE over the poisoned page finishes\n");
	ksmt_worker_stop(&w);
	ksft_test_result(!ksmt_stop_unmerge() && ksmt_get("pages_sharing") == 0,
			 "run=2 finishes\n");
	cleanup();
	ksft_finished();
}
