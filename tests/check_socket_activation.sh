#!/usr/bin/env bash
# TAP: bhc-arenad under systemd's own socket-activation tool.
# systemd-socket-activate --seqpacket listens, starts the daemon on the first
# connection with the socket inherited (sd_listen_fds), and the client that
# knocked is served through it. The daemon never unlinks a socket it was handed.
set -u
builddir=${abs_top_builddir:-$(pwd)}
daemon=${BHC_ARENAD:-$builddir/daemon/bhc-arenad}
client="$builddir/examples/manual-arena"
echo "1..4"

if ! command -v systemd-socket-activate >/dev/null; then
	for i in 1 2 3 4; do echo "ok $i # SKIP systemd-socket-activate is not installed"; done
	exit 0
fi
if ! "$daemon" --version | grep -q '+systemd'; then
	for i in 1 2 3 4; do echo "ok $i # SKIP bhc-arenad was built without libsystemd"; done
	exit 0
fi

dir=$(mktemp -d /tmp/bhc-sockact.XXXXXX)
sock="$dir/arenad.sock"
act_pid=
cleanup() {
	[ -n "$act_pid" ] && kill "$act_pid" 2>/dev/null && wait "$act_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

systemd-socket-activate --seqpacket -l "$sock" \
	"$daemon" --foreground --set pool.hugepages=off --set pool.warm=2M:1 \
	--set limits.total=64M >"$dir/daemon.log" 2>&1 &
act_pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done

# 1: nothing runs until somebody connects.
sleep 0.3
if [ -S "$sock" ] && [ "$(cat /proc/$act_pid/comm)" = systemd-socket- ]; then
	echo "ok 1 - the socket exists and the daemon has not started yet"
else
	echo "not ok 1 - socket missing or daemon started early"; sed 's/^/# /' "$dir/daemon.log"
fi

# 2: the first client starts the daemon and is served through the inherited socket.
out=$(BHC_ARENA_MODE=daemon BHC_ARENA_SOCKET="$sock" BHC_ARENA_TIMEOUT_MS=20000 "$client" 2>&1)
if echo "$out" | grep -q '^ok 1' && echo "$out" | grep -q 'daemon region'; then
	echo "ok 2 - a client in daemon mode is served by the activated daemon"
else
	echo "not ok 2 - client not served"; echo "$out" | sed 's/^/# /'; sed 's/^/# /' "$dir/daemon.log"
fi

# 3: the tool exec'd the daemon, which says it took the socket from systemd.
if [ "$(cat /proc/$act_pid/comm)" = bhc-arenad ] && grep -q 'socket activation' "$dir/daemon.log"; then
	echo "ok 3 - the daemon uses the inherited socket (sd_listen_fds)"
else
	echo "not ok 3 - no socket activation in the log"; sed 's/^/# /' "$dir/daemon.log"
fi

# 4: stopping the daemon leaves the socket that systemd owns.
kill -TERM "$act_pid"; wait "$act_pid"; rc=$?; act_pid=
if [ "$rc" -eq 0 ] && [ -S "$sock" ]; then
	echo "ok 4 - SIGTERM stops the daemon cleanly and the inherited socket stays"
else
	echo "not ok 4 - exit status $rc, socket present: $([ -S "$sock" ] && echo yes || echo no)"
	sed 's/^/# /' "$dir/daemon.log"
fi
