// The exported functions of libbhc-arena (<bhc/arena.h>) this crate calls.
// The inline ones (bhc_arena_alloc(), bhc_arena_used(), ...) are not exported;
// the crate has its own copies over layout::RegionLive.

use core::ffi::{c_char, c_int, c_void};

use crate::layout::{RawOpts, RawScope, RawStats, RegionLive};

pub type WithFn = unsafe extern "C" fn(arena: *mut RegionLive, ctx: *mut c_void) -> c_int;

extern "C" {
    pub fn bhc_arena_new(capacity: usize, arenap: *mut *mut RegionLive) -> c_int;
    pub fn bhc_arena_new_opts(
        capacity: usize,
        opts: *const RawOpts,
        arenap: *mut *mut RegionLive,
    ) -> c_int;
    pub fn bhc_arena_free(arena: *mut RegionLive);
    pub fn bhc_arena_reset(arena: *mut RegionLive);
    pub fn bhc_arena_stats(arena: *const RegionLive, st: *mut RawStats) -> c_int;
    pub fn bhc_arena_thread() -> *mut RegionLive;
    pub fn bhc_with_arena(size: usize, f: Option<WithFn>, ctx: *mut c_void) -> c_int;
    pub fn bhc_arena_version() -> *const c_char;
    pub fn bhc_arena_scope_leave(scope: *mut RawScope);
    pub fn bhc_arena__alloc_slow(arena: *mut RegionLive, size: usize, align: usize) -> *mut c_void;
}
