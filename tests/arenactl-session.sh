#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Capture a real bhc-arenactl session for the README: a private bhc-arenad,
# three examples/job clients linked with libbhc-arena (two as root, one as
# nobody), and the commands' output.
#
#   tests/arenactl-session.sh BUILDDIR > docs/arenactl-session.txt
#
# Needs root (runuser, and 300 extra 2 MiB hugepages for the duration, taken
# under the tests' hugepage lock and given back at the end).
set -u
[ $# -eq 1 ] || { echo "usage: $0 BUILDDIR > docs/arenactl-session.txt" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "$0: needs root" >&2; exit 1; }
# hugepages for the session, under the tests' lock, given back at the end
exec 9>/tmp/bhc-arena-test-hugepages.lock
flock 9
NR=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
OLD=$(cat $NR)
echo $((OLD + 300)) > $NR
trap 'echo $OLD > $NR' EXIT
B=$(cd "$1" && pwd)
D=$(mktemp -d /tmp/arenactl-session-XXXXXX)
chmod 755 "$D"
cat > "$D/arenad.conf" <<CONF
[daemon]
socket = $D/arenad.sock
socket_mode = 0666
[pool]
hugepages = prefer
warm = 16M:4,64M:2
max_region_size = 256M
[limits]
total = 1G
CONF
"$B/daemon/bhc-arenad" --config "$D/arenad.conf" > "$D/daemon.log" 2>&1 &
DPID=$!
for i in $(seq 100); do [ -S "$D/arenad.sock" ] && break; sleep 0.05; done
sleep 1
export BHC_ARENA_SOCKET="$D/arenad.sock" BHC_ARENA_MODE=daemon
# make sure the libtool wrapper has built its binary before another uid runs it
"$B/examples/job" 0 16 > /dev/null
BHC_ARENA_TAG=job-4711 "$B/examples/job" 120 64 > "$D/j1.out" &
J1=$!
BHC_ARENA_TAG=job-4711 "$B/examples/job" 120 16 > "$D/j2.out" &
J2=$!
runuser -u nobody -- env BHC_ARENA_SOCKET="$D/arenad.sock" BHC_ARENA_MODE=daemon BHC_ARENA_TAG=job-4712 "$B/examples/job" 120 64 > "$D/j3.out" &
J3=$!
sleep 2
PATH="$B/client:$PATH"
export COLUMNS=100
run() {
	echo "\$ $*"
	"$@" 2>&1
	echo
}
{
	echo "# A private bhc-arenad (warm 16M:4,64M:2, total 1G, hugepages = prefer) and three"
	echo "# examples/job clients linked with libbhc-arena: two ranks of job-4711 (root) and"
	echo "# job-4712 (user nobody). Captured with COLUMNS=100 by tests/arenactl-session.sh."
	echo
	run bhc-arenactl status
	run bhc-arenactl clients
	run bhc-arenactl regions
	run bhc-arenactl regions --tag job-4712 --json
	echo "\$ bhc-arenactl metrics | head -40"
	bhc-arenactl metrics | head -40
	echo
	echo "\$ bhc-arenactl metrics | promtool check metrics && echo valid"
	bhc-arenactl metrics | promtool check metrics 2>&1 && echo valid
	echo
	run runuser -u nobody -- bhc-arenactl clients
	echo "\$ runuser -u nobody -- bhc-arenactl pool set --total 2G; echo \"exit status \$?\""
	runuser -u nobody -- bhc-arenactl pool set --total 2G 2>&1
	echo "exit status $?"
	echo
	run bhc-arenactl pool set --warm 16M:8 --total 2G
	run bhc-arenactl watch --count 1 --width 100
}
kill $J1 $J2 $J3 2>/dev/null
wait $J1 $J2 $J3 2>/dev/null
kill $DPID
wait $DPID
rm -rf "$D"
