//! Requests that share one round trip: a task takes every request waiting when it is free
//! and answers them all with one statement, then takes the next ones. At most one statement
//! of a batcher is in flight, and a request never joins one already sent: its statement
//! starts after the request arrived, so it reads everything committed before then, as a
//! statement of its own would.
//!
//! Why: on the decision path each round trip to PostgreSQL costs both processes more than
//! the statement it carries (a wake-up and a reply each side, and sqlx's ping of every
//! connection returned to its pool, one more round trip). Sixteen concurrent decisions that
//! each check their token's revocation and append their run's event cost 64 round trips
//! alone, and two to four when each statement carries all of them (`bench/README.md`,
//! "HTTP API"). One request alone goes at once; it waits only behind a statement already in
//! flight.
//!
//! A batcher's statements go over a connection of its own ([`Dedicated`]), out of sqlx's
//! pool, which pings every connection it takes back: a round trip after each statement.
//! The task is never cancelled half-way through a statement, so the connection is always
//! left between statements; it is pinged before use only after a second idle, and
//! replaced after an error that was not the database's answer, or after an hour. One
//! statement holds up the requests queued behind it, so it is bounded: a row lock waited
//! for more than two seconds refuses the statement (the appends are then tried one by one,
//! and only the one that needs that row fails), and a statement unanswered for thirty
//! seconds drops its connection and answers every request with an error.

use std::future::Future;
use std::time::{Duration, Instant};

use aecl_engine::StoreError;
use sqlx::postgres::{PgDatabaseError, PgSeverity};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::{mpsc, oneshot};

use crate::backend;

/// Requests answered at most per statement: bounds a statement's arrays and the time the
/// first request of a full batch waits behind the others.
pub(super) const MAX_BATCH: usize = 64;

/// How long a statement on a kept connection waits for a row lock (`lock_timeout`, set on
/// the connection) before the database refuses it: a run's row held by a transaction that
/// does not end (its instance stalled) then costs the statements that need it an error,
/// not every request queued behind them.
const LOCK_TIMEOUT: &str = "2s";

/// How long a statement on a kept connection may go unanswered before the connection is
/// dropped: a peer that vanished without a reset would otherwise hold up every request
/// queued behind it until TCP gives up.
pub(super) const STATEMENT_DEADLINE: Duration = Duration::from_secs(30);

/// The error of a statement past [`STATEMENT_DEADLINE`]: whether it committed is unknown.
pub(super) fn unanswered() -> StoreError {
    StoreError::Backend(format!(
        "PostgreSQL did not answer within {} s; the connection was dropped",
        STATEMENT_DEADLINE.as_secs()
    ))
}

/// `error` as the answer to each of `count` requests.
pub(super) fn every<T>(count: usize, error: &StoreError) -> Vec<Result<T, StoreError>> {
    let message = error.to_string();
    (0..count).map(|_| Err(StoreError::Backend(message.clone()))).collect()
}

/// A dedicated connection is replaced after this long, as pools replace theirs (a
/// long-lived backend keeps every cache it ever filled).
const MAX_LIFETIME: Duration = Duration::from_secs(3600);

type Pending<I, O> = (I, oneshot::Sender<Result<O, StoreError>>);

/// The sending side of a batcher task: the task stops when it is dropped.
#[derive(Debug)]
pub(super) struct Batcher<I, O> {
    sender: mpsc::UnboundedSender<Pending<I, O>>,
    /// Names the batcher in errors.
    what: &'static str,
}

impl<I: Send + 'static, O: Send + 'static> Batcher<I, O> {
    /// Starts the task on the current Tokio runtime. `answer` gets the task's `state` (its
    /// connection) and each batch's requests in arrival order, and gives back the state and
    /// one result per request, in the same order; a missing one is answered with an error.
    pub(super) fn spawn<S, F, Fut>(what: &'static str, state: S, mut answer: F) -> Batcher<I, O>
    where
        S: Send + 'static,
        F: FnMut(S, Vec<I>) -> Fut + Send + 'static,
        Fut: Future<Output = (S, Vec<Result<O, StoreError>>)> + Send,
    {
        let (sender, mut receiver) = mpsc::unbounded_channel::<Pending<I, O>>();
        tokio::spawn(async move {
            let mut state = Some(state);
            while let Some(first) = receiver.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match receiver.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let (requests, replies): (Vec<I>, Vec<_>) = batch.into_iter().unzip();
                let Some(taken) = state.take() else { return };
                let (kept, results) = answer(taken, requests).await;
                state = Some(kept);
                let mut results = results.into_iter();
                for reply in replies {
                    let result = results.next().unwrap_or_else(|| {
                        Err(StoreError::Backend(format!("{what}: a request went unanswered")))
                    });
                    // A requester that went away (its request was cancelled) needs no answer.
                    let _ = reply.send(result);
                }
            }
        });
        Batcher { sender, what }
    }

    /// Sends `request` to the task and waits for its answer. Cancelling the wait leaves the
    /// request to its batch: a statement is never interrupted half-way.
    pub(super) async fn submit(&self, request: I) -> Result<O, StoreError> {
        let stopped = || StoreError::Backend(format!("{}: the batcher stopped", self.what));
        let (reply, answer) = oneshot::channel();
        self.sender.send((request, reply)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Whether `error` is the database refusing a statement (severity `ERROR`): its implicit
/// transaction rolled back, nothing of it is written, and the session goes on. Not an error
/// that ends the session (`FATAL`, as an administrator's `pg_terminate_backend` is), nor a
/// failed connection, after which whether the statement committed is unknown.
pub(super) fn refused(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.try_downcast_ref::<PgDatabaseError>())
        .is_some_and(|e| matches!(e.severity(), PgSeverity::Error))
}

/// A connection taken out of the pool for one task's statements (see the module's header).
#[derive(Debug)]
pub(super) struct Dedicated {
    pool: PgPool,
    /// The connection, when it was opened, and when it was last handed out.
    kept: Option<(PgConnection, Instant, Instant)>,
}

impl Dedicated {
    /// Takes no connection yet: the first [`Dedicated::get`] does.
    pub(super) fn new(pool: PgPool) -> Dedicated {
        Dedicated { pool, kept: None }
    }

    /// The connection for the next statement: the kept one (pinged first when it was idle
    /// for [`super::PING_AFTER_IDLE`]), or one taken out of the pool.
    pub(super) async fn get(&mut self) -> Result<&mut PgConnection, StoreError> {
        let mut reusable = None;
        if let Some((mut conn, opened, used)) = self.kept.take()
            && opened.elapsed() < MAX_LIFETIME
            && (used.elapsed() < super::PING_AFTER_IDLE || conn.ping().await.is_ok())
        {
            reusable = Some((conn, opened));
        }
        let (conn, opened) = match reusable {
            Some(kept) => kept,
            None => {
                let mut conn = self.pool.acquire().await.map_err(backend)?.detach();
                // The connection never goes back to the pool: the setting stays with it.
                sqlx::query(&format!("SET lock_timeout = '{LOCK_TIMEOUT}'"))
                    .execute(&mut conn)
                    .await
                    .map_err(backend)?;
                (conn, Instant::now())
            }
        };
        let (conn, _, _) = self.kept.insert((conn, opened, Instant::now()));
        Ok(conn)
    }

    /// After `error` from a statement: unless the database refused the statement (after
    /// which the session goes on, see [`refused`]), the connection is dropped and the next
    /// [`Dedicated::get`] takes another.
    pub(super) fn failed(&mut self, error: &sqlx::Error) {
        if !refused(error) {
            self.discard();
        }
    }

    /// Drops the connection: the next [`Dedicated::get`] takes another.
    pub(super) fn discard(&mut self) {
        self.kept = None;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Requests waiting when the task is free share one call; the answers go back to their
    /// own requesters, in order; one that arrives while a call is in flight waits for the
    /// next call, and no call is larger than [`MAX_BATCH`].
    #[tokio::test]
    async fn waiting_requests_share_a_call_and_get_their_own_answers() {
        let calls: Arc<Mutex<Vec<Vec<u32>>>> = Arc::default();
        let (gate_tx, gate_rx) = tokio::sync::watch::channel(false);
        let seen = calls.clone();
        let batcher = Arc::new(Batcher::spawn("test", (), move |(), requests: Vec<u32>| {
            seen.lock().unwrap().push(requests.clone());
            let mut gate = gate_rx.clone();
            async move {
                // The first call is held until every later request is queued.
                let _ = gate.wait_for(|open| *open).await;
                ((), requests.into_iter().map(|r| Ok(r * 10)).collect())
            }
        }));
        let first = tokio::spawn({
            let batcher = batcher.clone();
            async move { batcher.submit(1).await }
        });
        while calls.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let sent = Arc::new(AtomicUsize::new(0));
        let later: Vec<_> = (2..=(MAX_BATCH as u32 + 5))
            .map(|r| {
                let (batcher, sent) = (batcher.clone(), sent.clone());
                tokio::spawn(async move {
                    // Polled once, the request is queued (its answer is not ready yet).
                    let mut submitted = std::pin::pin!(batcher.submit(r));
                    std::future::poll_fn(|cx| {
                        assert!(submitted.as_mut().poll(cx).is_pending());
                        std::task::Poll::Ready(())
                    })
                    .await;
                    sent.fetch_add(1, Ordering::SeqCst);
                    submitted.await
                })
            })
            .collect();
        while sent.load(Ordering::SeqCst) < later.len() {
            tokio::task::yield_now().await;
        }
        gate_tx.send(true).unwrap();
        assert_eq!(first.await.unwrap().unwrap(), 10);
        for (i, task) in later.into_iter().enumerate() {
            assert_eq!(task.await.unwrap().unwrap(), (i as u32 + 2) * 10);
        }
        let calls = calls.lock().unwrap();
        let sizes: Vec<usize> = calls.iter().map(Vec::len).collect();
        assert_eq!(sizes, [1, MAX_BATCH, 4], "calls: {calls:?}");
        assert_eq!(calls[1][0], 2);
    }

    /// A call that answers fewer requests than it was given answers the rest with errors,
    /// and the task goes on with the state the call gave back.
    #[tokio::test]
    async fn a_request_left_unanswered_gets_an_error() {
        // The state counts the calls; each answer is the count before its call.
        let batcher = Batcher::spawn("test", 0, |calls: u32, requests: Vec<u32>| async move {
            let answers = requests.into_iter().filter(|r| *r != 7).map(|_| Ok(calls)).collect();
            (calls + 1, answers)
        });
        assert!(
            matches!(batcher.submit(7).await, Err(StoreError::Backend(m)) if m.contains("unanswered"))
        );
        assert_eq!(batcher.submit(8).await.unwrap(), 1, "the state is carried to the next call");
    }
}
