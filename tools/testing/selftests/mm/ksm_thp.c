// SPDX-License-Identifier: GPL-2.0
/*
 * KSM on transparent huge pages: ksmd has to split a THP to merge its
 * small pages; the contents stay and the counters are exact.
 */
#include "ksm_test_util.h"

#define THP_ENABLED	"/sys/kernel/mm/transparent_hugepage/enabled"
#define HPAGE		(2UL << 20)

static char thp_saved[64];

static bool thp_setup(void)
{
	char *s, *e;

	if (ksmt_read_path(THP_ENABLED, thp_saved, sizeof(thp_saved)) <= 0)
		return false;
	s = strchr(thp_saved, '[');
	e = s ? strchr(s, ']') : NULL;
	if (!s || !e)
		return false;
	memmove(thp_saved, s + 1, e - s - 1);
	thp_saved[e - s - 1] = '\0';
	return !ksmt_write_path(THP_ENABLED, "madvise");
}

static void thp_restore(void)
{
	if (thp_saved[0])
		ksmt_write_path(THP_ENABLED, thp_saved);
}

/* One 2 MiB aligned THP; NULL if none could be had. */
static char *map_thp(void)
{
	char *raw, *p;

	raw = mmap(NULL, 2 * HPAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	p = (char *)(((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1));
	if (p > raw)
		munmap(raw, p - raw);
	munmap(p + HPAGE, raw + HPAGE - p);
	if (madvise(p, HPAGE, MADV_HUGEPAGE)) {
		munmap(p, HPAGE);
		return NULL;
	}
	p[0] = 1;
	return p;
}

static long anon_huge_kb(void)
{
	return ksmt_proc_field(getpid(), "smaps_rollup", "AnonHugePages");
}

/*
 * A THP whose first half is one repeated page and second half unique
 * pages: one KSM page mapped 256 times, the rest left alone.
 */
static void test_thp(void)
{
	size_t n = HPAGE / ksmt_page_size, half = n / 2, i;
	uint64_t pfn;
	bool ok = true;
	char *p;

	p = map_thp();
	if (!p || anon_huge_kb() < (long)(HPAGE / 1024)) {
		ksft_test_result_fail("no THP: AnonHugePages %ld kB\n",
				      anon_huge_kb());
		if (p)
			munmap(p, HPAGE);
		return;
	}
	ksmt_fill_range(p, half, 1, true);
	ksmt_fill_range(p + half * ksmt_page_size, n - half, 2, false);
	ksmt_mergeable(p, n);
	ksmt_set("run", 1);
	if (!ksmt_wait_merged(1, half - 1)) {
		ok = false;
		goto out;
	}
	ksmt_set("run", 0);
	/* merging needed small pages: the THP is split */
	if (anon_huge_kb()) {
		ksft_print_msg("AnonHugePages %ld kB after merging\n", anon_huge_kb());
		ok = false;
	}
	pfn = ksmt_pfn(0, p);
	for (i = 0; i < half; i++)
		if (!pfn || ksmt_pfn(0, p + i * ksmt_page_size) != pfn) {
			ksft_print_msg("page %zu not on the KSM page\n", i);
			ok = false;
			break;
		}
	if (ksmt_merging_pages(getpid()) != (long)half) {
		ksft_print_msg("ksm_merging_pages %ld, want %zu\n",
			       ksmt_merging_pages(getpid()), half);
		ok = false;
	}
	if (!ksmt_check_range(p, half, 1, true) ||
	    !ksmt_check_range(p + half * ksmt_page_size, n - half, 2, false)) {
		ksft_print_msg("contents changed\n");
		ok = false;
	}
	ksmt_set("run", 2);
	if (ksmt_get("pages_shared") || ksmt_get("pages_sharing") ||
	    !ksmt_check_range(p, half, 1, true) ||
	    !ksmt_check_range(p + half * ksmt_page_size, n - half, 2, false)) {
		ksft_print_msg("run=2: not unmerged or contents changed\n");
		ok = false;
	}
out:
	ksmt_stop_unmerge();
	munmap(p, HPAGE);
	ksft_test_result(ok, "THP split and merged: 1 KSM page for %zu mappings\n", half);
}

int main(void)
{
	ksmt_start();
	if (access(THP_ENABLED, F_OK))
		ksft_exit_skip("no transparent huge pages\n");
	ksft_set_plan(1);
	ksmt_setup();
	if (!thp_setup())
		ksft_exit_fail_msg("cannot set " THP_ENABLED "\n");

	test_thp();

	thp_restore();
	ksmt_restore();
	ksft_finished();
}
