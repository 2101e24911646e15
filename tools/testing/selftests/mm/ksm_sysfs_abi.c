// SPDX-License-Identifier: GPL-2.0
/*
 * The /sys/kernel/mm/ksm interface as of Linux 6.12: every file, the boot
 * defaults, what each tunable accepts, the error each refused write gets,
 * and that a refused write leaves the value alone.
 */
#include "ksm_test_util.h"

static const char * const ro_files[] = {
	"pages_scanned", "pages_shared", "pages_sharing", "pages_unshared",
	"pages_volatile", "pages_skipped", "ksm_zero_pages", "full_scans",
	"stable_node_chains", "stable_node_dups", "general_profit",
};

#define ARRAY_SZ(a) (sizeof(a) / sizeof((a)[0]))

struct dflt {
	const char *name;
	const char *val;
};

/* Defaults of a freshly booted 6.12 kernel. */
static const struct dflt defaults[] = {
	{ "run", "0" },
	{ "pages_to_scan", "100" },
	{ "sleep_millisecs", "20" },
	{ "merge_across_nodes", "1" },
	{ "use_zero_pages", "0" },
	{ "max_page_sharing", "256" },
	{ "stable_node_chains_prune_millisecs", "2000" },
	{ "smart_scan", "1" },
	{ "advisor_mode", "[none] scan-time" },
	{ "advisor_max_cpu", "70" },
	{ "advisor_min_pages_to_scan", "500" },
	{ "advisor_max_pages_to_scan", "30000" },
	{ "advisor_target_scan_time", "200" },
};

struct bad {
	const char *name;
	const char *input;
	int err;
};

/*
 * Refused writes. merge_across_nodes and max_page_sharing hand the
 * number parser's own error back, hence ERANGE on overflow there.
 */
static const struct bad bad_writes[] = {
	{ "run", "3", EINVAL },
	{ "run", "-1", EINVAL },
	{ "run", "abc", EINVAL },
	{ "run", "1x", EINVAL },
	{ "pages_to_scan", "abc", EINVAL },
	{ "pages_to_scan", "-1", EINVAL },
	{ "pages_to_scan", "4294967296", EINVAL },
	{ "sleep_millisecs", "abc", EINVAL },
	{ "sleep_millisecs", "-20", EINVAL },
	{ "sleep_millisecs", "4294967296", EINVAL },
	{ "merge_across_nodes", "2", EINVAL },
	{ "merge_across_nodes", "abc", EINVAL },
	{ "merge_across_nodes", "18446744073709551616", ERANGE },
	{ "use_zero_pages", "2", EINVAL },
	{ "use_zero_pages", "x", EINVAL },
	{ "max_page_sharing", "1", EINVAL },
	{ "max_page_sharing", "0", EINVAL },
	{ "max_page_sharing", "-2", EINVAL },
	{ "max_page_sharing", "abc", EINVAL },
	{ "max_page_sharing", "2147483648", ERANGE },
	{ "stable_node_chains_prune_millisecs", "abc", EINVAL },
	{ "stable_node_chains_prune_millisecs", "-1", EINVAL },
	{ "smart_scan", "2", EINVAL },
	{ "smart_scan", "x", EINVAL },
	{ "advisor_mode", "scan", EINVAL },
	{ "advisor_mode", "fast", EINVAL },
	{ "advisor_max_cpu", "abc", EINVAL },
	{ "advisor_max_cpu", "-1", EINVAL },
	{ "advisor_min_pages_to_scan", "abc", EINVAL },
	{ "advisor_max_pages_to_scan", "-5", EINVAL },
	{ "advisor_target_scan_time", "0", EINVAL },
	{ "advisor_target_scan_time", "abc", EINVAL },
};

struct good {
	const char *name;
	const char *input;
	const char *readback;
};

/* Accepted writes and what reads back afterwards. */
static const struct good good_writes[] = {
	{ "pages_to_scan", "1234\n", "1234" },
	{ "pages_to_scan", "0", "0" },
	{ "pages_to_scan", "4294967295", "4294967295" },
	{ "sleep_millisecs", "0", "0" },
	{ "sleep_millisecs", "4294967295", "4294967295" },
	{ "use_zero_pages", "1", "1" },
	{ "use_zero_pages", "n", "0" },
	{ "use_zero_pages", "on", "1" },
	{ "use_zero_pages", "off", "0" },
	{ "max_page_sharing", "2", "2" },
	{ "max_page_sharing", "1000000", "1000000" },
	{ "stable_node_chains_prune_millisecs", "0", "0" },
	{ "stable_node_chains_prune_millisecs", "77\n", "77" },
	{ "smart_scan", "0", "0" },
	{ "smart_scan", "Y", "1" },
	{ "advisor_max_cpu", "100", "100" },
	{ "advisor_min_pages_to_scan", "1", "1" },
	{ "advisor_max_pages_to_scan", "123456", "123456" },
	{ "advisor_target_scan_time", "1", "1" },
	{ "merge_across_nodes", "1", "1" },
	{ "run", "0\n", "0" },
};

static bool all_files(void)
{
	bool ok = true;
	unsigned int i;
	char buf[64];

	for (i = 0; i < ARRAY_SZ(defaults); i++)
		if (ksmt_read_str(defaults[i].name, buf, sizeof(buf)) <= 0) {
			ksft_print_msg("%s missing\n", defaults[i].name);
			ok = false;
		}
	for (i = 0; i < ARRAY_SZ(ro_files); i++) {
		char *end;

		if (ksmt_read_str(ro_files[i], buf, sizeof(buf)) <= 0) {
			ksft_print_msg("%s missing\n", ro_files[i]);
			ok = false;
			continue;
		}
		strtol(buf, &end, 10);
		if (end == buf || *end) {
			ksft_print_msg("%s: not a number: '%s'\n", ro_files[i], buf);
			ok = false;
		}
	}
	return ok;
}

static bool ro_refused(void)
{
	bool ok = true;
	unsigned int i;
	char before[64], after[64];

	for (i = 0; i < ARRAY_SZ(ro_files); i++) {
		ksmt_read_str(ro_files[i], before, sizeof(before));
		if (!ksmt_write(ro_files[i], "0")) {
			ksft_print_msg("%s accepted a write\n", ro_files[i]);
			ok = false;
		}
		/* ksmd is stopped: nothing else moves these */
		ksmt_read_str(ro_files[i], after, sizeof(after));
		if (strcmp(before, after)) {
			ksft_print_msg("%s changed: %s -> %s\n", ro_files[i],
				       before, after);
			ok = false;
		}
	}
	return ok;
}

/*
 * Boot defaults can only be seen before anything used KSM: when ksmd has
 * never scanned, compare all; otherwise earlier tests may have changed
 * them legitimately and only what the ABI itself resets is checked.
 */
static void test_defaults(void)
{
	bool fresh = ksmt_get("full_scans") == 0 && ksmt_get("pages_scanned") == 0;
	bool ok = true;
	unsigned int i;
	char buf[64];

	if (fresh) {
		for (i = 0; i < ARRAY_SZ(defaults); i++) {
			ksmt_read_str(defaults[i].name, buf, sizeof(buf));
			if (strcmp(buf, defaults[i].val)) {
				ksft_print_msg("%s = '%s', boot default '%s'\n",
					       defaults[i].name, buf, defaults[i].val);
				ok = false;
			}
		}
	} else {
		ksft_print_msg("KSM used since boot: only the defaults the advisor restores\n");
	}

	/* Leaving the scan-time advisor restores the default pages_to_scan. */
	ksmt_set("pages_to_scan", 4321);
	ksmt_set("advisor_min_pages_to_scan", 500);
	if (ksmt_write("advisor_mode", "scan-time")) {
		ksft_print_msg("advisor_mode scan-time refused\n");
		ok = false;
	}
	ksmt_read_str("advisor_mode", buf, sizeof(buf));
	if (strcmp(buf, "none [scan-time]")) {
		ksft_print_msg("advisor_mode reads '%s'\n", buf);
		ok = false;
	}
	if (ksmt_get("pages_to_scan") != 500) {
		ksft_print_msg("scan-time advisor: pages_to_scan %ld, want 500\n",
			       ksmt_get("pages_to_scan"));
		ok = false;
	}
	if (ksmt_write("pages_to_scan", "100") != -EINVAL) {
		ksft_print_msg("pages_to_scan writable under the advisor\n");
		ok = false;
	}
	if (ksmt_write("advisor_mode", "none\n")) {
		ksft_print_msg("advisor_mode none refused\n");
		ok = false;
	}
	ksmt_read_str("advisor_mode", buf, sizeof(buf));
	if (strcmp(buf, "[none] scan-time")) {
		ksft_print_msg("advisor_mode reads '%s'\n", buf);
		ok = false;
	}
	if (ksmt_get("pages_to_scan") != 100) {
		ksft_print_msg("pages_to_scan %ld after advisor none, want 100\n",
			       ksmt_get("pages_to_scan"));
		ok = false;
	}
	ksft_test_result(ok, "defaults\n");
}

static void test_bad_writes(void)
{
	bool ok = true;
	unsigned int i;

	for (i = 0; i < ARRAY_SZ(bad_writes); i++) {
		const struct bad *b = &bad_writes[i];
		char before[64], after[64];
		int ret;

		ksmt_read_str(b->name, before, sizeof(before));
		ret = ksmt_write(b->name, b->input);
		ksmt_read_str(b->name, after, sizeof(after));
		if (ret != -b->err) {
			ksft_print_msg("%s <- '%s': %s, want %s\n", b->name,
				       b->input, ret ? strerror(-ret) : "accepted",
				       strerror(b->err));
			ok = false;
		}
		if (strcmp(before, after)) {
			ksft_print_msg("%s <- '%s' refused but changed '%s' -> '%s'\n",
				       b->name, b->input, before, after);
			ok = false;
		}
	}
	ksft_test_result(ok, "malformed and out-of-range writes refused, values unchanged\n");
}

static void test_good_writes(void)
{
	bool ok = true;
	unsigned int i;
	char buf[64];

	for (i = 0; i < ARRAY_SZ(good_writes); i++) {
		const struct good *g = &good_writes[i];
		int ret = ksmt_write(g->name, g->input);

		ksmt_read_str(g->name, buf, sizeof(buf));
		if (ret || strcmp(buf, g->readback)) {
			ksft_print_msg("%s <- '%s': %s, reads '%s', want '%s'\n",
				       g->name, g->input,
				       ret ? strerror(-ret) : "ok", buf, g->readback);
			ok = false;
		}
	}
	ksft_test_result(ok, "valid writes accepted and read back\n");
	ksmt_restore();
}

/*
 * max_page_sharing and merge_across_nodes can only change while no KSM
 * page exists: merge two pages and check for EBUSY, that writing the
 * current value is still fine, and that after run=2 the change succeeds.
 */
static void test_busy(void)
{
	bool numa = !access(KSMT_DIR "merge_across_nodes", F_OK);
	char mps[32], buf[32];
	bool ok = true;
	char *p;
	int ret;

	ksmt_read_str("max_page_sharing", mps, sizeof(mps));
	ksmt_set("use_zero_pages", 0);
	ksmt_fast_scan();
	p = ksmt_map(2);
	ksmt_fill(p, 1, 0);
	ksmt_fill(p + ksmt_page_size, 1, 0);
	ksmt_mergeable(p, 2);
	ksmt_set("run", 1);
	if (!ksmt_wait_merged(1, 1)) {
		ksft_test_result_fail("busy: two identical pages not merged\n");
		goto out;
	}
	ksmt_set("run", 0);

	snprintf(buf, sizeof(buf), "%ld", atol(mps) + 1);
	ret = ksmt_write("max_page_sharing", buf);
	if (ret != -EBUSY) {
		ksft_print_msg("max_page_sharing change while shared: %s, want EBUSY\n",
			       ret ? strerror(-ret) : "accepted");
		ok = false;
	}
	ksmt_read_str("max_page_sharing", buf, sizeof(buf));
	if (strcmp(buf, mps)) {
		ksft_print_msg("max_page_sharing changed to %s\n", buf);
		ok = false;
	}
	ret = ksmt_write("max_page_sharing", mps);
	if (ret) {
		ksft_print_msg("rewriting max_page_sharing %s while shared: %s\n",
			       mps, strerror(-ret));
		ok = false;
	}
	if (numa) {
		ret = ksmt_write("merge_across_nodes", "0");
		if (ret != -EBUSY) {
			ksft_print_msg("merge_across_nodes=0 while shared: %s, want EBUSY\n",
				       ret ? strerror(-ret) : "accepted");
			ok = false;
		}
		if (ksmt_get("merge_across_nodes") != 1) {
			ksft_print_msg("merge_across_nodes changed\n");
			ok = false;
		}
		ret = ksmt_write("merge_across_nodes", "1");
		if (ret) {
			ksft_print_msg("merge_across_nodes=1 while shared: %s\n",
				       strerror(-ret));
			ok = false;
		}
	}
	if (ksmt_get("pages_shared") != 1 || ksmt_get("pages_sharing") != 1) {
		ksft_print_msg("refused writes changed the merge state\n");
		ok = false;
	}

	/* Unmerged: both may change now. */
	ksmt_set("run", 2);
	if (ksmt_get("pages_shared") || ksmt_get("pages_sharing")) {
		ksft_print_msg("run=2 left pages shared\n");
		ok = false;
	}
	ret = ksmt_write("max_page_sharing", "3");
	if (ret || ksmt_get("max_page_sharing") != 3) {
		ksft_print_msg("max_page_sharing=3 after unmerge: %s\n",
			       ret ? strerror(-ret) : "not applied");
		ok = false;
	}
	if (numa) {
		ret = ksmt_write("merge_across_nodes", "0");
		if (ret || ksmt_get("merge_across_nodes") != 0) {
			ksft_print_msg("merge_across_nodes=0 after unmerge: %s\n",
				       ret ? strerror(-ret) : "not applied");
			ok = false;
		}
	}
	if (!ksmt_check(p, 1, 0) || !ksmt_check(p + ksmt_page_size, 1, 0)) {
		ksft_print_msg("contents changed\n");
		ok = false;
	}
	ksft_test_result(ok, "EBUSY for max_page_sharing/merge_across_nodes while shared\n");
out:
	munmap(p, 2 * ksmt_page_size);
	ksmt_restore();
}

int main(void)
{
	ksmt_start();
	ksft_set_plan(6);

	ksft_test_result(all_files(), "all 6.12 files present, counters numeric\n");
	ksmt_save();
	/* defaults must be looked at before anything here changes them */
	test_defaults();
	ksmt_restore();
	ksmt_stop_unmerge();
	ksft_test_result(ro_refused(), "read-only files refuse writes\n");
	test_bad_writes();
	test_good_writes();
	test_busy();
	ksmt_restore();
	ksft_finished();
}
