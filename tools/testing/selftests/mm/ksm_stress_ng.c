// SPDX-License-Identifier: GPL-2.0
/*
 * stress-ng's memory stressors (vm, mmap, mremap, madvise, fork, brk,
 * stack) with their own result checks (--verify) on memory that KSM
 * merges while they run: stress-ng is started from a PR_SET_MEMORY_MERGE
 * process, so that it and every stressor it forks are merge-any (the
 * flag survives exec and fork; the --ksm option of newer stress-ng sets
 * the same).  Judged by stress-ng's exit status, by KSM having merged
 * its memory, and by the counters returning to zero; the harness judges
 * the kernel log.
 *
 * stress-ng is a dynamically linked Debian program: make check copies it
 * into the guest with its libraries (tools/testing/ksm/run-vm.sh -d);
 * without it this test is skipped.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include "ksm_test_util.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#endif

#define STRESS_NG	"/usr/bin/stress-ng"
#define RUN_S		"60"
#define LIMIT_S		90
/* brk and mmap grow until refused: stop them long before the OOM killer */
#define DATA_LIMIT	(256UL << 20)

static pid_t child;

static void cleanup(void)
{
	if (child > 0)
		kill(-child, SIGKILL);
	ksmt_restore();
}

static void start(void)
{
	struct rlimit rl = { DATA_LIMIT, DATA_LIMIT };

	fflush(stdout);
	child = fork();
	if (child < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (child)
		return;
	setpgid(0, 0);
	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0)) {
		printf("# PR_SET_MEMORY_MERGE: %s\n", strerror(errno));
		_exit(126);
	}
	if (setrlimit(RLIMIT_DATA, &rl))
		printf("# RLIMIT_DATA: %s\n", strerror(errno));
	execl(STRESS_NG, "stress-ng", "--verify", "--timeout", RUN_S,
	      "--metrics-brief", "--oomable",
	      "--vm", "1", "--vm-bytes", "48M",
	      "--mmap", "1", "--mmap-bytes", "32M",
	      "--mremap", "1", "--mremap-bytes", "32M",
	      "--madvise", "1",
	      "--fork", "1",
	      "--brk", "1",
	      "--stack", "1",
	      (char *)NULL);
	printf("# exec %s: %s\n", STRESS_NG, strerror(errno));
	_exit(127);
}

int main(void)
{
	long sharing, max_sharing = 0, max_zero = 0, scans;
	double end;
	int status;
	bool ok;

	ksmt_start();
	if (access(STRESS_NG, X_OK))
		ksft_exit_skip("no " STRESS_NG " in the guest (make check copies the host's)\n");
	ksft_set_plan(3);
	ksmt_take_over(cleanup);
	ksmt_setup();
	ksmt_set("use_zero_pages", 1);
	ksmt_set("run", 1);
	scans = ksmt_get("full_scans");

	start();
	end = ksmt_now() + LIMIT_S;
	while (waitpid(child, &status, WNOHANG) == 0) {
		if (ksmt_now() > end) {
			ksft_print_msg("stress-ng still running after %ds: killed\n",
				       LIMIT_S);
			kill(-child, SIGKILL);
			waitpid(child, &status, 0);
			break;
		}
		sharing = ksmt_get("pages_sharing");
		if (sharing > max_sharing)
			max_sharing = sharing;
		if (ksmt_get("ksm_zero_pages") > max_zero)
			max_zero = ksmt_get("ksm_zero_pages");
		usleep(200000);
	}
	child = 0;
	ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	ksft_test_result(ok, "stress-ng --verify: %s %d\n",
			 WIFEXITED(status) ? "exit status" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));

	ksft_print_msg("while it ran: %ld full scans, pages_sharing up to %ld\n",
		       ksmt_get("full_scans") - scans, max_sharing);
	ksft_print_msg("ksm_zero_pages up to %ld\n", max_zero);
	ksft_test_result(max_sharing > 0 || max_zero > 0,
			 "KSM merged stress-ng's memory\n");

	/* every process is gone: run=2 leaves nothing counted */
	ok = !ksmt_write("run", "2");
	ok = ok && ksmt_get("pages_shared") == 0 && ksmt_get("pages_sharing") == 0 &&
	     ksmt_get("ksm_zero_pages") == 0;
	if (!ok)
		ksft_print_msg("run=2: pages_shared %ld pages_sharing %ld ksm_zero_pages %ld\n",
			       ksmt_get("pages_shared"), ksmt_get("pages_sharing"),
			       ksmt_get("ksm_zero_pages"));
	ksft_test_result(ok, "counters back to zero after run=2\n");
	ksft_finished();
}
