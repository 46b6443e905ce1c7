#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian packages' life cycle, on this host, as root. Prints TAP.
#  1. build the .debs with dpkg-buildpackage from a clean copy of the tree
#     (the files git knows, nothing built) and from the previous commit with a
#     lower version (its own debian/, or today's if it has none);
#  2. lintian: no error and no warning that debian/*lintian-overrides does not
#     list with its reason;
#  3. install the previous packages, then upgrade to the new ones (a changed
#     conffile is kept);
#  4. run the installed daemon by hand as bhc-arena on a private socket, a
#     client built against the installed -dev package (and the one built
#     against the previous -dev package, on the new library), and
#     `bhc-arenactl status`, `clients --json`, `metrics`;
#  5. remove (the conffile stays), purge: no file is left behind that no
#     package owns, the units are no longer enabled.
# systemd need not be PID 1: the maintainer scripts must work without it.
#
#   scripts/check-deb.sh [--no-upgrade] [--metrics-out FILE]
#
# --metrics-out keeps the live `bhc-arenactl metrics` output for
# scripts/check-monitoring.sh. CI=true installs the build tools with apt-get.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
upgrade=yes
metrics_out=
while [ $# -gt 0 ]; do
	case "$1" in
	--no-upgrade) upgrade=no; shift ;;
	--metrics-out) metrics_out=$(realpath -m "$2"); shift 2 ;;
	-h|--help) sed -n '2,22p' "$0"; exit 0 ;;
	*) echo "check-deb.sh: unknown option $1" >&2; exit 2 ;;
	esac
done

pkgs=(bhc-arenad bhc-arenactl libbhc-arena0 libbhc-arena-dev slurm-bhc-arena)
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip_all "installs packages: needs root"
export DEBIAN_FRONTEND=noninteractive
apt_get() { apt-get -o DPkg::Lock::Timeout=300 -y -q "$@"; }
if [ "${CI:-}" = true ]; then
	apt_get install --no-install-recommends debhelper dpkg-dev lintian fakeroot \
		gcc pkg-config jq >/dev/null
	apt_get build-dep "$top" >/dev/null
fi
for t in dpkg-buildpackage dh lintian gcc pkg-config jq git; do
	command -v $t >/dev/null || skip_all "$t not installed (apt-get install debhelper lintian jq)"
done
for p in "${pkgs[@]}"; do
	if dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qv '^not-installed$'; then
		skip_all "$p is already on this host; this test installs and purges it"
	fi
done
for f in /usr/sbin/bhc-arenad /usr/bin/bhc-arenactl /etc/bhc-arena; do
	[ ! -e "$f" ] || skip_all "$f exists (make install?); this test would remove it"
done

work=$(mktemp -d /tmp/bhc-deb.XXXXXX)
chmod 755 "$work"
daemon_pid= installed=no
cleanup() {
	local rc=$?
	set +e
	[ -z "$daemon_pid" ] || { kill "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null; }
	[ "$installed" = no ] || dpkg --purge "${pkgs[@]}" >/dev/null 2>&1
	rm -rf "$work"
	exit $rc
}
trap cleanup EXIT

n=0 fail=0 start=$(date +%s)
phase() { echo "# [$(($(date +%s) - start)) s] $*"; }
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); fail=1; echo "not ok $n - $*"; }
check() { # check DESCRIPTION COMMAND...: ok if COMMAND succeeds
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$what"; else
		not_ok "$what"; [ -z "$out" ] || echo "$out" | tail -n 20 | comment
	fi
}
comment() { sed 's/^/# /'; }

# --- 1. build ------------------------------------------------------------------
# build DIR: the .debs land in DIR, the source tree is DIR/src
build() {
	(cd "$1/src" && DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" \
		dpkg-buildpackage -us -uc -b -j"$(nproc)") >"$1/build.log" 2>&1
}
debs() { ls "$1"/*.deb | grep -v -- '-dbgsym_'; }

mkdir -p "$work/cur/src"
# the files git knows (a file deleted in the work tree stays out), nothing built
(cd "$top" && git ls-files -z -co --exclude-standard |
	while IFS= read -r -d '' f; do [ ! -e "$f" ] && [ ! -L "$f" ] || printf '%s\0' "$f"; done |
	tar --null -T - -cf -) | tar -xf - -C "$work/cur/src"
cur_ver=$(dpkg-parsechangelog -l "$work/cur/src/debian/changelog" -S Version)
ac_ver=$(sed -n 's/^AC_INIT(\[bhc-arena\], \[\([^]]*\)\].*/\1/p' "$top/configure.ac")
check "debian/changelog's version $cur_ver is configure.ac's $ac_ver" \
	test "${cur_ver%%-*}" = "$ac_ver"
t0=$(date +%s)
if build "$work/cur"; then
	ok "dpkg-buildpackage -us -uc -b: $(debs "$work/cur" | xargs -n1 basename | tr '\n' ' ')($(($(date +%s) - t0)) s)"
else
	not_ok "dpkg-buildpackage -us -uc -b"; tail -n 30 "$work/cur/build.log" | comment
	echo "1..$n"; exit 1
fi

prev=
if [ "$upgrade" = no ]; then
	echo "# upgrade: skipped (--no-upgrade)"
elif ! prev=$(git -C "$top" rev-parse -q --verify 'HEAD~1^{commit}'); then
	prev=; echo "# upgrade: skipped (no previous commit: shallow clone?)"
else
	mkdir -p "$work/prev/src"
	git -C "$top" archive "$prev" | tar -xf - -C "$work/prev/src"
	if [ ! -d "$work/prev/src/debian" ]; then
		cp -a "$work/cur/src/debian" "$work/prev/src/"
		echo "# previous commit ${prev:0:12} has no debian/: built with today's"
	fi
	base=$(dpkg-parsechangelog -l "$work/prev/src/debian/changelog" -S Version)
	prev_ver="$base~prev.${prev:0:12}"
	{
		printf 'bhc-arena (%s) unstable; urgency=medium\n\n' "$prev_ver"
		printf '  * Commit %s, for the upgrade test.\n\n' "$prev"
		printf ' -- check-deb.sh <root@localhost>  %s\n\n' "$(date -R)"
		cat "$work/prev/src/debian/changelog"
	} >"$work/prev/changelog" && mv "$work/prev/changelog" "$work/prev/src/debian/changelog"
	t0=$(date +%s)
	if build "$work/prev" && dpkg --compare-versions "$prev_ver" lt "$cur_ver"; then
		ok "previous commit ${prev:0:12} builds as $prev_ver < $cur_ver ($(($(date +%s) - t0)) s)"
	else
		not_ok "previous commit ${prev:0:12} builds as $prev_ver"
		tail -n 30 "$work/prev/build.log" | comment; prev=
	fi
fi

# --- 2. lintian -----------------------------------------------------------------
phase lintian
if out=$(lintian --fail-on error,warning -I --pedantic "$work"/cur/*.changes 2>&1); then
	ok "lintian: no error, no warning without an override"
else
	not_ok "lintian"
fi
echo "$out" | grep -v 'running with root privileges' | comment || true

# --- 3. install, upgrade ---------------------------------------------------------
# The packages change the host (users, /run/bhc-arena, /usr/lib): hold the
# test lock from install to purge so no other test runs meanwhile.
phase "install, upgrade (waiting for /tmp/bhc-test.lock)"
exec 9>/tmp/bhc-test.lock
flock 9
phase "install, upgrade"
# Files that no package owns, from the trees packages write to (before/after).
snapshot() {
	{
		find /etc /lib/systemd /usr/bin /usr/sbin /usr/lib /usr/include /usr/share/doc \
			/usr/share/man /usr/share/bash-completion /var/lib/systemd -xdev 2>/dev/null
		[ ! -e /run/bhc-arena ] || echo /run/bhc-arena
	} | LC_ALL=C sort
}
snapshot >"$work/before"
echo "# PID 1 is $(ps -o comm= -p 1)$([ -d /run/systemd/system ] && echo ' (systemd runs)' || echo ': no systemd; the maintainer scripts must cope')"

installed=yes
if [ -n "$prev" ]; then
	if out=$(apt_get install $(debs "$work/prev") 2>&1); then
		ok "apt-get install the $prev_ver packages"
		echo "# local change (check-deb.sh)" >>/etc/bhc-arena/arenad.conf
		# a client of the previous API, to run on the new library
		gcc -O2 -o "$work/client-prev" "$top/tests/deb-client.c" \
			$(pkg-config --cflags --libs bhc-arena) 2>&1 | comment || true
	else
		not_ok "apt-get install the $prev_ver packages"; echo "$out" | tail -n 20 | comment; prev=
	fi
fi
if out=$(apt_get -o Dpkg::Options::=--force-confold install $(debs "$work/cur") 2>&1); then
	ok "apt-get install ${prev:+(upgrade) }the $cur_ver packages"
else
	not_ok "apt-get install the $cur_ver packages"; echo "$out" | tail -n 30 | comment
	echo "1..$n"; exit 1
fi
vers=$(dpkg-query -W -f='${Version} ' "${pkgs[@]}")
check "all ${#pkgs[@]} packages are at $cur_ver" test "$vers" = "$(printf "$cur_ver %.0s" "${pkgs[@]}")"
[ -z "$prev" ] || check "the upgrade kept the locally changed conffile" \
	grep -qx '# local change (check-deb.sh)' /etc/bhc-arena/arenad.conf
check "users and groups exist (systemd-sysusers in postinst)" bash -c \
	'getent passwd bhc-arena && getent group bhc-arena-users bhc-arena-admin'
check "the socket unit is enabled (deb-systemd-helper, systemd not running)" \
	test -L /etc/systemd/system/sockets.target.wants/bhc-arenad.socket
check "/etc/bhc-arena/arenad.conf is a conffile" \
	grep -qx /etc/bhc-arena/arenad.conf /var/lib/dpkg/info/bhc-arenad.conffiles
check "bhc-arenad --check-config accepts the installed configuration" \
	/usr/sbin/bhc-arenad --check-config --config /etc/bhc-arena/arenad.conf
check "systemd-analyze verify: the installed units, no warning" bash -c \
	'out=$(systemd-analyze verify /lib/systemd/system/bhc-arenad.socket \
		/lib/systemd/system/bhc-arenad.service 2>&1) && [ -z "$out" ] || { echo "$out"; exit 1; }'
check "bash completion for bhc-arenactl loads" bash -c \
	'. /usr/share/bash-completion/completions/bhc-arenactl && complete -p bhc-arenactl'
if out=$(gcc -O2 -Wall -o "$work/client" "$top/tests/deb-client.c" \
	$(pkg-config --cflags --libs bhc-arena) 2>&1 && ldd "$work/client") &&
	grep -Eq "libbhc-arena.so.0 => (/usr)?/lib/[^/]+/libbhc-arena.so.0 " <<<"$out"; then
	ok "a client builds with pkg-config against libbhc-arena-dev and links the installed library"
else
	not_ok "a client builds against libbhc-arena-dev"; echo "$out" | comment
fi

# --- 4. run ------------------------------------------------------------------------
phase "run"
mkdir "$work/run" && chown bhc-arena:bhc-arena "$work/run"
sock=$work/run/arenad.sock
setpriv --reuid=bhc-arena --regid=bhc-arena --clear-groups -- /usr/sbin/bhc-arenad --foreground --config /etc/bhc-arena/arenad.conf \
	--socket "$sock" --set pool.warm=2M:2 --set limits.total=64M >"$work/daemon.log" 2>&1 &
daemon_pid=$!
ctl() { /usr/bin/bhc-arenactl --socket "$sock" "$@"; }
for _ in $(seq 100); do
	ctl --json status >/dev/null 2>&1 && break
	kill -0 "$daemon_pid" 2>/dev/null || break
	sleep 0.2
done
if user=$(ps -o user= -p "$daemon_pid") && [ "$user" = bhc-arena ] &&
	ctl --json status >"$work/status.json" 2>&1; then
	ok "the installed bhc-arenad answers on a private socket, as $user"
else
	not_ok "the installed bhc-arenad starts"; comment <"$work/daemon.log"
fi

# run_client BINARY WHAT: lease a region, look at it through bhc-arenactl, release
run_client() {
	local bin=$1 what=$2 line rest
	coproc CLIENT { BHC_ARENA_MODE=daemon BHC_ARENA_SOCKET=$sock BHC_ARENA_TAG=deb-$what \
		"$bin" 2>&1; }
	local cpid=$CLIENT_PID cin cout
	# bash drops CLIENT[] when the client exits: keep our own copies
	exec {cin}<&"${CLIENT[0]}" {cout}>&"${CLIENT[1]}"
	read -r -t 20 line <&$cin || line=
	if [[ "$line" == leased\ * ]]; then
		ok "$what client leases a region from the daemon: ${line#leased }"
		if ctl status >"$work/status.txt" 2>&1 && ctl --json clients >"$work/clients.json" &&
			jq -e --arg t "deb-$what" '[.clients[] | select(.tag == $t and .regions == 1
				and .used >= 524288)] | length == 1' "$work/clients.json" >/dev/null; then
			ok "bhc-arenactl status and clients --json show the $what client's lease"
		else
			not_ok "bhc-arenactl shows the $what client's lease"
			cat "$work/status.txt" "$work/clients.json" 2>/dev/null | comment
		fi
		ctl metrics >"$work/metrics.prom" 2>&1 || true
		echo done >&$cout
		read -r -t 20 rest <&$cin || rest=
		wait "$cpid" && [[ "$rest" == released\ * ]] &&
			ok "$what client releases and exits 0 (${rest#released })" ||
			not_ok "$what client releases: '$rest'"
	else
		not_ok "$what client leases a region: '$line'"
		kill "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null || true
	fi
	exec {cin}<&- {cout}>&-
}
run_client "$work/client" new
if [ -n "$prev" ] && [ -x "$work/client-prev" ]; then
	run_client "$work/client-prev" old-abi
fi
if grep -q '^bhc_arena_up 1$' "$work/metrics.prom" &&
	grep -q '^bhc_arena_tag_regions{tag="deb-' "$work/metrics.prom"; then
	ok "bhc-arenactl metrics: daemon up, the client's lease by tag"
	[ -z "$metrics_out" ] || cp "$work/metrics.prom" "$metrics_out"
else
	not_ok "bhc-arenactl metrics"; head -n 40 "$work/metrics.prom" | comment
fi
kill -TERM "$daemon_pid" 2>/dev/null || true
if wait "$daemon_pid"; then ok "bhc-arenad stops on SIGTERM with status 0"; else
	not_ok "bhc-arenad exit status $?"; tail -n 20 "$work/daemon.log" | comment; fi
daemon_pid=

# --- 5. remove, purge --------------------------------------------------------------
phase "remove, purge"
if out=$(apt_get remove "${pkgs[@]}" 2>&1); then ok "apt-get remove"; else
	not_ok "apt-get remove"; echo "$out" | tail -n 20 | comment; fi
check "after remove: programs gone, the conffile kept (config-files state)" bash -c \
	"! test -e /usr/sbin/bhc-arenad && ! test -e /usr/bin/bhc-arenactl &&
	 test -f /etc/bhc-arena/arenad.conf &&
	 test \"\$(dpkg-query -W -f='\${db:Status-Status}' bhc-arenad)\" = config-files"
# apt forgets a removed package that had no conffiles: purge what dpkg still has
left_pkgs=$(dpkg-query -W -f='${db:Status-Status} ${Package}\n' "${pkgs[@]}" 2>/dev/null |
	awk '$1 != "not-installed" { print $2 }' || true)
if out=$(apt_get purge $left_pkgs 2>&1); then ok "apt-get purge $left_pkgs"; installed=no; else
	not_ok "apt-get purge"; echo "$out" | tail -n 20 | comment; fi
check "after purge: no package left in any state" bash -c \
	"! dpkg-query -W -f='\${db:Status-Status}\n' ${pkgs[*]} 2>/dev/null | grep -v '^not-installed\$' | grep -q . &&
	 ! ls /var/lib/dpkg/info/ | grep -E '^(bhc-arena|libbhc-arena)'"
snapshot >"$work/after"
left=$(LC_ALL=C comm -13 "$work/before" "$work/after")
# new files from dependencies apt pulled in belong to those packages
unowned=$(echo "$left" | while read -r f; do
	[ -n "$f" ] && ! dpkg-query -S "$f" >/dev/null 2>&1 && echo "$f"; done || true)
if [ -z "$unowned" ]; then
	ok "purge leaves no file behind ($(echo "$left" | grep -c . || true) new paths, all of other packages)"
else
	not_ok "purge left files behind"; echo "$unowned" | comment
fi
flock -u 9
phase done
echo "# kept on purge, as Debian does: the system users and groups (files may still be theirs)"
echo "1..$n"
exit $fail
