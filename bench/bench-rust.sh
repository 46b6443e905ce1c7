#!/bin/bash
# The Rust crate's allocation benchmark, as `make bench` runs it: 16-byte
# allocations through bhc-rts-arena against bumpalo and against the C inline
# fast path, in one process (rust/bhc-rts-arena/benches/alloc.rs). Run from
# the build directory, whose libbhc-arena it links (make does).
#
# Usage: bench-rust.sh [-o DIR]   (BHC_BENCH_QUICK=1: smoke run)
#
# Without cargo (scripts/rust-check.sh installs it and the crates) it says
# so and succeeds: the C benchmarks do not depend on it.
set -euo pipefail
srcdir=$(cd "${srcdir:-$(dirname "$0")/..}" && pwd)
builddir=$PWD
crate="$srcdir/rust/bhc-rts-arena"

if [ ! -f "$crate/Cargo.toml" ]; then
	echo "rust-alloc: skipped: no $crate in this tree"
	exit 0
fi
if ! command -v cargo >/dev/null; then
	echo "rust-alloc: skipped: cargo is not installed (scripts/rust-check.sh installs it)"
	exit 0
fi
if [ ! -f "$builddir/bhc-arena-uninstalled.pc" ]; then
	echo "rust-alloc: $builddir is not a bhc-arena build directory" >&2
	exit 1
fi
export PKG_CONFIG_PATH="$builddir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
# Build output goes to the build directory (the source tree may be read-only).
export CARGO_TARGET_DIR="$builddir/cargo-target"
cd "$crate"
cargo bench --offline --quiet --bench alloc -- "$@"
