#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-soak.sh BZIMAGE TESTBIN_DIR LOGDIR IMPL DURATION [FAULT_DURATION]
#
# "make soak": boot the kernel and run ksm_stress for DURATION seconds,
# then FAULT_DURATION seconds (default: a third of DURATION) with
# failures injected into KSM's allocations, then ksm_trinity (the trinity
# fuzzer on merged memory) for $TRINITY_DURATION seconds (default: a
# third of DURATION; 0 leaves it out).  The guest script is
# guest/check.sh's up to its first test (framing, overrun watchdog) with
# a time limit to match, then these two tests alone; run-check.sh and
# verdict.py judge the run as for make check: the tests' results, and any
# splat in the kernel log.  The figures of the run come last but one,
# the verdict line last.
set -euo pipefail

here=$(dirname "$(realpath "$0")")
kernel=$1 bins=$2 logs=$3 impl=$4 secs=$5
faults=${6:-$((secs / 3))}
trinity=${TRINITY_DURATION:-$((secs / 3))}
case "$secs$faults$trinity" in
*[!0-9]*|'')
	echo "run-soak: DURATION, FAULT_DURATION and TRINITY_DURATION are seconds" >&2
	exit 2 ;;
esac
# Boot, KUnit and the final checks take minutes under TCG: each test gets
# 10 minutes more than it runs, the guest 10 more than both tests.
longest=$((secs + faults > trinity ? secs + faults : trinity))
limit=$((longest + 600))

work=$(mktemp -d /tmp/ksm-soak.XXXXXX)
trap 'rm -rf "$work"' EXIT
{
	sed -n '/^run /q;p' "$here/guest/check.sh"
	echo "test_timeout=$limit"
	echo "run ksm_stress ./ksm_stress -d $secs -F $faults"
	[ "$trinity" -eq 0 ] || echo "run ksm_trinity ./ksm_trinity -d $trinity"
	echo 'exit 0'
} >"$work/soak.sh"
grep -q '^run_once()' "$work/soak.sh" ||
	{ echo "run-soak: no run_once() in guest/check.sh" >&2; exit 2; }

set +e
"$here/run-check.sh" "$kernel" "$bins" "$logs" "$impl" \
	$((secs + faults + trinity + 1800)) soak "$work/soak.sh" | tee "$work/verdict"
rc=${PIPESTATUS[0]}
set -e
echo "soak figures ($logs/$impl-soak-results.log):"
tr -d '\r' <"$logs/$impl-soak-results.log" |
	grep -E '^# (seed|[0-9]+ s of|stress|faults|slab|MISMATCH|worker|region)|^# after' |
	grep -v ksm_trinity || true
tr -d '\r' <"$logs/$impl-soak-results.log" |
	sed -n '/^KSMTEST-BEGIN ksm_trinity/,/^KSMTEST-END/p' |
	grep -E '^# (seed|syscalls|while it ran|ksm_zero_pages|trinity (stopped|ended))' |
	sed 's/^# /# trinity: /' || true
tail -n 1 "$work/verdict"
exit "$rc"
