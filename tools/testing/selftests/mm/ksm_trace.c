// SPDX-License-Identifier: GPL-2.0
/*
 * The KSM tracepoints of include/trace/events/ksm.h, enabled through
 * tracefs: each has its fields and fires when it should.  A process
 * registers (ksm_enter) pages that ksmd merges (ksm_start_scan,
 * ksm_stop_scan, ksm_merge_with_ksm_page), zero-filled ones into the zero
 * page (ksm_merge_one_page: 6.12 traces only that use of it), under the
 * scan-time advisor (ksm_advisor); unmerging everything drops the KSM
 * page and its sharers (ksm_remove_ksm_page, ksm_remove_rmap_item); the
 * process exits (ksm_exit).
 */
#include "ksm_test_util.h"

#define TRACEFS		"/sys/kernel/tracing/"
#define NPAGES		32
#define NZERO		8
#define TAG		0x7ace

struct ksm_event {
	const char *name;
	const char *fields[6];
};

static const struct ksm_event events[] = {
	{ "ksm_start_scan", { "int seq", "u32 rmap_entries" } },
	{ "ksm_stop_scan", { "int seq", "u32 rmap_entries" } },
	{ "ksm_enter", { "void * mm" } },
	{ "ksm_exit", { "void * mm" } },
	{ "ksm_merge_one_page",
	  { "unsigned long pfn", "void * rmap_item", "void * mm", "int err" } },
	{ "ksm_merge_with_ksm_page",
	  { "void * ksm_page", "unsigned long pfn", "void * rmap_item",
	    "void * mm", "int err" } },
	{ "ksm_remove_ksm_page", { "unsigned long pfn" } },
	{ "ksm_remove_rmap_item",
	  { "unsigned long pfn", "void * rmap_item", "void * mm" } },
	{ "ksm_advisor",
	  { "s64 scan_time", "unsigned long pages_to_scan",
	    "unsigned int cpu_percent" } },
};

#define NR_EVENTS	(sizeof(events) / sizeof(*events))

static bool tracing_armed;

static void cleanup(void)
{
	if (tracing_armed) {
		ksmt_write_path(TRACEFS "events/ksm/enable", "0");
		tracing_armed = false;
	}
	ksmt_restore();
}

static char *read_all(const char *path)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0 || !buf)
		ksft_exit_fail_msg("%s: %s\n", path, strerror(errno));
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += n;
		if (cap - len < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				ksft_exit_fail_msg("out of memory\n");
		}
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

static bool check_format(const struct ksm_event *ev)
{
	char path[256], want[128];
	bool ok = true;
	char *fmt;
	int i;

	snprintf(path, sizeof(path), TRACEFS "events/ksm/%s/format", ev->name);
	if (access(path, R_OK)) {
		ksft_print_msg("no %s\n", path);
		return false;
	}
	fmt = read_all(path);
	for (i = 0; ev->fields[i]; i++) {
		snprintf(want, sizeof(want), "field:%s;", ev->fields[i]);
		if (!strstr(fmt, want)) {
			ksft_print_msg("%s: no \"%s\"\n", ev->name, want);
			ok = false;
		}
	}
	free(fmt);
	return ok;
}

static char dup_fn(char cmd, void *arg)
{
	static char *p;

	if (cmd != 's')
		return 'n';
	p = ksmt_map(NPAGES + NZERO);
	ksmt_fill_range(p, NPAGES, TAG, true);
	/* zero-filled pages, for use_zero_pages */
	memset(p + NPAGES * ksmt_page_size, 0, NZERO * ksmt_page_size);
	ksmt_mergeable(p, NPAGES + NZERO);
	return 'y';
}

int main(void)
{
	struct ksmt_worker w;
	unsigned int i;
	bool ok;
	char *trace;

	ksmt_start();
	ksft_set_plan(NR_EVENTS + 1);

	if (access(TRACEFS "events/ksm/enable", W_OK))
		ksft_exit_skip("no " TRACEFS "events/ksm\n");

	ksmt_take_over(cleanup);

	ok = true;
	for (i = 0; i < NR_EVENTS; i++)
		ok &= check_format(&events[i]);
	ksft_test_result(ok, "the nine events with the fields of 6.12\n");

	/* Empty the buffer, then record the KSM events only. */
	if (ksmt_write_path(TRACEFS "tracing_on", "1"))
		ksft_exit_fail_msg("cannot turn tracing on\n");
	close(open(TRACEFS "trace", O_WRONLY | O_TRUNC));
	if (ksmt_write_path(TRACEFS "events/ksm/enable", "1"))
		ksft_exit_fail_msg("cannot enable the ksm events\n");
	tracing_armed = true;

	ksmt_set("smart_scan", 0);
	ksmt_set("use_zero_pages", 1);
	ksmt_set("sleep_millisecs", 20);
	ksmt_set("advisor_target_scan_time", 1);
	if (ksmt_write("advisor_mode", "scan-time"))
		ksft_exit_fail_msg("cannot enter scan-time mode\n");

	ksmt_worker_start(&w, dup_fn, NULL);
	ksmt_set("run", 1);
	if (!ksmt_wait_merged(1, NPAGES - 1) ||
	    !ksmt_wait_counter("ksm_zero_pages", NZERO))
		ksft_print_msg("the duplicate or zero pages did not merge\n");
	/* Unmerging everything removes the KSM page and its sharers. */
	ksmt_stop_unmerge();
	ksmt_worker_stop(&w);

	ksmt_write_path(TRACEFS "events/ksm/enable", "0");
	tracing_armed = false;
	trace = read_all(TRACEFS "trace");
	for (i = 0; i < NR_EVENTS; i++) {
		char want[64];

		snprintf(want, sizeof(want), " %s: ", events[i].name);
		ksft_test_result(!!strstr(trace, want), "%s fires\n",
				 events[i].name);
	}
	free(trace);
	close(open(TRACEFS "trace", O_WRONLY | O_TRUNC));

	cleanup();
	ksft_finished();
}
