use core::cell::Cell;
use core::ffi::{c_int, c_void};
use core::mem::ManuallyDrop;
use core::ops::Deref;
use core::ptr::{self, NonNull};
use std::panic::{self, AssertUnwindSafe};

use crate::arena::HotArena;
use crate::error::{AllocError, AllocResult};
use crate::ffi;
use crate::layout::{RawScope, RegionLive};

/// A scope of an arena you own, as a guard: what is allocated through it is
/// freed when it is dropped (`BHC_ARENA_SCOPE` in C).
///
/// It holds the arena by `&mut`, so nothing else allocates in the arena
/// while it lives, and it hands out `&HotArena` (through `Deref`) borrowed
/// from itself, so no allocation outlives it. Scopes nest with
/// [`ArenaScope::scope`].
///
/// ```
/// use bhc_rts_arena::HotArena;
///
/// let mut arena = HotArena::new(1 << 20)?;
/// let before = arena.used();
/// {
///     let scope = arena.scope();
///     let tmp = scope.alloc_slice::<f32>(1000)?;
///     tmp[999] = 1.0;
///     assert!(scope.used() >= before + 4000);
/// } // tmp is freed here
/// assert_eq!(arena.used(), before);
/// # Ok::<(), bhc_rts_arena::AllocError>(())
/// ```
pub struct ArenaScope<'a> {
    arena: &'a mut HotArena,
    raw: RawScope,
}

impl<'a> ArenaScope<'a> {
    pub(crate) fn enter(arena: &'a mut HotArena) -> ArenaScope<'a> {
        let raw = arena.raw_scope();
        ArenaScope { arena, raw }
    }

    /// A scope inside this one.
    pub fn scope(&mut self) -> ArenaScope<'_> {
        ArenaScope::enter(self.arena)
    }

    /// Free what was allocated in this scope so far, and stay in it.
    pub fn reset(&mut self) {
        // SAFETY: raw was entered on self.arena, which is alive (&mut).
        unsafe { ffi::bhc_arena_scope_leave(&mut self.raw) };
        self.raw = self.arena.raw_scope();
    }
}

impl Deref for ArenaScope<'_> {
    type Target = HotArena;

    fn deref(&self) -> &HotArena {
        self.arena
    }
}

impl Drop for ArenaScope<'_> {
    fn drop(&mut self) {
        // SAFETY: as in reset().
        unsafe { ffi::bhc_arena_scope_leave(&mut self.raw) }
    }
}

// --- handles lent to closures, and nesting -----------------------------------
//
// with_arena() and with_thread_arena() lend their closure a `&HotArena` to a
// C arena that an enclosing call may already have lent out: nested calls run
// in scopes of the same arena. The outer handle is still in scope inside the
// inner closure; if it allocated there, the inner scope's end would free that
// memory under a borrow that lives on. So while a nested call runs, the
// outer handle of the same arena is suspended: its `bump` points at
// SUSPENDED, and its allocations fail with AllocError::Suspended instead.
// The lent handles of this thread form a stack, linked through the frames on
// the call stack; at most one handle per C arena (the innermost) is active.

struct Frame {
    handle: *const HotArena,
    /// The handle this frame suspended, to resume when it ends.
    suspended: Cell<*const HotArena>,
    prev: *const Frame,
}

thread_local! {
    static TOP: Cell<*const Frame> = const { Cell::new(ptr::null()) };
}

/// Runs `f` with a handle to `home`, suspending the enclosing handle of the
/// same arena while it runs.
fn lend<R>(home: NonNull<RegionLive>, f: impl FnOnce(&HotArena) -> R) -> R {
    struct Pop<'a>(&'a Frame);
    impl Drop for Pop<'_> {
        fn drop(&mut self) {
            let s = self.0.suspended.get();
            if !s.is_null() {
                // SAFETY: the suspended handle belongs to an enclosing frame,
                // which outlives this one.
                unsafe { (*s).resume() };
            }
            TOP.with(|top| {
                debug_assert!(ptr::eq(top.get(), self.0));
                top.set(self.0.prev);
            });
        }
    }

    let handle = ManuallyDrop::new(HotArena::lent(home));
    let frame = Frame {
        handle: &*handle,
        suspended: Cell::new(ptr::null()),
        prev: TOP.with(Cell::get),
    };
    let mut f_ptr = frame.prev;
    while !f_ptr.is_null() {
        // SAFETY: frames on the stack are live until popped, in LIFO order.
        let outer = unsafe { &*f_ptr };
        // SAFETY: as above, for the handle each frame lends.
        let h = unsafe { &*outer.handle };
        if h.home == home {
            h.suspend();
            frame.suspended.set(h);
            break;
        }
        f_ptr = outer.prev;
    }
    TOP.with(|top| top.set(&frame));
    let _pop = Pop(&frame);
    f(&handle)
}

/// Runs `f` with an arena that has at least `size` bytes free, and frees
/// what `f` allocated when it returns (`bhc_with_arena()`).
///
/// The arena is the thread's current one: that of the innermost `with_arena`
/// in progress, else the thread's arena (see [`with_thread_arena`]). If it
/// has the room, `f` runs in a scope of it: nested calls allocate after the
/// enclosing call's allocations and rewind on return, and the enclosing
/// call's slices stay valid. Otherwise an arena of at least `size` bytes is
/// made for the call and freed afterwards. The room is found before `f`
/// runs, so `f` never fails half-way for lack of it.
///
/// Returns what `f` returns, or the error of getting the arena (`f` is then
/// not called). While a nested call runs, an enclosing handle to the same
/// arena answers allocations with [`AllocError::Suspended`]. A panic in `f`
/// unwinds through this call after the scope has ended.
pub fn with_arena<R, F: FnOnce(&HotArena) -> R>(size: usize, f: F) -> AllocResult<R> {
    struct Ctx<F, R> {
        f: Option<F>,
        out: Option<std::thread::Result<R>>,
    }

    unsafe extern "C" fn trampoline<F: FnOnce(&HotArena) -> R, R>(
        arena: *mut RegionLive,
        ctx: *mut c_void,
    ) -> c_int {
        // SAFETY: ctx is the Ctx that with_arena passed, alive for the call.
        let ctx = unsafe { &mut *ctx.cast::<Ctx<F, R>>() };
        let (Some(f), Some(home)) = (ctx.f.take(), NonNull::new(arena)) else {
            return -libc::EINVAL;
        };
        // A panic must not unwind through C: carry it across, resume it after.
        ctx.out = Some(panic::catch_unwind(AssertUnwindSafe(|| lend(home, f))));
        0
    }

    let mut ctx = Ctx {
        f: Some(f),
        out: None,
    };
    // SAFETY: the trampoline matches ctx's type and runs before the call returns.
    let r = unsafe {
        ffi::bhc_with_arena(
            size,
            Some(trampoline::<F, R>),
            (&mut ctx as *mut Ctx<F, R>).cast::<c_void>(),
        )
    };
    match ctx.out {
        Some(Ok(v)) => Ok(v),
        Some(Err(payload)) => panic::resume_unwind(payload),
        None => Err(AllocError::Os(if r < 0 { -r } else { libc::EPROTO })),
    }
}

/// Runs `f` with the calling thread's arena (`bhc_arena_thread()`), in a
/// scope of it: what `f` allocates is freed when `f` returns.
///
/// The thread's arena is created on first use with [`DEFAULT_ARENA_SIZE`]
/// bytes (or `$BHC_ARENA_THREAD_SIZE`), from the source `$BHC_ARENA_MODE`
/// names, and given back when the thread exits. It is also the arena
/// [`with_arena`] nests in when it has the room. The error is that of
/// creating it.
///
/// [`DEFAULT_ARENA_SIZE`]: crate::DEFAULT_ARENA_SIZE
pub fn with_thread_arena<R>(f: impl FnOnce(&HotArena) -> R) -> AllocResult<R> {
    struct Leave(RawScope);
    impl Drop for Leave {
        fn drop(&mut self) {
            // SAFETY: entered on the thread's arena, which outlives this call.
            unsafe { ffi::bhc_arena_scope_leave(&mut self.0) }
        }
    }

    // SAFETY: no arguments; NULL with errno set on failure.
    let home = NonNull::new(unsafe { ffi::bhc_arena_thread() }).ok_or_else(|| {
        AllocError::Os(
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::ENOMEM),
        )
    })?;
    let _leave = Leave(ManuallyDrop::new(HotArena::lent(home)).raw_scope());
    Ok(lend(home, f))
}
