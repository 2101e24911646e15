#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-kernel.sh REPO BUILD IMPL FLAVOUR [TARGET...]
#
# Configure (x86_64 tinyconfig + Kconfig.fragment + FLAVOUR.config) and
# build TARGETs (bzImage by default) of build/src/IMPL into
# build/src/IMPL/obj-FLAVOUR (OBJ_NAME overrides the last part),
# incrementally and through ccache.  The configuration is redone only when
# one of its inputs changed.
set -euo pipefail

repo=$(realpath "$1")
build=$(realpath -m "$2")
impl=$3
flavour=$4
shift 4
targets=("${@:-bzImage}")
tree=$build/src/$impl
# A direct subdirectory of the source tree makes Kbuild use relative
# paths (srctree is ".."), so ccache hits across trees and clones.
obj=$tree/${OBJ_NAME:-obj-$flavour}
jobs=${JOBS:-$(nproc)}
frags=("$repo/Kconfig.fragment" "$repo/tools/testing/ksm/$flavour.config")

export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-20G}
# Kbuild puts the build time and host into the image; fix them so that
# ccache can hit across rebuilds.
export KBUILD_BUILD_TIMESTAMP="2024-11-17" KBUILD_BUILD_USER=ksm KBUILD_BUILD_HOST=ksm
# KMAKE_ARGS: extra make arguments, one per line, such as per-object
# CFLAGS_*.o (used by the profile flavour).
extra=()
[ -z "${KMAKE_ARGS:-}" ] || mapfile -t extra <<<"$KMAKE_ARGS"
kmake=(make -s -C "$tree" O="$obj" ARCH=x86_64 CC="ccache gcc" -j"$jobs" "${extra[@]}")

mkdir -p "$obj"
# One build per directory at a time: several users of the harness may share
# a machine (and its build tree).
exec 9>"$obj/.lock"
flock 9
sum=$( { cat "${frags[@]}"; cat "$tree/.ksm-prep/series.sum" 2>/dev/null || true; } | sha1sum)
if [ ! -f "$obj/.config" ] || [ "$(cat "$obj/.ksm-config.sum" 2>/dev/null)" != "$sum" ]; then
	echo "build: configuring $impl-$flavour"
	"${kmake[@]}" tinyconfig >/dev/null
	(cd "$tree" && ARCH=x86_64 scripts/kconfig/merge_config.sh -m -O "$obj" \
		"$obj/.config" "${frags[@]}" >/dev/null)
	"${kmake[@]}" olddefconfig >/dev/null
	# Report requested options that did not make it (unknown symbols
	# such as our KUnit option on the upstream tree, or unmet depends).
	grep -h '^CONFIG_[A-Z0-9_]*=' "${frags[@]}" | while IFS= read -r line; do
		grep -qx "$line" "$obj/.config" ||
			echo "build: note: $line requested, not in $impl-$flavour .config"
	done
	echo "$sum" >"$obj/.ksm-config.sum"
fi

echo "build: $impl-$flavour: Linux $(make -s -C "$tree" kernelversion)"
start=$(date +%s)
"${kmake[@]}" "${targets[@]}"
echo "build: $impl-$flavour ${targets[*]} ready in $(( $(date +%s) - start ))s"
