# SPDX-License-Identifier: GPL-2.0
#
# pages_sharing over time in W2, ours against upstream, one line per
# round.  Called by report.py with datadir, outfile and nrounds set.
set terminal pngcairo size 1100,900 noenhanced
set output outfile
set multiplot layout 2,1 title "KSM W2 (VM-like mix): pages_sharing over time, QEMU TCG"
set xlabel "seconds since ksmd was started"
set ylabel "pages_sharing"
set key bottom right
set grid

file(phase, impl, r) = sprintf("%s/%s-%s-r%d.dat", datadir, phase, impl, r)

do for [phase in "W2-default W2-fast"] {
	set title phase eq "W2-default" ? "default tunables" : "sleep_millisecs=0, large pages_to_scan"
	plot for [r=1:nrounds] file(phase, "ours", r) using 1:2 with lines lc rgb "#d62728" \
		title (r == 1 ? "ours" : ""), \
	     for [r=1:nrounds] file(phase, "upstream", r) using 1:2 with lines lc rgb "#1f77b4" \
		dt 2 title (r == 1 ? "upstream" : "")
}
unset multiplot
