#!/usr/bin/env bash
# Build libbhc-arena and test the Rust crate rust/bhc-rts-arena against it,
# offline, with Debian's packaged crates: `cargo test --offline` runs the unit
# tests, the doc tests (the README's examples and the compile_fail tests), the
# Rust fast path against the C one, and the README's examples in local mode
# and against a bhc-arenad it starts on a private socket.
#
#   scripts/rust-check.sh [--builddir DIR] [--no-deps]
#
# As root it installs the Debian packages the crate needs when they are
# missing, and cargo-web/rustc-web (Debian 12's current Rust) when no cargo
# of at least 1.77 is on PATH. BUILDDIR defaults to ./build.
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
	-h|--help) sed -n '2,13p' "$0"; exit 0 ;;
	*) echo "rust-check.sh: unknown option $1" >&2; exit 2 ;;
	esac
done

# Debian's crates the crate builds from (.cargo/config.toml points at them).
PKGS=(librust-libc-dev librust-pkg-config-dev librust-cc-dev
	librust-bumpalo-dev librust-quickcheck-dev librust-serde-json-dev)

cargo_ok() {
	local v
	v=$(cargo --version 2>/dev/null | sed -n 's/^cargo 1\.\([0-9]*\)\..*/\1/p')
	[ -n "$v" ] && [ "$v" -ge 77 ]
}

if [ "$deps" = yes ]; then
	cargo_ok || PKGS+=(cargo-web rustc-web)
	install_missing rust-check.sh "${PKGS[@]}"
fi
cargo_ok || { echo "rust-check.sh: needs cargo >= 1.77 (apt-get install cargo-web rustc-web)" >&2; exit 1; }

setup_args=(--builddir "$builddir")
[ "$deps" = no ] && setup_args+=(--no-deps)
"$top/scripts/setup.sh" "${setup_args[@]}"

# The build tree's bhc-arena-uninstalled.pc; the daemon and CLI built there.
export PKG_CONFIG_PATH="$builddir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export BHC_ARENAD="$builddir/daemon/bhc-arenad" BHC_ARENACTL="$builddir/ctl/bhc-arenactl"
# Build output goes to the build directory, shared with `make bench`.
export CARGO_TARGET_DIR="$builddir/cargo-target"
cd "$top/rust/bhc-rts-arena"
echo "rust-check.sh: $(cargo --version), libbhc-arena $(pkg-config --modversion bhc-arena) from $builddir"
BHC_ARENA_MODE=local cargo test --offline
# rustdoc checks the error code of a compile_fail test only when it runs as
# nightly; RUSTC_BOOTSTRAP=1 makes it, for these doc tests only.
RUSTC_BOOTSTRAP=1 BHC_ARENA_MODE=local cargo test --offline --doc guarantees
echo "rust-check.sh: all passed"
