#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# lint.sh REPO BUILD: the static checks of "make lint" (see README), on
# our files and on the exported series in BUILD/export, with the tools of
# the prepared tree BUILD/src/ours:
#   checkpatch.pl --strict on our C files and on each patch, quilt or
#   exported, and git's whitespace check on the series; sparse (C=2) and W=1 on mm/ksm/; kernel-doc -Wall on our
#   kernel sources; docutils on our two .rst files; shellcheck on the
#   harness scripts; flake8 on its Python helpers.
# Every finding is printed; the last line counts them, and any makes the
# exit status 1.  A checkpatch finding is excused only by a comment
# "checkpatch: <reason>" on its line or the line above, in a file that the
# README's list of exceptions names.
set -uo pipefail

repo=$(realpath "$1")
build=$(realpath "$2")
tree=$build/src/ours
export_dir=$build/export
here=$repo/tools/testing/ksm
total=0

cd "$repo" || exit 2

# ours PATHSPEC...: our files under PATHSPEC, as prepare-tree.sh sees them.
ours() {
	git ls-files --cached --others --exclude-standard -- "$@" |
		while read -r f; do [ -f "$f" ] && echo "$f"; done | sort -u
}

# section NAME COUNT: report the findings of one check.
section() {
	printf 'lint: %-32s %d finding(s)\n' "$1" "$2"
	total=$((total + $2))
}

# excused FILE LINE: the line or the one above carries a checkpatch reason.
excused() {
	sed -n "$(($2 > 1 ? $2 - 1 : 1)),$2p" "$1" | grep -q 'checkpatch: [^ ]'
}

# source_of FILE LINE: our file that line LINE of FILE (a file or a patch)
# belongs to.
source_of() {
	case $1 in
	*.patch) sed -n "1,$2s|^+++ b/||p" "$1" | tail -n 1 ;;
	*) echo "${1#"$repo"/}" ;;
	esac
}

# checkpatch NAME ARGS...: run checkpatch.pl --strict --terse, drop the
# excused findings, print and count the others.
checkpatch() {
	local name=$1 n=0 file line rest
	shift
	while IFS= read -r out; do
		IFS=: read -r file line rest <<<"$out"
		if [ -f "$file" ] && [[ $line =~ ^[0-9]+$ ]] && excused "$file" "$line"; then
			if ! grep -qF "$(source_of "$file" "$line")" README; then
				echo "$out (excused in the file, but not listed in README)"
				n=$((n + 1))
			fi
			continue
		fi
		echo "$out"
		n=$((n + 1))
	done < <(cd "$tree" && scripts/checkpatch.pl --strict --terse --no-summary \
		--show-types "$@" 2>&1)
	section "$name" "$n"
}

# 1. checkpatch on the files themselves and on the quilt patches.
mapfile -t files < <(ours mm/ksm include/linux/ksm.h tools/mm \
	'tools/testing/selftests/mm/ksm_*' tools/testing/ksm/progs)
checkpatch "checkpatch (files)" -f "${files[@]/#/$repo/}"
mapfile -t quilt < <(grep -v '^\s*\(#\|$\)' series)
checkpatch "checkpatch (quilt patches)" "${quilt[@]/#/$repo/patches/}"

# 2. checkpatch on the exported series.  checkpatch asks of every patch
# that adds a file whether MAINTAINERS needs updating; that question is
# answered here instead: each file the series adds must fall under an F:
# line of our MAINTAINERS entry.
exported=("$export_dir"/[0-9]*.patch)
exported=("${exported[@]:1}")	# the cover letter aside
checkpatch "checkpatch (exported series)" --ignore FILE_PATH_CHANGES "${exported[@]}"
n=0
while read -r f; do
	covered=
	while read -r pat; do
		# get_maintainer.pl: a trailing / takes the whole directory.
		# shellcheck disable=SC2053 # $pat is a glob
		if [[ $pat == */ && $f == "$pat"* ]] || [[ $f == $pat ]]; then
			covered=1
			break
		fi
	done < <(sed -n 's/^F:\s*//p' MAINTAINERS.fragment)
	if [ -z "$covered" ]; then
		echo "MAINTAINERS.fragment: no F: line covers $f, which the series adds"
		n=$((n + 1))
	fi
done < <(git -C "$build/src/series" diff --name-only --diff-filter=AR base series)
section "MAINTAINERS coverage" "$n"

# git am warns of whitespace errors that checkpatch lets pass, such as a
# blank line at the end of a file: ask git of the series itself.  A title
# underlined with seven "=" is reStructuredText, not a conflict marker.
attrs=$build/src/series/.git/info/attributes
mkdir -p "$(dirname "$attrs")"
echo '*.rst conflict-marker-size=80' >"$attrs"
out=$(git -C "$build/src/series" diff --check base series 2>&1)
[ -z "$out" ] || echo "$out"
section "whitespace (git diff --check)" "$(grep -c '^[^+].*:[0-9]*: ' <<<"$out")"

# 3. sparse and W=1 on mm/ksm/, in a build directory of their own (the
# check flavour's configuration) so that the kernels of make check are
# left alone.  The objects are removed first so that every run compiles,
# and reports, them all (ccache replays the warnings of a hit).
lint_obj=$tree/obj-lint
log=$(mktemp)
OBJ_NAME=obj-lint "$here/build-kernel.sh" "$repo" "$build" ours check prepare >"$log" 2>&1 ||
	{ cat "$log"; echo "lint: preparing $lint_obj failed"; exit 2; }
rm -f "$lint_obj"/mm/ksm/*.o
OBJ_NAME=obj-lint KMAKE_ARGS=$'C=2\nW=1' "$here/build-kernel.sh" "$repo" "$build" ours check \
	mm/ksm/ >"$log" 2>&1
rc=$?
# A context imbalance that sparse reports for every user of the 6.12
# page table helpers is accepted for the functions listed, with reasons,
# in sparse-exceptions.
excused_re=$(grep -v '^#' "$here/sparse-exceptions" | cut -f1 | paste -sd'|')
grep 'warning:\|error:' "$log" |
	grep -Ev "context imbalance in '($excused_re)' - unexpected unlock" >"$log.found"
n=$(grep -c . "$log.found")
cat "$log.found"
rm -f "$log.found"
[ "$rc" -eq 0 ] || { cat "$log"; n=$((n + 1)); }
rm -f "$log"
section "sparse and W=1 (mm/ksm/)" "$n"

# The files of mm/ksm/ call each other top down only.
out=$("$here/layering.sh" "$lint_obj/mm/ksm" 2>&1)
echo "$out"
section "layering (mm/ksm/)" "$(grep -c 'is above it\|not in the list' <<<"$out")"

# 4. kernel-doc comments.
mapfile -t kdoc < <(ours mm/ksm include/linux/ksm.h | grep '\.[ch]$')
out=$(cd "$tree" && scripts/kernel-doc -none -Wall "${kdoc[@]}" 2>&1)
[ -z "$out" ] || echo "$out"
section "kernel-doc" "$(grep -c . <<<"$out")"

# 5. The two .rst files, as they are in the prepared tree.
out=$(/usr/bin/python3 "$here/lint/rst-check.py" "$tree/Documentation/mm/ksm.rst" \
	"$tree/Documentation/admin-guide/mm/ksm.rst" 2>&1)
[ -z "$out" ] || echo "$out"
section "docutils (.rst)" "$(grep -c '(\(WARNING\|ERROR\|SEVERE\)/' <<<"$out")"

# 6. The harness: shell and Python.
mapfile -t sh < <({ ours tools/testing/ksm | grep '\.sh$'; echo tools/testing/ksm/guest/init;
	echo .ci/run; })
out=$(shellcheck -f gcc "${sh[@]}" 2>&1)
[ -z "$out" ] || echo "$out"
section "shellcheck" "$(grep -c . <<<"$out")"
mapfile -t py < <(ours tools/testing/ksm | grep '\.py$')
out=$(flake8 --max-line-length=100 "${py[@]}" 2>&1)
[ -z "$out" ] || echo "$out"
section "flake8" "$(grep -c . <<<"$out")"

echo "lint: $total finding(s) in total"
[ "$total" -eq 0 ]
