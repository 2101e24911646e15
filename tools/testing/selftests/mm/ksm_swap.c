// SPDX-License-Identifier: GPL-2.0
/*
 * KSM pages through swap: merged pages are paged out to a zram swap
 * device set up here, read back intact, and merged again afterwards; a
 * KSM page read back from the swap cache where merging was turned off
 * comes back as a copy.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>

#include "ksm_test_util.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define ZRAM_MB		32

#define PAT	16
#define NPAGES	(2 * PAT)

static bool copies_merged(const char *p, bool merged)
{
	int i;

	for (i = 0; i < PAT; i++) {
		uint64_t a = ksmt_pfn(0, p + i * ksmt_page_size);
		uint64_t b = ksmt_pfn(0, p + (PAT + i) * ksmt_page_size);
		bool same = a == b;

		if (!a || !b || same != merged)
			return false;
	}
	return true;
}

static int count_swapped(const char *p, int n)
{
	int i, swapped = 0;

	for (i = 0; i < n; i++)
		if (ksmt_pagemap(p + i * ksmt_page_size) & KSMT_PM_SWAP)
			swapped++;
	return swapped;
}

/*
 * MADV_PAGEOUT on the @n pages at @p until all are swapped; reclaim may
 * pass over a page that is busy for a moment.  Returns how many are.
 */
static int page_out(char *p, int n)
{
	int tries, swapped = 0;

	for (tries = 0; tries < 20; tries++) {
		if (madvise(p, n * ksmt_page_size, MADV_PAGEOUT)) {
			ksft_print_msg("MADV_PAGEOUT: %s\n", strerror(errno));
			break;
		}
		swapped = count_swapped(p, n);
		if (swapped == n)
			break;
		usleep(100000);
	}
	return swapped;
}

/* Two copies of a 16-page pattern, merged: 16 KSM pages mapped twice. */
static char *setup_merged(uint64_t tag)
{
	char *p = ksmt_map(NPAGES);

	ksmt_fill_range(p, PAT, tag, false);
	ksmt_fill_range(p + PAT * ksmt_page_size, PAT, tag, false);
	ksmt_mergeable(p, NPAGES);
	ksmt_set("run", 1);
	if (!ksmt_wait_merged(PAT, PAT) || !copies_merged(p, true)) {
		munmap(p, NPAGES * ksmt_page_size);
		return NULL;
	}
	ksmt_set("run", 0);
	return p;
}

/*
 * setup_merged(), then the second copy written over with @tag2: the KSM
 * pages of the first are mapped once, as MADV_PAGEOUT needs.
 */
static char *setup_mapped_once(uint64_t tag, uint64_t tag2)
{
	char *p = setup_merged(tag);

	if (p)
		ksmt_fill_range(p + PAT * ksmt_page_size, PAT, tag2, false);
	return p;
}

/* Read everything back, then let ksmd merge the two copies again. */
static bool swap_in_and_remerge(char *p, uint64_t tag)
{
	bool ok = true;

	if (!ksmt_check_range(p, PAT, tag, false) ||
	    !ksmt_check_range(p + PAT * ksmt_page_size, PAT, tag, false)) {
		ksft_print_msg("contents differ after swap-in\n");
		ok = false;
	}
	if (count_swapped(p, NPAGES)) {
		ksft_print_msg("%d pages still swapped after reading\n",
			       count_swapped(p, NPAGES));
		ok = false;
	}
	ksmt_set("run", 1);
	ok &= ksmt_wait_merged(PAT, PAT) && copies_merged(p, true) &&
	      ksmt_check_range(p, PAT, tag, false) &&
	      ksmt_check_range(p + PAT * ksmt_page_size, PAT, tag, false);
	ksmt_set("run", 0);
	if (ksmt_merging_pages(getpid()) != NPAGES) {
		ksft_print_msg("ksm_merging_pages %ld, want %d\n",
			       ksmt_merging_pages(getpid()), NPAGES);
		ok = false;
	}
	return ok;
}

/*
 * MADV_PAGEOUT leaves pages mapped more than once alone, so break the
 * second copy first: the KSM pages of the first are then mapped once.
 */
static void test_pageout(void)
{
	int swapped;
	bool ok = true;
	char *p;

	p = setup_mapped_once(1, 2);
	if (!p) {
		ksft_test_result_fail("MADV_PAGEOUT: not merged\n");
		return;
	}
	if (ksmt_proc_field(getpid(), "smaps_rollup", "KSM") !=
	    PAT * (long)ksmt_page_size / 1024) {
		ksft_print_msg("KSM pages of the first copy gone\n");
		ok = false;
	}
	swapped = page_out(p, PAT);
	if (swapped != PAT) {
		ksft_print_msg("MADV_PAGEOUT: %d of %d KSM pages swapped\n",
			       swapped, PAT);
		ok = false;
	}
	ksmt_fill_range(p + PAT * ksmt_page_size, PAT, 1, false);
	ok &= swap_in_and_remerge(p, 1);
	ksft_test_result(ok, "MADV_PAGEOUT of KSM pages, swap-in, merged again\n");
	ksmt_stop_unmerge();
	munmap(p, NPAGES * ksmt_page_size);
}

#define CG_ROOT	"/sys/fs/cgroup"
#define CG	CG_ROOT "/ksm_swap_test"

static bool cg_mounted, cg_enabled, cg_made;

/* A memory cgroup holding this process; false if there is none. */
static bool cg_enter(void)
{
	char buf[4096], pid[16];

	if (ksmt_read_path("/proc/mounts", buf, sizeof(buf)) > 0 &&
	    !strstr(buf, " " CG_ROOT " cgroup2 ")) {
		if (mount("none", CG_ROOT, "cgroup2", 0, NULL))
			return false;
		cg_mounted = true;
	}
	if (ksmt_read_path(CG_ROOT "/cgroup.subtree_control", buf, sizeof(buf)) < 0)
		return false;
	if (!strstr(buf, "memory")) {
		if (ksmt_write_path(CG_ROOT "/cgroup.subtree_control", "+memory"))
			return false;
		cg_enabled = true;
	}
	if (mkdir(CG, 0755) && errno != EEXIST)
		return false;
	cg_made = true;
	snprintf(pid, sizeof(pid), "%d", getpid());
	return !ksmt_write_path(CG "/cgroup.procs", pid) &&
	       !access(CG "/memory.reclaim", W_OK);
}

static void cg_leave(void)
{
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", getpid());
	ksmt_write_path(CG_ROOT "/cgroup.procs", pid);
	if (cg_made)
		rmdir(CG);
	if (cg_enabled)
		ksmt_write_path(CG_ROOT "/cgroup.subtree_control", "-memory");
	if (cg_mounted)
		umount(CG_ROOT);
}

/*
 * Memory cgroup reclaim walks every mapping of a KSM page, so pages
 * mapped twice are swapped out too.
 */
static void test_memcg_reclaim(void)
{
	int tries, swapped = 0;
	bool ok = true;
	char *p;

	if (!cg_enter()) {
		cg_leave();
		ksft_test_result_fail("no memory cgroup with memory.reclaim\n");
		return;
	}
	p = setup_merged(3);
	if (!p) {
		cg_leave();
		ksft_test_result_fail("memcg reclaim: not merged\n");
		return;
	}
	/* the first pass may only clear the accessed bits */
	for (tries = 0; tries < 20; tries++) {
		ksmt_write_path(CG "/memory.reclaim", "16M");
		swapped = count_swapped(p, NPAGES);
		if (swapped == NPAGES)
			break;
		usleep(100000);
	}
	if (swapped != NPAGES) {
		ksft_print_msg("memory.reclaim: %d of %d KSM mappings swapped\n",
			       swapped, NPAGES);
		ok = false;
	}
	ok &= swap_in_and_remerge(p, 3);
	ksft_test_result(ok, "memcg reclaim of shared KSM pages, swap-in, merged again\n");
	ksmt_stop_unmerge();
	munmap(p, NPAGES * ksmt_page_size);
	cg_leave();
}

/*
 * A KSM page still in the swap cache from its swap-in, and mapped once:
 * a write takes it over in place once its swap slot is let go, as an
 * anonymous page's would be.  zram swaps a page in past the swap cache
 * when its slot has a single user: a child forked while the pages are
 * out shares the slots, so that swap-in goes through the swap cache.
 */
/* Pages of [p, p + n pages) whose frame is in the swap cache. */
static int count_in_swapcache(const char *p, int n)
{
	int i, in_cache = 0;

	for (i = 0; i < n; i++)
		in_cache += !!(ksmt_kpageflags(ksmt_pfn(0, p + i * ksmt_page_size)) &
			       (1ULL << KSMT_KPF_SWAPCACHE));
	return in_cache;
}

/*
 * Page out the NPAGES pages of @p and read them back through the swap
 * cache; true if their contents came back, and in *@in_cache how many
 * stayed there.
 */
static bool swap_in_through_cache(char *p, int *in_cache)
{
	pid_t child;
	bool ok;

	madvise(p, NPAGES * ksmt_page_size, MADV_PAGEOUT);
	ok = count_swapped(p, NPAGES) == NPAGES;
	fflush(stdout);
	child = fork();
	if (!child) {
		pause();
		_exit(0);
	}
	/* read back: the folios stay in the swap cache, swap is not full */
	ok = ok && child > 0 && ksmt_check_range(p, PAT, 4, false) &&
	     ksmt_check_range(p + PAT * ksmt_page_size, PAT, 4, false);
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	*in_cache = count_in_swapcache(p, NPAGES);
	return ok;
}

static void test_swapcache_reuse(void)
{
	int i, tries, in_cache = 0, kept = 0;
	long reused;
	char *p;
	bool ok;

	if (access(KSMT_DIR "pages_reused", F_OK)) {
		ksft_test_result_skip("no pages_reused: KSM pages are always copied\n");
		return;
	}
	p = ksmt_map(NPAGES);
	ksmt_fill_range(p, PAT, 4, false);
	ksmt_fill_range(p + PAT * ksmt_page_size, PAT, 4, false);
	/*
	 * Reclaim, or a swap that looks full, may free the slots of pages
	 * just read back: that is no KSM matter, so try the setup again.
	 */
	for (tries = 0; tries < 3; tries++) {
		ok = swap_in_through_cache(p, &in_cache);
		if (!ok || in_cache == NPAGES)
			break;
		ksft_print_msg("%d of %d pages read back stayed in the swap cache, again\n",
			       in_cache, NPAGES);
	}
	if (in_cache != NPAGES)
		ksft_print_msg("setup: %d of %d pages read back in the swap cache\n",
			       in_cache, NPAGES);
	ok = ok && in_cache == NPAGES;
	ksmt_mergeable(p, NPAGES);
	ksmt_set("run", 1);
	ok = ok && ksmt_wait_merged(PAT, PAT);
	ksmt_set("run", 0);
	/* the first copies are copied: the KSM pages are left mapped once */
	for (i = 0; i < PAT; i++)
		p[i * ksmt_page_size] ^= 1;
	in_cache = count_in_swapcache(p + PAT * ksmt_page_size, PAT);
	reused = ksmt_get("pages_reused");
	for (i = PAT; i < NPAGES; i++) {
		uint64_t pfn = ksmt_pfn(0, p + i * ksmt_page_size);

		p[i * ksmt_page_size] ^= 2;
		kept += pfn && pfn == ksmt_pfn(0, p + i * ksmt_page_size);
	}
	reused = ksmt_get("pages_reused") - reused;
	ksft_print_msg("%d of %d KSM pages in the swap cache; %d kept their frame, %ld reused\n",
		       in_cache, PAT, kept, reused);
	ok = ok && in_cache == PAT && kept == PAT && reused == PAT;
	for (i = 0; i < PAT; i++) {
		p[i * ksmt_page_size] ^= 1;
		p[(PAT + i) * ksmt_page_size] ^= 2;
	}
	ok = ok && ksmt_check_range(p, PAT, 4, false) &&
	     ksmt_check_range(p + PAT * ksmt_page_size, PAT, 4, false);
	ksft_test_result(ok, "a KSM page in the swap cache, mapped once, is reused on write\n");
	ksmt_stop_unmerge();
	munmap(p, NPAGES * ksmt_page_size);
}

/* Pages of [p, p + n pages) whose frame in @pfn is still a KSM page. */
static int count_ksm(const uint64_t *pfn, int n)
{
	int i, ksm = 0;

	for (i = 0; i < n; i++)
		ksm += pfn[i] &&
		       !!(ksmt_kpageflags(pfn[i]) & (1ULL << KSMT_KPF_KSM));
	return ksm;
}

/*
 * MADV_UNMERGEABLE breaks the merges it finds mapped; a KSM page that
 * reclaim unmapped but could not free (a pipe holds it here) waits in the
 * swap cache.  Read back into the range, now not VM_MERGEABLE, it must
 * come back as a copy: no later run=2 walks that range, and the KSM page
 * would stay shared, its stable node busy, for as long as it is mapped.
 */
static void test_unmergeable_swapin(void)
{
	uint64_t pfn[PAT];
	struct iovec iov = { .iov_len = PAT * ksmt_page_size };
	int i, pfd[2], swapped, ksm;
	bool ok;
	char *p;

	p = setup_mapped_once(5, 6);
	if (!p) {
		ksft_test_result_fail("MADV_UNMERGEABLE, swap-in: not merged\n");
		return;
	}
	for (i = 0; i < PAT; i++)
		pfn[i] = ksmt_pfn(0, p + i * ksmt_page_size);
	iov.iov_base = p;
	if (pipe(pfd) || fcntl(pfd[1], F_SETPIPE_SZ, 2 * iov.iov_len) < 0 ||
	    vmsplice(pfd[1], &iov, 1, 0) != (ssize_t)iov.iov_len)
		ksft_exit_fail_msg("pipe, vmsplice: %s\n", strerror(errno));
	swapped = page_out(p, PAT);
	ksm = count_ksm(pfn, PAT);
	ksft_print_msg("paged out %d of %d KSM pages, %d held in the swap cache\n",
		       swapped, PAT, ksm);
	if (madvise(p, NPAGES * ksmt_page_size, MADV_UNMERGEABLE))
		ksft_exit_fail_msg("MADV_UNMERGEABLE: %s\n", strerror(errno));
	ok = ksmt_check_range(p, PAT, 5, false);
	for (i = 0; i < PAT; i++)
		pfn[i] = ksmt_pfn(0, p + i * ksmt_page_size);
	ksm = count_ksm(pfn, PAT);
	if (ksm)
		ksft_print_msg("%d KSM pages mapped in the unmergeable range\n",
			       ksm);
	close(pfd[0]);
	close(pfd[1]);
	if (!swapped)
		ksft_print_msg("setup: MADV_PAGEOUT paged out no KSM page\n");
	ksft_test_result(ok && swapped && !ksm,
			 "MADV_UNMERGEABLE, then a swap-in from the swap cache: no KSM page\n");
	ksmt_stop_unmerge();
	munmap(p, NPAGES * ksmt_page_size);
}

int main(void)
{
	int ret;

	ksmt_start();
	ret = ksmt_zram_swapon(ZRAM_MB);
	if (!ret)
		ksft_exit_skip("zram0 not available for swap\n");
	if (ret < 0)
		ksft_exit_fail_msg("setting up swap on zram0 failed\n");
	ksft_set_plan(4);
	ksmt_setup();

	test_pageout();
	test_memcg_reclaim();
	test_swapcache_reuse();
	test_unmergeable_swapin();

	ksmt_restore();
	ksmt_zram_swapoff();
	ksft_finished();
}
