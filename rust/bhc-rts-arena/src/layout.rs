// The C structures and constants of <bhc/arena.h> and <bhc/arena-protocol.h>
// that the crate reads or writes directly. build.rs includes this file too and
// has a C compiler check every size, offset and value in LAYOUT_CHECKS against
// the installed (or build-tree) headers: a layout that drifts fails the build.

use core::ffi::c_char;
use core::mem::{offset_of, size_of};

/// `struct bhc_arena_region_live`: the arena's live state in the region
/// header. `struct bhc_arena` is exactly this (its only member), so a
/// `*mut bhc_arena` from the library points at one of these.
#[repr(C)]
#[derive(Debug)]
pub struct RegionLive {
    pub cursor: u64,
    pub floor: u64,
    pub n_allocs: u64,
    pub n_resets: u64,
    pub high_water: u64,
    pub top: u64,
    pub base: u64,
    pub priv_: u64,
}

/// `struct bhc_arena_scope`: a saved cursor.
#[repr(C)]
pub struct RawScope {
    pub arena: *mut RegionLive,
    pub cursor: u64,
    pub n_resets: u64,
}

/// `struct bhc_arena_opts`.
#[repr(C)]
#[derive(Default)]
pub struct RawOpts {
    pub mode: u32,
    pub backing: u32,
    pub page_shift: u32,
    pub reserved: [u32; 5],
}

/// `struct bhc_arena_stats`.
#[repr(C)]
pub struct RawStats {
    pub capacity: usize,
    pub used: usize,
    pub remaining: usize,
    pub high_water: usize,
    pub n_allocs: u64,
    pub n_resets: u64,
    pub region_id: u64,
    pub region_size: usize,
    pub page_size: usize,
    pub source: u32,
    pub backing: u32,
    pub source_name: *const c_char,
    pub backing_name: *const c_char,
}

/// Bytes of the region header in front of the data.
pub const REGION_HEADER_SIZE: usize = 4096;
/// `BHC_ARENA_DEFAULT_SIZE`: one 16 MiB region less its header.
pub const DEFAULT_SIZE: usize = (16 << 20) - REGION_HEADER_SIZE;
/// `BHC__INLINE_ALIGN_MAX`: alignments the inline path handles.
pub const INLINE_ALIGN_MAX: usize = 4096;

pub const ALIGN_DEFAULT: usize = 8;
pub const ALIGN_SIMD128: usize = 16;
pub const ALIGN_SIMD256: usize = 32;
pub const ALIGN_SIMD512: usize = 64;
pub const ALIGN_CACHE_LINE: usize = 64;

pub const SOURCE_NONE: u32 = 0;
pub const SOURCE_LOCAL: u32 = 1;
pub const SOURCE_DAEMON: u32 = 2;

pub const MODE_ENV: u32 = 0;
pub const MODE_AUTO: u32 = 1;
pub const MODE_DAEMON: u32 = 2;
pub const MODE_LOCAL: u32 = 3;

pub const BACKING_NONE: u32 = 0;
pub const BACKING_HUGETLB: u32 = 1;
pub const BACKING_THP: u32 = 2;
pub const BACKING_SMALL: u32 = 3;

/// (C expression, the value this crate assumes): build.rs turns each into a
/// `_Static_assert((expression) == value)` compiled against the C headers.
pub fn layout_checks() -> Vec<(&'static str, u64)> {
    macro_rules! off {
        ($cty:literal, $rty:ty, $field:ident, $cfield:literal) => {
            (
                concat!("offsetof(", $cty, ", ", $cfield, ")"),
                offset_of!($rty, $field) as u64,
            )
        };
    }
    vec![
        (
            "sizeof(struct bhc_arena_region_live)",
            size_of::<RegionLive>() as u64,
        ),
        off!("struct bhc_arena_region_live", RegionLive, cursor, "cursor"),
        off!("struct bhc_arena_region_live", RegionLive, floor, "floor"),
        off!(
            "struct bhc_arena_region_live",
            RegionLive,
            n_allocs,
            "n_allocs"
        ),
        off!(
            "struct bhc_arena_region_live",
            RegionLive,
            n_resets,
            "n_resets"
        ),
        off!(
            "struct bhc_arena_region_live",
            RegionLive,
            high_water,
            "high_water"
        ),
        off!("struct bhc_arena_region_live", RegionLive, top, "top"),
        off!("struct bhc_arena_region_live", RegionLive, base, "base"),
        off!("struct bhc_arena_region_live", RegionLive, priv_, "priv"),
        ("sizeof(struct bhc_arena)", size_of::<RegionLive>() as u64),
        ("offsetof(struct bhc_arena, live)", 0),
        (
            "sizeof(struct bhc_arena_scope)",
            size_of::<RawScope>() as u64,
        ),
        off!("struct bhc_arena_scope", RawScope, arena, "arena"),
        off!("struct bhc_arena_scope", RawScope, cursor, "cursor"),
        off!("struct bhc_arena_scope", RawScope, n_resets, "n_resets"),
        ("sizeof(struct bhc_arena_opts)", size_of::<RawOpts>() as u64),
        off!("struct bhc_arena_opts", RawOpts, mode, "mode"),
        off!("struct bhc_arena_opts", RawOpts, backing, "backing"),
        off!("struct bhc_arena_opts", RawOpts, page_shift, "page_shift"),
        off!("struct bhc_arena_opts", RawOpts, reserved, "reserved"),
        (
            "sizeof(struct bhc_arena_stats)",
            size_of::<RawStats>() as u64,
        ),
        off!("struct bhc_arena_stats", RawStats, capacity, "capacity"),
        off!("struct bhc_arena_stats", RawStats, used, "used"),
        off!("struct bhc_arena_stats", RawStats, remaining, "remaining"),
        off!("struct bhc_arena_stats", RawStats, high_water, "high_water"),
        off!("struct bhc_arena_stats", RawStats, n_allocs, "n_allocs"),
        off!("struct bhc_arena_stats", RawStats, n_resets, "n_resets"),
        off!("struct bhc_arena_stats", RawStats, region_id, "region_id"),
        off!(
            "struct bhc_arena_stats",
            RawStats,
            region_size,
            "region_size"
        ),
        off!("struct bhc_arena_stats", RawStats, page_size, "page_size"),
        off!("struct bhc_arena_stats", RawStats, source, "source"),
        off!("struct bhc_arena_stats", RawStats, backing, "backing"),
        off!(
            "struct bhc_arena_stats",
            RawStats,
            source_name,
            "source_name"
        ),
        off!(
            "struct bhc_arena_stats",
            RawStats,
            backing_name,
            "backing_name"
        ),
        ("sizeof(enum bhc_arena_source)", 4),
        ("sizeof(enum bhc_arena_backing)", 4),
        ("BHC_ARENA_REGION_HEADER_SIZE", REGION_HEADER_SIZE as u64),
        ("BHC_ARENA_REGION_LIVE_OFFSET", 64),
        ("BHC_ARENA_DEFAULT_SIZE", DEFAULT_SIZE as u64),
        ("BHC__INLINE_ALIGN_MAX", INLINE_ALIGN_MAX as u64),
        ("BHC_ALIGN_DEFAULT", ALIGN_DEFAULT as u64),
        ("BHC_ALIGN_SIMD128", ALIGN_SIMD128 as u64),
        ("BHC_ALIGN_SIMD256", ALIGN_SIMD256 as u64),
        ("BHC_ALIGN_SIMD512", ALIGN_SIMD512 as u64),
        ("BHC_ALIGN_CACHE_LINE", ALIGN_CACHE_LINE as u64),
        ("BHC_ARENA_SOURCE_NONE", SOURCE_NONE as u64),
        ("BHC_ARENA_SOURCE_LOCAL", SOURCE_LOCAL as u64),
        ("BHC_ARENA_SOURCE_DAEMON", SOURCE_DAEMON as u64),
        ("BHC_ARENA_MODE_ENV", MODE_ENV as u64),
        ("BHC_ARENA_MODE_AUTO", MODE_AUTO as u64),
        ("BHC_ARENA_MODE_DAEMON", MODE_DAEMON as u64),
        ("BHC_ARENA_MODE_LOCAL", MODE_LOCAL as u64),
        ("BHC_ARENA_BACKING_NONE", BACKING_NONE as u64),
        ("BHC_ARENA_BACKING_HUGETLB", BACKING_HUGETLB as u64),
        ("BHC_ARENA_BACKING_THP", BACKING_THP as u64),
        ("BHC_ARENA_BACKING_SMALL", BACKING_SMALL as u64),
    ]
}
