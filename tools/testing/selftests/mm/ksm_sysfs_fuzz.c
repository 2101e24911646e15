// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile writes to every file of /sys/kernel/mm/ksm: boundary strings
 * (empty, signs, hex, octal, whitespace, overflow, embedded NUL, doubled
 * newline, longer than a page) and random ones, in three states: KSM
 * stopped with nothing merged, stopped with pages merged, and running.
 *
 * Each write is judged against the parsers of the 6.12 ABI (kstrto*()
 * in base 10, kstrtobool(), sysfs_streq(), the range and EBUSY rules of
 * each tunable): a refused write must fail with the error 6.12 gives and
 * change nothing; with ksmd stopped "nothing" includes every counter.  An
 * accepted write must read back as the value parsed, and change no other
 * tunable (but advisor_mode, which resets pages_to_scan).  Whatever a
 * write changed is put back before the next.
 *
 * A seeded PRNG picks the writes: the seed is printed, and "ksm_sysfs_fuzz
 * SEED" replays the same sequence.  The run is bounded in time.
 */
#include <ctype.h>
#include "ksm_test_util.h"

#define MAX_FILES	48
#define MAX_LEN		(2 * 4096 + 16)
#define PHASE_S		14
#define NPAGES		32
#define MAX_REPORTS	10

enum kind { RO, RUN, UINT, ULONG, ULONG_POS, BOOL, MERGE_ACROSS, MAX_SHARING,
	    ADVISOR, PAGES_TO_SCAN, SCOPE, UNKNOWN_RW };

struct file {
	char name[200];
	enum kind kind;
	long writes, accepted, refused, bad;
	bool unknown;
};

static const struct {
	const char *name;
	enum kind kind;
} model[] = {
	{ "run", RUN },
	{ "pages_to_scan", PAGES_TO_SCAN },
	{ "sleep_millisecs", UINT },
	{ "stable_node_chains_prune_millisecs", UINT },
	{ "merge_across_nodes", MERGE_ACROSS },
	{ "max_page_sharing", MAX_SHARING },
	{ "use_zero_pages", BOOL },
	{ "smart_scan", BOOL },
	{ "advisor_mode", ADVISOR },
	{ "advisor_max_cpu", UINT },	/* a percentage, kept in an unsigned int */
	{ "advisor_min_pages_to_scan", ULONG },
	{ "advisor_max_pages_to_scan", ULONG },
	{ "advisor_target_scan_time", ULONG_POS },
	/* ours: which pages may merge with which; not in 6.12 */
	{ "merge_scope", SCOPE },
};

static struct file files[MAX_FILES];
static int nr_files;
static uint64_t rng;
static char *area;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static unsigned long rnd_below(unsigned long n)
{
	return rnd() % n;
}

/* A snapshot of every file, as read. */
struct snap {
	char val[MAX_FILES][128];
};

static void take(struct snap *s)
{
	int i;

	for (i = 0; i < nr_files; i++)
		if (ksmt_read_str(files[i].name, s->val[i], sizeof(s->val[i])) < 0)
			snprintf(s->val[i], sizeof(s->val[i]), "<unreadable>");
}

/* Index of the first file that differs, -1 if none. */
static int differs(const struct snap *a, const struct snap *b, bool counters,
		   int except, int except2)
{
	int i;

	for (i = 0; i < nr_files; i++) {
		if (i == except || i == except2 ||
		    (!counters && files[i].kind == RO))
			continue;
		if (strcmp(a->val[i], b->val[i]))
			return i;
	}
	return -1;
}

static int find(const char *name)
{
	int i;

	for (i = 0; i < nr_files; i++)
		if (!strcmp(files[i].name, name))
			return i;
	return -1;
}

static void list_files(void)
{
	struct dirent *de;
	struct stat st;
	char path[300];
	unsigned int j;
	DIR *d;

	d = opendir(KSMT_DIR);
	if (!d)
		ksft_exit_fail_msg("opendir %s: %s\n", KSMT_DIR, strerror(errno));
	while ((de = readdir(d)) && nr_files < MAX_FILES) {
		struct file *f = &files[nr_files];

		snprintf(path, sizeof(path), KSMT_DIR "%s", de->d_name);
		if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(f->name) ||
		    stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		memcpy(f->name, de->d_name, strlen(de->d_name) + 1);
		f->kind = st.st_mode & 0222 ? UNKNOWN_RW : RO;
		f->unknown = f->kind == UNKNOWN_RW;
		for (j = 0; j < ARRAY_SIZE(model); j++)
			if (!strcmp(model[j].name, f->name)) {
				f->kind = model[j].kind;
				f->unknown = false;
			}
		nr_files++;
	}
	closedir(d);
}

/* kstrtoull(s, 10): an optional '+', digits, one optional newline. */
static int parse_ull(const char *s, unsigned long long *res)
{
	unsigned long long v = 0;
	bool overflow = false;
	const char *p;

	if (*s == '+')
		s++;
	for (p = s; *p >= '0' && *p <= '9'; p++) {
		unsigned int dig = *p - '0';

		if (v > (ULLONG_MAX - dig) / 10)
			overflow = true;
		v = v * 10 + dig;
	}
	if (overflow)
		return -ERANGE;
	if (p == s)
		return -EINVAL;
	if (*p == '\n')
		p++;
	if (*p)
		return -EINVAL;
	*res = v;
	return 0;
}

/* kstrtoint(s, 10) */
static int parse_int(const char *s, long long *res)
{
	unsigned long long v;
	int err;

	if (*s == '-') {
		/* no '+' after the '-' */
		if (s[1] == '+')
			return -EINVAL;
		err = parse_ull(s + 1, &v);
		if (err)
			return err;
		if (v > (unsigned long long)INT_MAX + 1)
			return -ERANGE;
		*res = -(long long)v;
		return 0;
	}
	err = parse_ull(s, &v);
	if (err)
		return err;
	if (v > INT_MAX)
		return -ERANGE;
	*res = v;
	return 0;
}

/* kstrtobool(): only the first one or two characters count. */
static int parse_bool(const char *s, bool *res)
{
	switch (s[0]) {
	case 'y': case 'Y': case 't': case 'T': case '1':
		*res = true;
		return 0;
	case 'n': case 'N': case 'f': case 'F': case '0':
		*res = false;
		return 0;
	case 'o': case 'O':
		if (s[1] == 'n' || s[1] == 'N') {
			*res = true;
			return 0;
		}
		if (s[1] == 'f' || s[1] == 'F') {
			*res = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* sysfs_streq(): equal but for one trailing newline on either. */
static bool streq(const char *s, const char *word)
{
	size_t n = strlen(word);

	return !strncmp(s, word, n) && (!s[n] || (s[n] == '\n' && !s[n + 1]));
}

/*
 * What 6.12 does with input s (as the store sees it: cut at a page and
 * at the first NUL) to file f whose value is cur: 0 and the value that
 * must read back in out, or the error.  1: no model, judge only whether
 * a refusal changed something.
 */
static int expect(const struct file *f, const char *s, const char *cur,
		  bool shared, char *out, size_t len)
{
	unsigned long long v;
	long long iv;
	bool b;
	int err;

	switch (f->kind) {
	case RO:
		return -EACCES;
	case RUN:
		if (parse_ull(s, &v) || v > 2)
			return -EINVAL;
		break;
	case PAGES_TO_SCAN:
		/* writable only without an advisor, which is always so here */
	case UINT:
		if (parse_ull(s, &v) || v > UINT_MAX)
			return -EINVAL;
		break;
	case ULONG:
		if (parse_ull(s, &v))
			return -EINVAL;
		break;
	case ULONG_POS:
		if (parse_ull(s, &v) || !v)
			return -EINVAL;
		break;
	case BOOL:
		if (parse_bool(s, &b))
			return -EINVAL;
		v = b;
		break;
	case MERGE_ACROSS:
		err = parse_ull(s, &v);
		if (err)
			return err;
		if (v > 1)
			return -EINVAL;
		if (v != strtoull(cur, NULL, 10) && shared)
			return -EBUSY;
		break;
	case MAX_SHARING:
		err = parse_int(s, &iv);
		if (err)
			return err;
		if (iv < 2)
			return -EINVAL;
		if (iv != strtoll(cur, NULL, 10) && shared)
			return -EBUSY;
		snprintf(out, len, "%lld", iv);
		return 0;
	case ADVISOR:
		if (streq(s, "none"))
			snprintf(out, len, "[none] scan-time");
		else if (streq(s, "scan-time"))
			snprintf(out, len, "none [scan-time]");
		else
			return -EINVAL;
		return 0;
	case SCOPE:
		if (streq(s, "global"))
			snprintf(out, len, "[global] memcg");
		else if (streq(s, "memcg"))
			snprintf(out, len, "global [memcg]");
		else
			return -EINVAL;
		/* as merge_across_nodes: no change while pages are shared */
		if (strcmp(out, cur) && shared)
			return -EBUSY;
		return 0;
	default:
		return 1;
	}
	snprintf(out, len, "%llu", v);
	return 0;
}

static const char * const boundary[] = {
	"", "\n", " ", "\t", "0", "1", "2", "3", "-1", "-0", "+1", "+0", "++1",
	"-+1", "+-1", "0x1", "0x10", "0X2", "010", "002", "08", "1e3", " 1", "1 ",
	"\t1", "1\t", "1\n", "1\n\n", "\n1", "1\r", "1,", "1.0", "1k", "y", "Y",
	"n", "N", "yes", "no", "on", "off", "oN", "OF", "o", "true", "false",
	"none", "none\n", "none\n\n", " none", "none ", "nonex", "scan-time",
	"scan-time\n", "scan_time", "SCAN-TIME", "scan-time\t", "global",
	"global\n", "memcg", "memcg\n", "memcg\n\n", " memcg", "memcgx", "MEMCG",
	"[memcg]", "255", "256",
	"257", "1000", "4294967295", "4294967296", "-4294967296", "2147483647",
	"2147483648", "-2147483648", "-2147483649", "9223372036854775807",
	"9223372036854775808", "18446744073709551615", "18446744073709551616",
	"99999999999999999999999999999", "-99999999999999999999",
	"000000000000000000000000000000000000007",
};

/* A random input in buf; its length, which may hold NULs. */
static size_t gen(char *buf)
{
	static const char alpha[] = "0123456789+-xX \t\n\rynoffNYOabcde.,\\%";
	static const char * const prefix[] = { "", "", "+", "-", " ", "0" };
	static const char * const suffix[] = { "", "", "\n", "\n\n", " ", "x", "\t" };
	unsigned long n, i;
	size_t len;
	int c;

	switch (rnd_below(9)) {
	case 0: case 1: case 2:
		i = rnd_below(ARRAY_SIZE(boundary));
		len = strlen(boundary[i]);
		memcpy(buf, boundary[i], len);
		return len;
	case 3:
		/* a number of random magnitude, maybe decorated */
		return sprintf(buf, "%s%llu%s", prefix[rnd_below(6)],
			       (unsigned long long)(rnd() >> rnd_below(64)),
			       suffix[rnd_below(7)]);
	case 4:
		/* hex or octal spellings */
		return sprintf(buf, rnd_below(2) ? "0x%llx" : "0%llo",
			       (unsigned long long)rnd_below(1000));
	case 5:
		/* a valid number, then a NUL and garbage the store never sees */
		len = sprintf(buf, "%lu", rnd_below(3000));
		buf[len++] = '\0';
		len += sprintf(buf + len, "%s",
			       rnd_below(2) ? "junk" : "99999999999999999999999");
		return len;
	case 6:
		/* around a page or more: digits, zeros before a 5, spaces, y */
		n = 4090 + rnd_below(12);
		if (!rnd_below(4))
			n = 4096 + rnd_below(4096);
		c = "90 y"[rnd_below(4)];
		memset(buf, c, n);
		buf[n - 1] = c == '0' ? '5' : c;
		return n;
	}
	n = rnd_below(40);
	for (i = 0; i < n; i++)
		buf[i] = rnd_below(8) ? alpha[rnd_below(sizeof(alpha) - 1)] :
			 (char)rnd_below(256);
	return n;
}

static void show(const char *s, size_t len, char *out, size_t olen)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 8 < olen; i++) {
		unsigned char c = s[i];

		if (o > 48 && len - i > 8) {
			o += snprintf(out + o, olen - o, "...(%zu bytes)", len);
			break;
		}
		if (c == '\n')
			o += snprintf(out + o, olen - o, "\\n");
		else if (isprint(c) && c != '\\')
			out[o++] = c;
		else
			o += snprintf(out + o, olen - o, "\\x%02x", c);
	}
	out[o] = '\0';
}

/* One write(2) of len bytes: bytes written, or -errno. */
static long write_raw(const char *name, const char *buf, size_t len)
{
	char path[256];
	long n;
	int fd;

	snprintf(path, sizeof(path), KSMT_DIR "%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, buf, len);
	if (n < 0)
		n = -errno;
	close(fd);
	return n;
}

/* Put every tunable back as it was in s, advisor first. */
static void put_back(const struct snap *s)
{
	int i, adv = find("advisor_mode"), run = find("run");
	int scope = find("merge_scope");

	ksmt_write("advisor_mode", "none");
	for (i = 0; i < nr_files; i++)
		if (files[i].kind != RO && i != adv && i != run &&
		    i != scope && strcmp(s->val[i], "<unreadable>"))
			ksmt_write(files[i].name, s->val[i]);
	/* merge_scope reads "[global] memcg": write the selection back */
	if (scope >= 0)
		ksmt_write("merge_scope",
			   strstr(s->val[scope], "[memcg]") ? "memcg" : "global");
	if (adv >= 0 && strstr(s->val[adv], "[scan-time]"))
		ksmt_write("advisor_mode", "scan-time");
	if (run >= 0)
		ksmt_write("run", s->val[run]);
}

struct phase {
	const char *what;
	bool running, merged;
};

/* Bring KSM into the phase's state; false if pages would not merge. */
static bool enter(const struct phase *ph)
{
	ksmt_stop_unmerge();
	if (ph->merged) {
		ksmt_set("run", 1);
		if (!ksmt_wait_merged(1, NPAGES - 1))
			return false;
	}
	ksmt_set("run", ph->running ? 1 : 0);
	return true;
}

/* With ksmd stopped, wait until two snapshots agree (a batch may finish). */
static void settle(struct snap *s)
{
	struct snap t;
	int i;

	take(s);
	for (i = 0; i < 100; i++) {
		usleep(20000);
		take(&t);
		if (differs(s, &t, true, -1, -1) < 0)
			return;
		*s = t;
	}
}

static void __printf(4, 5)
report(struct file *f, const char *in, size_t len, const char *fmt, ...)
{
	char shown[128];
	va_list ap;

	f->bad++;
	if (f->bad > MAX_REPORTS)
		return;
	show(in, len, shown, sizeof(shown));
	va_start(ap, fmt);
	printf("# %s <- \"%s\": ", f->name, shown);
	vprintf(fmt, ap);
	va_end(ap);
}

static bool unsettled;

static void fuzz_one(const struct phase *ph, struct file *f, int idx,
		     const char *in, size_t len)
{
	static struct snap before, after;
	size_t eff = len < 4096 ? len : 4096;
	char want[128], cut[4097];
	int ret, d, other = -1;
	bool shared;
	long n;

	memcpy(cut, in, eff);
	cut[eff] = '\0';
	if (unsettled && !ph->running)
		settle(&before);
	else
		take(&before);
	unsettled = false;
	shared = strtol(before.val[find("pages_shared")], NULL, 10) > 0;
	if (f->kind == RO || len)
		ret = expect(f, cut, before.val[idx], shared, want, sizeof(want));
	else
		ret = 2;	/* an empty write reaches no store */
	n = write_raw(f->name, in, len);
	take(&after);
	f->writes++;

	if (n < 0) {
		f->refused++;
		if (ret == 0 || ret == 2)
			report(f, in, len, "refused (%s), 6.12 accepts it as %s\n",
			       strerror(-n), ret ? "a no-op" : want);
		else if (ret < 0 && f->kind != RO && n != ret)
			report(f, in, len, "refused with %s, 6.12 says %s\n",
			       strerror(-n), strerror(-ret));
		d = differs(&before, &after, !ph->running, -1, -1);
		if (d >= 0) {
			report(f, in, len, "refused (%s) but %s changed: '%s' -> '%s'\n",
			       strerror(-n), files[d].name, before.val[d], after.val[d]);
			put_back(&before);
		}
		return;
	}
	f->accepted++;
	if (ret == 2) {
		d = differs(&before, &after, !ph->running, -1, -1);
		if (n || d >= 0)
			report(f, in, len, "empty write returned %ld, changed %s\n", n,
			       d >= 0 ? files[d].name : "nothing");
		return;
	}
	if (ret < 0)
		report(f, in, len, "accepted, 6.12 refuses it with %s\n", strerror(-ret));
	if ((size_t)n != eff)
		report(f, in, len, "accepted %ld of %zu bytes\n", n, eff);
	if (ret == 0 && strcmp(after.val[idx], want))
		report(f, in, len, "accepted, reads back '%s', want '%s'\n",
		       after.val[idx], want);
	/* switching the advisor resets pages_to_scan */
	if (f->kind == ADVISOR)
		other = find("pages_to_scan");
	d = differs(&before, &after, false, idx, other);
	if (d >= 0)
		report(f, in, len, "accepted, but %s changed too: '%s' -> '%s'\n",
		       files[d].name, before.val[d], after.val[d]);
	put_back(&before);
	/* run=1 or run=2 changed the state: bring it back */
	if (f->kind == RUN && strcmp(after.val[idx], before.val[idx])) {
		if (ph->merged != (ksmt_get("pages_shared") > 0))
			enter(ph);
		unsettled = true;
	}
}

static bool run_phase(const struct phase *ph, double until)
{
	static char in[MAX_LEN];
	long writes = 0, bad = 0;
	int i;

	for (i = 0; i < nr_files; i++)
		bad -= files[i].bad;
	unsettled = true;
	if (!enter(ph)) {
		ksft_print_msg("%s: pages did not merge\n", ph->what);
		return false;
	}
	while (ksmt_now() < until) {
		int idx = rnd_below(nr_files);
		size_t len = gen(in);

		fuzz_one(ph, &files[idx], idx, in, len);
		writes++;
	}
	for (i = 0; i < nr_files; i++)
		bad += files[i].bad;
	ksft_print_msg("%s: %ld writes, %ld wrong\n", ph->what, writes, bad);
	return true;
}

int main(int argc, char **argv)
{
	static const struct phase phases[] = {
		{ "stopped, nothing merged", false, false },
		{ "stopped, pages merged", false, true },
		{ "running, pages merged", true, true },
	};
	unsigned int p;
	int i;

	ksmt_start();
	rng = argc > 1 ? strtoull(argv[1], NULL, 0) : (uint64_t)time(NULL) ^ getpid();
	if (!rng)
		rng = 1;
	ksft_print_msg("seed %llu (ksm_sysfs_fuzz %llu replays it)\n",
		       (unsigned long long)rng, (unsigned long long)rng);
	list_files();
	if (find("run") < 0 || find("pages_shared") < 0)
		ksft_exit_fail_msg("no run or pages_shared in " KSMT_DIR "\n");
	ksft_set_plan(ARRAY_SIZE(phases) + nr_files);

	ksmt_take_over(ksmt_restore);
	ksmt_setup();
	area = ksmt_map(NPAGES);
	ksmt_fill_range(area, NPAGES, 1, true);
	ksmt_mergeable(area, NPAGES);

	for (p = 0; p < ARRAY_SIZE(phases); p++)
		ksft_test_result(run_phase(&phases[p], ksmt_now() + PHASE_S),
				 "%s\n", phases[p].what);

	for (i = 0; i < nr_files; i++) {
		struct file *f = &files[i];

		ksft_test_result(f->writes && !f->bad,
				 "%s: %ld writes, %ld accepted, %ld refused, %ld wrong%s\n",
				 f->name, f->writes, f->accepted, f->refused, f->bad,
				 f->unknown ? " (no model: refusals only)" : "");
	}
	if (!ksmt_check_range(area, NPAGES, 1, true))
		ksft_exit_fail_msg("the merged pages' contents changed\n");
	ksft_finished();
}
