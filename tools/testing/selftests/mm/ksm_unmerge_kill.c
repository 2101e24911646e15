// SPDX-License-Identifier: GPL-2.0
/*
 * run=2 and a process killed meanwhile: once the process is gone, run=2
 * must stop unsharing its pages and let its memory go, instead of copying
 * every remaining KSM page into an mm that nobody will ever use again.
 * The minor faults of the task writing run=2 count the copies.
 */
#include "ksm_test_util.h"

#define NR_PAGES	8192
#define KILL_AFTER	256	/* copies made before the kill */

static void cleanup(void)
{
	ksmt_restore();
}

/*
 * A child that writes "2" to run and tells over @fd its minor faults
 * before and after; returns its pid.
 */
static pid_t start_unmerge(int fd)
{
	long faults[2];
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (pid)
		return pid;
	faults[0] = ksmt_minflt(getpid());
	if (write(fd, faults, sizeof(long)) != sizeof(long))
		_exit(2);
	if (ksmt_write("run", "2"))
		_exit(1);
	faults[1] = ksmt_minflt(getpid());
	_exit(write(fd, faults + 1, sizeof(long)) == sizeof(long) ? 0 : 2);
}

int main(void)
{
	struct ksmt_area area = { .npages = NR_PAGES, .tag = 0x3c, .same = true };
	long before = 0, after = 0, copies;
	struct ksmt_worker w;
	pid_t unmerger;
	int status, fds[2];
	double end;
	bool ok;

	ksmt_start();
	ksft_set_plan(1);
	ksmt_take_over(cleanup);
	ksmt_setup();

	ksmt_worker_start(&w, ksmt_area_fn, &area);
	ksmt_set("run", 1);
	if (!ksmt_wait_merged(NR_PAGES / 256, NR_PAGES - NR_PAGES / 256))
		ksft_exit_fail_msg("not merged\n");

	if (pipe(fds))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	unmerger = start_unmerge(fds[1]);
	if (read(fds[0], &before, sizeof(before)) != sizeof(before))
		ksft_exit_fail_msg("no word from the run=2 writer\n");
	end = ksmt_now() + KSMT_TIMEOUT_S;
	while (ksmt_minflt(unmerger) < before + KILL_AFTER && ksmt_now() < end)
		usleep(1000);
	kill(w.pid, SIGKILL);
	waitpid(w.pid, NULL, 0);
	close(w.cmd);
	close(w.reply);
	waitpid(unmerger, &status, 0);
	if (read(fds[0], &after, sizeof(after)) != sizeof(after))
		after = before;

	copies = after - before;
	ksft_print_msg("run=2 made %ld copies of %d pages, the kill came after %d\n",
		       copies, NR_PAGES, KILL_AFTER);
	ok = WIFEXITED(status) && !WEXITSTATUS(status) &&
	     copies >= KILL_AFTER && copies < NR_PAGES / 2;
	ok = ok && ksmt_get("pages_shared") == 0 &&
	     ksmt_get("pages_sharing") == 0;
	ksft_test_result(ok, "run=2 lets a killed process go at once\n");

	cleanup();
	ksft_finished();
}
