#!/bin/sh
# The figures of RELIABILITY.md's hostile-client rows: run tests/check_hostile
# (real hostile processes against a real bhc-arenad) RUNS times under the
# test lock and print each run's measured lines: the honest client's
# acquire p50/p99 under each attack next to the same without it, and the
# daemon's VmRSS before and after.
#
#   scripts/hostile-figures.sh [--builddir DIR] [--runs N]
set -eu
builddir=build
runs=1
while [ $# -gt 0 ]; do
	case "$1" in
	--builddir) builddir=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	-h|--help) sed -n '2,8p' "$0"; exit 0 ;;
	*) echo "hostile-figures.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
i=1
while [ "$i" -le "$runs" ]; do
	echo "== run $i"
	flock /tmp/bhc-test.lock make -C "$builddir" check TESTS=tests/check_hostile >/dev/null 2>&1 ||
		echo "(some case failed: see $builddir/tests/check_hostile.log)"
	grep -E '^# |^(not )?ok' "$builddir/tests/check_hostile.log"
	i=$((i + 1))
done
