// SPDX-License-Identifier: GPL-2.0
/*
 * mremap() moving KSM-merged memory. Moving breaks the KSM pages in the
 * range (so they cannot turn up merged with unrelated pages at the new
 * place) but keeps the area mergeable: ksmd merges it again there, and
 * rmap finds the pages at their new place when they migrate.
 */
#define _GNU_SOURCE
#include "ksm_test_util.h"

#define PAT	16
#define NPAGES	(2 * PAT)

/* Two copies of a 16-page pattern: 16 KSM pages, each mapped twice. */
static char *setup(uint64_t tag)
{
	char *p = ksmt_map(NPAGES);

	ksmt_fill_range(p, PAT, tag, false);
	ksmt_fill_range(p + PAT * ksmt_page_size, PAT, tag, false);
	ksmt_mergeable(p, NPAGES);
	return p;
}

static bool contents(const char *p, uint64_t tag)
{
	return ksmt_check_range(p, PAT, tag, false) &&
	       ksmt_check_range(p + PAT * ksmt_page_size, PAT, tag, false);
}

/* Both copies of every pattern page on one frame (merged) or not. */
static bool copies_merged(pid_t pid, const char *p, bool merged)
{
	int i;

	for (i = 0; i < PAT; i++) {
		uint64_t a = ksmt_pfn(pid, p + i * ksmt_page_size);
		uint64_t b = ksmt_pfn(pid, p + (PAT + i) * ksmt_page_size);
		bool same = a == b;

		if (!a || !b || same != merged) {
			ksft_print_msg("page %d: frames %llx %llx, want %s\n", i,
				       (unsigned long long)a, (unsigned long long)b,
				       merged ? "equal" : "distinct");
			return false;
		}
	}
	return true;
}

/* Move to an address that cannot overlap the old range. */
static char *move(char *p)
{
	size_t len = NPAGES * ksmt_page_size;
	char *hole, *q;

	hole = mmap(NULL, 2 * len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hole == MAP_FAILED)
		return NULL;
	q = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, hole + len);
	munmap(hole, len);
	return q == MAP_FAILED ? NULL : q;
}

/*
 * Migrate the merged range p (and the child's range cp, mapping the same
 * KSM pages, unless cpid is 0) to the other NUMA node and back.  rmap must
 * find every mapping at its new address for the pages to move.
 */
static bool round_trip(char *p, pid_t cpid, char *cp)
{
	int from = ksmt_range_node(0, p, NPAGES);
	int nodes[2] = { !from, from };
	int i;

	if (from < 0)
		return false;
	for (i = 0; i < 2; i++) {
		/* one address per KSM page: a second one would find it busy */
		if (!ksmt_migrate(0, p, PAT, nodes[i]) ||
		    ksmt_range_node(0, p, NPAGES) != nodes[i] ||
		    !copies_merged(0, p, true))
			return false;
		if (cpid && (ksmt_range_node(cpid, cp, NPAGES) != nodes[i] ||
			     !copies_merged(cpid, cp, true)))
			return false;
	}
	return true;
}

static void test_move(void)
{
	long kb = NPAGES * ksmt_page_size / 1024;
	struct ksmt_worker ticker;
	bool ok = true;
	char *p, *q;

	/* fork before mapping: the child must not inherit the range */
	ksmt_ticker_start(&ticker);
	p = setup(1);
	ksmt_set("run", 1);
	if (!ksmt_wait_merged(PAT, PAT) || !copies_merged(0, p, true)) {
		ksft_test_result_fail("move: not merged before the move\n");
		ksft_test_result_skip("migrate after move: setup failed\n");
		ksft_test_result_skip("unmerge after move: setup failed\n");
		goto out;
	}
	ksmt_set("run", 0);
	q = move(p);
	if (!q) {
		ksft_test_result_fail("mremap: %s\n", strerror(errno));
		ksft_test_result_skip("migrate after move: setup failed\n");
		ksft_test_result_skip("unmerge after move: setup failed\n");
		goto out;
	}
	p = q;
	if (!contents(p, 1)) {
		ksft_print_msg("contents changed by the move\n");
		ok = false;
	}
	/* broken by the move itself, before ksmd looks again */
	ok &= copies_merged(0, p, false);
	if (ksmt_proc_field(getpid(), "smaps_rollup", "KSM")) {
		ksft_print_msg("smaps KSM: %ld kB after the move, want 0\n",
			       ksmt_proc_field(getpid(), "smaps_rollup", "KSM"));
		ok = false;
	}
	/* still mergeable at the new place */
	ksmt_set("run", 1);
	ok &= ksmt_wait_merged(PAT, PAT) && copies_merged(0, p, true) &&
	      contents(p, 1);
	ksmt_set("run", 0);
	if (ksmt_merging_pages(getpid()) != NPAGES ||
	    ksmt_proc_field(getpid(), "smaps_rollup", "KSM") != kb) {
		ksft_print_msg("after re-merge: ksm_merging_pages %ld smaps KSM %ld kB\n",
			       ksmt_merging_pages(getpid()),
			       ksmt_proc_field(getpid(), "smaps_rollup", "KSM"));
		ok = false;
	}
	ksft_test_result(ok, "move merged range: unmerged by mremap, merged again there\n");

	if (!ksmt_have_two_nodes())
		ksft_test_result_skip("migrate after move: needs two NUMA nodes\n");
	else
		ksft_test_result(round_trip(p, 0, NULL) && contents(p, 1),
				 "migrate after move: there and back, still merged\n");

	ok = !madvise(p, NPAGES * ksmt_page_size, MADV_UNMERGEABLE);
	ok &= copies_merged(0, p, false) && contents(p, 1);
	ksmt_set("run", 1);
	ok &= ksmt_wait_merged(0, 0) && contents(p, 1);
	if (ksmt_merging_pages(getpid())) {
		ksft_print_msg("ksm_merging_pages %ld after unmerge\n",
			       ksmt_merging_pages(getpid()));
		ok = false;
	}
	ksft_test_result(ok, "MADV_UNMERGEABLE after move: contents byte for byte\n");
out:
	ksmt_stop_unmerge();
	ksmt_worker_stop(&ticker);
	munmap(p, NPAGES * ksmt_page_size);
}

struct child {
	char *p;
};

static char child_fn(char cmd, void *arg)
{
	struct child *c = arg;
	char *q;

	switch (cmd) {
	case 's':
		c->p = setup(2);
		return 'y';
	case 'm':
		q = move(c->p);
		if (!q)
			return 'n';
		c->p = q;
		return contents(c->p, 2) ? 'y' : 'n';
	case 'c':
		return contents(c->p, 2) ? 'y' : 'n';
	}
	return 'n';
}

/*
 * Parent and child with the same layout, merged across both; both move
 * their range, and the pages come together again across the processes.
 */
static void test_fork_move(void)
{
	struct ksmt_worker w;
	struct child *c;
	bool ok = true;
	char *p, *q;
	int i;

	/* shared, so that the parent sees where the child's range went */
	c = mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	ksmt_worker_start(&w, child_fn, c);
	p = setup(2);
	ksmt_set("run", 1);
	if (!ksmt_wait_merged(PAT, 3 * PAT)) {
		ok = false;
		goto out;
	}
	ksmt_set("run", 0);
	q = move(p);
	if (!q || !ksmt_worker_do(&w, 'm')) {
		ksft_print_msg("mremap failed or child contents changed\n");
		ok = false;
		goto out;
	}
	p = q;
	if (!contents(p, 2)) {
		ksft_print_msg("parent contents changed\n");
		ok = false;
	}
	ok &= copies_merged(0, p, false);
	ksmt_set("run", 1);
	if (!ksmt_wait_merged(PAT, 3 * PAT)) {
		ok = false;
		goto out;
	}
	ksmt_set("run", 0);
	ok &= copies_merged(0, p, true) && copies_merged(w.pid, c->p, true);
	for (i = 0; i < PAT; i++)
		if (ksmt_pfn(0, p + i * ksmt_page_size) !=
		    ksmt_pfn(w.pid, c->p + i * ksmt_page_size)) {
			ksft_print_msg("page %d: parent and child not merged\n", i);
			ok = false;
			break;
		}
	if (ksmt_merging_pages(w.pid) != NPAGES ||
	    ksmt_merging_pages(getpid()) != NPAGES) {
		ksft_print_msg("ksm_merging_pages parent %ld child %ld, want %d\n",
			       ksmt_merging_pages(getpid()),
			       ksmt_merging_pages(w.pid), NPAGES);
		ok = false;
	}
	ok &= ksmt_worker_do(&w, 'c') && contents(p, 2);
	if (ksmt_have_two_nodes()) {
		/* from the parent: the child's mappings move along */
		ok &= round_trip(p, w.pid, c->p) && contents(p, 2) &&
		      ksmt_worker_do(&w, 'c');
	}

	/* run=2 unmerges both; contents stay */
	ksmt_set("run", 2);
	ok &= copies_merged(0, p, false) && contents(p, 2) &&
	      ksmt_worker_do(&w, 'c');
	if (ksmt_get("pages_shared") || ksmt_get("pages_sharing"))
		ok = false;
out:
	ksft_test_result(ok, "fork, mremap in both: merged again across both, migrated\n");
	ksmt_write("run", "0");
	ksmt_worker_stop(&w);
	munmap(c, sizeof(*c));
	munmap(p, NPAGES * ksmt_page_size);
}

int main(void)
{
	ksmt_start();
	ksft_set_plan(4);
	ksmt_setup();

	test_move();
	test_fork_move();

	ksmt_restore();
	ksft_finished();
}
