#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# deps.sh [lint]: install the Debian packages the harness needs, once;
# with "lint", also those of "make lint" and "make export".
set -euo pipefail

pkgs=(linux-source-6.12 build-essential bc bison flex libelf-dev libssl-dev
      dwarves cpio xz-utils kmod rsync quilt ccache python3
      qemu-system-x86 seabios busybox-static libnuma-dev gnuplot-nox
      stress-ng trinity)
if [ "${1:-}" = lint ]; then
	pkgs+=(git sparse shellcheck flake8 python3-docutils)
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: need root to install packages" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
