// SPDX-License-Identifier: GPL-2.0
/*
 * stress-ng's memory stressors (vm, mmap, mremap, madvise, fork, brk,
 * stack) with their own result checks (--verify) on memory that KSM
 * merges while they run.  Each stressor is a stress-ng of its own, all of
 * them at once, so that each has its verdict: stress-ng's exit status, and
 * bogo ops done (none in the whole run is a stall).  They are started from
 * a PR_SET_MEMORY_MERGE process, so that stress-ng and every process it
 * forks are merge-any (the flag survives exec and fork; the --ksm option
 * of newer stress-ng sets the same, stress-ng 0.15 has none).
 *
 * stress-ng runs as nobody (uid and gid 65534), in a directory of its own:
 * with CAP_SYS_ADMIN the madvise stressor of stress-ng 0.15 poisons pages
 * with MADV_HWPOISON, and the SIGBUS that follows fails it (and leaves
 * poisoned pages behind for the tests after it); unprivileged, the kernel
 * refuses that advice with EPERM and the stressor goes on with all the
 * others, MADV_MERGEABLE and MADV_UNMERGEABLE among them.  Nothing else
 * these stressors do needs root.
 *
 * Fails on any stressor's failure or lack of progress, if nothing was
 * merged while they ran, and if the counters are not zero after run=2
 * once they are gone; the harness judges the kernel log.  A stress-ng
 * that does not end in time has the state, wait channel, syscall and
 * kernel stack of each of its processes printed before it is killed (and
 * -D prints them halfway through the run too).
 *
 * Usage: ksm_stress_ng [-d SECS] [-s STRESSOR,...] [-m BYTES] [-D]
 * -d defaults to 60 seconds; -s runs only the stressors named; -m sets
 * the mmap stressor's --mmap-bytes (4M).
 *
 * stress-ng is a dynamically linked Debian program: make check copies it
 * into the guest with its libraries (tools/testing/ksm/run-vm.sh -d);
 * without it this test is skipped.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include "ksm_test_util.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#endif

#define STRESS_NG	"/usr/bin/stress-ng"
#define NOBODY		65534
#define WORKDIR		"/tmp/ksm_stress_ng"
/* past --timeout: stress-ng's own SIGALRM, SIGKILL and reaping, under TCG */
#define GRACE_S		60
/* brk and mmap grow until refused: stop them long before the OOM killer */
#define DATA_LIMIT	(256UL << 20)

struct stressor {
	const char *name;
	const char *opts[3];
	bool run;
	pid_t pid;
	int fd;
	int status;
	long ops;
	char line[512];
	size_t len;
};

/*
 * Sizes for 2 vCPUs under TCG with a debug kernel: the mmap stressor maps,
 * checks and unmaps --mmap-bytes page by page, and does about one op a
 * minute there with 32M.
 */
static struct stressor stressors[] = {
	{ "vm", { "--vm-bytes", "48M" } },
	{ "mmap", { "--mmap-bytes", "4M" } },
	{ "mremap", { "--mremap-bytes", "32M" } },
	{ "madvise" },
	{ "fork" },
	{ "brk" },
	{ "stack" },
};

#define NR_STRESSORS	(sizeof(stressors) / sizeof(*stressors))

static void kill_all(void)
{
	unsigned int i;

	for (i = 0; i < NR_STRESSORS; i++)
		if (stressors[i].pid > 0)
			kill(-stressors[i].pid, SIGKILL);
}

static void cleanup(void)
{
	kill_all();
	ksmt_restore();
}

static void print_file(pid_t pid, const char *file, const char *prefix)
{
	char path[64], buf[4096], *line, *save;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	if (ksmt_read_path(path, buf, sizeof(buf)) <= 0)
		return;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!prefix || !strncmp(line, prefix, strlen(prefix)))
			ksft_print_msg("  %s: %s\n", file, line);
}

/* Where each process of process group pgid is, in the kernel. */
static void dump_group(pid_t pgid)
{
	char path[64], buf[512], *p;
	struct dirent *d;
	DIR *dir;
	int pgrp;

	dir = opendir("/proc");
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		pid_t pid = strtol(d->d_name, NULL, 10);

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		if (ksmt_read_path(path, buf, sizeof(buf)) <= 0)
			continue;
		/* pid (comm) state ppid pgrp: comm may hold anything but ')' last */
		p = strrchr(buf, ')');
		if (!p || sscanf(p + 2, "%*c %*d %d", &pgrp) != 1 || pgrp != pgid)
			continue;
		*p = '\0';
		ksft_print_msg("%d %s): state %c\n", (int)pid, strchr(buf, '(') ?: buf, p[2]);
		print_file(pid, "wchan", NULL);
		print_file(pid, "syscall", NULL);
		print_file(pid, "stack", NULL);
	}
	closedir(dir);
}

static void start(struct stressor *s, const char *secs)
{
	struct rlimit rl = { DATA_LIMIT, DATA_LIMIT };
	const char *argv[32];
	unsigned int n = 0, i;
	int fds[2];

	argv[n++] = "stress-ng";
	argv[n++] = "--verify";
	argv[n++] = "--timeout";
	argv[n++] = secs;
	argv[n++] = "--metrics-brief";
	argv[n++] = "--oomable";
	argv[n++] = "--temp-path";
	argv[n++] = WORKDIR;
	argv[n] = malloc(strlen(s->name) + 3);
	if (!argv[n])
		ksft_exit_fail_msg("out of memory\n");
	sprintf((char *)argv[n++], "--%s", s->name);
	argv[n++] = "1";
	for (i = 0; i < 3 && s->opts[i]; i++)
		argv[n++] = s->opts[i];
	argv[n] = NULL;

	if (pipe(fds))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	fflush(stdout);
	s->pid = fork();
	if (s->pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (s->pid) {
		close(fds[1]);
		s->fd = fds[0];
		s->ops = -1;
		return;
	}
	dup2(fds[1], 1);
	dup2(fds[1], 2);
	close(fds[0]);
	close(fds[1]);
	setpgid(0, 0);
	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0)) {
		printf("PR_SET_MEMORY_MERGE: %s\n", strerror(errno));
		_exit(126);
	}
	if (setrlimit(RLIMIT_DATA, &rl))
		printf("RLIMIT_DATA: %s\n", strerror(errno));
	if (chdir(WORKDIR) || setgroups(0, NULL) || setgid(NOBODY) ||
	    setuid(NOBODY)) {
		printf("becoming nobody in " WORKDIR ": %s\n", strerror(errno));
		_exit(126);
	}
	execv(STRESS_NG, (char **)argv);
	printf("exec " STRESS_NG ": %s\n", strerror(errno));
	_exit(127);
}

/*
 * "stress-ng: metrc: [pid] NAME OPS ..." gives the stressor's bogo ops;
 * the miscellaneous metrics after it start with the name too.
 */
static void parse_line(struct stressor *s)
{
	char name[32];
	const char *p;
	long ops;

	s->line[s->len] = '\0';
	s->len = 0;
	ksft_print_msg("%s: %s\n", s->name, s->line);
	p = strstr(s->line, "metrc: [");
	p = p ? strchr(p, ']') : NULL;
	if (p && s->ops < 0 && sscanf(p + 1, "%31s %ld", name, &ops) == 2 &&
	    !strcmp(name, s->name))
		s->ops = ops;
}

/* Take what the stressor printed; false at EOF. */
static bool read_output(struct stressor *s)
{
	char buf[1024];
	ssize_t n, i;

	n = read(s->fd, buf, sizeof(buf));
	if (n <= 0)
		return false;
	for (i = 0; i < n; i++) {
		if (buf[i] == '\n' || s->len == sizeof(s->line) - 1)
			parse_line(s);
		if (buf[i] != '\n' && buf[i] != '\r')
			s->line[s->len++] = buf[i];
	}
	return true;
}

static struct stressor *find_stressor(const char *name)
{
	unsigned int i;

	for (i = 0; i < NR_STRESSORS; i++)
		if (!strcmp(stressors[i].name, name))
			return &stressors[i];
	return NULL;
}

static bool select_stressors(char *list)
{
	struct stressor *s;
	char *name;

	for (name = strtok(list, ","); name; name = strtok(NULL, ",")) {
		s = find_stressor(name);
		if (!s)
			return false;
		s->run = true;
	}
	return true;
}

int main(int argc, char **argv)
{
	long secs = 60, sharing, max_sharing = 0, max_zero = 0, scans;
	unsigned int i, nr = 0, running = 0;
	bool ok, dump = false, dumped = false, killed = false;
	struct pollfd pfd[NR_STRESSORS];
	char secs_arg[24];
	double start_t, end;
	int opt;

	for (i = 0; i < NR_STRESSORS; i++)
		stressors[i].run = true;
	while ((opt = getopt(argc, argv, "d:s:m:D")) != -1) {
		switch (opt) {
		case 'd':
			secs = strtol(optarg, NULL, 10);
			break;
		case 's':
			for (i = 0; i < NR_STRESSORS; i++)
				stressors[i].run = false;
			if (!select_stressors(optarg))
				ksft_exit_fail_msg("-s: stressors are %s\n",
						   "vm, mmap, mremap, madvise, fork, brk, stack");
			break;
		case 'm':
			find_stressor("mmap")->opts[1] = optarg;
			break;
		case 'D':
			dump = true;
			break;
		default:
			fprintf(stderr, "usage: %s [-d SECS] [-s STRESSOR,...] [-m BYTES] [-D]\n",
				argv[0]);
			return KSFT_FAIL;
		}
	}
	if (secs <= 0)
		ksft_exit_fail_msg("-d takes a positive number of seconds\n");
	snprintf(secs_arg, sizeof(secs_arg), "%ld", secs);
	for (i = 0; i < NR_STRESSORS; i++)
		nr += stressors[i].run;

	ksmt_start();
	if (access(STRESS_NG, X_OK))
		ksft_exit_skip("no " STRESS_NG " in the guest (make check copies the host's)\n");
	ksft_set_plan(nr + 3);
	ksmt_take_over(cleanup);
	ksmt_setup();
	ksmt_set("use_zero_pages", 1);
	ksmt_set("run", 1);
	if (mkdir(WORKDIR, 0755) && errno != EEXIST)
		ksft_exit_fail_msg("mkdir " WORKDIR ": %s\n", strerror(errno));
	if (chown(WORKDIR, NOBODY, NOBODY))
		ksft_exit_fail_msg("chown " WORKDIR ": %s\n", strerror(errno));
	scans = ksmt_get("full_scans");

	for (i = 0; i < NR_STRESSORS; i++) {
		if (!stressors[i].run)
			continue;
		start(&stressors[i], secs_arg);
		running++;
	}
	start_t = ksmt_now();
	end = start_t + secs + GRACE_S;
	while (running) {
		unsigned int n = 0, idx[NR_STRESSORS];

		for (i = 0; i < NR_STRESSORS; i++) {
			if (!stressors[i].run || stressors[i].fd < 0)
				continue;
			pfd[n].fd = stressors[i].fd;
			pfd[n].events = POLLIN;
			idx[n++] = i;
		}
		if (n && poll(pfd, n, 200) > 0) {
			for (i = 0; i < n; i++) {
				struct stressor *s = &stressors[idx[i]];

				if (pfd[i].revents && !read_output(s)) {
					close(s->fd);
					s->fd = -1;
				}
			}
		} else if (!n) {
			usleep(200000);
		}
		for (i = 0; i < NR_STRESSORS; i++) {
			struct stressor *s = &stressors[i];

			if (s->run && s->pid > 0 && s->fd < 0 &&
			    waitpid(s->pid, &s->status, WNOHANG) == s->pid) {
				s->pid = 0;
				running--;
			}
		}
		if (dump && !dumped && ksmt_now() > start_t + secs / 2) {
			dumped = true;
			for (i = 0; i < NR_STRESSORS; i++) {
				if (stressors[i].pid > 0) {
					ksft_print_msg("%s halfway:\n", stressors[i].name);
					dump_group(stressors[i].pid);
				}
			}
		}
		if (!killed && ksmt_now() > end) {
			killed = true;
			for (i = 0; i < NR_STRESSORS; i++) {
				struct stressor *s = &stressors[i];

				if (s->pid <= 0)
					continue;
				ksft_print_msg("--%s running %d s past --timeout: killed\n",
					       s->name, GRACE_S);
				dump_group(s->pid);
				kill(-s->pid, SIGKILL);
			}
		}
		sharing = ksmt_get("pages_sharing");
		if (sharing > max_sharing)
			max_sharing = sharing;
		sharing = ksmt_get("ksm_zero_pages");
		if (sharing > max_zero)
			max_zero = sharing;
	}

	for (i = 0; i < NR_STRESSORS; i++) {
		struct stressor *s = &stressors[i];
		int st = s->status;

		if (!s->run)
			continue;
		ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && s->ops > 0;
		ksft_test_result(ok, "stress-ng --%s --verify: %ld bogo ops, %s %d\n",
				 s->name, s->ops,
				 WIFEXITED(st) ? "exit status" : "signal",
				 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	}

	ksft_print_msg("while they ran: %ld full scans, pages_sharing up to %ld\n",
		       ksmt_get("full_scans") - scans, max_sharing);
	ksft_print_msg("ksm_zero_pages up to %ld\n", max_zero);
	ksft_test_result(max_sharing > 0 || max_zero > 0,
			 "KSM merged stress-ng's memory\n");

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
	if (rmdir(WORKDIR))
		ksft_print_msg("rmdir " WORKDIR ": %s\n", strerror(errno));
	ksft_finished();
}
