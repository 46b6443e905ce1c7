# gnuplot -e "outdir='DIR'" bench/plot-alloc.gp: DIR/alloc-summary.csv -> DIR/alloc.svg
# (run-bench.sh does this). Missing allocators have text cells: no bar.
if (!exists("outdir")) outdir = "bench-results"
set datafile separator ","
set terminal svg size 1000,520 dynamic noenhanced font "sans,11" background "#ffffff"
set output outdir."/alloc.svg"
set title "ns per allocation (median, batch amortised; lower is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [0.1:*]
set ylabel "ns per allocation (log scale)"
set xtics rotate by -30 left nomirror offset -1,0
set bmargin 7
set grid ytics
set key top left
plot for [i=2:5] outdir."/alloc-summary.csv" using i:xtic(1) title columnheader(i)
