// SPDX-License-Identifier: GPL-2.0
/*
 * ksm-bench: the guest side of "make bench".  Runs the KSM workloads one
 * after the other in a freshly booted guest and writes one
 * tab-separated record per line for the host to aggregate:
 *
 *   fig	WORKLOAD	FIGURE	UNIT	BETTER	VALUE
 *   ts	SERIES	SECONDS	PAGES_SHARING
 *   info	KEY	VALUE
 *   skip	WORKLOAD	FIGURE	REASON
 *
 * BETTER is "higher", "lower" or "info".  Only the sysfs ABI, /proc and
 * madvise(2) are used, so the same binary measures any implementation.
 * Progress goes to stderr (the console).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/mempolicy.h>

#define KSM "/sys/kernel/mm/ksm/"
#define THP "/sys/kernel/mm/transparent_hugepage/"
#define CGROOT "/sys/fs/cgroup"
#define W11_CG CGROOT "/ksm-bench-scope"
#define MIB (1024UL * 1024)
#define HPAGE (2 * MIB)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define W9_MAX 8
#define W1_PASSES_MAX 9
#define W10_MAX 16

static FILE *out;
static long page_size, clk_tck;
static int ksmd_pid = -1;

/* Sizes; the defaults are what the issue asks for, "make bench" may scale. */
static unsigned int w1_passes = 3;
static unsigned long w1_mib = 512, w2_procs = 4, w2_mib = 256, w5_mib = 64;
static unsigned long w4_sparse_gib = 1024, w4_touched = 64;
static unsigned long w3_scans = 3, fast_pages = 4096;
static unsigned long w6_vmas = 20000, w6_moves = 200;
static unsigned long w8_mib = 64, w9_mib[W9_MAX] = { 64, 256, 1024 };
static unsigned long w9_nsizes = 3, w9_scans = 2, w10_procs = 3, w10_mib = 128;
static double w8_secs = 12, timeout_s = 600;
static const char *only;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "ksm-bench: ");
	vfprintf(stderr, fmt, ap);
	if (errno)
		fprintf(stderr, ": %s", strerror(errno));
	fputc('\n', stderr);
	va_end(ap);
	fprintf(out, "info\terror\tsee console\n");
	fflush(out);
	exit(1);
}

static void progress(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "ksm-bench: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void put_fig(const char *w, const char *name, const char *unit,
		    const char *better, double val)
{
	fprintf(out, "fig\t%s\t%s\t%s\t%s\t%.6g\n", w, name, unit, better, val);
	fflush(out);
	progress("%s %s = %.6g %s", w, name, val, unit);
}

static void put_info(const char *key, const char *fmt, ...)
{
	va_list ap;

	fprintf(out, "info\t%s\t", key);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	fflush(out);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Read @path into @buf as a string: its length, or -1. */
static ssize_t read_str(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

static long read_long(const char *path)
{
	char buf[64];

	if (read_str(path, buf, sizeof(buf)) <= 0)
		return -1;
	return strtol(buf, NULL, 10);
}

static long knob(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), KSM "%s", name);
	return read_long(path);
}

/* Write @val to @path: 0, or -1 with errno set. */
static int try_write_str(const char *path, const char *val)
{
	ssize_t len = strlen(val), n;
	int fd, err;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	n = write(fd, val, len);
	err = errno;
	close(fd);
	errno = err;
	return n == len ? 0 : -1;
}

static void write_str(const char *path, const char *val)
{
	if (try_write_str(path, val))
		die("cannot write %s to %s", val, path);
}

static void set_knob(const char *name, long val)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), KSM "%s", name);
	snprintf(buf, sizeof(buf), "%ld", val);
	write_str(path, buf);
}

/* Pages KSM has merged, whatever the tunables: every mapping counts once. */
static long merged(void)
{
	long zero = knob("ksm_zero_pages");

	return knob("pages_shared") + knob("pages_sharing") + (zero > 0 ? zero : 0);
}

/*
 * ksmd is whichever kernel thread is called "ksmd"; failing that, the
 * first one whose name starts with "ksm", so that an implementation with
 * differently named threads is still measured (and says so).
 */
static void find_ksmd(void)
{
	char path[64], comm[64], first[64] = "";
	struct dirent *de;
	int pid, fallback = -1;
	DIR *d = opendir("/proc");
	FILE *f;

	if (!d)
		die("opendir /proc");
	while ((de = readdir(d))) {
		if (!isdigit(de->d_name[0]))
			continue;
		pid = atoi(de->d_name);
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f)) {
			comm[strcspn(comm, "\n")] = '\0';
			if (!strcmp(comm, "ksmd")) {
				ksmd_pid = pid;
			} else if (!strncmp(comm, "ksm", 3) && fallback < 0) {
				fallback = pid;
				snprintf(first, sizeof(first), "%s", comm);
			}
		}
		fclose(f);
	}
	closedir(d);
	if (ksmd_pid < 0 && fallback >= 0) {
		ksmd_pid = fallback;
		put_info("ksmd", "%s (pid %d, no thread named ksmd)", first, fallback);
	} else if (ksmd_pid >= 0) {
		put_info("ksmd", "ksmd (pid %d)", ksmd_pid);
	} else {
		put_info("ksmd", "not found: ksmd CPU figures are 0");
	}
}

/*
 * ksmd's CPU time in seconds: its sum_exec_runtime from
 * /proc/PID/schedstat (CONFIG_SCHED_INFO) or /proc/PID/sched
 * (CONFIG_SCHED_DEBUG), both in nanoseconds; failing these, utime + stime
 * from /proc/PID/stat, which has the 1/USER_HZ resolution of clock ticks.
 */
static double ksmd_cpu(void)
{
	unsigned long utime, stime;
	unsigned long long ns;
	char path[64], buf[1024], *p;
	double ms;
	ssize_t n;
	FILE *f;
	int fd;

	if (ksmd_pid < 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/schedstat", ksmd_pid);
	f = fopen(path, "r");
	if (f) {
		n = fscanf(f, "%llu", &ns);
		fclose(f);
		if (n == 1)
			return ns / 1e9;
	}
	snprintf(path, sizeof(path), "/proc/%d/sched", ksmd_pid);
	f = fopen(path, "r");
	if (f) {
		while (fgets(buf, sizeof(buf), f)) {
			if (strncmp(buf, "se.sum_exec_runtime", 19))
				continue;
			p = strchr(buf, ':');
			if (p && sscanf(p + 1, "%lf", &ms) == 1) {
				fclose(f);
				return ms / 1e3;
			}
		}
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", ksmd_pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* Fields after the command name: state is field 3, utime 14, stime 15. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &utime, &stime) != 2)
		return 0;
	return (double)(utime + stime) / clk_tck;
}

/* Back to a clean slate: nothing merged, no rmap items, ksmd stopped. */
static void ksm_reset(void)
{
	set_knob("run", 0);
	set_knob("run", 2);
	set_knob("run", 0);
}

static void ksm_start(long pages_to_scan, long sleep_ms)
{
	set_knob("pages_to_scan", pages_to_scan);
	set_knob("sleep_millisecs", sleep_ms);
	set_knob("run", 1);
}

static void *map_anon(unsigned long len, bool huge)
{
	unsigned long extra = huge ? HPAGE : 0;
	char *p, *a;

	p = mmap(NULL, len + extra, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap %lu MiB", len >> 20);
	if (!huge)
		return p;
	a = (char *)(((uintptr_t)p + HPAGE - 1) & ~(HPAGE - 1));
	if (madvise(a, len, MADV_HUGEPAGE))
		die("MADV_HUGEPAGE");
	return a;
}

static long meminfo_kb(const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	long val = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':')
			val = strtol(line + klen + 1, NULL, 10);
	fclose(f);
	return val;
}

struct conv {
	double secs;		/* until merged() first reached its final value */
	double cpu;		/* ksmd CPU seconds over the same interval */
	long merged;		/* final merged() */
	bool reached;		/* the expected count was reached */
};

/*
 * Start ksmd and wait until @target pages are merged (with @exact, until
 * exactly @target are: the count may have to fall).  Give up when nothing
 * changed for three full scans (or on timeout), keeping the time of the
 * last change.  With @series, pages_sharing is sampled every quarter
 * second for the plot.
 */
static struct conv converge_to(long target, bool exact, long pages_to_scan,
			       long sleep_ms, const char *series)
{
	double t0, cpu0, t, next_sample = 0, t_last = 0, cpu_last = 0;
	long m, last = -1, scans, scans_last;
	struct conv c = { 0 };

	cpu0 = ksmd_cpu();
	t0 = now();
	ksm_start(pages_to_scan, sleep_ms);
	scans_last = knob("full_scans");
	for (;;) {
		m = merged();
		t = now() - t0;
		scans = knob("full_scans");
		if (series && t >= next_sample) {
			fprintf(out, "ts\t%s\t%.3f\t%ld\n", series, t,
				knob("pages_sharing"));
			next_sample += 0.25;
		}
		if (m != last) {
			last = m;
			t_last = t;
			cpu_last = ksmd_cpu() - cpu0;
			scans_last = scans;
		}
		if (exact ? m == target : m >= target) {
			c.reached = true;
			break;
		}
		if (scans - scans_last >= 3 || t > timeout_s)
			break;
		usleep(series ? 20000 : 10000);
	}
	if (series)
		fprintf(out, "ts\t%s\t%.3f\t%ld\n", series, now() - t0,
			knob("pages_sharing"));
	fflush(out);
	c.secs = t_last;
	c.cpu = cpu_last;
	c.merged = last;
	if (!c.reached)
		progress("%ld pages merged, not the %ld expected", last, target);
	return c;
}

static struct conv converge(long target, long pages_to_scan, long sleep_ms,
			    const char *series)
{
	return converge_to(target, false, pages_to_scan, sleep_ms, series);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Percentile @pct of @n sorted samples. */
static double pctl(const double *v, unsigned long n, unsigned int pct)
{
	return n ? v[n * pct / 100] : 0;
}

/* What one pass of W1 measured. */
struct w1_pass {
	double rate;		/* MiB merged per second */
	double per_cpu;		/* MiB merged per ksmd CPU-second */
	double merged;		/* % of the pages merged */
	double thp_mib;		/* THP backing before the merge */
	double w4_secs;		/* run=2 on the result, if asked for */
};

/*
 * One pass of W1 over fresh memory (run=2 leaves the THPs split), into
 * @r; with @then_w4, time run=2 on the result.  Returns the convergence.
 */
static struct conv w1_pass(bool huge, bool then_w4, struct w1_pass *r)
{
	unsigned long len = w1_mib * MIB, nr = len / page_size, i;
	double mib = len / (double)MIB, t;
	struct conv c;
	char *mem;

	ksm_reset();
	mem = map_anon(len, huge);
	for (i = 0; i < nr; i++)
		memset(mem + i * page_size, 0x5a, page_size);
	r->thp_mib = meminfo_kb("AnonHugePages") / 1024.0;
	if (madvise(mem, len, MADV_MERGEABLE))
		die("MADV_MERGEABLE");
	c = converge(nr, fast_pages, 0, NULL);
	r->rate = mib / c.secs;
	r->per_cpu = c.cpu > 0 ? mib / c.cpu : 0;
	r->merged = 100.0 * c.merged / nr;
	if (then_w4) {
		t = now();
		set_knob("run", 2);
		while (merged() > 0 && now() - t < timeout_s)
			usleep(1000);
		r->w4_secs = now() - t;
	}
	munmap(mem, len);
	ksm_reset();
	return c;
}

/* The median of field @off over the @n passes @p. */
static double w1_median(struct w1_pass *p, unsigned int n, size_t off)
{
	double v[W1_PASSES_MAX];
	unsigned int k;

	for (k = 0; k < n; k++)
		v[k] = *(double *)((char *)&p[k] + off);
	qsort(v, n, sizeof(*v), cmp_double);
	return pctl(v, n, 50);
}

/* The least of field @off over the @n passes @p. */
static double w1_least(struct w1_pass *p, unsigned int n, size_t off)
{
	double least = *(double *)((char *)p + off);
	unsigned int k;

	for (k = 1; k < n; k++)
		if (*(double *)((char *)&p[k] + off) < least)
			least = *(double *)((char *)&p[k] + off);
	return least;
}

/*
 * W1: merge throughput over identical pages, recorded as workload @w;
 * with @then_w4, W4: run=2 on the result.  A pass converges in a second
 * or two, as long as the host's hiccups: @passes of them give the medians
 * (the least for what must not be lost).  Returns the last convergence.
 */
static struct conv w1(const char *w, bool huge, bool then_w4,
		      unsigned int passes)
{
	struct w1_pass r[W1_PASSES_MAX];
	double mib = w1_mib, t;
	struct conv c = { 0 };
	unsigned int k;

	progress("%s: %lu MiB of identical pages%s, %u pass(es)%s", w, w1_mib,
		 huge ? " in THPs" : "", passes, then_w4 ? ", then W4" : "");
	for (k = 0; k < passes; k++)
		c = w1_pass(huge, then_w4, &r[k]);
	if (huge)
		put_fig(w, "THP backing before merge", "MiB", "info",
			w1_least(r, passes, offsetof(struct w1_pass, thp_mib)));
	put_fig(w, "merge rate", "MiB/s", "higher",
		w1_median(r, passes, offsetof(struct w1_pass, rate)));
	put_fig(w, "merge per ksmd CPU", "MiB/cpu-s", "higher",
		w1_median(r, passes, offsetof(struct w1_pass, per_cpu)));
	put_fig(w, "merged", "%", "info",
		w1_least(r, passes, offsetof(struct w1_pass, merged)));
	if (then_w4) {
		t = w1_median(r, passes, offsetof(struct w1_pass, w4_secs));
		put_fig("W4", "run=2 unmerge time", "s", "lower", t);
		put_fig("W4", "run=2 unmerge rate", "MiB/s", "higher", mib / t);
	}
	return c;
}

/* W4: MADV_UNMERGEABLE over a huge sparse mapping with a few pages touched. */
static void w4_sparse(void)
{
	unsigned long len = w4_sparse_gib << 30, step, i;
	double t;
	char *mem;

	progress("W4: MADV_UNMERGEABLE over a sparse %lu GiB mapping", w4_sparse_gib);
	ksm_reset();
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap %lu GiB NORESERVE", w4_sparse_gib);
	if (madvise(mem, len, MADV_MERGEABLE))
		die("MADV_MERGEABLE");
	step = len / w4_touched;
	for (i = 0; i < w4_touched; i++)
		mem[i * step] = 1;
	t = now();
	if (madvise(mem, len, MADV_UNMERGEABLE))
		die("MADV_UNMERGEABLE");
	t = now() - t;
	put_fig("W4", "sparse MADV_UNMERGEABLE", "s", "lower", t);
	munmap(mem, len);
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

/* Fill a page with contents unique to @seed: no zero page, no repeats. */
static void fill_page(char *page, uint64_t seed)
{
	uint64_t *w = (uint64_t *)page;
	unsigned long i;

	for (i = 0; i < (unsigned long)page_size / 8; i++)
		w[i] = mix(seed * 4096 + i) | 1;
}

/* Does @page hold fill_page(@seed) with its first byte XORed with @x? */
static bool page_is(const char *page, uint64_t seed, char x)
{
	static char *want;

	if (!want)
		want = malloc(page_size);
	if (!want)
		die("malloc");
	fill_page(want, seed);
	want[0] ^= x;
	return !memcmp(page, want, page_size);
}

/* Time one write per page of @mem (the first byte XORed with @x). */
static void time_writes(char *mem, unsigned long nr, char x, double *lat)
{
	unsigned long i;
	double t;

	for (i = 0; i < nr; i++) {
		t = now();
		/* checkpatch: volatile, so that the store faults between the clock reads */
		*(volatile char *)(mem + i * page_size) ^= x;
		lat[i] = now() - t;
	}
	qsort(lat, nr, sizeof(*lat), cmp_double);
}

/* W5: write one byte to each merged page; every write is a COW fault. */
static void w5(void)
{
	unsigned long len = w5_mib * MIB, nr = len / page_size, i;
	double *lat;
	struct conv c;
	char *mem;

	progress("W5: COW faults on %lu MiB of merged pages", w5_mib);
	ksm_reset();
	lat = malloc(nr * sizeof(*lat));
	mem = map_anon(len, false);
	if (!lat)
		die("malloc");
	for (i = 0; i < nr; i++)
		memset(mem + i * page_size, 0xa5, page_size);
	if (madvise(mem, len, MADV_MERGEABLE))
		die("MADV_MERGEABLE");
	c = converge(nr, fast_pages, 0, NULL);
	/* Stop ksmd so that it neither competes nor re-merges. */
	set_knob("run", 0);
	put_fig("W5", "merged before faults", "%", "info", 100.0 * c.merged / nr);
	time_writes(mem, nr, 1, lat);
	put_fig("W5", "COW fault median", "us", "lower", lat[nr / 2] * 1e6);
	put_fig("W5", "COW fault p99", "us", "lower", lat[nr * 99 / 100] * 1e6);
	munmap(mem, len);
	free(lat);
	ksm_reset();
}

/*
 * W5, KSM pages mapped once: A and B hold the same pages, unique to each
 * index, and merge pairwise.  Writing to A copies, which leaves every KSM
 * page mapped by B alone; the writes to B are timed.  An implementation
 * may reuse such a page in place (pages_reused, where it exists, counts
 * that) instead of copying it.
 */
static void w5_once(void)
{
	unsigned long len = w5_mib / 2 * MIB, nr = len / page_size, i;
	long reused;
	char *a, *b;
	double *lat;
	struct conv c;

	progress("W5: COW faults on %lu MiB of KSM pages mapped once", w5_mib / 2);
	ksm_reset();
	lat = malloc(nr * sizeof(*lat));
	a = map_anon(len, false);
	b = map_anon(len, false);
	if (!lat)
		die("malloc");
	for (i = 0; i < nr; i++) {
		fill_page(a + i * page_size, i);
		fill_page(b + i * page_size, i);
	}
	if (madvise(a, len, MADV_MERGEABLE) || madvise(b, len, MADV_MERGEABLE))
		die("MADV_MERGEABLE");
	c = converge(2 * nr, fast_pages, 0, NULL);
	set_knob("run", 0);
	put_fig("W5", "merged before faults, pairs", "%", "info",
		50.0 * c.merged / nr);
	for (i = 0; i < nr; i++)
		a[i * page_size] ^= 1;
	reused = knob("pages_reused");
	time_writes(b, nr, 2, lat);
	put_fig("W5", "COW fault median, KSM page mapped once", "us", "lower",
		lat[nr / 2] * 1e6);
	put_fig("W5", "COW fault p99, KSM page mapped once", "us", "lower",
		lat[nr * 99 / 100] * 1e6);
	if (reused >= 0)
		put_fig("W5", "KSM pages mapped once reused in place", "%", "info",
			100.0 * (knob("pages_reused") - reused) / nr);
	for (i = 0; i < nr; i++)
		if (!page_is(a + i * page_size, i, 1) ||
		    !page_is(b + i * page_size, i, 2))
			die("W5: page %lu lost its contents", i);
	munmap(a, len);
	munmap(b, len);
	free(lat);
	ksm_reset();
}

static uint64_t pfn_of(const void *addr)
{
	uint64_t ent = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0 || pread(fd, &ent, sizeof(ent),
			    (uintptr_t)addr / page_size * sizeof(ent)) != sizeof(ent))
		ent = 0;
	if (fd >= 0)
		close(fd);
	return ent >> 63 ? ent & ((1ULL << 55) - 1) : 0;
}

/* move_pages(2) of one page to @node: its status (node or -errno). */
static int move_page(void *addr, int node)
{
	int status = -1;

	if (syscall(SYS_move_pages, 0, 1UL, &addr, node < 0 ? NULL : &node,
		    &status, MPOL_MF_MOVE_ALL))
		return -errno;
	return status;
}

static long count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	long n = 0;
	int ch;

	if (!f)
		return -1;
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

/*
 * Migrate the page at @addr between node 0 and 1 @n times, timing each
 * move_pages(2); returns the sorted latencies in @lat, or false if a move
 * failed (with @why set).
 */
static bool time_moves(char *addr, unsigned long n, double *lat,
		       const char **why)
{
	int from = move_page(addr, -1), to, st;
	unsigned long k;
	double t;

	if (from < 0) {
		*why = "cannot tell the node of the page";
		return false;
	}
	for (k = 0; k < n; k++) {
		to = (from + 1 + k) % 2;
		t = now();
		st = move_page(addr, to);
		lat[k] = now() - t;
		if (st == -ENODEV || (k == 0 && st != to)) {
			*why = "needs two NUMA nodes";
			return false;
		}
		if (st != to)
			die("W6: move_pages to node %d: status %d", to, st);
	}
	qsort(lat, n, sizeof(*lat), cmp_double);
	return true;
}

/*
 * W6: rmap walk latency.  A KSM page whose anon_vma carries w6_vmas vmas
 * (a region split by mprotect, every piece on the anon_vma the region had
 * when it was first written), migrated back and forth between the two
 * nodes: each move_pages(2) walks its rmap twice (unmap, then restore).
 * An ordinary page of the same region is the baseline; it also takes the
 * process's first, untimed, moves.
 */
static void w6(void)
{
	unsigned long nv = w6_vmas, len = nv * page_size, i;
	const char *why = NULL;
	char name[96];
	double *lat;
	long vmas;
	char *p;

	progress("W6: move_pages of a KSM page, %lu vmas on its anon_vma", nv);
	ksm_reset();
	lat = malloc(w6_moves * sizeof(*lat));
	p = map_anon(len, false);
	if (!lat)
		die("malloc");
	if (madvise(p, len, MADV_MERGEABLE))
		die("MADV_MERGEABLE");
	memset(p, 0x5a, page_size);
	memset(p + 2 * page_size, 0x5a, page_size);
	fill_page(p + 4 * page_size, 4);
	vmas = count_lines("/proc/self/maps");
	for (i = 1; i < nv; i += 2)
		if (mprotect(p + i * page_size, page_size, PROT_READ))
			die("W6: mprotect page %lu", i);
	vmas = count_lines("/proc/self/maps") - vmas + 1;
	put_fig("W6", "vmas of the region", "", "info", vmas);
	converge(2, fast_pages, 0, NULL);
	set_knob("run", 0);
	if (!pfn_of(p) || pfn_of(p) != pfn_of(p + 2 * page_size))
		die("W6: the two identical pages did not merge");

	/*
	 * The first move_pages(2) of a process pays for what migration sets
	 * up once (several ms under TCG, for an ordinary page too): move the
	 * ordinary page there and back first, so that no maximum below is
	 * that.
	 */
	if (!time_moves(p + 4 * page_size, 2, lat, &why) ||
	    !time_moves(p, w6_moves, lat, &why)) {
		fprintf(out, "skip\tW6\trmap walk latency\t%s\n", why);
		goto out;
	}
	snprintf(name, sizeof(name), "move_pages of a KSM page, %ld vmas, median", vmas);
	put_fig("W6", name, "us", "lower", lat[w6_moves / 2] * 1e6);
	snprintf(name, sizeof(name), "move_pages of a KSM page, %ld vmas, p99", vmas);
	put_fig("W6", name, "us", "lower", lat[w6_moves * 99 / 100] * 1e6);
	snprintf(name, sizeof(name), "move_pages of a KSM page, %ld vmas, max", vmas);
	put_fig("W6", name, "us", "lower", lat[w6_moves - 1] * 1e6);
	if (time_moves(p + 4 * page_size, w6_moves, lat, &why)) {
		put_fig("W6", "move_pages of an ordinary page, median", "us", "info",
			lat[w6_moves / 2] * 1e6);
		/* What the host's hiccups alone do to a maximum. */
		put_fig("W6", "move_pages of an ordinary page, max", "us", "info",
			lat[w6_moves - 1] * 1e6);
	}
	for (i = 0; i < (unsigned long)page_size; i++)
		if (p[i] != 0x5a || p[2 * page_size + i] != 0x5a)
			die("W6: KSM page contents changed by migration");
	if (pfn_of(p) != pfn_of(p + 2 * page_size) || !page_is(p + 4 * page_size, 4, 0))
		die("W6: pages changed by migration");
out:
	munmap(p, len);
	free(lat);
	ksm_reset();
}

/* Bytes in the slab caches whose name starts with "ksm". */
static const char slabinfo_format[] =
	"%63s %lu %lu %lu %lu %lu : tunables %*u %*u %*u : slabdata %*u %lu";

static void ksm_slabs(double *obj_bytes, double *slab_bytes, char *names, size_t size)
{
	unsigned long active, num, objsize, perslab, pages, slabs;
	char line[512], name[64];
	FILE *f = fopen("/proc/slabinfo", "r");

	*obj_bytes = *slab_bytes = 0;
	names[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "ksm", 3))
			continue;
		if (sscanf(line, slabinfo_format, name, &active, &num,
			   &objsize, &perslab, &pages, &slabs) != 7)
			continue;
		*obj_bytes += (double)active * objsize;
		*slab_bytes += (double)slabs * pages * page_size;
		snprintf(names + strlen(names), size - strlen(names), "%s%s",
			 names[0] ? "," : "", name);
	}
	fclose(f);
}

/*
 * Bytes KSM allocated with vmalloc() (a hash table, say): the pages of the
 * areas whose caller in /proc/vmallocinfo starts with "ksm".
 */
static double ksm_vmalloc_bytes(void)
{
	char line[512], caller[128];
	unsigned long pages;
	double bytes = 0;
	FILE *f = fopen("/proc/vmallocinfo", "r");
	char *p;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %*u %127s", caller) != 1 ||
		    strncmp(caller, "ksm", 3))
			continue;
		p = strstr(line, " pages=");
		if (p && sscanf(p, " pages=%lu", &pages) == 1)
			bytes += (double)pages * page_size;
	}
	fclose(f);
	return bytes;
}

enum kind { IMAGE, ZERO, UNIQUE };

/* 40% image pages (same in every process), 20% zero, 40% unique, interleaved. */
static enum kind kind_of(unsigned long i)
{
	unsigned long r = i % 10;

	return r < 4 ? IMAGE : r < 6 ? ZERO : UNIQUE;
}

static int w2_child(unsigned long p, int ready_fd, int done_fd)
{
	unsigned long nr = w2_mib * MIB / page_size, words = page_size / 8, i, w;
	uint64_t *pg, seed;
	char *mem = map_anon(nr * page_size, false);
	char c = 1;

	for (i = 0; i < nr; i++) {
		pg = (uint64_t *)(mem + i * page_size);
		switch (kind_of(i)) {
		case IMAGE:
			seed = mix(i + 1);
			break;
		case ZERO:
			/* Touch it: an untouched page is not there to merge. */
			memset(pg, 0, page_size);
			continue;
		default:
			seed = mix((p + 1) << 40 ^ i ^ 0x5bd1e995);
			break;
		}
		for (w = 0; w < words; w++)
			pg[w] = seed + w * 0x9e3779b97f4a7c15ULL;
	}
	if (madvise(mem, nr * page_size, MADV_MERGEABLE))
		return 3;
	if (write(ready_fd, &c, 1) != 1)
		return 4;
	/* Hold the memory until the parent closes the pipe. */
	while (read(done_fd, &c, 1) > 0)
		;
	return 0;
}

/* What w2() measures once converged. */
enum w2_then { W2_THEN_W7, W2_THEN_W3, W2_THEN_NOTHING };

/*
 * W2: VM-like mix in several processes, converged from scratch once with
 * the default tunables and once with sleep_millisecs=0 and a large
 * pages_to_scan.  W7 (metadata) is read at the first convergence, W3
 * (steady-state scan cost) after the second.  Recorded as workload @w
 * (and the pages_sharing series of that name); returns the convergence.
 */
static struct conv w2(const char *w, long pages_to_scan, long sleep_ms,
		      enum w2_then then)
{
	unsigned long nr = w2_mib * MIB / page_size, p, i, mergeable = 0;
	double obj, slab, vmem, t, cpu, t1, cpu1;
	int ready[2], done[2], status;
	char names[256];
	long target, scans;
	struct conv c;

	progress("%s: %lu processes x %lu MiB, pages_to_scan=%ld sleep_millisecs=%ld",
		 w, w2_procs, w2_mib, pages_to_scan, sleep_ms);
	ksm_reset();
	if (pipe(ready) || pipe(done))
		die("pipe");
	for (p = 0; p < w2_procs; p++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (!pid) {
			close(done[1]);
			_exit(w2_child(p, ready[1], done[0]));
		}
	}
	close(done[0]);
	for (p = 0; p < w2_procs; p++)
		if (read(ready[0], names, 1) != 1)
			die("W2 child failed");
	for (i = 0; i < nr; i++)
		mergeable += kind_of(i) != UNIQUE;
	target = mergeable * w2_procs;

	c = converge(target, pages_to_scan, sleep_ms, w);
	put_fig(w, "time to converge", "s", "lower", c.secs);
	put_fig(w, "ksmd CPU to converge", "cpu-s", "lower", c.cpu);
	put_fig(w, "pages_sharing", "pages", "higher", knob("pages_sharing"));
	put_fig(w, "general_profit", "MiB", "higher", knob("general_profit") / (double)MIB);
	put_fig(w, "merged of mergeable", "%", "info", 100.0 * c.merged / target);

	if (then == W2_THEN_W7) {
		ksm_slabs(&obj, &slab, names, sizeof(names));
		vmem = ksm_vmalloc_bytes();
		put_info("W7-caches", "%s", names[0] ? names : "none");
		/* Tables KSM keeps outside its slab caches count as well. */
		put_fig("W7", "KSM objects per tracked page", "B", "lower",
			(obj + vmem) / (nr * w2_procs));
		put_fig("W7", "KSM memory footprint per tracked page", "B", "lower",
			(slab + vmem) / (nr * w2_procs));
		put_fig("W7", "of which vmalloc per tracked page", "B", "info",
			vmem / (nr * w2_procs));
	} else if (then == W2_THEN_W3) {
		/* Align to a scan boundary, then time w3_scans unchanged scans. */
		scans = knob("full_scans");
		t = now();
		while (knob("full_scans") == scans && now() - t < timeout_s)
			usleep(5000);
		scans = knob("full_scans");
		t1 = now();
		cpu1 = ksmd_cpu();
		while (knob("full_scans") < scans + (long)w3_scans && now() - t1 < timeout_s)
			usleep(5000);
		cpu = ksmd_cpu() - cpu1;
		t = now() - t1;
		scans = knob("full_scans") - scans;
		put_fig("W3", "ksmd CPU per full scan", "cpu-ms", "lower",
			scans ? cpu * 1e3 / scans : 0);
		put_fig("W3", "wall time per full scan", "ms", "lower",
			scans ? t * 1e3 / scans : 0);
		/*
		 * W7 again, after rounds that refiled every unique page:
		 * tables sized by the round before are at their full size.
		 */
		ksm_slabs(&obj, &slab, names, sizeof(names));
		vmem = ksm_vmalloc_bytes();
		put_fig("W7", "KSM objects per tracked page, steady state",
			"B", "info", (obj + vmem) / (nr * w2_procs));
		put_fig("W7", "of which vmalloc, steady state", "B", "info",
			vmem / (nr * w2_procs));
	}
	close(done[1]);
	for (p = 0; p < w2_procs; p++)
		wait(&status);
	ksm_reset();
	return c;
}

/* Move this process, and so the children it forks from now on, to @cg. */
static void cg_move(const char *cg)
{
	char path[128], pid[16];

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", getpid());
	write_str(path, pid);
}

/* merge_scope=@scope, which needs nothing merged: run=2 first. */
static void set_scope(const char *scope)
{
	char buf[64], want[16];

	ksm_reset();
	write_str(KSM "merge_scope", scope);
	snprintf(want, sizeof(want), "[%s]", scope);
	if (read_str(KSM "merge_scope", buf, sizeof(buf)) < 0 || !strstr(buf, want))
		die("merge_scope is not %s after writing it", scope);
}

static void w11_skip(const char *why)
{
	fprintf(out, "skip\tW11\tmerge scope cost\t%s\n", why);
	fflush(out);
	progress("W11: skipped, %s", why);
}

/*
 * W11: the cost of merge_scope=memcg.  With every process of the workload
 * in one memory cgroup, W1 and W2 with the fast tunables run as they do
 * on their own, twice with merge_scope=global and twice with memcg, in
 * the order global, memcg, memcg, global: both scopes merge the same
 * pages, so a difference in ksmd's CPU is what the scope costs.  Recorded
 * as workloads W11-SCOPE-W1 and W11-SCOPE-W2-fast, with the figures of W1
 * and W2 and the pages merged at convergence.
 */
static void w11(void)
{
	/*
	 * Each scope once early and once late in the boot: whatever the
	 * order favours (warm caches, a fragmented free list) goes to both.
	 */
	static const char * const scopes[] = {
		"global", "memcg", "memcg", "global"
	};
	bool enabled = false;
	char buf[256], w[32];
	struct conv c;
	unsigned long k;

	if (access(KSM "merge_scope", F_OK)) {
		w11_skip("no merge_scope");
		return;
	}
	if (read_str(CGROOT "/cgroup.controllers", buf, sizeof(buf)) < 0 ||
	    !strstr(buf, "memory")) {
		w11_skip("no memory cgroup");
		return;
	}
	ksm_reset();
	if (try_write_str(KSM "merge_scope", "memcg")) {
		snprintf(buf, sizeof(buf), "merge_scope memcg: %s", strerror(errno));
		w11_skip(buf);
		return;
	}
	set_scope("global");

	if (read_str(CGROOT "/cgroup.subtree_control", buf, sizeof(buf)) < 0)
		die("read " CGROOT "/cgroup.subtree_control");
	if (!strstr(buf, "memory")) {
		write_str(CGROOT "/cgroup.subtree_control", "+memory");
		enabled = true;
	}
	if (mkdir(W11_CG, 0755) && errno != EEXIST)
		die("mkdir " W11_CG);
	cg_move(W11_CG);
	for (k = 0; k < ARRAY_SIZE(scopes); k++) {
		progress("W11: merge_scope=%s, W1 and W2-fast in " W11_CG, scopes[k]);
		set_scope(scopes[k]);
		snprintf(w, sizeof(w), "W11-%s-W1", scopes[k]);
		c = w1(w, false, false, 1);
		put_fig(w, "merged at convergence", "pages", "info", c.merged);
		snprintf(w, sizeof(w), "W11-%s-W2-fast", scopes[k]);
		c = w2(w, fast_pages, 0, W2_THEN_NOTHING);
		put_fig(w, "merged at convergence", "pages", "info", c.merged);
	}
	set_scope("global");
	cg_move(CGROOT);
	if (rmdir(W11_CG))
		die("rmdir " W11_CG);
	if (enabled && try_write_str(CGROOT "/cgroup.subtree_control", "-memory"))
		progress("W11: cannot disable the memory controller again: %s",
			 strerror(errno));
}

enum w8_op { W8_MMAP, W8_MPROTECT, W8_MUNMAP, W8_FAULT, W8_OPS };

static const char * const w8_names[W8_OPS] = {
	"mmap", "mprotect", "munmap", "page fault",
};

struct lat {
	double *v;
	unsigned long n, cap;
};

static void lat_init(struct lat *l, unsigned long cap)
{
	l->v = malloc(cap * sizeof(*l->v));
	if (!l->v)
		die("malloc");
	/* Fault the array in now, not while timing. */
	memset(l->v, 0, cap * sizeof(*l->v));
	l->n = 0;
	l->cap = cap;
}

#define W8_PAGES 16

/*
 * One W8 block: for @secs, map W8_PAGES pages, write each (a fault per
 * page), mprotect them read-only and unmap them, timing every call and
 * every fault into @l.  Stops early when an array is full.
 */
static void w8_block(struct lat *l, double secs)
{
	double t, end = now() + secs;
	char *p;
	int i;

	while (now() < end) {
		if (l[W8_MMAP].n == l[W8_MMAP].cap ||
		    l[W8_FAULT].n + W8_PAGES > l[W8_FAULT].cap)
			break;
		t = now();
		p = mmap(NULL, W8_PAGES * page_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		l[W8_MMAP].v[l[W8_MMAP].n++] = now() - t;
		if (p == MAP_FAILED)
			die("W8: mmap");
		for (i = 0; i < W8_PAGES; i++) {
			t = now();
			/* checkpatch: volatile, so that the store faults between the clock reads */
			*(volatile char *)(p + i * page_size) = 1;
			l[W8_FAULT].v[l[W8_FAULT].n++] = now() - t;
		}
		t = now();
		if (mprotect(p, W8_PAGES * page_size, PROT_READ))
			die("W8: mprotect");
		l[W8_MPROTECT].v[l[W8_MPROTECT].n++] = now() - t;
		t = now();
		if (munmap(p, W8_PAGES * page_size))
			die("W8: munmap");
		l[W8_MUNMAP].v[l[W8_MUNMAP].n++] = now() - t;
	}
}

/*
 * W8: interference.  This process's own mm holds w8_mib MiB marked
 * MADV_MERGEABLE (every other page the same, the others unique), merged
 * first; then, in alternating blocks with ksmd stopped (run=0) and
 * scanning with the fast tunables, the process times its mmap, mprotect
 * and munmap calls and its page faults in that mm.  Both the absolute
 * latencies and the slowdown on/off are reported.
 */
static void w8(void)
{
	unsigned long len = w8_mib * MIB, nr = len / page_size, i;
	unsigned long cap = 1UL << 18, blocks = 6, b;
	struct lat lat[2][W8_OPS];
	double on_secs = 0, t = 0, med[2], p99[2];
	long scanned = 0, s0 = 0;
	char name[64];
	struct conv c;
	int st, op;
	char *mem;

	progress("W8: mmap/mprotect/munmap and faults beside ksmd scanning %lu MiB, %g s",
		 w8_mib, w8_secs);
	ksm_reset();
	for (st = 0; st < 2; st++)
		for (op = 0; op < W8_OPS; op++)
			lat_init(&lat[st][op], op == W8_FAULT ? cap * W8_PAGES : cap);
	mem = map_anon(len, false);
	for (i = 0; i < nr; i++) {
		if (i % 2)
			fill_page(mem + i * page_size, i);
		else
			memset(mem + i * page_size, 0x3c, page_size);
	}
	if (madvise(mem, len, MADV_MERGEABLE))
		die("MADV_MERGEABLE");
	c = converge(nr / 2, fast_pages, 0, NULL);
	put_fig("W8", "merged before timing", "%", "info", 200.0 * c.merged / nr);

	/* Off and on alternate, so that a drift of the host hits both alike. */
	for (b = 0; b < blocks; b++) {
		st = b % 2;
		if (st) {
			ksm_start(fast_pages, 0);
			s0 = knob("pages_scanned");
			t = now();
		} else {
			set_knob("run", 0);
		}
		w8_block(lat[st], w8_secs / blocks);
		if (st) {
			on_secs += now() - t;
			scanned += knob("pages_scanned") - s0;
		}
	}
	set_knob("run", 0);
	for (op = 0; op < W8_OPS; op++) {
		for (st = 0; st < 2; st++) {
			qsort(lat[st][op].v, lat[st][op].n, sizeof(double), cmp_double);
			med[st] = pctl(lat[st][op].v, lat[st][op].n, 50) * 1e6;
			p99[st] = pctl(lat[st][op].v, lat[st][op].n, 99) * 1e6;
		}
		snprintf(name, sizeof(name), "%s p99, ksmd on", w8_names[op]);
		put_fig("W8", name, "us", "lower", p99[1]);
		snprintf(name, sizeof(name), "%s p99, ksmd off", w8_names[op]);
		put_fig("W8", name, "us", "info", p99[0]);
		snprintf(name, sizeof(name), "%s p99 slowdown on/off", w8_names[op]);
		put_fig("W8", name, "x", "lower", p99[0] > 0 ? p99[1] / p99[0] : 0);
		snprintf(name, sizeof(name), "%s median, ksmd on", w8_names[op]);
		put_fig("W8", name, "us", "lower", med[1]);
		snprintf(name, sizeof(name), "%s median, ksmd off", w8_names[op]);
		put_fig("W8", name, "us", "info", med[0]);
		snprintf(name, sizeof(name), "%s median slowdown on/off", w8_names[op]);
		put_fig("W8", name, "x", "lower", med[0] > 0 ? med[1] / med[0] : 0);
	}
	put_fig("W8", "mmap calls timed, ksmd on", "", "info", lat[1][W8_MMAP].n);
	put_fig("W8", "ksmd pages scanned per s, on", "pages/s", "info",
		on_secs > 0 ? scanned / on_secs : 0);
	munmap(mem, len);
	for (st = 0; st < 2; st++)
		for (op = 0; op < W8_OPS; op++)
			free(lat[st][op].v);
	ksm_reset();
}

/*
 * W9: scaling.  ksmd's CPU time per scanned page in the steady state over
 * unique pages (nothing ever merges: every page is looked up in, and
 * inserted into, the unstable tree on every scan) at each of the W9
 * sizes.  smart_scan is off so that every page is scanned on every pass
 * and pages_scanned counts them all.  The first two scans (items made,
 * checksums settled) are left out, then w9_scans full scans are timed.
 */
static void w9(void)
{
	double cost[W9_MAX], cpu, t, t1;
	long smart = knob("smart_scan"), scanned, scans;
	unsigned long k, len, nr, i;
	char name[64];
	char *mem;

	if (knob("pages_scanned") < 0) {
		fprintf(out, "skip\tW9\tksmd CPU per scanned page\tno pages_scanned\n");
		return;
	}
	for (k = 0; k < w9_nsizes; k++) {
		len = w9_mib[k] * MIB;
		nr = len / page_size;
		progress("W9: steady-state scans of %lu MiB of unique pages", w9_mib[k]);
		ksm_reset();
		if (smart >= 0)
			set_knob("smart_scan", 0);
		mem = map_anon(len, false);
		/* Unique from the first word on; the rest of the page is filler. */
		for (i = 0; i < nr; i++) {
			memset(mem + i * page_size, 0x6b, page_size);
			*(uint64_t *)(mem + i * page_size) = mix(i + 1) | 1;
		}
		if (madvise(mem, len, MADV_MERGEABLE))
			die("MADV_MERGEABLE");
		scans = knob("full_scans");
		ksm_start(fast_pages, 0);
		t = now();
		while (knob("full_scans") < scans + 2 && now() - t < timeout_s)
			usleep(5000);
		scans = knob("full_scans");
		scanned = knob("pages_scanned");
		cpu = ksmd_cpu();
		t1 = now();
		while (knob("full_scans") < scans + (long)w9_scans && now() - t1 < timeout_s)
			usleep(5000);
		cpu = ksmd_cpu() - cpu;
		t1 = now() - t1;
		scanned = knob("pages_scanned") - scanned;
		set_knob("run", 0);
		if (knob("pages_shared") + knob("pages_sharing") > 0)
			die("W9: unique pages merged");
		cost[k] = scanned > 0 ? cpu * 1e9 / scanned : 0;
		snprintf(name, sizeof(name), "ksmd CPU per scanned page, %lu MiB", w9_mib[k]);
		put_fig("W9", name, "ns", "lower", cost[k]);
		snprintf(name, sizeof(name), "pages scanned per s, %lu MiB", w9_mib[k]);
		put_fig("W9", name, "pages/s", "info", t1 > 0 ? scanned / t1 : 0);
		munmap(mem, len);
		ksm_reset();
	}
	if (smart >= 0)
		set_knob("smart_scan", smart);
	if (w9_nsizes > 1) {
		snprintf(name, sizeof(name), "cost growth, %lu vs %lu MiB",
			 w9_mib[w9_nsizes - 1], w9_mib[0]);
		put_fig("W9", name, "x", "lower",
			cost[0] > 0 ? cost[w9_nsizes - 1] / cost[0] : 0);
	}
}

/* The contents of W10: the same everywhere, or unique to (process, page). */
static void w10_fill(char *mem, unsigned long nr, unsigned long proc, char phase)
{
	unsigned long i;

	for (i = 0; i < nr; i++) {
		uint64_t *w = (uint64_t *)(mem + i * page_size);

		switch (phase) {
		case 'i':
			memset(w, 0x77, page_size);
			break;
		case 'd':
			w[0] = mix(proc << 32 | i) | 1;
			break;
		case 's':
			w[0] = 0x7777777777777777ULL;
			break;
		case 'o':
			if (!proc && !i)
				w[0] = 1;
			break;
		}
	}
}

static int w10_child(unsigned long proc, int cmd_fd, int ack_fd)
{
	unsigned long nr = w10_mib * MIB / page_size;
	char *mem = map_anon(nr * page_size, false);
	char phase = 'i';

	w10_fill(mem, nr, proc, phase);
	if (madvise(mem, nr * page_size, MADV_MERGEABLE))
		return 3;
	do {
		if (write(ack_fd, &phase, 1) != 1)
			return 4;
		if (read(cmd_fd, &phase, 1) != 1)
			return 0;
		w10_fill(mem, nr, proc, phase);
	} while (phase != 'q');
	return 0;
}

/*
 * W10: many sharers.  w10_procs processes of w10_mib MiB each, every page
 * the same, with max_page_sharing raised so that all of them share a
 * single KSM page; merged to convergence, then rewritten by the processes
 * in phases (every page different, all the same again, one page
 * different), each to convergence, then run=2.  ksmd's CPU time and the
 * wall time of the whole scenario, from ksmd's start to run=2's end.
 */
static void w10(void)
{
	static const struct { char cmd; const char *name; long less; } phases[] = {
		{ 'i', "merge", 0 },
		{ 'd', "all pages different", -1 },
		{ 's', "all the same again", 0 },
		{ 'o', "one page different", 1 },
	};
	unsigned long nr = w10_mib * MIB / page_size, n = nr * w10_procs, p, k;
	int cmd[W10_MAX][2], ack[2], status;
	long def_sharing = knob("max_page_sharing"), target;
	double t0, cpu0, t, cpu;
	struct rusage ru0, ru1;
	char name[64], c;
	struct conv cv;

	progress("W10: %lu processes x %lu MiB of one content, max_page_sharing=%lu",
		 w10_procs, w10_mib, n);
	ksm_reset();
	set_knob("max_page_sharing", n);
	if (pipe(ack))
		die("pipe");
	/* A pipe per child, so that each reads its own commands. */
	for (p = 0; p < w10_procs; p++) {
		pid_t pid;

		if (pipe(cmd[p]))
			die("pipe");
		pid = fork();
		if (pid < 0)
			die("fork");
		if (!pid) {
			close(cmd[p][1]);
			close(ack[0]);
			_exit(w10_child(p, cmd[p][0], ack[1]));
		}
		close(cmd[p][0]);
	}
	close(ack[1]);
	for (p = 0; p < w10_procs; p++)
		if (read(ack[0], &c, 1) != 1)
			die("W10 child failed");

	cpu0 = ksmd_cpu();
	t0 = now();
	for (k = 0; k < ARRAY_SIZE(phases); k++) {
		t = now();
		if (k) {
			for (p = 0; p < w10_procs; p++)
				if (write(cmd[p][1], &phases[k].cmd, 1) != 1)
					die("W10: write");
			for (p = 0; p < w10_procs; p++)
				if (read(ack[0], &c, 1) != 1)
					die("W10 child failed");
		}
		target = phases[k].less < 0 ? 0 : (long)n - phases[k].less;
		cv = converge_to(target, true, fast_pages, 0, NULL);
		snprintf(name, sizeof(name), "wall time, %s", phases[k].name);
		put_fig("W10", name, "s", "info", now() - t);
		if (!cv.reached)
			progress("W10: %s did not converge", phases[k].name);
	}
	t = now();
	getrusage(RUSAGE_SELF, &ru0);
	set_knob("run", 2);
	while (merged() > 0 && now() - t < timeout_s)
		usleep(1000);
	getrusage(RUSAGE_SELF, &ru1);
	cpu = ksmd_cpu() - cpu0;
	put_fig("W10", "wall time, run=2", "s", "info", now() - t);
	put_fig("W10", "CPU of the run=2 writer", "cpu-s", "info",
		ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec +
		(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6);
	put_fig("W10", "ksmd CPU, whole scenario", "cpu-s", "lower", cpu);
	put_fig("W10", "wall time, whole scenario", "s", "lower", now() - t0);

	c = 'q';
	for (p = 0; p < w10_procs; p++) {
		if (write(cmd[p][1], &c, 1) != 1)
			die("W10: write");
		close(cmd[p][1]);
	}
	for (p = 0; p < w10_procs; p++)
		wait(&status);
	close(ack[0]);
	ksm_reset();
	if (def_sharing > 0)
		set_knob("max_page_sharing", def_sharing);
}

/*
 * Is @w among the workloads of -w (whole names: W1 is not W10)?  W1 takes
 * in W1-THP, which can also be asked for alone.
 */
static bool want(const char *w)
{
	char buf[128], key[16];

	if (!only)
		return true;
	snprintf(buf, sizeof(buf), ",%s,", only);
	snprintf(key, sizeof(key), ",%s,", w);
	return strstr(buf, key);
}

static void usage(void)
{
	fputs("ksm-bench [-o FILE] [-s W1_MIB] [-r W1_PASSES] [-p W2_PROCS]\n"
	      "          [-m W2_MIB_PER_PROC] [-c W5_MIB] [-u W4_SPARSE_GIB] [-n W3_SCANS] [-P PAGES_TO_SCAN]\n"
	      "          [-V W6_VMAS] [-M W6_MOVES] [-e W8_MIB] [-E W8_SECONDS]\n"
	      "          [-g W9_MIB,W9_MIB,...] [-G W9_SCANS] [-x W10_MIB_PER_PROC]\n"
	      "          [-X W10_PROCS] [-T TIMEOUT_S] [-w W1,W2,...,W11]\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	long def_pages, def_sleep;
	char sizes[128], *tok, *sp;
	struct utsname u;
	unsigned long k;
	int opt;

	out = stdout;
	while ((opt = getopt(argc, argv, "o:s:r:p:m:c:u:n:P:V:M:e:E:g:G:x:X:T:w:")) != -1) {
		switch (opt) {
		case 'o':
			out = fopen(optarg, "w");
			if (!out)
				die("open %s", optarg);
			break;
		case 's':
			w1_mib = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			w1_passes = strtoul(optarg, NULL, 0);
			if (w1_passes < 1 || w1_passes > W1_PASSES_MAX)
				usage();
			break;
		case 'p':
			w2_procs = strtoul(optarg, NULL, 0);
			break;
		case 'm':
			w2_mib = strtoul(optarg, NULL, 0);
			break;
		case 'c':
			w5_mib = strtoul(optarg, NULL, 0);
			break;
		case 'u':
			w4_sparse_gib = strtoul(optarg, NULL, 0);
			break;
		case 'n':
			w3_scans = strtoul(optarg, NULL, 0);
			break;
		case 'P':
			fast_pages = strtoul(optarg, NULL, 0);
			break;
		case 'V':
			w6_vmas = strtoul(optarg, NULL, 0);
			break;
		case 'M':
			w6_moves = strtoul(optarg, NULL, 0) ?: 1;
			break;
		case 'e':
			w8_mib = strtoul(optarg, NULL, 0);
			break;
		case 'E':
			w8_secs = strtod(optarg, NULL);
			break;
		case 'g':
			w9_nsizes = 0;
			for (tok = strtok_r(optarg, ",", &sp); tok && w9_nsizes < W9_MAX;
			     tok = strtok_r(NULL, ",", &sp))
				w9_mib[w9_nsizes++] = strtoul(tok, NULL, 0);
			break;
		case 'G':
			w9_scans = strtoul(optarg, NULL, 0) ?: 1;
			break;
		case 'x':
			w10_mib = strtoul(optarg, NULL, 0);
			break;
		case 'X':
			w10_procs = strtoul(optarg, NULL, 0);
			if (w10_procs < 2 || w10_procs > W10_MAX)
				usage();
			break;
		case 'T':
			timeout_s = strtod(optarg, NULL);
			break;
		case 'w':
			only = optarg;
			break;
		default:
			usage();
		}
	}
	page_size = sysconf(_SC_PAGESIZE);
	clk_tck = sysconf(_SC_CLK_TCK);
	uname(&u);
	put_info("kernel", "%s %s", u.release, u.version);
	sizes[0] = '\0';
	for (k = 0; k < w9_nsizes; k++)
		snprintf(sizes + strlen(sizes), sizeof(sizes) - strlen(sizes), "%s%lu",
			 k ? "/" : "", w9_mib[k]);
	put_info("sizes",
		 "W1 %lu MiB, W2 %lu x %lu MiB, W4 sparse %lu GiB, W5 %lu MiB, W6 %lu vmas, W8 %lu MiB for %g s, W9 %s MiB, W10 %lu x %lu MiB, fast pages_to_scan %lu",
		 w1_mib, w2_procs, w2_mib, w4_sparse_gib, w5_mib, w6_vmas, w8_mib, w8_secs,
		 sizes, w10_procs, w10_mib, fast_pages);

	/* The defaults of a fresh boot are the "default tunables" of W2. */
	def_pages = knob("pages_to_scan");
	def_sleep = knob("sleep_millisecs");
	if (def_pages < 0 || def_sleep < 0)
		die("no " KSM);
	put_info("defaults", "pages_to_scan=%ld sleep_millisecs=%ld", def_pages, def_sleep);
	write_str(THP "enabled", "madvise");
	find_ksmd();

	if (want("W1"))
		w1("W1", false, true, w1_passes);
	if (want("W1") || want("W1-THP"))
		w1("W1-THP", true, false, w1_passes);
	if (want("W5")) {
		w5();
		w5_once();
	}
	if (want("W4"))
		w4_sparse();
	if (want("W6"))
		w6();
	if (want("W2") || want("W7"))
		w2("W2-default", def_pages, def_sleep, W2_THEN_W7);
	if (want("W2") || want("W3"))
		w2("W2-fast", fast_pages, 0, W2_THEN_W3);
	if (want("W11"))
		w11();
	if (want("W8"))
		w8();
	if (want("W9"))
		w9();
	if (want("W10"))
		w10();
	fprintf(out, "info\tdone\t1\n");
	fflush(out);
	return 0;
}
