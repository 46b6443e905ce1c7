#!/usr/bin/env bash
# CI for reliability and security (RELIABILITY.md): called from .ci/run after
# the main build. Bounded: about 10 minutes on a 2-core machine. Exits
# non-zero on the first failing step.
#
#   scripts/ci-reliability.sh [--builddir DIR] [--fuzz-seconds N] [--soak-clients N]
#                             [--soak-seconds N]
#
# Steps:
#   1. the libFuzzer targets built with clang (build-fuzz/), each run for
#      --fuzz-seconds (60) on its corpus: no crash, leak or sanitizer report
#   2. cppcheck and clang-tidy clean (scripts/lint.sh)
#   3. the threaded client tests under ThreadSanitizer, really run (a skip fails)
#   4. the daemon's integration tests once with the daemon under Valgrind
#      memcheck: no error, no definite or indirect leak
#   5. a short soak: --soak-clients (100) clients for --soak-seconds (30)
#      with random SIGKILLs, nothing left behind
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
builddir="$top/build"
fuzz_seconds=60
soak_clients=100
soak_seconds=30
while [ $# -gt 0 ]; do
	case "$1" in
	--builddir) builddir=$(realpath -m "$2"); shift 2 ;;
	--fuzz-seconds) fuzz_seconds=$2; shift 2 ;;
	--soak-clients) soak_clients=$2; shift 2 ;;
	--soak-seconds) soak_seconds=$2; shift 2 ;;
	-h|--help) sed -n '2,18p' "$0"; exit 0 ;;
	*) echo "ci-reliability.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
cd "$top"
t0=$(date +%s)
step() { printf '\n--- [%4ds] reliability: %s\n' $(($(date +%s) - t0)) "$*"; }

# Tools beyond scripts/setup.sh's list, installed the same way (Debian, as root).
need=()
for p in cppcheck clang-tidy valgrind stress-ng clang libclang-rt-14-dev; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "ci-reliability.sh: missing packages: ${need[*]}" >&2
		exit 1
	fi
	step "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
[ -f "$builddir/Makefile" ] || "$top/scripts/setup.sh" --no-deps --builddir "$builddir"
make -C "$builddir" -s -j"$(nproc)" >/dev/null

step "fuzz targets (clang, -fsanitize=fuzzer,address,undefined), ${fuzz_seconds} s each"
fuzzdir="$top/build-fuzz"
mkdir -p "$fuzzdir"
if [ ! -f "$fuzzdir/Makefile" ] || [ "$top/configure" -nt "$fuzzdir/Makefile" ]; then
	(cd "$fuzzdir" && CC=clang "$top/configure" -q --enable-werror >/dev/null)
fi
make -C "$fuzzdir" -s -j"$(nproc)" fuzz
scripts/fuzz-run.sh --builddir "$fuzzdir" --time "$fuzz_seconds"

step "lint: cppcheck and clang-tidy"
scripts/lint.sh --builddir "$builddir"

step "ThreadSanitizer: threaded client tests"
tsan=(tests/check_arena_threads_tsan tests/check_client_daemon_tsan)
rm -f "${tsan[@]/#/$builddir/}"
make -C "$builddir" -s check TESTS="${tsan[*]}"
for t in "${tsan[@]}"; do
	if grep -q '^SKIP' "$builddir/$t.log" || grep -q '# SKIP' "$builddir/$t.log"; then
		echo "ci-reliability.sh: $t was skipped:" >&2
		cat "$builddir/$t.log" >&2
		exit 1
	fi
	echo "$t: $(grep -c '^ok' "$builddir/$t.log") passed under TSan"
done

step "Valgrind memcheck: the daemon under the integration tests"
vg_tests="tests/check_daemon tests/check_daemon_regions tests/check_daemon_cli"
vg_tests+=" tests/check_client_daemon tests/check_reliability"
BHC_TEST_DAEMON_WRAPPER="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
--errors-for-leak-kinds=definite,indirect --error-exitcode=99" \
	make -C "$builddir" -s check TESTS="$vg_tests" || {
	for t in $vg_tests; do
		grep -qE '^:test-result: (FAIL|ERROR)' "$builddir/$t.trs" 2>/dev/null &&
			tail -n 80 "$builddir/$t.log" >&2
	done
	exit 1
}

step "soak: $soak_clients clients for $soak_seconds s with random SIGKILLs"
scripts/soak.sh --builddir "$builddir" --clients "$soak_clients" --seconds "$soak_seconds"

step "done in $(($(date +%s) - t0)) s"
