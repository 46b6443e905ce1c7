use core::cell::{Cell, UnsafeCell};
use core::ffi::{c_void, CStr};
use core::fmt;
use core::mem::{align_of, size_of, MaybeUninit};
use core::ptr::{self, NonNull};

use crate::error::{AllocError, AllocResult};
use crate::ffi;
use crate::layout::{self, RawOpts, RawScope, RawStats, RegionLive};
use crate::Zeroable;

/// Capacity of a thread's arena and the usual size of [`HotArena::new`]: it
/// fills exactly one 16 MiB region whose first 4 KiB hold the region header
/// (`BHC_ARENA_DEFAULT_SIZE`).
pub const DEFAULT_ARENA_SIZE: usize = layout::DEFAULT_SIZE;

/// The seed's alignment classes (`enum bhc_alignment`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Alignment {
    /// 8 bytes: general purpose.
    #[default]
    Default,
    /// 16 bytes: SSE vectors.
    Simd128,
    /// 32 bytes: AVX vectors.
    Simd256,
    /// 64 bytes: AVX-512 vectors.
    Simd512,
    /// 64 bytes: one cache line.
    CacheLine,
}

impl Alignment {
    /// The alignment in bytes.
    pub const fn bytes(self) -> usize {
        match self {
            Alignment::Default => layout::ALIGN_DEFAULT,
            Alignment::Simd128 => layout::ALIGN_SIMD128,
            Alignment::Simd256 => layout::ALIGN_SIMD256,
            Alignment::Simd512 => layout::ALIGN_SIMD512,
            Alignment::CacheLine => layout::ALIGN_CACHE_LINE,
        }
    }
}

/// Where an arena's region comes from (`enum bhc_arena_mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// As `$BHC_ARENA_MODE` says (`auto` when it is unset).
    #[default]
    Env,
    /// From bhc-arenad if its socket answers, else mapped by this process.
    Auto,
    /// From bhc-arenad, or an error.
    Daemon,
    /// Mapped by this process; never asks the daemon.
    Local,
}

/// The memory behind a region (`enum bhc_arena_backing`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backing {
    /// hugetlbfs pages (2 MiB or 1 GiB: see [`ArenaStats::page_size`]).
    Hugetlb,
    /// Shared or anonymous memory with transparent huge pages.
    Thp,
    /// Base pages.
    Small,
    /// A value this crate does not know (a newer library).
    Unknown(u32),
}

impl Backing {
    fn from_raw(v: u32) -> Backing {
        match v {
            layout::BACKING_HUGETLB => Backing::Hugetlb,
            layout::BACKING_THP => Backing::Thp,
            layout::BACKING_SMALL => Backing::Small,
            v => Backing::Unknown(v),
        }
    }

    fn to_raw(self) -> u32 {
        match self {
            Backing::Hugetlb => layout::BACKING_HUGETLB,
            Backing::Thp => layout::BACKING_THP,
            Backing::Small => layout::BACKING_SMALL,
            Backing::Unknown(v) => v,
        }
    }
}

/// Who mapped an arena's region (`enum bhc_arena_source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// This process mapped it.
    Local,
    /// Leased from bhc-arenad.
    Daemon,
    /// A value this crate does not know (a newer library).
    Unknown(u32),
}

/// Options for [`HotArena::with_options`] (`struct bhc_arena_opts`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArenaOptions {
    /// Where the region comes from.
    pub mode: Mode,
    /// `None`: the best available (or what `$BHC_ARENA_BACKING` forces);
    /// `Some(b)`: exactly `b` or an error.
    pub backing: Option<Backing>,
    /// With [`Backing::Hugetlb`]: 21 (2 MiB pages) or 30 (1 GiB); 0: default.
    pub page_shift: u32,
}

/// A snapshot of an arena ([`HotArena::stats`], `struct bhc_arena_stats`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArenaStats {
    /// Bytes allocations can use.
    pub capacity: usize,
    /// Bytes below the cursor now (alignment padding included).
    pub used: usize,
    /// `capacity - used`.
    pub remaining: usize,
    /// Most bytes in use at any time observed (updated at resets and scope
    /// exits, and at least `used`).
    pub high_water: usize,
    /// Successful allocations since the arena was created.
    pub n_allocs: u64,
    /// Resets since the arena was created.
    pub n_resets: u64,
    /// The daemon's id of the region (what `bhc-arenactl regions` shows);
    /// 0 for a local region.
    pub region_id: u64,
    /// Bytes of the region, header included.
    pub region_size: usize,
    /// Bytes of one page of the backing.
    pub page_size: usize,
    /// Where the region came from.
    pub source: Source,
    /// What memory backs it.
    pub backing: Backing,
    /// `"local"` or `"daemon"`.
    pub source_name: &'static str,
    /// `"hugetlb-2M"`, `"hugetlb-1G"`, `"thp"` or `"small"`.
    pub backing_name: &'static str,
}

/// What a handle bumps while a nested scope has lent its arena away: every
/// check of the fast path fails on it (the floor is the largest address, and
/// the cursor so far below it that no subtraction from it wraps around to
/// it), so allocation goes to [`HotArena::alloc_slow`], which
/// sees this address and reports [`AllocError::Suspended`]. Nothing writes it.
struct Suspended(UnsafeCell<RegionLive>);
// SAFETY: never written (see above), so sharing it between threads is sound.
unsafe impl Sync for Suspended {}
static SUSPENDED: Suspended = Suspended(UnsafeCell::new(RegionLive {
    cursor: u64::MAX / 2,
    floor: u64::MAX,
    n_allocs: 0,
    n_resets: 0,
    high_water: 0,
    top: 0,
    base: 0,
    priv_: 0,
}));

fn suspended_live() -> NonNull<RegionLive> {
    // SAFETY: the address of a static is never null.
    unsafe { NonNull::new_unchecked(SUSPENDED.0.get()) }
}

/// An arena: one region of memory, hugepage-backed where the system allows,
/// in which allocation is a pointer bump and freeing is [`reset`] or the end
/// of a scope.
///
/// A `HotArena` you create ([`new`], [`with_options`]) owns its region and
/// gives it back when dropped. The `&HotArena` that [`with_arena`] and
/// [`with_thread_arena`] lend to their closure is a handle to an arena the
/// library owns (the thread's arena or one made for the call).
///
/// An arena is neither `Send` nor `Sync`: it belongs to the thread that uses
/// it. Allocations are `&mut` borrows of it, so the compiler rejects a slice
/// that outlives its arena, and [`reset`] while one is alive.
///
/// [`new`]: HotArena::new
/// [`with_options`]: HotArena::with_options
/// [`reset`]: HotArena::reset
/// [`with_arena`]: crate::with_arena
/// [`with_thread_arena`]: crate::with_thread_arena
pub struct HotArena {
    /// What [`HotArena::alloc`] bumps: `home`, or [`SUSPENDED`] while a
    /// nested scope of the same C arena runs (see `crate::nest`).
    pub(crate) bump: Cell<NonNull<RegionLive>>,
    /// The C arena (`struct bhc_arena *`).
    pub(crate) home: NonNull<RegionLive>,
}

// Allocation hands out `&mut` from `&self`: each is fresh memory that nothing
// else refers to, as with any bump allocator.
#[allow(clippy::mut_from_ref)]
impl HotArena {
    /// An arena that can hand out at least `capacity` bytes, from the source
    /// `$BHC_ARENA_MODE` names (bhc-arenad, or this process). The region is
    /// pre-faulted: touching its memory never faults a page in or raises
    /// `SIGBUS`.
    pub fn new(capacity: usize) -> AllocResult<HotArena> {
        let mut raw = ptr::null_mut();
        // SAFETY: raw is a valid out-pointer.
        let r = unsafe { ffi::bhc_arena_new(capacity, &mut raw) };
        HotArena::created(r, raw)
    }

    /// [`HotArena::new`] with an explicit source and backing.
    pub fn with_options(capacity: usize, opts: &ArenaOptions) -> AllocResult<HotArena> {
        let raw_opts = RawOpts {
            mode: match opts.mode {
                Mode::Env => layout::MODE_ENV,
                Mode::Auto => layout::MODE_AUTO,
                Mode::Daemon => layout::MODE_DAEMON,
                Mode::Local => layout::MODE_LOCAL,
            },
            backing: opts.backing.map_or(layout::BACKING_NONE, Backing::to_raw),
            page_shift: opts.page_shift,
            reserved: [0; 5],
        };
        let mut raw = ptr::null_mut();
        // SAFETY: both pointers are valid for the call.
        let r = unsafe { ffi::bhc_arena_new_opts(capacity, &raw_opts, &mut raw) };
        HotArena::created(r, raw)
    }

    fn created(r: i32, raw: *mut RegionLive) -> AllocResult<HotArena> {
        match NonNull::new(raw) {
            Some(home) if r == 0 => Ok(HotArena {
                bump: Cell::new(home),
                home,
            }),
            _ => Err(AllocError::Os(if r < 0 { -r } else { libc::EPROTO })),
        }
    }

    /// A handle to a C arena this value does not own; the caller keeps it
    /// from being dropped (it sits in a `ManuallyDrop`).
    pub(crate) fn lent(home: NonNull<RegionLive>) -> HotArena {
        HotArena {
            bump: Cell::new(home),
            home,
        }
    }

    fn live(&self) -> &RegionLive {
        // SAFETY: home points at the live header of a mapped region for as
        // long as this handle exists; this thread is the only writer.
        unsafe { self.home.as_ref() }
    }

    /// `size` bytes aligned to `align` (a power of two, at most the page size
    /// of the region). The memory is not initialised, and stays valid until
    /// the arena is reset, the enclosing scope ends or the arena is dropped;
    /// dereferencing it is up to you (`unsafe`).
    ///
    /// This is the C library's inline fast path, in Rust: a subtraction, a
    /// mask and a compare against the region's live header, with the
    /// exported slow path behind it for a full arena, an alignment above
    /// 4 KiB and checked mode (AddressSanitizer, Valgrind).
    #[inline(always)]
    pub fn alloc(&self, size: usize, align: usize) -> AllocResult<NonNull<u8>> {
        let live = self.bump.get().as_ptr();
        let mask = align.wrapping_sub(1);
        // SAFETY: live is a mapped region's live header, written only by this
        // thread, or SUSPENDED, on which every check below fails before the
        // writes. An address the checks let through is in [floor, top), so
        // it is inside the region and not null.
        unsafe {
            if (align & mask) | (mask & !(layout::INLINE_ALIGN_MAX - 1)) == 0 {
                let cursor = (*live).cursor;
                // A cursor never falls below the region's first data byte,
                // which lies 4 KiB above the region's (non-null, page-aligned)
                // start: up to 4 KiB, the subtraction cannot wrap, and for a
                // constant size the compiler drops the test (one instruction
                // fewer than C's, with the same results).
                let p = if size <= layout::REGION_HEADER_SIZE {
                    Some(cursor.wrapping_sub(size as u64))
                } else {
                    cursor.checked_sub(size as u64)
                };
                if let Some(p) = p {
                    let p = p & !(mask as u64);
                    if p >= (*live).floor {
                        (*live).cursor = p;
                        (*live).n_allocs += 1;
                        return Ok(NonNull::new_unchecked(p as usize as *mut u8));
                    }
                }
            }
        }
        self.alloc_slow(size, align)
    }

    #[cold]
    #[inline(never)]
    fn alloc_slow(&self, size: usize, align: usize) -> AllocResult<NonNull<u8>> {
        if self.bump.get() == suspended_live() {
            return Err(AllocError::Suspended);
        }
        // SAFETY: home is a live C arena.
        let p = unsafe { ffi::bhc_arena__alloc_slow(self.home.as_ptr(), size, align) };
        NonNull::new(p.cast::<u8>()).ok_or_else(|| {
            AllocError::from_alloc_errno(
                std::io::Error::last_os_error()
                    .raw_os_error()
                    .unwrap_or(libc::ENOMEM),
            )
        })
    }

    /// `len` uninitialised `T`s at alignment `align` (at least `T`'s).
    #[inline(always)]
    fn alloc_array<T>(&self, len: usize, align: usize) -> AllocResult<&mut [MaybeUninit<T>]> {
        let bytes = size_of::<T>()
            .checked_mul(len)
            .ok_or(AllocError::Overflow)?;
        let align = if align > align_of::<T>() {
            align
        } else {
            align_of::<T>()
        };
        let p = self.alloc(bytes, align)?;
        // SAFETY: p is `bytes` fresh bytes of this arena, aligned for T, and
        // no other reference to them exists; they stay valid while self is
        // borrowed (reset and drop need &mut self or ownership).
        Ok(unsafe { core::slice::from_raw_parts_mut(p.as_ptr().cast::<MaybeUninit<T>>(), len) })
    }

    /// `len` zeroed `T`s.
    ///
    /// The seed's `alloc_slice::<T>` hands out uninitialised `T`s; in safe
    /// Rust that needs a `T` for which all-zero bytes are a value
    /// ([`Zeroable`]), and the slice is zeroed. [`alloc_slice_uninit`] skips
    /// the zeroing for any `T`.
    ///
    /// [`alloc_slice_uninit`]: HotArena::alloc_slice_uninit
    #[inline]
    pub fn alloc_slice<T: Zeroable>(&self, len: usize) -> AllocResult<&mut [T]> {
        let s = self.alloc_array::<T>(len, align_of::<T>())?;
        Ok(zeroed(s))
    }

    /// `len` uninitialised `T`s, for any `T`.
    #[inline]
    pub fn alloc_slice_uninit<T>(&self, len: usize) -> AllocResult<&mut [MaybeUninit<T>]> {
        self.alloc_array::<T>(len, align_of::<T>())
    }

    /// One `T`, moved into the arena. Its destructor never runs: the arena
    /// frees memory, it does not drop values (like `bumpalo`).
    #[inline]
    pub fn alloc_value<T>(&self, value: T) -> AllocResult<&mut T> {
        let p = self.alloc(size_of::<T>(), align_of::<T>())?.cast::<T>();
        // SAFETY: p is fresh, aligned memory for one T, borrowed from self.
        unsafe {
            p.as_ptr().write(value);
            Ok(&mut *p.as_ptr())
        }
    }

    /// `len` zeroed `T`s aligned to `align` (or to `T`, if that is more).
    #[inline]
    pub fn alloc_aligned<T: Zeroable>(
        &self,
        len: usize,
        align: Alignment,
    ) -> AllocResult<&mut [T]> {
        let s = self.alloc_array::<T>(len, align.bytes())?;
        Ok(zeroed(s))
    }

    /// `len` uninitialised `T`s aligned to `align` (or to `T`, if that is more).
    #[inline]
    pub fn alloc_aligned_uninit<T>(
        &self,
        len: usize,
        align: Alignment,
    ) -> AllocResult<&mut [MaybeUninit<T>]> {
        self.alloc_array::<T>(len, align.bytes())
    }

    /// Free every allocation at once, in O(1). Needs `&mut self`: no
    /// allocation of the arena may be alive.
    pub fn reset(&mut self) {
        // SAFETY: home is a live C arena that this value owns.
        unsafe { ffi::bhc_arena_reset(self.home.as_ptr()) }
    }

    /// Bytes allocated since the last reset (alignment padding included).
    #[inline]
    pub fn used(&self) -> usize {
        let l = self.live();
        (l.top - l.cursor) as usize
    }

    /// Bytes still free (before alignment padding).
    #[inline]
    pub fn remaining(&self) -> usize {
        let l = self.live();
        (l.cursor - l.base) as usize
    }

    /// Bytes the arena can hand out in all: `used() + remaining()`.
    #[inline]
    pub fn capacity(&self) -> usize {
        let l = self.live();
        (l.top - l.base) as usize
    }

    /// A snapshot: sizes, counters, and where the region comes from.
    pub fn stats(&self) -> ArenaStats {
        let mut st = MaybeUninit::<RawStats>::uninit();
        // SAFETY: home is a live C arena; st is a valid out-pointer, filled
        // in whole when the call returns 0, which it does for a non-null arena.
        let st = unsafe {
            let r = ffi::bhc_arena_stats(self.home.as_ptr(), st.as_mut_ptr());
            assert_eq!(r, 0, "bhc_arena_stats() failed on a live arena");
            st.assume_init()
        };
        ArenaStats {
            capacity: st.capacity,
            used: st.used,
            remaining: st.remaining,
            high_water: st.high_water,
            n_allocs: st.n_allocs,
            n_resets: st.n_resets,
            region_id: st.region_id,
            region_size: st.region_size,
            page_size: st.page_size,
            source: match st.source {
                layout::SOURCE_LOCAL => Source::Local,
                layout::SOURCE_DAEMON => Source::Daemon,
                v => Source::Unknown(v),
            },
            backing: Backing::from_raw(st.backing),
            source_name: static_str(st.source_name),
            backing_name: static_str(st.backing_name),
        }
    }

    /// A scope: everything allocated through it is freed when it is dropped.
    /// It borrows the arena mutably, so the arena itself cannot allocate
    /// (into memory the scope would free) while the scope lives.
    pub fn scope(&mut self) -> crate::ArenaScope<'_> {
        crate::ArenaScope::enter(self)
    }

    /// The C arena, `struct bhc_arena *`, to pass to C code that allocates
    /// with `<bhc/arena.h>`. Do not free it; it is valid as long as `self`.
    pub fn as_raw(&self) -> NonNull<c_void> {
        self.home.cast()
    }

    pub(crate) fn raw_scope(&self) -> RawScope {
        let l = self.live();
        RawScope {
            arena: self.home.as_ptr(),
            cursor: l.cursor,
            n_resets: l.n_resets,
        }
    }

    pub(crate) fn suspend(&self) {
        self.bump.set(suspended_live());
    }

    pub(crate) fn resume(&self) {
        self.bump.set(self.home);
    }
}

impl Drop for HotArena {
    fn drop(&mut self) {
        // SAFETY: an owned arena (lent ones sit in ManuallyDrop), freed once.
        unsafe { ffi::bhc_arena_free(self.home.as_ptr()) }
    }
}

impl fmt::Debug for HotArena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HotArena")
            .field("used", &self.used())
            .field("capacity", &self.capacity())
            .field("suspended", &(self.bump.get() == suspended_live()))
            .finish()
    }
}

fn zeroed<T: Zeroable>(s: &mut [MaybeUninit<T>]) -> &mut [T] {
    // SAFETY: all-zero bytes are a valid T (the Zeroable contract), so after
    // the write the elements are initialised.
    unsafe {
        ptr::write_bytes(s.as_mut_ptr(), 0, s.len());
        &mut *(s as *mut [MaybeUninit<T>] as *mut [T])
    }
}

/// The library's names are string literals in the library, which stays
/// loaded as long as the process (it is linked, not dlopen()ed).
fn static_str(p: *const core::ffi::c_char) -> &'static str {
    if p.is_null() {
        return "";
    }
    // SAFETY: a NUL-terminated literal of libbhc-arena (see above).
    unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("")
}

/// The library's version string, e.g. `"0.1.0"`.
pub fn library_version() -> &'static str {
    // SAFETY: no arguments; returns a literal.
    static_str(unsafe { ffi::bhc_arena_version() })
}
