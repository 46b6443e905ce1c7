// 16-byte allocations: this crate's HotArena::alloc against bumpalo's
// Bump::try_alloc_layout and against the C library's inline
// bhc_arena_alloc() (csrc/c-reference.c), in one process, in the same loop
// shape: reset, then N allocations, each pointer passed through a black box
// (core::hint::black_box in Rust, an empty asm with a memory clobber in C).
// The three run interleaved, trial after trial; the figures are the medians
// of ns per allocation over the trials, and each ratio is the median of the
// trials' ratios (each trial's three runs are seconds apart, so a machine
// that speeds up or slows down between trials does not skew it).
//
//   cargo bench --offline --bench alloc [-- -o DIR]
//
// -o DIR also writes DIR/rust-alloc.csv and DIR/rust-alloc.md.
// BHC_BENCH_QUICK=1 makes it a smoke run of well under a second.
use std::alloc::Layout;
use std::ffi::c_void;
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Instant;

use bhc_rts_arena::{ArenaOptions, HotArena, Mode, DEFAULT_ARENA_SIZE};
use bumpalo::Bump;

extern "C" {
    fn bhc_rts_arena_c_alloc16_loop(arena: *mut c_void, n: u64) -> i32;
}

/// Allocations per round: 1 MiB of 16-byte objects.
const N: u64 = 1 << 16;

#[inline(never)]
fn round_crate(arena: &mut HotArena) {
    arena.reset();
    let a = &*arena;
    for _ in 0..N {
        let p = a.alloc(16, 8).unwrap_or_else(|_| std::process::abort());
        black_box(p);
    }
}

#[inline(never)]
fn round_bumpalo(bump: &mut Bump) {
    bump.reset();
    let b = &*bump;
    let layout = Layout::from_size_align(16, 8).unwrap();
    for _ in 0..N {
        let p = b
            .try_alloc_layout(layout)
            .unwrap_or_else(|_| std::process::abort());
        black_box(p);
    }
}

#[inline(never)]
fn round_c(arena: &mut HotArena) {
    arena.reset();
    // SAFETY: a live arena of ours, used by this thread only.
    if unsafe { bhc_rts_arena_c_alloc16_loop(arena.as_raw().as_ptr(), N) } != 0 {
        std::process::abort();
    }
}

/// ns per allocation over `rounds` rounds of `f`.
fn time<T>(x: &mut T, rounds: u32, f: fn(&mut T)) -> f64 {
    let t = Instant::now();
    for _ in 0..rounds {
        f(x);
    }
    t.elapsed().as_nanos() as f64 / (f64::from(rounds) * N as f64)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let mut out_dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-o" => out_dir = args.next(),
            "--bench" => {}
            other => {
                eprintln!("usage: alloc [--bench] [-o DIR] (not {other:?})");
                std::process::exit(2);
            }
        }
    }
    let quick = std::env::var("BHC_BENCH_QUICK").is_ok_and(|v| v != "0");
    let (trials, rounds) = if quick { (7, 20) } else { (31, 200) };

    let opts = ArenaOptions {
        mode: Mode::Local,
        ..ArenaOptions::default()
    };
    let mut crate_arena = HotArena::with_options(DEFAULT_ARENA_SIZE, &opts).expect("an arena");
    let mut c_arena = HotArena::with_options(DEFAULT_ARENA_SIZE, &opts).expect("an arena");
    let mut bump = Bump::with_capacity((N as usize) * 16 + 4096);
    // Warm-up: caches, branch predictors, bumpalo's chunk at its final size.
    time(&mut crate_arena, 5, round_crate);
    time(&mut bump, 5, round_bumpalo);
    time(&mut c_arena, 5, round_c);

    let (mut r, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..trials {
        r.push(time(&mut crate_arena, rounds, round_crate));
        b.push(time(&mut bump, rounds, round_bumpalo));
        c.push(time(&mut c_arena, rounds, round_c));
    }
    let mut vs_b: Vec<f64> = r.iter().zip(&b).map(|(r, b)| r / b).collect();
    let mut vs_c: Vec<f64> = r.iter().zip(&c).map(|(r, c)| r / c).collect();
    let (vs_b, vs_c) = (median(&mut vs_b), median(&mut vs_c));
    let (r, b, c) = (median(&mut r), median(&mut b), median(&mut c));
    let st = crate_arena.stats();

    println!("== rust-alloc: 16-byte allocation, bhc-rts-arena vs bumpalo vs C ==");
    if quick {
        println!("quick run (BHC_BENCH_QUICK): the figures mean nothing");
    }
    println!(
        "{} trials x {} rounds x {} allocations each; medians; arena: {} {} region",
        trials, rounds, N, st.source_name, st.backing_name
    );
    let mut md = String::from(
        "| allocator | ns/alloc | bhc-rts-arena / it | target |\n|---|---:|---:|---|\n",
    );
    let mut csv = String::from("allocator,ns_per_alloc,ratio,target\n");
    let rows = [
        ("bhc-rts-arena HotArena::alloc", r, 1.0, "".to_string()),
        (
            "bumpalo Bump::try_alloc_layout",
            b,
            vs_b,
            format!("<= 1.00: {}", if vs_b <= 1.0 { "met" } else { "MISSED" }),
        ),
        (
            "C bhc_arena_alloc (inline)",
            c,
            vs_c,
            format!("<= 1.10: {}", if vs_c <= 1.1 { "met" } else { "MISSED" }),
        ),
    ];
    println!(
        "{:<32} {:>9} {:>20}  target",
        "allocator", "ns/alloc", "bhc-rts-arena / it"
    );
    for (name, ns, ratio, target) in &rows {
        println!("{name:<32} {ns:>9.3} {ratio:>19.3}x  {target}");
        writeln!(md, "| {name} | {ns:.3} | {ratio:.3}x | {target} |").unwrap();
        writeln!(csv, "{name},{ns:.4},{ratio:.4},{target}").unwrap();
    }
    if let Some(dir) = out_dir {
        std::fs::create_dir_all(&dir).expect("output directory");
        std::fs::write(format!("{dir}/rust-alloc.md"), md).expect("writing rust-alloc.md");
        std::fs::write(format!("{dir}/rust-alloc.csv"), csv).expect("writing rust-alloc.csv");
    }
}
