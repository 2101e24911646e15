#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh REPO BUILD last|each
#
# Make a fresh 6.12 tree, BUILD/src/export-check (Debian's tarball
# extracted anew, put in git as is), export the series (export.py, into
# BUILD/export), apply it there with git am, and check that the result is
# the tree that make check tests (BUILD/src/ours, prepared right then), the
# harness that stays out of the series aside.  Then build the kernel of the
# check flavour (tinyconfig + Kconfig.fragment + check.config, through
# build-kernel.sh and so through ccache) once all patches are in ("last"),
# or after each patch ("each").
set -euo pipefail

repo=$(realpath "$1")
build=$(realpath "$2")
mode=$3
here=$repo/tools/testing/ksm
tarball=/usr/src/linux-source-6.12.tar.xz
name=export-check
tree=$build/src/$name
case $mode in last | each) ;; *) echo "check: last or each, not '$mode'" >&2; exit 2 ;; esac

start=$(date +%s)
echo "export-check: a fresh tree from $tarball in $tree"
rm -rf "$tree" "$tree.tmp"
mkdir -p "$tree.tmp"
tar -xJf "$tarball" -C "$tree.tmp"
mv "$tree.tmp"/* "$tree"
rmdir "$tree.tmp"
export GIT_AUTHOR_NAME=export-check GIT_AUTHOR_EMAIL=export-check@localhost
export GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL
git -C "$tree" init -q
git -C "$tree" add -f -A
git -C "$tree" commit -q -m "Linux $(make -s -C "$tree" kernelversion)"
git -C "$tree" tag base
echo "export-check: base committed in $(( $(date +%s) - start ))s"

# Export and prepare only now, so that the comparison below sees the
# repository as it was exported.
python3 "$here/export/export.py" "$repo" "$build"
"$here/prepare-tree.sh" "$repo" "$build" ours >/dev/null
patches=("$build"/export/[0-9]*.patch)
patches=("${patches[@]:1}")	# the cover letter aside

# build-kernel.sh reconfigures when this stamp changes: the configuration
# of each step must be made from that step's Kconfig files.
build_step() {
	mkdir -p "$tree/.ksm-prep"
	git -C "$tree" rev-parse HEAD >"$tree/.ksm-prep/series.sum"
	if ! "$here/build-kernel.sh" "$repo" "$build" "$name" check; then
		echo "export-check: FAILED to build after $1" >&2
		exit 1
	fi
	echo "export-check: builds after $1"
}

for p in "${patches[@]}"; do
	if ! git -C "$tree" am -q --keep-cr "$p"; then
		echo "export-check: FAILED: git am of $(basename "$p")" >&2
		exit 1
	fi
done
echo "export-check: ${#patches[@]} patches applied with git am"
head=$(git -C "$tree" rev-parse HEAD)

# The series must make the tree that make check tests: compare every path
# that either changes, except the files that stay out of the series.
ours=$build/src/ours
differ=0
while read -r f; do
	grep -qxF "$f" "$build/export/.local" && continue
	if [ -e "$tree/$f" ] || [ -e "$ours/$f" ]; then
		if ! cmp -s "$tree/$f" "$ours/$f"; then
			echo "export-check: $f differs from the prepared tree"
			differ=$((differ + 1))
		fi
	fi
done < <({ git -C "$tree" diff --name-only base HEAD
	cat "$ours/.ksm-prep/overlay" "$ours/.ksm-prep/removals"
	(cd "$ours" || exit; QUILT_PATCHES=$repo/patches QUILT_SERIES=$repo/series QUILT_PC=.pc \
		quilt files -a 2>/dev/null) || true
	echo MAINTAINERS; } | sort -u)
[ "$differ" -eq 0 ] || { echo "export-check: FAILED: $differ files differ" >&2; exit 1; }
echo "export-check: the series makes the tree that make check tests"

if [ "$mode" = each ]; then
	# Back to the base, then forward one patch at a time.
	git -C "$tree" checkout -q base
	n=0
	for c in $(git -C "$tree" rev-list --reverse "base..$head"); do
		n=$((n + 1))
		git -C "$tree" checkout -q "$c"
		build_step "patch $n/${#patches[@]}: $(git -C "$tree" log -1 --format=%s)"
	done
else
	build_step "the whole series"
fi
echo "export-check: $mode build(s) passed; $(( $(date +%s) - start ))s in all"
