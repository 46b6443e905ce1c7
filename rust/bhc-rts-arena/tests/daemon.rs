// The seed's examples (the ```rust blocks of README.md, turned into functions
// by build.rs) run in local mode and against a real bhc-arenad that this test
// starts on a private socket; and a region a Rust program leases is seen by
// `bhc-arenactl regions --json` with its live usage, and gone once dropped.
//
// Each part runs in a child process of this binary, so that each gets its own
// environment ($BHC_ARENA_MODE, $BHC_ARENA_SOCKET) and its own thread arena.
// The daemon and bhc-arenactl are $BHC_ARENAD and $BHC_ARENACTL (set by
// scripts/rust-check.sh); without them the daemon part is a TAP skip, and
// under CI=true a failure. Output is TAP.
use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use bhc_rts_arena::{with_arena, with_thread_arena, AllocError, HotArena, Source};
use serde_json::Value;

include!(concat!(env!("OUT_DIR"), "/readme_examples.rs"));

const CHILD_EXAMPLES: &str = "--bhc-child-examples";
const CHILD_REGION: &str = "--bhc-child-region";
const CHILD_SOURCE: &str = "--bhc-child-source";
const REGION_TAG: &str = "rust-region-test";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().collect();
    match args.get(1).map(String::as_str) {
        Some(CHILD_EXAMPLES) => return child_examples(&args[2]),
        Some(CHILD_REGION) => return child_region(Path::new(&args[2]), &args[3]),
        Some(CHILD_SOURCE) => return child_source(&args[2]),
        _ => {}
    }
    let mut tap = Tap::default();
    println!("1..8");

    let local = run_child(&[CHILD_EXAMPLES, "local"], &[("BHC_ARENA_MODE", "local")]);
    tap.check(local, "README examples run in local mode");

    let (arenad, arenactl) = match (env::var_os("BHC_ARENAD"), env::var_os("BHC_ARENACTL")) {
        (Some(d), Some(c)) => (PathBuf::from(d), PathBuf::from(c)),
        _ if env::var("CI").as_deref() == Ok("true") => {
            for what in [
                "daemon started",
                "examples",
                "region",
                "auto",
                "auto",
                "daemon mode",
                "daemon stopped",
            ] {
                tap.check(
                    false,
                    &format!("{what}: BHC_ARENAD and BHC_ARENACTL must be set in CI"),
                );
            }
            return tap.exit();
        }
        _ => {
            for what in [
                "daemon started",
                "examples",
                "region",
                "auto",
                "auto",
                "daemon mode",
                "daemon stopped",
            ] {
                tap.skip(
                    what,
                    "BHC_ARENAD and BHC_ARENACTL not set (scripts/rust-check.sh sets them)",
                );
            }
            return tap.exit();
        }
    };

    let mut daemon = match Daemon::start(&arenad, &arenactl) {
        Ok(d) => d,
        Err(e) => {
            tap.check(
                false,
                &format!("bhc-arenad started on a private socket: {e}"),
            );
            return tap.exit();
        }
    };
    tap.check(true, "bhc-arenad started on a private socket");
    let sock = daemon.socket.to_str().unwrap().to_owned();

    let grants_before = daemon.grants();
    let ok = run_child(
        &[CHILD_EXAMPLES, "daemon"],
        &[
            ("BHC_ARENA_MODE", "daemon"),
            ("BHC_ARENA_SOCKET", &sock),
            ("BHC_ARENA_TAG", "rust-examples"),
        ],
    );
    let grants = daemon.grants();
    if grants <= grants_before {
        eprintln!("# the daemon granted no region: {grants_before} -> {grants}");
    }
    tap.check(
        ok && grants > grants_before,
        "README examples run against bhc-arenad",
    );

    let ok = run_child(
        &[CHILD_REGION, arenactl.to_str().unwrap(), &sock],
        &[
            ("BHC_ARENA_MODE", "daemon"),
            ("BHC_ARENA_SOCKET", &sock),
            ("BHC_ARENA_TAG", REGION_TAG),
        ],
    );
    tap.check(
        ok,
        "a region leased from Rust shows in bhc-arenactl regions --json, kept once dropped",
    );

    // $BHC_ARENA_MODE as in C: auto takes the daemon when it answers and
    // maps locally when nothing listens; daemon mode then fails instead.
    let gone = daemon.dir.join("nothing-listens.sock");
    let gone = gone.to_str().unwrap();
    let ok = run_child(
        &[CHILD_SOURCE, "daemon"],
        &[("BHC_ARENA_MODE", "auto"), ("BHC_ARENA_SOCKET", &sock)],
    );
    tap.check(
        ok,
        "auto mode with a daemon on the socket: regions from the daemon",
    );
    let ok = run_child(
        &[CHILD_SOURCE, "local"],
        &[("BHC_ARENA_MODE", "auto"), ("BHC_ARENA_SOCKET", gone)],
    );
    tap.check(ok, "auto mode with nothing on the socket: local regions");
    let ok = run_child(
        &[CHILD_SOURCE, "refused"],
        &[("BHC_ARENA_MODE", "daemon"), ("BHC_ARENA_SOCKET", gone)],
    );
    tap.check(ok, "daemon mode with nothing on the socket: ECONNREFUSED");

    let stopped = daemon.stop();
    tap.check(stopped, "bhc-arenad stopped cleanly (SIGTERM, exit 0)");
    if !tap.all_ok {
        daemon.dump_log();
    }
    tap.exit()
}

#[derive(Default)]
struct Tap {
    n: u32,
    all_ok: bool,
    failed: bool,
}

impl Tap {
    fn check(&mut self, ok: bool, what: &str) {
        self.n += 1;
        println!("{}ok {} - {what}", if ok { "" } else { "not " }, self.n);
        self.failed |= !ok;
        self.all_ok = !self.failed;
    }

    fn skip(&mut self, what: &str, why: &str) {
        self.n += 1;
        println!("ok {} - {what} # SKIP {why}", self.n);
    }

    fn exit(&self) -> ExitCode {
        if self.failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }
}

fn run_child(args: &[&str], envs: &[(&str, &str)]) -> bool {
    let mut cmd = Command::new(env::current_exe().unwrap());
    cmd.args(args)
        .env_remove("BHC_ARENA_SOCKET")
        .env_remove("BHC_ARENA_TAG");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    match cmd.status() {
        Ok(s) if s.success() => true,
        Ok(s) => {
            eprintln!("# child {args:?} failed: {s}");
            false
        }
        Err(e) => {
            eprintln!("# child {args:?} did not run: {e}");
            false
        }
    }
}

/// Every README example, then: the arenas really came from `mode`.
fn child_examples(mode: &str) -> ExitCode {
    let want = if mode == "daemon" {
        Source::Daemon
    } else {
        Source::Local
    };
    for (heading, example) in README_EXAMPLES {
        example();
        println!("# README example \"{heading}\": ok ({mode})");
    }
    let own = HotArena::new(4096).expect("an arena").stats().source;
    let thread = with_thread_arena(|t| t.stats().source).expect("the thread's arena");
    if own != want || thread != want {
        eprintln!("# arenas came from {own:?} and {thread:?}, not {want:?}");
        return ExitCode::FAILURE;
    }
    if README_EXAMPLES.len() < 6 {
        eprintln!("# only {} README examples found", README_EXAMPLES.len());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// An arena, a thread arena and a with_arena call under the environment's
/// mode: all from `want` ("daemon", "local"), or all refused ("refused").
fn child_source(want: &str) -> ExitCode {
    let got = [
        HotArena::new(4096).map(|a| a.stats().source),
        with_thread_arena(|t| t.stats().source),
        with_arena(1 << 20, |a| a.stats().source),
    ];
    let ok = got.iter().all(|g| match (want, g) {
        ("daemon", Ok(Source::Daemon)) | ("local", Ok(Source::Local)) => true,
        ("refused", Err(e)) => *e == AllocError::Os(libc::ECONNREFUSED),
        _ => false,
    });
    if !ok {
        eprintln!("# wanted {want}, got {got:?}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn regions(arenactl: &Path, sock: &str) -> Vec<Value> {
    let pid = std::process::id().to_string();
    let out = Command::new(arenactl)
        .args(["--socket", sock, "--json", "regions", "--pid", &pid])
        .output()
        .expect("running bhc-arenactl");
    assert!(out.status.success(), "bhc-arenactl regions failed: {out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("bhc-arenactl's JSON");
    assert_eq!(v["ok"], Value::Bool(true), "{v}");
    v["regions"].as_array().expect("regions[]").clone()
}

/// Lease a region, allocate, and find it with its usage in bhc-arenactl;
/// then drop it and see it go.
fn child_region(arenactl: &Path, sock: &str) -> ExitCode {
    let arena = HotArena::new(1 << 20).expect("a region from the daemon");
    let a = arena.alloc_slice::<u8>(12_345).unwrap();
    a[0] = 1;
    arena.alloc_value([7u64; 100]).unwrap();
    let st = arena.stats();
    assert_eq!(st.source, Source::Daemon);
    assert_ne!(st.region_id, 0);

    let rows = regions(arenactl, sock);
    let row = rows
        .iter()
        .find(|r| r["id"].as_u64() == Some(st.region_id))
        .unwrap_or_else(|| panic!("region {} not in {rows:?}", st.region_id));
    let num = |k: &str| row[k].as_u64().unwrap_or_else(|| panic!("{k} in {row}"));
    assert_eq!(num("pid"), u64::from(std::process::id()), "{row}");
    assert_eq!(row["tag"].as_str(), Some(REGION_TAG), "{row}");
    assert_eq!(row["state"].as_str(), Some("leased"), "{row}");
    assert_eq!(row["header"].as_str(), Some("ok"), "{row}");
    assert_eq!(num("used"), st.used as u64, "{row}");
    assert_eq!(num("capacity"), st.capacity as u64, "{row}");
    assert_eq!(num("allocs"), st.n_allocs, "{row}");
    assert_eq!(num("size"), st.region_size as u64, "{row}");
    println!(
        "# region {} seen: used {} of {}",
        st.region_id, st.used, st.capacity
    );

    drop(arena);
    // The process keeps the freed region for its next arena (BHC_ARENA_RETAIN):
    // still leased, its header now says kept.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = regions(arenactl, sock);
        let row = rows.iter().find(|r| r["id"].as_u64() == Some(st.region_id));
        if row.map_or(false, |r| r["use"].as_str() == Some("kept")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "region {} not listed as kept: {rows:?}",
            st.region_id
        );
        sleep(Duration::from_millis(20));
    }
    println!("# region {} kept after drop", st.region_id);
    ExitCode::SUCCESS
}

struct Daemon {
    child: Option<Child>,
    dir: PathBuf,
    socket: PathBuf,
    arenactl: PathBuf,
}

impl Daemon {
    fn start(arenad: &Path, arenactl: &Path) -> Result<Daemon, String> {
        let dir = env::temp_dir().join(format!("bhc-rts-arena-test.{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        // An empty configuration: the embedded defaults, whatever /etc holds.
        fs::write(dir.join("arenad.conf"), "").unwrap();
        let log = fs::File::create(dir.join("arenad.log")).unwrap();
        let socket = dir.join("arenad.sock");
        let child = Command::new(arenad)
            .arg("--foreground")
            .arg("--config")
            .arg(dir.join("arenad.conf"))
            .arg("--socket")
            .arg(&socket)
            .args(["--log-level", "info"])
            .args(["--set", "pool.warm=none", "--set", "pool.hugepages=prefer"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("{}: {e}", arenad.display()))?;
        let mut d = Daemon {
            child: Some(child),
            dir,
            socket,
            arenactl: arenactl.to_owned(),
        };
        // Ready when it answers an admin status request.
        let deadline = Instant::now() + Duration::from_secs(20);
        while d.status().is_none() {
            if let Ok(Some(s)) = d.child.as_mut().unwrap().try_wait() {
                d.child = None;
                d.dump_log();
                return Err(format!("bhc-arenad exited: {s}"));
            }
            if Instant::now() > deadline {
                d.dump_log();
                return Err("bhc-arenad did not answer within 20 s".into());
            }
            sleep(Duration::from_millis(20));
        }
        Ok(d)
    }

    fn status(&self) -> Option<Value> {
        let out = Command::new(&self.arenactl)
            .arg("--socket")
            .arg(&self.socket)
            .args(["--json", "status"])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    fn grants(&self) -> u64 {
        self.status()
            .and_then(|v| v["counters"]["grants"].as_u64())
            .expect("counters.grants in bhc-arenactl status --json")
    }

    /// SIGTERM, and true if it exits with status 0 within 10 s.
    fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match child.try_wait() {
                Ok(Some(s)) => return s.success(),
                Ok(None) if Instant::now() < deadline => sleep(Duration::from_millis(10)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return false;
                }
            }
        }
    }

    fn dump_log(&self) {
        if let Ok(log) = fs::read_to_string(self.dir.join("arenad.log")) {
            for line in log.lines() {
                eprintln!("# arenad| {line}");
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
