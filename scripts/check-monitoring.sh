#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# contrib/monitoring: the Prometheus alerting rules and the Grafana dashboard.
# Prints TAP.
#  1. promtool check rules;
#  2. promtool test rules (bhc-arena-alerts.test.yml);
#  3. every alert has a test where it fires and one where it must not;
#  4. the dashboard is valid JSON and every query parses as PromQL;
#  5. every bhc_arena_* series the rules and the dashboard use is one that
#     `bhc-arenactl metrics` really prints: read from a real daemon (the
#     build's, on a private socket) or from FILE.
#
#   scripts/check-monitoring.sh [--metrics FILE] [BUILDDIR]   (default: build)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
mon=$top/contrib/monitoring
metrics=
while [ $# -gt 0 ]; do
	case "$1" in
	--metrics)
		if [ -s "$2" ]; then metrics=$(realpath "$2"); else
			echo "# no $2: reading a live daemon instead"; fi
		shift 2 ;;
	-h|--help) sed -n '2,13p' "$0"; exit 0 ;;
	*) break ;;
	esac
done
builddir=$(realpath -m "${1:-$top/build}")

if [ "${CI:-}" = true ] && [ "$(id -u)" -eq 0 ]; then
	apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends \
		prometheus python3-yaml jq >/dev/null
fi
for t in promtool python3 jq; do
	command -v $t >/dev/null || { echo "1..0 # SKIP $t not installed (apt-get install prometheus python3-yaml jq)"; exit 0; }
done
python3 -c 'import yaml' 2>/dev/null || { echo "1..0 # SKIP python3-yaml not installed"; exit 0; }

tmp=$(mktemp -d)
daemon_pid=
cleanup() {
	[ -z "$daemon_pid" ] || { kill "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null; }
	rm -rf "$tmp"
}
trap cleanup EXIT
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); fail=1; echo "not ok $n - $*"; }
comment() { sed 's/^/# /'; }
check() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$what"; else not_ok "$what"; echo "$out" | comment; fi
}

cd "$mon"
check "promtool check rules bhc-arena-alerts.yml" promtool check rules bhc-arena-alerts.yml
check "promtool test rules bhc-arena-alerts.test.yml" promtool test rules bhc-arena-alerts.test.yml

# alert -> does some test expect it to fire, and some test expect it not to?
if out=$(python3 - <<'EOF' 2>&1
import yaml
rules = yaml.safe_load(open("bhc-arena-alerts.yml"))
tests = yaml.safe_load(open("bhc-arena-alerts.test.yml"))
alerts = [r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r]
fires, quiet = set(), set()
for t in tests["tests"]:
    for a in t.get("alert_rule_test", []):
        (fires if a.get("exp_alerts") else quiet).add(a["alertname"])
bad = [a for a in alerts if a not in fires or a not in quiet]
for a in bad:
    print(f"{a}: fires in a test: {a in fires}, silent in a test: {a in quiet}")
print(f"{len(alerts)} alerts: {', '.join(alerts)}")
raise SystemExit(1 if bad or not alerts else 0)
EOF
); then
	ok "every alert has a test that fires it and one where it must stay silent"
else
	not_ok "alerts without both kinds of test"
fi
echo "$out" | comment

# The dashboard's queries, with Grafana's variables filled in, as recording
# rules: promtool then parses each one.
dash=bhc-arena-dashboard.json
if jq -e '.uid == "bhc-arena" and (.panels | length) > 0' "$dash" >/dev/null &&
	jq -r '.. | objects | select(has("expr")) | .expr' "$dash" >"$tmp/exprs" &&
	[ -s "$tmp/exprs" ]; then
	python3 - "$tmp/exprs" >"$tmp/dash-rules.yml" <<'EOF'
import sys, yaml
exprs = [l.rstrip("\n") for l in open(sys.argv[1]) if l.strip()]
fill = lambda e: e.replace("$__rate_interval", "5m").replace("$node", ".*")
rules = [{"record": f"dashboard:query{i}", "expr": fill(e)} for i, e in enumerate(exprs)]
print(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
EOF
	check "the dashboard is JSON and its $(wc -l <"$tmp/exprs") queries parse as PromQL" \
		promtool check rules "$tmp/dash-rules.yml"
else
	not_ok "$dash: not JSON, or no panel with a query"
fi

# The live exposition: a real daemon from BUILDDIR on a private socket.
if [ -z "$metrics" ]; then
	if [ -x "$builddir/daemon/bhc-arenad" ] && [ -x "$builddir/ctl/bhc-arenactl" ]; then
		metrics=$tmp/metrics.prom
		exec 9>/tmp/bhc-test.lock
		flock 9
		"$builddir/daemon/bhc-arenad" --foreground --config /dev/null --socket "$tmp/sock" \
			--set pool.warm=2M:1 --set limits.total=16M >"$tmp/daemon.log" 2>&1 &
		daemon_pid=$!
		for _ in $(seq 100); do
			"$builddir/ctl/bhc-arenactl" -s "$tmp/sock" status >/dev/null 2>&1 && break
			sleep 0.1
		done
		# a client holding a lease, so that the per-tag families are printed
		gcc -o "$tmp/client" "$top/tests/deb-client.c" -I"$top/include" \
			"$builddir/client/.libs/libbhc-arena.so" -Wl,-rpath,"$builddir/client/.libs"
		coproc CLIENT { BHC_ARENA_MODE=daemon BHC_ARENA_SOCKET=$tmp/sock \
			BHC_ARENA_TAG=check-monitoring "$tmp/client"; }
		exec {cin}<&"${CLIENT[0]}" {cout}>&"${CLIENT[1]}"
		read -r -t 20 line <&$cin || line=
		echo "# client: $line"
		"$builddir/ctl/bhc-arenactl" -s "$tmp/sock" metrics >"$metrics" || true
		echo done >&$cout
		wait "$CLIENT_PID" || true
		exec {cin}<&- {cout}>&-
		kill "$daemon_pid"; wait "$daemon_pid" || true; daemon_pid=
		flock -u 9
	fi
fi
grep -oh 'bhc_arena_[a-z][a-z_]*' bhc-arena-alerts.yml "$dash" | sort -u >"$tmp/used"
if [ -n "$metrics" ] && grep -q '^bhc_arena_up 1$' "$metrics"; then
	sed -n 's/^# TYPE \(bhc_arena_[a-z_]*\) .*/\1/p' "$metrics" | sort -u >"$tmp/have"
	check "promtool check metrics accepts the live exposition" \
		promtool check metrics <"$metrics"
	missing=$(comm -23 "$tmp/used" "$tmp/have")
	if [ -z "$missing" ]; then
		ok "all $(wc -l <"$tmp/used") bhc_arena_* series the rules and the dashboard use are in the live exposition"
	else
		not_ok "series used but not printed by bhc-arenactl metrics:"; echo "$missing" | comment
	fi
	missing=$(comm -13 "$tmp/used" "$tmp/have")
	[ -z "$missing" ] || echo "# printed but on no panel: $(echo $missing)"
elif [ -n "$metrics" ]; then
	not_ok "no live exposition (bhc_arena_up 1) in $metrics"
	cat "$tmp/daemon.log" 2>/dev/null | comment
else
	n=$((n + 1)); echo "ok $n # SKIP series not checked: no daemon in $builddir (build first)"
fi
echo "1..$n"
exit $fail
