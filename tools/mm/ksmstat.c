// SPDX-License-Identifier: GPL-2.0
/*
 * ksmstat: what Kernel Samepage Merging is doing
 *
 *   ksmstat [--json] [interval [count]]
 *	one line per interval, like vmstat: the KSM counters, merges and
 *	unmerges per second, pages scanned per second, ksmd's CPU
 *   ksmstat -p [--json] [interval [count]]
 *	a top-like table of the processes KSM knows, by merged pages and
 *	profit, with their command and cgroup
 *   ksmstat -c [--json] [interval [count]]
 *	the same summed by cgroup (v2)
 *   ksmstat -h
 *	what each column means
 *
 * It reads /sys/kernel/mm/ksm/, /proc/PID/ksm_stat, ksm_merging_pages,
 * comm and cgroup, and the /proc/PID/stat of the ksmd kernel thread.
 * What an older kernel does not provide is shown as "-" (null in JSON).
 * The ksm_stat of other users' processes is readable by root only.
 *
 * Compile with:
 *
 * gcc -O2 -Wall ksmstat.c -o ksmstat
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A value the kernel does not provide. */
#define NOVAL		LLONG_MIN
/* include/linux/sched.h: the task is a kernel thread */
#define PF_KTHREAD	0x00200000

#define EXIT_USAGE	2

static const char *root = "";
static bool json;
static long clk_tck;

/* The counters of /sys/kernel/mm/ksm/ that interval mode shows. */
enum {
	C_SHARED,
	C_SHARING,
	C_ZERO,
	C_PROFIT,
	C_SCANS,
	C_SCANNED,
	C_SKIPPED,
	NR_COUNTERS
};

static const char * const counter_file[NR_COUNTERS] = {
	[C_SHARED]	= "pages_shared",
	[C_SHARING]	= "pages_sharing",
	[C_ZERO]	= "ksm_zero_pages",
	[C_PROFIT]	= "general_profit",
	[C_SCANS]	= "full_scans",
	[C_SCANNED]	= "pages_scanned",
	[C_SKIPPED]	= "pages_skipped",
};

struct sample {
	double mono;			/* CLOCK_MONOTONIC, for the rates */
	double wall;			/* CLOCK_REALTIME, for --json */
	long long c[NR_COUNTERS];
	int ksmd_pid;			/* 0: not found */
	long long ksmd_ticks;		/* utime + stime of ksmd */
};

/* What /proc/PID/ksm_stat and ksm_merging_pages say of one process. */
struct ksm_proc {
	int pid;
	char comm[64];
	char *cgroup;
	int nr;				/* processes summed in (-c) */
	long long merging;		/* ksm_merging_pages */
	long long zero;			/* ksm_zero_pages */
	long long rmap;			/* ksm_rmap_items */
	long long profit;		/* ksm_process_profit, bytes */
};

struct proc_table {
	struct ksm_proc *p;
	int nr, size;
	int unreadable;			/* ksm_stat not readable (EACCES) */
};

static void print_help(void)
{
	printf("ksmstat: what Kernel Samepage Merging is doing\n\n"
		"ksmstat [-j] [-r DIR] [interval [count]]     counters, one line per interval\n"
		"ksmstat -p [-j] [-r DIR] [interval [count]]  processes by merged pages and profit\n"
		"ksmstat -c [-j] [-r DIR] [interval [count]]  the same summed by cgroup\n\n"
		"-p|--processes  Table of the processes KSM knows (from /proc/PID/ksm_stat)\n"
		"-c|--cgroups    The same summed by cgroup v2 (from /proc/PID/cgroup)\n"
		"-j|--json       One JSON object per line (per sample), keys as below\n"
		"-r|--root=DIR   Read DIR/sys/kernel/mm/ksm and DIR/proc instead of the\n"
		"                live files (e.g. a copy saved elsewhere)\n"
		"-h|--help       This text\n\n"
		"interval is in seconds (fractions allowed); without it one sample is\n"
		"shown, with it count samples (default: until interrupted).\n\n"
		"Interval mode, per line (JSON key in brackets):\n"
		"  shared     [pages_shared]   KSM pages in use, each holding merged content\n"
		"  sharing    [pages_sharing]  further mappings of them: pages saved\n"
		"  zero       [ksm_zero_pages] pages merged into the zero page (use_zero_pages)\n"
		"  profit     [general_profit] memory saved less KSM's metadata, in MiB\n"
		"             (bytes in JSON)\n"
		"  merge/s    [merges, merges_per_s]\n"
		"  unmerge/s  [unmerges, unmerges_per_s]\n"
		"             Process pages merged M = shared + sharing + zero (zero counts\n"
		"             only where the kernel provides it).  A page merged into a\n"
		"             KSM page adds 1, two pages merged into a new KSM page add 2,\n"
		"             a page unmerged (copy on write, MADV_UNMERGEABLE, run=2,\n"
		"             exit) takes 1.  merges is the rise of M since the\n"
		"             previous line, unmerges its fall, per second; both are net:\n"
		"             merges and unmerges within one interval cancel out.\n"
		"             The kernel counts as ksmd scans: a page written to is\n"
		"             unmerged when ksmd next comes to it.\n"
		"  scans      [full_scans]     complete passes of ksmd over all areas\n"
		"  scanned/s  [pages_scanned, pages_scanned_per_s]  pages ksmd looked at\n"
		"  ksmd%%      [ksmd_pid, ksmd_ticks, ksmd_cpu]  CPU used by the ksmd kernel\n"
		"             thread: the rise of utime + stime in /proc/PID/stat, in %% of\n"
		"             one CPU\n"
		"  skipped    [pages_skipped]  pages smart scan did not look at, in total\n"
		"  JSON also: time (seconds since the epoch), interval (seconds since the\n"
		"  previous line).  The first line has no rates: \"-\", null.\n\n"
		"-p and -c, per row (JSON key in brackets):\n"
		"  PID        [pid]\n"
		"  COMM       [comm]               its command name\n"
		"  PROCS      [processes]          processes summed in the row (-c)\n"
		"  MERGING    [ksm_merging_pages]  pages of the process mapped from KSM pages\n"
		"  ZERO       [ksm_zero_pages]     pages KSM mapped to the zero page\n"
		"  RMAP       [ksm_rmap_items]     pages KSM tracks, merged or not\n"
		"  PROFIT_KiB [ksm_process_profit] (merging + zero) pages less the\n"
		"             rmap items' size, in KiB (bytes in JSON); may be negative\n"
		"  CGROUP     [cgroup]             cgroup v2 path, \"-\" without one\n"
		"  Sorted by MERGING, then PROFIT.  Listed: processes with RMAP, MERGING\n"
		"  or ZERO above 0.  JSON also: time, general_profit (bytes), unreadable\n"
		"  (processes whose ksm_stat could not be read: run as root).\n\n"
		"Values a kernel does not provide are shown as \"-\" (null in JSON).\n"
		"Exit status: 0; 1 when KSM is not available (CONFIG_KSM off) or on\n"
		"errors; 2 on bad usage.\n");
}

/* Read a small file into buf (NUL-terminated): its length, or -errno. */
static int read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd, err;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	return n;
}

static long long parse_ll(const char *s)
{
	long long v;
	char *end;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s)
		return NOVAL;
	return v;
}

static long long read_counter(const char *name)
{
	char path[PATH_MAX], buf[64];

	snprintf(path, sizeof(path), "%s/sys/kernel/mm/ksm/%s", root, name);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return NOVAL;
	return parse_ll(buf);
}

static int read_proc(int pid, const char *name, char *buf, size_t len)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/proc/%d/%s", root, pid, name);
	return read_file(path, buf, len);
}

/* utime + stime of pid if it is the ksmd kernel thread, else NOVAL. */
static long long ksmd_ticks(int pid)
{
	unsigned long long utime, stime;
	char buf[1024], *open, *close;
	unsigned long flags;

	if (read_proc(pid, "stat", buf, sizeof(buf)) <= 0)
		return NOVAL;
	/* "pid (comm) state ...": comm may hold anything, ')' included */
	open = strchr(buf, '(');
	close = strrchr(buf, ')');
	if (!open || !close || close - open != 5 || strncmp(open, "(ksmd)", 6))
		return NOVAL;
	if (sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %lu %*u %*u %*u %*u %llu %llu",
		   &flags, &utime, &stime) != 3 || !(flags & PF_KTHREAD))
		return NOVAL;
	return utime + stime;
}

typedef bool (*pid_fn)(int pid, void *arg);

/* Visit every process in /proc; stop when fn returns true. */
static int visit_pids(pid_fn fn, void *arg)
{
	char path[PATH_MAX];
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/proc", root);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		char *end;
		long pid = strtol(d->d_name, &end, 10);

		if (*end || pid <= 0 || pid > INT_MAX)
			continue;
		if (fn(pid, arg))
			break;
	}
	closedir(dir);
	return 0;
}

static bool match_ksmd(int pid, void *arg)
{
	int *found = arg;

	if (ksmd_ticks(pid) == NOVAL)
		return false;
	*found = pid;
	return true;
}

static void take_sample(struct sample *s)
{
	static int ksmd_pid;
	struct timespec ts;
	int i;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	s->mono = ts.tv_sec + ts.tv_nsec / 1e9;
	clock_gettime(CLOCK_REALTIME, &ts);
	s->wall = ts.tv_sec + ts.tv_nsec / 1e9;
	for (i = 0; i < NR_COUNTERS; i++)
		s->c[i] = read_counter(counter_file[i]);
	/* look ksmd up again only when the one known is gone */
	s->ksmd_ticks = ksmd_pid ? ksmd_ticks(ksmd_pid) : NOVAL;
	if (s->ksmd_ticks == NOVAL) {
		ksmd_pid = 0;
		visit_pids(match_ksmd, &ksmd_pid);
		if (ksmd_pid)
			s->ksmd_ticks = ksmd_ticks(ksmd_pid);
	}
	s->ksmd_pid = s->ksmd_ticks == NOVAL ? 0 : ksmd_pid;
}

/* Process pages merged: mapped from a KSM page or, by KSM, the zero page. */
static long long merged_pages(const struct sample *s)
{
	if (s->c[C_SHARED] == NOVAL || s->c[C_SHARING] == NOVAL)
		return NOVAL;
	return s->c[C_SHARED] + s->c[C_SHARING] +
	       (s->c[C_ZERO] == NOVAL ? 0 : s->c[C_ZERO]);
}

static void put_ll(int width, long long v)
{
	if (v == NOVAL)
		printf(" %*s", width, "-");
	else
		printf(" %*lld", width, v);
}

static void put_double(int width, int prec, double v, bool known)
{
	if (known)
		printf(" %*.*f", width, prec, v);
	else
		printf(" %*s", width, "-");
}

static void json_ll(const char *key, long long v)
{
	if (v == NOVAL)
		printf(",\"%s\":null", key);
	else
		printf(",\"%s\":%lld", key, v);
}

static void json_double(const char *key, int prec, double v, bool known)
{
	if (known)
		printf(",\"%s\":%.*f", key, prec, v);
	else
		printf(",\"%s\":null", key);
}

static void json_str(const char *key, const char *s)
{
	printf(",\"%s\":\"", key);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* Interval mode: what changed from prev (NULL: first line) to cur. */
struct rates {
	bool known;			/* there is a previous sample */
	double dt;
	long long merges, unmerges;	/* pages over dt, NOVAL: unknown */
	bool scanned_known, cpu_known;
	double scanned, cpu;		/* per second, % of one CPU */
};

static void rates(const struct sample *prev, const struct sample *cur,
		  struct rates *r)
{
	long long m0, m1;

	memset(r, 0, sizeof(*r));
	r->merges = NOVAL;
	r->unmerges = NOVAL;
	if (!prev)
		return;
	r->known = true;
	/* > 0: the samples are an interval apart */
	r->dt = cur->mono - prev->mono;
	m0 = merged_pages(prev);
	m1 = merged_pages(cur);
	if (m0 != NOVAL && m1 != NOVAL) {
		r->merges = m1 > m0 ? m1 - m0 : 0;
		r->unmerges = m1 < m0 ? m0 - m1 : 0;
	}
	r->scanned_known = prev->c[C_SCANNED] != NOVAL &&
			   cur->c[C_SCANNED] != NOVAL;
	if (r->scanned_known)
		r->scanned = (cur->c[C_SCANNED] - prev->c[C_SCANNED]) / r->dt;
	r->cpu_known = prev->ksmd_pid && prev->ksmd_pid == cur->ksmd_pid;
	if (r->cpu_known)
		r->cpu = 100.0 * (cur->ksmd_ticks - prev->ksmd_ticks) /
			 clk_tck / r->dt;
}

/* Column widths of interval mode, in the order printed. */
static const struct {
	const char *name;
	int width;
} columns[] = {
	{ "shared", 8 }, { "sharing", 8 }, { "zero", 8 }, { "profit", 8 },
	{ "merge/s", 8 }, { "unmerge/s", 9 }, { "scans", 7 },
	{ "scanned/s", 9 }, { "ksmd%", 6 }, { "skipped", 9 },
};

static void print_header(void)
{
	unsigned int i;

	for (i = 0; i < sizeof(columns) / sizeof(*columns); i++)
		printf(" %*s", columns[i].width, columns[i].name);
	putchar('\n');
}

static void print_text(const struct sample *s, const struct rates *r)
{
	long long profit = s->c[C_PROFIT];

	put_ll(columns[0].width, s->c[C_SHARED]);
	put_ll(columns[1].width, s->c[C_SHARING]);
	put_ll(columns[2].width, s->c[C_ZERO]);
	put_double(columns[3].width, 1, profit / 1048576.0, profit != NOVAL);
	put_double(columns[4].width, 0, r->merges / r->dt, r->merges != NOVAL);
	put_double(columns[5].width, 0, r->unmerges / r->dt,
		   r->unmerges != NOVAL);
	put_ll(columns[6].width, s->c[C_SCANS]);
	put_double(columns[7].width, 0, r->scanned, r->scanned_known);
	put_double(columns[8].width, 1, r->cpu, r->cpu_known);
	put_ll(columns[9].width, s->c[C_SKIPPED]);
	putchar('\n');
}

static void print_json(const struct sample *s, const struct rates *r)
{
	int i;

	printf("{\"time\":%.6f", s->wall);
	json_double("interval", 6, r->dt, r->known);
	for (i = 0; i < NR_COUNTERS; i++)
		json_ll(counter_file[i], s->c[i]);
	json_ll("merges", r->merges);
	json_ll("unmerges", r->unmerges);
	json_double("merges_per_s", 3, r->merges / r->dt, r->merges != NOVAL);
	json_double("unmerges_per_s", 3, r->unmerges / r->dt,
		    r->unmerges != NOVAL);
	json_double("pages_scanned_per_s", 3, r->scanned, r->scanned_known);
	json_ll("ksmd_pid", s->ksmd_pid ? s->ksmd_pid : NOVAL);
	json_ll("ksmd_ticks", s->ksmd_ticks);
	json_double("ksmd_cpu", 2, r->cpu, r->cpu_known);
	printf("}\n");
}

/* Data lines between two headers: a screenful, as vmstat does. */
static int header_every(void)
{
	struct winsize ws;

	if (isatty(STDOUT_FILENO) && !ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) &&
	    ws.ws_row > 2)
		return ws.ws_row - 1;
	return 21;
}

static void show_counters(long nr, const struct sample *prev,
			  const struct sample *cur)
{
	static int every;
	struct rates r;

	rates(prev, cur, &r);
	if (json) {
		print_json(cur, &r);
		return;
	}
	if (!every)
		every = header_every();
	if (nr % every == 0)
		print_header();
	print_text(cur, &r);
}

/* The counters of ksm_stat ("key value" lines) into p. */
static void parse_ksm_stat(char *buf, struct ksm_proc *p)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{ "ksm_merging_pages", offsetof(struct ksm_proc, merging) },
		{ "ksm_zero_pages", offsetof(struct ksm_proc, zero) },
		{ "ksm_rmap_items", offsetof(struct ksm_proc, rmap) },
		{ "ksm_process_profit", offsetof(struct ksm_proc, profit) },
	};
	char *line, *save;
	unsigned int i;

	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		for (i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
			size_t len = strlen(keys[i].key);

			if (!strncmp(line, keys[i].key, len) &&
			    (line[len] == ' ' || line[len] == ':'))
				*(long long *)((char *)p + keys[i].off) =
					parse_ll(line + len + 1);
		}
	}
}

/* Does /proc/PID still exist? */
static bool pid_alive(int pid)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/proc/%d", root, pid);
	return !stat(path, &st);
}

/* cgroup v2 path of pid ("0::/path"), or NULL. */
static char *read_cgroup(int pid)
{
	char buf[8192], *line, *save;

	if (read_proc(pid, "cgroup", buf, sizeof(buf)) <= 0)
		return NULL;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "0::", 3))
			return strdup(line + 3);
	}
	return NULL;
}

/*
 * One process into the table, if KSM knows it.  A process may exit at
 * any point: whatever cannot be read then makes it skipped.
 */
static bool add_proc(int pid, void *arg)
{
	struct proc_table *t = arg;
	struct ksm_proc p = {
		.pid = pid, .nr = 1,
		.merging = NOVAL, .zero = NOVAL, .rmap = NOVAL, .profit = NOVAL,
	};
	char buf[4096];
	int n;

	n = read_proc(pid, "ksm_stat", buf, sizeof(buf));
	if (n == -EACCES) {
		t->unreadable++;
		return false;
	}
	/* an empty ksm_stat: no mm (kernel thread, or exiting) */
	if (n == 0)
		return false;
	if (n > 0)
		parse_ksm_stat(buf, &p);
	else if (!pid_alive(pid))
		return false;
	/* kernels before ksm_stat, or whose ksm_stat lacks the count */
	if (p.merging == NOVAL) {
		n = read_proc(pid, "ksm_merging_pages", buf, sizeof(buf));
		if (n == -EACCES) {
			t->unreadable++;
			return false;
		}
		if (n > 0)
			p.merging = parse_ll(buf);
		else if (n == 0 || !pid_alive(pid))
			return false;
	}
	if (p.merging <= 0 && p.zero <= 0 && p.rmap <= 0)
		return false;
	n = read_proc(pid, "comm", p.comm, sizeof(p.comm));
	if (n <= 0)
		return false;
	if (p.comm[n - 1] == '\n')
		p.comm[n - 1] = '\0';
	p.cgroup = read_cgroup(pid);
	if (!p.cgroup)
		p.cgroup = strdup("-");
	if (t->nr == t->size) {
		t->size = t->size ? 2 * t->size : 64;
		t->p = realloc(t->p, t->size * sizeof(*t->p));
	}
	if (!p.cgroup || !t->p) {
		fprintf(stderr, "ksmstat: out of memory\n");
		exit(EXIT_FAILURE);
	}
	t->p[t->nr++] = p;
	return false;
}

/* Unknown values sort below every known one. */
static int cmp_ll_desc(long long a, long long b)
{
	return a < b ? 1 : a > b ? -1 : 0;
}

static int cmp_rows(const void *a, const void *b)
{
	const struct ksm_proc *x = a, *y = b;

	return cmp_ll_desc(x->merging, y->merging) ?:
	       cmp_ll_desc(x->profit, y->profit) ?:
	       (x->pid > y->pid) - (x->pid < y->pid);
}

static int cmp_cgroup(const void *a, const void *b)
{
	const struct ksm_proc *x = a, *y = b;

	return strcmp(x->cgroup, y->cgroup);
}

static void add_val(long long *sum, long long v)
{
	if (v == NOVAL)
		return;
	*sum = *sum == NOVAL ? v : *sum + v;
}

/* Fold the table into one row per cgroup (the rows keep their cgroup). */
static void sum_by_cgroup(struct proc_table *t)
{
	int i, n = 0;

	qsort(t->p, t->nr, sizeof(*t->p), cmp_cgroup);
	for (i = 0; i < t->nr; i++) {
		struct ksm_proc *g = &t->p[n - 1], *p = &t->p[i];

		if (n && !strcmp(g->cgroup, p->cgroup)) {
			g->nr++;
			add_val(&g->merging, p->merging);
			add_val(&g->zero, p->zero);
			add_val(&g->rmap, p->rmap);
			add_val(&g->profit, p->profit);
			free(p->cgroup);
			continue;
		}
		t->p[n++] = *p;
	}
	t->nr = n;
}

static long long kib(long long bytes)
{
	return bytes == NOVAL ? NOVAL : bytes / 1024;
}

static void print_table_text(const struct proc_table *t, bool by_cgroup)
{
	/* "-" where no row knows the value; 0 for an empty table */
	long long none = t->nr ? NOVAL : 0;
	struct ksm_proc total = { .merging = none, .zero = none, .profit = none };
	int i;

	for (i = 0; i < t->nr; i++) {
		total.nr += t->p[i].nr;
		add_val(&total.merging, t->p[i].merging);
		add_val(&total.zero, t->p[i].zero);
		add_val(&total.profit, t->p[i].profit);
	}
	printf("processes: %d", total.nr);
	if (by_cgroup)
		printf("  cgroups: %d", t->nr);
	printf("  merging:");
	put_ll(0, total.merging);
	printf(" pages  zero:");
	put_ll(0, total.zero);
	printf(" pages  profit:");
	put_ll(0, kib(total.profit));
	printf(" KiB\n");
	if (by_cgroup)
		printf(" %7s", "PROCS");
	else
		printf(" %7s %-16s", "PID", "COMM");
	printf(" %9s %9s %9s %10s %s\n", "MERGING", "ZERO", "RMAP",
	       "PROFIT_KiB", "CGROUP");
	for (i = 0; i < t->nr; i++) {
		const struct ksm_proc *p = &t->p[i];

		if (by_cgroup)
			printf(" %7d", p->nr);
		else
			printf(" %7d %-16s", p->pid, p->comm);
		put_ll(9, p->merging);
		put_ll(9, p->zero);
		put_ll(9, p->rmap);
		put_ll(10, kib(p->profit));
		printf(" %s\n", p->cgroup);
	}
}

static void print_table_json(const struct proc_table *t, bool by_cgroup,
			     double wall)
{
	int i;

	printf("{\"time\":%.6f", wall);
	json_ll("general_profit", read_counter("general_profit"));
	printf(",\"%s\":[", by_cgroup ? "cgroups" : "processes");
	for (i = 0; i < t->nr; i++) {
		const struct ksm_proc *p = &t->p[i];

		/* json_*() put a comma first: open with the row's own key */
		if (by_cgroup) {
			printf("%s{\"processes\":%d", i ? "," : "", p->nr);
		} else {
			printf("%s{\"pid\":%d", i ? "," : "", p->pid);
			json_str("comm", p->comm);
		}
		json_str("cgroup", p->cgroup);
		json_ll("ksm_merging_pages", p->merging);
		json_ll("ksm_zero_pages", p->zero);
		json_ll("ksm_rmap_items", p->rmap);
		json_ll("ksm_process_profit", p->profit);
		putchar('}');
	}
	printf("],\"unreadable\":%d}\n", t->unreadable);
}

static int show_table(long nr, bool by_cgroup)
{
	struct proc_table t = { 0 };
	struct timespec ts;
	int i, err;

	clock_gettime(CLOCK_REALTIME, &ts);
	err = visit_pids(add_proc, &t);
	if (err) {
		fprintf(stderr, "ksmstat: %s/proc: %s\n", root, strerror(-err));
		return err;
	}
	if (by_cgroup)
		sum_by_cgroup(&t);
	qsort(t.p, t.nr, sizeof(*t.p), cmp_rows);
	if (json) {
		print_table_json(&t, by_cgroup, ts.tv_sec + ts.tv_nsec / 1e9);
	} else {
		if (nr)
			putchar('\n');
		print_table_text(&t, by_cgroup);
		if (t.unreadable)
			fprintf(stderr, "ksmstat: %d ksm_stat files unreadable: run as root\n",
				t.unreadable);
	}
	for (i = 0; i < t.nr; i++)
		free(t.p[i].cgroup);
	free(t.p);
	return 0;
}

static void sleep_until(double t)
{
	struct timespec ts = {
		.tv_sec = (time_t)t,
		.tv_nsec = (long)((t - (time_t)t) * 1e9),
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static const struct option opts[] = {
	{ "processes", no_argument, NULL, 'p' },
	{ "cgroups", no_argument, NULL, 'c' },
	{ "json", no_argument, NULL, 'j' },
	{ "root", required_argument, NULL, 'r' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

int main(int argc, char **argv)
{
	struct sample samples[2], *prev = NULL, *cur = &samples[0];
	double interval = 0, start;
	char mode = 0, path[PATH_MAX], *end;
	long count = 1, nr;
	struct timespec ts;
	int c;

	while ((c = getopt_long(argc, argv, "pcjr:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
		case 'c':
			mode = c;
			break;
		case 'j':
			json = true;
			break;
		case 'r':
			root = optarg;
			break;
		case 'h':
			print_help();
			return 0;
		default:
			fprintf(stderr, "Try ksmstat -h\n");
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		interval = strtod(argv[optind], &end);
		if (*end || end == argv[optind] || !(interval > 0)) {
			fprintf(stderr, "ksmstat: bad interval '%s'\n", argv[optind]);
			return EXIT_USAGE;
		}
		count = 0;
		optind++;
	}
	if (optind < argc) {
		count = strtol(argv[optind], &end, 10);
		if (*end || end == argv[optind] || count < 1) {
			fprintf(stderr, "ksmstat: bad count '%s'\n", argv[optind]);
			return EXIT_USAGE;
		}
		optind++;
	}
	if (optind < argc) {
		fprintf(stderr, "ksmstat: too many arguments\nTry ksmstat -h\n");
		return EXIT_USAGE;
	}

	snprintf(path, sizeof(path), "%s/sys/kernel/mm/ksm", root);
	if (access(path, F_OK)) {
		fprintf(stderr, "ksmstat: %s: %s (kernel without CONFIG_KSM?)\n",
			path, strerror(errno));
		return EXIT_FAILURE;
	}
	clk_tck = sysconf(_SC_CLK_TCK);
	if (clk_tck <= 0)
		clk_tck = 100;
	setvbuf(stdout, NULL, _IOLBF, 0);

	clock_gettime(CLOCK_MONOTONIC, &ts);
	start = ts.tv_sec + ts.tv_nsec / 1e9;
	for (nr = 0; !count || nr < count; nr++) {
		if (nr)
			sleep_until(start + nr * interval);
		if (mode) {
			if (show_table(nr, mode == 'c'))
				return EXIT_FAILURE;
			continue;
		}
		take_sample(cur);
		show_counters(nr, prev, cur);
		prev = cur;
		cur = &samples[cur == samples];
	}
	return 0;
}
