#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The ABI of libbhc-arena against the baseline abi/libbhc-arena.abi
# (libabigail; the policy is docs/ABI.md). Prints TAP.
#
#   scripts/check-abi.sh [BUILDDIR]             check BUILDDIR's library
#   scripts/check-abi.sh --update [BUILDDIR]    write the baseline from it
#   scripts/check-abi.sh --selftest [BUILDDIR]  show that deliberate breaks fail
#
# BUILDDIR (default: build) must be built with -g (the default CFLAGS).
# The check fails when
#  - the library's soname differs from the baseline's (regenerate the
#    baseline in the same commit that bumps the soname);
#  - abidiff finds any change but added functions against the baseline with
#    the same soname (a removed or changed function, a changed public struct);
#  - the baseline itself changed since the previous commit incompatibly
#    while the soname stayed (a baseline rewritten to hide a break).
# Added functions (nothing else changed) pass with a note: refresh the baseline.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
mode=check
case "${1:-}" in
--update) mode=update; shift ;;
--selftest) mode=selftest; shift ;;
-h|--help) sed -n '2,18p' "$0"; exit 0 ;;
esac
builddir=$(realpath -m "${1:-$top/build}")
lib=$builddir/client/.libs/libbhc-arena.so
baseline=$top/abi/libbhc-arena.abi

if [ "${CI:-}" = true ] && [ "$(id -u)" -eq 0 ]; then
	apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends abigail-tools >/dev/null
fi
for t in abidw abidiff; do
	command -v $t >/dev/null || { echo "1..0 # SKIP $t not installed (apt-get install abigail-tools)"; exit 0; }
done
[ -e "$lib" ] || { echo "check-abi.sh: no $lib: build first (scripts/setup.sh)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# abi_of LIB: the ABI of LIB's public interface (types from include/bhc only),
# without paths or line numbers so that the baseline does not churn.
abi_of() {
	abidw --headers-dir "$top/include/bhc" --no-corpus-path --no-comp-dir-path \
		--no-show-locs --drop-undefined-syms "$(readlink -f "$1")"
}
soname_of() { sed -n "s/^<abi-corpus .*soname='\([^']*\)'.*/\1/p" "$1" | head -n 1; }

# compare OLD NEW: 0 same, 1 only added functions, 2 any other change (abidiff
# flags a removed function as incompatible but a changed public struct only as
# "a change to review": both break callers); abidiff's report in $tmp/report
compare() {
	local rc=0
	abidiff "$1" "$2" >"$tmp/report" 2>&1 || rc=$?
	[ $rc -ne 0 ] || return 0
	[ $((rc & ~12)) -eq 0 ] || { echo "abidiff failed: exit $rc" >>"$tmp/report"; return 2; }
	[ $((rc & 8)) -eq 0 ] || return 2
	abidiff --no-added-syms "$1" "$2" >/dev/null 2>&1 && return 1
	return 2
}

n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); fail=1; echo "not ok $n - $*"; }
comment() { sed 's/^/# /'; }

# check_lib LIB: the TAP lines for one library against the baseline
check_lib() {
	local cur=$tmp/current.abi want got rc=0
	abi_of "$1" >"$cur"
	want=$(soname_of "$baseline") got=$(soname_of "$cur")
	if [ "$want" = "$got" ]; then
		ok "soname $got is the baseline's"
	else
		not_ok "soname $got, the baseline has $want: regenerate it with scripts/check-abi.sh --update"
		return
	fi
	compare "$baseline" "$cur" || rc=$?
	case $rc in
	0) ok "abidiff: the ABI equals abi/libbhc-arena.abi" ;;
	1) ok "abidiff: functions added, nothing else: refresh the baseline with --update"
		comment <"$tmp/report" ;;
	*) not_ok "abidiff: incompatible change under soname $got; a major release bumps the soname and the baseline together (docs/ABI.md)"
		comment <"$tmp/report" ;;
	esac
}

case $mode in
update)
	mkdir -p "$(dirname "$baseline")"
	abi_of "$lib" >"$baseline"
	echo "check-abi.sh: wrote $baseline ($(soname_of "$baseline"))"
	exit 0
	;;
check)
	check_lib "$lib"
	old=$tmp/previous.abi
	if git -C "$top" show HEAD~1:abi/libbhc-arena.abi >"$old" 2>/dev/null &&
		! cmp -s "$old" "$baseline"; then
		rc=0
		compare "$old" "$baseline" || rc=$?
		if [ $rc -eq 2 ] && [ "$(soname_of "$old")" = "$(soname_of "$baseline")" ]; then
			not_ok "the baseline changed incompatibly since HEAD~1 under the same soname $(soname_of "$old")"
			comment <"$tmp/report"
		else
			ok "the baseline changed since HEAD~1: compatibly, or with a new soname ($(soname_of "$old") -> $(soname_of "$baseline"))"
		fi
	fi
	;;
selftest)
	# Build the library again outside libtool (same sources, flags, version
	# script and soname) with one deliberate break, and expect the check to
	# fail. The first build has no break and must pass: the positive first.
	[ -f "$builddir/config.h" ] || { echo "check-abi.sh: no $builddir/config.h" >&2; exit 2; }
	srcs=$(sed -n '/^client_libbhc_arena_la_SOURCES/,/^[^\t]/p' "$top/client/local.mk" |
		grep -o 'client/[a-z-]*\.c')
	# and the convenience library it links (client_libbhc_arena_la_LIBADD)
	srcs+=" $(sed -n '/^common_libbhc_common_la_SOURCES/,/^[^\t]/p' "$top/common/local.mk" |
		grep -o 'common/[a-z-]*\.c' | tr '\n' ' ')"
	soname=$(objdump -p "$(readlink -f "$lib")" | awk '$1 == "SONAME" { print $2 }')
	# mklib NAME SED-ON-arena.h SED-ON-libbhc-arena.sym [SONAME [EXTRA-C-SOURCE]]
	mklib() {
		local d=$tmp/$1
		mkdir -p "$d/include/bhc"
		cp "$top"/include/bhc/*.h "$d/include/bhc/"
		sed -i "$2" "$d/include/bhc/arena.h"
		sed "$3" "$top/client/libbhc-arena.sym" >"$d/libbhc-arena.sym"
		printf '%s\n' "${5:-}" >"$d/extra.c"
		(cd "$top" && gcc -g -O2 -fPIC -shared -fvisibility=hidden \
			-include "$builddir/config.h" -I"$d/include" -I. -Iclient $srcs "$d/extra.c" \
			-Wl,--version-script="$d/libbhc-arena.sym" -Wl,-soname,"${4:-$soname}" \
			-lpthread -o "$d/libbhc-arena.so")
	}
	expect() { # expect NAME pass|fail DESCRIPTION
		local out
		out=$(check_lib "$tmp/$1/libbhc-arena.so")
		if { [ "$2" = pass ] && ! grep -q '^not ok' <<<"$out"; } ||
			{ [ "$2" = fail ] && grep -q '^not ok' <<<"$out"; }; then
			ok "$3: the check ${2/pass/passe}s"
		else
			not_ok "$3: the check should $2"
		fi
		sed -n 's/^not ok [0-9]* - /  /p; s/^# /    /p' <<<"$out" | head -n 25 | comment
	}
	mklib same '' ''
	expect same pass "the library rebuilt unchanged"
	mklib opts 's/uint32_t reserved\[5\];/uint32_t reserved[4];/' ''
	expect opts fail "struct bhc_arena_opts one word shorter"
	mklib reset '' '/^[[:space:]]*bhc_arena_reset;/d'
	expect reset fail "bhc_arena_reset no longer exported"
	mklib soname '' '' libbhc-arena.so.1
	expect soname fail "soname bumped to libbhc-arena.so.1, baseline not regenerated"
	mklib added '' '$a BHC_ARENA_0.2 { global: bhc_arena_selftest_added; } BHC_ARENA_0.1;' '' \
		'__attribute__((visibility("default"))) int bhc_arena_selftest_added(void) { return 0; }'
	expect added pass "a function added in a new version node BHC_ARENA_0.2"
	;;
esac
echo "1..$n"
exit $fail
