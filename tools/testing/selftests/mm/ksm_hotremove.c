// SPDX-License-Identifier: GPL-2.0
/*
 * Memory hot-remove of a block holding KSM pages: offlining a movable
 * memory block through /sys/devices/system/memory migrates the KSM pages
 * out of it, each as one for all of its sharers, with contents intact and
 * still merged; stable nodes left pointing into the block (their KSM page
 * was freed while ksmd was stopped) are forgotten with their counts; ksmd
 * merges afterwards, also while a block goes offline, and run=2 unmerges.
 *
 * Needs movable memory (boot with movablecore=, as make check does).
 */
#include <ctype.h>
#include "ksm_test_util.h"

#define MEM_DIR		"/sys/devices/system/memory/"
#define NA		64	/* merged, stays mapped */
#define NB		64	/* merged, then unmapped: stale stable nodes */
#define NC		64	/* merged after the first offline */
#define TAG_A		0x4101
#define TAG_B		0x4102
#define TAG_C		0x4103
#define OFFLINE_S	90
#define MAX_OFFLINED	4

/* The worker's areas, in MAP_SHARED memory for the parent to see. */
struct areas {
	char *a, *b, *c;
};

static unsigned long block_pages;
static long offlined[MAX_OFFLINED];
static int nr_offlined;

static char worker_fn(char cmd, void *arg)
{
	struct areas *w = arg;

	switch (cmd) {
	case 's':
		w->a = ksmt_map(NA);
		w->b = ksmt_map(NB);
		ksmt_fill_range(w->a, NA, TAG_A, false);
		ksmt_fill_range(w->b, NB, TAG_B, false);
		ksmt_mergeable(w->a, NA);
		ksmt_mergeable(w->b, NB);
		return 'y';
	case 'd':
		return madvise(w->b, NB * ksmt_page_size, MADV_DONTNEED) ? 'n' : 'y';
	case 'C':
		w->c = ksmt_map(NC);
		ksmt_fill_range(w->c, NC, TAG_C, false);
		ksmt_mergeable(w->c, NC);
		return 'y';
	case 'c':
		if (!ksmt_check_range(w->a, NA, TAG_A, false))
			return 'n';
		return !w->c || ksmt_check_range(w->c, NC, TAG_C, false) ? 'y' : 'n';
	}
	return 'n';
}

static int block_read(long nr, const char *attr, char *buf, size_t len)
{
	char path[128];
	int n;

	snprintf(path, sizeof(path), MEM_DIR "memory%ld/%s", nr, attr);
	n = ksmt_read_path(path, buf, len);
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return n;
}

static void on_alarm(int sig)
{
}

/*
 * Write "offline" or "online" to a block's state; offlining retries
 * migration until it succeeds or a signal comes, so an alarm bounds it.
 */
static int block_set(long nr, const char *state)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	char path[128];
	int ret;

	snprintf(path, sizeof(path), MEM_DIR "memory%ld/state", nr);
	sigaction(SIGALRM, &sa, NULL);
	alarm(OFFLINE_S);
	ret = ksmt_write_path(path, state);
	alarm(0);
	return ret;
}

/* An online block of ZONE_MOVABLE? */
static bool block_movable(long nr)
{
	char buf[128];

	if (block_read(nr, "state", buf, sizeof(buf)) <= 0 || strcmp(buf, "online"))
		return false;
	return block_read(nr, "valid_zones", buf, sizeof(buf)) > 0 &&
	       !strcmp(buf, "Movable");
}

/* Node of the first movable block, -1 if there is none. */
static int movable_node(void)
{
	char path[300];
	struct dirent *de;
	int node = -1;
	DIR *d;

	d = opendir(MEM_DIR);
	if (!d)
		return -1;
	while (node < 0 && (de = readdir(d))) {
		long nr;

		if (strncmp(de->d_name, "memory", 6) || !isdigit(de->d_name[6]))
			continue;
		nr = atol(de->d_name + 6);
		if (!block_movable(nr))
			continue;
		for (node = 0; node < 64; node++) {
			snprintf(path, sizeof(path), MEM_DIR "memory%ld/node%d",
				 nr, node);
			if (!access(path, F_OK))
				break;
		}
		if (node == 64)
			node = -1;
	}
	closedir(d);
	return node;
}

static long block_of(uint64_t pfn)
{
	return pfn / block_pages;
}

static bool pfn_in(uint64_t pfn, long nr)
{
	return pfn && block_of(pfn) == nr;
}

static void online_all(void)
{
	while (nr_offlined) {
		long nr = offlined[--nr_offlined];
		int ret = block_set(nr, "online_movable");

		if (ret)
			ret = block_set(nr, "online");
		if (ret)
			ksft_print_msg("cannot online memory%ld again: %s\n", nr,
				       strerror(-ret));
	}
}

static void cleanup(void)
{
	online_all();
	ksmt_restore();
}

/* Offline block nr, remembered for online_all(). */
static bool block_offline(long nr)
{
	double t = ksmt_now();
	int ret = block_set(nr, "offline");
	char state[32];

	if (ret) {
		ksft_print_msg("offline memory%ld: %s after %.1fs\n", nr,
			       strerror(-ret), ksmt_now() - t);
		return false;
	}
	offlined[nr_offlined++] = nr;
	block_read(nr, "state", state, sizeof(state));
	ksft_print_msg("memory%ld offline in %.1fs, state %s\n", nr,
		       ksmt_now() - t, state);
	return !strcmp(state, "offline");
}

/*
 * Every page of the parent's range p and the worker's range wp is
 * outside block nr, the two map the same frame, and a page that was in
 * the block (old[i]) is on another frame now.
 */
static bool moved_and_shared(char *p, char *wp, pid_t pid, int n,
			     const uint64_t *old, long nr)
{
	int i, moved = 0;

	for (i = 0; i < n; i++) {
		uint64_t pfn = ksmt_pfn(0, p + i * ksmt_page_size);

		if (!pfn || pfn != ksmt_pfn(pid, wp + i * ksmt_page_size)) {
			ksft_print_msg("page %d: parent and worker on different frames\n", i);
			return false;
		}
		if (pfn_in(pfn, nr)) {
			ksft_print_msg("page %d: pfn %#llx still in offline memory%ld\n",
				       i, (unsigned long long)pfn, nr);
			return false;
		}
		if (pfn_in(old[i], nr))
			moved++;
	}
	ksft_print_msg("%d of %d pages moved out of memory%ld\n", moved, n, nr);
	return true;
}

static void pfns(char *p, int n, uint64_t *out)
{
	int i;

	for (i = 0; i < n; i++)
		out[i] = ksmt_pfn(0, p + i * ksmt_page_size);
}

static int count_in(const uint64_t *pfn, int n, long nr)
{
	int i, in = 0;

	for (i = 0; i < n; i++)
		in += pfn_in(pfn[i], nr);
	return in;
}

#define KPF_RESERVED	32

/*
 * Does block @nr hold a reserved page (memory the kernel took at boot,
 * such as a node's first pages)?  No offline can move that.
 */
static bool block_reserved(long nr)
{
	uint64_t flags[512];
	unsigned long done, n, i;
	bool found = false;
	int fd = open("/proc/kpageflags", O_RDONLY);

	if (fd < 0)
		return false;
	for (done = 0; done < block_pages && !found; done += n) {
		n = block_pages - done < 512 ? block_pages - done : 512;
		if (pread(fd, flags, n * sizeof(*flags),
			  (nr * block_pages + done) * sizeof(*flags)) !=
		    (ssize_t)(n * sizeof(*flags)))
			break;
		for (i = 0; i < n; i++)
			found |= !!(flags[i] & (1ULL << KPF_RESERVED));
	}
	close(fd);
	return found;
}

/* The first block of @pfn that can go offline, -1 if there is none. */
static long offlinable_block(const uint64_t *pfn, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		long blk = block_of(pfn[i]);

		if (pfn[i] && block_movable(blk) && !block_reserved(blk))
			return blk;
	}
	return -1;
}

int main(void)
{
	uint64_t pa_old[NA], pb_old[NB], pc_old[NC];
	struct ksmt_worker w;
	long blk, sh0, sg0;
	struct areas *wa;
	char buf[64];
	char *a, *b, *c;
	int node, nb_in;
	bool ok;

	ksmt_start();
	if (ksmt_read_path(MEM_DIR "block_size_bytes", buf, sizeof(buf)) <= 0)
		ksft_exit_skip("no " MEM_DIR " (CONFIG_MEMORY_HOTPLUG off)\n");
	block_pages = strtoul(buf, NULL, 16) / ksmt_page_size;
	if (!block_pages)
		ksft_exit_fail_msg("block_size_bytes reads '%s'\n", buf);
	node = movable_node();
	if (node < 0)
		ksft_exit_skip("no online movable memory block (boot with movablecore=)\n");
	ksft_print_msg("memory blocks of %lu pages, movable memory on node %d\n",
		       block_pages, node);
	ksft_set_plan(6);

	ksmt_take_over(cleanup);
	ksmt_setup();
	ksmt_set("merge_across_nodes", 1);

	/*
	 * Allocations follow the zonelist of the preferred node, ZONE_MOVABLE
	 * first; the worker inherits the policy.
	 */
	if (set_mempolicy(MPOL_PREFERRED, (unsigned long[]){ 1UL << node }, 64))
		ksft_exit_fail_msg("set_mempolicy: %s\n", strerror(errno));
	wa = mmap(NULL, sizeof(*wa), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (wa == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	memset(wa, 0, sizeof(*wa));
	ksmt_worker_start(&w, worker_fn, wa);
	a = ksmt_map(NA);
	b = ksmt_map(NB);
	ksmt_fill_range(a, NA, TAG_A, false);
	ksmt_fill_range(b, NB, TAG_B, false);
	ksmt_mergeable(a, NA);
	ksmt_mergeable(b, NB);

	ksmt_set("run", 1);
	ok = ksmt_wait_merged(NA + NB, NA + NB);
	ksmt_set("run", 0);
	ksft_test_result(ok, "%d pages merged in two processes\n", NA + NB);
	if (!ok)
		ksft_exit_fail_msg("nothing to offline\n");

	pfns(a, NA, pa_old);
	pfns(b, NB, pb_old);
	blk = offlinable_block(pa_old, NA);
	if (blk < 0)
		ksft_exit_skip("KSM page at pfn %#llx not in movable memory: memory%ld\n",
			       (unsigned long long)pa_old[0], block_of(pa_old[0]));

	/*
	 * With ksmd stopped, the KSM pages of b are freed when both unmap
	 * them; their stable nodes stay, pointing at the freed frames.
	 */
	if (madvise(b, NB * ksmt_page_size, MADV_DONTNEED) || !ksmt_worker_do(&w, 'd'))
		ksft_exit_fail_msg("MADV_DONTNEED failed\n");
	sh0 = ksmt_get("pages_shared");
	sg0 = ksmt_get("pages_sharing");
	nb_in = count_in(pb_old, NB, blk);
	ksft_print_msg("memory%ld: %d of %d mapped KSM pages, %d of %d freed\n",
		       blk, count_in(pa_old, NA, blk), NA, nb_in, NB);
	ksft_print_msg("pages_shared %ld pages_sharing %ld\n", sh0, sg0);

	ok = block_offline(blk);
	ksft_test_result(ok, "offline memory%ld holding KSM pages, ksmd stopped\n", blk);
	if (!ok)
		ksft_exit_fail_msg("cannot go on without the offline\n");

	ok = ksmt_check_range(a, NA, TAG_A, false) && ksmt_worker_do(&w, 'c');
	if (!ok)
		ksft_print_msg("contents changed\n");
	ok = moved_and_shared(a, wa->a, w.pid, NA, pa_old, blk) && ok;
	ksft_test_result(ok, "KSM pages migrated out, contents intact, still merged\n");

	/*
	 * The stable nodes of freed KSM pages in the block are gone, with
	 * their sharers; those elsewhere wait for ksmd.  Where a kernel drops
	 * them as soon as the pages are freed, there is nothing to forget.
	 */
	if (sh0 == NA + NB && sg0 == NA + NB)
		ksft_test_result(ksmt_counters_are(sh0 - nb_in, sg0 - nb_in),
				 "stale stable nodes in the block forgotten (%d)\n", nb_in);
	else
		ksft_test_result(ksmt_counters_are(sh0, sg0),
				 "counters unchanged by the offline\n");

	/* ksmd merges again, and also while another block goes offline */
	ksmt_set("run", 1);
	if (!ksmt_worker_do(&w, 'C'))
		ksft_exit_fail_msg("worker: new area\n");
	c = ksmt_map(NC);
	ksmt_fill_range(c, NC, TAG_C, false);
	ksmt_mergeable(c, NC);
	ok = ksmt_wait_merged(NA + NC, NA + NC);
	pfns(a, NA, pa_old);
	pfns(c, NC, pc_old);
	blk = offlinable_block(pc_old, NC);
	if (blk < 0)
		blk = offlinable_block(pa_old, NA);
	if (ok && blk >= 0) {
		ksft_print_msg("memory%ld holds %d KSM pages of %d, ksmd running\n",
			       blk, count_in(pa_old, NA, blk) +
			       count_in(pc_old, NC, blk), NA + NC);
		ok = block_offline(blk) &&
		     moved_and_shared(a, wa->a, w.pid, NA, pa_old, blk) &&
		     moved_and_shared(c, wa->c, w.pid, NC, pc_old, blk) &&
		     ksmt_wait_merged(NA + NC, NA + NC);
	} else if (ok) {
		ksft_print_msg("no KSM page in a block that can go offline: no second offline\n");
	}
	ok = ok && ksmt_check_range(a, NA, TAG_A, false) &&
	     ksmt_check_range(c, NC, TAG_C, false) && ksmt_worker_do(&w, 'c');
	ksft_test_result(ok, "ksmd merges after an offline and across one\n");

	/* run=2 unmerges everything, and ksmd merges it all again */
	ok = !ksmt_write("run", "2") && ksmt_counters_are(0, 0) &&
	     ksmt_check_range(a, NA, TAG_A, false) &&
	     ksmt_check_range(c, NC, TAG_C, false) && ksmt_worker_do(&w, 'c');
	ksmt_set("run", 1);
	ok = ok && ksmt_wait_merged(NA + NC, NA + NC);
	ksmt_set("run", 0);
	ksft_test_result(ok, "run=2 unmerges after the offline, run=1 merges again\n");

	ksmt_stop_unmerge();
	ksmt_worker_stop(&w);
	online_all();
	ksft_finished();
}
