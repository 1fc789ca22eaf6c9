//! The publishing thread of `--checkpoint-dir`: the store's writer hands it each
//! committed checkpoint and never waits on it. The thread publishes the newest waiting
//! checkpoint each time (it covers those before it; at most `MAX_WAITING` wait), and a
//! process drains the queue before it exits, so that records its answers acknowledged do
//! not stay without a checkpoint outside the store (what a stop still leaves behind, the
//! next start publishes: `Publication::catch_up`).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use aecl_audit::{AddCheckpoint, CheckpointSink, VerifierKey};
use anyhow::Result;

use super::Destination;

/// Starts the thread that publishes to `destination` (named `target` in the health
/// check's words).
pub(super) fn start(
    target: &str,
    destination: Destination,
    key: VerifierKey,
) -> Result<Arc<dyn CheckpointSink>> {
    let publisher = Arc::new(Publisher {
        target: target.to_owned(),
        queue: Arc::new((Mutex::new(Queue::default()), Condvar::new())),
    });
    let queue = publisher.queue.clone();
    let origin = key.name().to_owned();
    std::thread::Builder::new().name("aecl-checkpoint-publisher".to_owned()).spawn(move || {
        let mut destination = destination;
        while let Some(request) = Queue::next(&queue) {
            let result = destination.publish(&request, &key, &origin);
            if let Err(error) = &result {
                tracing::error!(error = format!("{error:#}"), "checkpoint not published");
            }
            Queue::done(&queue, result.err().map(|e| format!("{e:#}")));
        }
    })?;
    Ok(publisher)
}

/// The most checkpoints kept waiting for the publishing thread. Past it the oldest waiting
/// one is dropped: a destination that missed checkpoints takes the next one (its proof is
/// then made from the store), so only the newest matters, and a slow or unreachable
/// destination cannot make the queue grow without bound.
const MAX_WAITING: usize = 1024;

/// How long the oldest checkpoint not yet published may wait before publication counts as
/// behind (a destination that hangs rather than fails).
const BEHIND_AFTER: Duration = Duration::from_secs(30);

/// Queues checkpoints for the publishing thread: the store's writer never waits on it.
#[derive(Debug)]
struct Publisher {
    /// The `--checkpoint-dir` value, for the health check's words.
    target: String,
    queue: Arc<(Mutex<Queue>, Condvar)>,
}

/// What waits to be published, and how the last attempt went.
#[derive(Debug, Default)]
struct Queue {
    waiting: VecDeque<(AddCheckpoint, Instant)>,
    /// When the checkpoint being published now was queued.
    publishing: Option<Instant>,
    /// Why the last attempt failed; cleared by the next success.
    last_error: Option<String>,
    /// The size of the checkpoint being published now.
    publishing_size: u64,
    /// The largest size published, and the largest whose attempt failed: what
    /// [`CheckpointSink::published`] waits on.
    published: u64,
    failed: u64,
}

/// The size a checkpoint note states (its second line), or 0 for one that states none.
fn size_of(request: &AddCheckpoint) -> u64 {
    request.checkpoint.lines().nth(1).and_then(|line| line.parse().ok()).unwrap_or(0)
}

impl Queue {
    /// The next checkpoint to publish, waiting for one; `None` once nobody can queue more.
    fn next(queue: &Arc<(Mutex<Queue>, Condvar)>) -> Option<AddCheckpoint> {
        let (lock, ready) = &**queue;
        let mut state = lock.lock().ok()?;
        loop {
            // Only the newest waiting checkpoint is published: it covers the ones before it,
            // and the destination proves it from what it holds. One at a time, a busy
            // writer's checkpoints left the destination thousands of acknowledged records
            // behind, which a crash and a cut of the store could then remove unseen (red
            // team round 20, audit F2). Its wait counts from the oldest one it stands for.
            if let Some((_, oldest)) = state.waiting.front() {
                let since = *oldest;
                let newest = state.waiting.drain(..).next_back();
                if let Some((request, _)) = newest {
                    state.publishing = Some(since);
                    state.publishing_size = size_of(&request);
                    return Some(request);
                }
            }
            // Only the publisher and this thread hold the queue: once the publisher is
            // gone, nothing more will come.
            if Arc::strong_count(queue) == 1 {
                return None;
            }
            state = ready.wait_timeout(state, Duration::from_secs(1)).ok()?.0;
        }
    }

    fn done(queue: &Arc<(Mutex<Queue>, Condvar)>, error: Option<String>) {
        if let Ok(mut state) = queue.0.lock() {
            state.publishing = None;
            let size = state.publishing_size;
            if error.is_some() {
                state.failed = state.failed.max(size);
            } else {
                state.published = state.published.max(size);
            }
            state.last_error = error;
        }
        // A drain and the calls waiting for their checkpoint wait for this.
        queue.1.notify_all();
    }
}

impl CheckpointSink for Publisher {
    fn publish(&self, request: AddCheckpoint) {
        let (lock, ready) = &*self.queue;
        let Ok(mut state) = lock.lock() else {
            tracing::error!("the checkpoint publisher has stopped");
            return;
        };
        if state.waiting.len() >= MAX_WAITING {
            state.waiting.pop_front();
        }
        state.waiting.push_back((request, Instant::now()));
        ready.notify_one();
    }

    fn failure(&self) -> Option<String> {
        let Ok(state) = self.queue.0.lock() else {
            return Some(format!("the publisher of checkpoints to `{}` has stopped", self.target));
        };
        if let Some(error) = &state.last_error {
            return Some(format!("publishing checkpoints to `{}` failed: {error}", self.target));
        }
        let oldest = state.publishing.or_else(|| state.waiting.front().map(|(_, since)| *since));
        let behind = oldest.map(|since| since.elapsed()).filter(|age| *age >= BEHIND_AFTER)?;
        Some(format!(
            "publishing checkpoints to `{}` is {} s behind ({} waiting)",
            self.target,
            behind.as_secs(),
            state.waiting.len() + usize::from(state.publishing.is_some())
        ))
    }

    fn published(&self, size: u64, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        let (lock, ready) = &*self.queue;
        let mut state = lock.lock().map_err(|_| {
            format!("the publisher of checkpoints to `{}` has stopped", self.target)
        })?;
        loop {
            if state.published >= size {
                return Ok(());
            }
            // The attempt that covered it failed: a later checkpoint may still reach the
            // destination, but this call does not wait for the next commit to find out.
            if state.failed >= size {
                let error = state.last_error.as_deref().unwrap_or("refused");
                return Err(format!(
                    "the checkpoint of {size} records was not published to `{}`: {error}",
                    self.target
                ));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!(
                    "the checkpoint of {size} records was not published to `{}` within {} ms",
                    self.target,
                    within.as_millis()
                ));
            }
            state = ready
                .wait_timeout(state, deadline - now)
                .map_err(|_| {
                    format!("the publisher of checkpoints to `{}` has stopped", self.target)
                })?
                .0;
        }
    }

    fn drain(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        let (lock, ready) = &*self.queue;
        let Ok(mut state) = lock.lock() else { return 0 };
        // Only the newest matters: the destination proves the others from the store.
        while state.waiting.len() > 1 {
            state.waiting.pop_front();
        }
        ready.notify_all();
        loop {
            let left = state.waiting.len() + usize::from(state.publishing.is_some());
            let now = Instant::now();
            if left == 0 || now >= deadline {
                return left;
            }
            state = match ready.wait_timeout(state, deadline - now) {
                Ok((state, _)) => state,
                Err(_) => return left,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publisher() -> Publisher {
        Publisher { target: "DIR".to_owned(), queue: Arc::default() }
    }

    fn request(size: u64) -> AddCheckpoint {
        AddCheckpoint { old_size: size, proof: Vec::new(), checkpoint: String::new() }
    }

    #[test]
    fn a_destination_that_cannot_keep_up_holds_only_the_newest_checkpoints() {
        let publisher = publisher();
        for size in 0..MAX_WAITING as u64 + 10 {
            publisher.publish(request(size));
        }
        let state = publisher.queue.0.lock().unwrap();
        assert_eq!(state.waiting.len(), MAX_WAITING);
        assert_eq!(state.waiting.front().map(|(r, _)| r.old_size), Some(10));
        assert_eq!(state.waiting.back().map(|(r, _)| r.old_size), Some(MAX_WAITING as u64 + 9));
    }

    #[test]
    fn publication_that_fails_or_falls_behind_is_a_failure_until_it_catches_up() {
        let publisher = publisher();
        assert_eq!(publisher.failure(), None);
        publisher.publish(request(1));
        assert_eq!(publisher.failure(), None, "queued a moment ago");
        let long_ago = Instant::now().checked_sub(BEHIND_AFTER + Duration::from_secs(1));
        publisher.queue.0.lock().unwrap().waiting[0].1 = long_ago.unwrap();
        let behind = publisher.failure().unwrap();
        assert!(behind.starts_with("publishing checkpoints to `DIR` is 3"), "{behind}");
        assert!(behind.ends_with("s behind (1 waiting)"), "{behind}");

        // Taken by the thread and hanging there: still behind.
        let queue = publisher.queue.clone();
        assert!(Queue::next(&queue).is_some());
        assert!(publisher.failure().unwrap().ends_with("(1 waiting)"));
        Queue::done(&queue, Some("refused".to_owned()));
        assert_eq!(
            publisher.failure().as_deref(),
            Some("publishing checkpoints to `DIR` failed: refused")
        );
        Queue::done(&queue, None);
        assert_eq!(publisher.failure(), None);
    }

    #[test]
    fn the_thread_publishes_the_newest_waiting_checkpoint_and_its_age_is_the_oldests() {
        let publisher = publisher();
        for size in 1..=5 {
            publisher.publish(request(size));
        }
        let queued = publisher.queue.0.lock().unwrap().waiting.front().unwrap().1;
        let queue = publisher.queue.clone();
        assert_eq!(Queue::next(&queue).map(|r| r.old_size), Some(5));
        let state = publisher.queue.0.lock().unwrap();
        assert!(state.waiting.is_empty());
        assert_eq!(state.publishing, Some(queued));
    }

    fn note(size: u64) -> AddCheckpoint {
        AddCheckpoint { old_size: 0, proof: Vec::new(), checkpoint: format!("o\n{size}\nr\n") }
    }

    #[test]
    fn a_call_waits_until_a_checkpoint_covering_its_record_is_published_or_refused() {
        let publisher = publisher();
        let queue = publisher.queue.clone();
        publisher.publish(note(3));
        let waited = publisher.published(3, Duration::from_millis(20)).unwrap_err();
        assert!(waited.ends_with("was not published to `DIR` within 20 ms"), "{waited}");
        assert_eq!(Queue::next(&queue).map(|r| size_of(&r)), Some(3));
        Queue::done(&queue, None);
        assert_eq!(publisher.published(3, Duration::ZERO), Ok(()));
        assert_eq!(publisher.published(2, Duration::ZERO), Ok(()), "covered by a larger one");
        // A refused attempt fails its calls at once; a later success covers them again.
        publisher.publish(note(7));
        assert!(Queue::next(&queue).is_some());
        Queue::done(&queue, Some("witness down".to_owned()));
        let refused = publisher.published(6, Duration::from_secs(30)).unwrap_err();
        assert_eq!(refused, "the checkpoint of 6 records was not published to `DIR`: witness down");
        publisher.publish(note(9));
        let thread = std::thread::spawn(move || {
            if Queue::next(&queue).is_some() {
                Queue::done(&queue, None);
            }
        });
        assert_eq!(publisher.published(9, Duration::from_secs(30)), Ok(()));
        thread.join().unwrap();
    }

    #[test]
    fn a_drain_publishes_the_newest_checkpoint_and_says_what_was_left() {
        let publisher = publisher();
        for size in 1..=5 {
            publisher.publish(request(size));
        }
        // Nothing takes them: only the newest is kept, and it is still waiting.
        assert_eq!(publisher.drain(Duration::from_millis(20)), 1);
        assert_eq!(publisher.queue.0.lock().unwrap().waiting.front().unwrap().0.old_size, 5);

        let queue = publisher.queue.clone();
        let thread = std::thread::spawn(move || {
            while let Some(_request) = Queue::next(&queue) {
                Queue::done(&queue, None);
            }
        });
        assert_eq!(publisher.drain(Duration::from_secs(30)), 0);
        drop(publisher);
        thread.join().unwrap();
    }
}
