#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# harness-test.sh: tests of the harness itself, through make as a user
# calls it.  One guest boot: "make vm" must hand CMD and FILES to the
# guest as written, so that the guest's shell, not make nor the host's
# shell, expands what they hold, and must return the guest command's
# failure.  Run from the top of the repository, by "make harness-test";
# IMPL and FLAVOUR come through the environment as for any target.
# The $ in single quotes are meant for the guest throughout:
# shellcheck disable=SC2016
set -uo pipefail

impl=${IMPL:-ours}
flavour=${FLAVOUR:-check}
release_file=build/src/$impl/obj-$flavour/include/config/kernel.release
passed=0 failed=0

result() {
	if [ "$1" = ok ]; then
		passed=$((passed + 1))
		echo "ok: $2"
	else
		failed=$((failed + 1))
		echo "FAIL: $2"
	fi
}

# The guest's output, console noise (CRs, kernel messages) aside.
has_line() {
	tr -d '\r' <"$out" | grep -qxF -- "$1"
}

work=$(mktemp -d /tmp/ksm-harness-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
out=$work/out
# A host file whose name make and the host's shell would both rewrite.
name='f$HOME$(uname).txt'
echo "contents of $name" >"$work/$name"

cmd='echo $(uname -r) $HOME; echo "host=$(hostname) path=${PATH%%:*}";'
cmd+=" echo 'single \$HOME'; cat '/opt/ksm/$name'; exit 3"
${MAKE:-make} -s vm CMD="$cmd" FILES="$work/$name" >"$out" 2>&1 </dev/null
rc=$?

[ -f "$release_file" ] && release=$(cat "$release_file") || release=
if [ -n "$release" ] && has_line "$release /root"; then
	result ok "\$(...) and \$HOME expand in the guest: $release /root"
else
	result fail "no line '$release /root' (the guest's uname -r and HOME)"
fi
if has_line 'host=ksm-guest path=/opt/ksm'; then
	result ok "the guest's hostname and PATH, not the host's"
else
	result fail "no line 'host=ksm-guest path=/opt/ksm'"
fi
if has_line 'single $HOME'; then
	result ok "single quotes in CMD survive"
else
	result fail "no line 'single \$HOME'"
fi
if has_line "contents of $name"; then
	result ok "FILES: $name copied to /opt/ksm as named"
else
	result fail "FILES: $name not found in the guest"
fi
if [ "$rc" -ne 0 ] && grep -q 'guest command exited with status 3$' "$out"; then
	result ok "the guest command's status 3 is reported, make fails ($rc)"
else
	result fail "status 3 not reported (make returned $rc)"
fi
if [ "$failed" -ne 0 ]; then
	echo "harness-test: output of make vm:"
	sed 's/^/  | /' "$out"
fi
echo "harness-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
