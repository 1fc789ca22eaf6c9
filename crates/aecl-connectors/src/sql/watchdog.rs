//! A watchdog that interrupts a SQLite connection at a deadline, from a thread of its own.
//!
//! The statement runs on a blocking thread that nothing outside can cancel: when the
//! engine's per-call timeout gives up on the call, or the server shuts down, the statement
//! would run on, keeping a core busy and the runtime from ending. `sqlite3_interrupt` stops
//! it at its next step, and SQLite rolls back the statement and its transaction.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::Connection;

/// Interrupts a connection's statements once `limit` has passed, from a thread of its own:
/// whoever waits for the call (the engine's timeout, a shutdown) may have given up, and
/// the statement must stop anyway.
pub(super) struct Watchdog {
    /// Dropped to tell the thread that the call is over.
    done: mpsc::Sender<()>,
    fired: Arc<AtomicBool>,
}

impl Watchdog {
    pub(super) fn start(conn: &Connection, limit: Duration) -> Result<Watchdog, String> {
        let handle = conn.get_interrupt_handle();
        let (done, over) = mpsc::channel::<()>();
        let fired = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&fired);
        std::thread::Builder::new()
            .name("aecl-sql-timeout".to_owned())
            .spawn(move || {
                // Only the timeout interrupts: the sender dropped means the call is over.
                if let Err(mpsc::RecvTimeoutError::Timeout) = over.recv_timeout(limit) {
                    flag.store(true, Ordering::SeqCst);
                    handle.interrupt();
                }
            })
            // Without a watchdog the statement could run for ever: nothing runs.
            .map_err(|e| format!("sql: cannot watch the statement's time: {e}"))?;
        Ok(Watchdog { done, fired })
    }

    /// Ends the watch: whether the statement was interrupted.
    pub(super) fn stop(self) -> bool {
        drop(self.done);
        self.fired.load(Ordering::SeqCst)
    }
}
