// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/kpageflags tells KSM pages apart: KPF_KSM is set on the frame of
 * a merged page and on no other anonymous page.
 */
#include "ksm_test_util.h"

static void cleanup(void)
{
	ksmt_restore();
}

static bool has(uint64_t flags, int bit)
{
	return flags & (1ULL << bit);
}

int main(void)
{
	uint64_t merged, plain;
	char *p;
	bool ok;

	ksmt_start();
	ksft_set_plan(2);
	if (access("/proc/kpageflags", R_OK))
		ksft_exit_skip("no /proc/kpageflags\n");
	ksmt_take_over(cleanup);
	ksmt_setup();

	/* pages 0 and 1 alike, page 2 unique */
	p = ksmt_map(3);
	ksmt_fill(p, 0x6b, 0);
	ksmt_fill(p + ksmt_page_size, 0x6b, 0);
	ksmt_fill(p + 2 * ksmt_page_size, 0x6b, 1);
	ksmt_mergeable(p, 3);
	ksmt_set("run", 1);
	ok = ksmt_wait_merged(1, 1);
	ksmt_set("run", 0);

	merged = ksmt_kpageflags(ksmt_pfn(0, p));
	plain = ksmt_kpageflags(ksmt_pfn(0, p + 2 * ksmt_page_size));
	ksft_print_msg("flags: merged page %#llx, unique page %#llx\n",
		       (unsigned long long)merged, (unsigned long long)plain);
	ksft_test_result(ok && has(merged, KSMT_KPF_KSM) &&
			 has(merged, KSMT_KPF_ANON),
			 "a merged page has KPF_KSM and KPF_ANON\n");
	ksft_test_result(has(plain, KSMT_KPF_ANON) && !has(plain, KSMT_KPF_KSM),
			 "an anonymous page not merged has no KPF_KSM\n");
	cleanup();
	ksft_finished();
}
