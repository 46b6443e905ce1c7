#!/usr/bin/env bash
# Soak bhc-arenad: N client processes on libbhc-arena doing acquire / write /
# verify / release cycles for S seconds with random SIGKILLs, then compare
# the daemon's descriptors, RSS, HugePages_Free and leases with the start
# (tests/soak.c says exactly what is checked).
#
#   scripts/soak.sh [--builddir DIR] [SOAK-OPTIONS...]
#
# SOAK-OPTIONS: --clients N (100) --seconds S (30) --kills-per-second K (4)
# --max-mib M (4) --hugepages N (16) --rss-slack KIB (8192). The long run
# recorded in RELIABILITY.md: scripts/soak.sh --clients 300 --seconds 300
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
builddir="$top/build"
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--builddir) builddir=$(realpath -m "$2"); shift 2 ;;
	-h|--help) sed -n '2,12p' "$0"; exit 0 ;;
	*) args+=("$1"); shift ;;
	esac
done
make -C "$builddir" -s daemon/bhc-arenad tests/soak >/dev/null
export BHC_ARENAD="$builddir/daemon/bhc-arenad"
# hundreds of clients: room for their processes and the daemon's descriptors
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec "$builddir/tests/soak" "${args[@]}"
