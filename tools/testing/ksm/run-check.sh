#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-check.sh BZIMAGE TESTBIN_DIR LOGDIR IMPL TIMEOUT
#
# Boot the kernel, run the whole suite (guest/check.sh) and judge the run
# (verdict.py).  Checks of the same IMPL are serialized, so that two runs on
# one machine never mix their logs.
set -euo pipefail
# ZONE_MOVABLE memory for ksm_hotremove to offline, and stress-ng with its
# libraries for ksm_stress_ng when deps.sh could install it.
stress_ng=$(command -v stress-ng || true)

here=$(dirname "$(realpath "$0")")
kernel=$1 bins=$2 logs=$3 impl=$4 timeout=$5

mkdir -p "$logs"
exec 9>"$logs/.check-$impl.lock"
flock 9
echo "check: $impl kernel, console log in $logs/$impl-check-console.log"
"$here/run-vm.sh" -k "$kernel" -t "$bins" -s "$here/guest/check.sh" -T "$timeout" \
	-a movablecore=1G ${stress_ng:+-d "$stress_ng"} \
	-l "$logs/$impl-check-console.log" -r "$logs/$impl-check-results.log" >/dev/null || true
exec "$here/verdict.py" "$logs/$impl-check-console.log" "$logs/$impl-check-results.log" \
	"$here/expected-skips" "$logs/$impl-check.tap" "$impl"
