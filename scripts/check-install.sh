#!/usr/bin/env bash
# Install bhc-arena the way a distribution package would (--prefix=/usr
# --sysconfdir=/etc) into a DESTDIR and check:
#  1. exactly the files listed in tests/install-manifest.txt are installed;
#  2. `systemd-analyze verify` accepts the installed units without a warning
#     (ExecStart pointed at the DESTDIR binary, man pages from the DESTDIR);
#  3. `make uninstall` leaves no file behind.
# Prints TAP.   scripts/check-install.sh [BUILDDIR]   (default: build-install)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
builddir=$(realpath -m "${1:-$top/build-install}")
dest=$(mktemp -d /tmp/bhc-install.XXXXXX)
trap 'rm -rf "$dest"' EXIT

[ -x "$top/configure" ] || (cd "$top" && ./autogen.sh >/dev/null)
mkdir -p "$builddir"
cd "$builddir"
"$top/configure" --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
	--with-systemdsystemunitdir=/usr/lib/systemd/system >configure.out
make -j"$(nproc)" >make.out
make install DESTDIR="$dest" >install.out

echo "1..3"
fail=0
actual=$(cd "$dest" && find . \( -type f -o -type l \) | sed 's|^\.||' | sort)
expected=$(grep -v '^#' "$top/tests/install-manifest.txt" | sed '/^$/d' | sort)
if [ "$actual" = "$expected" ]; then
	echo "ok 1 - make install lays out exactly the documented files ($(echo "$actual" | wc -l))"
else
	echo "not ok 1 - installed files differ from tests/install-manifest.txt"; fail=1
	diff <(echo "$expected") <(echo "$actual") | sed 's/^/# /' || true
fi

units=$(mktemp -d "$dest/units.XXXXXX")
for u in bhc-arenad.socket bhc-arenad.service; do
	sed "s|/usr/sbin/|$dest/usr/sbin/|" "$dest/usr/lib/systemd/system/$u" >"$units/$u"
done
if out=$(MANPATH="$dest/usr/share/man" systemd-analyze verify "$units/bhc-arenad.socket" \
	"$units/bhc-arenad.service" 2>&1) && [ -z "$out" ]; then
	echo "ok 2 - systemd-analyze verify: no warnings"
else
	echo "not ok 2 - systemd-analyze verify"; fail=1
	echo "$out" | sed 's/^/# /'
fi
rm -rf "$units"

make uninstall DESTDIR="$dest" >uninstall.out
left=$(cd "$dest" && find . \( -type f -o -type l \) | sed 's|^\.||')
if [ -z "$left" ]; then
	echo "ok 3 - make uninstall removes every installed file"
else
	echo "not ok 3 - left after make uninstall:"; fail=1; echo "$left" | sed 's/^/# /'
fi
exit $fail
