//! What the compiler rejects, each with a test.
//!
//! Every `compile_fail` example below is preceded by the same code without
//! the mistake, which compiles and runs: the failure is the mistake's, not a
//! typo's. rustdoc also checks the error codes when it runs as a nightly
//! compiler, which `scripts/rust-check.sh` makes it for one run
//! (`RUSTC_BOOTSTRAP=1 cargo test --doc guarantees`).
//!
//! # A slice cannot outlive its `with_arena` scope
//!
//! ```
//! use bhc_rts_arena::with_arena;
//! let sum = with_arena(4096, |arena| {
//!     let s = arena.alloc_slice::<u32>(4).unwrap();
//!     s.iter_mut().enumerate().for_each(|(i, x)| *x = i as u32);
//!     s.iter().sum::<u32>() // a value computed from the slice leaves
//! })?;
//! assert_eq!(sum, 6);
//! # Ok::<(), bhc_rts_arena::AllocError>(())
//! ```
//! ```compile_fail
//! use bhc_rts_arena::with_arena;
//! let s = with_arena(4096, |arena| {
//!     arena.alloc_slice::<u32>(4).unwrap() // the slice itself cannot
//! })?;
//! # Ok::<(), bhc_rts_arena::AllocError>(())
//! ```
//!
//! # A slice cannot outlive its arena
//!
//! ```
//! use bhc_rts_arena::HotArena;
//! let arena = HotArena::new(4096)?;
//! let s = arena.alloc_slice::<u8>(16)?;
//! s[0] = 1;
//! drop(arena);
//! # Ok::<(), bhc_rts_arena::AllocError>(())
//! ```
//! ```compile_fail,E0505
//! use bhc_rts_arena::HotArena;
//! let arena = HotArena::new(4096)?;
//! let s = arena.alloc_slice::<u8>(16)?;
//! drop(arena);
//! s[0] = 1;
//! # Ok::<(), bhc_rts_arena::AllocError>(())
//! ```
//!
//! # `reset()` cannot run while an allocation is alive
//!
//! ```
//! use bhc_rts_arena::HotArena;
//! let mut arena = HotArena::new(4096)?;
//! let v = arena.alloc_value(7u64)?;
//! *v += 1;
//! arena.reset();
//! # Ok::<(), bhc_rts_arena::AllocError>(())
//! ```
//! ```compile_fail,E0502
//! use bhc_rts_arena::HotArena;
//! let mut arena = HotArena::new(4096)?;
//! let v = arena.alloc_value(7u64)?;
//! arena.reset();
//! *v += 1;
//! # Ok::<(), bhc_rts_arena::AllocError>(())
//! ```
//!
//! # An allocation cannot outlive its `ArenaScope`
//!
//! ```
//! use bhc_rts_arena::HotArena;
//! let mut arena = HotArena::new(4096)?;
//! {
//!     let scope = arena.scope();
//!     let v = scope.alloc_value(1u32)?;
//!     *v += 1;
//! }
//! # Ok::<(), bhc_rts_arena::AllocError>(())
//! ```
//! ```compile_fail,E0597
//! use bhc_rts_arena::HotArena;
//! let mut arena = HotArena::new(4096)?;
//! let v;
//! {
//!     let scope = arena.scope();
//!     v = scope.alloc_value(1u32)?;
//! }
//! *v += 1;
//! # Ok::<(), bhc_rts_arena::AllocError>(())
//! ```
//!
//! # The arena cannot allocate past a live `ArenaScope`
//!
//! (Its allocation would be freed when the scope ends.)
//!
//! ```
//! use bhc_rts_arena::HotArena;
//! let mut arena = HotArena::new(4096)?;
//! {
//!     let scope = arena.scope();
//!     scope.alloc_value(1u32)?;
//! }
//! let kept = arena.alloc_value(2u32)?;
//! # Ok::<(), bhc_rts_arena::AllocError>(())
//! ```
//! ```compile_fail,E0502
//! use bhc_rts_arena::HotArena;
//! let mut arena = HotArena::new(4096)?;
//! let scope = arena.scope();
//! let kept = arena.alloc_value(2u32)?;
//! drop(scope);
//! *kept += 1;
//! # Ok::<(), bhc_rts_arena::AllocError>(())
//! ```
//!
//! # An arena cannot be sent to another thread
//!
//! ```
//! use bhc_rts_arena::HotArena;
//! std::thread::spawn(|| {
//!     let arena = HotArena::new(4096).unwrap(); // each thread its own
//!     arena.alloc_value(1u8).unwrap();
//! })
//! .join()
//! .unwrap();
//! ```
//! ```compile_fail,E0277
//! use bhc_rts_arena::HotArena;
//! let arena = HotArena::new(4096).unwrap();
//! std::thread::spawn(move || {
//!     arena.alloc_value(1u8).unwrap();
//! })
//! .join()
//! .unwrap();
//! ```
//!
//! # ... nor shared with one
//!
//! ```
//! use bhc_rts_arena::HotArena;
//! let arena = HotArena::new(4096).unwrap();
//! std::thread::scope(|t| {
//!     t.spawn(|| 1 + 1);
//! });
//! arena.alloc_value(1u8).unwrap();
//! ```
//! ```compile_fail,E0277
//! use bhc_rts_arena::HotArena;
//! let arena = HotArena::new(4096).unwrap();
//! std::thread::scope(|t| {
//!     t.spawn(|| arena.alloc_value(1u8).unwrap());
//! });
//! ```
//!
//! # `with_arena` lends no `&mut`: no `reset()` of a shared arena
//!
//! ```
//! use bhc_rts_arena::{with_arena, HotArena};
//! let mut own = HotArena::new(4096)?;
//! own.reset();
//! with_arena(4096, |arena: &HotArena| arena.used())?;
//! # Ok::<(), bhc_rts_arena::AllocError>(())
//! ```
//! ```compile_fail,E0596
//! use bhc_rts_arena::with_arena;
//! with_arena(4096, |arena| arena.reset())?;
//! # Ok::<(), bhc_rts_arena::AllocError>(())
//! ```
