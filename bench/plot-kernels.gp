# gnuplot -e "outdir='DIR'" bench/plot-kernels.gp:
#   DIR/kernels-summary.csv (and DIR/blas-summary.csv, if bench-blas ran) -> DIR/kernels.svg
# (run-bench.sh does this; `make bench-plot` draws it again as kernels.png).
# The CSVs hold, per kernel and timing, the median, min and max speed-up over
# glibc malloc of each kind of memory; "-" cells (memory not available) draw no bar.
if (!exists("outdir")) outdir = "bench-results"
kernels = outdir."/kernels-summary.csv"
blas = outdir."/blas-summary.csv"
data = "< cat '".kernels."'; test -f '".blas."' && tail -n +2 '".blas."'"

set datafile separator ","
set datafile missing "-"
# The first line names the columns, in every plot below (so $0 counts data rows from 0).
set key autotitle columnhead
set terminal svg size 1000,560 dynamic noenhanced font "sans,11" background "#ffffff"
set output outdir."/kernels.svg"
set title "Numeric kernels, working sets of 1 GiB (GUPS, chase, stencil) and 12-48 MiB (matmul, sgemm)\nspeed-up over glibc malloc: bars the median of the interleaved rounds, whiskers min..max; higher is better"
set style data histograms
set style histogram errorbars gap 1 lw 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set yrange [0:*]
set offsets 0, 0, graph 0.08, 0
set ylabel "speed-up over glibc malloc (dashed line: 1)"
set xtics nomirror scale 0
set grid ytics
set key top right
set bmargin 5
# "GUPS first touch" -> "GUPS\nfirst touch"
label(s) = (p = strstrt(s, " "), p ? s[1:p-1]."\n".s[p+1:] : s)
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dashtype 2 lw 1.5 lc rgb "#404040" front
# Bars of a cluster sit at x = row - 0.25, row, row + 0.25: the daemon's median above its whisker.
plot for [v=0:2] data using (column(2 + 3 * v)):(column(3 + 3 * v)):(column(4 + 3 * v)):xtic(label(strcol(1))) \
	title columnheader(2 + 3 * v) lc v + 1, \
	data using ($0 - 0.25):4:(sprintf("%.2f", column(2))) with labels offset 0, 0.7 font "sans,9" notitle
