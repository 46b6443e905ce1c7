#!/usr/bin/env bash
# Static checks of daemon/, client/ and ctl/ with the checked-in configuration:
#   cppcheck  (.cppcheck-suppressions: reviewed, each with its reason)
#   clang-tidy (.clang-tidy: the checks; .clang-tidy-suppressions: reviewed
#               false positives, by file and check, each with its reason)
# Exits 0 when both are clean, 1 with the findings otherwise.
#
#   scripts/lint.sh [--builddir DIR] [--jobs N] [FILE...]
#
# DIR is a configured build directory (for config.h; default ./build).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
builddir="$top/build"
jobs=$(nproc)
files=()
while [ $# -gt 0 ]; do
	case "$1" in
	--builddir) builddir=$(realpath -m "$2"); shift 2 ;;
	--jobs) jobs=$2; shift 2 ;;
	-h|--help) sed -n '2,10p' "$0"; exit 0 ;;
	*) files+=("$1"); shift ;;
	esac
done
cd "$top"
[ -f "$builddir/config.h" ] || { echo "lint.sh: $builddir/config.h missing: configure first" >&2; exit 2; }
for tool in cppcheck clang-tidy pkg-config; do
	command -v "$tool" >/dev/null || { echo "lint.sh: $tool not found (apt-get install cppcheck clang-tidy)" >&2; exit 2; }
done
[ ${#files[@]} -gt 0 ] || mapfile -t files < <(ls daemon/*.c client/*.c ctl/*.c common/*.c)

fail=0
echo "lint: cppcheck $(cppcheck --version | sed 's/Cppcheck //') on ${#files[@]} files"
if ! cppcheck -q --enable=warning,style,performance,portability --std=c11 --inline-suppr \
	-I include -I . --include="$builddir/config.h" -D_GNU_SOURCE \
	--suppressions-list=.cppcheck-suppressions --error-exitcode=1 "${files[@]}"; then
	echo "lint: cppcheck found the above" >&2
	fail=1
fi

# shellcheck disable=SC2207
flags=(-std=gnu11 -D_GNU_SOURCE -include "$builddir/config.h" -Iinclude -I. -I"$builddir"
	$(pkg-config --cflags libuv liburing inih json-c libsystemd check 2>/dev/null))
echo "lint: $(clang-tidy --version | grep -m1 -o 'LLVM version [0-9.]*') on ${#files[@]} files"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
printf '%s\n' "${files[@]}" |
	xargs -P "$jobs" -I{} sh -c 'clang-tidy --quiet "$1" -- "$@" 2>&1 || true' _ {} "${flags[@]}" \
	>"$out"
# The findings: "path:line:col: warning|error: text [check]", paths made relative.
findings=$(grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' "$out" |
	sed "s|^$top/||" | sort -u || true)
left=()
while IFS= read -r f; do
	[ -n "$f" ] || continue
	file=${f%%:*}
	check=$(sed -n 's/.*\[\([^]]*\)\]$/\1/p' <<<"$f")
	if [ -n "$check" ] && grep -Eq "^$file[[:space:]]+$check([[:space:]]|$)" .clang-tidy-suppressions; then
		continue
	fi
	left+=("$f")
done <<<"$findings"
if [ ${#left[@]} -gt 0 ]; then
	printf '%s\n' "${left[@]}" >&2
	echo "lint: clang-tidy: ${#left[@]} findings (details: rerun on the file)" >&2
	fail=1
fi
[ $fail -eq 0 ] && echo "lint: clean"
exit $fail
