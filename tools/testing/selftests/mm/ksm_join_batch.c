// SPDX-License-Identifier: GPL-2.0
/*
 * Pages of one page table that merge into the same KSM page may do so
 * together, with one TLB flush.  Each must still be looked at on its own:
 * a page held by a pipe through vmsplice(2) stays out until the pipe lets
 * it go, and pages whose content differs from the KSM page's only where a
 * sampled key does not look merge with each other, not with it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/uio.h>

#include "ksm_test_util.h"

#define N		64	/* pages, in one or two page tables */
#define TAG		31
#define HELD_A		5	/* held by the pipe */
#define HELD_B		20
#define ODD_A		10	/* the other content */
#define ODD_B		11
#define ODD_WORD	25	/* byte 200 */

static bool is_held(int i)
{
	return i == HELD_A || i == HELD_B;
}

static bool is_odd(int i)
{
	return i == ODD_A || i == ODD_B;
}

static bool page_intact(const char *p, int i)
{
	const uint64_t *q = (const uint64_t *)(p + i * ksmt_page_size);
	size_t w;

	for (w = 0; w < ksmt_page_size / 8; w++) {
		uint64_t want = ksmt_word(TAG, 0, w);

		if (is_odd(i) && w == ODD_WORD)
			want = ~want;
		if (q[w] != want)
			return false;
	}
	return true;
}

static bool all_intact(const char *p)
{
	int i;

	for (i = 0; i < N; i++)
		if (!page_intact(p, i)) {
			ksft_print_msg("page %d changed\n", i);
			return false;
		}
	return true;
}

/*
 * Frames: every page of the common content but the held ones (all of
 * them with @held_in) on one frame, the two others on another one.
 */
static bool frames_as_expected(const char *p, bool held_in)
{
	uint64_t common = ksmt_pfn(0, p), odd = ksmt_pfn(0, p + ODD_A * ksmt_page_size);
	uint64_t pfn;
	int i;

	if (!common || !odd || common == odd) {
		ksft_print_msg("frames %#llx and %#llx\n", (unsigned long long)common,
			       (unsigned long long)odd);
		return false;
	}
	for (i = 0; i < N; i++) {
		pfn = ksmt_pfn(0, p + i * ksmt_page_size);
		if (is_odd(i) ? pfn == odd :
		    is_held(i) && !held_in ? pfn != common && pfn != odd :
		    pfn == common)
			continue;
		ksft_print_msg("page %d on frame %#llx\n", i, (unsigned long long)pfn);
		return false;
	}
	return true;
}

static void test_join_batch(void)
{
	char *p = ksmt_map(N), buf[2 * 4096];
	struct iovec iov[2];
	bool ok = false;
	int pfd[2], i;

	for (i = 0; i < N; i++)
		ksmt_fill(p + i * ksmt_page_size, TAG, 0);
	for (i = 0; i < N; i++)
		if (is_odd(i))
			((uint64_t *)(p + i * ksmt_page_size))[ODD_WORD] ^= ~0ULL;
	if (pipe(pfd))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	iov[0].iov_base = p + HELD_A * ksmt_page_size;
	iov[1].iov_base = p + HELD_B * ksmt_page_size;
	iov[0].iov_len = ksmt_page_size;
	iov[1].iov_len = ksmt_page_size;
	if (ksmt_page_size > sizeof(buf) / 2 ||
	    vmsplice(pfd[1], iov, 2, 0) != (ssize_t)(2 * ksmt_page_size)) {
		ksft_print_msg("vmsplice: %s\n", strerror(errno));
		goto out;
	}
	ksmt_mergeable(p, N);

	/* The common content on one frame, the other one on another. */
	if (!ksmt_merge_and_stop(2, N - 4) || !all_intact(p) ||
	    !frames_as_expected(p, false))
		goto out;

	/* The pipe lets go: the held pages merge too. */
	if (read(pfd[0], buf, 2 * ksmt_page_size) != (ssize_t)(2 * ksmt_page_size)) {
		ksft_print_msg("read of the pipe: %s\n", strerror(errno));
		goto out;
	}
	ok = ksmt_merge_and_stop(2, N - 2) && all_intact(p) &&
	     frames_as_expected(p, true);
	if (ok && ksmt_merging_pages(getpid()) != N) {
		ksft_print_msg("ksm_merging_pages %ld, want %d\n",
			       ksmt_merging_pages(getpid()), N);
		ok = false;
	}
out:
	close(pfd[0]);
	close(pfd[1]);
	munmap(p, N * ksmt_page_size);
	ksmt_stop_unmerge();
	ksft_test_result(ok, "joins: a page held by a pipe, and a content keyed alike\n");
}

int main(void)
{
	ksmt_start();
	ksft_set_plan(1);
	ksmt_setup();

	test_join_batch();

	ksmt_restore();
	ksft_finished();
}
