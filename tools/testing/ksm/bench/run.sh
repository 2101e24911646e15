#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh: "make bench".  Build our kernel and the unmodified in-tree KSM
# ("upstream") in the bench flavour, then boot them in turn under the same
# QEMU settings, ours then upstream, ROUNDS times, each boot running every
# workload of ksm-bench once.  report.py turns the records into the table,
# build/bench/results.json and the W2 plot.  A second pass then boots both
# under QEMU's instruction counting (see below) for W1, W2 and W3, with its
# own table and build/bench/icount/results.json.
#
# Environment: ROUNDS (default 3), BENCH_ARGS (ksm-bench options, the
# scaled-down sizes below by default), BENCH_TIMEOUT (seconds per boot);
# BENCH_ICOUNT (the -icount shift of the second pass, default 1; empty to
# skip it), BENCH_ICOUNT_ARGS, BENCH_ICOUNT_ROUNDS (default 2).
set -euo pipefail

cd "$(dirname "$(realpath "$0")")/../../../.."
H=tools/testing/ksm
B=build
out=$B/bench
rounds=${ROUNDS:-3}
# W1, W5 and W10 at the issue's sizes.  Scaled down so that six boots fit
# the time budget under TCG: W2 to 4 x 128 MiB (with the default tunables
# it converges in about a minute), the sparse W4 mapping to 256 GiB
# (upstream walks it page by page, about a minute per TiB), W8 to 32 MiB
# timed for 8 s, W9 to 32, 128 and 512 MiB with one timed scan each (the
# same 16-fold growth; upstream scans about 30,000 unique pages a second).
# W11 repeats W1 and the fast W2 at these sizes, twice per merge_scope
# (global, memcg, memcg, global): four more runs of each per boot of ours
# (upstream has no merge_scope and skips it).
args=${BENCH_ARGS:--s 512 -p 4 -m 128 -c 64 -u 256 -n 3 -P 4096 -T 240 -e 32 -E 8 -g 32,128,512 -G 1}
timeout=${BENCH_TIMEOUT:-900}
# Under instruction counting guest time, ksmd's CPU time included, follows
# the instructions executed rather than the host's load.  That makes it
# steadier, not exact: two boots of one kernel in a pass agree on W1 to a
# percent or to a fifth, and two passes on the same kernels have differed
# by a third, probably because the vCPUs take turns at times the host
# decides, which moves what one does while the other holds a lock.
# TCG's cost of an instruction is not a CPU's (a TLB flush or an atomic
# costs it far more than one instruction), so the two passes bound the
# truth from two sides and neither stands alone.
icount=${BENCH_ICOUNT-1}
icount_args=${BENCH_ICOUNT_ARGS:--s 512 -p 4 -m 128 -n 3 -P 4096 -T 240 -w W1,W2,W3}
icount_rounds=${BENCH_ICOUNT_ROUNDS:-2}
icount_timeout=${BENCH_ICOUNT_TIMEOUT:-600}
# slab_nomerge keeps the KSM caches apart from others in /proc/slabinfo.
append="slab_nomerge quiet"

for impl in ours upstream; do
	$H/prepare-tree.sh . $B $impl
	nice -n 10 $H/build-kernel.sh . $B $impl bench
done

# The previous run is kept beside the new one and compared with it.
rm -rf "$out.prev"
[ ! -f "$out/results.json" ] || mv "$out" "$out.prev"
rm -rf "$out"
mkdir -p "$out/raw" "$out/logs"
printf '#!/bin/sh\nksm-bench -o /dev/ttyS1 %s\n' "$args" >"$out/guest.sh"
echo "$append" >"$out/append"
for impl in ours upstream; do
	img=$B/src/$impl/obj-bench/arch/x86/boot/bzImage
	echo "$impl $(sha1sum <"$img" | cut -d' ' -f1) $img"
done >"$out/kernels"
echo "bench: $rounds rounds of ours then upstream, ksm-bench $args"
failed=0
for round in $(seq "$rounds"); do
	for impl in ours upstream; do
		start=$(date +%s)
		rc=0
		$H/run-vm.sh -k $B/src/$impl/obj-bench/arch/x86/boot/bzImage \
			-t $B/tests/bin -s "$out/guest.sh" -T "$timeout" -a "$append" \
			-l "$out/logs/r$round-$impl-console.log" \
			-r "$out/raw/r$round-$impl.tsv" >/dev/null 2>&1 || rc=$?
		echo "bench: round $round/$rounds $impl: $(( $(date +%s) - start ))s" \
		     "$([ $rc -eq 0 ] || echo "FAILED ($rc), see $out/logs/r$round-$impl-console.log")"
		[ $rc -eq 0 ] || failed=1
	done
done

# One boot of each implementation under instruction counting.
run_icount() {
	local round=$1 impl=$2 start rc=0 dir=$out/icount

	start=$(date +%s)
	KSM_ICOUNT=$icount $H/run-vm.sh -k "$B/src/$impl/obj-bench/arch/x86/boot/bzImage" \
		-t $B/tests/bin -s "$dir/guest.sh" -T "$icount_timeout" -a "$append" \
		-l "$dir/logs/r$round-$impl-console.log" \
		-r "$dir/raw/r$round-$impl.tsv" >/dev/null 2>&1 || rc=$?
	echo "bench: icount round $round/$icount_rounds $impl: $(( $(date +%s) - start ))s" \
	     "$([ $rc -eq 0 ] || echo "FAILED ($rc), see $dir/logs/r$round-$impl-console.log")"
	return $rc
}

$H/bench/report.py "$out" "$H/run-vm.sh"
if [ -n "$icount" ]; then
	mkdir -p "$out/icount/raw" "$out/icount/logs"
	printf '#!/bin/sh\nksm-bench -o /dev/ttyS1 %s\n' "$icount_args" >"$out/icount/guest.sh"
	cp "$out/append" "$out/kernels" "$out/icount/"
	echo "QEMU -icount shift=$icount (2^$icount ns of guest time per instruction)," \
	     "one vCPU at a time: times count instructions" >"$out/icount/mode"
	echo "bench: $icount_rounds rounds under instruction counting, ksm-bench $icount_args"
	for round in $(seq "$icount_rounds"); do
		for impl in ours upstream; do
			# QEMU's -icount with two vCPUs hangs a boot now and
			# then, either kernel: the pass reports what it has.
			run_icount "$round" "$impl" || icount_failed=1
		done
	done
	$H/bench/report.py "$out/icount" "$H/run-vm.sh"
	[ -z "${icount_failed:-}" ] ||
		echo "bench: some boots under instruction counting did not finish; see $out/icount/logs"
fi
[ ! -f "$out.prev/results.json" ] ||
	$H/bench/compare.py "$out.prev/results.json" "$out/results.json"
exit $failed
