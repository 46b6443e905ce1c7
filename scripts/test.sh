#!/usr/bin/env bash
# Build bhc-arena (installing Debian build dependencies when missing) and run
# the whole test suite: unit tests, integration tests against a real daemon,
# examples. Arguments go to scripts/setup.sh (e.g. --builddir DIR).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
builddir="$top/build"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	[ "${args[$i]}" = --builddir ] && builddir=$(realpath -m "${args[$((i + 1))]}")
done
"$top/scripts/setup.sh" "$@"
if ! make -C "$builddir" -j"$(nproc)" check; then
	echo "=== failed tests (logs from $builddir) ==="
	grep -l -E '^(FAIL|ERROR)' $(find "$builddir" -name '*.trs') 2>/dev/null | while read -r trs; do
		log="${trs%.trs}.log"
		echo "--- $log"; tail -n 60 "$log"
	done
	exit 1
fi
