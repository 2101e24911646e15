// SPDX-License-Identifier: GPL-2.0
/*
 * ksmd visits the pages of one walk with their mm read-locked, lets the
 * mm go for a lookup in the unstable tree and takes it again for a page
 * that joins a KSM page: by then mprotect(2) may have split the area, so
 * that the pages after it are in another vma.  Merging those must not
 * take the mmap_lock that ksmd still holds: a writer queued in between
 * would deadlock with it (lockdep reports the recursion at once).
 *
 * Each group of GROUP pages is one unique page, which goes to the
 * unstable tree, then pages of one content, which join its KSM page.  One
 * thread rewrites the joining pages, so that they join again and again;
 * another flips PROT_EXEC on the second half of each group, splitting and
 * rejoining the vma there.  Fails if an mprotect() call is stuck for
 * STUCK_S seconds, if any page reads other than written, or if nothing
 * merged; the harness judges the kernel log.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "ksm_test_util.h"

#define GROUP		32	/* pages, as many as ksmd visits together */
#define NGROUPS		32
#define NPAGES		(GROUP * NGROUPS)
#define SECS		20
#define STUCK_S		10
#define TAG_SAME	41
#define TAG_UNIQUE	42

static char *mem;
static bool stop;
static long mprotects;
static long flips, rewrites;

static bool stopping(void)
{
	return __atomic_load_n(&stop, __ATOMIC_RELAXED);
}

static bool is_unique(size_t i)
{
	return i % GROUP == 0;
}

static void fill(size_t i)
{
	char *page = mem + i * ksmt_page_size;

	if (is_unique(i))
		ksmt_fill(page, TAG_UNIQUE, i);
	else
		ksmt_fill(page, TAG_SAME, 0);
}

static bool intact(size_t i)
{
	const char *page = mem + i * ksmt_page_size;

	return is_unique(i) ? ksmt_check(page, TAG_UNIQUE, i) :
			      ksmt_check(page, TAG_SAME, 0);
}

/* Write the same content again: the merged pages break and join anew. */
static void *rewriter(void *arg)
{
	size_t i;

	while (!stopping()) {
		for (i = 0; i < NPAGES && !stopping(); i++) {
			if (!is_unique(i))
				fill(i);
		}
		rewrites++;
		usleep(50000);
	}
	return NULL;
}

/* Split the vma in the middle of each group, then let it merge back. */
static void *flipper(void *arg)
{
	size_t half = GROUP / 2 * ksmt_page_size, g;
	int prot;

	while (!stopping()) {
		for (g = 0; g < NGROUPS && !stopping(); g++) {
			char *p = mem + (g * GROUP + GROUP / 2) * ksmt_page_size;

			for (prot = PROT_EXEC; prot >= 0; prot -= PROT_EXEC) {
				if (mprotect(p, half, PROT_READ | PROT_WRITE | prot))
					ksft_exit_fail_msg("mprotect: %s\n",
							   strerror(errno));
				__atomic_add_fetch(&mprotects, 1,
						   __ATOMIC_RELAXED);
			}
		}
		flips++;
	}
	return NULL;
}

int main(void)
{
	long max_sharing = 0, sharing, seen = -1, n;
	pthread_t rw, fl;
	double end, now, moved;
	bool stuck = false, ok = true;
	size_t i;

	ksmt_start();
	ksft_set_plan(1);
	ksmt_setup();
	/* the unique pages must reach the unstable tree round after round */
	ksmt_set("smart_scan", 0);

	mem = ksmt_map(NPAGES);
	for (i = 0; i < NPAGES; i++)
		fill(i);
	ksmt_mergeable(mem, NPAGES);
	ksmt_set("run", 1);

	moved = ksmt_now();
	if (pthread_create(&rw, NULL, rewriter, NULL) ||
	    pthread_create(&fl, NULL, flipper, NULL))
		ksft_exit_fail_msg("pthread_create\n");
	end = ksmt_now() + SECS;
	while ((now = ksmt_now()) < end) {
		usleep(200000);
		sharing = ksmt_get("pages_sharing");
		if (sharing > max_sharing)
			max_sharing = sharing;
		n = __atomic_load_n(&mprotects, __ATOMIC_RELAXED);
		if (n != seen) {
			seen = n;
			moved = now;
		} else if (now - moved > STUCK_S) {
			stuck = true;
			break;
		}
	}
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	if (!stuck) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += STUCK_S;
		stuck = pthread_timedjoin_np(fl, NULL, &ts) ||
			pthread_timedjoin_np(rw, NULL, &ts);
	}
	if (stuck) {
		/* the threads cannot be joined: report and leave */
		ksft_test_result_fail("mprotect stuck for %d s: ksmd deadlocked on the mmap_lock\n",
				      STUCK_S);
		ksft_finished();
	}

	for (i = 0; i < NPAGES; i++) {
		if (!intact(i)) {
			ksft_print_msg("page %zu changed\n", i);
			ok = false;
			break;
		}
	}
	ksft_print_msg("%ld rewrites, %ld rounds of splits, pages_sharing up to %ld\n",
		       rewrites, flips, max_sharing);
	ksft_test_result(ok && max_sharing > 0,
			 "joins after an unstable lookup, with the vma split under ksmd\n");
	ksmt_stop_unmerge();
	munmap(mem, NPAGES * ksmt_page_size);
	ksmt_restore();
	ksft_finished();
}
