#!/usr/bin/env bash
# The main job: build bhc-arena, start bhc-arenad on its embedded defaults (no
# configuration file), and let real BHC clients lease hugepage regions from it.
#
#   scripts/run.sh [--once] [--clients N]
#
# As root, when the system has too few free 2 MiB hugepages for the warm pool,
# it reserves them for the run (vm.nr_hugepages) and gives them back at the end.
# The daemon listens on its default socket (/run/bhc-arena/arenad.sock as root,
# else $XDG_RUNTIME_DIR/bhc-arena/arenad.sock). After the clients have run it
# keeps serving until Ctrl-C; with --once (or CI=true) it stops instead.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
b="$top/build"
once=no
clients=4
[ "${CI:-}" = true ] && once=yes
while [ $# -gt 0 ]; do
	case "$1" in
	--once) once=yes; shift ;;
	--clients) clients=$2; shift 2 ;;
	-h|--help) sed -n '2,12p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
done

"$top/scripts/setup.sh"

if [ "$(id -u)" -eq 0 ]; then
	sock=/run/bhc-arena/arenad.sock
else
	sock="${XDG_RUNTIME_DIR:?set XDG_RUNTIME_DIR or run as root}/bhc-arena/arenad.sock"
fi
ctl() { "$b/ctl/bhc-arenactl" --socket "$sock" "$@"; }
if ctl status >/dev/null 2>&1; then
	echo "run.sh: a bhc-arenad already serves $sock; stop it first" >&2
	exit 1
fi

nr_path=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
old_nr=
log=$(mktemp /tmp/bhc-arenad.XXXXXX.log)
daemon_pid=
finish() {
	[ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" || true
	[ -n "$old_nr" ] && echo "$old_nr" >"$nr_path" && echo "run.sh: vm.nr_hugepages back to $old_nr"
	rm -f "$log"
}
trap finish EXIT
trap 'exit 130' INT TERM

# The embedded defaults keep 16M:4,64M:2 warm (96 pages) and each client takes
# a 64 MiB region (the warm ones are replaced); reserve room when we may.
want=$((96 + 64 + clients * 32 + 16))
free_now=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
if [ "$(id -u)" -eq 0 ] && [ "$free_now" -lt "$want" ] && [ -w "$nr_path" ]; then
	old_nr=$(cat "$nr_path")
	echo $((old_nr + want - free_now)) >"$nr_path"
	echo "run.sh: reserved $(($(cat "$nr_path") - old_nr)) 2 MiB hugepages for this run"
fi

echo "run.sh: starting bhc-arenad on embedded defaults (log: $log)"
"$b/daemon/bhc-arenad" --foreground >"$log" 2>&1 &
daemon_pid=$!
for _ in $(seq 600); do
	grep -q 'ready:' "$log" && break
	kill -0 "$daemon_pid" 2>/dev/null || { cat "$log"; exit 1; }
	sleep 0.1
done
grep -q 'ready:' "$log" || { echo "run.sh: daemon not ready after 60 s"; cat "$log"; exit 1; }
sed 's/^/  arenad| /' "$log"

echo
echo "run.sh: $clients BHC jobs lease regions from the daemon (BHC_ARENA_MODE=daemon)"
pids=()
for i in $(seq "$clients"); do
	BHC_ARENA_MODE=daemon BHC_ARENA_SOCKET="$sock" BHC_ARENA_TAG="job-$i" \
		"$b/examples/job" 4 64 | sed "s/^/  job-$i| /" &
	pids+=($!)
done
sleep 2
echo; ctl status; echo; ctl clients; echo; ctl regions
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
[ "$fail" -eq 0 ] || { echo "run.sh: a job failed"; exit 1; }
echo; echo "run.sh: all jobs done; their leases ended:"; ctl clients

if [ "$once" = yes ]; then
	echo "run.sh: stopping (--once)"
	exit 0
fi
echo
echo "run.sh: bhc-arenad serves $sock — point BHC programs at it with"
echo "  BHC_ARENA_SOCKET=$sock (root's default), inspect with $b/ctl/bhc-arenactl."
echo "run.sh: Ctrl-C stops it."
wait "$daemon_pid"
