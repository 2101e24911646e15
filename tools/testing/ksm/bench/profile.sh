#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# profile.sh: "make profile".  Where ksmd's time goes, ours against the
# in-tree KSM ("upstream"): both kernels are built in the profile flavour
# (the bench flavour plus the ftrace function profiler) and run the same
# ksm-bench workload with the profiler on every traceable function of the
# KSM objects and on the helpers they spend their time in.
# profile-report.py prints, per implementation, each function's inclusive
# time, calls and time per call, and ksmd's CPU time for the workload.
# The hooks slow every profiled call down, so only the split between
# functions means something, not the totals.
#
# Environment: PROFILE_ARGS (ksm-bench options; by default the W2 mix at
# the bench sizes converging with a large pages_to_scan, then W3's steady
# state), PROFILE_TIMEOUT (seconds per boot).
set -euo pipefail

cd "$(dirname "$(realpath "$0")")/../../../.."
H=tools/testing/ksm
B=build
out=$B/profile
args=${PROFILE_ARGS:--p 4 -m 128 -P 4096 -n 3 -T 600 -w W3}
timeout=${PROFILE_TIMEOUT:-1800}
# What KSM calls into and spends its time in, on both sides; none of them
# is much used by anything else while the workload runs.
helpers=(memcmp_pages xxhash xxh64 xxh32 walk_page_range_vma folio_walk_start
	lru_add_drain_all page_vma_mapped_walk split_huge_page_to_list_to_order
	ptep_clear_flush flush_tlb_mm_range __folio_put free_unref_page
	__mmu_notifier_invalidate_range_start find_vma down_read up_read
	folio_add_anon_rmap_ptes folio_remove_rmap_ptes kmem_cache_alloc_noprof)

# GCC inlines most static functions of either implementation into its
# callers, out of the profiler's sight: build the KSM objects with the
# automatic inlining off (functions declared inline stay inline), the same
# way on both sides.  The option name of an object applies to every object
# of that name: drivers/acpi/scan.o gets it too, which boot alone uses.
noinline="-fno-inline-functions -fno-inline-small-functions -fno-inline-functions-called-once -fno-ipa-sra -fno-ipa-cp-clone"
ours_objs="scan stable unstable merge"
for impl in ours upstream; do
	if [ $impl = ours ]; then objs=$ours_objs; else objs=ksm; fi
	kargs=()
	for o in $objs; do kargs+=("CFLAGS_$o.o=$noinline"); done
	$H/prepare-tree.sh . $B $impl
	KMAKE_ARGS=$(printf "%s\n" "${kargs[@]}") nice -n 10 $H/build-kernel.sh . $B $impl profile
done

rm -rf "$out"
mkdir -p "$out"
for impl in ours upstream; do
	obj=$B/src/$impl/obj-profile
	if [ $impl = ours ]; then objs=("$obj"/mm/ksm/*.o); else objs=("$obj/mm/ksm.o"); fi
	# Text symbols of the KSM objects: the profiler keeps those that
	# were not inlined and are traceable.
	{ nm --defined-only "${objs[@]}" | awk '$2 ~ /^[tT]$/ { print $3 }' |
		grep -v '^__\|\.'; printf '%s\n' "${helpers[@]}"; } | sort -u >"$out/$impl.funcs"
	cat >"$out/$impl.sh" <<-GUEST
	#!/bin/sh
	t=/sys/kernel/tracing
	mount -t tracefs none \$t 2>/dev/null
	while read -r f; do echo "\$f" >>\$t/set_ftrace_filter 2>/dev/null; done </opt/ksm/$impl.funcs
	echo "profiling \$(wc -l <\$t/set_ftrace_filter) functions"
	echo 1 >\$t/function_profile_enabled
	ksm-bench -o /tmp/bench.tsv $args
	rc=\$?
	echo 0 >\$t/function_profile_enabled
	{ echo "== bench"; cat /tmp/bench.tsv
	  for f in \$t/trace_stat/function*; do echo "== \$f"; cat \$f; done; } >/dev/ttyS1
	exit \$rc
	GUEST
	echo "profile: $impl"
	$H/run-vm.sh -k $obj/arch/x86/boot/bzImage -t $B/tests/bin -s "$out/$impl.sh" \
		-f "$out/$impl.funcs" -T "$timeout" -a "slab_nomerge quiet" \
		-l "$out/$impl-console.log" -r "$out/$impl.txt" >/dev/null
done
$H/bench/profile-report.py "$out/ours.txt" "$out/upstream.txt" | tee "$out/report.txt"
