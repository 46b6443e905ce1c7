#!/usr/bin/env bash
# Run the libFuzzer targets (built by `make fuzz`) on their seed corpora.
#
#   scripts/fuzz-run.sh [--builddir DIR] [--time SECONDS | --runs N] [--jobs N]
#                       [--out DIR] [TARGET...]
#
# TARGET is proto, config or admin (default: all three). Each target runs
# for SECONDS (default 30) or N executions, whichever was given, on a
# scratch copy of fuzz/corpus/<target> merged with what it finds (the
# checked-in corpus is not modified; --out DIR keeps the grown corpora and
# the logs there). A crash, leak, sanitizer report or timeout fails the
# run: the reproducer is saved as DIR/crash-<target>-* and the script exits
# 1. At the end it prints one line per target: executions, rate, coverage
# (libFuzzer's "cov" edges and "ft" features), corpus size and time.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
builddir="$top/build-fuzz"
time_s=30
runs=
out=
targets=()
while [ $# -gt 0 ]; do
	case "$1" in
	--builddir) builddir=$(realpath -m "$2"); shift 2 ;;
	--time) time_s=$2; runs=; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--out) out=$(realpath -m "$2"); shift 2 ;;
	-h|--help) sed -n '2,15p' "$0"; exit 0 ;;
	proto|config|admin) targets+=("$1"); shift ;;
	*) echo "fuzz-run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ ${#targets[@]} -gt 0 ] || targets=(proto config admin)
if [ -z "$out" ]; then
	out=$(mktemp -d /tmp/bhc-fuzz.XXXXXX)
	trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"

make -C "$builddir" -s fuzz >/dev/null

fail=0
summary=()
for t in "${targets[@]}"; do
	bin="$builddir/fuzz/fuzz-$t"
	corpus="$out/corpus-$t"
	log="$out/fuzz-$t.log"
	mkdir -p "$corpus"
	cp -n "$top/fuzz/corpus/$t"/* "$corpus"/ 2>/dev/null || true
	args=(-rss_limit_mb=2048 -timeout=10 -max_len=4096 -print_final_stats=1
		-artifact_prefix="$out/crash-$t-")
	if [ -n "$runs" ]; then
		args+=(-runs="$runs")
	else
		args+=(-max_total_time="$time_s")
	fi
	t0=$(date +%s)
	rc=0
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		"$bin" "${args[@]}" "$corpus" >"$log" 2>&1 || rc=$?
	t1=$(date +%s)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -1 || true)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	ncorp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
	line=$(printf '%-7s execs %-10s rate %-8s/s cov %-5s ft %-6s corpus %-5s time %ss' \
		"$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${ncorp:-?}" $((t1 - t0)))
	if [ $rc -ne 0 ]; then
		fail=1
		line="$line  FAILED (exit $rc, log $log)"
		echo "=== fuzz-$t failed; the end of its log:" >&2
		tail -n 60 "$log" >&2
		ls "$out"/crash-"$t"-* 2>/dev/null >&2 || true
	fi
	summary+=("$line")
done
printf '%s\n' "${summary[@]}"
if [ $fail -ne 0 ]; then
	trap - EXIT
	echo "fuzz-run.sh: failures; reproducers and logs kept in $out" >&2
	exit 1
fi
