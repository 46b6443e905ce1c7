#!/usr/bin/env bash
# Set up a build of bhc-arena from a clean clone on Debian 12:
# install missing build dependencies (as root), bootstrap, configure, build.
#
#   scripts/setup.sh [--builddir DIR] [--no-deps] [-- CONFIGURE-ARGS...]
#
# BUILDDIR defaults to ./build. Environment CFLAGS/LDFLAGS pass to configure.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/deps.sh
. "$top/scripts/deps.sh"
builddir="$top/build"
deps=yes
while [ $# -gt 0 ]; do
	case "$1" in
	--builddir) builddir=$(realpath -m "$2"); shift 2 ;;
	--no-deps) deps=no; shift ;;
	--) shift; break ;;
	-h|--help) sed -n '2,9p' "$0"; exit 0 ;;
	*) echo "setup.sh: unknown option $1" >&2; exit 2 ;;
	esac
done

# Debian packages the build, the tests and the benchmarks use.
PKGS=(build-essential autoconf automake libtool pkg-config
	libuv1-dev liburing-dev check libinih-dev libjson-c-dev libsystemd-dev
	valgrind clang llvm libclang-rt-14-dev jq util-linux systemd
	libapr1-dev libtalloc-dev libjemalloc-dev libmimalloc-dev libopenblas-dev
	gnuplot-nox prometheus stress-ng clang-format bash-completion
	slurm-wlm libslurm-dev munge)

if [ "$deps" = yes ]; then
	install_missing setup.sh "${PKGS[@]}"
fi

cd "$top"
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then
	./autogen.sh
fi
mkdir -p "$builddir"
cd "$builddir"
if [ ! -f Makefile ] || [ "$top/configure" -nt Makefile ] || [ $# -gt 0 ]; then
	"$top/configure" --enable-werror "$@"
fi
make -j"$(nproc)"
echo "setup.sh: built in $builddir"
