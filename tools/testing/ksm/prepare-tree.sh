#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# prepare-tree.sh REPO BUILD IMPL
#
# Make build/src/IMPL a 6.12 tree ready to build:
#   upstream: Debian's linux-source-6.12, untouched;
#   ours:     the same, plus the overlay (mm/ include/ Documentation/ tools/),
#             minus the files listed in "removals", with the quilt series
#             pushed and our MAINTAINERS entry added.
# Re-running only re-copies what changed, so an incremental kernel build
# recompiles only the objects that depend on it.  The tarball is extracted
# once per tree.
set -euo pipefail

repo=$(realpath "$1")
build=$(realpath -m "$2")
impl=$3
tarball=/usr/src/linux-source-6.12.tar.xz
pristine=$build/src/upstream
tree=$build/src/$impl

extract() {
	local dst=$1 tmp

	[ -f "$dst/Makefile" ] && return 0
	[ -f "$tarball" ] || { echo "prepare: $tarball missing" >&2; exit 1; }
	tmp=$(mktemp -d "$build/src/.extract.XXXXXX")
	echo "prepare: extracting $tarball into $dst"
	tar -xJf "$tarball" -C "$tmp"
	rm -rf "$dst"
	mv "$tmp"/linux-source-6.12 "$dst"
	rmdir "$tmp"
}

version_of() {
	make -s -C "$1" kernelversion 2>/dev/null
}

mkdir -p "$build/src"
exec 9>"$build/src/.prepare.lock"
flock 9
extract "$pristine"
if [ "$impl" = upstream ]; then
	echo "prepare: upstream tree $(version_of "$tree") (pristine)"
	exit 0
fi
[ "$impl" = ours ] || { echo "prepare: IMPL must be ours or upstream" >&2; exit 1; }
extract "$tree"

state=$tree/.ksm-prep
mkdir -p "$state"
export QUILT_PATCHES=$repo/patches QUILT_SERIES=$repo/series QUILT_PC=.pc

# Put back what an earlier preparation replaced or removed, so that a file
# dropped from the overlay or from "removals" returns to its base version.
restore_from_pristine() {
	local f=$1

	if [ -e "$pristine/$f" ]; then
		cmp -s "$pristine/$f" "$tree/$f" ||
			{ mkdir -p "$(dirname "$tree/$f")"; cp -p "$pristine/$f" "$tree/$f"; }
	else
		rm -f "$tree/$f"
	fi
}

series_sum() {
	local f

	for f in "$repo/series" "$repo"/patches/*; do
		[ ! -f "$f" ] || cat "$f"
	done | sha1sum | cut -d' ' -f1
}

# 1. Patches: re-push the whole series when it changed.
cd "$tree"
if [ "$(cat "$state/series.sum" 2>/dev/null)" != "$(series_sum)" ]; then
	# Forced: the patches in .pc are the old ones, which the changed
	# files no longer reverse; quilt restores its own backups.
	if [ -d .pc ] && quilt applied >/dev/null 2>&1; then
		quilt pop -a -q -f >/dev/null
	fi
	rm -f "$state/series.sum"
fi

# 2. Overlay and removals against the previous manifest.
overlay_dirs=()
for d in mm include Documentation tools; do
	[ -d "$repo/$d" ] && overlay_dirs+=("$d")
done
new_manifest=$(mktemp)
(cd "$repo" || exit 1
	git ls-files --cached --others --exclude-standard -- "${overlay_dirs[@]}" 2>/dev/null ||
	find "${overlay_dirs[@]}" -type f) | sort -u >"$new_manifest"
# git ls-files lists deleted-but-tracked files too; keep what exists.
while read -r f; do [ -f "$repo/$f" ] && echo "$f"; done <"$new_manifest" >"$new_manifest.x"
mv "$new_manifest.x" "$new_manifest"

new_removals=$(mktemp)
grep -v '^\s*\(#\|$\)' "$repo/removals" 2>/dev/null | sort -u >"$new_removals" || true

for list in overlay removals; do
	old=$state/$list
	[ -f "$old" ] || continue
	[ $list = overlay ] && cur=$new_manifest || cur=$new_removals
	comm -23 "$old" "$cur" | while read -r f; do
		echo "prepare: restoring $f"
		restore_from_pristine "$f"
	done
done

changed=0
while read -r f; do
	if ! cmp -s "$repo/$f" "$tree/$f"; then
		mkdir -p "$(dirname "$tree/$f")"
		cp "$repo/$f" "$tree/$f"
		echo "prepare: overlay $f"
		changed=$((changed + 1))
	fi
done <"$new_manifest"
cp "$new_manifest" "$state/overlay"

while read -r f; do
	if [ -e "$tree/$f" ]; then
		echo "prepare: removing $f"
		rm -f "$tree/$f"
	fi
done <"$new_removals"
cp "$new_removals" "$state/removals"
rm -f "$new_manifest" "$new_removals"

# 3. Push the series if not yet applied; a patch that fails is fatal.
if [ ! -f "$state/series.sum" ]; then
	if [ -s "$repo/series" ]; then
		if ! quilt push -a -q; then
			echo "prepare: FAILED to apply the series to $(version_of "$tree")" >&2
			exit 1
		fi
	fi
	series_sum >"$state/series.sum"
fi

# 4. MAINTAINERS: our entry, in alphabetical place.
if [ -f "$repo/MAINTAINERS.fragment" ]; then
	python3 "$repo/tools/testing/ksm/maintainers.py" \
		"$pristine/MAINTAINERS" "$repo/MAINTAINERS.fragment" "$tree/MAINTAINERS"
fi

echo "prepare: ours tree $(version_of "$tree"), $(quilt applied 2>/dev/null | wc -l) patches, $changed overlay files updated"
