// SPDX-License-Identifier: GPL-2.0
/*
 * Content keys that collide must never merge different pages, nor hide
 * identical ones.  Pages that differ only in a few bytes share most of
 * their content, as a sampled key would see them; on a kernel with the
 * debug knob /sys/kernel/debug/ksm/key_mask the keys are then made to
 * collide outright, for pages that differ anywhere.
 *
 * NR_GROUPS contents of COPIES pages each, and NR_UNIQUE pages of their
 * own, interleaved: exactly the groups must merge, each page must keep its
 * content, and no page may share a frame with a page of other content.
 */
#include "ksm_test_util.h"

#define NR_GROUPS	96
#define COPIES		4
#define NR_UNIQUE	256
#define NR_PAGES	(NR_GROUPS * COPIES + NR_UNIQUE)
#define KEY_MASK	"/sys/kernel/debug/ksm/key_mask"

static char *area;
static char saved_mask[32];

static void cleanup(void)
{
	if (saved_mask[0])
		ksmt_write_path(KEY_MASK, saved_mask);
	ksmt_restore();
}

/* Which content page i has: a group for the first pages, else its own. */
static uint64_t content_of(size_t i)
{
	return i < NR_GROUPS * COPIES ? i % NR_GROUPS : NR_GROUPS + i;
}

/*
 * Fill page i.  Spread: the contents differ all over the page.  Else they
 * are one pattern but for a word at byte 200 and the last-but-one word of
 * the page's first half, where a sample of a few cache lines may not look.
 */
static void fill(char *page, uint64_t id, bool spread)
{
	uint64_t *q = (uint64_t *)page;

	if (spread) {
		ksmt_fill(page, 0xc011, id);
		return;
	}
	ksmt_fill(page, 0xc011, 0);
	q[200 / 8] ^= id + 1;
	q[ksmt_page_size / 16 - 2] ^= (id + 1) << 32;
}

static bool intact(bool spread)
{
	static char *want;
	size_t i;

	if (!want)
		want = malloc(ksmt_page_size);
	if (!want)
		ksft_exit_fail_msg("out of memory\n");
	for (i = 0; i < NR_PAGES; i++) {
		fill(want, content_of(i), spread);
		if (memcmp(area + i * ksmt_page_size, want, ksmt_page_size)) {
			ksft_print_msg("page %zu changed\n", i);
			return false;
		}
	}
	return true;
}

/* No frame is shared by pages of different content; groups merged. */
static bool frames_right(void)
{
	uint64_t pfn[NR_PAGES];
	size_t i, j;

	for (i = 0; i < NR_PAGES; i++)
		pfn[i] = ksmt_pfn(0, area + i * ksmt_page_size);
	for (i = 0; i < NR_PAGES; i++) {
		for (j = i + 1; j < NR_PAGES; j++) {
			bool same = content_of(i) == content_of(j);
			bool shared = pfn[i] == pfn[j];

			if (!pfn[i] || shared != same) {
				ksft_print_msg("pages %zu, %zu: frames %#llx, %#llx\n",
					       i, j, (unsigned long long)pfn[i],
					       (unsigned long long)pfn[j]);
				ksft_print_msg("their contents are %s\n",
					       same ? "the same" : "different");
				return false;
			}
		}
	}
	return true;
}

static void run_case(bool spread, const char *what)
{
	size_t i;
	bool ok;

	ksmt_stop_unmerge();
	for (i = 0; i < NR_PAGES; i++)
		fill(area + i * ksmt_page_size, content_of(i), spread);
	ksmt_set("run", 1);
	ok = ksmt_wait_merged(NR_GROUPS, NR_GROUPS * (COPIES - 1));
	/* Between batches: no unique page is out of its tree for a visit. */
	ksmt_set("run", 0);
	ok = ok && ksmt_get("pages_unshared") == NR_UNIQUE;
	if (!ok)
		ksft_print_msg("shared %ld sharing %ld unshared %ld\n",
			       ksmt_get("pages_shared"),
			       ksmt_get("pages_sharing"),
			       ksmt_get("pages_unshared"));
	ok = ok && intact(spread) && frames_right();
	ksmt_stop_unmerge();
	ok = ok && !ksmt_get("pages_shared") && !ksmt_get("pages_sharing") &&
	     intact(spread);
	ksft_test_result(ok, "%s\n", what);
}

int main(void)
{
	bool have_mask;

	ksmt_start();
	ksft_set_plan(3);
	ksmt_take_over(cleanup);
	ksmt_setup();
	/* Unique pages that smart scan skips are out of the unstable tree. */
	ksmt_set("smart_scan", 0);

	area = ksmt_map(NR_PAGES);
	ksmt_mergeable(area, NR_PAGES);

	run_case(false, "pages alike but for two words: only equal ones merge");

	have_mask = ksmt_read_path(KEY_MASK, saved_mask,
				   sizeof(saved_mask)) > 0;
	if (!have_mask) {
		saved_mask[0] = 0;
		/* the reason in the name, for expected-skips to match */
		ksft_test_result_code(KSFT_SKIP,
				      "keys of 2 bits: no " KEY_MASK, "%s",
				      "keys cannot be made to collide");
		ksft_test_result_code(KSFT_SKIP,
				      "keys all equal: no " KEY_MASK, "%s",
				      "keys cannot be made to collide");
	} else {
		/* Two bits of key: a few large groups of colliding keys. */
		ksmt_stop_unmerge();
		ksmt_write_path(KEY_MASK, "0x3");
		run_case(true, "keys of 2 bits: only equal pages merge");
		/* No key at all: the trees order by content alone. */
		ksmt_stop_unmerge();
		ksmt_write_path(KEY_MASK, "0");
		run_case(true, "keys all equal: only equal pages merge");
	}

	munmap(area, NR_PAGES * ksmt_page_size);
	cleanup();
	ksft_finished();
}
