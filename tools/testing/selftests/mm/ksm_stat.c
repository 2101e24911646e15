// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/PID/ksm_stat: the four counters of 6.12 come first, followed by
 * "ksm_merge_any: yes|no" (prctl(PR_SET_MEMORY_MERGE) is in force) and
 * "ksm_mergeable: yes|no" (some area of the process is mergeable right
 * now), as printed by newer kernels.
 */
#include <sys/prctl.h>
#include <linux/prctl.h>

#include "ksm_test_util.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#endif

static const char * const stat_keys[] = {
	"ksm_rmap_items",
	"ksm_zero_pages",
	"ksm_merging_pages",
	"ksm_process_profit",
	"ksm_merge_any",
	"ksm_mergeable",
};

#define NR_KEYS	(sizeof(stat_keys) / sizeof(*stat_keys))

/* Value of "key: yes|no" in the ksm_stat of pid: 1, 0, or -1 if absent. */
static int stat_flag(pid_t pid, const char *key)
{
	char path[64], buf[4096], *p;
	size_t klen = strlen(key);

	snprintf(path, sizeof(path), "/proc/%d/ksm_stat", (int)pid);
	if (ksmt_read_path(path, buf, sizeof(buf)) <= 0)
		return -1;
	for (p = buf; p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, key, klen) || strncmp(p + klen, ": ", 2))
			continue;
		if (!strncmp(p + klen + 2, "yes\n", 4))
			return 1;
		if (!strncmp(p + klen + 2, "no\n", 3))
			return 0;
		return -1;
	}
	return -1;
}

/* Every line in the expected order, nothing else. */
static bool stat_layout(pid_t pid)
{
	char path[64], buf[4096], *p = buf;
	unsigned int i;

	snprintf(path, sizeof(path), "/proc/%d/ksm_stat", (int)pid);
	if (ksmt_read_path(path, buf, sizeof(buf)) <= 0)
		return false;
	for (i = 0; i < NR_KEYS; i++) {
		size_t klen = strlen(stat_keys[i]);

		if (strncmp(p, stat_keys[i], klen) ||
		    (p[klen] != ' ' && p[klen] != ':')) {
			ksft_print_msg("line %u: want %s, got \"%.40s\"\n",
				       i + 1, stat_keys[i], p);
			return false;
		}
		p = strchr(p, '\n');
		if (!p)
			return false;
		p++;
	}
	return *p == '\0';
}

enum { MODE_NONE, MODE_MADVISE, MODE_MADVISE_OFF, MODE_PRCTL, MODE_PRCTL_OFF };

static char stat_fn(char cmd, void *arg)
{
	int mode = *(int *)arg;
	char *p;

	if (cmd != 's')
		return 'n';
	p = ksmt_map(4);
	ksmt_fill_range(p, 4, 0x57a7, false);
	switch (mode) {
	case MODE_MADVISE:
		ksmt_mergeable(p, 4);
		break;
	case MODE_MADVISE_OFF:
		ksmt_mergeable(p, 4);
		if (madvise(p, 4 * ksmt_page_size, MADV_UNMERGEABLE))
			return 'n';
		break;
	case MODE_PRCTL:
		if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0))
			return 'n';
		break;
	case MODE_PRCTL_OFF:
		if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) ||
		    prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0))
			return 'n';
		break;
	}
	return 'y';
}

static void check_mode(int mode, const char *what, int want_any,
		       int want_mergeable)
{
	struct ksmt_worker w;
	int any, mergeable;
	bool ok;

	ksmt_worker_start(&w, stat_fn, &mode);
	any = stat_flag(w.pid, "ksm_merge_any");
	mergeable = stat_flag(w.pid, "ksm_mergeable");
	ksmt_worker_stop(&w);
	ok = any == want_any && mergeable == want_mergeable;
	if (!ok)
		ksft_print_msg("%s: ksm_merge_any %d ksm_mergeable %d, want %d %d\n",
			       what, any, mergeable, want_any, want_mergeable);
	ksft_test_result(ok, "%s\n", what);
}

int main(void)
{
	ksmt_start();
	ksft_set_plan(6);

	if (access("/proc/self/ksm_stat", R_OK))
		ksft_exit_skip("no /proc/self/ksm_stat\n");
	/* 6.12 prints the four counters only */
	if (stat_flag(getpid(), "ksm_merge_any") < 0 ||
	    stat_flag(getpid(), "ksm_mergeable") < 0) {
		const char *why = "no ksm_merge_any/ksm_mergeable in ksm_stat";
		unsigned int i;

		for (i = 0; i < 6; i++)
			ksft_test_result_skip("%s\n", why);
		ksft_finished();
	}

	ksft_test_result(stat_layout(getpid()), "layout: 6.12 counters, then the two flags\n");
	check_mode(MODE_NONE, "no KSM: merge_any no, mergeable no", 0, 0);
	check_mode(MODE_MADVISE, "MADV_MERGEABLE: merge_any no, mergeable yes", 0, 1);
	check_mode(MODE_PRCTL, "PR_SET_MEMORY_MERGE: merge_any yes, mergeable yes", 1, 1);
	/* registered still, but with no mergeable area left */
	check_mode(MODE_MADVISE_OFF,
		   "MADV_UNMERGEABLE after MADV_MERGEABLE: mergeable no", 0, 0);
	check_mode(MODE_PRCTL_OFF,
		   "PR_SET_MEMORY_MERGE off again: merge_any no, mergeable no", 0, 0);
	ksft_finished();
}
