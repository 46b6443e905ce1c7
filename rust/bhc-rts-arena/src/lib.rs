#![doc = include_str!("../README.md")]
//!
//! # Where this crate changes the seed's API, and why
//!
//! The seed describes the API in signatures and examples; some of them
//! cannot be written in safe Rust as they stand. The changes:
//!
//! - **`alloc_slice::<T>(len)` and `alloc_aligned::<T>(len, _)` need
//!   `T: `[`Zeroable`] and zero the slice.** The seed hands out
//!   `&mut [T]` over uninitialised memory, which is undefined behaviour for
//!   most `T` (and memory reused after a reset holds old bytes). The
//!   `_uninit` variants ([`HotArena::alloc_slice_uninit`],
//!   [`HotArena::alloc_aligned_uninit`]) return `&mut [MaybeUninit<T>]`
//!   for any `T`, without the zeroing.
//! - **[`ArenaSlice<'a, T>`](ArenaSlice) has a lifetime**: it is
//!   `&'a mut [T]`, borrowed from the arena or scope that made it. The seed's
//!   `ArenaSlice<T>` has none, which would let a slice outlive its arena.
//! - **[`with_arena`] returns [`AllocResult<R>`](AllocResult)**: getting the
//!   arena can fail (no daemon in daemon mode, a daemon limit, no memory),
//!   and the seed's `with_arena` has no way to say so. Its closure gets a
//!   `&HotArena`, never `&mut`: `reset()` there would free the enclosing
//!   calls' allocations, which share the arena.
//! - **An enclosing `with_arena` handle is suspended while a nested call
//!   runs** (its allocations fail with [`AllocError::Suspended`]). In the
//!   seed's nesting example `outer` is still in scope inside the inner
//!   closure; memory it allocated there would be freed when the inner call
//!   returns, under a borrow that outlives it. Slices the outer handle made
//!   before stay valid and usable inside, as the seed shows.
//! - **[`ArenaScope`] borrows a [`HotArena`] you own by `&mut`**
//!   ([`HotArena::scope`]): a scope guard over a shared arena could not keep
//!   the arena's other users from allocating memory the guard's end frees.
//!   Inside `with_arena`, nest `with_arena` calls instead.
//! - **The thread's arena is [`with_thread_arena`]**, a closure in a scope
//!   of it, rather than a `thread_local!` `RefCell<HotArena>` (the seed's
//!   example still compiles with this crate, see the README): the library
//!   already keeps one arena per thread, which `with_arena` nests in.
//! - **`Alignment` lives in this crate** (the seed imports it from
//!   `bhc_rts_alloc`), and **`AllocResult<T>` is `Result<T, `[`AllocError`]`>`**.
//! - **`alloc_value` never drops the value**: an arena frees memory, not
//!   values (as `bumpalo` does).
//! - Additions: [`HotArena::capacity`], [`HotArena::stats`] (source,
//!   backing, daemon region id), [`HotArena::with_options`] (daemon, local
//!   or auto, and a backing), [`HotArena::as_raw`] for C code.
//!
//! What the compiler rejects is listed, with a test for each, in
//! [`guarantees`].
//!
//! # The fast path
//!
//! `struct bhc_arena` is the live part of the region header
//! (`struct bhc_arena_region_live`: cursor, floor, counters), and the C
//! library's allocation is a `static inline` function over it, not exported.
//! [`HotArena::alloc`] is the same bump in Rust over a `#[repr(C)]` view of
//! that header: subtract, mask, compare with the floor, store the cursor and
//! count the allocation, so the daemon and `bhc-arenactl` see Rust programs'
//! usage as they see C programs'. Whatever the inline path does not handle
//! (a full arena, an alignment above 4 KiB, checked mode under
//! AddressSanitizer or Valgrind, where the floor is the largest address)
//! goes to the library's exported `bhc_arena__alloc_slow()`. The build
//! script compiles a check of every size, offset and constant the crate
//! assumes against the C headers, so a layout that drifts does not build;
//! `tests/fastpath.rs` runs random allocation sequences through both fast
//! paths and compares the results.
#![warn(missing_docs)]

mod arena;
mod error;
mod ffi;
pub mod guarantees;
#[allow(dead_code)]
mod layout;
mod scope;
mod zeroable;

pub use arena::{
    library_version, Alignment, ArenaOptions, ArenaStats, Backing, HotArena, Mode, Source,
    DEFAULT_ARENA_SIZE,
};
pub use error::{AllocError, AllocResult};
pub use scope::{with_arena, with_thread_arena, ArenaScope};
pub use zeroable::Zeroable;

/// A slice allocated in an arena: a `&mut [T]` that borrows the arena (or
/// scope) it came from, so it cannot outlive it.
pub type ArenaSlice<'a, T> = &'a mut [T];

#[cfg(test)]
mod tests;
