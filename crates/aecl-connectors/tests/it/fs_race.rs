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
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aecl_engine::{Compensated, ConnectorOutcome};
use serde_json::json;

use crate::fs::files;
use crate::{execute, undo};

const SECRET: &str = "SECRET: outside the root";
const INSIDE: &str = "inside";
const READS: usize = 10_000;

/// Swaps `root/d` between the real directory and a symlink to `outside` until `stop`,
/// leaving the real directory in place for `rest` each time, counting them in `swaps`.
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
    swaps: &AtomicUsize,
) {
    let swapped = root.join("d");
    let parked = root.join("d.real");
    while !stop.load(Ordering::Relaxed) {
        std::fs::rename(&swapped, &parked).unwrap();
        std::os::unix::fs::symlink(outside, &swapped).unwrap();
        std::thread::yield_now();
        std::fs::remove_file(&swapped).unwrap();
        std::fs::rename(&parked, &swapped).unwrap();
        let swaps = swaps.fetch_add(1, Ordering::Relaxed) + 1;
        if rest.is_zero() {
            // Yield in both states: on a loaded machine the reader and this thread may
            // share one core, and a yield only while swapped would hand the reader the
            // symlink every time (no read would run with the real directory in place).
            std::thread::yield_now();
        } else if swaps.is_multiple_of(16) && landed.load(Ordering::Relaxed) == 0 {
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
    let swaps = Arc::new(AtomicUsize::new(0));
    let swapper = {
        let (root, outside, stop, swaps) =
            (root.clone(), outside.clone(), stop.clone(), swaps.clone());
        // Reads do not sync: they need no long rest.
        std::thread::spawn(move || {
            swapper(&root, &outside, &stop, Duration::ZERO, &AtomicUsize::new(1), &swaps)
        })
    };
    // On a loaded machine the swapper can go unscheduled through all the reads (3 swaps
    // in 10,000 reads with four busy loops on two cores): read on, for at most 20 s, until
    // the race has been run both ways.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut inside, mut refused, mut escaped) = (0, 0, Vec::new());
    while inside + refused + escaped.len() < READS
        || ((swaps.load(Ordering::Relaxed) <= 10 || inside == 0) && Instant::now() < deadline)
    {
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
    swapper.join().unwrap();
    let swaps = swaps.load(Ordering::Relaxed);
    assert!(escaped.is_empty(), "{} reads returned another file: {:?}", escaped.len(), escaped);
    assert!(inside > 0, "some reads ran while the real directory was in place");
    assert!(swaps > 10, "the directory was swapped while reading ({swaps} swaps)");
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
    let swaps = Arc::new(AtomicUsize::new(0));
    let swapper = {
        let (root, outside, stop, written, swaps) =
            (root.clone(), outside.clone(), stop.clone(), written.clone(), swaps.clone());
        // A write takes several steps (pre-image, new file, rename): give it room.
        std::thread::spawn(move || {
            swapper(&root, &outside, &stop, Duration::from_micros(300), &written, &swaps)
        })
    };
    // On a loaded machine the swapper can be descheduled between its two renames for
    // the whole loop (every write then finds no directory), or not run at all: go on
    // until one write has landed and the directory was swapped, so that the test always
    // races real writes.
    let deadline = Instant::now() + Duration::from_secs(20);
    let raced = || written.load(Ordering::Relaxed) > 0 && swaps.load(Ordering::Relaxed) > 10;
    let mut i = 0;
    while i < 1_000 || (!raced() && Instant::now() < deadline) {
        i += 1;
        let args = json!({ "path": "d/f.txt", "content": format!("write {i}") });
        if let (ConnectorOutcome::Succeeded { .. }, _) = execute(&registry, "file", args).await {
            written.fetch_add(1, Ordering::Relaxed);
        }
        let _ = execute(&registry, "file_delete", json!({ "path": "d/f.txt" })).await;
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    assert_eq!(std::fs::read_to_string(outside.join("f.txt")).unwrap(), SECRET);
    let names: Vec<_> =
        std::fs::read_dir(&outside).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 1, "nothing was created outside: {names:?}");
    assert!(written.load(Ordering::Relaxed) > 0, "some writes landed inside");
    let swaps = swaps.load(Ordering::Relaxed);
    assert!(swaps > 10, "the directory was swapped while writing ({swaps} swaps)");
}

/// A thread that, while armed, places whole files at `target` whenever nothing is there
/// (by a rename that never replaces), after a random delay below `jitter` so that some
/// land in the middle of the operation it races. `race` moves `jitter` after each round
/// toward the delay at which rounds go both ways, so that the racing files keep landing
/// inside the operation's window whatever its length on this machine (a window that a
/// fixed delay missed in 600 rounds on a loaded CI machine).
struct Creator {
    armed: Arc<AtomicBool>,
    /// Set while an attempt may be under way: `disarm` waits for it to clear.
    busy: Arc<AtomicBool>,
    /// Times the thread found nothing at `target` while armed.
    aimed: Tally,
    /// Files placed.
    placed: Tally,
    /// The bound of the random delay, in nanoseconds.
    jitter: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<String>>,
}

/// A count the racing thread keeps, and its value when the creator was last armed.
#[derive(Default)]
struct Tally {
    count: Arc<AtomicUsize>,
    at_arm: AtomicUsize,
}

impl Tally {
    fn mark(&self) {
        self.at_arm.store(self.count.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    /// Whether it counted since the mark.
    fn moved(&self) -> bool {
        self.count.load(Ordering::SeqCst) != self.at_arm.load(Ordering::SeqCst)
    }
}

/// The bounds `Creator::nudge` keeps the delay in.
const JITTER_FLOOR: Duration = Duration::from_micros(5);
const JITTER_CEILING: Duration = Duration::from_millis(20);

impl Creator {
    fn start(target: PathBuf, staging: PathBuf, jitter: Duration) -> Creator {
        let (armed, busy, stop) = (Arc::default(), Arc::default(), Arc::default());
        let (a, b, s): (Arc<AtomicBool>, Arc<AtomicBool>, Arc<AtomicBool>) =
            (Arc::clone(&armed), Arc::clone(&busy), Arc::clone(&stop));
        let (aimed, placed) = (Tally::default(), Tally::default());
        let (aims, places) = (Arc::clone(&aimed.count), Arc::clone(&placed.count));
        let jitter = Arc::new(AtomicU64::new(jitter.as_nanos() as u64));
        let bound = Arc::clone(&jitter);
        let thread = std::thread::spawn(move || {
            let mut contents = Vec::new();
            let mut staged = None;
            let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
            while !s.load(Ordering::SeqCst) {
                b.store(true, Ordering::SeqCst);
                if a.load(Ordering::SeqCst) {
                    // Written ahead: on a busy disk a write can outlast the window.
                    let content = staged.get_or_insert_with(|| {
                        let content = format!("racer {}", contents.len());
                        std::fs::write(&staging, &content).unwrap();
                        content
                    });
                    if std::fs::symlink_metadata(&target).is_err() {
                        aims.fetch_add(1, Ordering::SeqCst);
                        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        let fraction = (seed >> 11) as f64 / (1u64 << 53) as f64;
                        let wait = (bound.load(Ordering::SeqCst) as f64 * fraction) as u64;
                        let until = Instant::now() + Duration::from_nanos(wait);
                        while Instant::now() < until && a.load(Ordering::SeqCst) {
                            std::hint::spin_loop();
                        }
                        if a.load(Ordering::SeqCst) && place(&staging, &target) {
                            contents.push(std::mem::take(content));
                            places.fetch_add(1, Ordering::SeqCst);
                            staged = None;
                        }
                    }
                }
                b.store(false, Ordering::SeqCst);
                std::thread::yield_now();
            }
            if staged.is_some() {
                std::fs::remove_file(&staging).unwrap();
            }
            contents
        });
        Creator { armed, busy, aimed, placed, jitter, stop, thread }
    }

    fn arm(&self) {
        self.aimed.mark();
        self.placed.mark();
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Waits (at most 1 s) until the thread, armed, has found nothing at `target`: its
    /// file is then on its way when the operation starts. Without this wait a loaded
    /// machine can leave the thread unscheduled through every round's window (600 rounds
    /// without one racing file, seen on CI).
    fn aim(&self) {
        let until = Instant::now() + Duration::from_secs(1);
        while !self.aimed.moved() && Instant::now() < until {
            std::thread::yield_now();
        }
    }

    /// Stops placing files, and returns once no attempt is under way.
    fn disarm(&self) {
        self.armed.store(false, Ordering::SeqCst);
        while self.busy.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
    }

    /// After a round (disarmed) in which it placed nothing, too late or never run, places
    /// the next files sooner; after one in which it placed a file, before the operation
    /// or inside it, later.
    fn nudge(&self) {
        let now = Duration::from_nanos(self.jitter.load(Ordering::SeqCst));
        let next = if self.placed.moved() { now.mul_f64(1.25) } else { now.mul_f64(0.75) };
        let next = next.clamp(JITTER_FLOOR, JITTER_CEILING);
        self.jitter.store(next.as_nanos() as u64, Ordering::SeqCst);
    }

    /// Every content it placed.
    fn finish(self) -> Vec<String> {
        self.disarm();
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

/// Moves `staging` to `target` if nothing is there (`RENAME_NOREPLACE`): the file never
/// has two names, which the connector refuses (one may be outside its roots).
fn place(staging: &Path, target: &Path) -> bool {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, staging, CWD, target, RenameFlags::NOREPLACE).is_ok()
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
/// each, or 600 times, or 30 s, nudging `creator` after each.
async fn race<F: AsyncFnMut(usize) -> bool>(creator: &Creator, mut round: F) -> (usize, usize) {
    let (mut succeeded, mut conflicted) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut i = 0;
    while i < 600 && (succeeded < 20 || conflicted < 20) && Instant::now() < deadline {
        let won = round(i).await;
        creator.nudge();
        if won {
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
    let (moved, refused) = race(&creator, async |i| {
        std::fs::write(&from, format!("moved {i}")).unwrap();
        creator.arm();
        creator.aim();
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
    let (restored, refused) = race(&creator, async |i| {
        let _ = take(&to);
        std::fs::write(&from, format!("original {i}")).unwrap();
        // Armed from the move on, so that its thread is running when the undo starts: it
        // places a file at the source only once the move has taken the file away.
        creator.arm();
        let args = json!({ "path": "docs/a.txt", "to": "docs/b.txt" });
        let (outcome, moved) = execute(&registry, "file_move", args).await;
        assert!(matches!(outcome, ConnectorOutcome::Succeeded { .. }), "{outcome:?}");
        creator.aim();
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
    let (written, refused) = race(&creator, async |i| {
        let args = json!({ "path": "docs/new.txt", "content": format!("written {i}") });
        creator.arm();
        creator.aim();
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
