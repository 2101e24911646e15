#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-vm.sh -k BZIMAGE -t TESTBIN_DIR {-s RUN_SCRIPT | -c COMMAND} [-f "FILES"]
#           [-T TIMEOUT] [-l CONSOLE_LOG] [-r RESULTS_LOG] [-a "EXTRA KERNEL ARGS"]
#           [-d "PROGRAMS"] [-i]
#
# Boot BZIMAGE under QEMU (TCG, 2 vCPUs, 4 GiB on two NUMA nodes) with a
# busybox initramfs holding the static test binaries (in /tests), FILES
# (in /opt/ksm, the working directory), the dynamically linked host
# PROGRAMS (at their own paths, with the loader and the libraries ldd
# names) and RUN_SCRIPT as /run.sh (or a /run.sh running COMMAND; with
# -i, a shell on the console follows).  The
# console is streamed to stdout and kept in CONSOLE_LOG; the second serial
# port (/dev/ttyS1 in the guest) is written to RESULTS_LOG.  The exit
# status is the one of /run.sh in the guest; 124 on timeout, 125 when the
# guest died without reporting one.
set -euo pipefail

here=$(dirname "$(realpath "$0")")
kernel='' bins='' script='' cmd='' files='' timeout=1800 log='' results=/dev/null append=''
interactive='' progs=''
while getopts k:t:s:c:f:T:l:r:a:d:i opt; do
	case $opt in
	k) kernel=$OPTARG ;;
	t) bins=$OPTARG ;;
	s) script=$OPTARG ;;
	c) cmd=$OPTARG ;;
	f) files=$OPTARG ;;
	T) timeout=$OPTARG ;;
	l) log=$OPTARG ;;
	r) results=$OPTARG ;;
	a) append=$OPTARG ;;
	d) progs=$OPTARG ;;
	i) interactive=1 ;;
	*) exit 2 ;;
	esac
done
[ -f "$kernel" ] || { echo "run-vm: no kernel image '$kernel' (make build)" >&2; exit 2; }

work=$(mktemp -d /tmp/ksm-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
if [ -z "$script" ]; then
	script=$work/run.sh
	"$here/mk-run-script.sh" "$cmd" ${interactive:+shell} >"$script"
fi
root=$work/root
mkdir -p "$root"/{bin,tests,opt/ksm,proc,sys,dev,tmp}
cp /bin/busybox "$root/bin/busybox"
cp "$here/guest/init" "$root/init"
cp "$script" "$root/run.sh"
chmod +x "$root/init" "$root/run.sh"
if [ -n "$bins" ] && [ -d "$bins" ]; then
	cp "$bins"/* "$root/tests/" 2>/dev/null || true
fi
for f in $files; do
	[ -e "$f" ] || { echo "run-vm: no such file: $f" >&2; exit 2; }
	cp -r "$f" "$root/opt/ksm/"
done
for p in $progs; do
	[ -x "$p" ] || { echo "run-vm: no such program: $p" >&2; exit 2; }
	for f in "$p" $(ldd "$p" | sed -n 's,.*[[:space:]]\(/[^[:space:]]*\) (0x.*,\1,p'); do
		mkdir -p "$root$(dirname "$f")"
		cp -L "$f" "$root$f"
	done
done
(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$work/initrd"

[ -n "$log" ] || log=$work/console.log
# One guest at a time on this machine: two TCG guests on 2 cores slow each
# other down and make the timing-sensitive tests flaky.
exec 8>"${KSM_GUEST_LOCK:-/tmp/ksm-guest.lock}"
if ! flock -n 8; then
	echo "run-vm: waiting for the guest already running on this machine" >&2
	flock 8
fi
# KSM_ICOUNT=N: count instructions instead (one vCPU at a time, 2^N ns of
# guest time per instruction, idle time skipped), so that guest time, CPU
# times included, follows the instructions run and not the host's load.
accel=(-accel "tcg,thread=multi")
[ -z "${KSM_ICOUNT:-}" ] ||
	accel=(-accel "tcg,thread=single"
	       -icount "shift=$KSM_ICOUNT,align=off,sleep=off")
# shellcheck disable=SC2054 # the commas belong to QEMU's option values
qemu=(qemu-system-x86_64 -nographic -no-reboot -nodefaults
      -machine q35 "${accel[@]}" -cpu max -smp 2,sockets=2,cores=1,threads=1 -m 4G
      -object memory-backend-ram,id=m0,size=2G
      -object memory-backend-ram,id=m1,size=2G
      -numa node,nodeid=0,cpus=0,memdev=m0
      -numa node,nodeid=1,cpus=1,memdev=m1
      -kernel "$kernel" -initrd "$work/initrd"
      -append "console=ttyS0 panic=-1 no_hash_pointers $append"
      -serial mon:stdio -serial "file:$results")
[ -n "$interactive" ] || exec </dev/null

set +e
timeout --foreground -k 10 "$timeout" "${qemu[@]}" 2>&1 | tee "$log"
qrc=${PIPESTATUS[0]}
set -e
[ "$qrc" -eq 124 ] && { echo "run-vm: timed out after ${timeout}s" >&2; exit 124; }
rc=$(tr -d '\r' <"$log" | sed -n 's/^KSM-HARNESS-EXIT: \([0-9]*\)$/\1/p' | tail -n 1)
[ -n "$rc" ] || { echo "run-vm: guest ended without reporting a status (qemu $qrc)" >&2; exit 125; }
[ "$rc" -eq 0 ] || echo "run-vm: guest command exited with status $rc" >&2
exit "$rc"
