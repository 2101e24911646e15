// SPDX-License-Identifier: GPL-2.0
/*
 * ksm-demo: what "make run" shows.  Several processes, like the guests of
 * a KVM host, each map memory with partly identical contents (a shared
 * "image", zero pages, and private data), mark it MADV_MERGEABLE, and
 * ksmd is started.  ksmstat (tools/mm/ksmstat.c, next to this program)
 * shows the KSM counters once a second until they stop moving; then the
 * memory saved and ksmstat's table of the processes are printed, and
 * every process checks that what it reads is what it wrote.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KSM "/sys/kernel/mm/ksm/"

static long page_size;
static unsigned long nr_procs = 4, mib_per_proc = 32;

static long read_knob(const char *name)
{
	char path[128], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), KSM "%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static int write_knob(const char *name, long val)
{
	char path[128], buf[32];
	int fd, len, ret;

	snprintf(path, sizeof(path), KSM "%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	len = snprintf(buf, sizeof(buf), "%ld", val);
	ret = write(fd, buf, len) == len ? 0 : -1;
	close(fd);
	return ret;
}

/* Page i of process p: image pages equal across processes, then zero pages, then private. */
static void fill_page(uint64_t *page, unsigned long i, unsigned long nr, unsigned long p)
{
	unsigned long words = page_size / sizeof(*page), w;
	uint64_t seed;

	if (i < nr / 2)
		seed = 0x9e3779b97f4a7c15ULL * (i + 1);
	else if (i < nr / 2 + nr / 4)
		seed = 0;
	else
		seed = (0xc2b2ae3d27d4eb4fULL * (i + 1)) ^ ((p + 1) << 48);
	for (w = 0; w < words; w++)
		page[w] = seed ? seed ^ (w * 0xff51afd7ed558ccdULL) : 0;
}

static int guest(unsigned long p, int ready_fd, int go_fd)
{
	unsigned long nr = (mib_per_proc << 20) / page_size, i;
	uint64_t *expect = malloc(page_size);
	char *mem;
	char c = 1;

	mem = mmap(NULL, nr * page_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || !expect)
		return 2;
	for (i = 0; i < nr; i++)
		fill_page((uint64_t *)(mem + i * page_size), i, nr, p);
	if (madvise(mem, nr * page_size, MADV_MERGEABLE))
		return 3;
	if (write(ready_fd, &c, 1) != 1 || read(go_fd, &c, 1) != 1)
		return 4;
	for (i = 0; i < nr; i++) {
		fill_page(expect, i, nr, p);
		if (memcmp(expect, mem + i * page_size, page_size))
			return 1;
	}
	return 0;
}

/* Start ksmstat from our own directory with args; its pid, or -1. */
static pid_t ksmstat(char *const args[])
{
	char path[4096], *argv[8] = { path };
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 16);
	pid_t pid;
	int i;

	if (n <= 0)
		return -1;
	path[n] = '\0';
	snprintf(strrchr(path, '/') + 1, 16, "ksmstat");
	for (i = 0; args[i] && i < 6; i++)
		argv[i + 1] = args[i];
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execv(path, argv);
		fprintf(stderr, "ksm-demo: cannot run %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	return pid;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int ready[2], go[2], status, bad = 0, stable = 0;
	long sharing, zero, last = -1, scans0;
	pid_t live, table;
	unsigned long p, total_mib;
	double start;
	char c;

	page_size = sysconf(_SC_PAGESIZE);
	if (argc > 1)
		nr_procs = strtoul(argv[1], NULL, 0);
	if (argc > 2)
		mib_per_proc = strtoul(argv[2], NULL, 0);
	total_mib = nr_procs * mib_per_proc;
	if (pipe(ready) || pipe(go))
		return 1;

	printf("ksm-demo: %lu processes x %lu MiB: 50%% identical image, 25%% zero, 25%% private\n",
	       nr_procs, mib_per_proc);
	for (p = 0; p < nr_procs; p++) {
		if (fork() == 0)
			_exit(guest(p, ready[1], go[0]));
	}
	for (p = 0; p < nr_procs; p++)
		if (read(ready[0], &c, 1) != 1)
			return 1;

	write_knob("run", 0);
	write_knob("use_zero_pages", 1);
	write_knob("pages_to_scan", 2000);
	write_knob("sleep_millisecs", 10);
	if (write_knob("run", 1)) {
		perror("ksm-demo: cannot start ksmd");
		return 1;
	}
	printf("ksmd started (pages_to_scan=2000 sleep_millisecs=10 use_zero_pages=1)\n");
	scans0 = read_knob("full_scans");
	start = now();
	live = ksmstat((char *[]){ "1", NULL });
	for (;;) {
		sharing = read_knob("pages_sharing");
		zero = read_knob("ksm_zero_pages");
		if (read_knob("full_scans") >= scans0 + 2 && sharing + zero == last) {
			if (++stable == 3)
				break;
		} else {
			stable = 0;
		}
		last = sharing + zero;
		if (now() - start > 600) {
			printf("ksm-demo: no convergence after 600 s\n");
			break;
		}
		usleep(500000);
	}
	if (live > 0) {
		kill(live, SIGTERM);
		waitpid(live, NULL, 0);
	}
	printf("converged: %ld MiB of %lu MiB saved (%ld%%): %ld pages back to the system\n",
	       (sharing + zero) * page_size >> 20, total_mib,
	       (sharing + zero) * page_size * 100 / (long)(total_mib << 20), sharing + zero);
	table = ksmstat((char *[]){ "-p", NULL });
	if (table > 0)
		waitpid(table, NULL, 0);

	for (p = 0; p < nr_procs; p++)
		if (write(go[1], &c, 1) != 1)
			return 1;
	while (wait(&status) > 0)
		bad += !WIFEXITED(status) || WEXITSTATUS(status);
	printf("%s: every process reads back exactly what it wrote\n",
	       bad ? "FAILED" : "ok");
	write_knob("run", 2);
	write_knob("run", 0);
	return bad ? 1 : 0;
}
