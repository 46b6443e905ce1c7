#!/bin/bash
# Run the benchmark programs one after the other (`make bench` does this).
# Each prints its tables and writes them as CSV and Markdown into the output
# directory, with its whole output as <name>.txt; machine.txt says what it all
# ran on, and where bench/plot-<name>.gp exists and gnuplot is installed,
# <name>.svg is a plot of <name>'s results.
#
# Usage: run-bench.sh [-o DIR] PROGRAM...   (BHC_BENCH_QUICK=1: smoke run)
set -euo pipefail

usage() {
	echo "usage: $0 [-o DIR] PROGRAM..." >&2
	exit 2
}

out=bench-results
while getopts o:h opt; do
	case $opt in
	o) out=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || echo "run-bench: no benchmark programs given" >&2
srcdir=${srcdir:-$(dirname "$0")/..}
mkdir -p "$out"

cc=${CC:-cc}
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mode=full
if [ "${BHC_BENCH_QUICK:-0}" != 0 ]; then
	mode="quick (BHC_BENCH_QUICK=1): a smoke run, the figures mean nothing"
fi
{
	echo "date:     $(date '+%Y-%m-%d %H:%M:%S %z')"
	echo "cpu:      ${cpu:-unknown} ($(nproc) online)"
	echo "kernel:   $(uname -srm)"
	echo "compiler: $($cc --version 2>/dev/null | head -n 1) ($cc ${CFLAGS:-})"
	echo "load:     $(cut -d ' ' -f 1-3 /proc/loadavg) (1, 5, 15 min)"
	echo "memory:   $(awk '/^MemTotal/ {t = $2} /^MemAvailable/ {a = $2}
		END {printf "%.1f GiB, %.1f GiB available", t / 1048576, a / 1048576}' /proc/meminfo)"
	# The region benchmarks raise these for their run (as root) and restore them.
	for d in /sys/kernel/mm/hugepages/hugepages-*kB; do
		[ -r "$d/nr_hugepages" ] || continue
		printf 'hugetlb:  %s pages: %s (%s free)\n' "${d##*hugepages-}" \
			"$(cat "$d/nr_hugepages")" "$(cat "$d/free_hugepages")"
	done
	thp=/sys/kernel/mm/transparent_hugepage
	[ -r $thp/enabled ] && echo "thp:      $(sed 's/.*\[\(.*\)\].*/\1/' $thp/enabled)," \
		"shmem $(sed 's/.*\[\(.*\)\].*/\1/' $thp/shmem_enabled)"
	# A hypervisor makes process wake-ups and first touches of memory dearer.
	echo "virt:     vm $(systemd-detect-virt --vm 2>/dev/null || echo none)," \
		"container $(systemd-detect-virt --container 2>/dev/null || echo none)"
	echo "mode:     $mode"
} | tee "$out/machine.txt"

status=0
for prog in "$@"; do
	name=$(basename "$prog")
	name=${name%.exe}
	name=${name%.sh}
	name=${name#bench-}
	echo
	if ! "$prog" -o "$out" 2>&1 | tee "$out/$name.txt"; then
		echo "run-bench: $prog failed" >&2
		status=1
		continue
	fi
	plot="$srcdir/bench/plot-$name.gp"
	if [ -f "$plot" ] && command -v gnuplot >/dev/null; then
		if gnuplot -e "outdir='$out'" "$plot"; then
			echo "plot: $out/$name.svg"
		else
			echo "run-bench: gnuplot failed on $plot" >&2
		fi
	elif [ -f "$plot" ]; then
		echo "plot: skipped (gnuplot not installed)"
	fi
done
echo
echo "results: $out/"
exit $status
