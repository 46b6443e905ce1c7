#!/bin/sh
# SPDX-License-Identifier: MIT
# The ABI of libbhc-arena: the shared library exports exactly the functions
# listed in client/libbhc-arena.sym, all under version BHC_ARENA_0.1, and
# those are exactly the non-inline functions declared in <bhc/arena.h>.
# TAP output.
set -u
srcdir=${abs_top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${abs_top_builddir:-.}
lib=$builddir/client/.libs/libbhc-arena.so
sym=$srcdir/client/libbhc-arena.sym
hdr=$srcdir/include/bhc/arena.h

echo "1..3"
if [ ! -e "$lib" ]; then
	for i in 1 2 3; do echo "ok $i # SKIP no shared library at $lib (--disable-shared?)"; done
	exit 0
fi
if ! command -v nm >/dev/null 2>&1; then
	for i in 1 2 3; do echo "ok $i # SKIP nm (binutils) not installed"; done
	exit 0
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$lib" | awk '$2 == "T" || $2 == "W" { print $3 }' | sort > "$tmp/exported"
sed -n '/global:/,/local:/p' "$sym" | grep -E '^[[:space:]]*[a-z_]+;' | tr -d ' \t;' | sort > "$tmp/listed"
grep -E '^(int|void|const char|struct bhc_arena) \*?bhc_[a-z_]+\(' "$hdr" |
	sed -E 's/^[^(]*[ *](bhc_[a-z_]+)\(.*/\1/' | sort > "$tmp/declared"

check() {
	n=$1 what=$2 a=$3 b=$4
	if diff -u "$tmp/$a" "$tmp/$b" > "$tmp/diff"; then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what"
		sed 's/^/# /' "$tmp/diff"
	fi
}

sed 's/@.*//' "$tmp/exported" > "$tmp/exported_names"
check 1 "exported functions are those of libbhc-arena.sym" listed exported_names
check 2 "libbhc-arena.sym lists the non-inline functions of arena.h" declared listed
if [ -s "$tmp/exported" ] && ! grep -v '@@BHC_ARENA_0\.1$' "$tmp/exported" | grep -q .; then
	echo "ok 3 - every export is versioned BHC_ARENA_0.1"
else
	echo "not ok 3 - every export is versioned BHC_ARENA_0.1"
	sed 's/^/# /' "$tmp/exported"
fi
