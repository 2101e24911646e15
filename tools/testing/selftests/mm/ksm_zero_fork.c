// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_zero_pages across fork: a child inherits its parent's KSM zero page
 * mappings, and must account exactly those it was given, even while the
 * parent's threads break and ksmd remakes such mappings during the fork.
 * Once everything is unmerged and the children are gone, the global
 * counter must be back to zero.
 */
#include <pthread.h>

#include "ksm_test_util.h"

#define NR_ZERO		512
#define NR_FORKS	500

static char *area;
static bool stop;

static void cleanup(void)
{
	ksmt_restore();
}

/* Break KSM zero pages by writing zeros over them: ksmd merges them again. */
static void *breaker(void *arg)
{
	unsigned int seed = 1;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		size_t i = rand_r(&seed) % NR_ZERO;

		area[i * ksmt_page_size] = 0;
	}
	return NULL;
}

int main(void)
{
	pthread_t thread;
	long global, own;
	int i, forks = 0;
	pid_t pid;
	bool ok;

	ksmt_start();
	ksft_set_plan(1);
	ksmt_take_over(cleanup);
	ksmt_setup();
	ksmt_set("use_zero_pages", 1);

	area = ksmt_map(NR_ZERO);
	memset(area, 0, NR_ZERO * ksmt_page_size);
	ksmt_mergeable(area, NR_ZERO);
	ksmt_set("run", 1);
	if (!ksmt_wait_counter("ksm_zero_pages", NR_ZERO))
		ksft_exit_fail_msg("zero pages not merged\n");

	if (pthread_create(&thread, NULL, breaker, NULL))
		ksft_exit_fail_msg("pthread_create failed\n");
	for (i = 0; i < NR_FORKS; i++) {
		pid = fork();
		if (!pid)
			_exit(0);
		if (pid > 0 && waitpid(pid, NULL, 0) == pid)
			forks++;
	}
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	pthread_join(thread, NULL);

	ok = !ksmt_stop_unmerge();
	global = ksmt_get("ksm_zero_pages");
	own = ksmt_proc_field(getpid(), "ksm_stat", "ksm_zero_pages");
	ksft_print_msg("%d forks; after run=2: ksm_zero_pages %ld, this process %ld\n",
		       forks, global, own);
	ok = ok && forks == NR_FORKS && global == 0 && own == 0;
	for (i = 0; i < NR_ZERO && ok; i++)
		ok = !area[i * ksmt_page_size];
	ksft_test_result(ok, "ksm_zero_pages returns to 0 after a fork storm\n");
	cleanup();
	ksft_finished();
}
