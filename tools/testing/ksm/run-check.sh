#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-check.sh BZIMAGE TESTBIN_DIR LOGDIR IMPL TIMEOUT [NAME GUEST_SCRIPT]
#
# Boot the kernel, run the whole suite (guest/check.sh, or GUEST_SCRIPT
# with its logs named after NAME instead of "check") and judge the run
# (verdict.py).  Runs of the same NAME and IMPL are serialized, so that
# two runs on one machine never mix their logs.  slab_nomerge keeps KSM's
# slab caches apart, for the tests that inject failures into them or
# count their objects.
set -euo pipefail
# ZONE_MOVABLE memory for ksm_hotremove to offline, and stress-ng and
# trinity with their libraries, for ksm_stress_ng and ksm_trinity, when
# deps.sh could install them.
progs=$(command -v stress-ng trinity || true)

here=$(dirname "$(realpath "$0")")
kernel=$1 bins=$2 logs=$3 impl=$4 timeout=$5
name=${6:-check} script=${7:-$here/guest/check.sh}

mkdir -p "$logs"
exec 9>"$logs/.$name-$impl.lock"
flock 9
echo "$name: $impl kernel, console log in $logs/$impl-$name-console.log"
"$here/run-vm.sh" -k "$kernel" -t "$bins" -s "$script" -T "$timeout" \
	-a "slab_nomerge movablecore=1G" ${progs:+-d "$progs"} \
	-l "$logs/$impl-$name-console.log" -r "$logs/$impl-$name-results.log" >/dev/null || true
exec "$here/verdict.py" "$logs/$impl-$name-console.log" "$logs/$impl-$name-results.log" \
	"$here/expected-skips" "$logs/$impl-$name.tap" "$impl"
