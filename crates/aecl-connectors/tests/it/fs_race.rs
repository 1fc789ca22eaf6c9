//! The race: a directory inside the root swapped, again and again, for a symlink to
//! a folder outside it, while the `fs` connector reads through that directory. A check of
//! the path followed by an open of it lost this race (5 reads in 400 returned the outside
//! file); opening beneath the root's handle cannot. Every read either returns the inside
//! content or fails; none returns the secret. The same holds for writes and deletes.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aecl_engine::ConnectorOutcome;
use serde_json::json;

use crate::execute;
use crate::fs::files;

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
            ConnectorOutcome::Unknown { error } | ConnectorOutcome::TimedOut { error } => {
                panic!("a read cannot be unknown: {error}")
            }
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
