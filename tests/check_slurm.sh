#!/usr/bin/env bash
# TAP: bhc_arena.so on a real single-node Slurm (bhc-arena-slurm(8)).
# As root, with loopback only and nothing of the system's touched: munged
# with a fresh key on a private socket, slurmctld -D and slurmd -D from a
# generated slurm.conf (private ports, state and spool), the SPANK plugin
# named by a private plugstack.conf, and a private bhc-arenad. Jobs run
# through sbatch and srun; the daemon's state is read with bhc-arenactl --json.
set -u
builddir=${abs_top_builddir:-$(pwd)}
daemon=${BHC_ARENAD:-$builddir/daemon/bhc-arenad}
ctl=${BHC_ARENACTL:-$builddir/ctl/bhc-arenactl}
holder="$builddir/tests/lease-holder"
plugin="$builddir/slurm/.libs/bhc_arena.so"
N=13
echo "1..$N"

skip_all() {
	for i in $(seq $N); do echo "ok $i # SKIP $1"; done
	exit 0
}
for p in slurmctld slurmd slurmstepd srun sbatch sinfo scontrol munged jq; do
	command -v "$p" >/dev/null || [ -x "/usr/sbin/$p" ] ||
		skip_all "$p is not installed (apt-get install slurm-wlm munge jq)"
done
[ -f "$plugin" ] || skip_all "bhc_arena.so was not built (configure --without-slurm, or no slurm/spank.h: apt-get install libslurm-dev)"
[ "$(id -u)" -eq 0 ] || skip_all "a private Slurm needs root"
# slurmstepd cannot load a plugin that needs a sanitizer runtime it does not have
if nm -D "$plugin" 2>/dev/null | grep -q '__asan_init\|__tsan_init\|__ubsan_handle'; then
	skip_all "bhc_arena.so is built with a sanitizer, which slurmstepd cannot load"
fi
PATH=$PATH:/usr/sbin

dir=$(mktemp -d /tmp/bhc-slurm.XXXXXX)
chmod 0755 "$dir"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	if [ -n "${KEEP_SLURM_TEST_DIR:-}" ]; then echo "# kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
bail() {
	echo "Bail out! $*"
	for f in "$dir"/*.log; do echo "# --- $f"; tail -n 30 "$f" | sed 's/^/# /'; done
	exit 1
}

# A free TCP port on loopback (none listening on it now).
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 20000))
		ss -Htln "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
	done
}

# --- munge -------------------------------------------------------------------
mkdir -m 0755 "$dir/munge"
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 0400 "$dir/munge/munge.key"
munged -F --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.sock" \
	--pid-file="$dir/munge/munged.pid" --seed-file="$dir/munge/seed" \
	--log-file="$dir/munged.log" >>"$dir/munged.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$dir/munge/munge.sock" ] && break; sleep 0.05; done
[ -S "$dir/munge/munge.sock" ] || bail "munged did not start"

# --- bhc-arenad --------------------------------------------------------------
sock="$dir/arenad.sock"
start_arenad() {
	"$daemon" --foreground --socket "$sock" --set pool.hugepages=off --set pool.warm=2M:2 \
		--set limits.total=256M --log-level=info >>"$dir/arenad.log" 2>&1 &
	arenad_pid=$!
	pids+=($arenad_pid)
	for _ in $(seq 100); do "$ctl" --socket "$sock" --json status >/dev/null 2>&1 && return 0; sleep 0.05; done
	bail "bhc-arenad did not start"
}
start_arenad
actl() { "$ctl" --socket "$sock" --json "$@"; }

# --- Slurm -------------------------------------------------------------------
host=$(hostname -s)
mkdir -p "$dir/state" "$dir/spool"
cat >"$dir/plugstack.conf" <<EOF
required $plugin mode=daemon socket=$sock budget=64M timeout=2000
EOF
cat >"$dir/slurm.conf" <<EOF
ClusterName=bhctest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldDebug=info
SlurmdDebug=${SLURMD_DEBUG:-info}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
PlugStackConfig=$dir/plugstack.conf
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
KillWait=2
MessageTimeout=10
NodeName=$host NodeAddr=127.0.0.1 CPUs=8 RealMemory=1000 State=UNKNOWN
PartitionName=bhc Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
export SLURM_CONF="$dir/slurm.conf"
slurmctld -D -i -f "$SLURM_CONF" >>"$dir/slurmctld.out.log" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$host" >>"$dir/slurmd.out.log" 2>&1 &
pids+=($!)

# 1: the node comes up idle
state=
for _ in $(seq 300); do
	state=$(sinfo -h -n "$host" -o %T 2>/dev/null)
	[ "$state" = idle ] && break
	sleep 0.1
done
if [ "$state" = idle ]; then
	echo "ok 1 - a private slurmctld and slurmd bring node $host up idle"
else
	bail "node $host is '$state', not idle"
fi

# The state of job $1 (COMPLETED, RUNNING, ...), empty once slurmctld forgets it.
job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
wait_running() {
	for _ in $(seq 200); do [ "$(job_state "$1")" = RUNNING ] && return 0; sleep 0.05; done
	return 1
}
wait_file() { # $1 holds a line
	for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done
	return 1
}
# Entries of job $1 in the daemon: the job itself, its clients, its regions.
job_entries() {
	echo $(($(actl status | jq --argjson j "$1" '[.jobs[] | select(.id == $j)] | length') +
		$(actl clients | jq --argjson j "$1" '[.clients[] | select(.job == $j)] | length') +
		$(actl regions | jq --argjson j "$1" '[.regions[] | select(.job == $j)] | length')))
}
# Wait until job $1 has ended, its epilog included (a job is COMPLETING until then).
wait_done() {
	local s
	for _ in $(seq 300); do
		s=$(job_state "$1")
		case $s in RUNNING | PENDING | CONFIGURING | COMPLETING) ;; *) return 0 ;; esac
		sleep 0.1
	done
	return 1
}

# 2: srun and sbatch tasks see their tag and mode
out=$(srun -n1 sh -c 'echo "$SLURM_JOB_ID.$SLURM_STEP_ID $BHC_ARENA_TAG $BHC_ARENA_MODE $BHC_ARENA_SOCKET"' 2>&1)
set -- $out
bid=$(sbatch --parsable --wait -o "$dir/batch-tag.out" --wrap 'echo "$BHC_ARENA_TAG"' 2>&1)
if [ "${2:-}" = "slurm-$1" ] && [ "${3:-}" = daemon ] && [ "${4:-}" = "$sock" ] &&
	[ "$(cat "$dir/batch-tag.out" 2>/dev/null)" = "slurm-$bid.batch" ]; then
	echo "ok 2 - tasks get BHC_ARENA_TAG=slurm-<job>.<step> ($2, slurm-$bid.batch) and BHC_ARENA_MODE"
else
	echo "not ok 2 - srun task saw '$out'; batch task saw '$(cat "$dir/batch-tag.out" 2>/dev/null)'"
fi
wait_done "$bid"

# Job A (budget 8M): the batch task holds 2M itself through a child, and a
# grandchild (in a subshell, with a tag of its own choosing) holds 2M more.
cat >"$dir/job-a.sh" <<EOF
#!/bin/sh
"$holder" --socket "$sock" --tag "\$BHC_ARENA_TAG" --regions 1 --size 2M --no-huge >"$dir/a1.json" &
h1=\$!
sh -c '"$holder" --socket "$sock" --tag not-a-job --regions 1 --size 2M --no-huge >"$dir/a2.json" & echo \$! >"$dir/a2.pid"; wait' &
while [ ! -e "$dir/a.release" ]; do sleep 0.1; done
kill \$h1 \$(cat "$dir/a2.pid"); wait
EOF
a=$(sbatch --parsable --bhc-arena=8M -o "$dir/job-a.out" "$dir/job-a.sh" 2>&1) ||
	bail "sbatch --bhc-arena=8M: $a"
wait_running "$a" && wait_file "$dir/a1.json" && wait_file "$dir/a2.json" ||
	bail "job A ($a) did not start its clients: $(cat "$dir/job-a.out" "$dir/a1.json" "$dir/a2.json" 2>&1)"
a1_pid=$(jq -r .pid "$dir/a1.json")
a2_pid=$(jq -r .pid "$dir/a2.json")

# 3: bhc-arenactl shows the job's leases under its id
clients=$(actl clients)
regions=$(actl regions)
jobs=$(actl status)
n_clients=$(echo "$clients" | jq --argjson j "$a" '[.clients[] | select(.job == $j)] | length')
n_regions=$(echo "$regions" | jq --argjson j "$a" '[.regions[] | select(.job == $j)] | length')
leased=$(echo "$jobs" | jq --argjson j "$a" '.jobs[] | select(.id == $j) | .leased')
budget=$(echo "$jobs" | jq --argjson j "$a" '.jobs[] | select(.id == $j) | .budget')
metrics=$("$ctl" --socket "$sock" metrics)
if [ "$n_clients" = 2 ] && [ "$n_regions" = 2 ] && [ "$leased" = $((4 << 20)) ] &&
	[ "$budget" = $((8 << 20)) ] &&
	echo "$metrics" | grep -qx "bhc_arena_job_leased_bytes{jobid=\"$a\"} $((4 << 20))"; then
	echo "ok 3 - bhc-arenactl clients, regions, status and metrics show job $a: 2 clients, 2 regions, 4M of an 8M budget"
else
	echo "not ok 3 - job $a: clients $n_clients, regions $n_regions, leased $leased, budget $budget"
	echo "$clients" "$jobs" | sed 's/^/# /'; echo "$metrics" | grep job_ | sed 's/^/# /'
fi

# 4: the grandchild, whose tag says otherwise, is the job's by its ancestry
row=$(echo "$clients" | jq -c --argjson p "$a2_pid" '.clients[] | select(.pid == $p)')
ppid=$(awk '{ print $4 }' "/proc/$a2_pid/stat" 2>/dev/null)
if [ "$(echo "$row" | jq .job)" = "$a" ] && [ "$(echo "$row" | jq -r .tag)" = not-a-job ] &&
	[ -n "$ppid" ] && [ "$ppid" != "$(awk '{ print $4 }' "/proc/$a1_pid/stat")" ]; then
	echo "ok 4 - a task's grandchild (pid $a2_pid, tag not-a-job) counts against job $a"
else
	echo "not ok 4 - grandchild row: $row (parent $ppid)"
fi

# 5, 6: job B (budget 4M) is refused past its budget with EDQUOT naming it,
# while job A, holding as much, is served another region in a new step.
b_out=$(srun --bhc-arena=4M -n1 sh -c '
	"'"$holder"'" --socket "'"$sock"'" --tag "$BHC_ARENA_TAG" --regions 1 --size 2M --no-huge &
	sleep 0.5
	"'"$holder"'" --socket "'"$sock"'" --tag "$BHC_ARENA_TAG" --regions 1 --size 4M --no-huge
	echo "JOB $SLURM_JOB_ID"; kill $!' 2>/dev/null)
b=$(echo "$b_out" | sed -n 's/^JOB //p')
granted=$(echo "$b_out" | grep '^{' | jq -s '[.[] | objects | select(.event == "holding")] | length' 2>/dev/null)
err=$(echo "$b_out" | grep '^{' | jq -s -c '[.[] | objects | select(.error)][0]' 2>/dev/null)
if [ -n "$b" ] && [ "$granted" = 1 ] && [ "$(echo "$err" | jq .error)" = 122 ] &&
	echo "$err" | jq -r .text | grep -q "^job $b .* > 4 MiB"; then
	echo "ok 5 - job $b: 2M granted, then 4M more refused: EDQUOT \"$(echo "$err" | jq -r .text)\""
else
	echo "not ok 5 - job B output:"; echo "$b_out" | sed 's/^/# /'
fi
a3=$(srun --jobid="$a" --overlap -n1 sh -c '
	"'"$holder"'" --socket "'"$sock"'" --tag "$BHC_ARENA_TAG" --regions 1 --size 2M --no-huge >/dev/null &
	sleep 0.5; "'"$ctl"'" --socket "'"$sock"'" --json clients --pid $!; kill $!' 2>&1)
if [ "$(echo "$a3" | jq '.clients[0].job')" = "$a" ] &&
	[ "$(echo "$a3" | jq -r '.clients[0].tag')" = "slurm-$a.0" ] &&
	[ "$(echo "$a3" | jq '.clients[0].leased')" = $((2 << 20)) ]; then
	echo "ok 6 - meanwhile job $a (6M of 8M) is served 2M more in step $a.0"
else
	echo "not ok 6 - step $a.0: $a3"
fi

[ -n "$b" ] && wait_done "$b"
# 7: job A's peak is what it held at most; B is gone with its step
peak=$(actl status | jq --argjson j "$a" '.jobs[] | select(.id == $j) | .peak')
if [ "$peak" = $((6 << 20)) ] && [ "$(actl status | jq --argjson j "${b:-0}" '[.jobs[] | select(.id == $j)] | length')" = 0 ]; then
	echo "ok 7 - job $a peaked at 6M; job $b is forgotten after its end"
else
	echo "not ok 7 - peak $peak; jobs: $(actl status | jq -c .jobs)"
fi

# 8: job A ends: no lease, client or job entry of it remains; the peak is in the Slurm log
touch "$dir/a.release"
wait_done "$a" || echo "# job $a did not end"
left=$(job_entries "$a")
if [ "$left" = 0 ] && grep -q "bhc_arena: job $a: peak arena use 6M (budget 8M" "$dir/slurmd.log"; then
	echo "ok 8 - after job $a ends nothing of it is left in the daemon; slurmd.log: $(grep -o "job $a: peak.*" "$dir/slurmd.log" | head -1)"
else
	echo "not ok 8 - $left entries of job $a remain"; grep "bhc_arena" "$dir/slurmd.log" | sed 's/^/# /'
fi

# 9: a client that escaped the job's process tree loses its lease at job end
cat >"$dir/job-d.sh" <<EOF
#!/bin/sh
sh -c '"$holder" --socket "$sock" --tag "\$BHC_ARENA_TAG" --regions 1 --size 2M --no-huge >"$dir/d.json" & echo \$! >"$dir/d.pid"; wait' &
inner=\$!
while [ ! -s "$dir/d.json" ]; do sleep 0.05; done
kill -9 \$inner
EOF
d=$(sbatch --parsable -o "$dir/job-d.out" "$dir/job-d.sh")
wait_file "$dir/d.json"
wait_done "$d" || echo "# job $d did not end"
d_pid=$(cat "$dir/d.pid" 2>/dev/null)
[ -n "$d_pid" ] && pids+=("$d_pid")
if [ -n "$d_pid" ] && kill -0 "$d_pid" 2>/dev/null &&
	[ "$(actl regions | jq '.regions | length')" = 0 ] &&
	[ "$(actl clients --pid "$d_pid" | jq '.clients | length')" = 0 ] &&
	[ "$(actl status | jq '.jobs | length')" = 0 ]; then
	echo "ok 9 - job $d's client (pid $d_pid) outlived the job, and job-end ended its lease"
else
	echo "not ok 9 - escaped client $d_pid alive: $(kill -0 "$d_pid" 2>/dev/null && echo yes || echo no)"
	{ actl status | jq -c .jobs; actl clients | jq -c '[.clients[] | {id, pid, job}]'; actl regions | jq -c '[.regions[] | {id, job}]'; } | sed 's/^/# /'
fi

# 10-12: with the daemon stopped, jobs still run and the node is not drained
kill "$arenad_pid"
for _ in $(seq 100); do kill -0 "$arenad_pid" 2>/dev/null || break; sleep 0.05; done
out=$(srun -n1 sh -c 'echo "ran $BHC_ARENA_TAG"' 2>&1)
if echo "$out" | grep -q '^ran slurm-'; then
	echo "ok 10 - with bhc-arenad stopped an srun task still runs"
else
	echo "not ok 10 - srun: $out"
fi
e=$(sbatch --parsable -o "$dir/job-e.out" --wrap 'echo ran')
wait_done "$e"
if [ "$(tail -n1 "$dir/job-e.out" 2>/dev/null)" = ran ] &&
	scontrol show job "$e" | grep -q 'JobState=COMPLETED.*' && scontrol show job "$e" | grep -q 'ExitCode=0:0'; then
	echo "ok 11 - with bhc-arenad stopped a batch job completes, exit code 0"
else
	echo "not ok 11 - job $e: $(job_state "$e"): $(cat "$dir/job-e.out" 2>/dev/null)"
fi
for _ in $(seq 100); do [ "$(sinfo -h -n "$host" -o %T)" = idle ] && break; sleep 0.1; done
node=$(scontrol show node "$host")
if [ "$(sinfo -h -n "$host" -o %T)" = idle ] && ! echo "$node" | grep -q 'Reason='; then
	echo "ok 12 - the node stays idle, not drained (the epilog logged and returned 0)"
else
	echo "not ok 12 - node: $(echo "$node" | grep -E 'State|Reason')"
fi

# 13: a bad --bhc-arena is refused at submission with a clear error, and nothing is queued
before=$(squeue -h | wc -l)
out=$(sbatch --bhc-arena=lots --wrap true 2>&1); rc=$?
if [ "$rc" -ne 0 ] && echo "$out" | grep -q -- '--bhc-arena=lots: not a size' &&
	[ "$(squeue -h | wc -l)" = "$before" ]; then
	echo "ok 13 - sbatch --bhc-arena=lots is refused: $(echo "$out" | grep -- '--bhc-arena' | head -1)"
else
	echo "not ok 13 - sbatch --bhc-arena=lots: exit $rc: $out"
fi
