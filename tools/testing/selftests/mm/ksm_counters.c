// SPDX-License-Identifier: GPL-2.0
/*
 * Exact KSM counters for known memory layouts: the global ones in
 * /sys/kernel/mm/ksm and the per-process ones in /proc/PID/ksm_stat,
 * /proc/PID/ksm_merging_pages and the smaps "KSM:" line.
 */
#include "ksm_test_util.h"

/* sizeof(struct ksm_rmap_item) as seen through ksm_process_profit */
static long rmap_item_size = -1;

/* Per-process counters; false with a message if one differs. */
static bool check_proc(pid_t pid, long merging, long rmap, long zero)
{
	long mp = ksmt_merging_pages(pid);
	long st_mp = ksmt_proc_field(pid, "ksm_stat", "ksm_merging_pages");
	long st_rmap = ksmt_proc_field(pid, "ksm_stat", "ksm_rmap_items");
	long st_zero = ksmt_proc_field(pid, "ksm_stat", "ksm_zero_pages");
	long profit = ksmt_proc_field(pid, "ksm_stat", "ksm_process_profit");
	long smaps = ksmt_proc_field(pid, "smaps_rollup", "KSM");
	long want_profit;
	bool ok = true;

	if (mp != merging || st_mp != merging) {
		ksft_print_msg("pid %d: ksm_merging_pages %ld, ksm_stat %ld, want %ld\n",
			       pid, mp, st_mp, merging);
		ok = false;
	}
	if (rmap >= 0 && st_rmap != rmap) {
		ksft_print_msg("pid %d: ksm_rmap_items %ld, want %ld\n",
			       pid, st_rmap, rmap);
		ok = false;
	}
	if (st_zero != zero) {
		ksft_print_msg("pid %d: ksm_zero_pages %ld, want %ld\n",
			       pid, st_zero, zero);
		ok = false;
	}
	if (smaps != merging * (long)ksmt_page_size / 1024) {
		ksft_print_msg("pid %d: smaps KSM: %ld kB, want %ld kB\n",
			       pid, smaps, merging * (long)ksmt_page_size / 1024);
		ok = false;
	}
	want_profit = (merging + zero) * (long)ksmt_page_size - st_rmap * rmap_item_size;
	if (rmap_item_size > 0 && profit != want_profit) {
		ksft_print_msg("pid %d: ksm_process_profit %ld, want %ld\n",
			       pid, profit, want_profit);
		ok = false;
	}
	return ok;
}

static bool check_global(long shared, long sharing, long zero)
{
	long sh = ksmt_get("pages_shared"), sg = ksmt_get("pages_sharing");
	long z = ksmt_get("ksm_zero_pages");

	if (sh == shared && sg == sharing && z == zero)
		return true;
	ksft_print_msg("pages_shared %ld pages_sharing %ld ksm_zero_pages %ld, want %ld %ld %ld\n",
		       sh, sg, z, shared, sharing, zero);
	return false;
}

/* Three processes: N pages identical across them, U unique to each. */
#define L_N 48
#define L_U 8

struct layout_arg {
	int id;
	char *p;
};

static char layout_fn(char cmd, void *arg)
{
	struct layout_arg *a = arg;

	switch (cmd) {
	case 's':
		a->p = ksmt_map(L_N + L_U);
		ksmt_fill_range(a->p, L_N, 100, false);
		ksmt_fill_range(a->p + L_N * ksmt_page_size, L_U, 200 + a->id, false);
		ksmt_mergeable(a->p, L_N + L_U);
		return 'y';
	case 'c':
		if (!ksmt_check_range(a->p, L_N, 100, false))
			return 'n';
		return ksmt_check_range(a->p + L_N * ksmt_page_size, L_U,
					200 + a->id, false) ? 'y' : 'n';
	}
	return 'n';
}

static void test_layout(void)
{
	struct layout_arg args[3];
	struct ksmt_worker w[3];
	long profit, gp, rmap, want;
	bool ok = true;
	int i;

	for (i = 0; i < 3; i++) {
		args[i].id = i;
		ksmt_worker_start(&w[i], layout_fn, &args[i]);
	}
	/* smart scan would take skipped pages out of pages_unshared */
	ksmt_set("smart_scan", 0);
	ksmt_set("run", 1);
	if (!ksmt_wait_merged(L_N, 2 * L_N)) {
		ok = false;
		goto out;
	}
	/* stop ksmd so that everything below reads one state */
	ksmt_set("run", 0);
	ok &= check_global(L_N, 2 * L_N, 0);
	/* every unique page sits in the unstable tree, none is volatile */
	if (ksmt_get("pages_unshared") != 3 * L_U ||
	    ksmt_get("pages_volatile") != 0) {
		ksft_print_msg("pages_unshared %ld pages_volatile %ld, want %d 0\n",
			       ksmt_get("pages_unshared"),
			       ksmt_get("pages_volatile"), 3 * L_U);
		ok = false;
	}

	/* the rmap item size follows from one process' profit */
	profit = ksmt_proc_field(w[0].pid, "ksm_stat", "ksm_process_profit");
	rmap = ksmt_proc_field(w[0].pid, "ksm_stat", "ksm_rmap_items");
	if (rmap > 0 && (L_N * (long)ksmt_page_size - profit) % rmap == 0)
		rmap_item_size = (L_N * (long)ksmt_page_size - profit) / rmap;
	if (rmap_item_size <= 0 || rmap_item_size >= (long)ksmt_page_size) {
		ksft_print_msg("ksm_process_profit %ld with %ld rmap items: no sane item size\n",
			       profit, rmap);
		rmap_item_size = -1;
		ok = false;
	}
	for (i = 0; i < 3; i++)
		ok &= check_proc(w[i].pid, L_N, L_N + L_U, 0);

	/* general_profit counts pages_sharing, not every merged mapping */
	gp = ksmt_get("general_profit");
	want = 2 * L_N * (long)ksmt_page_size - 3 * (L_N + L_U) * rmap_item_size;
	if (gp != want) {
		ksft_print_msg("general_profit %ld, want %ld\n", gp, want);
		ok = false;
	}
	for (i = 0; i < 3; i++)
		if (!ksmt_worker_do(&w[i], 'c')) {
			ksft_print_msg("process %d: contents changed\n", i);
			ok = false;
		}

	/* run=2 takes every counter back to 0 and keeps the contents */
	ksmt_set("run", 2);
	ok &= check_global(0, 0, 0);
	for (i = 0; i < 3; i++) {
		ok &= check_proc(w[i].pid, 0, 0, 0);
		if (!ksmt_worker_do(&w[i], 'c')) {
			ksft_print_msg("process %d: contents changed by run=2\n", i);
			ok = false;
		}
	}
out:
	for (i = 0; i < 3; i++)
		ksmt_worker_stop(&w[i]);
	ksmt_stop_unmerge();
	ksmt_set("smart_scan", 1);
	ksft_test_result(ok, "3 processes: global, ksm_stat, smaps, general_profit\n");
}

/* use_zero_pages=1: zero-filled pages map the zero page. */
#define Z_Z 32
#define Z_D 8

static void test_zero_pages(void)
{
	size_t half = Z_Z / 2, i;
	pid_t self = getpid();
	uint64_t pfn0;
	bool ok = true;
	char *p;

	ksmt_set("use_zero_pages", 1);
	p = ksmt_map(Z_Z + Z_D);
	/* really allocate the zero pages, then clear them */
	ksmt_fill_range(p, Z_Z, 600, false);
	memset(p, 0, Z_Z * ksmt_page_size);
	ksmt_fill_range(p + Z_Z * ksmt_page_size, Z_D, 601, true);
	ksmt_mergeable(p, Z_Z + Z_D);
	ksmt_set("run", 1);
	if (!ksmt_wait_counter("ksm_zero_pages", Z_Z) ||
	    !ksmt_wait_merged(1, Z_D - 1)) {
		ok = false;
		goto out;
	}
	ksmt_set("run", 0);
	ok &= check_global(1, Z_D - 1, Z_Z);
	/* a page on the zero page has no rmap item after the next pass */
	ok &= check_proc(self, Z_D, Z_D, Z_Z);

	/* all zero pages now map one page frame */
	pfn0 = ksmt_pagemap(p) & KSMT_PM_PFN_MASK;
	for (i = 0; i < Z_Z; i++) {
		uint64_t ent = ksmt_pagemap(p + i * ksmt_page_size);

		if (!(ent & KSMT_PM_PRESENT) || (ent & KSMT_PM_PFN_MASK) != pfn0) {
			ksft_print_msg("zero page %zu not on the shared zero page\n", i);
			ok = false;
			break;
		}
		if (memcmp(p + i * ksmt_page_size, p, ksmt_page_size) || p[i * ksmt_page_size])
			ok = false;
	}

	/* zapping drops the count at once, without ksmd */
	munmap(p, half * ksmt_page_size);
	if (ksmt_get("ksm_zero_pages") != Z_Z - (long)half ||
	    ksmt_proc_field(self, "ksm_stat", "ksm_zero_pages") != Z_Z - (long)half) {
		ksft_print_msg("after munmap of %zu: ksm_zero_pages %ld, process %ld, want %zu\n",
			       half, ksmt_get("ksm_zero_pages"),
			       ksmt_proc_field(self, "ksm_stat", "ksm_zero_pages"),
			       Z_Z - half);
		ok = false;
	}
	/* so does a write fault replacing one */
	p[half * ksmt_page_size] = 1;
	if (ksmt_get("ksm_zero_pages") != Z_Z - (long)half - 1) {
		ksft_print_msg("after a write: ksm_zero_pages %ld, want %zu\n",
			       ksmt_get("ksm_zero_pages"), Z_Z - half - 1);
		ok = false;
	}
	p[half * ksmt_page_size] = 0;

	ksmt_set("run", 2);
	ok &= check_global(0, 0, 0);
	for (i = half; i < Z_Z; i++)
		if (memcmp(p + i * ksmt_page_size, p + half * ksmt_page_size,
			   ksmt_page_size) || p[i * ksmt_page_size]) {
			ksft_print_msg("zero page %zu not zero after unmerge\n", i);
			ok = false;
			break;
		}
	if (!ksmt_check_range(p + Z_Z * ksmt_page_size, Z_D, 601, true)) {
		ksft_print_msg("data pages changed\n");
		ok = false;
	}
out:
	munmap(p, (Z_Z + Z_D) * ksmt_page_size);
	ksmt_stop_unmerge();
	ksmt_set("use_zero_pages", 0);
	ksft_test_result(ok, "use_zero_pages: ksm_zero_pages, zapped by munmap and write\n");
}

/* K identical pages with max_page_sharing = max: one chain of K/max dups */
static void test_chain(int max, int k)
{
	pid_t self = getpid();
	bool ok = true;
	long v;
	char *p;

	if (ksmt_write_ul("max_page_sharing", max)) {
		ksft_test_result_fail("max_page_sharing=%d refused\n", max);
		return;
	}
	p = ksmt_map(k);
	ksmt_fill_range(p, k, 700 + max, true);
	ksmt_mergeable(p, k);
	ksmt_set("run", 1);
	if (!ksmt_wait_merged(k / max, k - k / max)) {
		ok = false;
		goto out;
	}
	ksmt_set("run", 0);
	v = ksmt_get("stable_node_chains");
	if (v != 1) {
		ksft_print_msg("stable_node_chains %ld, want 1\n", v);
		ok = false;
	}
	v = ksmt_get("stable_node_dups");
	if (v != k / max) {
		ksft_print_msg("stable_node_dups %ld, want %d\n", v, k / max);
		ok = false;
	}
	ok &= check_proc(self, k, k, 0);
	if (!ksmt_check_range(p, k, 700 + max, true)) {
		ksft_print_msg("contents changed\n");
		ok = false;
	}
	ksmt_set("run", 2);
	if (ksmt_get("stable_node_chains") || ksmt_get("stable_node_dups")) {
		ksft_print_msg("chains/dups left after run=2\n");
		ok = false;
	}
	ok &= check_global(0, 0, 0) && ksmt_check_range(p, k, 700 + max, true);
out:
	munmap(p, k * ksmt_page_size);
	ksmt_stop_unmerge();
	ksmt_set("max_page_sharing", 256);
	ksft_test_result(ok, "max_page_sharing=%d, %d identical pages: %d dups in one chain\n",
			 max, k, k / max);
}

/* Two processes fill alike, then the child writes W of its pages. */
#define F_N 32
#define F_W 8

/*
 * A child worker and this process fill @area alike, and ksmd merges it
 * (run stays 1).  The worker is forked first: pages inherited from the
 * parent would be merged too.  False if the pages did not merge.
 */
static bool merged_pair_start(struct ksmt_area *area, struct ksmt_worker *w)
{
	ksmt_worker_start(w, ksmt_area_fn, area);
	ksmt_area_fn('s', area);
	ksmt_set("run", 1);
	return ksmt_wait_merged(F_N, F_N);
}

static void merged_pair_end(struct ksmt_area *area, struct ksmt_worker *w,
			    bool ok, const char *name)
{
	ksmt_worker_stop(w);
	munmap(area->p, F_N * ksmt_page_size);
	ksmt_stop_unmerge();
	ksft_test_result(ok, "%s\n", name);
}

static void test_write_after_merge(void)
{
	struct ksmt_area area = { .npages = F_N, .tag = 800, .nwrite = F_W };
	struct ksmt_worker w;
	bool ok = merged_pair_start(&area, &w);
	char *p = area.p;

	if (!ok)
		goto out;
	if (!ksmt_worker_do(&w, 'w')) {
		ksft_print_msg("child does not read back its write\n");
		ok = false;
	}
	if (!ksmt_check_range(p, F_N, 800, false)) {
		ksft_print_msg("parent sees the child's write\n");
		ok = false;
	}
	/* the parent's KSM pages stay, now mapped once */
	if (!ksmt_wait_merged(F_N, F_N - F_W)) {
		ok = false;
		goto out;
	}
	ksmt_set("run", 0);
	ok &= check_proc(getpid(), F_N, F_N, 0);
	ok &= check_proc(w.pid, F_N - F_W, F_N, 0);
	if (!ksmt_worker_do(&w, 'c') || !ksmt_check_range(p, F_N, 800, false)) {
		ksft_print_msg("contents changed\n");
		ok = false;
	}
out:
	merged_pair_end(&area, &w, ok,
			"child writes to merged pages: COW, counters drop");
}

/* The parent's half of the test below: its first W pages are (900, i). */
static bool parent_pages_intact(const char *p)
{
	size_t i;

	for (i = 0; i < F_N; i++)
		if (!ksmt_check(p + i * ksmt_page_size, i < F_W ? 900 : 810, i))
			return false;
	return true;
}

/*
 * Both processes rewrite the same W merged pages, each with contents of
 * its own, while ksmd is stopped: the W KSM pages are freed, and their
 * stable nodes go stale with both items still on them.  When ksmd comes
 * through again, every counter, global and per process, must come down
 * by exactly W, and no page may merge with another content.
 */
static void test_both_write_after_merge(void)
{
	struct ksmt_area area = { .npages = F_N, .tag = 810, .nwrite = F_W };
	struct ksmt_worker w;
	bool ok = merged_pair_start(&area, &w);
	char *p = area.p;

	if (!ok)
		goto out;
	ksmt_set("run", 0);
	ksmt_fill_range(p, F_W, 900, false);
	if (!ksmt_worker_do(&w, 'w')) {
		ksft_print_msg("child does not read back its write\n");
		ok = false;
	}
	ksmt_set("run", 1);
	if (!ksmt_wait_merged(F_N - F_W, F_N - F_W)) {
		ok = false;
		goto out;
	}
	ksmt_set("run", 0);
	ok &= check_proc(getpid(), F_N - F_W, F_N, 0);
	ok &= check_proc(w.pid, F_N - F_W, F_N, 0);
	if (!ksmt_worker_do(&w, 'c') || !parent_pages_intact(p)) {
		ksft_print_msg("contents changed\n");
		ok = false;
	}
out:
	merged_pair_end(&area, &w, ok,
			"both write to merged pages: stale nodes, counters drop");
}

/* Fork a process whose pages are merged; the child writes some. */
#define I_N 16
#define I_W 4

static char inherit_fn(char cmd, void *arg)
{
	char *p = *(char **)arg;

	switch (cmd) {
	case 's':
		ksmt_fill_range(p, I_W, 901, false);
		return ksmt_check_range(p, I_W, 901, false) &&
		       ksmt_check_range(p + I_W * ksmt_page_size, I_N - I_W, 900, true) ? 'y' : 'n';
	case 'c':
		return ksmt_check_range(p, I_W, 901, false) &&
		       ksmt_check_range(p + I_W * ksmt_page_size, I_N - I_W, 900, true) ? 'y' : 'n';
	}
	return 'n';
}

static void test_fork_merged(void)
{
	struct ksmt_worker w;
	bool ok = true;
	char *p;

	p = ksmt_map(I_N);
	ksmt_fill_range(p, I_N, 900, true);
	ksmt_mergeable(p, I_N);
	ksmt_set("run", 1);
	if (!ksmt_wait_merged(1, I_N - 1)) {
		ksft_test_result_fail("fork of merged pages: not merged\n");
		goto out_unmap;
	}
	ksmt_set("run", 0);
	/* the child writes its first pages as soon as it runs */
	ksmt_worker_start(&w, inherit_fn, &p);
	if (!ksmt_check_range(p, I_N, 900, true)) {
		ksft_print_msg("parent sees the child's writes\n");
		ok = false;
	}
	/* the child's remaining mappings of the KSM page get counted too */
	ksmt_set("run", 1);
	if (!ksmt_wait_merged(1, 2 * I_N - I_W - 1)) {
		ok = false;
		goto out;
	}
	ksmt_set("run", 0);
	ok &= check_proc(getpid(), I_N, I_N, 0);
	ok &= check_proc(w.pid, I_N - I_W, -1, 0);
	if (!ksmt_worker_do(&w, 'c') || !ksmt_check_range(p, I_N, 900, true)) {
		ksft_print_msg("contents changed\n");
		ok = false;
	}
out:
	ksmt_worker_stop(&w);
	ksft_test_result(ok, "fork of merged pages, child writes: COW, child counted\n");
out_unmap:
	munmap(p, I_N * ksmt_page_size);
	ksmt_stop_unmerge();
}

/*
 * smart_scan=1 skips pages that keep failing to merge, counted in
 * pages_skipped; smart_scan=0 scans every page every time.
 */
static void test_smart_scan(void)
{
	const int n = 16;
	long before, after;
	bool ok = true;
	char *p;

	p = ksmt_map(n);
	ksmt_fill_range(p, n, 1000, false);
	ksmt_mergeable(p, n);
	ksmt_set("smart_scan", 1);
	before = ksmt_get("pages_skipped");
	ksmt_set("run", 1);
	/* a page becomes skippable only after some unsuccessful passes */
	if (!ksmt_wait_scans(10)) {
		ok = false;
		goto out;
	}
	after = ksmt_get("pages_skipped");
	if (after <= before) {
		ksft_print_msg("smart_scan=1: pages_skipped %ld -> %ld over 10 scans\n",
			       before, after);
		ok = false;
	}
	ksmt_set("smart_scan", 0);
	/* the pass under way may still skip */
	if (!ksmt_wait_scans(1)) {
		ok = false;
		goto out;
	}
	before = ksmt_get("pages_skipped");
	if (!ksmt_wait_scans(4)) {
		ok = false;
		goto out;
	}
	after = ksmt_get("pages_skipped");
	if (after != before) {
		ksft_print_msg("smart_scan=0: pages_skipped %ld -> %ld\n",
			       before, after);
		ok = false;
	}
	if (!ksmt_check_range(p, n, 1000, false))
		ok = false;
out:
	ksmt_set("run", 0);
	ksmt_set("smart_scan", 1);
	munmap(p, n * ksmt_page_size);
	ksmt_stop_unmerge();
	ksft_test_result(ok, "smart_scan: pages_skipped grows with 1, not with 0\n");
}

int main(void)
{
	ksmt_start();
	ksft_set_plan(8);
	ksmt_save();
	ksmt_stop_unmerge();
	if (ksmt_get("pages_shared") || ksmt_get("pages_sharing") ||
	    ksmt_get("ksm_zero_pages"))
		ksft_exit_fail_msg("KSM pages left over by someone else\n");
	ksmt_fast_scan();
	ksmt_set("use_zero_pages", 0);
	ksmt_set("max_page_sharing", 256);
	ksmt_set("smart_scan", 1);

	test_layout();
	test_zero_pages();
	test_chain(2, 8);
	test_chain(3, 9);
	test_write_after_merge();
	test_both_write_after_merge();
	test_fork_merged();
	test_smart_scan();

	ksmt_restore();
	ksft_finished();
}
