#!/bin/bash
# Draw every benchmark chart as PNG from the CSV files a `make bench` left in
# the results directory (`make bench-plot` does this): for each
# bench/plot-NAME.gp whose NAME.csv or NAME-summary.csv is there, NAME.png.
# A script draws its own SVG; the PNG is the same plot replotted on a PNG
# terminal, so the scripts need not know about it.
#
# Usage: bench-plot.sh [-o DIR]   (DIR: bench-results)
set -euo pipefail

out=bench-results
while getopts o:h opt; do
	case $opt in
	o) out=$OPTARG ;;
	*)
		echo "usage: $0 [-o DIR]" >&2
		exit 2
		;;
	esac
done
srcdir=${srcdir:-$(dirname "$0")/..}

if ! command -v gnuplot >/dev/null; then
	echo "bench-plot: gnuplot is not installed (Debian: apt-get install gnuplot-nox)" >&2
	exit 1
fi
if ! compgen -G "$out/*.csv" >/dev/null; then
	echo "bench-plot: no results in $out/: run 'make bench' first" >&2
	exit 1
fi

status=0
n=0
for gp in "$srcdir"/bench/plot-*.gp; do
	[ -e "$gp" ] || continue
	name=$(basename "$gp" .gp)
	name=${name#plot-}
	if [ ! -f "$out/$name.csv" ] && [ ! -f "$out/$name-summary.csv" ]; then
		echo "bench-plot: $name: no $name results in $out/, skipped"
		continue
	fi
	if gnuplot -e "outdir='$out'" "$gp" \
		-e "set terminal pngcairo size 1000,560 noenhanced font 'sans,10' background '#ffffff'" \
		-e "set output '$out/$name.png'; replot; unset output"; then
		echo "plot: $out/$name.png"
		n=$((n + 1))
	else
		echo "bench-plot: gnuplot failed on $gp" >&2
		status=1
	fi
done
[ $n -gt 0 ] || echo "bench-plot: no chart drawn" >&2
exit $status
