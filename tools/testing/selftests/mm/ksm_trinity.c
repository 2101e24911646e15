// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile input: the trinity syscall fuzzer, restricted to the calls that
 * reach KSM (madvise, process_madvise, prctl, mremap, mprotect, munmap and
 * mmap), on memory that ksmd merges while it runs.  Trinity's process and
 * its children are merge-any: the test sets PR_SET_MEMORY_MERGE before it
 * executes trinity, and the flag survives exec and fork.  Trinity's own
 * random madvise advice (MADV_MERGEABLE and MADV_UNMERGEABLE among it)
 * and prctl options change that under ksmd; fork is exercised by trinity
 * itself, which forks a new child for every one that dies (fork is one of
 * the calls that trinity refuses to fuzz).
 *
 * Trinity cannot reach the test or the rest of the guest: besides the
 * seven calls it runs as nobody (uid and gid 65534, no supplementary
 * groups; started so, it needs neither --dangerous nor its experimental
 * --dropprivs), so that it cannot signal root's processes, write
 * /sys/kernel/mm/ksm or /proc/sysrq-trigger, reboot, or poison pages with
 * MADV_HWPOISON; in a session of its own, in a working directory of its
 * own, and in a memory cgroup of its own when the guest has one, with the
 * highest oom_score_adj, so that the OOM killer picks among its processes.
 * After DURATION seconds it gets SIGINT, as from a ctrl-c, and what is
 * left of it is killed.  Should trinity stop getting anywhere, forking
 * child after child while none runs a syscall (more than 4 live processes
 * per child), it is stopped the same way and started again with the next
 * seed, for the rest of the time.  Where its processes are (states, wait
 * channels, a few kernel stacks) is printed whenever it is stopped.
 *
 * Fails if trinity ended by itself or ran no syscall at all, if KSM did
 * not merge its memory meanwhile, if any KSM tunable changed under it, if
 * a process of it survived, and if the counters are not zero after run=2
 * once it is gone; the harness judges the kernel log (any splat fails).
 *
 * Usage: ksm_trinity [-d SECS] [-C CHILDREN] [-s SEED] [-n]
 * -d defaults to $KSM_TRINITY_SECS, else 75 seconds; -n leaves ksmd
 * stopped, a control run that tells trinity's own troubles from KSM's.  Trinity is the host's
 * (a Debian package), copied into the guest with its libraries by
 * tools/testing/ksm/run-vm.sh -d; without it the test is skipped.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <poll.h>
#include <sys/prctl.h>

#include "ksm_test_util.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#endif

#define TRINITY		"/usr/bin/trinity"
#define NOBODY		65534
#define WORKDIR		"/tmp/ksm_trinity"
#define CGROUP		"/sys/fs/cgroup/ksm_trinity"
/* all of trinity together, far from the 4 GiB of the guest */
#define MEMORY_MAX	"1G"
/* SIGINT to the end of trinity's summary, under TCG with a debug kernel */
#define GRACE_S		60
/* more processes than this many per child: trinity lost track of them */
#define WEDGED		4
/* trinity takes about 10 s to start under TCG */
#define MIN_ROUND_S	20

static const char * const syscalls_fuzzed[] = {
	"madvise", "process_madvise", "prctl", "mremap", "mprotect",
	"munmap", "mmap",
};

/* The tunables, which trinity must not be able to change. */
static const char * const tunables[] = {
	"run", "sleep_millisecs", "pages_to_scan", "use_zero_pages",
	"merge_across_nodes", "max_page_sharing", "smart_scan",
	"advisor_mode", "stable_node_chains_prune_millisecs",
};

#define NR_TUNABLES	(sizeof(tunables) / sizeof(*tunables))

static pid_t trinity;
static bool have_cgroup;

static void cgroup_write(const char *file, const char *val)
{
	char path[128];
	int ret;

	snprintf(path, sizeof(path), CGROUP "/%s", file);
	ret = ksmt_write_path(path, val);
	if (ret)
		ksft_print_msg("%s <- %s: %s\n", path, val, strerror(-ret));
}

/* A memory cgroup for trinity, if the guest has cgroup2 with memcg. */
static void cgroup_setup(void)
{
	if (ksmt_write_path("/sys/fs/cgroup/cgroup.subtree_control", "+memory")) {
		ksft_print_msg("no memory cgroup: trinity runs without a limit\n");
		return;
	}
	if (mkdir(CGROUP, 0755) && errno != EEXIST) {
		ksft_print_msg("mkdir " CGROUP ": %s\n", strerror(errno));
		return;
	}
	have_cgroup = true;
	cgroup_write("memory.max", MEMORY_MAX);
}

/*
 * Processes of uid nobody, that is of trinity, zombies included or not;
 * -1 on error.
 */
static int count_nobody(bool zombies)
{
	char path[300], buf[512], *p;
	struct dirent *d;
	struct stat st;
	int n = 0;
	DIR *dir;

	dir = opendir("/proc");
	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s", d->d_name);
		if (stat(path, &st) || st.st_uid != NOBODY)
			continue;
		if (!zombies) {
			snprintf(path, sizeof(path), "/proc/%s/stat", d->d_name);
			if (ksmt_read_path(path, buf, sizeof(buf)) <= 0)
				continue;
			p = strrchr(buf, ')');
			if (!p || !p[1] || p[2] == 'Z')
				continue;
		}
		n++;
	}
	closedir(dir);
	return n;
}

static void print_stack(pid_t pid)
{
	char path[64], buf[4096], *line, *save;

	snprintf(path, sizeof(path), "/proc/%d/stack", (int)pid);
	if (ksmt_read_path(path, buf, sizeof(buf)) <= 0)
		return;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		ksft_print_msg("    %s\n", line);
}

/*
 * Where trinity's processes are: how many in each state, their commonest
 * wait channels, and the kernel stacks of a few that are blocked or not
 * trinity's main process.
 */
static void survey(void)
{
	struct { char name[48]; int n; } wchan[16];
	int nr_wchan = 0, states[128] = { 0 }, total = 0, shown = 0, i;
	char path[300], buf[512], *p;
	struct dirent *d;
	struct stat st;
	DIR *dir;

	dir = opendir("/proc");
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		pid_t pid = strtol(d->d_name, NULL, 10);
		char state;

		snprintf(path, sizeof(path), "/proc/%s", d->d_name);
		if (pid <= 0 || stat(path, &st) || st.st_uid != NOBODY)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		if (ksmt_read_path(path, buf, sizeof(buf)) <= 0)
			continue;
		p = strrchr(buf, ')');
		if (!p || !p[1] || !p[2])
			continue;
		state = p[2];
		total++;
		states[state & 127]++;
		snprintf(path, sizeof(path), "/proc/%d/wchan", (int)pid);
		if (ksmt_read_path(path, buf, sizeof(buf)) <= 0)
			snprintf(buf, sizeof(buf), "?");
		for (i = 0; i < nr_wchan; i++)
			if (!strncmp(wchan[i].name, buf, sizeof(wchan[i].name) - 1))
				break;
		if (i == nr_wchan && nr_wchan < 16) {
			snprintf(wchan[i].name, sizeof(wchan[i].name), "%.47s", buf);
			wchan[i].n = 0;
			nr_wchan++;
		}
		if (i < nr_wchan)
			wchan[i].n++;
		if (pid != trinity && state != 'Z' && (state == 'D' || shown < 2) &&
		    shown < 4) {
			shown++;
			ksft_print_msg("  pid %d state %c wchan %s, kernel stack:\n",
				       (int)pid, state, buf);
			print_stack(pid);
		}
	}
	closedir(dir);
	ksft_print_msg("%d processes of trinity: R %d, S %d, D %d, Z %d, T %d\n",
		       total, states['R'], states['S'], states['D'], states['Z'],
		       states['T'] + states['t']);
	for (i = 0; i < nr_wchan; i++)
		ksft_print_msg("  %d waiting in %s\n", wchan[i].n, wchan[i].name);
}

/*
 * Kill whatever is left of trinity: the cgroup at once, and every process
 * that nobody may signal, from a child that is nobody itself.
 */
static void kill_trinity(void)
{
	pid_t pid;

	if (have_cgroup)
		ksmt_write_path(CGROUP "/cgroup.kill", "1");
	pid = fork();
	if (pid == 0) {
		if (setgid(NOBODY) || setuid(NOBODY))
			_exit(1);
		kill(-1, SIGKILL);
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

/* Reap every child, trinity's orphans included (we are their subreaper). */
static void reap_all(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/*
 * Kill and reap trinity's processes until none is left; how many are left
 * after a while (they may be stuck in the kernel), or -1.
 */
static int end_trinity(void)
{
	double end = ksmt_now() + GRACE_S;
	int left;

	do {
		kill_trinity();
		reap_all();
		left = count_nobody(true);
		if (left <= 0)
			break;
		usleep(100000);
	} while (ksmt_now() < end);
	trinity = 0;
	return left;
}

/* Trinity's test files, then its working directory. */
static void remove_workdir(void)
{
	char path[PATH_MAX];
	struct dirent *d;
	DIR *dir;

	dir = opendir(WORKDIR);
	if (dir) {
		while ((d = readdir(dir))) {
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				continue;
			snprintf(path, sizeof(path), WORKDIR "/%s", d->d_name);
			unlink(path);
		}
		closedir(dir);
	}
	if (rmdir(WORKDIR))
		ksft_print_msg("rmdir " WORKDIR ": %s\n", strerror(errno));
}

static void cleanup(void)
{
	if (trinity > 0)
		end_trinity();
	ksmt_restore();
}

/* Forks since boot, from /proc/stat. */
static long forks(void)
{
	char buf[8192], *p;

	if (ksmt_read_path("/proc/stat", buf, sizeof(buf)) <= 0)
		return -1;
	p = strstr(buf, "\nprocesses ");
	return p ? strtol(p + 11, NULL, 10) : -1;
}

/* Start trinity as nobody, its output on the pipe returned. */
static int start(long children, unsigned int seed)
{
	char nchildren[24], seedarg[16], pid[24];
	const char *argv[64];
	unsigned int i, n = 0;
	int fds[2];

	if (pipe(fds))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	snprintf(nchildren, sizeof(nchildren), "%ld", children);
	snprintf(seedarg, sizeof(seedarg), "%u", seed);
	argv[n++] = "trinity";
	argv[n++] = "-q";
	/* no log files: the working directory is a tmpfs */
	argv[n++] = "-l";
	argv[n++] = "off";
	/* no IA32 emulation in the guest's kernels */
	argv[n++] = "-a";
	argv[n++] = "64";
	argv[n++] = "-C";
	argv[n++] = nchildren;
	argv[n++] = "-s";
	argv[n++] = seedarg;
	/* files and memfds to map; sockets and perf only slow its start */
	argv[n++] = "--disable-fds=sockets,perf,drm";
	for (i = 0; i < sizeof(syscalls_fuzzed) / sizeof(*syscalls_fuzzed); i++) {
		argv[n++] = "-c";
		argv[n++] = syscalls_fuzzed[i];
	}
	argv[n] = NULL;

	fflush(stdout);
	trinity = fork();
	if (trinity < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (trinity) {
		close(fds[1]);
		return fds[0];
	}

	dup2(fds[1], 1);
	dup2(fds[1], 2);
	close(fds[0]);
	close(fds[1]);
	setsid();
	if (have_cgroup) {
		/* not in nchildren: argv still points there */
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		cgroup_write("cgroup.procs", pid);
	}
	/* the OOM killer takes trinity first, wherever the pressure comes from */
	ksmt_write_path("/proc/self/oom_score_adj", "1000");
	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0)) {
		printf("PR_SET_MEMORY_MERGE: %s\n", strerror(errno));
		_exit(126);
	}
	if (chdir(WORKDIR) || setgroups(0, NULL) || setgid(NOBODY) ||
	    setuid(NOBODY)) {
		printf("becoming nobody in " WORKDIR ": %s\n", strerror(errno));
		_exit(126);
	}
	execv(TRINITY, (char **)argv);
	printf("exec " TRINITY ": %s\n", strerror(errno));
	_exit(127);
}

struct output {
	char line[512];
	size_t len;
	long syscalls, ok, failed;
	long iterations;
	bool bailed;
};

static void parse_line(struct output *o)
{
	const char *p;

	o->line[o->len] = '\0';
	ksft_print_msg("%s\n", o->line);
	p = strstr(o->line, "Ran ");
	if (p)
		sscanf(p, "Ran %ld syscalls. Successes: %ld  Failures: %ld",
		       &o->syscalls, &o->ok, &o->failed);
	p = strstr(o->line, " iterations.");
	if (p) {
		while (p > o->line && p[-1] >= '0' && p[-1] <= '9')
			p--;
		o->iterations = strtol(p, NULL, 10);
	}
	/* any reason but our SIGINT */
	if (strstr(o->line, "Bailing main loop") && !strstr(o->line, "ctrl-c") &&
	    !strstr(o->line, "SIGINT"))
		o->bailed = true;
	o->len = 0;
}

/* Read what trinity printed, for up to ms milliseconds; false at EOF. */
static bool read_output(int fd, struct output *o, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char buf[1024];
	ssize_t n, i;

	if (poll(&pfd, 1, ms) <= 0)
		return true;
	n = read(fd, buf, sizeof(buf));
	if (n <= 0)
		return false;
	for (i = 0; i < n; i++) {
		if (buf[i] == '\n' || o->len == sizeof(o->line) - 1)
			parse_line(o);
		if (buf[i] != '\n' && buf[i] != '\r')
			o->line[o->len++] = buf[i];
	}
	return true;
}

static void read_tunables(char val[][64])
{
	unsigned int i;

	for (i = 0; i < NR_TUNABLES; i++)
		if (ksmt_read_str(tunables[i], val[i], 64) <= 0)
			snprintf(val[i], 64, "(unreadable)");
}

static long max_sharing, max_zero;

static void sample(void)
{
	long v = ksmt_get("pages_sharing");

	if (v > max_sharing)
		max_sharing = v;
	v = ksmt_get("ksm_zero_pages");
	if (v > max_zero)
		max_zero = v;
}

/*
 * One run of trinity until end, or until it has wedged itself: forking
 * child after child that sleeps waiting for it.  Then it is stopped, to
 * be started again with the next seed.  False if it ended by itself, for
 * any reason but the SIGINT that stops it.
 */
static bool run_round(long children, unsigned int seed, double end,
		      struct output *out, bool *wedged)
{
	double killed_at = 0, next_count = 0;
	int fd, status = 0;
	bool eof = false;

	memset(out, 0, sizeof(*out));
	out->syscalls = -1;
	*wedged = false;
	fd = start(children, seed);
	ksft_print_msg("trinity (pid %d), seed %u\n", (int)trinity, seed);
	while (!eof || waitpid(trinity, &status, WNOHANG) == 0) {
		double now = ksmt_now();

		if (!killed_at && now >= next_count) {
			next_count = now + 2;
			int alive = count_nobody(false);

			if (alive > WEDGED * children) {
				ksft_print_msg("trinity has wedged itself: %d processes\n",
					       alive);
				*wedged = true;
			}
		}
		if (!killed_at && (now >= end || *wedged)) {
			survey();
			kill(trinity, SIGINT);
			killed_at = now;
		}
		if (killed_at && now > killed_at + GRACE_S) {
			ksft_print_msg("trinity still running %d s after SIGINT: killed\n",
				       GRACE_S);
			kill_trinity();
			waitpid(trinity, &status, 0);
			break;
		}
		if (!eof)
			eof = !read_output(fd, out, 200);
		else
			usleep(200000);
		sample();
	}
	close(fd);
	ksft_print_msg("trinity %s (%s %d)\n", killed_at ? "stopped" : "ended by itself",
		       WIFEXITED(status) ? "exit status" : "signal",
		       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	/* what is left of it, and its orphans, gone */
	end_trinity();
	if (out->syscalls < 0)
		out->syscalls = out->iterations;
	if (*wedged)
		return true;
	return killed_at && !out->bailed;
}

int main(int argc, char **argv)
{
	long secs = 75, children = 4, scans, forks0, nforks;
	long syscalls = 0, nok = 0, nfailed = 0;
	char before[NR_TUNABLES][64], after[NR_TUNABLES][64];
	int opt, left, rounds = 0, wedges = 0;
	bool ok, clean = true, control = false, wedged;
	double start_t, end, ran;
	struct output out;
	unsigned int seed, i;

	seed = time(NULL) ^ getpid();
	if (getenv("KSM_TRINITY_SECS"))
		secs = strtol(getenv("KSM_TRINITY_SECS"), NULL, 10);
	while ((opt = getopt(argc, argv, "d:C:s:n")) != -1) {
		switch (opt) {
		case 'd':
			secs = strtol(optarg, NULL, 10);
			break;
		case 'C':
			children = strtol(optarg, NULL, 10);
			break;
		case 's':
			seed = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			control = true;
			break;
		default:
			fprintf(stderr, "usage: %s [-d SECS] [-C CHILDREN] [-s SEED] [-n]\n",
				argv[0]);
			return KSFT_FAIL;
		}
	}
	if (secs <= 0 || children <= 0)
		ksft_exit_fail_msg("-d and -C take positive numbers\n");

	ksmt_start();
	if (access(TRINITY, X_OK))
		ksft_exit_skip("no " TRINITY " in the guest (make check copies the host's)\n");
	ksft_print_msg("seed %u (ksm_trinity -s %u replays it, as far as timing allows)\n",
		       seed, seed);
	ksft_set_plan(6);
	ksmt_take_over(cleanup);
	ksmt_setup();
	ksmt_set("use_zero_pages", 1);
	if (!control)
		ksmt_set("run", 1);
	/* trinity's orphans come to us, to be reaped and counted */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	if (mkdir(WORKDIR, 0755) && errno != EEXIST)
		ksft_exit_fail_msg("mkdir " WORKDIR ": %s\n", strerror(errno));
	if (chown(WORKDIR, NOBODY, NOBODY))
		ksft_exit_fail_msg("chown " WORKDIR ": %s\n", strerror(errno));
	cgroup_setup();
	read_tunables(before);
	scans = ksmt_get("full_scans");
	forks0 = forks();

	start_t = ksmt_now();
	end = start_t + secs;
	ksft_print_msg("trinity as nobody for %ld s: %ld children, syscalls", secs, children);
	for (i = 0; i < sizeof(syscalls_fuzzed) / sizeof(*syscalls_fuzzed); i++)
		printf(" %s", syscalls_fuzzed[i]);
	printf("\n");
	/* a round started with less than MIN_ROUND_S left would not get going */
	do {
		clean &= run_round(children, seed + rounds, end, &out, &wedged);
		rounds++;
		wedges += wedged;
		syscalls += out.syscalls > 0 ? out.syscalls : 0;
		nok += out.ok;
		nfailed += out.failed;
	} while (clean && ksmt_now() + MIN_ROUND_S < end);
	ran = ksmt_now() - start_t;
	nforks = forks() - forks0;
	read_tunables(after);
	left = count_nobody(true);
	if (have_cgroup && rmdir(CGROUP))
		ksft_print_msg("rmdir " CGROUP ": %s\n", strerror(errno));

	ksft_print_msg("syscalls: %ld succeeded, %ld failed; %d rounds, %d wedged\n",
		       nok, nfailed, rounds, wedges);
	ok = clean && syscalls > 0;
	ksft_test_result(ok, "trinity ran %.0f s: %ld syscalls, %ld forks\n",
			 ran, syscalls, nforks);

	ksft_print_msg("while it ran: %ld full scans, pages_sharing up to %ld\n",
		       ksmt_get("full_scans") - scans, max_sharing);
	ksft_print_msg("ksm_zero_pages up to %ld\n", max_zero);
	if (control)
		ksft_test_result_skip("KSM merged trinity's memory: ksmd stopped (-n)\n");
	else
		ksft_test_result(max_sharing > 0 || max_zero > 0,
				 "KSM merged trinity's memory\n");

	ok = true;
	for (i = 0; i < NR_TUNABLES; i++) {
		if (strcmp(before[i], after[i])) {
			ksft_print_msg("%s: %s before, %s after\n", tunables[i],
				       before[i], after[i]);
			ok = false;
		}
	}
	ksft_test_result(ok, "KSM tunables untouched by trinity\n");

	if (left)
		ksft_print_msg("%d processes of nobody left\n", left);
	ksft_test_result(left == 0, "no process of trinity outlived it\n");

	/* every process is gone: run=2 leaves nothing counted */
	ok = !ksmt_write("run", "2");
	ok = ok && ksmt_get("pages_shared") == 0 && ksmt_get("pages_sharing") == 0 &&
	     ksmt_get("pages_unshared") == 0;
	if (!ok)
		ksft_print_msg("run=2: pages_shared %ld pages_sharing %ld pages_unshared %ld\n",
			       ksmt_get("pages_shared"), ksmt_get("pages_sharing"),
			       ksmt_get("pages_unshared"));
	ksft_test_result(ok, "pages_shared, pages_sharing, pages_unshared 0 after run=2\n");
	if (ksmt_get("ksm_zero_pages"))
		ksft_print_msg("run=2: ksm_zero_pages %ld\n", ksmt_get("ksm_zero_pages"));
	ksft_test_result(ksmt_get("ksm_zero_pages") == 0, "ksm_zero_pages 0 after run=2\n");
	remove_workdir();
	ksft_finished();
}
