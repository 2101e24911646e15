// SPDX-License-Identifier: GPL-2.0
/*
 * ksmstat (tools/mm/ksmstat.c, installed next to this test) against a
 * known layout: three processes in two cgroups v2 with pages of one
 * content and zero pages (use_zero_pages).  Once merged, with ksmd
 * stopped, every number it prints must be what sysfs and
 * /proc/PID/ksm_stat say; then, with ksmd running, pages are unmerged and
 * merged again under a running ksmstat, whose merges and unmerges must add
 * up to exactly that.  A made-up /sys and /proc (--root) stands for an older kernel
 * and for one without KSM.
 */
#include <dirent.h>
#include <math.h>
#include <poll.h>
#include <sys/stat.h>

#include "ksm_test_util.h"

#define TAG		0x57a7
#define CGROUP_DIR	"/sys/fs/cgroup"
/* line timeout for ksmstat runs with an interval of at most a second */
#define LINE_TIMEOUT_S	30

/* The layout; "same" pages hold one content in every process. */
static struct layout {
	int same, zero;
	const char *cgroup;
	char *p;
	struct ksmt_worker w;
} layout[] = {
	{ 16, 8, "/ksmstat-a" },
	{ 4, 0, "/ksmstat-a" },	/* its pages get unmerged and merged again */
	{ 8, 4, "/ksmstat-b" },
};

#define NR_PROCS	((int)(sizeof(layout) / sizeof(*layout)))
#define A2		(&layout[1])
/* one KSM page for all "same" pages: 28 mappings */
#define SHARED		1
#define SHARING		27
#define ZERO		12

static const char * const cgroups[] = { "/ksmstat-a", "/ksmstat-b" };
static char ksmstat[4096];
static char fake_root[64];
static char *made[32];
static int nr_made, nr_started;

static char layout_fn(char cmd, void *arg)
{
	struct layout *l = arg;
	int n = l->same + l->zero;

	switch (cmd) {
	case 's':
		l->p = ksmt_map(n);
		ksmt_fill_range(l->p, l->same, TAG, true);
		memset(l->p + l->same * ksmt_page_size, 0,
		       l->zero * ksmt_page_size);
		ksmt_mergeable(l->p, n);
		return 'y';
	case 'u':
		/* a content of its own in each page: ksmd unmerges them */
		ksmt_fill_range(l->p, l->same, TAG + 1, false);
		return 'y';
	case 'w':
		/* the common content again: ksmd merges them again */
		ksmt_fill_range(l->p, l->same, TAG, true);
		return 'y';
	}
	return 'n';
}

static void cleanup(void)
{
	char path[256];
	int i, tries;

	for (i = 0; i < nr_started; i++)
		ksmt_worker_stop(&layout[i].w);
	nr_started = 0;
	ksmt_restore();
	for (i = 0; i < (int)(sizeof(cgroups) / sizeof(*cgroups)); i++) {
		snprintf(path, sizeof(path), CGROUP_DIR "%s", cgroups[i]);
		/* a reaped task may leave its cgroup a moment later */
		for (tries = 0; rmdir(path) && errno == EBUSY && tries < 100; tries++)
			usleep(10000);
	}
	while (nr_made > 0)
		remove(made[--nr_made]);
}

/* ksmstat running, its stdout (and stderr if asked) in buf. */
struct run {
	pid_t pid;
	int fd;
	bool eof;
	size_t len, used;
	char buf[1 << 16];
};

static struct run run;

static void ks_start(struct run *r, bool with_stderr, const char *args)
{
	char argbuf[512], *argv[16], *tok, *save;
	int fds[2], n = 0;

	argv[n++] = ksmstat;
	snprintf(argbuf, sizeof(argbuf), "%s", args);
	for (tok = strtok_r(argbuf, " ", &save); tok && n < 15;
	     tok = strtok_r(NULL, " ", &save))
		argv[n++] = tok;
	argv[n] = NULL;
	if (pipe(fds))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	fflush(stdout);
	r->pid = fork();
	if (r->pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!r->pid) {
		dup2(fds[1], 1);
		if (with_stderr)
			dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		execv(ksmstat, argv);
		_exit(127);
	}
	close(fds[1]);
	r->fd = fds[0];
	r->eof = false;
	r->len = 0;
	r->used = 0;
}

/* The next line of output (kept in buf), NULL at the end or on timeout. */
static char *ks_line(struct run *r, int timeout_s)
{
	double end = ksmt_now() + timeout_s;

	for (;;) {
		char *line = r->buf + r->used, *nl;
		struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
		ssize_t n;

		nl = memchr(line, '\n', r->len - r->used);
		if (nl) {
			*nl = '\0';
			r->used = nl + 1 - r->buf;
			return line;
		}
		if (r->eof || r->len == sizeof(r->buf) - 1 || ksmt_now() > end)
			return NULL;
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = read(r->fd, r->buf + r->len, sizeof(r->buf) - 1 - r->len);
		if (n <= 0)
			r->eof = true;
		else
			r->len += n;
		r->buf[r->len] = '\0';
	}
}

/* Stop (kill: SIGTERM first) and reap ksmstat: its exit status, or -1. */
static int ks_end(struct run *r, bool kill_it)
{
	int status;

	if (kill_it)
		kill(r->pid, SIGTERM);
	close(r->fd);
	if (waitpid(r->pid, &status, 0) != r->pid)
		return -1;
	if (kill_it)
		return WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM ? 0 : -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * Run ksmstat to the end; lines[] point into run.buf.  Its exit status,
 * and how many lines it printed in *nr (no more than max).
 */
static int ks_run(const char *args, bool with_stderr, char **lines, int max,
		  int *nr)
{
	char *line;

	ks_start(&run, with_stderr, args);
	*nr = 0;
	while ((line = ks_line(&run, LINE_TIMEOUT_S)))
		if (*nr < max)
			lines[(*nr)++] = line;
	if (!run.eof) {
		ksft_print_msg("ksmstat %s: no end of output\n", args);
		kill(run.pid, SIGKILL);
	}
	return ks_end(&run, false);
}

/* ks_run() expecting exit status 0 and exactly want lines. */
static bool ks_lines(const char *args, char **lines, int max, int want)
{
	int nr, rc = ks_run(args, false, lines, max, &nr);

	if (!rc && nr == want)
		return true;
	ksft_print_msg("ksmstat %s: exit status %d, %d lines, want 0 and %d\n",
		       args, rc, nr, want);
	return false;
}

enum jtype { J_ABSENT, J_NULL, J_NUM, J_STR };

/* "key":value in a JSON object text; a string value is copied to str. */
static enum jtype jget(const char *obj, const char *key, double *num,
		       char *str, size_t len)
{
	char pat[64];
	const char *p;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(obj, pat);
	if (!p)
		return J_ABSENT;
	p += strlen(pat);
	if (!strncmp(p, "null", 4))
		return J_NULL;
	if (*p == '"') {
		for (p++; *p && *p != '"' && n + 1 < len; p++)
			str[n++] = *p;
		if (len)
			str[n] = '\0';
		return J_STR;
	}
	*num = strtod(p, NULL);
	return J_NUM;
}

/* A number: NAN if the key is null or absent. */
static double jnum(const char *obj, const char *key)
{
	double v;

	return jget(obj, key, &v, NULL, 0) == J_NUM ? v : NAN;
}

static bool jnull(const char *obj, const char *key)
{
	double v;

	return jget(obj, key, &v, NULL, 0) == J_NULL;
}

/* The object {...} around the first occurrence of needle, in out. */
static bool jobject(const char *text, const char *needle, char *out,
		    size_t len)
{
	const char *p = strstr(text, needle), *start, *end;

	if (!p)
		return false;
	for (start = p; start > text && *start != '{'; start--)
		;
	end = strchr(p, '}');
	if (!end || *start != '{' || (size_t)(end - start + 2) > len)
		return false;
	memcpy(out, start, end - start + 1);
	out[end - start + 1] = '\0';
	return true;
}

/* A JSON number key of obj against an expected value; false with a message. */
static bool jwant(const char *what, const char *obj, const char *key, double want)
{
	double v = jnum(obj, key);

	if (v == want)
		return true;
	ksft_print_msg("%s: %s %g, want %g\n", what, key, v, want);
	return false;
}

/* Whitespace-separated fields of a text line (modified in place). */
static int fields(char *line, char **f, int max)
{
	char *save, *tok;
	int n = 0;

	for (tok = strtok_r(line, " \t", &save); tok && n < max;
	     tok = strtok_r(NULL, " \t", &save))
		f[n++] = tok;
	return n;
}

static bool field_is(const char *what, const char *got, const char *want)
{
	if (!strcmp(got, want))
		return true;
	ksft_print_msg("%s: \"%s\", want \"%s\"\n", what, got, want);
	return false;
}

static bool field_ll(const char *what, const char *got, long long want)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", want);
	return field_is(what, got, buf);
}

/* The ksmd kernel thread: pid and utime + stime. */
static pid_t ksmd_pid;

static long long ksmd_ticks(void)
{
	unsigned long long utime, stime;
	char path[64], buf[1024], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", ksmd_pid);
	if (ksmt_read_path(path, buf, sizeof(buf)) <= 0)
		return -1;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &utime, &stime) != 2)
		return -1;
	return utime + stime;
}

static void find_ksmd(void)
{
	char path[300], buf[64];
	struct dirent *d;
	DIR *dir = opendir("/proc");

	while (dir && (d = readdir(dir))) {
		snprintf(path, sizeof(path), "/proc/%s/comm", d->d_name);
		if (ksmt_read_path(path, buf, sizeof(buf)) > 0 &&
		    !strcmp(buf, "ksmd\n")) {
			ksmd_pid = atoi(d->d_name);
			break;
		}
	}
	if (dir)
		closedir(dir);
	if (!ksmd_pid)
		ksft_exit_fail_msg("no ksmd thread in /proc\n");
}

/* The sysfs counters that interval mode prints as they are. */
static const char * const counters[] = {
	"pages_shared", "pages_sharing", "ksm_zero_pages", "general_profit",
	"full_scans", "pages_scanned", "pages_skipped",
};

#define NR_COUNTERS	((int)(sizeof(counters) / sizeof(*counters)))

static bool counters_match(const char *what, const char *obj)
{
	bool ok = true;
	int i;

	for (i = 0; i < NR_COUNTERS; i++)
		ok &= jwant(what, obj, counters[i], ksmt_get(counters[i]));
	return ok;
}

/* With ksmd stopped: every line is sysfs, nothing moves. */
static void test_interval_json(void)
{
	char *lines[8], what[32];
	bool ok;
	int i;

	ok = ks_lines("--json 0.5 3", lines, 8, 3);
	for (i = 0; ok && i < 3; i++) {
		snprintf(what, sizeof(what), "line %d", i + 1);
		ok &= counters_match(what, lines[i]);
		ok &= jwant(what, lines[i], "ksmd_pid", ksmd_pid);
		if (!i) {
			ok &= jnull(lines[i], "merges") && jnull(lines[i], "interval") &&
			      jnull(lines[i], "ksmd_cpu");
			continue;
		}
		ok &= jwant(what, lines[i], "merges", 0);
		ok &= jwant(what, lines[i], "unmerges", 0);
		ok &= jwant(what, lines[i], "pages_scanned_per_s", 0);
		ok &= jwant(what, lines[i], "ksmd_cpu", 0);
		if (!(jnum(lines[i], "interval") >= 0.45 &&
		      jnum(lines[i], "interval") < 5)) {
			ksft_print_msg("%s: interval %g\n", what,
				       jnum(lines[i], "interval"));
			ok = false;
		}
	}
	ksft_test_result(ok, "ksmstat --json 0.5 3: sysfs, no merges, ksmd idle\n");
}

static const char * const header[] = {
	"shared", "sharing", "zero", "profit", "merge/s", "unmerge/s",
	"scans", "scanned/s", "ksmd%", "skipped",
};

#define NR_COLUMNS	((int)(sizeof(header) / sizeof(*header)))

/* The columns of -p and -c. */
static const char * const table_header[] = {
	"PID", "COMM", "PROCS", "MERGING", "ZERO", "RMAP", "PROFIT_KiB", "CGROUP",
};

#define NR_TABLE_COLUMNS	((int)(sizeof(table_header) / sizeof(*table_header)))

static void test_interval_text(void)
{
	static const char name[] = "ksmstat 0.5 2: header, then the columns of sysfs";
	char *lines[8], *f[16], profit[32], what[32];
	int i, j, n;
	bool ok;

	if (!ks_lines("0.5 2", lines, 8, 3)) {
		ksft_test_result_fail("%s\n", name);
		return;
	}
	n = fields(lines[0], f, 16);
	ok = n == NR_COLUMNS;
	for (j = 0; j < n && j < NR_COLUMNS; j++)
		ok &= field_is("header", f[j], header[j]);
	snprintf(profit, sizeof(profit), "%.1f",
		 ksmt_get("general_profit") / 1048576.0);
	for (i = 1; i < 3; i++) {
		snprintf(what, sizeof(what), "line %d", i + 1);
		n = fields(lines[i], f, 16);
		if (n != NR_COLUMNS) {
			ksft_print_msg("%s: %d columns\n", what, n);
			ok = false;
			continue;
		}
		ok &= field_ll(what, f[0], ksmt_get("pages_shared"));
		ok &= field_ll(what, f[1], ksmt_get("pages_sharing"));
		ok &= field_ll(what, f[2], ksmt_get("ksm_zero_pages"));
		ok &= field_is(what, f[3], profit);
		ok &= field_is(what, f[4], i == 1 ? "-" : "0");
		ok &= field_is(what, f[5], i == 1 ? "-" : "0");
		ok &= field_ll(what, f[6], ksmt_get("full_scans"));
		ok &= field_is(what, f[7], i == 1 ? "-" : "0");
		ok &= field_is(what, f[8], i == 1 ? "-" : "0.0");
		ok &= field_ll(what, f[9], ksmt_get("pages_skipped"));
	}
	ksft_test_result(ok, "%s\n", name);
}

static const char * const stat_keys[] = {
	"ksm_merging_pages", "ksm_zero_pages", "ksm_rmap_items",
	"ksm_process_profit",
};

#define NR_STAT_KEYS	((int)(sizeof(stat_keys) / sizeof(*stat_keys)))

static long stat_of(struct layout *l, int key)
{
	return ksmt_proc_field(l->w.pid, "ksm_stat", stat_keys[key]);
}

/* Sum of a ksm_stat counter over the processes of a cgroup. */
static long stat_sum(const char *cgroup, int key, int *nr)
{
	long sum = 0;
	int i;

	*nr = 0;
	for (i = 0; i < NR_PROCS; i++) {
		if (strcmp(layout[i].cgroup, cgroup))
			continue;
		sum += stat_of(&layout[i], key);
		(*nr)++;
	}
	return sum;
}

static int count_of(const char *text, const char *needle)
{
	int n = 0;

	for (; (text = strstr(text, needle)); text++)
		n++;
	return n;
}

static void test_procs_json(void)
{
	static const char name[] = "ksmstat -p --json: ksm_stat, comm, cgroup, in order";
	char *lines[4], obj[1024], pat[32], what[32], str[256];
	const char *prev = NULL, *at;
	double v;
	bool ok;
	int i, k;

	if (!ks_lines("-p --json", lines, 4, 1)) {
		ksft_test_result_fail("%s\n", name);
		return;
	}
	ok = count_of(lines[0], "{\"pid\":") == NR_PROCS;
	ok &= jwant("-p", lines[0], "general_profit", ksmt_get("general_profit"));
	ok &= jwant("-p", lines[0], "unreadable", 0);
	/* sorted by ksm_merging_pages: 16, 8, 4 */
	for (i = 0; i < NR_PROCS; i++) {
		struct layout *l = &layout[i == 1 ? 2 : i == 2 ? 1 : 0];

		snprintf(pat, sizeof(pat), "{\"pid\":%d,", l->w.pid);
		snprintf(what, sizeof(what), "pid %d", l->w.pid);
		at = strstr(lines[0], pat);
		if (!at || (prev && at < prev) ||
		    !jobject(lines[0], pat, obj, sizeof(obj))) {
			ksft_print_msg("%s: missing or out of order\n", what);
			ok = false;
			continue;
		}
		prev = at;
		for (k = 0; k < NR_STAT_KEYS; k++)
			ok &= jwant(what, obj, stat_keys[k], stat_of(l, k));
		if (jget(obj, "cgroup", &v, str, sizeof(str)) != J_STR ||
		    strcmp(str, l->cgroup) ||
		    jget(obj, "comm", &v, str, sizeof(str)) != J_STR ||
		    strcmp(str, "ksm_ksmstat")) {
			ksft_print_msg("%s: comm or cgroup wrong: %s\n", what, obj);
			ok = false;
		}
	}
	ksft_test_result(ok, "%s\n", name);
}

static void test_procs_text(void)
{
	static const char name[] = "ksmstat -p: summary, then a row per process";
	char *lines[16], *f[16], what[32];
	int i, j, nr = 2 + NR_PROCS, found = 0;
	bool ok;

	if (!ks_lines("-p", lines, 16, nr)) {
		ksft_test_result_fail("%s\n", name);
		return;
	}
	ok = fields(lines[0], f, 16) >= 2 &&
	     field_is("summary", f[0], "processes:") &&
	     field_ll("summary", f[1], NR_PROCS);
	for (i = 2; i < nr; i++) {
		if (fields(lines[i], f, 16) != 7) {
			ksft_print_msg("row %d: not 7 columns\n", i - 1);
			ok = false;
			continue;
		}
		for (j = 0; j < NR_PROCS; j++) {
			struct layout *l = &layout[j];

			if (atoi(f[0]) != l->w.pid)
				continue;
			found++;
			snprintf(what, sizeof(what), "pid %d", l->w.pid);
			ok &= field_is(what, f[1], "ksm_ksmstat");
			ok &= field_ll(what, f[2], stat_of(l, 0));
			ok &= field_ll(what, f[3], stat_of(l, 1));
			ok &= field_ll(what, f[4], stat_of(l, 2));
			ok &= field_ll(what, f[5], stat_of(l, 3) / 1024);
			ok &= field_is(what, f[6], l->cgroup);
		}
	}
	ok &= found == NR_PROCS;
	ksft_test_result(ok, "%s\n", name);
}

static void test_cgroups(void)
{
	char *lines[16], obj[1024], pat[64], *f[16];
	int i, k, procs;
	bool ok;

	ok = ks_lines("-c --json", lines, 16, 1) &&
	     count_of(lines[0], "{\"processes\":") == 2;
	for (i = 0; ok && i < 2; i++) {
		snprintf(pat, sizeof(pat), "\"cgroup\":\"%s\"", cgroups[i]);
		if (!jobject(lines[0], pat, obj, sizeof(obj))) {
			ksft_print_msg("-c --json: no %s\n", cgroups[i]);
			ok = false;
			break;
		}
		for (k = 0; k < NR_STAT_KEYS; k++)
			ok &= jwant(cgroups[i], obj, stat_keys[k],
				    stat_sum(cgroups[i], k, &procs));
		ok &= jwant(cgroups[i], obj, "processes", procs);
	}
	ksft_test_result(ok, "ksmstat -c --json: ksm_stat summed per cgroup\n");

	ok = ks_lines("-c", lines, 16, 4);
	for (i = 0; ok && i < 2; i++) {
		/* /ksmstat-a merges 20 pages, /ksmstat-b 8: a first */
		if (fields(lines[2 + i], f, 16) != 6) {
			ok = false;
			break;
		}
		ok &= field_is("cgroup", f[5], cgroups[i]);
		ok &= field_ll(cgroups[i], f[1], stat_sum(cgroups[i], 0, &procs));
		ok &= field_ll(cgroups[i], f[0], procs);
		ok &= field_ll(cgroups[i], f[2], stat_sum(cgroups[i], 1, &procs));
	}
	ksft_test_result(ok, "ksmstat -c: a row per cgroup, by merged pages\n");
}

/* A rate as printed (3 decimals) against one worked out from its counts. */
static bool near(double got, double want)
{
	return fabs(got - want) <= 0.01 + fabs(want) * 0.0001;
}

/*
 * Merges and unmerges of the lines after the first, up to one showing
 * pages_sharing == until; false if none does in time.
 */
static bool sum_moves(long until, double *merges, double *unmerges, char *last,
		      size_t len)
{
	bool ok = true;
	char *line;

	*merges = 0;
	*unmerges = 0;
	*last = '\0';
	while ((line = ks_line(&run, KSMT_TIMEOUT_S))) {
		double dt = jnum(line, "interval");

		*merges += jnum(line, "merges");
		*unmerges += jnum(line, "unmerges");
		if (!near(jnum(line, "unmerges_per_s") * dt, jnum(line, "unmerges")) ||
		    !near(jnum(line, "merges_per_s") * dt, jnum(line, "merges"))) {
			ksft_print_msg("rates do not match the counts: %s\n", line);
			ok = false;
		}
		snprintf(last, len, "%s", line);
		if (jnum(line, "pages_sharing") == until)
			return ok;
	}
	return false;
}

/*
 * A2's pages changed under a running ksmstat, until ksmd has seen them:
 * pages_sharing goes from "from" to "to", by merges or by unmerges only.
 * The kernel counts a page written to as unmerged when ksmd comes to it.
 */
static bool moves(char cmd, long from, long to, long want_merges,
		  long want_unmerges)
{
	double merges, unmerges;
	char last[1024], *line;
	bool ok;
	int rc;

	ks_start(&run, false, "--json 0.5");
	line = ks_line(&run, LINE_TIMEOUT_S);
	ok = line && jnum(line, "pages_sharing") == from;
	ok &= ksmt_worker_do(&A2->w, cmd);
	ok &= sum_moves(to, &merges, &unmerges, last, sizeof(last));
	rc = ks_end(&run, true);
	if (!ok || rc || merges != want_merges || unmerges != want_unmerges) {
		ksft_print_msg("status %d, merges %g unmerges %g, want %ld and %ld: %s\n",
			       rc, merges, unmerges, want_merges, want_unmerges,
			       last);
		ok = false;
	}
	return ok;
}

static void test_unmerge_merge(void)
{
	long n = A2->same;

	ksmt_set("run", 1);
	ksft_test_result(moves('u', SHARING, SHARING - n, 0, n),
			 "unmerges: %ld pages changed under a running ksmstat\n", n);
	ksft_test_result(moves('w', SHARING - n, SHARING, n, 0),
			 "merges: the %ld pages merged again under a running ksmstat\n", n);
}

/* ksmd running flat out: its CPU and scan rate, against /proc and sysfs. */
static void test_ksmd_busy(void)
{
	static const char name[] = "ksmd running: ksmd_cpu, pages_scanned_per_s";
	long long before, after, t1, t2;
	char *lines[4];
	double dt, cpu, want;
	bool ok;

	before = ksmd_ticks();
	ok = ks_lines("--json 1 2", lines, 4, 2);
	after = ksmd_ticks();
	if (!ok) {
		ksft_test_result_fail("%s\n", name);
		return;
	}
	t1 = jnum(lines[0], "ksmd_ticks");
	t2 = jnum(lines[1], "ksmd_ticks");
	dt = jnum(lines[1], "interval");
	cpu = jnum(lines[1], "ksmd_cpu");
	want = 100.0 * (t2 - t1) / sysconf(_SC_CLK_TCK) / dt;
	if (!(before <= t1 && t1 <= t2 && t2 <= after) || !(cpu > 0) ||
	    !near(cpu, want)) {
		ksft_print_msg("ksmd ticks %lld <= %lld <= %lld <= %lld, cpu %g%% want %g%% > 0\n",
			       before, t1, t2, after, cpu, want);
		ok = false;
	}
	want = (jnum(lines[1], "pages_scanned") - jnum(lines[0], "pages_scanned")) / dt;
	if (!(want > 0) || !near(jnum(lines[1], "pages_scanned_per_s"), want)) {
		ksft_print_msg("pages_scanned_per_s %g, want %g > 0\n",
			       jnum(lines[1], "pages_scanned_per_s"), want);
		ok = false;
	}
	ok &= jnum(lines[1], "full_scans") >= jnum(lines[0], "full_scans");
	ksft_test_result(ok, "%s\n", name);
}

/* Short-lived processes with KSM state while -p reads /proc. */
static void test_vanishing(void)
{
	char *lines[16], pat[32];
	pid_t churn;
	bool ok;
	int i;

	fflush(stdout);
	churn = fork();
	if (!churn) {
		for (;;) {
			pid_t c = fork();

			if (!c) {
				char *p = ksmt_map(4);

				ksmt_fill_range(p, 4, TAG, true);
				ksmt_mergeable(p, 4);
				usleep(20000);
				_exit(0);
			}
			if (c > 0)
				waitpid(c, NULL, 0);
		}
	}
	ok = ks_lines("-p --json 0.2 10", lines, 16, 10);
	kill(churn, SIGKILL);
	waitpid(churn, NULL, 0);
	snprintf(pat, sizeof(pat), "{\"pid\":%d,", layout[0].w.pid);
	for (i = 0; ok && i < 10; i++)
		if (!strstr(lines[i], pat) || lines[i][strlen(lines[i]) - 1] != '}') {
			ksft_print_msg("sample %d: %s\n", i + 1, lines[i]);
			ok = false;
		}
	ksft_test_result(ok, "ksmstat -p while processes come and go\n");
}

static void put(const char *rel, const char *content)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fake_root, rel);
	if (content) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content))
			ksft_exit_fail_msg("%s: %s\n", path, strerror(errno));
		close(fd);
	} else if (mkdir(path, 0755)) {
		ksft_exit_fail_msg("mkdir %s: %s\n", path, strerror(errno));
	}
	if (nr_made < (int)(sizeof(made) / sizeof(*made)))
		made[nr_made++] = strdup(path);
}

/*
 * A kernel older than ksm_zero_pages, general_profit, pages_skipped and
 * ksm_stat: 4242 has only ksm_merging_pages; ksmd is pid 99.
 */
static void make_old_kernel(void)
{
	snprintf(fake_root, sizeof(fake_root), "/tmp/ksmstat-root.XXXXXX");
	if (!mkdtemp(fake_root))
		ksft_exit_fail_msg("mkdtemp: %s\n", strerror(errno));
	made[nr_made++] = fake_root;
	put("sys", NULL);
	put("sys/kernel", NULL);
	put("sys/kernel/mm", NULL);
	put("sys/kernel/mm/ksm", NULL);
	put("sys/kernel/mm/ksm/pages_shared", "3\n");
	put("sys/kernel/mm/ksm/pages_sharing", "10\n");
	put("sys/kernel/mm/ksm/full_scans", "7\n");
	put("sys/kernel/mm/ksm/pages_scanned", "1000\n");
	put("proc", NULL);
	put("proc/99", NULL);
	put("proc/99/stat", "99 (ksmd) S 2 0 0 0 -1 2097216 0 0 0 0 5 7 0 0 25 5 1 0 30\n");
	put("proc/99/comm", "ksmd\n");
	put("proc/99/ksm_stat", "");
	put("proc/4242", NULL);
	put("proc/4242/stat", "4242 (ksm) app) S 1 1 1 0 -1 4194560 0 0 0 0 1 1\n");
	put("proc/4242/comm", "ksm) app\n");
	put("proc/4242/cgroup", "0::/app\n");
	put("proc/4242/ksm_merging_pages", "13\n");
}

/* ksmstat --root <the made-up tree> args, as ks_lines(). */
static bool old_run(const char *args, char **lines, int want)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "--root %s %s", fake_root, args);
	return ks_lines(buf, lines, 8, want);
}

static void test_old_kernel(void)
{
	char *lines[8], *f[16], obj[512], str[64];
	double v;
	bool ok;

	ok = old_run("--json 0.2 2", lines, 2) &&
	     jnull(lines[1], "ksm_zero_pages") && jnull(lines[1], "general_profit") &&
	     jnull(lines[1], "pages_skipped") &&
	     jwant("old", lines[1], "pages_shared", 3) &&
	     jwant("old", lines[1], "pages_sharing", 10) &&
	     jwant("old", lines[1], "ksmd_pid", 99) &&
	     jwant("old", lines[1], "ksmd_ticks", 12) &&
	     jwant("old", lines[1], "merges", 0) &&
	     jwant("old", lines[1], "ksmd_cpu", 0);
	ok = old_run("0.2 2", lines, 3) && ok &&
	     fields(lines[2], f, 16) == NR_COLUMNS &&
	     field_is("zero", f[2], "-") && field_is("profit", f[3], "-") &&
	     field_is("skipped", f[9], "-") && field_is("unmerge/s", f[5], "0");
	ksft_test_result(ok, "older kernel: missing counters shown as - and null\n");

	ok = old_run("-p --json", lines, 1) &&
	     count_of(lines[0], "{\"pid\":") == 1 &&
	     jobject(lines[0], "{\"pid\":4242,", obj, sizeof(obj)) &&
	     jwant("4242", obj, "ksm_merging_pages", 13) &&
	     jnull(obj, "ksm_zero_pages") && jnull(obj, "ksm_rmap_items") &&
	     jnull(obj, "ksm_process_profit") &&
	     jget(obj, "comm", &v, str, sizeof(str)) == J_STR &&
	     !strcmp(str, "ksm) app") &&
	     jget(obj, "cgroup", &v, str, sizeof(str)) == J_STR && !strcmp(str, "/app");
	ok = old_run("-c", lines, 3) && ok && fields(lines[2], f, 16) == 6 &&
	     field_is("-c", f[0], "1") && field_is("-c", f[1], "13") &&
	     field_is("-c", f[2], "-") && field_is("-c", f[5], "/app");
	ksft_test_result(ok, "older kernel: -p and -c from ksm_merging_pages alone\n");
}

static void test_errors(void)
{
	char args[128], *lines[64];
	int i, j, nr, rc;
	bool ok, seen;

	snprintf(args, sizeof(args), "--root %s/proc", fake_root);
	rc = ks_run(args, true, lines, 8, &nr);
	ok = rc == 1 && nr == 1 && strstr(lines[0], "CONFIG_KSM");
	if (!ok)
		ksft_print_msg("no KSM: exit status %d, \"%s\"\n", rc, nr ? lines[0] : "");
	rc = ks_run("-p 0", true, lines, 8, &nr);
	ok &= rc == 2;
	rc = ks_run("1 2 3", true, lines, 8, &nr);
	ok &= rc == 2;
	ksft_test_result(ok, "no KSM: exit status 1 and why; bad usage: 2\n");

	rc = ks_run("-h", false, lines, 64, &nr);
	ok = rc == 0;
	/* every column is explained: "  name  what it is" */
	for (i = 0; i < NR_COLUMNS + NR_TABLE_COLUMNS; i++) {
		const char *name = i < NR_COLUMNS ? header[i] :
				   table_header[i - NR_COLUMNS];
		size_t len = strlen(name);

		for (j = 0, seen = false; j < nr && !seen; j++)
			seen = !strncmp(lines[j], "  ", 2) &&
			       !strncmp(lines[j] + 2, name, len) &&
			       lines[j][2 + len] == ' ';
		if (!seen)
			ksft_print_msg("-h does not explain %s\n", name);
		ok &= seen;
	}
	ksft_test_result(ok, "ksmstat -h explains every column\n");
}

static void set_up_layout(void)
{
	char path[256], pid[16];
	int i;

	for (i = 0; i < (int)(sizeof(cgroups) / sizeof(*cgroups)); i++) {
		snprintf(path, sizeof(path), CGROUP_DIR "%s", cgroups[i]);
		if (mkdir(path, 0755) && errno != EEXIST)
			ksft_exit_skip("no cgroup v2 at " CGROUP_DIR ": %s\n",
				       strerror(errno));
	}
	for (i = 0; i < NR_PROCS; i++) {
		struct layout *l = &layout[i];

		ksmt_worker_start(&l->w, layout_fn, l);
		nr_started++;
		snprintf(path, sizeof(path), CGROUP_DIR "%s/cgroup.procs", l->cgroup);
		snprintf(pid, sizeof(pid), "%d", l->w.pid);
		if (ksmt_write_path(path, pid))
			ksft_exit_fail_msg("cannot move %d into %s\n", l->w.pid, l->cgroup);
	}
	ksmt_set("run", 1);
	if (!ksmt_wait_merged(SHARED, SHARING) ||
	    !ksmt_wait_counter("ksm_zero_pages", ZERO))
		ksft_exit_fail_msg("layout did not merge\n");
	ksmt_set("run", 0);
	/* a batch under way when run went 0 finishes: wait for the scanner to rest */
	for (i = 0; i < 100; i++) {
		long scanned = ksmt_get("pages_scanned");

		usleep(200000);
		if (ksmt_get("pages_scanned") == scanned)
			break;
	}
	for (i = 0; i < NR_PROCS; i++)
		if (stat_of(&layout[i], 0) != layout[i].same ||
		    stat_of(&layout[i], 1) != layout[i].zero)
			ksft_exit_fail_msg("pid %d: ksm_stat merging %ld zero %ld, want %d %d\n",
					   layout[i].w.pid, stat_of(&layout[i], 0),
					   stat_of(&layout[i], 1), layout[i].same,
					   layout[i].zero);
}

int main(void)
{
	ssize_t n;

	ksmt_start();
	n = readlink("/proc/self/exe", ksmstat, sizeof(ksmstat) - 16);
	if (n <= 0)
		ksft_exit_fail_msg("readlink /proc/self/exe: %s\n", strerror(errno));
	ksmstat[n] = '\0';
	snprintf(strrchr(ksmstat, '/') + 1, 16, "ksmstat");
	if (access(ksmstat, X_OK))
		ksft_exit_fail_msg("%s: %s\n", ksmstat, strerror(errno));
	if (access("/proc/self/ksm_stat", R_OK))
		ksft_exit_skip("no /proc/self/ksm_stat\n");
	ksft_set_plan(14);
	find_ksmd();
	make_old_kernel();
	ksmt_take_over(cleanup);
	ksmt_fast_scan();
	ksmt_set("use_zero_pages", 1);
	ksmt_set("max_page_sharing", 256);
	set_up_layout();

	test_interval_json();
	test_interval_text();
	test_procs_json();
	test_procs_text();
	test_cgroups();
	test_unmerge_merge();
	test_ksmd_busy();
	test_vanishing();
	test_old_kernel();
	test_errors();
	ksft_finished();
}
