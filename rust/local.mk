# The Rust crate bhc-rts-arena (rust/bhc-rts-arena): built and tested by cargo
# through scripts/rust-check.sh, benchmarked by `make bench`
# (bench/bench-rust.sh); automake only ships it.
EXTRA_DIST += scripts/rust-check.sh \
	rust/bhc-rts-arena/.cargo/config.toml \
	rust/bhc-rts-arena/.gitignore \
	rust/bhc-rts-arena/Cargo.toml \
	rust/bhc-rts-arena/README.md \
	rust/bhc-rts-arena/build.rs \
	rust/bhc-rts-arena/benches/alloc.rs \
	rust/bhc-rts-arena/csrc/c-reference.c \
	rust/bhc-rts-arena/src/arena.rs \
	rust/bhc-rts-arena/src/error.rs \
	rust/bhc-rts-arena/src/ffi.rs \
	rust/bhc-rts-arena/src/guarantees.rs \
	rust/bhc-rts-arena/src/layout.rs \
	rust/bhc-rts-arena/src/lib.rs \
	rust/bhc-rts-arena/src/scope.rs \
	rust/bhc-rts-arena/src/tests.rs \
	rust/bhc-rts-arena/src/zeroable.rs \
	rust/bhc-rts-arena/tests/daemon.rs \
	rust/bhc-rts-arena/tests/fastpath.rs

# What cargo built in the build directory (scripts/rust-check.sh, make bench).
PHONY_TARGETS += clean-cargo-target
clean-local: clean-cargo-target
clean-cargo-target:
	-rm -rf cargo-target
