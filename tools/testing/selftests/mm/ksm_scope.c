// SPDX-License-Identifier: GPL-2.0
/*
 * KSM merge scopes, /sys/kernel/mm/ksm/merge_scope: "global" merges any
 * pages alike, wherever they are charged; "memcg" merges a page only with
 * pages charged to the same memory cgroup.  Under memcg no tenant can tell,
 * by the copy-on-write fault its write takes or does not take, whether
 * another cgroup holds the same contents, and each cgroup's memory.current
 * falls by its own merged pages only.  Also: zero pages under memcg, a
 * process moving to another cgroup, a cgroup removed while its pages are
 * merged, when the scope may change, a KSM page reused in place, and the
 * ksm_merging, ksm_zero and ksm_metadata lines of memory.stat.
 *
 * Processes live in two cgroup v2 children of the root with the memory
 * controller (and, for memory.stat, in a child of one of them); the test
 * itself stays in the root cgroup.
 */
#define _GNU_SOURCE
#include "ksm_test_util.h"

#define N		128	/* pages per area */
/*
 * Pages of the areas of the reuse case: memory.current moves in batches
 * of up to 64 pages per CPU, which must not hide a copy of every page.
 */
#define N_REUSE		512
#define N_ZERO		32	/* zero-filled pages, where a case has any */
#define NR_CASES	11
#define MAX_TENANTS	6
#define SCOPE_FILE	KSMT_DIR "merge_scope"
#define NO_SCOPE	"no " SCOPE_FILE
#define CG_A		"ksmt_scope_a"
#define CG_B		"ksmt_scope_b"
#define CG_B_SUB	CG_B "/sub"
/* how long memory.current and memory.stat may take to settle */
#define SETTLE_S	10

/*
 * A process of the test, in MAP_SHARED memory so that the parent sees
 * where it mapped its areas and the figures of its last timed writes.
 */
struct tenant {
	pid_t pid;		/* written by the parent only */
	const char *cg;		/* cgroup entered before mapping anything */
	struct ksmt_area a;	/* mapped at setup, if a.npages */
	struct ksmt_area b;	/* mapped by 'n' */
	size_t nzero;		/* zero-filled pages mapped at setup */
	char *z;
	bool time_b;		/* 'x' writes to b rather than a */
	/* figures of the last 'x' */
	long faults;
	int kept;
	double median_ns;
	double mean_ns;
};

static struct tenant *tenants;
/* the parent's side of each tenant, private to it */
static struct ksmt_worker workers[MAX_TENANTS];
static pid_t test_pid;
static bool have_scope;
static char saved_scope[16];
static bool cleaned;

static bool zero_intact(const struct tenant *t)
{
	size_t i;

	for (i = 0; i < t->nzero * ksmt_page_size; i++)
		if (t->z[i])
			return false;
	return true;
}

static bool tenant_intact(const struct tenant *t)
{
	return (!t->a.npages || ksmt_area_intact(&t->a)) &&
	       (!t->b.p || ksmt_area_intact(&t->b)) && zero_intact(t);
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

/*
 * Write one byte to every page of the area, timing each write and counting
 * the minor faults and the pages that kept their frame; then undo the
 * writes (no fault: the pages are writable by then) and check the contents.
 */
static char timed_writes(struct tenant *t, struct ksmt_area *a)
{
	static uint64_t pfn[N_REUSE];
	static double ns[N_REUSE];
	struct timespec t0, t1;
	double sum = 0;
	long start;
	size_t i;

	if (a->npages > N_REUSE)
		return 'n';
	for (i = 0; i < a->npages; i++) {
		pfn[i] = ksmt_pfn(0, a->p + i * ksmt_page_size);
		ns[i] = -1;
	}
	/* warm up the vDSO and the stack below ksmt_minflt() */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	start = ksmt_minflt(getpid());
	for (i = 0; i < a->npages; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		asm volatile("" ::: "memory");
		a->p[i * ksmt_page_size] ^= 0x5a;
		asm volatile("" ::: "memory");
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ns[i] = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
	}
	t->faults = ksmt_minflt(getpid()) - start;
	t->kept = 0;
	for (i = 0; i < a->npages; i++) {
		t->kept += pfn[i] && pfn[i] == ksmt_pfn(0, a->p + i * ksmt_page_size);
		a->p[i * ksmt_page_size] ^= 0x5a;
		sum += ns[i];
	}
	qsort(ns, a->npages, sizeof(*ns), cmp_double);
	t->median_ns = ns[a->npages / 2];
	t->mean_ns = sum / a->npages;
	return ksmt_area_intact(a) ? 'y' : 'n';
}

/*
 * Commands: 's' enters the cgroup, then maps, fills and madvises the
 * areas; 'n' maps area b; 'w' rewrites the first a.nwrite pages of a;
 * 'c' checks all contents; 'x' times writes to a (or b, with time_b).
 */
static char tenant_fn(char cmd, void *arg)
{
	struct tenant *t = arg;

	switch (cmd) {
	case 's':
		if (t->cg && !ksmt_cgroup_enter(t->cg, getpid()))
			return 'n';
		if (t->nzero) {
			t->z = ksmt_map(t->nzero);
			memset(t->z, 0, t->nzero * ksmt_page_size);
			ksmt_mergeable(t->z, t->nzero);
		}
		return t->a.npages ? ksmt_area_fn('s', &t->a) : 'y';
	case 'n':
		return ksmt_area_fn('s', &t->b);
	case 'w':
		return ksmt_area_fn('w', &t->a);
	case 'c':
		return tenant_intact(t) ? 'y' : 'n';
	case 'x':
		return timed_writes(t, t->time_b ? &t->b : &t->a);
	}
	return 'n';
}

/* Tenant i in cgroup cg: npages pages of (tag, index), nzero zero pages. */
static struct tenant *tenant_start(int i, const char *cg, uint64_t tag,
				   size_t npages, size_t nzero)
{
	struct tenant *t = &tenants[i];

	memset(t, 0, sizeof(*t));
	t->cg = cg;
	t->a.npages = npages;
	t->a.tag = tag;
	t->nzero = nzero;
	ksmt_worker_start(&workers[i], tenant_fn, t);
	t->pid = workers[i].pid;
	return t;
}

static bool tenant_do(struct tenant *t, char cmd)
{
	if (ksmt_worker_do(&workers[t - tenants], cmd))
		return true;
	ksft_print_msg("pid %d: command '%c' failed%s\n", t->pid, cmd,
		       cmd == 'c' || cmd == 'w' || cmd == 'x' ?
		       " (contents differ)" : "");
	return false;
}

static void tenant_stop(struct tenant *t)
{
	struct ksmt_worker *w = &workers[t - tenants];

	if (w->pid <= 0)
		return;
	ksmt_worker_stop(w);
	w->pid = 0;
	t->pid = 0;
}

static void tenants_stop(void)
{
	int i;

	for (i = 0; i < MAX_TENANTS; i++)
		tenant_stop(&tenants[i]);
}

/* Contents of every running tenant as written. */
static bool all_intact(void)
{
	bool ok = true;
	int i;

	for (i = 0; i < MAX_TENANTS; i++)
		if (workers[i].pid > 0)
			ok &= tenant_do(&tenants[i], 'c');
	return ok;
}

static bool merging_is(const struct tenant *t, long want)
{
	long got = ksmt_merging_pages(t->pid);

	if (got == want)
		return true;
	ksft_print_msg("pid %d (%s): ksm_merging_pages %ld, want %ld\n",
		       t->pid, t->cg, got, want);
	return false;
}

/* Pages of area xa of x and ya of y on the same frame. */
static int same_frames(const struct tenant *x, const struct ksmt_area *xa,
		       const struct tenant *y, const struct ksmt_area *ya)
{
	size_t i;
	int same = 0;

	for (i = 0; i < xa->npages && i < ya->npages; i++) {
		uint64_t f = ksmt_pfn(x->pid, xa->p + i * ksmt_page_size);

		same += f && f == ksmt_pfn(y->pid, ya->p + i * ksmt_page_size);
	}
	return same;
}

/* Several full scans, after which nothing may have merged. */
static bool scan_none_merged(void)
{
	bool ok;

	ksmt_set("run", 1);
	ok = ksmt_wait_scans(4) && ksmt_wait_merged(0, 0);
	ksmt_set("run", 0);
	return ok;
}

/* The selected scope, "global" or "memcg"; "" if it cannot be read. */
static const char *scope_get(char *buf, size_t len)
{
	char *l, *r;

	if (ksmt_read_path(SCOPE_FILE, buf, len) <= 0)
		return "";
	l = strchr(buf, '[');
	r = l ? strchr(l, ']') : NULL;
	if (!r)
		return "";
	*r = '\0';
	return l + 1;
}

static bool scope_is(const char *want)
{
	const char *exact = strcmp(want, "memcg") ? "[global] memcg\n" :
						    "global [memcg]\n";
	char buf[64];

	if (ksmt_read_path(SCOPE_FILE, buf, sizeof(buf)) > 0 &&
	    !strcmp(buf, exact))
		return true;
	ksft_print_msg("merge_scope reads \"%s\", want \"%s\"\n", buf, exact);
	return false;
}

/* Write str to merge_scope; true if the kernel answered want (0, -errno). */
static bool scope_write(const char *str, int want)
{
	int ret = ksmt_write_path(SCOPE_FILE, str);

	if (ret == want)
		return true;
	ksft_print_msg("writing \"%s\" to merge_scope: %s, want %s\n", str,
		       ret ? strerror(-ret) : "success",
		       want ? strerror(-want) : "success");
	return false;
}

static bool cgroups_make(void)
{
	if (ksmt_cgroup_make(CG_A) && ksmt_cgroup_make(CG_B))
		return true;
	ksft_print_msg("cannot make cgroups %s and %s\n", CG_A, CG_B);
	return false;
}

static void cgroup_rmdir(const char *name)
{
	char path[256];
	int i;

	snprintf(path, sizeof(path), KSMT_CGROOT "/%s", name);
	/* the last task may take a moment to leave */
	for (i = 0; i < 100 && rmdir(path) && errno == EBUSY; i++)
		usleep(10000);
}

static void cgroups_remove(void)
{
	cgroup_rmdir(CG_B_SUB);
	cgroup_rmdir(CG_A);
	cgroup_rmdir(CG_B);
}

/*
 * Start of a case: workers gone, nothing merged, ksmd stopped, the
 * cgroups there and the scope set.  False if any of it failed.
 */
static bool begin(const char *scope)
{
	int ret;

	tenants_stop();
	if (ksmt_stop_unmerge()) {
		ksft_print_msg("cannot unmerge\n");
		return false;
	}
	if (!cgroups_make())
		return false;
	if (!have_scope)
		return true;
	ret = ksmt_write_path(SCOPE_FILE, scope);
	if (ret) {
		ksft_print_msg("merge_scope=%s: %s\n", scope, strerror(-ret));
		return false;
	}
	return true;
}

static void end(void)
{
	tenants_stop();
	ksmt_stop_unmerge();
}

/* A file of a cgroup as a number; -1 if missing. */
static long cg_read(const char *cg, const char *file)
{
	char path[256], buf[64];

	snprintf(path, sizeof(path), KSMT_CGROOT "/%s/%s", cg, file);
	if (ksmt_read_path(path, buf, sizeof(buf)) <= 0)
		return -1;
	return strtol(buf, NULL, 10);
}

static long cg_pages(const char *cg)
{
	long v = cg_read(cg, "memory.current");

	return v < 0 ? v : v / (long)ksmt_page_size;
}

/* Line "key value" of a cgroup's memory.stat; -1 if missing. */
static long cg_stat(const char *cg, const char *key)
{
	char path[256], buf[8192], *p;
	size_t klen = strlen(key);

	snprintf(path, sizeof(path), KSMT_CGROOT "/%s/memory.stat", cg);
	if (ksmt_read_path(path, buf, sizeof(buf)) <= 0)
		return -1;
	for (p = buf; p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (!strncmp(p, key, klen) && p[klen] == ' ')
			return strtol(p + klen + 1, NULL, 10);
	}
	return -1;
}

static void skip_no_scope(const char *what)
{
	char name[200];

	snprintf(name, sizeof(name), "%s: %s", what, NO_SCOPE);
	ksft_test_result_code(KSFT_SKIP, name, "%s", "one merge scope only");
}

/* 1. Global scope: identical pages merge whatever cgroup they are in. */
static void test_global(void)
{
	struct tenant *a, *b;
	bool ok;

	ok = begin("global");
	a = tenant_start(0, CG_A, 10, N, 0);
	b = tenant_start(1, CG_B, 10, N, 0);
	ok = ok && ksmt_merge_and_stop(N, N) && merging_is(a, N) &&
	     merging_is(b, N);
	if (ok && same_frames(a, &a->a, b, &b->a) != N) {
		ksft_print_msg("%d of %d pages on one frame in both cgroups\n",
			       same_frames(a, &a->a, b, &b->a), N);
		ok = false;
	}
	ok &= all_intact();
	end();
	ksft_test_result(ok, "global: identical pages merge across cgroups\n");
}

/* 2. Memcg scope: the same pages in two cgroups stay apart. */
static void test_apart(void)
{
	struct tenant *a, *b;
	bool ok;

	ok = begin("memcg");
	a = tenant_start(0, CG_A, 20, N, 0);
	b = tenant_start(1, CG_B, 20, N, 0);
	ok = ok && scan_none_merged() && ksmt_counters_are(0, 0) &&
	     merging_is(a, 0) && merging_is(b, 0);
	/* and ksmd did look at them */
	if (ok && (ksmt_proc_field(a->pid, "ksm_stat", "ksm_rmap_items") <= 0 ||
		   ksmt_proc_field(b->pid, "ksm_stat", "ksm_rmap_items") <= 0)) {
		ksft_print_msg("pages never scanned\n");
		ok = false;
	}
	ok &= all_intact();
	end();
	ksft_test_result(ok, "memcg: identical pages in two cgroups do not merge\n");
}

/*
 * 3. Memcg scope within one cgroup: two processes of A merge, one of B
 * with the same contents stays out.  Then with max_page_sharing=2 four
 * processes of A (three copies give one full KSM page and one that waits
 * for a twin) make one chain of two dups per page.
 */
static void test_within(void)
{
	struct tenant *a1, *a2, *a3, *a4, *b;
	long chains, dups;
	bool ok;

	ok = begin("memcg");
	a1 = tenant_start(0, CG_A, 30, N, 0);
	a2 = tenant_start(1, CG_A, 30, N, 0);
	b = tenant_start(2, CG_B, 30, N, 0);
	ok = ok && ksmt_merge_and_stop(N, N) && merging_is(a1, N) &&
	     merging_is(a2, N) && merging_is(b, 0) && all_intact();
	if (!ok)
		goto out;

	ok = begin("memcg");
	if (ok && ksmt_write_ul("max_page_sharing", 2)) {
		ksft_print_msg("max_page_sharing=2 refused\n");
		ok = false;
		goto out;
	}
	a1 = tenant_start(0, CG_A, 31, N, 0);
	a2 = tenant_start(1, CG_A, 31, N, 0);
	a3 = tenant_start(2, CG_A, 31, N, 0);
	a4 = tenant_start(3, CG_A, 31, N, 0);
	b = tenant_start(4, CG_B, 31, N, 0);
	ok = ok && ksmt_merge_and_stop(2 * N, 2 * N) && merging_is(a1, N) &&
	     merging_is(a2, N) && merging_is(a3, N) && merging_is(a4, N) &&
	     merging_is(b, 0);
	chains = ksmt_get("stable_node_chains");
	dups = ksmt_get("stable_node_dups");
	if (chains != N || dups != 2 * N) {
		ksft_print_msg("stable_node_chains %ld stable_node_dups %ld, want %d %d\n",
			       chains, dups, N, 2 * N);
		ok = false;
	}
	ok &= all_intact();
out:
	end();
	ksmt_set("max_page_sharing", 256);
	ksft_test_result(ok,
			 "memcg: processes of one cgroup merge, also into chains; another cgroup stays out\n");
}

/*
 * Time A's writes to its N pages, whose only twins are in B's process.
 * Returns the tenant of A with its figures; NULL on failure.
 */
static struct tenant *side_channel_run(const char *scope, uint64_t tag,
				       bool merge, bool baseline)
{
	struct tenant *a, *b;
	bool ok;

	ok = begin(scope);
	a = tenant_start(0, CG_A, tag, N, 0);
	b = tenant_start(1, CG_B, tag, N, 0);
	if (baseline) {
		/* unique pages, for the cost of a write that does not fault */
		a->b.npages = N;
		a->b.tag = tag + 1;
		ok &= tenant_do(a, 'n');
	}
	ok = ok && (merge ? ksmt_merge_and_stop(N, N) : scan_none_merged());
	ok = ok && merging_is(a, merge ? N : 0) && merging_is(b, merge ? N : 0);
	if (!ok)
		return NULL;
	a->time_b = false;
	return tenant_do(a, 'x') ? a : NULL;
}

/*
 * 4. The side channel memcg closes: under global a write to a page that
 * merged with another cgroup's takes a COW fault, which that cgroup's
 * tenant can time to learn what the other holds; under memcg the page
 * must stay private and writable, so the write takes no fault at all.
 */
static void test_side_channel(void)
{
	long m_faults, g_faults;
	double m_med, m_mean;
	int m_kept, g_kept;
	struct tenant *a;
	bool ok = false;

	a = side_channel_run("memcg", 40, false, true);
	if (!a)
		goto out;
	m_faults = a->faults;
	m_kept = a->kept;
	m_med = a->median_ns;
	m_mean = a->mean_ns;
	a->time_b = true;
	if (!tenant_do(a, 'x'))
		goto out;
	ksft_print_msg("%d writes each; faults, frames kept, median and mean ns per write:\n",
		       N);
	ksft_print_msg("  memcg:  %3ld faults, %3d kept, %8.0f %8.0f\n",
		       m_faults, m_kept, m_med, m_mean);
	ksft_print_msg("  unique: %3ld faults, %3d kept, %8.0f %8.0f\n",
		       a->faults, a->kept, a->median_ns, a->mean_ns);

	a = side_channel_run("global", 40, true, false);
	if (!a)
		goto out;
	g_faults = a->faults;
	g_kept = a->kept;
	ksft_print_msg("  global: %3ld faults, %3d kept, %8.0f %8.0f\n",
		       g_faults, g_kept, a->median_ns, a->mean_ns);
	ok = m_faults == 0 && m_kept == N && g_faults == N && g_kept == 0;
out:
	end();
	ksft_test_result(ok,
			 "memcg: a write to a page with twins in another cgroup takes no fault\n");
}

/* Wait until cgroup cg is down by lo..hi pages from before; *drop: by how much. */
static bool wait_drop(const char *cg, long before, long lo, long hi, long *drop)
{
	double end = ksmt_now() + SETTLE_S;

	for (;;) {
		*drop = before - cg_pages(cg);
		if (*drop >= lo && *drop <= hi)
			return true;
		if (ksmt_now() > end)
			return false;
		usleep(100000);
	}
}

/*
 * 5. Memcg scope: two processes in A and two in B, all of the same
 * contents.  Each cgroup's pair merges; each cgroup pays for its own KSM
 * pages and is relieved of its own duplicates: N pages each, where a
 * global merge would hand one cgroup's savings to the other.
 */
static void test_accounting(void)
{
	long before_a, before_b, drop_a = 0, drop_b = 0;
	long lo = N * 8 / 10, hi = N * 12 / 10 + 16;
	bool ok;

	ok = begin("memcg");
	tenant_start(0, CG_A, 50, N, 0);
	tenant_start(1, CG_A, 50, N, 0);
	tenant_start(2, CG_B, 50, N, 0);
	tenant_start(3, CG_B, 50, N, 0);
	before_a = cg_pages(CG_A);
	before_b = cg_pages(CG_B);
	ok = ok && before_a > 0 && before_b > 0 &&
	     ksmt_merge_and_stop(2 * N, 2 * N);
	if (ok) {
		ok = wait_drop(CG_A, before_a, lo, hi, &drop_a);
		ok &= wait_drop(CG_B, before_b, lo, hi, &drop_b);
		ksft_print_msg("memory.current: A -%ld, B -%ld pages, want %ld..%ld\n",
			       drop_a, drop_b, lo, hi);
	}
	ok &= all_intact();
	end();
	ksft_test_result(ok, "memcg: each cgroup's memory.current falls by its own merged pages\n");
}

/*
 * 6. Memcg scope: a process of a merged pair moves to B.  Its pages stay
 * charged to A and merged; a new area of the same contents, charged to B,
 * does not merge with A's.
 */
static void test_move(void)
{
	struct tenant *a1, *a2;
	bool ok;

	ok = begin("memcg");
	a1 = tenant_start(0, CG_A, 60, N, 0);
	a2 = tenant_start(1, CG_A, 60, N, 0);
	ksmt_set("run", 1);
	ok = ok && ksmt_wait_merged(N, N);
	if (ok && !ksmt_cgroup_enter(CG_B, a2->pid)) {
		ksft_print_msg("cannot move pid %d to %s\n", a2->pid, CG_B);
		ok = false;
	}
	ok = ok && ksmt_wait_scans(2) && ksmt_wait_merged(N, N) &&
	     merging_is(a2, N) && all_intact();
	if (!ok)
		goto out;
	a2->b.npages = N;
	a2->b.tag = 60;
	ok = tenant_do(a2, 'n') && ksmt_wait_scans(4) &&
	     ksmt_wait_merged(N, N) && merging_is(a1, N) && merging_is(a2, N);
	if (ok && same_frames(a1, &a1->a, a2, &a2->b)) {
		ksft_print_msg("%d pages charged to B share A's frames\n",
			       same_frames(a1, &a1->a, a2, &a2->b));
		ok = false;
	}
	ksmt_set("run", 2);
	ok = ok && ksmt_counters_are(0, 0) && merging_is(a1, 0) &&
	     merging_is(a2, 0);
	ok &= all_intact();
out:
	end();
	ksft_test_result(ok,
			 "memcg: a moved process keeps its merged pages, its new ones stay apart\n");
}

/*
 * 7. Memcg scope: both processes of a merged pair move to B and A is
 * removed while its pages are merged.  The KSM pages keep working: a
 * write gives the writer a private copy, the other reads the old contents.
 */
static void test_delete(void)
{
	struct tenant *a1, *a2;
	char path[256];
	long ksm_kb;
	bool ok;

	ok = begin("memcg");
	a1 = tenant_start(0, CG_A, 70, N, 0);
	a2 = tenant_start(1, CG_A, 70, N, 0);
	ksmt_set("run", 1);
	ok = ok && ksmt_wait_merged(N, N);
	if (ok && (!ksmt_cgroup_enter(CG_B, a1->pid) ||
		   !ksmt_cgroup_enter(CG_B, a2->pid))) {
		ksft_print_msg("cannot move the processes to %s\n", CG_B);
		ok = false;
	}
	snprintf(path, sizeof(path), KSMT_CGROOT "/%s", CG_A);
	if (ok && rmdir(path)) {
		ksft_print_msg("rmdir %s: %s\n", path, strerror(errno));
		ok = false;
	}
	ok = ok && ksmt_wait_scans(2) && all_intact();
	if (!ok)
		goto out;
	a1->a.nwrite = N;
	ok = tenant_do(a1, 'w') && tenant_do(a2, 'c');
	if (ok && same_frames(a1, &a1->a, a2, &a2->a)) {
		ksft_print_msg("%d pages still shared after the write\n",
			       same_frames(a1, &a1->a, a2, &a2->a));
		ok = false;
	}
	ksm_kb = ksmt_proc_field(a1->pid, "smaps_rollup", "KSM");
	if (ksm_kb) {
		ksft_print_msg("writer maps %ld kB of KSM pages, want 0\n", ksm_kb);
		ok = false;
	}
	ok = ok && ksmt_wait_scans(2) && all_intact();
	ksmt_set("run", 2);
	ok = ok && ksmt_counters_are(0, 0) && merging_is(a1, 0) &&
	     merging_is(a2, 0);
	ok &= all_intact();
out:
	end();
	ksft_test_result(ok, "memcg: the cgroup of merged pages is removed, they keep working\n");
}

/* 8. When merge_scope may change, and what it takes. */
static void test_switch(void)
{
	struct tenant *b;
	bool ok;

	ok = begin("global");
	tenant_start(0, CG_A, 80, N, 0);
	tenant_start(1, CG_A, 80, N, 0);
	b = tenant_start(2, CG_B, 80, N, 0);
	ok = ok && scope_is("global") && ksmt_merge_and_stop(N, 2 * N);
	/* pages are shared, and stay so with ksmd stopped */
	ok = ok && scope_write("memcg", -EBUSY) && scope_is("global") &&
	     scope_write("global", 0) && scope_write("global\n", 0) &&
	     scope_write("bogus", -EINVAL) && scope_is("global") &&
	     ksmt_counters_are(N, 2 * N);
	ksmt_set("run", 2);
	ok = ok && ksmt_counters_are(0, 0) && scope_write("memcg\n", 0) &&
	     scope_is("memcg") && scope_write("bogus", -EINVAL) &&
	     scope_is("memcg");
	/* now only the two processes of A merge */
	ok = ok && ksmt_merge_and_stop(N, N) && merging_is(b, 0) &&
	     scope_write("global", -EBUSY) && scope_is("memcg") &&
	     scope_write("memcg", 0) && scope_is("memcg");
	ksmt_set("run", 2);
	ok = ok && ksmt_counters_are(0, 0) && scope_write("global", 0) &&
	     scope_is("global");
	ok &= all_intact();
	end();
	ksft_test_result(ok,
			 "merge_scope: EBUSY while pages are shared, EINVAL for junk, free after run=2\n");
}

/*
 * 9. Memcg scope with use_zero_pages: zero-filled pages become the zero
 * page whether or not any other cgroup holds zero pages, and share no KSM
 * page.
 */
static void test_zero(void)
{
	struct tenant *a, *b;
	long za, zb;
	bool ok;

	ok = begin("memcg");
	ksmt_set("use_zero_pages", 1);
	a = tenant_start(0, CG_A, 0, 0, N);
	b = tenant_start(1, CG_B, 90, N, 0);
	ksmt_set("run", 1);
	ok = ok && ksmt_wait_counter("ksm_zero_pages", N) &&
	     ksmt_wait_scans(2) && ksmt_wait_merged(0, 0);
	ksmt_set("run", 0);
	za = ksmt_proc_field(a->pid, "ksm_stat", "ksm_zero_pages");
	zb = ksmt_proc_field(b->pid, "ksm_stat", "ksm_zero_pages");
	if (za != N || zb != 0) {
		ksft_print_msg("ksm_zero_pages %ld in A, %ld in B, want %d 0\n",
			       za, zb, N);
		ok = false;
	}
	ok = ok && ksmt_counters_are(0, 0) && ksmt_get("ksm_zero_pages") == N &&
	     merging_is(a, 0) && merging_is(b, 0);
	ok &= all_intact();
	end();
	ksmt_set("use_zero_pages", 0);
	ksft_test_result(ok,
			 "memcg: zero pages still become the zero page, alone in their cgroup\n");
}

/*
 * 10. Memcg scope: of a merged pair in A one exits; the survivor's writes
 * take the KSM pages over in place, charged to A already: nothing copied.
 */
static void test_reuse(void)
{
	long reused, before, grown;
	struct tenant *a1, *a2;
	bool ok;

	if (access(KSMT_DIR "pages_reused", F_OK)) {
		ksft_test_result_skip("no " KSMT_DIR "pages_reused\n");
		return;
	}
	ok = begin("memcg");
	a1 = tenant_start(0, CG_A, 100, N_REUSE, 0);
	a2 = tenant_start(1, CG_A, 100, N_REUSE, 0);
	ok = ok && ksmt_merge_and_stop(N_REUSE, N_REUSE);
	tenant_stop(a2);
	before = cg_pages(CG_A);
	reused = ksmt_get("pages_reused");
	ok = ok && tenant_do(a1, 'x');
	reused = ksmt_get("pages_reused") - reused;
	grown = cg_pages(CG_A) - before;
	if (ok) {
		ksft_print_msg("%d writes: %ld faults, %d frames kept, pages_reused +%ld\n",
			       N_REUSE, a1->faults, a1->kept, reused);
		ksft_print_msg("memory.current of A grew by %ld pages\n", grown);
		ok = a1->kept == N_REUSE && reused == N_REUSE &&
		     grown < N_REUSE / 2;
	}
	ok &= all_intact();
	end();
	ksft_test_result(ok, "memcg: the last sharer's writes reuse the KSM pages in place\n");
}

struct ksm_sums {
	long merging, zero, rmap_items, profit;
};

/* Add up /proc/PID/ksm_stat over the processes of cgroup cg. */
static bool sum_procs(const char *cg, struct ksm_sums *s)
{
	char path[256], buf[1024], *p, *end;
	long pid;

	snprintf(path, sizeof(path), KSMT_CGROOT "/%s/cgroup.procs", cg);
	if (ksmt_read_path(path, buf, sizeof(buf)) < 0)
		return false;
	for (p = buf; (pid = strtol(p, &end, 10)) > 0; p = end) {
		long mp = ksmt_proc_field(pid, "ksm_stat", "ksm_merging_pages");
		long zp = ksmt_proc_field(pid, "ksm_stat", "ksm_zero_pages");
		long ri = ksmt_proc_field(pid, "ksm_stat", "ksm_rmap_items");
		long pr = ksmt_proc_field(pid, "ksm_stat", "ksm_process_profit");

		if (mp < 0 || zp < 0 || ri < 0)
			return false;
		s->merging += mp;
		s->zero += zp;
		s->rmap_items += ri;
		s->profit += pr;
	}
	return true;
}

/*
 * memory.stat of cg against the ksm_stat of the processes in dirs; the
 * stats may be flushed lazily, so give them a little while.
 */
static bool check_stat(const char *cg, const char * const *dirs, int ndirs,
		       long merging, long zero)
{
	long ps = ksmt_page_size, m = -1, z = -1, md = -1;
	double end = ksmt_now() + SETTLE_S;
	struct ksm_sums s = { 0 };
	bool ok = true;
	int i;

	for (i = 0; i < ndirs; i++)
		ok &= sum_procs(dirs[i], &s);
	if (!ok || s.merging != merging || s.zero != zero || !s.rmap_items) {
		ksft_print_msg("%s: merging %ld zero %ld rmap_items %ld, want %ld %ld >0\n",
			       cg, s.merging, s.zero, s.rmap_items, merging, zero);
		return false;
	}
	do {
		if (m >= 0)
			usleep(100000);
		m = cg_stat(cg, "ksm_merging");
		z = cg_stat(cg, "ksm_zero");
		md = cg_stat(cg, "ksm_metadata");
		ok = m == s.merging * ps && z == s.zero * ps &&
		     s.profit == m + z - md && md > 0 && !(md % s.rmap_items);
	} while (!ok && ksmt_now() < end);
	if (!ok) {
		ksft_print_msg("%s: memory.stat ksm_merging %ld ksm_zero %ld ksm_metadata %ld\n",
			       cg, m, z, md);
		ksft_print_msg("%s: want ksm_merging %ld ksm_zero %ld\n",
			       cg, s.merging * ps, s.zero * ps);
		ksft_print_msg("%s: and profit %ld = merging + zero - metadata, %ld rmap items\n",
			       cg, s.profit, s.rmap_items);
	}
	return ok;
}

/*
 * 11. memory.stat of a cgroup sums the KSM figures of its processes and
 * of those of its descendants: A holds a merged pair, B none but its
 * child B/sub, which holds another.
 */
static void test_stat(void)
{
	static const char * const a_dirs[] = { CG_A };
	static const char * const b_dirs[] = { CG_B, CG_B_SUB };
	char path[256];
	bool ok;

	ok = begin("memcg");
	snprintf(path, sizeof(path), KSMT_CGROOT "/%s/cgroup.subtree_control", CG_B);
	if (ok && (ksmt_write_path(path, "+memory") || !ksmt_cgroup_make(CG_B_SUB))) {
		ksft_print_msg("cannot make %s\n", CG_B_SUB);
		ok = false;
	}
	if (!ok)
		goto out;
	ksmt_set("use_zero_pages", 1);
	tenant_start(0, CG_A, 110, N, N_ZERO);
	tenant_start(1, CG_A, 110, N, N_ZERO);
	tenant_start(2, CG_B_SUB, 110, N, N_ZERO);
	tenant_start(3, CG_B_SUB, 110, N, N_ZERO);
	ksmt_set("run", 1);
	ok = ksmt_wait_counter("ksm_zero_pages", 4 * N_ZERO) &&
	     ksmt_wait_merged(2 * N, 2 * N);
	ksmt_set("run", 0);
	ok = ok && check_stat(CG_A, a_dirs, 1, 2 * N, 2 * N_ZERO) &&
	     check_stat(CG_B_SUB, b_dirs + 1, 1, 2 * N, 2 * N_ZERO) &&
	     check_stat(CG_B, b_dirs, 2, 2 * N, 2 * N_ZERO);
	ok &= all_intact();
out:
	end();
	ksmt_set("use_zero_pages", 0);
	cgroup_rmdir(CG_B_SUB);
	ksmt_write_path(path, "-memory");
	ksft_test_result(ok,
			 "memory.stat: ksm_merging, ksm_zero, ksm_metadata of a cgroup and its descendants\n");
}

static void cleanup(void)
{
	int i;

	if (getpid() != test_pid || cleaned)
		return;
	cleaned = true;
	for (i = 0; i < MAX_TENANTS; i++) {
		struct ksmt_worker *w = &workers[i];

		if (w->pid <= 0)
			continue;
		kill(w->pid, SIGKILL);
		waitpid(w->pid, NULL, 0);
		close(w->cmd);
		close(w->reply);
		w->pid = 0;
	}
	ksmt_stop_unmerge();
	if (saved_scope[0] && ksmt_write_path(SCOPE_FILE, saved_scope))
		ksft_print_msg("could not restore merge_scope to %s\n",
			       saved_scope);
	ksmt_restore();
	cgroups_remove();
}

int main(void)
{
	static const char * const scoped[] = {
		"memcg: identical pages in two cgroups do not merge",
		"memcg: processes of one cgroup merge, also into chains",
		"memcg: a write to a page with twins in another cgroup takes no fault",
		"memcg: each cgroup's memory.current falls by its own merged pages",
		"memcg: a moved process keeps its merged pages",
		"memcg: the cgroup of merged pages is removed",
		"merge_scope: EBUSY while pages are shared",
		"memcg: zero pages still become the zero page",
		"memcg: the last sharer's writes reuse the KSM pages in place",
		"memory.stat: ksm_merging, ksm_zero, ksm_metadata",
	};
	char buf[64], ctl[256];
	unsigned int i;

	ksmt_start();
	test_pid = getpid();
	if (ksmt_read_path(KSMT_CGROOT "/cgroup.controllers", ctl, sizeof(ctl)) <= 0 ||
	    !strstr(ctl, "memory"))
		ksft_exit_skip("no cgroup v2 memory controller at " KSMT_CGROOT "\n");
	/* leftovers of a run that was killed */
	cgroups_remove();
	if (!ksmt_cgroup_make(CG_A) || !ksmt_cgroup_make(CG_B)) {
		cgroups_remove();
		ksft_exit_skip("cannot make memory cgroups under " KSMT_CGROOT "\n");
	}
	tenants = mmap(NULL, MAX_TENANTS * sizeof(*tenants),
		       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (tenants == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	memset(tenants, 0, MAX_TENANTS * sizeof(*tenants));
	have_scope = !access(SCOPE_FILE, F_OK);
	ksft_set_plan(NR_CASES);
	ksmt_take_over(cleanup);
	if (have_scope) {
		snprintf(saved_scope, sizeof(saved_scope), "%s",
			 scope_get(buf, sizeof(buf)));
		if (!saved_scope[0])
			ksft_exit_fail_msg("cannot read " SCOPE_FILE "\n");
	}
	ksmt_fast_scan();
	ksmt_set("use_zero_pages", 0);
	ksmt_set("max_page_sharing", 256);

	test_global();
	if (have_scope) {
		test_apart();
		test_within();
		test_side_channel();
		test_accounting();
		test_move();
		test_delete();
		test_switch();
		test_zero();
		test_reuse();
		test_stat();
	} else {
		for (i = 0; i < sizeof(scoped) / sizeof(*scoped); i++)
			skip_no_scope(scoped[i]);
	}

	cleanup();
	ksft_finished();
}
