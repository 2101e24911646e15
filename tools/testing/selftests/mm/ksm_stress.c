// SPDX-License-Identifier: GPL-2.0
/*
 * KSM under load, checked against an oracle.
 *
 * Worker processes, each with threads, hold regions of mergeable memory:
 * pages of a few common contents (many more sharers than max_page_sharing,
 * so that chains and dups form), zero pages and unique pages.  The oracle
 * records what every page must hold, as a (kind, value) pair from which
 * the content is generated.  The threads, at random, rewrite pages, verify
 * them, fork (the child checks and writes its copy, the parent must not
 * see it), move regions away and back with mremap, split them with
 * mprotect, drop pages with MADV_DONTNEED, page them out to zram swap,
 * unmerge and merge them again, migrate them between the NUMA nodes with
 * move_pages, and replace them with new mappings; one worker uses
 * PR_SET_MEMORY_MERGE instead of madvise.  Meanwhile the controller cycles
 * run=2 and run=1 and changes max_page_sharing, merge_across_nodes,
 * use_zero_pages, smart_scan, the scan rate and the advisor.
 *
 * A second stage (-F) does the same while KSM's own allocations fail: its
 * slab caches through failslab, the pages that unmerging copies through
 * fail_page_alloc, aimed by make-it-fail at ksmd, at the task writing
 * run=2 and at the threads calling madvise, prctl and fork.
 *
 * It fails on any content mismatch, on a syscall failing other than as
 * allowed, if nothing merged into chains, if no fork or migration of a
 * KSM page was checked, if MADV_UNMERGEABLE leaves pages merged, if the
 * counters are not zero after run=2 with the workers paused and at the
 * end, if no failure was injected, if run=2 does not succeed once
 * injection stops, and if KSM's slab objects outlive the workers.
 *
 * Usage: ksm_stress [-d SECS] [-F SECS] [-p PROCS] [-t THREADS]
 *                   [-n PAGES] [-s SEED] [-x OP,...]
 * -d and -F default to $KSM_STRESS_SECS and $KSM_FAULT_SECS, else 75 and
 * 45 seconds; -n is the number of pages per worker; -x leaves out the ops
 * named (as the figures name them), to narrow a failure down.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/prctl.h>

#include "ksm_test_util.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define MAX_PROCS	8
#define MAX_THREADS	4
#define REGION_PAGES	256
#define MAX_PIECES	64
#define NCOMMON		4
#define TAG_COMMON	0x51
#define TAG_UNIQUE	0x100
#define MAX_REPORTS	20
#define ZRAM_MB		96

/* Oracle entry: the kind of content in the top bits, its value below. */
#define K_ZERO		0
#define K_COMMON	1
#define K_UNIQUE	2
#define OV(kind, val)	((uint32_t)(kind) << 28 | ((val) & 0x0fffffff))
#define OV_KIND(v)	((v) >> 28)
#define OV_VAL(v)	((v) & 0x0fffffff)

enum {
	OP_WRITE, OP_VERIFY, OP_FORK, OP_MREMAP, OP_MPROTECT, OP_DONTNEED,
	OP_PAGEOUT, OP_UNMERGE, OP_MERGE, OP_MIGRATE, OP_REMAP, OP_PRCTL,
	NR_OPS
};

static const char * const op_name[NR_OPS] = {
	"write", "verify", "fork", "mremap", "mprotect", "dontneed",
	"pageout", "unmergeable", "mergeable", "move_pages", "remap",
	"prctl",
};

static const int op_weight[NR_OPS] = {
	30, 12, 2, 4, 5, 5, 5, 4, 4, 8, 4, 2,
};

/* Counted by every process through the shared control block. */
struct stress_stats {
	long ops[NR_OPS];
	long op_enomem[NR_OPS];		/* failed as injection allows */
	long unexpected;		/* failed otherwise */
	long verified;			/* pages compared with the oracle */
	long mismatches;
	long forks_ok;			/* child checked, parent unaffected */
	long child_bad;			/* child died or found a mismatch */
	long migrated;			/* pages that changed node */
	long ksm_migrated;		/* of which KSM pages */
	long migrate_failed;		/* pages move_pages left in place */
	long swapped;			/* pages seen in swap after MADV_PAGEOUT */
	long unmerge_checks;		/* ranges checked after unmerging */
	long unmerge_left;		/* pages still merged after unmerging */
	long injected_calls;		/* syscalls made with make-it-fail set */
};

enum { CMD_RUN, CMD_PAUSE, CMD_STOP, CMD_VERIFY, CMD_EXIT };

struct stress_ctl {
	int cmd;
	int inject;			/* workers set make-it-fail around syscalls */
	int inject_fork;		/* and around fork: only the slab fails */
	int paused;			/* threads waiting in CMD_PAUSE */
	int reports;			/* mismatch reports printed */
	int ack[MAX_PROCS];		/* last command a worker completed */
	int verify_bad[MAX_PROCS];	/* mismatches found at the end */
	struct stress_stats st;
};

static struct stress_ctl *ctl;

#define STAT_ADD(field, n) __atomic_add_fetch(&ctl->st.field, (n), __ATOMIC_RELAXED)

/* Parameters, set before the workers fork. */
static int nr_procs = 3, nr_threads = 2, nr_regions;
static unsigned int ops_off;		/* ops left out (-x), to narrow a failure down */
static double stress_secs = 75, fault_secs = 45;
static uint64_t seed;
static bool two_nodes, have_swap;

/* Controller state. */
static pid_t ctl_pid, worker_pid[MAX_PROCS];
static int run_fd = -1, self_mif = -1, ksmd_mif = -1;
static bool faults_ready;

/* A region: 2 * REGION_PAGES reserved, the pages in one half of it. */
struct region {
	pthread_mutex_t lock;
	char *slot;
	char *base;			/* slot or slot + region size */
	bool mergeable;
	size_t ro_start, ro_end;	/* pages [ro_start, ro_end) read-only */
	uint32_t oracle[REGION_PAGES];
};

/* A worker's state, private to its process. */
static struct {
	int id;
	bool merge_any;			/* uses PR_SET_MEMORY_MERGE */
	bool prctl_on;
	struct region *reg;
	pthread_rwlock_t forklock;	/* fork and prctl: held for writing */
	uint32_t serial;
} W;

/* What each thread is doing, for the report of a crash. */
static __thread int cur_op = -1, cur_region = -1;

struct thr {
	uint64_t rng;
	int mif;			/* make-it-fail of this thread */
	char *maps;			/* buffer for /proc/self/maps */
	pthread_t tid;
};

#define MAPS_LEN	(256 << 10)
#define RSIZE		(REGION_PAGES * ksmt_page_size)

static uint64_t rnd64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static unsigned int rnd(struct thr *t, unsigned int n)
{
	return n ? rnd64(&t->rng) % n : 0;
}

static uint64_t ctl_rng;

static unsigned int crnd(unsigned int n)
{
	return n ? rnd64(&ctl_rng) % n : 0;
}

/* Content of an oracle entry. */
static void page_fill(char *p, uint32_t ov)
{
	switch (OV_KIND(ov)) {
	case K_ZERO:
		memset(p, 0, ksmt_page_size);
		break;
	case K_COMMON:
		ksmt_fill(p, TAG_COMMON, OV_VAL(ov));
		break;
	default:
		ksmt_fill(p, TAG_UNIQUE + W.id, OV_VAL(ov));
	}
}

static bool page_zero(const char *p)
{
	const uint64_t *q = (const uint64_t *)p;
	size_t w;

	for (w = 0; w < ksmt_page_size / 8; w++)
		if (q[w])
			return false;
	return true;
}

static bool page_ok(const char *p, uint32_t ov)
{
	switch (OV_KIND(ov)) {
	case K_ZERO:
		return page_zero(p);
	case K_COMMON:
		return ksmt_check(p, TAG_COMMON, OV_VAL(ov));
	default:
		return ksmt_check(p, TAG_UNIQUE + W.id, OV_VAL(ov));
	}
}

static const char *ov_str(uint32_t ov, char *buf, size_t len)
{
	static const char * const kind[] = { "zero", "common", "unique" };

	snprintf(buf, len, "%s %u", OV_KIND(ov) <= K_UNIQUE ?
		 kind[OV_KIND(ov)] : "?", OV_VAL(ov));
	return buf;
}

/* Say what a page holds instead of what the oracle has. */
static void report(struct region *r, size_t i, const char *who)
{
	const char *p = r->base + i * ksmt_page_size;
	char want[32], found[64];
	int k;

	if (__atomic_add_fetch(&ctl->reports, 1, __ATOMIC_RELAXED) > MAX_REPORTS)
		return;
	snprintf(found, sizeof(found), "other, first word %#llx",
		 (unsigned long long)*(const uint64_t *)p);
	if (page_zero(p))
		snprintf(found, sizeof(found), "zero");
	for (k = 0; k < NCOMMON; k++)
		if (ksmt_check(p, TAG_COMMON, k))
			snprintf(found, sizeof(found), "common %d", k);
	ksft_print_msg("MISMATCH %s: worker %d region %ld page %zu (%p, pfn %#llx)\n",
		       who, W.id, (long)(r - W.reg), i, p,
		       (unsigned long long)ksmt_pfn(0, p));
	ksft_print_msg("MISMATCH: want %s, found %s\n",
		       ov_str(r->oracle[i], want, sizeof(want)), found);
}

static long verify(struct region *r, size_t from, size_t n, const char *who)
{
	long bad = 0;
	size_t i;

	for (i = from; i < from + n; i++)
		if (!page_ok(r->base + i * ksmt_page_size, r->oracle[i])) {
			bad++;
			report(r, i, who);
		}
	STAT_ADD(verified, n);
	if (bad)
		STAT_ADD(mismatches, bad);
	return bad;
}

static long verify_all(const char *who)
{
	long bad = 0;
	int i;

	for (i = 0; i < nr_regions; i++)
		bad += verify(&W.reg[i], 0, REGION_PAGES, who);
	return bad;
}

static uint32_t new_content(struct thr *t)
{
	unsigned int r = rnd(t, 100);

	if (r < 45)
		return OV(K_COMMON, rnd(t, NCOMMON));
	if (r < 60)
		return OV(K_ZERO, 0);
	return OV(K_UNIQUE, __atomic_add_fetch(&W.serial, 1, __ATOMIC_RELAXED));
}

static void unexpected(const char *what, int err)
{
	STAT_ADD(unexpected, 1);
	ksft_print_msg("worker %d: %s: %s\n", W.id, what, strerror(err));
}

/* A syscall failed: allowed only as an injected failure makes it fail. */
static void failed(int op, bool injected, const char *what, int err)
{
	if (injected && (err == ENOMEM || err == EAGAIN)) {
		STAT_ADD(op_enomem[op], 1);
		return;
	}
	unexpected(what, err);
}

/* Let this thread's next syscall meet injected failures (half the time). */
static bool inject_begin(struct thr *t)
{
	if (!__atomic_load_n(&ctl->inject, __ATOMIC_RELAXED) || rnd(t, 2) ||
	    !ksmt_make_it_fail(t->mif, true))
		return false;
	STAT_ADD(injected_calls, 1);
	return true;
}

static void inject_end(struct thr *t, bool on)
{
	if (on && !ksmt_make_it_fail(t->mif, false))
		unexpected("clearing make-it-fail", errno);
}

static void pick_range(struct thr *t, size_t max, size_t *start, size_t *n)
{
	*n = 1 + rnd(t, max);
	if (*n > REGION_PAGES)
		*n = REGION_PAGES;
	*start = rnd(t, REGION_PAGES - *n + 1);
}

static char *page_addr(struct region *r, size_t i)
{
	return r->base + i * ksmt_page_size;
}

/* Undo an mprotect split before writing. */
static void make_writable(struct region *r)
{
	if (r->ro_end <= r->ro_start)
		return;
	if (mprotect(page_addr(r, r->ro_start),
		     (r->ro_end - r->ro_start) * ksmt_page_size,
		     PROT_READ | PROT_WRITE))
		unexpected("mprotect read-write", errno);
	r->ro_start = 0;
	r->ro_end = 0;
}

static int madvise_inj(struct thr *t, int op, void *p, size_t len, int advice,
		       const char *what)
{
	bool inj = inject_begin(t);
	int ret = madvise(p, len, advice);
	int err = errno;

	inject_end(t, inj);
	if (ret)
		failed(op, inj, what, err);
	return ret;
}

/*
 * Page frames of the region (0: not present).  Two present pages with
 * the same frame, other than zero pages, can only be one KSM page.
 */
static void region_pfns(struct region *r, uint64_t *pfn)
{
	uint64_t ent[REGION_PAGES];
	ssize_t len = sizeof(ent);
	int fd, i;

	memset(pfn, 0, REGION_PAGES * sizeof(*pfn));
	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		return;
	if (pread(fd, ent, len, (uintptr_t)r->base / ksmt_page_size *
		  sizeof(uint64_t)) == len)
		for (i = 0; i < REGION_PAGES; i++)
			if ((ent[i] & KSMT_PM_PRESENT) &&
			    OV_KIND(r->oracle[i]) != K_ZERO)
				pfn[i] = ent[i] & KSMT_PM_PFN_MASK;
	close(fd);
}

static bool pfn_shared(const uint64_t *pfn, size_t i)
{
	size_t j;

	if (!pfn[i])
		return false;
	for (j = 0; j < REGION_PAGES; j++)
		if (j != i && pfn[j] == pfn[i])
			return true;
	return false;
}

/* After a successful unmerge of [start, start + n): nothing merged there. */
static void check_unmerged(struct region *r, size_t start, size_t n,
			   const char *how)
{
	uint64_t pfn[REGION_PAGES];
	size_t i, first = 0;
	long left = 0;

	region_pfns(r, pfn);
	for (i = start; i < start + n; i++)
		if (pfn_shared(pfn, i) && !left++)
			first = i;
	STAT_ADD(unmerge_checks, 1);
	if (!left)
		return;
	STAT_ADD(unmerge_left, left);
	ksft_print_msg("worker %d region %ld: %ld pages still merged after %s, first %zu\n",
		       W.id, (long)(r - W.reg), left, how, first);
}

static void op_write(struct thr *t, struct region *r)
{
	size_t start, n, i;

	make_writable(r);
	pick_range(t, 16, &start, &n);
	for (i = start; i < start + n; i++) {
		/* sometimes the same content again: a COW that changes nothing */
		uint32_t ov = rnd(t, 10) ? new_content(t) : r->oracle[i];

		page_fill(page_addr(r, i), ov);
		r->oracle[i] = ov;
	}
	verify(r, start, n, "read after write");
}

/* All of /proc/self/maps: one read(2) returns only a page of it. */
static bool read_maps(char *buf)
{
	size_t len = 0;
	ssize_t n;
	int fd;

	fd = open("/proc/self/maps", O_RDONLY);
	if (fd < 0)
		return false;
	while ((n = read(fd, buf + len, MAPS_LEN - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = '\0';
	return !n && len < MAPS_LEN - 1;
}

/* The vmas covering the region, from /proc/self/maps. */
static int region_pieces(struct thr *t, struct region *r,
			 uintptr_t (*piece)[2])
{
	uintptr_t lo = (uintptr_t)r->base, hi = lo + RSIZE, s, e;
	int nr = 0;
	char *line;

	if (!read_maps(t->maps))
		return -1;
	for (line = t->maps; line && *line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (sscanf(line, "%lx-%lx", &s, &e) != 2 || e <= lo || s >= hi)
			continue;
		if (nr == MAX_PIECES)
			return -1;
		piece[nr][0] = s > lo ? s : lo;
		piece[nr][1] = e < hi ? e : hi;
		nr++;
	}
	return nr;
}

/*
 * Move the region to the other half of its slot, vma by vma (mremap
 * moves within one vma), and reserve what it left at once.
 */
static bool move_region(struct thr *t, struct region *r)
{
	long delta = r->base == r->slot ? (long)RSIZE : -(long)RSIZE;
	uintptr_t piece[MAX_PIECES][2];
	int nr, i;

	nr = region_pieces(t, r, piece);
	if (nr <= 0) {
		unexpected("reading /proc/self/maps", nr ? ENOSPC : ENOENT);
		return false;
	}
	for (i = 0; i < nr; i++) {
		void *from = (void *)piece[i][0];
		size_t len = piece[i][1] - piece[i][0];
		void *p;

		p = mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
			   (char *)from + delta);
		if (p == MAP_FAILED) {
			unexpected("mremap", errno);
			return false;
		}
		p = mmap(from, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
			 MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
		if (p != from)
			ksft_exit_fail_msg("worker %d: cannot reserve %p again\n",
					   W.id, from);
	}
	r->base += delta;
	return true;
}

static void op_mremap(struct thr *t, struct region *r)
{
	if (!move_region(t, r))
		return;
	verify(r, 0, REGION_PAGES, "after mremap");
	if (rnd(t, 2) && move_region(t, r))
		verify(r, 0, REGION_PAGES, "after mremap back");
}

static void op_mprotect(struct thr *t, struct region *r)
{
	size_t start, n;

	make_writable(r);
	pick_range(t, 64, &start, &n);
	if (mprotect(page_addr(r, start), n * ksmt_page_size, PROT_READ)) {
		unexpected("mprotect read-only", errno);
		return;
	}
	r->ro_start = start;
	r->ro_end = start + n;
	verify(r, 0, REGION_PAGES, "after mprotect");
}

static void op_dontneed(struct thr *t, struct region *r)
{
	size_t start, n, i;

	pick_range(t, 64, &start, &n);
	if (madvise(page_addr(r, start), n * ksmt_page_size, MADV_DONTNEED)) {
		unexpected("MADV_DONTNEED", errno);
		return;
	}
	for (i = start; i < start + n; i++)
		r->oracle[i] = OV(K_ZERO, 0);
	verify(r, start, n, "after MADV_DONTNEED");
}

static void op_pageout(struct thr *t, struct region *r)
{
	size_t start, n, i;
	long swapped = 0;

	pick_range(t, 64, &start, &n);
	if (madvise(page_addr(r, start), n * ksmt_page_size, MADV_PAGEOUT)) {
		unexpected("MADV_PAGEOUT", errno);
		return;
	}
	for (i = start; i < start + n; i++)
		if (ksmt_pagemap(page_addr(r, i)) & KSMT_PM_SWAP)
			swapped++;
	STAT_ADD(swapped, swapped);
	/* read back half the time, leave in swap otherwise */
	if (rnd(t, 2))
		verify(r, start, n, "after MADV_PAGEOUT");
}

static void op_unmerge(struct thr *t, struct region *r)
{
	size_t start = 0, n = REGION_PAGES;

	if (rnd(t, 4) == 0)
		pick_range(t, 128, &start, &n);
	if (madvise_inj(t, OP_UNMERGE, page_addr(r, start), n * ksmt_page_size,
			MADV_UNMERGEABLE, "MADV_UNMERGEABLE"))
		return;
	if (n == REGION_PAGES)
		r->mergeable = false;
	check_unmerged(r, start, n, "MADV_UNMERGEABLE");
	verify(r, 0, REGION_PAGES, "after MADV_UNMERGEABLE");
}

static void op_merge(struct thr *t, struct region *r)
{
	if (!madvise_inj(t, OP_MERGE, r->base, RSIZE, MADV_MERGEABLE,
			 "MADV_MERGEABLE"))
		r->mergeable = true;
}

static void op_migrate(struct thr *t, struct region *r)
{
	int nodes[64], status[64], before[64], target = -1;
	uint64_t pfn[REGION_PAGES];
	bool ksm[64];
	void *pages[64];
	size_t start, n, i;
	long ret, moved = 0, moved_ksm = 0, left = 0;

	pick_range(t, 64, &start, &n);
	region_pfns(r, pfn);
	for (i = 0; i < n; i++) {
		pages[i] = page_addr(r, start + i);
		ksm[i] = pfn_shared(pfn, start + i);
	}
	if (move_pages(0, n, pages, NULL, before, 0)) {
		unexpected("move_pages query", errno);
		return;
	}
	for (i = 0; i < n && target < 0; i++)
		if (before[i] >= 0)
			target = !before[i];
	if (target < 0)
		return;
	for (i = 0; i < n; i++)
		nodes[i] = target;
	ret = move_pages(0, n, pages, nodes, status, MPOL_MF_MOVE_ALL);
	if (ret < 0) {
		unexpected("move_pages", errno);
		return;
	}
	for (i = 0; i < n; i++) {
		if (before[i] < 0 || before[i] == target)
			continue;
		if (status[i] == target) {
			moved++;
			moved_ksm += ksm[i];
		} else {
			left++;
		}
	}
	STAT_ADD(migrated, moved);
	STAT_ADD(ksm_migrated, moved_ksm);
	STAT_ADD(migrate_failed, left);
	verify(r, start, n, "after move_pages");
}

/* munmap part of the region (or all of it) and map fresh memory there. */
static void op_remap(struct thr *t, struct region *r)
{
	size_t start = 0, n = REGION_PAGES, i;
	char *p;

	make_writable(r);
	if (rnd(t, 6))
		pick_range(t, 64, &start, &n);
	p = page_addr(r, start);
	if (munmap(p, n * ksmt_page_size)) {
		unexpected("munmap", errno);
		return;
	}
	if (mmap(p, n * ksmt_page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE |
		 MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != p)
		ksft_exit_fail_msg("worker %d: cannot map %p again\n", W.id, p);
	madvise(p, n * ksmt_page_size, MADV_NOHUGEPAGE);
	for (i = start; i < start + n; i++)
		r->oracle[i] = OV(K_ZERO, 0);
	if (r->mergeable)
		madvise_inj(t, OP_REMAP, p, n * ksmt_page_size, MADV_MERGEABLE,
			    "MADV_MERGEABLE of a new mapping");
	verify(r, start, n, "new mapping");
	for (i = start; i < start + n; i++) {
		r->oracle[i] = new_content(t);
		page_fill(page_addr(r, i), r->oracle[i]);
	}
}

/* PR_SET_MEMORY_MERGE on or off, with the other threads held off. */
static void op_prctl(struct thr *t)
{
	bool want = !W.prctl_on, inj;
	int i, ret, err;

	pthread_rwlock_wrlock(&W.forklock);
	inj = inject_begin(t);
	ret = prctl(PR_SET_MEMORY_MERGE, want, 0, 0, 0);
	err = errno;
	inject_end(t, inj);
	if (ret) {
		failed(OP_PRCTL, inj, "PR_SET_MEMORY_MERGE", err);
	} else {
		W.prctl_on = want;
		for (i = 0; i < nr_regions; i++) {
			W.reg[i].mergeable = want;
			if (!want)
				check_unmerged(&W.reg[i], 0, REGION_PAGES,
					       "PR_SET_MEMORY_MERGE 0");
		}
	}
	pthread_rwlock_unlock(&W.forklock);
}

/* The forked child: check the copy, write to it, check again. */
static __noreturn void fork_child(struct thr *t, bool inj)
{
	struct region *r;
	size_t start, n, i;
	long bad;
	int fd, tries;

	/* make-it-fail came along: clear it for this process */
	for (tries = 0; inj && tries < 1000; tries++) {
		fd = ksmt_make_it_fail_open(0);
		if (fd >= 0 && ksmt_make_it_fail(fd, false)) {
			close(fd);
			break;
		}
		if (fd >= 0)
			close(fd);
	}
	bad = verify_all("in the forked child");
	r = &W.reg[rnd(t, nr_regions)];
	make_writable(r);
	pick_range(t, 32, &start, &n);
	for (i = start; i < start + n; i++) {
		r->oracle[i] = new_content(t);
		page_fill(page_addr(r, i), r->oracle[i]);
	}
	/* let ksmd find the child registered */
	usleep(rnd(t, 200000));
	bad += verify_all("in the forked child, after writing");
	_exit(bad ? 1 : 0);
}

static void op_fork(struct thr *t)
{
	bool inj;
	int status, i;
	pid_t pid;
	int err;

	pthread_rwlock_wrlock(&W.forklock);
	/*
	 * The child inherits make-it-fail: its first page faults, before it
	 * can clear it, must not meet failing page allocations.
	 */
	inj = __atomic_load_n(&ctl->inject_fork, __ATOMIC_RELAXED) &&
	      inject_begin(t);
	pid = fork();
	err = errno;
	if (!pid)
		fork_child(t, inj);
	inject_end(t, inj);
	pthread_rwlock_unlock(&W.forklock);
	if (pid < 0) {
		failed(OP_FORK, inj, "fork", err);
		return;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		STAT_ADD(child_bad, 1);
		if (WIFSIGNALED(status))
			ksft_print_msg("worker %d: forked child killed by signal %d\n",
				       W.id, WTERMSIG(status));
		return;
	}
	/* the child's writes must not show here */
	pthread_rwlock_rdlock(&W.forklock);
	for (i = 0; i < nr_regions; i++) {
		pthread_mutex_lock(&W.reg[i].lock);
		verify(&W.reg[i], 0, REGION_PAGES, "in the parent after fork");
		pthread_mutex_unlock(&W.reg[i].lock);
	}
	pthread_rwlock_unlock(&W.forklock);
	STAT_ADD(forks_ok, 1);
}

static int pick_op(struct thr *t)
{
	int w[NR_OPS], total = 0, op, x;

	for (op = 0; op < NR_OPS; op++) {
		w[op] = op_weight[op];
		if ((op == OP_PRCTL && !W.merge_any) || (ops_off & (1U << op)) ||
		    (op == OP_MIGRATE && !two_nodes))
			w[op] = 0;
		total += w[op];
	}
	x = rnd(t, total);
	for (op = 0; x >= w[op]; op++)
		x -= w[op];
	return op;
}

static void do_op(struct thr *t, int op)
{
	struct region *r;

	if (op == OP_FORK)
		return op_fork(t);
	if (op == OP_PRCTL)
		return op_prctl(t);
	pthread_rwlock_rdlock(&W.forklock);
	r = &W.reg[rnd(t, nr_regions)];
	pthread_mutex_lock(&r->lock);
	cur_region = r - W.reg;
	switch (op) {
	case OP_WRITE:
		op_write(t, r);
		break;
	case OP_VERIFY:
		verify(r, 0, REGION_PAGES, "verify");
		break;
	case OP_MREMAP:
		op_mremap(t, r);
		break;
	case OP_MPROTECT:
		op_mprotect(t, r);
		break;
	case OP_DONTNEED:
		op_dontneed(t, r);
		break;
	case OP_PAGEOUT:
		op_pageout(t, r);
		break;
	case OP_UNMERGE:
		op_unmerge(t, r);
		break;
	case OP_MERGE:
		op_merge(t, r);
		break;
	case OP_MIGRATE:
		op_migrate(t, r);
		break;
	case OP_REMAP:
		op_remap(t, r);
		break;
	}
	cur_region = -1;
	pthread_mutex_unlock(&r->lock);
	pthread_rwlock_unlock(&W.forklock);
}

/*
 * A worker crashing is a failure the controller reports; say where and
 * doing what first.  Not async-signal-safe, but the process dies anyway.
 */
static void crash_handler(int sig, siginfo_t *si, void *uc)
{
	char buf[256];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "# worker %d: signal %d, code %d, at %p during %s, region %d\n",
		     W.id, sig, si->si_code, si->si_addr,
		     cur_op >= 0 ? op_name[cur_op] : "no op", cur_region);
	if (cur_region >= 0) {
		struct region *r = &W.reg[cur_region];

		n += snprintf(buf + n, sizeof(buf) - n,
			      "# region %d at %p (slot %p), read-only pages %zu-%zu\n",
			      cur_region, r->base, r->slot, r->ro_start, r->ro_end);
	}
	if (write(STDOUT_FILENO, buf, n) < 0)
		_exit(KSFT_FAIL);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void crash_handlers(void)
{
	struct sigaction sa = {
		.sa_sigaction = crash_handler,
		.sa_flags = SA_SIGINFO | SA_RESETHAND,
	};

	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

static int load_cmd(void)
{
	return __atomic_load_n(&ctl->cmd, __ATOMIC_ACQUIRE);
}

static void *thread_fn(void *arg)
{
	struct thr *t = arg;
	int op;

	t->mif = ksmt_make_it_fail_open(0);
	for (;;) {
		int cmd = load_cmd();

		if (cmd == CMD_STOP)
			break;
		if (cmd == CMD_PAUSE) {
			__atomic_add_fetch(&ctl->paused, 1, __ATOMIC_RELEASE);
			while (load_cmd() == CMD_PAUSE)
				usleep(5000);
			__atomic_sub_fetch(&ctl->paused, 1, __ATOMIC_RELEASE);
			continue;
		}
		op = pick_op(t);
		cur_op = op;
		do_op(t, op);
		cur_op = -1;
		STAT_ADD(ops[op], 1);
		/* leave ksmd most of the CPU time */
		usleep(2000 + rnd(t, 20000));
	}
	if (t->mif >= 0)
		close(t->mif);
	return NULL;
}

static void worker_setup(uint64_t *rng)
{
	pthread_rwlockattr_t attr;
	char *area;
	int i;
	size_t j;

	W.reg = calloc(nr_regions, sizeof(*W.reg));
	/* slots of two region sizes with a guard page after each */
	area = mmap(NULL, nr_regions * (2 * RSIZE + ksmt_page_size), PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!W.reg || area == MAP_FAILED)
		_exit(KSFT_FAIL);
	for (i = 0; i < nr_regions; i++) {
		struct region *r = &W.reg[i];

		pthread_mutex_init(&r->lock, NULL);
		r->slot = area + i * (2 * RSIZE + ksmt_page_size);
		r->base = r->slot;
		if (mmap(r->base, RSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE |
			 MAP_ANONYMOUS | MAP_FIXED, -1, 0) != r->base)
			_exit(KSFT_FAIL);
		madvise(r->base, RSIZE, MADV_NOHUGEPAGE);
		for (j = 0; j < REGION_PAGES; j++) {
			struct thr t = { .rng = rnd64(rng) };

			r->oracle[j] = new_content(&t);
			/* half the zero pages are never touched */
			if (OV_KIND(r->oracle[j]) != K_ZERO || rnd(&t, 2))
				page_fill(page_addr(r, j), r->oracle[j]);
		}
		if (!W.merge_any) {
			if (madvise(r->base, RSIZE, MADV_MERGEABLE))
				_exit(KSFT_FAIL);
			r->mergeable = true;
		}
	}
	if (W.merge_any) {
		if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0))
			_exit(KSFT_FAIL);
		W.prctl_on = true;
		for (i = 0; i < nr_regions; i++)
			W.reg[i].mergeable = true;
	}
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr,
				      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&W.forklock, &attr);
}

static void wait_cmd(int cmd)
{
	while (load_cmd() < cmd)
		usleep(10000);
}

static __noreturn void worker_main(int id)
{
	struct thr thr[MAX_THREADS];
	uint64_t rng = seed ^ (0x9e3779b97f4a7c15ULL * (id + 1));
	int i;

	/* die with the controller, whatever kills it */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != ctl_pid)
		_exit(KSFT_FAIL);
	W.id = id;
	crash_handlers();
	/* the last worker merges through prctl, if there are several */
	W.merge_any = nr_procs > 1 && id == nr_procs - 1;
	worker_setup(&rng);
	__atomic_store_n(&ctl->ack[id], CMD_RUN, __ATOMIC_RELEASE);
	for (i = 0; i < nr_threads; i++) {
		thr[i].rng = rnd64(&rng) | 1;
		thr[i].maps = mmap(NULL, MAPS_LEN, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (thr[i].maps == MAP_FAILED ||
		    pthread_create(&thr[i].tid, NULL, thread_fn, &thr[i]))
			_exit(KSFT_FAIL);
	}
	for (i = 0; i < nr_threads; i++)
		pthread_join(thr[i].tid, NULL);
	/* the last word before and after the final run=2 */
	ctl->verify_bad[id] = verify_all("at the end");
	__atomic_store_n(&ctl->ack[id], CMD_STOP, __ATOMIC_RELEASE);
	wait_cmd(CMD_VERIFY);
	ctl->verify_bad[id] += verify_all("after the final run=2");
	__atomic_store_n(&ctl->ack[id], CMD_VERIFY, __ATOMIC_RELEASE);
	wait_cmd(CMD_EXIT);
	_exit(0);
}

/* Controller */

struct counters {
	long shared, sharing, unshared, zero, chains, dups, scans;
};

static void read_counters(struct counters *c)
{
	c->shared = ksmt_get("pages_shared");
	c->sharing = ksmt_get("pages_sharing");
	c->unshared = ksmt_get("pages_unshared");
	c->zero = ksmt_get("ksm_zero_pages");
	c->chains = ksmt_get("stable_node_chains");
	c->dups = ksmt_get("stable_node_dups");
	c->scans = ksmt_get("full_scans");
}

/* What a stage saw, besides the shared counts. */
struct stage_figures {
	long max_shared, max_sharing, max_zero, max_chains, max_dups;
	long cycles, scans;
	long run2, run2_enomem, run2_other, run2_retries_max;
	long zero_checks, zero_bad, loaded_nonzero;
	long knob_busy;
	long slab_injected, page_injected;
	bool dead, paused_ok;
	double run2_secs_max;
};

static void sample(struct stage_figures *f)
{
	struct counters c;

	read_counters(&c);
	f->max_shared = c.shared > f->max_shared ? c.shared : f->max_shared;
	f->max_sharing = c.sharing > f->max_sharing ? c.sharing : f->max_sharing;
	f->max_zero = c.zero > f->max_zero ? c.zero : f->max_zero;
	f->max_chains = c.chains > f->max_chains ? c.chains : f->max_chains;
	f->max_dups = c.dups > f->max_dups ? c.dups : f->max_dups;
}

/* A worker that exited early is a failure: reap it and say so. */
static bool workers_alive(struct stage_figures *f)
{
	int i, status;

	for (i = 0; i < nr_procs; i++) {
		if (!worker_pid[i] ||
		    waitpid(worker_pid[i], &status, WNOHANG) != worker_pid[i])
			continue;
		ksft_print_msg("worker %d died: %s %d\n", i,
			       WIFSIGNALED(status) ? "signal" : "exit status",
			       WIFSIGNALED(status) ? WTERMSIG(status) :
			       WEXITSTATUS(status));
		worker_pid[i] = 0;
		f->dead = true;
	}
	return !f->dead;
}

/* Injection for one cycle: random rates, counted through "times". */
#define TIMES	1000000000L

static const char * const slab_caches[2][3] = {
	{ "ksm_item", "ksm_snode", "ksm_mm" },			/* ours */
	{ "ksm_rmap_item", "ksm_stable_node", "ksm_mm_slot" },	/* 6.12 */
};

static int cache_set = -1;
static long slab_baseline[3];
static bool cache_filter;

static void inject_on(long cycle)
{
	static const long prob[] = { 1, 5, 20, 50 };
	static const long interval[] = { 1, 1, 10, 100 };
	/*
	 * Both injectors, then the slab alone, the pages alone, then at
	 * random; from one allocation in 10,000 to one in two, but the
	 * first cycle fails 5% of KSM's slab allocations and 1% of the
	 * pages: enough to be seen in any run, few enough for merging to
	 * go on.
	 */
	long mode = cycle < 3 ? cycle : crnd(3);
	long sp = cycle ? prob[crnd(4)] : 5, pp = cycle ? prob[crnd(3)] : 1;
	long si = cycle ? interval[crnd(4)] : 1, pi = cycle ? interval[crnd(4)] : 1;
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", mode == 2 ? 0 : sp);
	ksmt_fault_write("failslab", "probability", buf);
	snprintf(buf, sizeof(buf), "%ld", si);
	ksmt_fault_write("failslab", "interval", buf);
	snprintf(buf, sizeof(buf), "%ld", mode == 1 ? 0 : pp);
	ksmt_fault_write("fail_page_alloc", "probability", buf);
	snprintf(buf, sizeof(buf), "%ld", pi);
	ksmt_fault_write("fail_page_alloc", "interval", buf);
	snprintf(buf, sizeof(buf), "%ld", TIMES);
	ksmt_fault_write("failslab", "times", buf);
	ksmt_fault_write("fail_page_alloc", "times", buf);
	ksmt_make_it_fail(ksmd_mif, true);
	__atomic_store_n(&ctl->inject_fork, mode == 1, __ATOMIC_RELEASE);
	__atomic_store_n(&ctl->inject, 1, __ATOMIC_RELEASE);
}

/* Stop injecting; count what was injected. */
static void inject_off(struct stage_figures *f)
{
	long left;

	__atomic_store_n(&ctl->inject, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&ctl->inject_fork, 0, __ATOMIC_RELEASE);
	ksmt_make_it_fail(ksmd_mif, false);
	left = ksmt_fault_read("failslab", "times");
	ksmt_fault_write("failslab", "times", "0");
	if (left >= 0)
		f->slab_injected += TIMES - left;
	left = ksmt_fault_read("fail_page_alloc", "times");
	ksmt_fault_write("fail_page_alloc", "times", "0");
	if (left >= 0)
		f->page_injected += TIMES - left;
}

static int run_write(const char *val, bool inject)
{
	ssize_t n;
	int err;

	if (inject)
		ksmt_make_it_fail(self_mif, true);
	n = pwrite(run_fd, val, strlen(val), 0);
	err = errno;
	if (inject)
		ksmt_make_it_fail(self_mif, false);
	return n < 0 ? -err : 0;
}

/*
 * run=2: with @inject, once with failures still injected, which are then
 * stopped; after that (and with @retry) until it succeeds.  Otherwise it
 * must succeed at the first try.
 */
static bool unmerge_all(struct stage_figures *f, bool inject, bool retry)
{
	double t0 = ksmt_now();
	int tries = 0, ret;

	if (inject) {
		ret = run_write("2", true);
		inject_off(f);
		f->run2++;
		if (ret == -ENOMEM || ret == -EAGAIN)
			f->run2_enomem++;
		else if (ret)
			f->run2_other++;
		if (ret && ret != -ENOMEM && ret != -EAGAIN)
			ksft_print_msg("run=2 under injection: %s\n", strerror(-ret));
		if (!ret)
			goto done;
	}
	for (;;) {
		ret = run_write("2", false);
		f->run2++;
		if (!ret)
			break;
		tries++;
		if (ret == -ENOMEM)
			f->run2_enomem++;
		else
			f->run2_other++;
		ksft_print_msg("run=2 without injection: %s\n", strerror(-ret));
		if (!(inject || retry) || tries >= 20)
			return false;
		usleep(200000);
	}
done:
	if (tries > f->run2_retries_max)
		f->run2_retries_max = tries;
	if (ksmt_now() - t0 > f->run2_secs_max)
		f->run2_secs_max = ksmt_now() - t0;
	return true;
}

/* Every counter zero, and, with @procs, each worker's too. */
static bool global_zero(struct counters *c)
{
	read_counters(c);
	return !c->shared && !c->sharing && !c->unshared && !c->zero &&
	       !c->chains && !c->dups;
}

static bool counters_zero(const char *when, bool procs)
{
	double end = ksmt_now() + 3;
	struct counters c;
	bool ok;
	int i;

	/* a child that just exited may still be torn down asynchronously */
	while (!(ok = global_zero(&c)) && ksmt_now() < end) {
		usleep(100000);
		/*
		 * and run=2 leaves (as 6.12 does) the stable nodes of KSM
		 * pages that such an mm still mapped: another run=2 clears
		 * them once it is gone, while a page still merged would
		 * keep them
		 */
		if (!c.shared && !c.sharing && !c.unshared && !c.zero) {
			ksmt_set("run", 0);
			ksmt_set("run", 2);
		}
	}
	if (!ok) {
		ksft_print_msg("%s: pages_shared %ld pages_sharing %ld pages_unshared %ld\n",
			       when, c.shared, c.sharing, c.unshared);
		ksft_print_msg("%s: ksm_zero_pages %ld stable_node_chains %ld dups %ld\n",
			       when, c.zero, c.chains, c.dups);
	}
	for (i = 0; procs && i < nr_procs; i++) {
		long mp, zp, items;

		if (!worker_pid[i])
			continue;
		mp = ksmt_merging_pages(worker_pid[i]);
		zp = ksmt_proc_field(worker_pid[i], "ksm_stat", "ksm_zero_pages");
		items = ksmt_proc_field(worker_pid[i], "ksm_stat", "ksm_rmap_items");
		if (mp || zp || items) {
			ksft_print_msg("%s: worker %d merging %ld zero %ld rmap_items %ld\n",
				       when, i, mp, zp, items);
			ok = false;
		}
	}
	return ok;
}

static bool pause_workers(void)
{
	int want = 0, i;
	double end = ksmt_now() + 300;

	for (i = 0; i < nr_procs; i++)
		want += worker_pid[i] ? nr_threads : 0;
	__atomic_store_n(&ctl->cmd, CMD_PAUSE, __ATOMIC_RELEASE);
	while (__atomic_load_n(&ctl->paused, __ATOMIC_ACQUIRE) < want) {
		if (ksmt_now() > end) {
			ksft_print_msg("workers did not pause: %d of %d threads\n",
				       ctl->paused, want);
			return false;
		}
		usleep(10000);
	}
	return true;
}

static void resume_workers(void)
{
	__atomic_store_n(&ctl->cmd, CMD_RUN, __ATOMIC_RELEASE);
}

/* Knobs that need nothing merged: retried while stable nodes linger. */
static void set_knob(struct stage_figures *f, const char *name, long val)
{
	int tries, ret = 0;

	for (tries = 0; tries < 5; tries++) {
		ret = ksmt_write_ul(name, val);
		if (ret != -EBUSY)
			break;
		usleep(100000);
	}
	if (ret == -EBUSY)
		f->knob_busy++;
	else if (ret)
		ksft_exit_fail_msg("writing %ld to %s: %s\n", val, name,
				   strerror(-ret));
}

static void set_advisor(bool on)
{
	static const long pages[] = { 500, 2000, 4000 };

	if (on) {
		ksmt_set("advisor_min_pages_to_scan", 500);
		ksmt_set("advisor_max_pages_to_scan", 5000);
		ksmt_set("advisor_target_scan_time", 1 + crnd(3));
		ksmt_write("advisor_mode", "scan-time");
	} else {
		ksmt_write("advisor_mode", "none");
		ksmt_set("pages_to_scan", pages[crnd(3)]);
	}
}

/* The tunables of a cycle: the first ones make sure chains form. */
static void set_cycle_knobs(struct stage_figures *f, long cycle)
{
	static const long sharing[] = { 2, 2, 3, 4, 8, 256 };
	static const long sleep_ms[] = { 0, 0, 5, 20 };

	set_knob(f, "max_page_sharing", cycle < 2 ? 2 + cycle : sharing[crnd(6)]);
	if (two_nodes)
		set_knob(f, "merge_across_nodes", cycle < 2 ? !cycle : crnd(2));
	ksmt_set("use_zero_pages", cycle < 2 ? cycle : crnd(2));
	ksmt_set("smart_scan", crnd(2));
	ksmt_set("sleep_millisecs", sleep_ms[crnd(4)]);
	set_advisor(crnd(10) < 3);
}

/* Fault injection settings as found, put back by the cleanup. */
static const char * const fault_attrs[] = {
	"failslab/probability", "failslab/interval", "failslab/times",
	"failslab/verbose", "failslab/task-filter", "failslab/ignore-gfp-wait",
	"failslab/cache-filter",
	"fail_page_alloc/probability", "fail_page_alloc/interval",
	"fail_page_alloc/times", "fail_page_alloc/verbose",
	"fail_page_alloc/task-filter", "fail_page_alloc/ignore-gfp-wait",
	"fail_page_alloc/ignore-gfp-highmem", "fail_page_alloc/min-order",
};

#define NR_FAULT_ATTRS (sizeof(fault_attrs) / sizeof(*fault_attrs))

static char fault_saved[NR_FAULT_ATTRS][32];

static void cache_failslab(const char *val)
{
	char path[128];
	int i;

	for (i = 0; cache_set >= 0 && i < 3; i++) {
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/failslab",
			 slab_caches[cache_set][i]);
		ksmt_write_path(path, val);
	}
}

static void faults_restore(void)
{
	unsigned int i;

	if (!faults_ready)
		return;
	__atomic_store_n(&ctl->inject, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&ctl->inject_fork, 0, __ATOMIC_RELEASE);
	ksmt_make_it_fail(ksmd_mif, false);
	for (i = 0; i < NR_FAULT_ATTRS; i++) {
		char path[128];
		char *nl = strchr(fault_saved[i], '\n');

		if (nl)
			*nl = '\0';
		snprintf(path, sizeof(path), KSMT_FAULT_DIR "%s", fault_attrs[i]);
		ksmt_write_path(path, fault_saved[i]);
	}
	if (cache_filter)
		cache_failslab("0");
	faults_ready = false;
}

/*
 * Injection aimed at make-it-fail tasks only, into every allocation
 * they make that may sleep, order 0 included, silently (a stack dump
 * per failure would read as a splat); in the slab, only into KSM's
 * caches.  False with a message when this kernel cannot.
 */
static bool faults_setup(void)
{
	char path[128];
	unsigned int i;
	pid_t ksmd;

	for (i = 0; i < NR_FAULT_ATTRS; i++) {
		snprintf(path, sizeof(path), KSMT_FAULT_DIR "%s", fault_attrs[i]);
		if (ksmt_read_path(path, fault_saved[i], sizeof(fault_saved[i])) <= 0) {
			ksft_print_msg("no %s: no fault injection\n", path);
			return false;
		}
	}
	ksmd = ksmt_ksmd_pid();
	self_mif = ksmt_make_it_fail_open(0);
	ksmd_mif = ksmd > 0 ? ksmt_make_it_fail_open(ksmd) : -1;
	if (self_mif < 0 || ksmd_mif < 0) {
		ksft_print_msg("no make-it-fail for ksmd (pid %d) or this task\n", ksmd);
		return false;
	}
	faults_ready = true;
	ksmt_fault_write("failslab", "times", "0");
	ksmt_fault_write("fail_page_alloc", "times", "0");
	ksmt_fault_write("failslab", "verbose", "0");
	ksmt_fault_write("fail_page_alloc", "verbose", "0");
	ksmt_fault_write("failslab", "task-filter", "Y");
	ksmt_fault_write("fail_page_alloc", "task-filter", "Y");
	ksmt_fault_write("failslab", "ignore-gfp-wait", "N");
	ksmt_fault_write("fail_page_alloc", "ignore-gfp-wait", "N");
	ksmt_fault_write("fail_page_alloc", "ignore-gfp-highmem", "N");
	ksmt_fault_write("fail_page_alloc", "min-order", "0");
	cache_filter = cache_set >= 0;
	for (i = 0; cache_filter && i < 3; i++) {
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/failslab",
			 slab_caches[cache_set][i]);
		if (ksmt_write_path(path, "1"))
			cache_filter = false;
	}
	if (!cache_filter) {
		cache_failslab("0");
		/* without slab_nomerge */
		ksft_print_msg("KSM's slab caches are merged: failslab aims at every cache\n");
	}
	ksmt_fault_write("failslab", "cache-filter", cache_filter ? "Y" : "N");
	return true;
}

/* Which names KSM's caches go by here, and whether they stand alone. */
static void slab_setup(void)
{
	char path[128];
	int s, i;

	for (s = 0; s < 2 && cache_set < 0; s++) {
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s", slab_caches[s][0]);
		if (!access(path, F_OK))
			cache_set = s;
	}
	for (i = 0; cache_set >= 0 && i < 3; i++)
		slab_baseline[i] = ksmt_slab_objects(slab_caches[cache_set][i]);
}

/*
 * One stage: cycles of new knobs, run=1 with live changes, and run=2,
 * every other one with the workers paused so that the counters can be
 * judged.
 */
static void stage(struct stage_figures *f, double secs, bool faults)
{
	double end = ksmt_now() + secs;
	long cycle;

	for (cycle = 0; ksmt_now() < end; cycle++) {
		bool quiesce = !(cycle % 2);
		struct counters c0, c;
		double t0, phase;

		set_cycle_knobs(f, cycle);
		if (faults)
			inject_on(cycle);
		ksmt_set("run", 1);
		read_counters(&c0);
		t0 = ksmt_now();
		phase = 4 + crnd(8);
		/* long enough for merges and chains: several full scans */
		for (;;) {
			double t = ksmt_now() - t0;

			usleep(200000);
			sample(f);
			read_counters(&c);
			if (t > 30 || ksmt_now() > end + 5 ||
			    (t > phase && c.scans >= c0.scans + 4))
				break;
			if (!workers_alive(f))
				break;
			switch (crnd(40)) {
			case 0:
				ksmt_set("use_zero_pages", crnd(2));
				break;
			case 1:
				ksmt_set("smart_scan", crnd(2));
				break;
			case 2:
				set_advisor(crnd(2));
				break;
			case 3:
				ksmt_set("run", 0);
				usleep(100000 * (1 + crnd(5)));
				ksmt_set("run", 1);
				break;
			}
		}
		f->scans += c.scans - c0.scans;
		f->cycles++;
		if (quiesce && (!workers_alive(f) || !pause_workers())) {
			f->dead = true;
			if (faults)
				inject_off(f);
			return;
		}
		if (!unmerge_all(f, faults, false)) {
			ksft_print_msg("run=2 failed in cycle %ld\n", cycle);
			f->zero_bad++;
		} else if (quiesce) {
			f->zero_checks++;
			if (!counters_zero("after run=2, workers paused", true))
				f->zero_bad++;
		} else if (!counters_zero("after run=2 under load (not judged)", false)) {
			f->loaded_nonzero++;
		}
		if (quiesce)
			resume_workers();
		if (!workers_alive(f))
			return;
	}
}

static void print_figures(const char *name, const struct stage_figures *f,
			  const struct stress_stats *s, double secs)
{
	char line[512];
	int op, n = 0;

	ksft_print_msg("%s: %.0f s, %ld cycles, %ld full scans\n", name, secs,
		       f->cycles, f->scans);
	for (op = 0; op < NR_OPS; op++)
		n += snprintf(line + n, sizeof(line) - n, " %s %ld", op_name[op],
			      s->ops[op]);
	ksft_print_msg("%s: ops:%s\n", name, line);
	n = 0;
	for (op = 0; op < NR_OPS; op++)
		if (s->op_enomem[op])
			n += snprintf(line + n, sizeof(line) - n, " %s %ld",
				      op_name[op], s->op_enomem[op]);
	ksft_print_msg("%s: ENOMEM/EAGAIN:%s; unexpected errors %ld\n", name,
		       n ? line : " none", s->unexpected);
	ksft_print_msg("%s: pages verified %ld, mismatches %ld\n", name,
		       s->verified, s->mismatches);
	ksft_print_msg("%s: max pages_shared %ld pages_sharing %ld ksm_zero_pages %ld\n",
		       name, f->max_shared, f->max_sharing, f->max_zero);
	ksft_print_msg("%s: max stable_node_chains %ld stable_node_dups %ld\n",
		       name, f->max_chains, f->max_dups);
	ksft_print_msg("%s: forks checked %ld, bad children %ld\n", name,
		       s->forks_ok, s->child_bad);
	ksft_print_msg("%s: pages migrated %ld (KSM pages %ld), left in place %ld\n",
		       name, s->migrated, s->ksm_migrated, s->migrate_failed);
	ksft_print_msg("%s: pages swapped out %ld; unmerge checks %ld, pages left merged %ld\n",
		       name, s->swapped, s->unmerge_checks, s->unmerge_left);
	ksft_print_msg("%s: run=2 %ld times: ENOMEM %ld, other errors %ld, retries %ld at most\n",
		       name, f->run2, f->run2_enomem, f->run2_other,
		       f->run2_retries_max);
	ksft_print_msg("%s: run=2 took %.1f s at most; counter checks %ld, failed %ld\n",
		       name, f->run2_secs_max, f->zero_checks, f->zero_bad);
	ksft_print_msg("%s: nonzero after run=2 under load %ld; busy knobs %ld\n",
		       name, f->loaded_nonzero, f->knob_busy);
	if (s->injected_calls || f->slab_injected || f->page_injected)
		ksft_print_msg("%s: injected failures: slab %ld, pages %ld; syscalls exposed %ld\n",
			       name, f->slab_injected, f->page_injected,
			       s->injected_calls);
}

static void stats_diff(struct stress_stats *d, const struct stress_stats *a,
		       const struct stress_stats *b)
{
	const long *pa = (const long *)a, *pb = (const long *)b;
	long *pd = (long *)d;
	size_t i;

	for (i = 0; i < sizeof(*d) / sizeof(long); i++)
		pd[i] = pa[i] - pb[i];
}

static void report_stage(const char *name, const struct stage_figures *f,
			 const struct stress_stats *s, bool faults)
{
	ksft_test_result(!f->dead && !s->mismatches && !s->child_bad &&
			 s->verified > 0,
			 "%s: every page as the oracle says\n", name);
	ksft_test_result(!s->unexpected && !f->run2_other,
			 "%s: syscalls failed only as allowed\n", name);
	ksft_test_result(s->unmerge_checks > 0 && !s->unmerge_left,
			 "%s: nothing left merged by MADV_UNMERGEABLE or prctl\n",
			 name);
	ksft_test_result(f->zero_checks > 0 && !f->zero_bad,
			 "%s: counters zero after run=2 with workers paused\n",
			 name);
	if (faults) {
		ksft_test_result(f->slab_injected > 0 && f->page_injected > 0 &&
				 f->max_sharing > 0,
				 "%s: failures injected into KSM, merging went on\n",
				 name);
		return;
	}
	ksft_test_result(f->max_sharing > 0 && f->max_chains > 0 &&
			 f->max_dups > 0,
			 "%s: merged, into stable node chains and dups\n", name);
	ksft_test_result(s->forks_ok > 0,
			 "%s: forked children checked their copy\n", name);
	if (two_nodes)
		ksft_test_result(s->ksm_migrated > 0,
				 "%s: KSM pages migrated between nodes\n", name);
	else
		ksft_test_result_skip("%s: one NUMA node, no migration\n", name);
}

static void cleanup(void)
{
	int i;

	if (getpid() != ctl_pid)
		return;
	for (i = 0; i < nr_procs; i++)
		if (worker_pid[i] > 0) {
			kill(worker_pid[i], SIGKILL);
			waitpid(worker_pid[i], NULL, 0);
			worker_pid[i] = 0;
		}
	faults_restore();
	ksmt_restore();
	ksmt_zram_swapoff();
}

static bool wait_acks(int cmd, double secs)
{
	double end = ksmt_now() + secs;
	int i;

	for (i = 0; i < nr_procs; i++)
		while (worker_pid[i] &&
		       __atomic_load_n(&ctl->ack[i], __ATOMIC_ACQUIRE) < cmd) {
			if (ksmt_now() > end) {
				ksft_print_msg("worker %d did not finish step %d\n",
					       i, cmd);
				return false;
			}
			usleep(10000);
		}
	return true;
}

/*
 * KSM's slab objects back where they were before the workers: exited
 * mms may wait for ksmd to free their ksm_mm, so let it run a while.
 */
static bool slab_back(void)
{
	double end = ksmt_now() + 60;
	bool ok = false, ran = false;
	long now[3];
	int i;

	for (;;) {
		ok = true;
		for (i = 0; i < 3; i++) {
			now[i] = ksmt_slab_objects(slab_caches[cache_set][i]);
			ok &= now[i] <= slab_baseline[i];
		}
		if (ok || ksmt_now() > end)
			break;
		if (!ran) {
			ksmt_set("run", 1);
			ran = true;
		}
		usleep(500000);
	}
	if (ran)
		ksmt_stop_unmerge();
	for (i = 0; i < 3; i++)
		ksft_print_msg("slab %s: %ld objects, %ld before the workers%s\n",
			       slab_caches[cache_set][i], now[i], slab_baseline[i],
			       ran ? " (ksmd ran to free exited mms)" : "");
	return ok;
}

static double env_secs(const char *name, double def)
{
	const char *v = getenv(name);

	return v && *v ? atof(v) : def;
}

/* "fork,mremap": the ops named, as a mask */
static unsigned int parse_ops(char *list)
{
	unsigned int mask = 0;
	char *name;
	int op;

	for (name = strtok(list, ","); name; name = strtok(NULL, ",")) {
		for (op = 0; op < NR_OPS && strcmp(name, op_name[op]); op++)
			;
		if (op == NR_OPS)
			ksft_exit_fail_msg("no op %s\n", name);
		mask |= 1U << op;
	}
	return mask;
}

static void parse_args(int argc, char **argv)
{
	long pages = 2048;
	int c;

	stress_secs = env_secs("KSM_STRESS_SECS", stress_secs);
	fault_secs = env_secs("KSM_FAULT_SECS", fault_secs);
	seed = time(NULL) ^ getpid();
	while ((c = getopt(argc, argv, "d:F:p:t:n:s:x:")) != -1) {
		switch (c) {
		case 'd':
			stress_secs = atof(optarg);
			break;
		case 'F':
			fault_secs = atof(optarg);
			break;
		case 'p':
			nr_procs = atoi(optarg);
			break;
		case 't':
			nr_threads = atoi(optarg);
			break;
		case 'n':
			pages = atol(optarg);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'x':
			ops_off |= parse_ops(optarg);
			break;
		default:
			ksft_exit_fail_msg("usage: %s [-d SECS] [-F SECS] [-p PROCS] [-t THREADS]\n"
					   "\t[-n PAGES] [-s SEED] [-x OP,...]\n", argv[0]);
		}
	}
	nr_regions = (pages + REGION_PAGES - 1) / REGION_PAGES;
	if (nr_procs < 1 || nr_procs > MAX_PROCS || nr_threads < 1 ||
	    nr_threads > MAX_THREADS || nr_regions < 1 || stress_secs < 0 ||
	    fault_secs < 0 || stress_secs + fault_secs <= 0)
		ksft_exit_fail_msg("bad arguments\n");
}

int main(int argc, char **argv)
{
	struct stage_figures f1 = {}, f2 = {};
	struct stress_stats s0, s1, d;
	bool end_zero, end_exit, faults = false;
	double t0, t1;
	int i, plan = 0;

	ksmt_start();
	parse_args(argc, argv);
	ctl_rng = seed | 1;
	ctl_pid = getpid();
	two_nodes = ksmt_have_two_nodes();
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	run_fd = open(KSMT_DIR "run", O_WRONLY);
	if (run_fd < 0)
		ksft_exit_fail_msg("open run: %s\n", strerror(errno));

	ksmt_take_over(cleanup);
	ksmt_fast_scan();
	slab_setup();
	i = ksmt_zram_swapon(ZRAM_MB);
	if (i < 0)
		ksft_exit_fail_msg("setting up swap on zram0 failed\n");
	have_swap = i > 0;
	if (fault_secs > 0)
		faults = faults_setup();

	if (stress_secs > 0)
		plan += 7;
	if (fault_secs > 0)
		plan += 5;
	plan += 3;
	ksft_set_plan(plan);
	ksft_print_msg("seed %#llx: %d processes x %d threads, %d pages each%s%s\n",
		       (unsigned long long)seed, nr_procs, nr_threads,
		       nr_regions * REGION_PAGES, have_swap ? "" : ", no swap",
		       two_nodes ? "" : ", one node");
	ksft_print_msg("%.0f s of stress, then %.0f s with failures injected\n",
		       stress_secs, fault_secs);

	fflush(stdout);
	for (i = 0; i < nr_procs; i++)
		ctl->ack[i] = -1;
	for (i = 0; i < nr_procs; i++) {
		worker_pid[i] = fork();
		if (worker_pid[i] < 0)
			ksft_exit_fail_msg("fork: %s\n", strerror(errno));
		if (!worker_pid[i])
			worker_main(i);
	}
	if (!wait_acks(CMD_RUN, 120))
		ksft_exit_fail_msg("workers did not start\n");

	t0 = ksmt_now();
	s0 = ctl->st;
	if (stress_secs > 0) {
		stage(&f1, stress_secs, false);
		s1 = ctl->st;
		stats_diff(&d, &s1, &s0);
		print_figures("stress", &f1, &d, ksmt_now() - t0);
		report_stage("stress", &f1, &d, false);
		s0 = s1;
	}
	t1 = ksmt_now();
	if (fault_secs > 0) {
		if (faults && !f1.dead)
			stage(&f2, fault_secs, true);
		s1 = ctl->st;
		stats_diff(&d, &s1, &s0);
		if (faults) {
			print_figures("faults", &f2, &d, ksmt_now() - t1);
			report_stage("faults", &f2, &d, true);
		} else {
			for (i = 0; i < 5; i++)
				ksft_test_result_skip("faults: no fault injection here\n");
		}
	}

	/* The end: workers stop and check, run=2, everything back to zero. */
	__atomic_store_n(&ctl->cmd, CMD_STOP, __ATOMIC_RELEASE);
	end_exit = wait_acks(CMD_STOP, 600);
	faults_restore();
	end_zero = end_exit && unmerge_all(&f2, false, faults) &&
		   counters_zero("after the final run=2", true);
	__atomic_store_n(&ctl->cmd, CMD_VERIFY, __ATOMIC_RELEASE);
	end_exit &= wait_acks(CMD_VERIFY, 600);
	__atomic_store_n(&ctl->cmd, CMD_EXIT, __ATOMIC_RELEASE);
	for (i = 0; i < nr_procs; i++) {
		int status;

		if (!worker_pid[i]) {
			end_exit = false;
			continue;
		}
		waitpid(worker_pid[i], &status, 0);
		worker_pid[i] = 0;
		end_exit &= WIFEXITED(status) && !WEXITSTATUS(status) &&
			    !ctl->verify_bad[i];
	}
	end_zero &= counters_zero("after the workers exited", false);
	ksft_test_result(end_zero,
			 "end: counters zero after run=2, in every process too\n");
	ksft_test_result(end_exit,
			 "end: contents intact across the final run=2, workers exited cleanly\n");
	if (cache_set < 0 || slab_baseline[0] < 0)
		ksft_test_result_skip("end: KSM's slab caches merged (no slab_nomerge)\n");
	else
		ksft_test_result(slab_back(),
				 "end: KSM's slab objects back to their count before the workers\n");
	ksft_finished();
}
