//! Races against the `fs` connector.
//!
//! A directory inside the root swapped, again and again, for a symlink to a folder outside
//! it, while the connector reads through that directory. A check of the path followed by
//! an open of it lost this race (5 reads in 400 returned the outside file); opening beneath
//! the root's handle cannot. Every read either returns the inside content or fails; none
//! returns the secret. The same holds for writes and deletes.
//!
//! A file created at a move's destination (or at the path a change or an undo puts a file)
//! right after the connector found it free: a check followed by a plain rename replaced
//! it. Renames that must not replace are `RENAME_NOREPLACE`, so the racing file makes the
//! change fail as a conflict and is never lost.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aecl_engine::{Compensated, ConnectorOutcome};
use serde_json::json;

use crate::fs::files;
use crate::{execute, undo};

const SECRET: &str = "SECRET: outside the root";
const INSIDE: &str = "inside";
const READS: usize = 10_000;

/// Swaps `root/d` between the real directory and a symlink to `outside` until `stop`,
/// leaving the real directory in place for `rest` each time; returns the number of swaps.
/// Until `landed` counts one success, every sixteenth rest lasts until it does (at most
/// 2 s): a write syncs, and while the disk is busy (after a suite that wrote a lot) a sync
/// can outlast every short rest, yet some must land inside for the race to have been run
/// both ways.
fn swapper(
    root: &Path,
    outside: &Path,
    stop: &AtomicBool,
    rest: Duration,
    landed: &AtomicUsize,
) -> usize {
    let swapped = root.join("d");
    let parked = root.join("d.real");
    let mut swaps = 0;
    while !stop.load(Ordering::Relaxed) {
        std::fs::rename(&swapped, &parked).unwrap();
        std::os::unix::fs::symlink(outside, &swapped).unwrap();
        std::thread::yield_now();
        std::fs::remove_file(&swapped).unwrap();
        std::fs::rename(&parked, &swapped).unwrap();
        swaps += 1;
        if rest.is_zero() {
            // Yield in both states: on a loaded machine the reader and this thread may
            // share one core, and a yield only while swapped would hand the reader the
            // symlink every time (no read would run with the real directory in place).
            std::thread::yield_now();
        } else if swaps % 16 == 0 && landed.load(Ordering::Relaxed) == 0 {
            let until = Instant::now() + Duration::from_secs(2);
            while landed.load(Ordering::Relaxed) == 0
                && Instant::now() < until
                && !stop.load(Ordering::Relaxed)
            {
                std::thread::sleep(Duration::from_millis(1));
            }
        } else {
            std::thread::sleep(rest);
        }
    }
    swaps
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_swapped_for_a_symlink_never_leads_a_read_outside_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, root) = files(dir.path());
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("f.txt"), SECRET).unwrap();
    std::fs::create_dir_all(root.join("d")).unwrap();
    std::fs::write(root.join("d/f.txt"), INSIDE).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let swaps = {
        let (root, outside, stop) = (root.clone(), outside.clone(), stop.clone());
        // Reads do not sync: they need no long rest.
        std::thread::spawn(move || {
            swapper(&root, &outside, &stop, Duration::ZERO, &AtomicUsize::new(1))
        })
    };
    let started = Instant::now();
    let (mut inside, mut refused, mut escaped) = (0, 0, Vec::new());
    for _ in 0..READS {
        let (outcome, _) = execute(&registry, "file_read", json!({ "path": "d/f.txt" })).await;
        match outcome {
            ConnectorOutcome::Succeeded { result, .. } if result["content"] == INSIDE => {
                inside += 1
            }
            ConnectorOutcome::Succeeded { result, .. } => escaped.push(result),
            ConnectorOutcome::Failed { .. } => refused += 1,
            other => panic!("a read either runs or fails: {other:?}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swaps.join().unwrap();
    let elapsed = started.elapsed();
    assert!(escaped.is_empty(), "{} reads returned another file: {:?}", escaped.len(), escaped);
    assert_eq!(inside + refused, READS);
    assert!(inside > 0, "some reads ran while the real directory was in place");
    assert!(swaps > 10, "the directory was swapped while reading ({swaps} swaps)");
    assert!(
        elapsed < Duration::from_secs(30),
        "{READS} reads took {elapsed:?} ({inside} inside, {refused} refused, {swaps} swaps)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_and_deletes_racing_a_swapped_directory_never_touch_the_outside() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, root) = files(dir.path());
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("f.txt"), SECRET).unwrap();
    std::fs::create_dir_all(root.join("d")).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let swaps = {
        let (root, outside, stop, written) =
            (root.clone(), outside.clone(), stop.clone(), written.clone());
        // A write takes several steps (pre-image, new file, rename): give it room.
        std::thread::spawn(move || {
            swapper(&root, &outside, &stop, Duration::from_micros(300), &written)
        })
    };
    // On a loaded machine the swapper can be descheduled between its two renames for
    // the whole loop (every write then finds no directory): go on until one write has
    // landed, so that the test always races real writes.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut i = 0;
    while i < 1_000 || (written.load(Ordering::Relaxed) == 0 && Instant::now() < deadline) {
        i += 1;
        let args = json!({ "path": "d/f.txt", "content": format!("write {i}") });
        if let (ConnectorOutcome::Succeeded { .. }, _) = execute(&registry, "file", args).await {
            written.fetch_add(1, Ordering::Relaxed);
        }
        let _ = execute(&registry, "file_delete", json!({ "path": "d/f.txt" })).await;
    }
    stop.store(true, Ordering::Relaxed);
    swaps.join().unwrap();
    assert_eq!(std::fs::read_to_string(outside.join("f.txt")).unwrap(), SECRET);
    let names: Vec<_> =
        std::fs::read_dir(&outside).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 1, "nothing was created outside: {names:?}");
    assert!(written.load(Ordering::Relaxed) > 0, "some writes landed inside");
}

/// A thread that, while armed, places whole files at `target` where nothing is (by
/// `link`, which never replaces), after a random delay below `jitter` so that some land
/// in the middle of the operation it races.
struct Creator {
    armed: Arc<AtomicBool>,
    /// Set while an attempt may be under way: `disarm` waits for it to clear.
    busy: Arc<AtomicBool>,
    /// Attempts made, so that `disarm` can wait for one in each round.
    attempts: Arc<AtomicUsize>,
    /// `attempts` when last armed.
    armed_at: AtomicUsize,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<String>>,
}

impl Creator {
    fn start(target: PathBuf, staging: PathBuf, jitter: Duration) -> Creator {
        let (armed, busy, stop) = (Arc::default(), Arc::default(), Arc::default());
        let (a, b, s): (Arc<AtomicBool>, Arc<AtomicBool>, Arc<AtomicBool>) =
            (Arc::clone(&armed), Arc::clone(&busy), Arc::clone(&stop));
        let attempts = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&attempts);
        let thread = std::thread::spawn(move || {
            let mut placed = Vec::new();
            let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
            while !s.load(Ordering::SeqCst) {
                b.store(true, Ordering::SeqCst);
                if a.load(Ordering::SeqCst) {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    let wait = jitter.mul_f64((seed >> 11) as f64 / (1u64 << 53) as f64);
                    let until = Instant::now() + wait;
                    while Instant::now() < until && a.load(Ordering::SeqCst) {
                        std::hint::spin_loop();
                    }
                    let content = format!("racer {}", placed.len());
                    std::fs::write(&staging, &content).unwrap();
                    if std::fs::hard_link(&staging, &target).is_ok() {
                        placed.push(content);
                    }
                    std::fs::remove_file(&staging).unwrap();
                    counted.fetch_add(1, Ordering::SeqCst);
                }
                b.store(false, Ordering::SeqCst);
                std::thread::yield_now();
            }
            placed
        });
        Creator { armed, busy, attempts, armed_at: AtomicUsize::new(0), stop, thread }
    }

    fn arm(&self) {
        self.armed_at.store(self.attempts.load(Ordering::SeqCst), Ordering::SeqCst);
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Once it made an attempt since armed (on a loaded machine its thread may not have
    /// run at all), stops placing files, and returns once no attempt is under way.
    fn disarm(&self) {
        let until = Instant::now() + Duration::from_secs(1);
        while self.armed.load(Ordering::SeqCst)
            && self.attempts.load(Ordering::SeqCst) == self.armed_at.load(Ordering::SeqCst)
            && Instant::now() < until
        {
            std::thread::yield_now();
        }
        self.armed.store(false, Ordering::SeqCst);
        while self.busy.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
    }

    /// Every content it placed.
    fn finish(self) -> Vec<String> {
        self.disarm();
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

/// What is at `path`, taken away whole (renamed aside, then read), if anything.
fn take(path: &Path) -> Option<String> {
    let aside = path.with_extension(format!("taken-{}", uuid::Uuid::now_v7()));
    std::fs::rename(path, &aside).ok()?;
    let content = std::fs::read_to_string(&aside).unwrap();
    std::fs::remove_file(&aside).unwrap();
    Some(content)
}

/// Runs `round` until it has gone both ways (a success and a conflict) at least 20 times
/// each, or 600 times, or 30 s.
async fn race<F: AsyncFnMut(usize) -> bool>(mut round: F) -> (usize, usize) {
    let (mut succeeded, mut conflicted) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut i = 0;
    while i < 600 && (succeeded < 20 || conflicted < 20) && Instant::now() < deadline {
        if round(i).await {
            succeeded += 1;
        } else {
            conflicted += 1;
        }
        i += 1;
    }
    (succeeded, conflicted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_created_at_the_destination_during_a_move_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, root) = files(dir.path());
    let (from, to) = (root.join("docs/a.txt"), root.join("docs/b.txt"));
    let creator =
        Creator::start(to.clone(), dir.path().join("staging"), Duration::from_micros(1500));
    let mut found = Vec::new();
    let (moved, refused) = race(async |i| {
        std::fs::write(&from, format!("moved {i}")).unwrap();
        creator.arm();
        let args = json!({ "path": "docs/a.txt", "to": "docs/b.txt" });
        let (outcome, _) = execute(&registry, "file_move", args).await;
        creator.disarm();
        let at_destination = take(&to);
        match outcome {
            ConnectorOutcome::Succeeded { .. } => {
                assert_eq!(at_destination, Some(format!("moved {i}")));
                true
            }
            ConnectorOutcome::Failed { error } => {
                assert!(error.contains("exists already"), "{error}");
                assert_eq!(std::fs::read_to_string(&from).unwrap(), format!("moved {i}"));
                found.extend(at_destination);
                false
            }
            other => panic!("a move is never unknown: {other:?}"),
        }
    })
    .await;
    let placed = creator.finish();
    found.extend(take(&to));
    assert_eq!(found, placed, "every file the racing thread created is still whole");
    assert!(moved > 0 && refused > 0, "{moved} moves, {refused} refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_created_at_the_source_during_an_undone_move_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, root) = files(dir.path());
    let (from, to) = (root.join("docs/a.txt"), root.join("docs/b.txt"));
    let creator =
        Creator::start(from.clone(), dir.path().join("staging"), Duration::from_micros(300));
    let mut found = Vec::new();
    let (restored, refused) = race(async |i| {
        let _ = take(&to);
        std::fs::write(&from, format!("original {i}")).unwrap();
        // Armed from the move on, so that its thread is running when the undo starts: it
        // cannot place a file at the source before the move has taken the file away.
        creator.arm();
        let args = json!({ "path": "docs/a.txt", "to": "docs/b.txt" });
        let (outcome, moved) = execute(&registry, "file_move", args).await;
        assert!(matches!(outcome, ConnectorOutcome::Succeeded { .. }), "{outcome:?}");
        let undone = undo(&registry, &moved).await;
        creator.disarm();
        let at_source = take(&from);
        match undone {
            Compensated::Restored { .. } => {
                assert_eq!(at_source, Some(format!("original {i}")));
                assert!(!to.exists());
                true
            }
            Compensated::Conflict { detail } => {
                assert!(detail.contains("exists"), "{detail}");
                assert_eq!(std::fs::read_to_string(&to).unwrap(), format!("original {i}"));
                found.extend(at_source);
                false
            }
            other => panic!("the undo failed: {other:?}"),
        }
    })
    .await;
    let placed = creator.finish();
    found.extend(take(&from));
    assert_eq!(found, placed, "every file the racing thread created is still whole");
    assert!(restored > 0 && refused > 0, "{restored} restored, {refused} refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_created_while_a_new_file_is_written_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, root) = files(dir.path());
    let path = root.join("docs/new.txt");
    let creator =
        Creator::start(path.clone(), dir.path().join("staging"), Duration::from_micros(1500));
    let mut found = Vec::new();
    let (written, refused) = race(async |i| {
        let args = json!({ "path": "docs/new.txt", "content": format!("written {i}") });
        creator.arm();
        let (outcome, _) = execute(&registry, "file", args).await;
        creator.disarm();
        let at_path = take(&path);
        match outcome {
            ConnectorOutcome::Succeeded { .. } => {
                // The racing file may have been there first: then it was the pre-image.
                match at_path {
                    Some(content) if content == format!("written {i}") => true,
                    other => panic!("round {i}: the write left {other:?}"),
                }
            }
            ConnectorOutcome::Failed { error } => {
                assert!(error.contains("appeared") || error.contains("changed"), "{error}");
                found.extend(at_path);
                false
            }
            other => panic!("a write is never unknown: {other:?}"),
        }
    })
    .await;
    let placed = creator.finish();
    found.extend(take(&path));
    assert!(written > 0, "{written} written, {refused} refused");
    // A racing file placed before the write read the path was its pre-image, and was
    // replaced as the write's own (undoable) change: it is in the undo store, not lost.
    let kept = kept_preimages(&dir.path().join("undo"));
    let mut accounted = found.clone();
    accounted.extend(kept);
    accounted.sort();
    let mut placed = placed;
    placed.sort();
    assert_eq!(accounted, placed, "every racing file is at the path or kept as a pre-image");
}

/// The contents of every pre-image in `undo_dir`.
fn kept_preimages(undo_dir: &Path) -> Vec<String> {
    std::fs::read_dir(undo_dir)
        .unwrap()
        .filter_map(|effect| std::fs::read_to_string(effect.unwrap().path().join("before")).ok())
        .collect()
}
