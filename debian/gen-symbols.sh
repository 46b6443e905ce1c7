#!/bin/sh
# SPDX-License-Identifier: MIT
# Print debian/libbhc-arena0.symbols from the version script: every symbol of
# version node BHC_ARENA_X.Y first appeared in release X.Y.0, so that is its
# minimum version (X.Y~ also accepts X.Y's pre-releases).
#   debian/gen-symbols.sh [client/libbhc-arena.sym] > debian/libbhc-arena0.symbols
# debian/rules checks that the committed file equals this output; raise the
# soname in the first line together with LIBBHC_ARENA_LT_VERSION (docs/ABI.md).
set -eu
sym=${1:-$(dirname "$0")/../client/libbhc-arena.sym}
soname=${SONAME:-libbhc-arena.so.0}
pkg=${PKG:-libbhc-arena0}

echo "$soname $pkg #MINVER#"
echo "* Build-Depends-Package: libbhc-arena-dev"
awk '
	/^[[:space:]]*\/\*/ { next }
	/^[[:space:]]*BHC_ARENA_[0-9]+\.[0-9]+[[:space:]]*\{/ {
		node = $1; sub(/\{.*/, "", node)
		ver = node; sub(/^BHC_ARENA_/, "", ver)
		out[++n] = " " node "@" node " " ver "~"
		inglobal = 0; next
	}
	/global:/ { inglobal = 1; next }
	/local:/ { inglobal = 0; next }
	/^[[:space:]]*\}/ { inglobal = 0; node = ""; next }
	inglobal && node != "" && /^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*;/ {
		s = $1; sub(/;.*/, "", s)
		out[++n] = " " s "@" node " " ver "~"
	}
	END { for (i = 1; i <= n; i++) print out[i] }
' "$sym" | LC_ALL=C sort
