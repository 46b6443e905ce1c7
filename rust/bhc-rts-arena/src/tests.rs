// Unit tests: each arena is local (Mode::Local) unless the test is about the
// thread's arena or with_arena, which follow $BHC_ARENA_MODE.
use core::mem::MaybeUninit;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::*;

fn local(capacity: usize) -> HotArena {
    let opts = ArenaOptions {
        mode: Mode::Local,
        ..ArenaOptions::default()
    };
    HotArena::with_options(capacity, &opts).expect("a local arena")
}

fn addr<T>(p: *const T) -> usize {
    p as usize
}

#[test]
fn alloc_bumps_down_aligned_and_counts() {
    let a = local(1 << 20);
    let st0 = a.stats();
    assert_eq!(st0.source, Source::Local);
    assert_eq!(st0.region_id, 0);
    assert_eq!(a.used(), 0);
    assert_eq!(a.capacity(), a.remaining());
    assert!(a.capacity() >= 1 << 20);

    let p1 = a.alloc(10, 8).unwrap();
    let p2 = a.alloc(16, 64).unwrap();
    assert!(
        addr(p2.as_ptr()) < addr(p1.as_ptr()),
        "the arena bumps downward"
    );
    assert_eq!(addr(p2.as_ptr()) % 64, 0);
    assert_eq!(addr(p1.as_ptr()) % 8, 0);
    // 10 bytes below a page-aligned top, rounded down to 8: 16; then 16 at 64: 64.
    assert_eq!(a.used(), 64);
    assert_eq!(a.used() + a.remaining(), a.capacity());
    let st = a.stats();
    assert_eq!(st.n_allocs, st0.n_allocs + 2);
    assert_eq!(st.used, 64);
}

#[test]
fn alignment_errors_after_a_valid_one() {
    let small = ArenaOptions {
        mode: Mode::Local,
        backing: Some(Backing::Small),
        page_shift: 0,
    };
    let a = HotArena::with_options(1 << 20, &small).unwrap();
    assert!(a.alloc(8, 8).is_ok());
    let used = a.used();
    assert_eq!(a.alloc(8, 0), Err(AllocError::InvalidAlignment));
    assert_eq!(a.alloc(8, 24), Err(AllocError::InvalidAlignment));
    let page = a.stats().page_size;
    assert_eq!(page, 4096);
    assert!(a.alloc(8, page).is_ok(), "up to the page size is allowed");
    assert_eq!(a.alloc(8, page * 2), Err(AllocError::InvalidAlignment));
    assert_eq!(AllocError::InvalidAlignment.errno(), libc::EINVAL);
    assert!(a.used() > used);
}

#[test]
fn full_arena_fails_and_changes_nothing() {
    let a = local(4096);
    let room = a.remaining();
    let used = a.used();
    // The last byte fits, at any alignment up to 4 KiB (the data is page-aligned)...
    let p = a.alloc(room, 4096).unwrap();
    assert_eq!(a.remaining(), 0);
    assert_eq!(a.used(), used + room);
    let n = a.stats().n_allocs;
    // ...and then nothing does, and a failure changes nothing.
    assert_eq!(a.alloc(1, 1), Err(AllocError::OutOfMemory));
    assert_eq!(a.alloc(usize::MAX, 1), Err(AllocError::OutOfMemory));
    assert_eq!(a.stats().n_allocs, n);
    assert_eq!(a.remaining(), 0);
    assert_eq!(p.as_ptr() as usize % 4096, 0);
}

#[test]
fn slice_overflow_is_reported() {
    let a = local(1 << 20);
    assert_eq!(a.alloc_slice::<u64>(4).unwrap().len(), 4);
    assert_eq!(
        a.alloc_slice::<u64>(usize::MAX / 4).unwrap_err(),
        AllocError::Overflow
    );
    assert_eq!(
        a.alloc_slice_uninit::<u32>(usize::MAX / 2).unwrap_err(),
        AllocError::Overflow
    );
}

#[test]
fn slices_are_zeroed_even_after_reuse() {
    let mut a = local(1 << 20);
    {
        let s = a.alloc_slice_uninit::<u8>(4096).unwrap();
        for x in s.iter_mut() {
            *x = MaybeUninit::new(0xee);
        }
    }
    a.reset();
    // The same bytes again (the cursor is back at the top), zeroed.
    let s = a.alloc_slice::<u8>(4096).unwrap();
    assert!(s.iter().all(|&b| b == 0));
    let f = a.alloc_aligned::<f64>(100, Alignment::CacheLine).unwrap();
    assert!(f.iter().all(|&x| x == 0.0));
}

#[test]
fn alignment_classes() {
    let a = local(1 << 20);
    for (al, bytes) in [
        (Alignment::Default, 8),
        (Alignment::Simd128, 16),
        (Alignment::Simd256, 32),
        (Alignment::Simd512, 64),
        (Alignment::CacheLine, 64),
    ] {
        assert_eq!(al.bytes(), bytes);
        a.alloc(1, 1).unwrap(); // misalign the cursor
        let s = a.alloc_aligned::<u8>(3, al).unwrap();
        assert_eq!(addr(s.as_ptr()) % bytes, 0, "{al:?}");
        let u = a.alloc_aligned_uninit::<u8>(3, al).unwrap();
        assert_eq!(addr(u.as_ptr()) % bytes, 0, "{al:?}");
    }
    // T's own alignment wins when it is larger.
    a.alloc(1, 1).unwrap();
    #[repr(align(128))]
    struct Big(#[allow(dead_code)] u8);
    let b = a
        .alloc_aligned_uninit::<Big>(1, Alignment::Default)
        .unwrap();
    assert_eq!(addr(b.as_ptr()) % 128, 0);
}

#[test]
fn alloc_value_moves_in_and_never_drops() {
    use std::rc::Rc;
    let a = local(1 << 20);
    let rc = Rc::new(5);
    let v = a.alloc_value(Rc::clone(&rc)).unwrap();
    assert_eq!(**v, 5);
    assert_eq!(Rc::strong_count(&rc), 2);
    drop(a);
    // The arena freed the memory without dropping the value in it.
    assert_eq!(Rc::strong_count(&rc), 2);
}

#[test]
fn reset_frees_everything_and_counts() {
    let mut a = local(1 << 20);
    a.alloc_slice::<u8>(1000).unwrap();
    let used = a.used();
    assert!(used >= 1000);
    let n = a.stats().n_resets;
    a.reset();
    assert_eq!(a.used(), 0);
    let st = a.stats();
    assert_eq!(st.n_resets, n + 1);
    assert!(st.high_water >= used);
}

#[test]
fn scopes_rewind_nest_and_reset() {
    let mut a = local(1 << 20);
    a.alloc_value(1u64).unwrap();
    let base = a.used();
    {
        let mut s1 = a.scope();
        s1.alloc_slice::<u8>(100).unwrap();
        let in_s1 = s1.used();
        assert!(in_s1 > base);
        {
            let s2 = s1.scope();
            s2.alloc_slice::<u8>(1000).unwrap();
            assert!(s2.used() > in_s1);
        }
        assert_eq!(s1.used(), in_s1, "the inner scope rewound to its start");
        s1.reset();
        assert_eq!(s1.used(), base, "reset frees the scope's allocations only");
        s1.alloc_slice::<u8>(10).unwrap();
    }
    assert_eq!(a.used(), base);
}

#[test]
fn with_arena_nests_and_rewinds() {
    let before = with_thread_arena(|t| t.used()).unwrap();
    let r = with_arena(64 << 10, |outer| {
        let a = outer.alloc_slice::<u32>(100).unwrap();
        a[0] = 7;
        let outer_used = outer.used();
        let inner = with_arena(64 << 10, |inner| {
            assert_eq!(inner.as_raw(), outer.as_raw(), "nested in the same arena");
            let b = inner.alloc_slice::<u32>(100).unwrap();
            assert!(
                addr(b.as_ptr()) < addr(a.as_ptr()),
                "after the outer allocations"
            );
            b[0] = a[0] + 1;
            // The outer handle may not allocate while the inner call runs...
            for (size, align) in [
                (8, 8),
                (1, 1),
                (0, 1),
                (4096, 4096),
                (1 << 40, 8),
                (usize::MAX, 1),
            ] {
                assert_eq!(
                    outer.alloc(size, align),
                    Err(AllocError::Suspended),
                    "{size} {align}"
                );
            }
            assert_eq!(outer.alloc_value(1u8).unwrap_err().errno(), libc::EBUSY);
            b[0]
        })
        .unwrap();
        // ...and may again afterwards; the inner allocations are gone.
        assert_eq!(outer.used(), outer_used);
        assert!(outer.alloc(8, 8).is_ok());
        (inner, a[0])
    })
    .unwrap();
    assert_eq!(r, (8, 7));
    assert_eq!(with_thread_arena(|t| t.used()).unwrap(), before);
}

#[test]
fn with_arena_too_big_for_the_thread_arena_gets_its_own() {
    let thread = with_thread_arena(|t| (t.as_raw(), t.capacity())).unwrap();
    let big = thread.1 + (1 << 20);
    with_arena(big, |a| {
        assert_ne!(a.as_raw(), thread.0);
        assert!(a.remaining() >= big);
        // A nested call nests in this arena, the current one.
        with_arena(4096, |b| assert_eq!(b.as_raw(), a.as_raw())).unwrap();
    })
    .unwrap();
}

#[test]
fn with_thread_arena_is_a_scope_and_nests_with_with_arena() {
    let before = with_thread_arena(|t| t.used()).unwrap();
    with_thread_arena(|t| {
        let x = t.alloc_value(3u32).unwrap();
        with_arena(4096, |inner| {
            assert_eq!(inner.as_raw(), t.as_raw());
            assert_eq!(t.alloc(4, 4), Err(AllocError::Suspended));
            *inner.alloc_value(1u32).unwrap() + *x
        })
        .unwrap();
        assert!(t.alloc(4, 4).is_ok());
    })
    .unwrap();
    assert_eq!(with_thread_arena(|t| t.used()).unwrap(), before);
}

#[test]
fn panic_in_with_arena_unwinds_cleanly() {
    let before = with_thread_arena(|t| t.used()).unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| {
        with_arena(4096, |a| {
            a.alloc_slice::<u8>(100).unwrap();
            panic!("boom");
        })
    }));
    assert_eq!(
        *r.unwrap_err().downcast::<&str>().unwrap(),
        "boom",
        "the closure's panic comes through"
    );
    // The scope ended and the thread's arena is usable, not suspended.
    with_thread_arena(|t| {
        assert_eq!(t.used(), before);
        assert!(t.alloc(8, 8).is_ok());
    })
    .unwrap();
}

#[test]
fn threads_get_their_own_thread_arena() {
    let here = with_thread_arena(|t| t.as_raw().as_ptr() as usize).unwrap();
    let there = std::thread::spawn(|| with_thread_arena(|t| t.as_raw().as_ptr() as usize))
        .join()
        .unwrap()
        .unwrap();
    assert_ne!(here, there);
}

#[test]
fn errors_say_what_and_which_errno() {
    let e = AllocError::Os(libc::ECONNREFUSED);
    assert_eq!(e.errno(), libc::ECONNREFUSED);
    assert!(e.to_string().contains("refused"), "{e}");
    assert_eq!(AllocError::OutOfMemory.errno(), libc::ENOMEM);
    assert_eq!(AllocError::Overflow.errno(), libc::EOVERFLOW);
    assert!(!library_version().is_empty());
}

#[test]
fn bad_options_are_refused() {
    let ok = ArenaOptions {
        mode: Mode::Local,
        backing: Some(Backing::Small),
        page_shift: 0,
    };
    let a = HotArena::with_options(4096, &ok).unwrap();
    assert_eq!(a.stats().backing, Backing::Small);
    assert_eq!(a.stats().backing_name, "small");
    assert_eq!(a.stats().source_name, "local");
    let bad = ArenaOptions {
        backing: Some(Backing::Unknown(99)),
        ..ok
    };
    assert_eq!(
        HotArena::with_options(4096, &bad).unwrap_err(),
        AllocError::Os(libc::EINVAL)
    );
    assert_eq!(HotArena::new(0).unwrap_err(), AllocError::Os(libc::EINVAL));
}
