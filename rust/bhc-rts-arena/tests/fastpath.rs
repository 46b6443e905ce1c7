// The Rust fast path against the C one: the same random sequence of
// allocations through HotArena::alloc and through <bhc/arena.h>'s inline
// bhc_arena_alloc() (csrc/c-reference.c), on two arenas of the same size,
// must give the same offsets, the same errors and the same counters.
use std::ffi::c_void;

use bhc_rts_arena::{AllocError, ArenaOptions, Backing, HotArena, Mode};
use quickcheck::{Arbitrary, Gen, QuickCheck};

extern "C" {
    fn bhc_rts_arena_c_alloc(
        arena: *mut c_void,
        size: usize,
        align: usize,
        p: *mut *mut c_void,
    ) -> i32;
}

#[derive(Clone, Debug)]
struct Op {
    size: usize,
    align: usize,
    reset: bool,
}

impl Arbitrary for Op {
    fn arbitrary(g: &mut Gen) -> Op {
        // Sizes around the arena's capacity too, alignments valid and not.
        let size = match u8::arbitrary(g) % 8 {
            0 => usize::arbitrary(g),
            1 => 70_000 + usize::arbitrary(g) % 70_000,
            _ => usize::arbitrary(g) % 600,
        };
        let align = match u8::arbitrary(g) % 10 {
            0 => usize::arbitrary(g) % 100,
            1 => 8192,
            n => 1 << (n as usize % 13),
        };
        Op {
            size,
            align,
            reset: u8::arbitrary(g) % 50 == 0,
        }
    }
}

fn small_local() -> HotArena {
    let opts = ArenaOptions {
        mode: Mode::Local,
        backing: Some(Backing::Small),
        page_shift: 0,
    };
    HotArena::with_options(256 << 10, &opts).unwrap()
}

fn top(a: &HotArena) -> usize {
    a.as_raw().as_ptr() as usize - 64 + a.stats().region_size
}

fn same_as_c(ops: Vec<Op>) -> bool {
    compare(small_local(), small_local(), &ops)
}

fn compare(mut rust: HotArena, mut c: HotArena, ops: &[Op]) -> bool {
    let (rtop, ctop) = (top(&rust), top(&c));
    for op in ops {
        if op.reset {
            rust.reset();
            c.reset();
            continue;
        }
        let r = rust.alloc(op.size, op.align);
        let mut p = std::ptr::null_mut();
        // SAFETY: a live arena and a valid out-pointer.
        let e = unsafe { bhc_rts_arena_c_alloc(c.as_raw().as_ptr(), op.size, op.align, &mut p) };
        let same = match r {
            Ok(rp) => e == 0 && rtop - rp.as_ptr() as usize == ctop - p as usize,
            Err(err) => e != 0 && err == AllocError::from_errno_for_test(e),
        };
        if !same {
            eprintln!(
                "{op:?}: rust {r:?}, C errno {e} at offset {}",
                ctop.wrapping_sub(p as usize)
            );
            return false;
        }
    }
    let (rs, cs) = (rust.stats(), c.stats());
    rs.used == cs.used && rs.n_allocs == cs.n_allocs && rs.n_resets == cs.n_resets
}

trait FromErrno {
    fn from_errno_for_test(e: i32) -> AllocError;
}

impl FromErrno for AllocError {
    fn from_errno_for_test(e: i32) -> AllocError {
        match e {
            libc::ENOMEM => AllocError::OutOfMemory,
            libc::EINVAL => AllocError::InvalidAlignment,
            e => AllocError::Os(e),
        }
    }
}

#[test]
fn rust_fast_path_matches_c() {
    QuickCheck::new()
        .tests(300)
        .quickcheck(same_as_c as fn(Vec<Op>) -> bool);
}

#[test]
fn a_known_sequence_matches_c() {
    // The property above, on a sequence that hits every branch, so that a
    // generator drifting away from them cannot make it vacuous.
    let ops = [
        (10, 8),
        (16, 64),
        (1, 3),
        (1, 0),
        (1, 8192),
        (300_000, 8),
        (100, 4096),
        (0, 1),
    ]
    .iter()
    .map(|&(size, align)| Op {
        size,
        align,
        reset: false,
    })
    .chain([
        Op {
            size: 0,
            align: 1,
            reset: true,
        },
        Op {
            size: 7,
            align: 2,
            reset: false,
        },
    ])
    .collect();
    assert!(same_as_c(ops));
    // And the comparison can fail: a C arena one allocation ahead is caught.
    let c = small_local();
    let mut p = std::ptr::null_mut();
    // SAFETY: as above.
    assert_eq!(
        unsafe { bhc_rts_arena_c_alloc(c.as_raw().as_ptr(), 8, 8, &mut p) },
        0
    );
    let one = [Op {
        size: 16,
        align: 8,
        reset: false,
    }];
    assert!(compare(small_local(), small_local(), &one));
    assert!(!compare(small_local(), c, &one));
}
