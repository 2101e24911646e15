// SPDX-License-Identifier: GPL-2.0
/*
 * Write faults on KSM pages: a KSM page that the faulting pte alone maps
 * and references is taken over in place (same frame, counted in
 * /sys/kernel/mm/ksm/pages_reused); one mapped twice, or held by a pipe
 * through vmsplice(2), is copied, and whoever else sees it keeps seeing
 * the old contents.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/uio.h>

#include "ksm_test_util.h"

#define N	8	/* page pairs; a pipe holds 16 pages by default */

/* Region of 2 * N pages: page i and page N + i hold the same contents. */
static char *setup_pairs(uint64_t tag)
{
	char *p = ksmt_map(2 * N);

	ksmt_fill_range(p, N, tag, false);
	ksmt_fill_range(p + N * ksmt_page_size, N, tag, false);
	ksmt_mergeable(p, 2 * N);
	return p;
}

/*
 * XOR the first byte of n pages from p with x, noting their frames before
 * and after.  Each copy of a pair gets its own x, or ksmd would merge the
 * pair again.
 */
static void write_pages(char *p, int n, char x, uint64_t *before,
			uint64_t *after)
{
	int i;

	for (i = 0; i < n; i++) {
		before[i] = ksmt_pfn(0, p + i * ksmt_page_size);
		p[i * ksmt_page_size] ^= x;
		after[i] = ksmt_pfn(0, p + i * ksmt_page_size);
	}
}

/* Undo write_pages() and compare with the pattern. */
static bool written_contents(char *p, int n, char x, uint64_t tag)
{
	int i;

	for (i = 0; i < n; i++)
		p[i * ksmt_page_size] ^= x;
	return ksmt_check_range(p, n, tag, false);
}

static int same_frames(const uint64_t *a, const uint64_t *b, int n)
{
	int i, same = 0;

	for (i = 0; i < n; i++)
		same += a[i] && a[i] == b[i];
	return same;
}

static bool reused_delta(long start, long want)
{
	long got = ksmt_get("pages_reused") - start;

	if (got != want)
		ksft_print_msg("pages_reused went up by %ld, want %ld\n", got, want);
	return got == want;
}

/* Pairs in one process: the first write copies, the second reuses. */
static void test_pairs(void)
{
	uint64_t before[N], after[N];
	char *p = setup_pairs(1), *b = p + N * ksmt_page_size;
	long start;
	int same;
	bool ok;

	if (!ksmt_merge_and_stop(N, N)) {
		ksft_test_result_fail("mapped twice: not merged\n");
		ksft_test_result_skip("mapped once: not merged\n");
		goto out;
	}
	start = ksmt_get("pages_reused");
	write_pages(p, N, 0x0f, before, after);
	same = same_frames(before, after, N);
	if (same)
		ksft_print_msg("%d of %d pages kept their frame\n", same, N);
	ok = !same && reused_delta(start, 0);
	ksft_test_result(ok, "mapped twice: a write copies, nothing reused\n");

	/* Every KSM page is now mapped once, by the second copy. */
	write_pages(b, N, 0x70, before, after);
	same = same_frames(before, after, N);
	if (same != N)
		ksft_print_msg("%d of %d pages kept their frame\n", same, N);
	ok = same == N && reused_delta(start, N);
	if (ksmt_proc_field(getpid(), "smaps_rollup", "KSM")) {
		ksft_print_msg("smaps KSM %ld kB after the writes, want 0\n",
			       ksmt_proc_field(getpid(), "smaps_rollup", "KSM"));
		ok = false;
	}
	/* ksmd finds the nodes of the reused pages stale and drops them */
	ksmt_set("run", 1);
	ok &= ksmt_wait_merged(0, 0);
	ksmt_set("run", 0);
	/* last: undoing the writes makes the pairs mergeable again */
	ok &= written_contents(p, N, 0x0f, 1) &&
	      written_contents(b, N, 0x70, 1);
	ksft_test_result(ok, "mapped once: a write reuses the KSM page in place\n");
out:
	ksmt_stop_unmerge();
	munmap(p, 2 * N * ksmt_page_size);
}

/* A pipe holding the page through vmsplice(): the write must copy. */
static void test_vmsplice(void)
{
	uint64_t before[N], after[N];
	char *p = setup_pairs(2), *b = p + N * ksmt_page_size;
	struct iovec iov[N];
	char *buf = NULL;
	int pfd[2], i;
	long start;
	bool ok = false;

	if (pipe(pfd))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	if (!ksmt_merge_and_stop(N, N))
		goto out;
	write_pages(p, N, 0x0f, before, after);	/* copies: b mapped once */
	for (i = 0; i < N; i++) {
		iov[i].iov_base = b + i * ksmt_page_size;
		iov[i].iov_len = ksmt_page_size;
	}
	if (vmsplice(pfd[1], iov, N, 0) != (ssize_t)(N * ksmt_page_size)) {
		ksft_print_msg("vmsplice: %s\n", strerror(errno));
		goto out;
	}
	start = ksmt_get("pages_reused");
	write_pages(b, N, 0x70, before, after);
	ok = !same_frames(before, after, N) && reused_delta(start, 0);
	buf = malloc(N * ksmt_page_size);
	if (!buf || read(pfd[0], buf, N * ksmt_page_size) !=
		    (ssize_t)(N * ksmt_page_size)) {
		ksft_print_msg("reading the pipe back failed\n");
		ok = false;
	} else if (!ksmt_check_range(buf, N, 2, false)) {
		ksft_print_msg("the pipe sees the write\n");
		ok = false;
	}
	ok &= written_contents(b, N, 0x70, 2);
out:
	ksft_test_result(ok, "held by a pipe: a write copies, the pipe keeps the old contents\n");
	free(buf);
	close(pfd[0]);
	close(pfd[1]);
	ksmt_stop_unmerge();
	munmap(p, 2 * N * ksmt_page_size);
}

static char child_fn(char cmd, void *arg)
{
	if (cmd != 's')
		return 'n';
	*(char **)arg = ksmt_map(N);
	ksmt_fill_range(*(char **)arg, N, 3, false);
	ksmt_mergeable(*(char **)arg, N);
	return 'y';
}

/* Merged with another process that then exits: the survivor reuses. */
static void test_exit(void)
{
	uint64_t before[N], after[N];
	struct ksmt_worker w;
	char *p, *cp;
	long start;
	bool ok;

	ksmt_worker_start(&w, child_fn, &cp);
	p = ksmt_map(N);
	ksmt_fill_range(p, N, 3, false);
	ksmt_mergeable(p, N);
	ok = ksmt_merge_and_stop(N, N);
	ksmt_worker_stop(&w);
	start = ksmt_get("pages_reused");
	write_pages(p, N, 0x0f, before, after);
	ok = ok && same_frames(before, after, N) == N &&
	     reused_delta(start, N) && written_contents(p, N, 0x0f, 3);
	ksft_test_result(ok, "other sharer exited: the survivor's write reuses\n");
	ksmt_stop_unmerge();
	munmap(p, N * ksmt_page_size);
}

#define CG_A	"ksmt_reuse_a"
#define CG_B	"ksmt_reuse_b"

static char *cg_area;

/* Own copies of the pages of cg_area, allocated in cgroup A. */
static char cg_child_fn(char cmd, void *arg)
{
	int i, kept = 0;

	switch (cmd) {
	case 's':
		if (!ksmt_cgroup_enter(CG_A, getpid()))
			return 'n';
		ksmt_fill_range(cg_area, N, 5, false);
		ksmt_mergeable(cg_area, N);
		return 'y';
	case 'w':	/* write every page, answer how many kept their frame */
		for (i = 0; i < N; i++) {
			uint64_t pfn = ksmt_pfn(0, cg_area + i * ksmt_page_size);

			cg_area[i * ksmt_page_size] ^= 0x55;
			kept += pfn == ksmt_pfn(0, cg_area + i * ksmt_page_size);
		}
		return '0' + kept;
	}
	return 'n';
}

/*
 * A KSM page keeps the memory cgroup charge of the page it was made of.
 * Taken over in place by a process of another cgroup, it would be memory
 * that process writes to but its cgroup never pays for: such a write must
 * copy.  This process (cgroup B) and a worker (cgroup A) each allocate
 * their own copies of the same pages, which merge; then the one whose
 * cgroup the KSM pages are charged to lets go of them, and the other
 * writes.
 */
static void test_foreign_memcg(void)
{
	uint64_t mine[N], before[N], after[N];
	int i, from_me = 0, kept, own;
	struct ksmt_worker w;
	char self[16];
	long start;
	bool ok;

	if (!ksmt_cgroup_make(CG_A) || !ksmt_cgroup_make(CG_B) ||
	    !ksmt_cgroup_enter(CG_B, getpid())) {
		ksft_test_result_fail("no memory cgroups\n");
		return;
	}
	cg_area = ksmt_map(N);
	ksmt_fill_range(cg_area, N, 5, false);
	ksmt_worker_start(&w, cg_child_fn, NULL);
	for (i = 0; i < N; i++)
		mine[i] = ksmt_pfn(0, cg_area + i * ksmt_page_size);
	ksmt_mergeable(cg_area, N);
	ok = ksmt_merge_and_stop(N, N);
	for (i = 0; i < N; i++)
		from_me += ksmt_pfn(0, cg_area + i * ksmt_page_size) == mine[i];
	start = ksmt_get("pages_reused");
	if (from_me * 2 >= N) {
		/* mostly charged to B: B lets go, A writes */
		char c = 0;

		munmap(cg_area, N * ksmt_page_size);
		cg_area = NULL;
		if (write(w.cmd, "w", 1) != 1 || read(w.reply, &c, 1) != 1)
			ok = false;
		kept = c - '0';
		own = N - from_me;
	} else {
		ksmt_worker_stop(&w);
		write_pages(cg_area, N, 0x55, before, after);
		kept = same_frames(before, after, N);
		own = from_me;
		ok = ok && written_contents(cg_area, N, 0x55, 5);
	}
	ksft_print_msg("%d of %d KSM pages charged to the writer's cgroup, %d kept their frame\n",
		       own, N, kept);
	/* only the pages charged to the writer's own cgroup are reused */
	ok = ok && kept == own && reused_delta(start, own);
	ksft_test_result(ok, "a KSM page charged to another cgroup is copied on write\n");
	if (cg_area)
		munmap(cg_area, N * ksmt_page_size);
	else
		ksmt_worker_stop(&w);
	ksmt_stop_unmerge();
	snprintf(self, sizeof(self), "%d", getpid());
	ksmt_write_path(KSMT_CGROOT "/cgroup.procs", self);
	ksmt_cgroup_remove(CG_A);
	ksmt_cgroup_remove(CG_B);
}

int main(void)
{
	ksmt_start();
	if (access(KSMT_DIR "pages_reused", F_OK))
		ksft_exit_skip("no " KSMT_DIR "pages_reused: KSM pages are always copied\n");
	ksft_set_plan(5);
	ksmt_setup();

	test_pairs();
	test_vmsplice();
	test_exit();
	test_foreign_memcg();

	ksmt_restore();
	ksft_finished();
}
