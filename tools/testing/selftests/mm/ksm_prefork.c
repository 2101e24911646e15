// SPDX-License-Identifier: GPL-2.0
/*
 * A page shared by fork among more processes than GUP_PIN_COUNTING_BIAS
 * (1024), as in a prefork server: its reference count alone looks like a
 * DMA pin, yet it is not pinned and must merge like any other page.
 */
#include "ksm_test_util.h"

#define NR_FORKS	1100

static void cleanup(void)
{
	ksmt_restore();
}

int main(void)
{
	static pid_t kids[NR_FORKS];
	int i, nr = 0;
	char *p, *twin;
	bool ok;

	ksmt_start();
	ksft_set_plan(1);
	ksmt_take_over(cleanup);
	ksmt_setup();

	p = ksmt_map(1);
	ksmt_fill(p, 0x9f, 0);
	ksmt_mergeable(p, 1);
	fflush(stdout);
	for (i = 0; i < NR_FORKS; i++) {
		kids[i] = fork();
		if (kids[i] < 0)
			break;
		if (!kids[i]) {
			pause();
			_exit(0);
		}
		nr++;
	}
	/* the same contents in a page of this process's own */
	twin = ksmt_map(1);
	ksmt_fill(twin, 0x9f, 0);
	ksmt_mergeable(twin, 1);

	ksmt_set("run", 1);
	ok = nr == NR_FORKS && ksmt_wait_scans(4);
	ksft_print_msg("%d processes share the page; pages_shared %ld pages_sharing %ld\n",
		       nr + 1, ksmt_get("pages_shared"), ksmt_get("pages_sharing"));
	ok = ok && ksmt_get("pages_sharing") > 0 && ksmt_check(p, 0x9f, 0) &&
	     ksmt_check(twin, 0x9f, 0);
	ksft_test_result(ok, "a page mapped by %d processes merges\n", NR_FORKS + 1);

	for (i = 0; i < nr; i++)
		kill(kids[i], SIGKILL);
	for (i = 0; i < nr; i++)
		waitpid(kids[i], NULL, 0);
	cleanup();
	ksft_finished();
}
