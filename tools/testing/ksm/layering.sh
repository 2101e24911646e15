#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# layering.sh OBJDIR
#
# Check that the files of mm/ksm/ call each other top down only: every
# symbol an object of OBJDIR (a built mm/ksm/) takes from another of them
# must be defined by a file further down this list.  Prints each call back
# up; exits 1 if there is any.
set -euo pipefail

order=(sysfs scan mm rmap merge stable unstable item state)
dir=$1
declare -A level owner
for i in "${!order[@]}"; do
	level[${order[$i]}]=$i
done
for f in "$dir"/*.o; do
	name=$(basename "$f" .o)
	[ -n "${level[$name]+x}" ] || { echo "layering: $name.o is not in the list" >&2; exit 1; }
	while read -r _ sym; do
		owner[$sym]=$name
	done < <(nm --defined-only -g "$f" | awk '{ print $2, $3 }')
done
bad=0
for f in "$dir"/*.o; do
	name=$(basename "$f" .o)
	while read -r sym; do
		def=${owner[$sym]:-}
		if [ -z "$def" ] || [ "$def" = "$name" ]; then
			continue
		fi
		if [ "${level[$def]}" -le "${level[$name]}" ]; then
			echo "layering: $name.c uses $sym of $def.c, which is above it"
			bad=1
		fi
	done < <(nm -u "$f" | awk '{ print $2 }')
done
[ $bad -eq 0 ] && echo "layering: ${order[*]}: no call back up"
exit $bad
