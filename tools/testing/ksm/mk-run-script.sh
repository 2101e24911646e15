#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# mk-run-script.sh 'CMD' [shell]: print the guest's /run.sh running CMD and
# exiting with its status; with "shell", an interactive shell follows CMD
# (or replaces it when CMD is empty) on the serial console.
# What it prints is shell for the guest, $ included:
# shellcheck disable=SC2016
cmd=$1
shell=${2:-}
echo '#!/bin/sh'
if [ -n "$cmd" ]; then
	printf '%s\n' "$cmd"
	echo 'rc=$?'
else
	echo 'rc=0'
	[ -n "$shell" ] || echo 'echo "vm: no CMD given and no terminal for a shell"'
fi
if [ -n "$shell" ]; then
	echo 'echo "Shell on the KSM test kernel; exit or Ctrl-D powers the VM off."'
	echo 'setsid cttyhack sh -l'
fi
echo 'exit $rc'
