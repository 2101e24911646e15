// SPDX-License-Identifier: GPL-2.0
/*
 * Migrating KSM pages between NUMA nodes with move_pages(2), with
 * merge_across_nodes=1: a KSM page moves as one for every process
 * mapping it, keeps its contents, and stays merged.
 */
#include "ksm_test_util.h"

#define NPAGES 32

/* Parent and child map the same KSM pages at the same addresses. */
static bool shared_frames(pid_t child, char *p, char *cp)
{
	int i;

	for (i = 0; i < NPAGES; i++) {
		uint64_t a = ksmt_pfn(0, p + i * ksmt_page_size);

		if (!a || a != ksmt_pfn(child, cp + i * ksmt_page_size)) {
			ksft_print_msg("page %d: parent and child on different frames\n", i);
			return false;
		}
	}
	return true;
}

static bool still_merged(struct ksmt_worker *w, char *p,
			 const struct ksmt_area *ca)
{
	bool ok = true;

	if (ksmt_get("pages_shared") != NPAGES ||
	    ksmt_get("pages_sharing") != NPAGES) {
		ksft_print_msg("pages_shared %ld pages_sharing %ld, want %d %d\n",
			       ksmt_get("pages_shared"), ksmt_get("pages_sharing"),
			       NPAGES, NPAGES);
		ok = false;
	}
	if (ksmt_merging_pages(getpid()) != NPAGES ||
	    ksmt_merging_pages(w->pid) != NPAGES) {
		ksft_print_msg("ksm_merging_pages %ld %ld, want %d\n",
			       ksmt_merging_pages(getpid()),
			       ksmt_merging_pages(w->pid), NPAGES);
		ok = false;
	}
	if (!ksmt_check_range(p, NPAGES, 1, false) || !ksmt_worker_do(w, 'c')) {
		ksft_print_msg("contents changed\n");
		ok = false;
	}
	return ok && shared_frames(w->pid, p, ca->p);
}

int main(void)
{
	struct ksmt_area pa = { .npages = NPAGES, .tag = 1 }, *ca;
	struct ksmt_worker w;
	int from, to;
	bool ok;
	char *p;

	ksmt_start();
	if (!ksmt_have_two_nodes())
		ksft_exit_skip("needs two NUMA nodes\n");
	ksft_set_plan(5);
	ksmt_setup();
	ksmt_set("merge_across_nodes", 1);

	/* shared, so that the parent knows the child's address */
	ca = mmap(NULL, sizeof(*ca), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ca == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	*ca = pa;
	ksmt_worker_start(&w, ksmt_area_fn, ca);
	ksmt_area_fn('s', &pa);
	p = pa.p;

	ksmt_set("run", 1);
	ok = ksmt_wait_merged(NPAGES, NPAGES);
	ksmt_set("run", 0);
	ok = ok && shared_frames(w.pid, p, ca->p);
	ksft_test_result(ok, "parent and child merged\n");
	if (!ok) {
		ksft_test_result_skip("migrate from the parent: not merged\n");
		ksft_test_result_skip("migrate back from the child: not merged\n");
		ksft_test_result_skip("migrate with split vma: not merged\n");
		ksft_test_result_skip("merged after rescans: not merged\n");
		goto out;
	}

	from = ksmt_range_node(0, p, NPAGES);
	if (from < 0)
		ksft_exit_fail_msg("cannot tell the node of the pages\n");
	to = from ? 0 : 1;

	ok = ksmt_migrate(0, p, NPAGES, to) &&
	     ksmt_range_node(w.pid, ca->p, NPAGES) == to &&
	     still_merged(&w, p, ca);
	ksft_test_result(ok, "migrate node %d -> %d from the parent: both moved, still merged\n",
			 from, to);

	/* the child's mappings are the same pages: moving them moves both */
	ok = ksmt_migrate(w.pid, ca->p, NPAGES, from) &&
	     ksmt_range_node(0, p, NPAGES) == from &&
	     still_merged(&w, p, ca);
	ksft_test_result(ok, "migrate node %d -> %d from the child: both moved, still merged\n",
			 to, from);

	/*
	 * Split the parent's vma in three, then merge it back: rmap finds
	 * the KSM pages by their index in the vma, which both keep.
	 */
	ok = !mprotect(p + 8 * ksmt_page_size, 8 * ksmt_page_size, PROT_READ) &&
	     ksmt_migrate(0, p, NPAGES, to) &&
	     ksmt_range_node(w.pid, ca->p, NPAGES) == to &&
	     !mprotect(p + 8 * ksmt_page_size, 8 * ksmt_page_size,
		       PROT_READ | PROT_WRITE) &&
	     ksmt_migrate(w.pid, ca->p, NPAGES, from) &&
	     ksmt_range_node(0, p, NPAGES) == from && still_merged(&w, p, ca);
	ksft_test_result(ok, "migrate with the parent's vma split, then merged again\n");

	/* ksmd finds the migrated pages where they are now */
	ksmt_set("run", 1);
	ok = ksmt_wait_merged(NPAGES, NPAGES);
	ksmt_set("run", 0);
	ok = ok && still_merged(&w, p, ca);
	ksft_test_result(ok, "merged after rescans\n");
out:
	ksmt_stop_unmerge();
	ksmt_worker_stop(&w);
	munmap(p, NPAGES * ksmt_page_size);
	ksmt_restore();
	ksft_finished();
}
