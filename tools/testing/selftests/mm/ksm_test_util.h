/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small helpers shared by the ksm_*.c selftests: KSM sysfs access,
 * saving and restoring the tunables, waiting for ksmd, /proc parsing.
 *
 * Everything is static and prefixed ksmt_ so that the tests link cleanly
 * with or without vm_util.c.
 */
#ifndef __KSM_TEST_UTIL_H
#define __KSM_TEST_UTIL_H

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/swap.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <numa.h>
#include <numaif.h>

#include "../kselftest.h"

#define KSMT_DIR	"/sys/kernel/mm/ksm/"
/* Bound for any wait on ksmd: the guest is slow (TCG, debug kernel). */
#define KSMT_TIMEOUT_S	120

static size_t ksmt_page_size;

static inline void ksmt_init(void)
{
	ksmt_page_size = sysconf(_SC_PAGESIZE);
	/* keep TAP lines in order with the children's and kernel's output */
	setvbuf(stdout, NULL, _IOLBF, 0);
}

/* Start a test program: TAP header, then skip unless KSM and root. */
static inline void ksmt_start(void)
{
	ksmt_init();
	ksft_print_header();
	if (access(KSMT_DIR "run", F_OK))
		ksft_exit_skip("no " KSMT_DIR " (CONFIG_KSM off)\n");
	if (geteuid())
		ksft_exit_skip("needs root\n");
}

/* Read a whole file into buf (NUL-terminated); -errno on failure. */
static inline int ksmt_read_path(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	buf[n] = '\0';
	return n;
}

/* Write str in a single write(2); 0 or -errno as the kernel returned it. */
static inline int ksmt_write_path(const char *path, const char *str)
{
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, str, strlen(str));
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	return n == (ssize_t)strlen(str) ? 0 : -EIO;
}

static inline int ksmt_read_str(const char *name, char *buf, size_t len)
{
	char path[256];
	int n;

	snprintf(path, sizeof(path), KSMT_DIR "%s", name);
	n = ksmt_read_path(path, buf, len);
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return n;
}

static inline int ksmt_write(const char *name, const char *str)
{
	char path[256];

	snprintf(path, sizeof(path), KSMT_DIR "%s", name);
	return ksmt_write_path(path, str);
}

static inline int ksmt_write_ul(const char *name, unsigned long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lu", val);
	return ksmt_write(name, buf);
}

/* A KSM counter; the test cannot go on without it. */
static inline long ksmt_get(const char *name)
{
	char buf[64];

	if (ksmt_read_str(name, buf, sizeof(buf)) <= 0)
		ksft_exit_fail_msg("cannot read " KSMT_DIR "%s\n", name);
	return strtol(buf, NULL, 10);
}

static inline void ksmt_set(const char *name, unsigned long val)
{
	int ret = ksmt_write_ul(name, val);

	if (ret)
		ksft_exit_fail_msg("writing %lu to " KSMT_DIR "%s: %s\n",
				   val, name, strerror(-ret));
}

/* The tunables, in the order they are restored. */
static const char * const ksmt_tunables[] = {
	"merge_across_nodes",
	"max_page_sharing",
	"use_zero_pages",
	"sleep_millisecs",
	"stable_node_chains_prune_millisecs",
	"smart_scan",
	"advisor_max_cpu",
	"advisor_min_pages_to_scan",
	"advisor_max_pages_to_scan",
	"advisor_target_scan_time",
	"pages_to_scan",
	"advisor_mode",
};

#define KSMT_NR_TUNABLES (sizeof(ksmt_tunables) / sizeof(*ksmt_tunables))

static char ksmt_saved[KSMT_NR_TUNABLES][64];
static char ksmt_saved_run[16];
static bool ksmt_have_saved;

static inline void ksmt_save(void)
{
	unsigned int i;

	for (i = 0; i < KSMT_NR_TUNABLES; i++) {
		char *s = ksmt_saved[i];

		if (ksmt_read_str(ksmt_tunables[i], s, sizeof(ksmt_saved[i])) <= 0)
			ksft_exit_fail_msg("cannot read %s\n", ksmt_tunables[i]);
		/* advisor_mode reads "[none] scan-time": keep the selection */
		if (!strcmp(ksmt_tunables[i], "advisor_mode"))
			snprintf(s, sizeof(ksmt_saved[i]), "%s",
				 strstr(s, "[scan-time]") ? "scan-time" : "none");
	}
	if (ksmt_read_str("run", ksmt_saved_run, sizeof(ksmt_saved_run)) <= 0)
		ksft_exit_fail_msg("cannot read run\n");
	ksmt_have_saved = true;
}

/* Unmerge everything and stop ksmd; 0 on success. */
static inline int ksmt_stop_unmerge(void)
{
	int ret = ksmt_write("run", "2");

	return ksmt_write("run", "0") ?: ret;
}

/*
 * Leave KSM as found: unmerged (tunables such as max_page_sharing can
 * only change while nothing is shared), then the saved values.
 */
static inline void ksmt_restore(void)
{
	unsigned int i;

	if (!ksmt_have_saved)
		return;
	ksmt_stop_unmerge();
	/* pages_to_scan is writable only without an advisor */
	ksmt_write("advisor_mode", "none");
	for (i = 0; i < KSMT_NR_TUNABLES; i++)
		if (ksmt_write(ksmt_tunables[i], ksmt_saved[i]))
			ksft_print_msg("could not restore %s to %s\n",
				       ksmt_tunables[i], ksmt_saved[i]);
	if (strcmp(ksmt_saved_run, "2"))
		ksmt_write("run", ksmt_saved_run);
}

/* Settings that let ksmd converge on small layouts quickly. */
static inline void ksmt_fast_scan(void)
{
	ksmt_set("sleep_millisecs", 0);
	ksmt_set("pages_to_scan", 1000);
}

static void (*ksmt_cleanup_fn)(void);

static inline void ksmt_on_signal(int sig)
{
	ksmt_cleanup_fn();
	_exit(KSFT_FAIL);
}

/*
 * Save the tunables and stop KSM with everything unmerged; @cleanup puts
 * things back however the test ends: exit, SIGINT or SIGTERM.
 */
static inline void ksmt_take_over(void (*cleanup)(void))
{
	ksmt_save();
	ksmt_cleanup_fn = cleanup;
	atexit(cleanup);
	signal(SIGINT, ksmt_on_signal);
	signal(SIGTERM, ksmt_on_signal);
	if (ksmt_stop_unmerge())
		ksft_exit_fail_msg("cannot stop KSM\n");
}

/*
 * The usual start of a test: tunables saved (ksmt_restore() puts them
 * back), nothing merged, fast scanning, no KSM zero pages, and the
 * default max_page_sharing.
 */
static inline void ksmt_setup(void)
{
	ksmt_save();
	ksmt_stop_unmerge();
	ksmt_fast_scan();
	ksmt_set("use_zero_pages", 0);
	ksmt_set("max_page_sharing", 256);
}

static inline double ksmt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait until full_scans advanced by nr; false on timeout. */
static inline bool ksmt_wait_scans(int nr)
{
	long start = ksmt_get("full_scans");
	double end = ksmt_now() + KSMT_TIMEOUT_S;

	while (ksmt_get("full_scans") < start + nr) {
		if (ksmt_now() > end)
			return false;
		usleep(10000);
	}
	return true;
}

/*
 * Wait until pages_shared and pages_sharing hold the given values over two
 * complete scans (a pass that started before the layout changed does not
 * count); negative values are not checked. False on timeout.
 */
static inline bool ksmt_wait_merged(long shared, long sharing)
{
	double end = ksmt_now() + KSMT_TIMEOUT_S;
	long seen = -1;

	for (;;) {
		long sh = ksmt_get("pages_shared");
		long sg = ksmt_get("pages_sharing");
		long scans = ksmt_get("full_scans");

		if ((shared < 0 || sh == shared) &&
		    (sharing < 0 || sg == sharing)) {
			if (seen < 0)
				seen = scans;
			else if (scans >= seen + 2)
				return true;
		} else {
			seen = -1;
		}
		if (ksmt_now() > end) {
			ksft_print_msg("timeout: shared %ld sharing %ld, want %ld %ld\n",
				       sh, sg, shared, sharing);
			ksft_print_msg("timeout after %ld full scans\n", scans);
			return false;
		}
		usleep(10000);
	}
}

/* pages_shared and pages_sharing are these, or say what they are. */
static inline bool ksmt_counters_are(long shared, long sharing)
{
	long sh = ksmt_get("pages_shared"), sg = ksmt_get("pages_sharing");

	if (sh == shared && sg == sharing)
		return true;
	ksft_print_msg("pages_shared %ld pages_sharing %ld, want %ld %ld\n",
		       sh, sg, shared, sharing);
	return false;
}

/* Merge, then stop ksmd so that it neither holds nor re-merges pages. */
static inline bool ksmt_merge_and_stop(long shared, long sharing)
{
	bool ok;

	ksmt_set("run", 1);
	ok = ksmt_wait_merged(shared, sharing);
	ksmt_set("run", 0);
	return ok;
}

/* Wait until a counter reads val; false on timeout. */
static inline bool ksmt_wait_counter(const char *name, long val)
{
	double end = ksmt_now() + KSMT_TIMEOUT_S;

	while (ksmt_get(name) != val) {
		if (ksmt_now() > end) {
			ksft_print_msg("timeout: %s %ld, want %ld\n", name,
				       ksmt_get(name), val);
			return false;
		}
		usleep(10000);
	}
	return true;
}

/* Value of "key <n>" in a /proc file such as ksm_stat or smaps_rollup. */
static inline long ksmt_proc_field(pid_t pid, const char *file, const char *key)
{
	char path[64], buf[4096], *p;
	size_t klen = strlen(key);

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	if (ksmt_read_path(path, buf, sizeof(buf)) <= 0)
		return -1;
	for (p = buf; p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (!strncmp(p, key, klen) && (p[klen] == ' ' || p[klen] == ':'))
			return strtol(p + klen + 1, NULL, 10);
	}
	return -1;
}

static inline long ksmt_merging_pages(pid_t pid)
{
	char path[64], buf[64];

	snprintf(path, sizeof(path), "/proc/%d/ksm_merging_pages", (int)pid);
	if (ksmt_read_path(path, buf, sizeof(buf)) <= 0)
		return -1;
	return strtol(buf, NULL, 10);
}

/* Anonymous private memory without THP, so KSM sees small pages. */
static inline char *ksmt_map(size_t npages)
{
	char *p = mmap(NULL, npages * ksmt_page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	madvise(p, npages * ksmt_page_size, MADV_NOHUGEPAGE);
	return p;
}

static inline void ksmt_mergeable(char *p, size_t npages)
{
	if (madvise(p, npages * ksmt_page_size, MADV_MERGEABLE))
		ksft_exit_fail_msg("MADV_MERGEABLE: %s\n", strerror(errno));
}

/*
 * Page contents: a 64-bit word pattern from (tag, index), so that every
 * (tag, index) pair gives a distinct, non-zero page.
 */
static inline uint64_t ksmt_word(uint64_t tag, uint64_t idx, size_t w)
{
	uint64_t x = (tag << 40) ^ (idx << 20) ^ w ^ 0x5a5a5a5a00000000ULL;

	x ^= x >> 31;
	x *= 0x9e3779b97f4a7c15ULL;
	return x ^ (x >> 29) ^ 1;
}

static inline void ksmt_fill(char *page, uint64_t tag, uint64_t idx)
{
	uint64_t *q = (uint64_t *)page;
	size_t w;

	for (w = 0; w < ksmt_page_size / 8; w++)
		q[w] = ksmt_word(tag, idx, w);
}

static inline bool ksmt_check(const char *page, uint64_t tag, uint64_t idx)
{
	const uint64_t *q = (const uint64_t *)page;
	size_t w;

	for (w = 0; w < ksmt_page_size / 8; w++)
		if (q[w] != ksmt_word(tag, idx, w))
			return false;
	return true;
}

/* n pages; same_idx: all alike (index 0), else page i gets index i */
static inline void ksmt_fill_range(char *p, size_t n, uint64_t tag, bool same_idx)
{
	size_t i;

	for (i = 0; i < n; i++)
		ksmt_fill(p + i * ksmt_page_size, tag, same_idx ? 0 : i);
}

static inline bool ksmt_check_range(const char *p, size_t n, uint64_t tag,
				    bool same_idx)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!ksmt_check(p + i * ksmt_page_size, tag, same_idx ? 0 : i))
			return false;
	return true;
}

/* Entry of /proc/PID/pagemap (0: self) for addr; 0 on failure. */
static inline uint64_t ksmt_pagemap_pid(pid_t pid, const void *addr)
{
	uint64_t ent = 0;
	char path[64];
	int fd;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/pagemap");
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	if (pread(fd, &ent, sizeof(ent),
		  (uintptr_t)addr / ksmt_page_size * sizeof(ent)) != sizeof(ent))
		ent = 0;
	close(fd);
	return ent;
}

static inline uint64_t ksmt_pagemap(const void *addr)
{
	return ksmt_pagemap_pid(0, addr);
}

#define KSMT_PM_PFN_MASK	((1ULL << 55) - 1)
#define KSMT_PM_SWAP		0x4000000000000000ULL	/* bit 62 */
#define KSMT_PM_PRESENT		0x8000000000000000ULL	/* bit 63 */

/* Page frame of a present page, 0 if not present. */
static inline uint64_t ksmt_pfn(pid_t pid, const void *addr)
{
	uint64_t ent = ksmt_pagemap_pid(pid, addr);

	return ent & KSMT_PM_PRESENT ? ent & KSMT_PM_PFN_MASK : 0;
}

/* Two NUMA nodes to migrate between? */
static inline bool ksmt_have_two_nodes(void)
{
	return numa_available() >= 0 && numa_max_node() >= 1;
}

/* Are all n pages of pid's range p on node want? -1: tell where they are. */
static inline int ksmt_range_node(pid_t pid, char *p, int n)
{
	void *pages[n];
	int status[n], i;

	for (i = 0; i < n; i++)
		pages[i] = p + i * ksmt_page_size;
	if (move_pages(pid, n, pages, NULL, status, 0)) {
		ksft_print_msg("move_pages query: %s\n", strerror(errno));
		return -1;
	}
	for (i = 1; i < n; i++)
		if (status[i] != status[0]) {
			ksft_print_msg("pid %d page %d on node %d, page 0 on %d\n",
				       pid, i, status[i], status[0]);
			return -1;
		}
	return status[0];
}

/*
 * Migrate the n pages of pid's range p to node; MPOL_MF_MOVE_ALL since
 * KSM pages are mapped several times.  Checks every page got there.
 */
static inline bool ksmt_migrate(pid_t pid, char *p, int n, int node)
{
	int nodes[n], status[n], i;
	void *pages[n];
	long ret;

	for (i = 0; i < n; i++) {
		pages[i] = p + i * ksmt_page_size;
		nodes[i] = node;
	}
	ret = move_pages(pid, n, pages, nodes, status, MPOL_MF_MOVE_ALL);
	if (ret) {
		ksft_print_msg("move_pages to node %d: %ld (%s)\n", node, ret,
			       ret < 0 ? strerror(errno) : "pages not moved");
		return false;
	}
	for (i = 0; i < n; i++)
		if (status[i] != node) {
			ksft_print_msg("page %d: status %d, want node %d\n", i,
				       status[i], node);
			return false;
		}
	return ksmt_range_node(pid, p, n) == node;
}

/* A forked process holding a layout, driven over a pair of pipes. */
struct ksmt_worker {
	pid_t pid;
	int cmd;	/* parent -> child */
	int reply;	/* child -> parent */
};

/* Handles one command (first 's' for setup); returns 'y' on success. */
typedef char (*ksmt_worker_fn)(char cmd, void *arg);

static inline void ksmt_worker_start(struct ksmt_worker *w, ksmt_worker_fn fn,
				     void *arg)
{
	int to_child[2], to_parent[2];
	char c = 's';

	if (pipe(to_child) || pipe(to_parent))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	fflush(stdout);
	w->pid = fork();
	if (w->pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!w->pid) {
		close(to_child[1]);
		close(to_parent[0]);
		/* 'q' ends it: the pipe may never see EOF, other workers hold it */
		do {
			c = fn(c, arg);
			if (write(to_parent[1], &c, 1) != 1)
				_exit(1);
		} while (read(to_child[0], &c, 1) == 1 && c != 'q');
		_exit(0);
	}
	close(to_child[0]);
	close(to_parent[1]);
	w->cmd = to_child[1];
	w->reply = to_parent[0];
	if (read(w->reply, &c, 1) != 1 || c != 'y')
		ksft_exit_fail_msg("worker setup failed\n");
}

/* Send a command; true if the worker answered 'y'. */
static inline bool ksmt_worker_do(struct ksmt_worker *w, char cmd)
{
	char c = 0;

	if (write(w->cmd, &cmd, 1) != 1 || read(w->reply, &c, 1) != 1)
		return false;
	return c == 'y';
}

static inline void ksmt_worker_stop(struct ksmt_worker *w)
{
	char c = 'q';

	if (write(w->cmd, &c, 1) != 1)
		kill(w->pid, SIGKILL);
	close(w->cmd);
	close(w->reply);
	waitpid(w->pid, NULL, 0);
}

/*
 * A worker's mergeable area, for ksmt_area_fn(): @npages pages of (@tag,
 * index) contents, or all of (@tag, 0) with @same.  In MAP_SHARED memory,
 * the parent sees where the worker mapped it.
 */
struct ksmt_area {
	size_t npages;
	uint64_t tag;
	bool same;
	size_t nwrite;		/* 'w' rewrites the first nwrite with tag + 1 */
	size_t written;		/* pages rewritten so far */
	char *p;		/* in the worker */
};

static inline bool ksmt_area_intact(const struct ksmt_area *a)
{
	size_t i;

	for (i = 0; i < a->npages; i++)
		if (!ksmt_check(a->p + i * ksmt_page_size,
				i < a->written ? a->tag + 1 : a->tag,
				a->same ? 0 : i))
			return false;
	return true;
}

/*
 * Commands of a worker holding a struct ksmt_area: 's' maps, fills and
 * madvises it mergeable, 'w' rewrites its first nwrite pages, 'c' checks
 * its contents.
 */
static inline char ksmt_area_fn(char cmd, void *arg)
{
	struct ksmt_area *a = arg;

	switch (cmd) {
	case 's':
		a->p = ksmt_map(a->npages);
		ksmt_fill_range(a->p, a->npages, a->tag, a->same);
		a->written = 0;
		ksmt_mergeable(a->p, a->npages);
		return 'y';
	case 'w':	/* then check what was written */
		ksmt_fill_range(a->p, a->nwrite, a->tag + 1, a->same);
		a->written = a->nwrite;
		return ksmt_area_intact(a) ? 'y' : 'n';
	case 'c':
		return ksmt_area_intact(a) ? 'y' : 'n';
	}
	return 'n';
}

static inline char ksmt_ticker_fn(char cmd, void *arg)
{
	char *p;

	if (cmd != 's')
		return 'n';
	p = ksmt_map(1);
	ksmt_fill(p, 0xfffff, getpid());
	ksmt_mergeable(p, 1);
	return 'y';
}

/*
 * ksmd drops an mm with no mergeable area left and stops counting
 * full_scans once no mm is registered; a process with one unique
 * mergeable page keeps the scans going while a test waits on them.
 */
static inline void ksmt_ticker_start(struct ksmt_worker *w)
{
	ksmt_worker_start(w, ksmt_ticker_fn, NULL);
}

/*
 * Minor faults of a task so far (/proc/PID/stat); -1 if it is gone.  The
 * unsharing faults that run=2 or madvise make on behalf of other mms are
 * counted to the task making them.
 */
static inline long ksmt_minflt(pid_t pid)
{
	char path[64], buf[1024], *p;
	long val = -1;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (ksmt_read_path(path, buf, sizeof(buf)) <= 0)
		return -1;
	p = strrchr(buf, ')');
	/* minflt is the 10th field, the 8th after the command name */
	for (i = 0; p && i < 8; i++)
		p = strchr(p + 1, ' ');
	if (p)
		val = strtol(p + 1, NULL, 10);
	return val;
}

/* A cgroup v2 directory under /sys/fs/cgroup with the memory controller. */
#define KSMT_CGROOT	"/sys/fs/cgroup"

static inline bool ksmt_cgroup_make(const char *name)
{
	char path[256];

	if (ksmt_write_path(KSMT_CGROOT "/cgroup.subtree_control", "+memory"))
		return false;
	snprintf(path, sizeof(path), KSMT_CGROOT "/%s", name);
	return !mkdir(path, 0755) || errno == EEXIST;
}

/* Move pid into cgroup name; true on success. */
static inline bool ksmt_cgroup_enter(const char *name, pid_t pid)
{
	char path[256], buf[32];

	snprintf(path, sizeof(path), KSMT_CGROOT "/%s/cgroup.procs", name);
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	return !ksmt_write_path(path, buf);
}

static inline void ksmt_cgroup_remove(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), KSMT_CGROOT "/%s", name);
	rmdir(path);
}

/* Flags of a page frame in /proc/kpageflags; 0 on failure. */
#define KSMT_KPF_SWAPCACHE	14
#define KSMT_KPF_ANON		12
#define KSMT_KPF_KSM		21

static inline uint64_t ksmt_kpageflags(uint64_t pfn)
{
	uint64_t flags = 0;
	int fd = open("/proc/kpageflags", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &flags, sizeof(flags), pfn * sizeof(flags)) != sizeof(flags))
		flags = 0;
	close(fd);
	return flags;
}

/*
 * Swap on a zram device, for tests that page KSM pages out: a version 1
 * swap header is written by hand, so no mkswap is needed.
 */
#define KSMT_ZRAM_SYS	"/sys/block/zram0/"
#define KSMT_ZRAM_DEV	"/dev/zram0"

static bool ksmt_zram_swap_on;

static inline int ksmt_write_swap_header(const char *dev, unsigned long pages)
{
	uint32_t *info;
	char *hdr;
	int fd, ret = -1;

	hdr = calloc(1, ksmt_page_size);
	if (!hdr)
		return -1;
	/* version, last_page, nr_badpages follow 1024 bytes of boot block */
	info = (uint32_t *)(hdr + 1024);
	info[0] = 1;
	info[1] = pages - 1;
	memcpy(hdr + ksmt_page_size - 10, "SWAPSPACE2", 10);
	fd = open(dev, O_WRONLY | O_SYNC);
	if (fd >= 0) {
		if (pwrite(fd, hdr, ksmt_page_size, 0) == (ssize_t)ksmt_page_size)
			ret = fsync(fd);
		close(fd);
	}
	free(hdr);
	return ret;
}

/*
 * Swap on zram0 of @mb MiB.  1: enabled; 0: no zram0, or swap or zram0
 * already in use (the caller decides whether to go on); -1: error.
 */
static inline int ksmt_zram_swapon(unsigned int mb)
{
	unsigned int maj, min;
	struct stat st;
	char buf[512];

	if (access(KSMT_ZRAM_SYS "disksize", F_OK))
		return 0;
	if (ksmt_read_path("/proc/swaps", buf, sizeof(buf)) > 0 &&
	    strchr(buf, '\n') && strchr(buf, '\n')[1])
		return 0;
	if (ksmt_read_path(KSMT_ZRAM_SYS "disksize", buf, sizeof(buf)) <= 0)
		return -1;
	if (atol(buf))
		return 0;
	snprintf(buf, sizeof(buf), "%lu", (unsigned long)mb << 20);
	if (ksmt_write_path(KSMT_ZRAM_SYS "disksize", buf))
		return -1;
	/* busybox may have no device node yet */
	if (stat(KSMT_ZRAM_DEV, &st) &&
	    (ksmt_read_path(KSMT_ZRAM_SYS "dev", buf, sizeof(buf)) <= 0 ||
	     sscanf(buf, "%u:%u", &maj, &min) != 2 ||
	     mknod(KSMT_ZRAM_DEV, S_IFBLK | 0600, makedev(maj, min))))
		return -1;
	if (ksmt_write_swap_header(KSMT_ZRAM_DEV,
				   ((unsigned long)mb << 20) / ksmt_page_size) ||
	    swapon(KSMT_ZRAM_DEV, 0))
		return -1;
	ksmt_zram_swap_on = true;
	return 1;
}

static inline void ksmt_zram_swapoff(void)
{
	if (!ksmt_zram_swap_on)
		return;
	if (swapoff(KSMT_ZRAM_DEV))
		ksft_print_msg("swapoff: %s\n", strerror(errno));
	ksmt_write_path(KSMT_ZRAM_SYS "reset", "1");
	ksmt_zram_swap_on = false;
}

/* pid of the ksmd kthread, -1 if there is none. */
static inline pid_t ksmt_ksmd_pid(void)
{
	char path[300], comm[32];
	struct dirent *de;
	pid_t pid = -1;
	DIR *d;

	d = opendir("/proc");
	if (!d)
		return -1;
	while (pid < 0 && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		if (ksmt_read_path(path, comm, sizeof(comm)) > 0 &&
		    !strcmp(comm, "ksmd\n"))
			pid = atoi(de->d_name);
	}
	closedir(d);
	return pid;
}

/*
 * Objects in use in slab cache @name, exact: the cache is shrunk first,
 * which flushes the per-CPU slabs and KASAN's quarantine.  -1 if the
 * cache is missing or merged with others (then its count means nothing:
 * boot with slab_nomerge).
 */
static inline long ksmt_slab_objects(const char *name)
{
	char path[128], buf[256];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/kernel/slab/%s", name);
	if (lstat(path, &st) || !S_ISDIR(st.st_mode))
		return -1;
	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", name);
	ksmt_write_path(path, "1");
	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/objects", name);
	if (ksmt_read_path(path, buf, sizeof(buf)) <= 0)
		return -1;
	return strtol(buf, NULL, 10);
}

/* Fault injection through debugfs: @inj is "failslab" or "fail_page_alloc". */
#define KSMT_FAULT_DIR	"/sys/kernel/debug/"

static inline int ksmt_fault_write(const char *inj, const char *attr,
				   const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), KSMT_FAULT_DIR "%s/%s", inj, attr);
	return ksmt_write_path(path, val);
}

static inline long ksmt_fault_read(const char *inj, const char *attr)
{
	char path[128], buf[64];

	snprintf(path, sizeof(path), KSMT_FAULT_DIR "%s/%s", inj, attr);
	if (ksmt_read_path(path, buf, sizeof(buf)) <= 0)
		return LONG_MIN;
	return strtol(buf, NULL, 10);
}

/*
 * Set an injector's make-it-fail flag of task @tid (0: the calling
 * thread) through an fd opened once, since opening a /proc file may
 * itself fail while the flag is set.
 */
static inline int ksmt_make_it_fail_open(pid_t tid)
{
	char path[64];

	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/make-it-fail", (int)tid);
	else
		snprintf(path, sizeof(path), "/proc/thread-self/make-it-fail");
	return open(path, O_WRONLY);
}

static inline bool ksmt_make_it_fail(int fd, bool on)
{
	return fd >= 0 && pwrite(fd, on ? "1" : "0", 1, 0) == 1;
}

#endif /* __KSM_TEST_UTIL_H */
