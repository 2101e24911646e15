// SPDX-License-Identifier: GPL-2.0
/*
 * The unstable trees across the events that throw them away: a run=2 cut
 * short by a signal, and merge_across_nodes switched back and forth while
 * ksmd is in the middle of a scan.  Items left in a tree from before must
 * never be taken for members of the new one; the debug kernel reports
 * any such mix-up (KASAN, or the tree checks of DEBUG_VM).
 */
#include "ksm_test_util.h"

#define NR_MERGED	8192	/* one content: chains of KSM pages */
#define NR_UNIQUE	4096
#define NR_NODE1	2048
#define TRIES		3

/* Kernel taint flags that a WARN (W) or a KASAN report (B) sets. */
#define TAINTS		((1 << 9) | (1 << 5))

static long taint_flags(void)
{
	char buf[32];

	if (ksmt_read_path("/proc/sys/kernel/tainted", buf, sizeof(buf)) <= 0)
		return 0;
	return strtol(buf, NULL, 10) & TAINTS;
}

/*
 * Wait until ksmd is halfway through the pages of the second mm of the
 * scan list, from the pages it scanned since a scan began.
 */
static bool wait_in_second_mm(void)
{
	double end = ksmt_now() + KSMT_TIMEOUT_S;
	long scans = ksmt_get("full_scans"), start;

	while (ksmt_get("full_scans") == scans) {
		if (ksmt_now() > end)
			return false;
		usleep(200);
	}
	start = ksmt_get("pages_scanned");
	while (ksmt_get("pages_scanned") - start < NR_MERGED + NR_UNIQUE / 2) {
		if (ksmt_now() > end)
			return false;
		usleep(200);
	}
	return true;
}

struct area {
	size_t npages;
	uint64_t tag;
	bool same;		/* all pages alike */
	int node;		/* move there first; -1: stay */
	char *p;
};

static char area_fn(char cmd, void *arg)
{
	struct area *a = arg;

	switch (cmd) {
	case 's':
		break;
	case 'r':	/* remap: new unique contents at a new address */
		munmap(a->p, a->npages * ksmt_page_size);
		a->tag++;
		break;
	case 'c':
		return ksmt_check_range(a->p, a->npages, a->tag, a->same) ?
		       'y' : 'n';
	default:
		return 'n';
	}
	a->p = ksmt_map(a->npages);
	ksmt_fill_range(a->p, a->npages, a->tag, a->same);
	if (a->node >= 0 && !ksmt_migrate(0, a->p, a->npages, a->node))
		return 'n';
	ksmt_mergeable(a->p, a->npages);
	return 'y';
}

static void cleanup(void)
{
	ksmt_restore();
}

/*
 * Interrupt run=2 once it is busy unsharing the first mm (its writer's
 * minor faults count the copies): the mms after it keep their items, some
 * of them in the unstable tree of the scan that run=2 cut short.  Returns
 * false if run=2 ended before the signal.
 */
static bool interrupt_unmerge(void)
{
	double end = ksmt_now() + KSMT_TIMEOUT_S;
	int status, fds[2];
	long before = 0;
	pid_t pid;

	if (pipe(fds))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!pid) {
		/* die of the signal: no cleanup handler writing to run */
		signal(SIGINT, SIG_DFL);
		before = ksmt_minflt(getpid());
		if (write(fds[1], &before, sizeof(before)) != sizeof(before))
			_exit(2);
		_exit(ksmt_write("run", "2") ? 1 : 0);
	}
	if (read(fds[0], &before, sizeof(before)) != sizeof(before))
		before = 0;
	close(fds[0]);
	close(fds[1]);
	while (ksmt_minflt(pid) < before + 256 && ksmt_now() < end &&
	       !waitpid(pid, &status, WNOHANG))
		usleep(1000);
	kill(pid, SIGINT);
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status);
}

/* Defect: an interrupted run=2 left items that the next scan mistook. */
static void test_interrupted_unmerge(void)
{
	struct area merged = { NR_MERGED, 0x1a, true, -1 };
	struct area unique = { NR_UNIQUE, 0x1b, false, -1 };
	long taints = taint_flags();
	struct ksmt_worker wm, wu;
	int tries, cut = 0;
	bool ok = true;

	/* registered in this order: run=2 unshares the merged one first */
	ksmt_worker_start(&wm, area_fn, &merged);
	ksmt_worker_start(&wu, area_fn, &unique);
	for (tries = 0; tries < TRIES && ok; tries++) {
		ksmt_set("run", 1);
		ok = ksmt_wait_counter("pages_unshared", NR_UNIQUE) &&
		     ksmt_wait_merged(NR_MERGED / 256, NR_MERGED - NR_MERGED / 256);
		if (!ok)
			break;
		/*
		 * run=2 now: the unique pages visited this scan are in the
		 * unstable tree of the scan that run=2 is about to cut short.
		 */
		ok = wait_in_second_mm();
		cut += ok && interrupt_unmerge();
		/* KSM is stopped now; the next scan starts new trees */
		ksmt_set("run", 1);
		ok = ksmt_wait_scans(2);
	}
	ksft_print_msg("%d of %d run=2 writes cut short by the signal\n", cut, tries);
	ok = ok && cut > 0 && ksmt_worker_do(&wm, 'c') && ksmt_worker_do(&wu, 'c');
	if (taint_flags() != taints) {
		ksft_print_msg("the kernel warned (see its log)\n");
		ok = false;
	}
	ok = ok && !ksmt_stop_unmerge() && ksmt_get("pages_unshared") == 0 &&
	     ksmt_get("pages_shared") == 0 && ksmt_get("pages_sharing") == 0;
	ksmt_worker_stop(&wm);
	ksmt_worker_stop(&wu);
	ksft_test_result(ok, "run=2 cut short by a signal, then run=1\n");
}

/* Switch merge_across_nodes; it may only change with nothing shared. */
static bool set_across(int val)
{
	int ret = ksmt_write_ul("merge_across_nodes", val);

	if (ret)
		ksft_print_msg("merge_across_nodes=%d: %s\n", val, strerror(-ret));
	return !ret;
}

/*
 * Defect: switching to one tree kept the other nodes' unstable roots,
 * which pointed at items freed later; switching back walked them.
 */
static void test_across_nodes_flip(void)
{
	struct area node1 = { NR_NODE1, 0x2a, false, 1 };
	long taints = taint_flags();
	struct ksmt_worker w;
	bool ok;
	int i;

	if (!ksmt_have_two_nodes()) {
		ksft_test_result_skip("merge_across_nodes: needs two NUMA nodes\n");
		return;
	}
	/*
	 * The in-tree KSM of 6.12 (no pages_reused) has the same defect and
	 * takes the whole guest down with it: do not run it there.
	 */
	if (access(KSMT_DIR "pages_reused", F_OK)) {
		/* the reason in the name, for expected-skips to match */
		ksft_test_result_code(KSFT_SKIP,
				      "merge_across_nodes: 6.12 walks freed unstable roots",
				      "%s", "not run there");
		return;
	}
	ok = set_across(0);
	ksmt_worker_start(&w, area_fn, &node1);
	ksmt_set("run", 1);
	ok = ok && ksmt_wait_counter("pages_unshared", NR_NODE1);
	for (i = 0; i < TRIES && ok; i++) {
		/* mid-scan: ksmd runs on while the knob changes */
		ok = set_across(1) && ksmt_worker_do(&w, 'r') &&
		     ksmt_wait_scans(2) && set_across(0) &&
		     ksmt_wait_scans(2) &&
		     ksmt_wait_counter("pages_unshared", NR_NODE1);
	}
	ok = ok && ksmt_worker_do(&w, 'c');
	ksmt_worker_stop(&w);
	ok = ok && !ksmt_stop_unmerge() && ksmt_get("pages_unshared") == 0 &&
	     set_across(1) && taint_flags() == taints;
	ksft_test_result(ok, "merge_across_nodes 0 -> 1 -> 0 while scanning\n");
}

int main(void)
{
	ksmt_start();
	ksft_set_plan(2);
	ksmt_take_over(cleanup);
	ksmt_setup();
	ksmt_set("smart_scan", 0);

	test_interrupted_unmerge();
	test_across_nodes_flip();

	cleanup();
	ksft_finished();
}
