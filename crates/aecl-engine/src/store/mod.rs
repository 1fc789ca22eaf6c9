//! The store port: everything the engine keeps between calls, as one trait that SQLite and
//! PostgreSQL (`aecl-store`) and memory ([`MemoryStore`], the reference) implement
//! identically, checked by one contract test suite (`aecl-testkit`'s `contract`).
//!
//! Every method is a single atomic step, so that two engine instances on one database keep
//! every guarantee: a run's events are appended only at the version they were decided
//! against ([`Store::commit_run_event`]), rate limits and concurrency slots are taken in
//! that same transaction, an effect with a given idempotency key exists once
//! ([`Store::begin_effect`]), a grant or nonce is spent once, an approval's vote is
//! written over the votes it was counted with ([`Store::record_vote`]), and the audit log
//! has one history whatever instance appends.

mod approvals;
#[doc(hidden)]
pub mod delegate;
mod memory;

use std::future::Future;

use aecl_audit::{AuditRecord, StoredRecord};
use aecl_core::limits::RateLimit;
use aecl_core::{CallDigest, Revision, Timestamp};
use serde_json::Value;

use crate::error::StoreError;
use crate::run_event::RunEvent;

pub use approvals::{
    Answer, Approval, ApprovalStatus, Grant, GrantRefusal, StandingGrant, Superseded, Voiding,
};
pub use memory::MemoryStore;

/// When a write's answer comes (ARCHITECTURE.md, "One durable commit per call").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Once the write is durable.
    #[default]
    Synced,
    /// Once the write is committed (every reader and every later write sees it, and a
    /// crash of this process keeps it) but perhaps not yet synced: an OS crash or power
    /// loss may lose it, together with every write committed after it. The next `Synced`
    /// write makes it durable (SQLite's WAL and PostgreSQL's WAL are flushed in order).
    /// The engine asks for it where that loss is covered: a no-effect call's decision,
    /// whose outcome is then committed `Synced` before the answer, and an effect's end,
    /// which recovery and reconciliation find `dispatched` if it is lost.
    Ordered,
}

/// A run as stored: its events in order and its version (the number of events).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSnapshot {
    pub agent: Option<String>,
    pub version: u64,
    pub events: Vec<RunEvent>,
}

/// One event to append to a run, if the run is still at `expected_version`, with the
/// limits the call must pass in the same transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct RunCommit {
    pub run: String,
    pub agent: String,
    pub expected_version: u64,
    pub event: RunEvent,
    /// Checked in order; the first that refuses stops the commit.
    pub admission: Vec<Admission>,
    /// The `pending` effect of a call that is about to be executed, recorded with the call
    /// so that a retry of its idempotency key, on any instance, finds it from the moment
    /// the call is known.
    pub effect: Option<NewEffect>,
    /// The decision record of the call, appended to the audit log when (and only when) the
    /// event is: in the same transaction where the backend's log allows it (SQLite), else
    /// right after the commit and before answering (PostgreSQL, whose log has its own
    /// committer). Either way it is durable before the call can be dispatched.
    pub audit: Option<AuditRecord>,
    /// The approval grant that lifts this call's decision to `allow`, spent by this commit
    /// or the commit is refused ([`Committed::GrantRefused`]): a grant is used up by the
    /// one transaction that records the allow decision, never later at dispatch.
    pub grant: Option<GrantUse>,
    /// The call this commit records, checked against the run's executed calls: when one of
    /// them has this id, the commit is refused ([`Committed::CallIdTaken`]).
    pub call_id: Option<CallIdCheck>,
    /// When the answer comes; `Ordered` only for a no-effect call whose effect is recorded
    /// here and whose outcome is committed `Synced` before its answer.
    pub durability: Durability,
    /// The end of the call, when it already ran: a call with no effect (a read) runs
    /// before its decision is written, and both commit together ([`CallEnd`]'s events
    /// right after the call's, its record after the decision's), or neither does. Its
    /// `effect` is then recorded with the end's state directly.
    pub end: Option<std::sync::Arc<CallEnd>>,
}

/// A call's id and digest, for [`RunCommit::call_id`].
#[derive(Debug, Clone, PartialEq)]
pub struct CallIdCheck {
    pub call_id: String,
    pub digest: CallDigest,
}

/// A grant to spend in a [`RunCommit`]: grant `id`, for the call with `digest` under
/// `revision`, at `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantUse {
    pub id: String,
    pub digest: CallDigest,
    pub revision: Revision,
    pub at: Timestamp,
}

/// The end of an executed call, written in one transaction: the effect's final state, the
/// concurrency slots it held released, its events appended to the run at whatever version
/// the run is at (they do not depend on its state, so another instance's appends meanwhile
/// are no conflict), and its outcome record appended to the audit log (in the same
/// transaction where the backend's log allows it, else right after the commit and before
/// answering, as for [`RunCommit::audit`]). One write after the connector answers, instead
/// of one per step, and the answer waits for its durability only when
/// [`CallEnd::durability`] says so.
#[derive(Debug, Clone, PartialEq)]
pub struct CallEnd {
    pub run: String,
    pub agent: String,
    /// Appended in order after the run's last event.
    pub events: Vec<RunEvent>,
    pub effect_id: String,
    pub end: EffectEnd,
    /// Whose concurrency slots are released.
    pub slot_holder: String,
    pub audit: AuditRecord,
    /// When the answer comes.
    pub durability: Durability,
}

/// A limit an allowed call must pass, taken atomically with the event that records it.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// One GCRA step on `key` (see `aecl_core::limits::gcra`).
    Rate { key: String, limit: RateLimit, now: Timestamp },
    /// One of `limit` concurrency slots on `key`, held by `holder` until released or until
    /// `expires` (so that a crashed holder does not keep it forever).
    Slot { key: String, limit: u32, holder: String, now: Timestamp, expires: Timestamp },
}

impl Admission {
    pub fn key(&self) -> &str {
        match self {
            Admission::Rate { key, .. } | Admission::Slot { key, .. } => key,
        }
    }
}

/// How a [`RunCommit`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    /// Appended; the run is now at `version` (after the end's events too, when the commit
    /// has an end), and the commit's decision record, if any, has sequence number
    /// `audit_seq`.
    Done { version: u64, audit_seq: Option<u64> },
    /// Another writer appended first: decide again on the new state.
    Conflict,
    /// `admission[index]` refused: nothing was written. For a rate limit, how long to wait.
    Refused { index: usize, retry_after_ms: Option<u64> },
    /// The commit's grant could not be spent (another call spent it first, or it expired):
    /// nothing was written.
    GrantRefused(GrantRefusal),
    /// The commit's effect names a call id the run has already executed: nothing was
    /// written. `digest` is that earlier call's, so the caller can tell a retry of the
    /// same call from a reuse of its id for another one.
    CallIdTaken { effect_id: String, digest: CallDigest },
}

/// The states of the effect ledger: `pending -> dispatched -> succeeded | failed |
/// outcome_unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EffectState {
    /// Recorded, not yet handed to the connector.
    Pending,
    /// Handed to the connector: from here on it may have happened.
    Dispatched,
    Succeeded,
    Failed,
    /// aecl stopped between dispatch and result: it may or may not have happened, and it
    /// is never executed again.
    OutcomeUnknown,
}

impl EffectState {
    pub fn as_str(self) -> &'static str {
        match self {
            EffectState::Pending => "pending",
            EffectState::Dispatched => "dispatched",
            EffectState::Succeeded => "succeeded",
            EffectState::Failed => "failed",
            EffectState::OutcomeUnknown => "outcome_unknown",
        }
    }

    pub fn parse(s: &str) -> Option<EffectState> {
        Some(match s {
            "pending" => EffectState::Pending,
            "dispatched" => EffectState::Dispatched,
            "succeeded" => EffectState::Succeeded,
            "failed" => EffectState::Failed,
            "outcome_unknown" => EffectState::OutcomeUnknown,
            _ => return None,
        })
    }

    /// Whether the effect has ended (no further transition).
    pub fn is_final(self) -> bool {
        matches!(self, EffectState::Succeeded | EffectState::Failed | EffectState::OutcomeUnknown)
    }
}

/// An effect to record before anything is dispatched.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEffect {
    pub id: String,
    pub run: String,
    pub call_id: String,
    pub agent: String,
    pub action: String,
    /// Unique per run: a second effect with the same key is never created.
    pub idempotency_key: Option<String>,
    pub call_digest: CallDigest,
    /// The engine instance that executes it; only it recovers the effect after a crash.
    pub node: String,
    pub created: Timestamp,
    /// Recorded as `dispatched` at once rather than `pending`: the engine hands the call
    /// to its connector right after this commit, with nothing left to spend first (no
    /// grant), so one durable write covers both. A crash in between leaves it
    /// `outcome_unknown` after recovery: never executed twice, never assumed not to have
    /// run.
    pub dispatched: bool,
}

/// One entry of the effect ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    pub id: String,
    pub run: String,
    pub call_id: String,
    pub agent: String,
    pub action: String,
    pub idempotency_key: Option<String>,
    pub call_digest: CallDigest,
    pub node: String,
    pub state: EffectState,
    /// The connector's result (redacted), `Null` until the effect ends.
    pub result: Value,
    pub error: Option<String>,
    pub rollback_token: Option<String>,
    /// The grant key's signature over the token and the fields its undo acts on
    /// (`undo_seal.rs`): an undo runs only when it verifies.
    pub rollback_seal: Option<String>,
    pub created: Timestamp,
    pub updated: Timestamp,
}

/// What [`Store::begin_effect`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Begun {
    /// The effect is new and `pending`: the caller executes it.
    New,
    /// An effect with the same run and idempotency key (or the same run and call id)
    /// exists: the caller returns its outcome and never executes again.
    Existing(Box<Effect>),
}

/// How an effect ended.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectEnd {
    pub state: EffectState,
    pub result: Value,
    pub error: Option<String>,
    pub rollback_token: Option<String>,
    /// The token's seal (`Effect::rollback_seal`).
    pub rollback_seal: Option<String>,
    pub at: Timestamp,
}

/// The reconciliation of an effect left `outcome_unknown` (`reconcile.rs`), written in one
/// step: the effect moves from `outcome_unknown` to `end.state` (`succeeded`, `failed`, or
/// `outcome_unknown` again with new evidence in its result) and `audit` is appended, in the
/// same transaction where the backend's log allows it, else right after (as for
/// [`CallEnd`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Reconciliation {
    pub effect_id: String,
    pub end: EffectEnd,
    pub audit: AuditRecord,
}

/// The store port. See the module documentation for the guarantees each method keeps.
///
/// Futures are `Send` so that the server can run them on any worker thread. No method has
/// a default: a store (or a wrapper made with [`crate::impl_store_by`], which lists every
/// method once) that leaves one out does not compile, rather than answer with a guess.
pub trait Store: Send + Sync + 'static {
    /// The run's events in order; an unknown run is empty at version 0.
    fn load_run(&self, run: &str) -> impl Future<Output = Result<RunSnapshot, StoreError>> + Send;

    /// Appends one event if the run is still at `expected_version` and every admission
    /// passes, and records the commit's effect as `pending`, all in one transaction.
    fn commit_run_event(
        &self,
        commit: RunCommit,
    ) -> impl Future<Output = Result<Committed, StoreError>> + Send;

    /// Ends an executed call (see [`CallEnd`]); returns the run's version after its
    /// events. Fails, writing nothing, if the effect has already ended.
    fn finish_call(&self, end: CallEnd) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Releases the concurrency slots `holder` took.
    fn release_slots(&self, holder: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Appends a record to the audit log; returns its sequence number once it is durable
    /// (group-committed, with a signed checkpoint over it).
    fn append_audit(
        &self,
        record: AuditRecord,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Records an effect as `pending`, unless one with the same run and idempotency key
    /// (or run and call id) exists.
    fn begin_effect(
        &self,
        effect: NewEffect,
    ) -> impl Future<Output = Result<Begun, StoreError>> + Send;

    /// `pending -> dispatched`. Fails if the effect is not pending.
    fn dispatch_effect(&self, id: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Ends an effect that is pending or dispatched. Fails if it has already ended.
    fn finish_effect(
        &self,
        id: &str,
        end: EffectEnd,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn effect(&self, id: &str) -> impl Future<Output = Result<Option<Effect>, StoreError>> + Send;

    /// The effect a run recorded under an idempotency key.
    fn effect_by_key(
        &self,
        run: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<Effect>, StoreError>> + Send;

    /// The effects of a run, oldest first (by creation time, then id: ids are UUID v7, so
    /// they sort by creation too). The rollback engine compensates them in reverse order.
    fn run_effects(
        &self,
        run: &str,
    ) -> impl Future<Output = Result<Vec<Effect>, StoreError>> + Send;

    /// After a restart of `node`: its dispatched effects become `outcome_unknown`, its
    /// pending ones `failed` (they were never handed to a connector). Returns them.
    fn recover_effects(
        &self,
        node: &str,
        at: Timestamp,
    ) -> impl Future<Output = Result<Vec<Effect>, StoreError>> + Send;

    /// Effects in state `outcome_unknown` (of every node), oldest first by id (UUID v7),
    /// after `after` when given, at most `limit`.
    fn unresolved_effects(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Effect>, StoreError>> + Send;

    /// Writes a [`Reconciliation`] if the effect is still `outcome_unknown`; false (and
    /// nothing written, no record appended) when it is not, so that two reconcilers
    /// racing over one effect record it once.
    fn reconcile_effect(
        &self,
        reconciliation: Reconciliation,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Spends a nonce within `scope` (an agent): true the first time, false after.
    fn use_nonce(
        &self,
        scope: &str,
        nonce: &str,
        at: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    fn put_grant(&self, grant: Grant) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Spends a grant for the call with `digest` under `revision`, once.
    fn consume_grant(
        &self,
        id: &str,
        digest: &CallDigest,
        revision: &Revision,
        at: Timestamp,
    ) -> impl Future<Output = Result<Result<Grant, GrantRefusal>, StoreError>> + Send;

    /// The newest grant for the call with `digest` that is neither spent nor voided,
    /// whether or not it has expired or belongs to the current policy revision (the engine
    /// says why it cannot be used, and voids it).
    fn grant_for_call(
        &self,
        digest: &CallDigest,
    ) -> impl Future<Output = Result<Option<Grant>, StoreError>> + Send;

    /// The most recently spent grant for the call with `digest`, with when it was spent:
    /// a retry that arrived before then raced the call that spent it. A voided grant was
    /// never spent.
    fn spent_grant_for_call(
        &self,
        digest: &CallDigest,
    ) -> impl Future<Output = Result<Option<(Grant, Timestamp)>, StoreError>> + Send;

    /// Spends grant `grant` for the call with `digest` under `revision` and moves the
    /// pending effect `id` to `dispatched`, in one transaction: neither happens without the
    /// other. A grant that cannot be spent leaves both untouched.
    fn dispatch_effect_with_grant(
        &self,
        id: &str,
        grant: &str,
        digest: &CallDigest,
        revision: &Revision,
        at: Timestamp,
    ) -> impl Future<Output = Result<Result<(), GrantRefusal>, StoreError>> + Send;

    /// Voids every grant for the call with `digest` that is neither spent nor voided, with
    /// `voiding`, in one statement; returns the grants it voided. A spend racing with it
    /// either lands first (the grant is then spent, not voided) or is refused
    /// ([`GrantRefusal::Voided`]).
    fn void_grants(
        &self,
        digest: &CallDigest,
        voiding: Voiding,
    ) -> impl Future<Output = Result<Vec<Grant>, StoreError>> + Send;

    /// Stores a row of the approvals table as given (an approval request is filed with
    /// [`Store::file_approval`]; this writes the rows that are not requests: a rejection's
    /// cool-down, a gateway's pinned tool definition).
    fn put_approval(
        &self,
        approval: Approval,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Files the new pending request `approval` and, in the same transaction, voids every
    /// grant of its call that is neither spent nor voided, and closes the call's requests
    /// still pending under another policy revision than the new one's (a question asked
    /// again replaces the one asked before: neither an older approval nor an answer to
    /// the older question outlives it).
    fn file_approval(
        &self,
        approval: Approval,
        voiding: Voiding,
    ) -> impl Future<Output = Result<Superseded, StoreError>> + Send;

    fn approval(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Approval>, StoreError>> + Send;

    /// Approval requests, newest first: only the pending ones, or all of them.
    fn approvals(
        &self,
        pending_only: bool,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Approval>, StoreError>> + Send;

    /// Moves a pending approval to `status` (aecl's own closings: expiry, withdrawal, a
    /// request made moot); false, with nothing written, if it was no longer pending. A
    /// person's answer is [`Store::answer_approval`].
    fn resolve_approval(
        &self,
        id: &str,
        status: ApprovalStatus,
        by: &str,
        reason: Option<&str>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Moves a pending approval to `answer.status`, voids every grant of its call that is
    /// neither spent nor voided, and writes `answer.grant`, all in one transaction; `None`,
    /// with nothing written, if it was no longer pending, else the grants voided. So a
    /// request grants at most once, however many approvers answer it at the same moment,
    /// and the last answer about a call is the only one that can let it run.
    fn answer_approval(
        &self,
        id: &str,
        answer: Answer,
    ) -> impl Future<Output = Result<Option<Vec<Grant>>, StoreError>> + Send;

    /// Writes `votes` as the votes so far (`decided_by`) of approval `id` if it is still
    /// pending and its votes are still `expected` (`None`: none yet), in one guarded
    /// update; false, with nothing written, otherwise. A compare-and-set: of approvers
    /// voting at the same moment, each vote is written over the list it was counted with
    /// or not at all, so no vote overwrites another.
    fn record_vote(
        &self,
        id: &str,
        expected: Option<&str>,
        votes: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The `rejected` rows of the call with `digest` (rejected requests and the rows their
    /// rejections' cool-downs are kept in) that were made (`requested`) at or after `since`
    /// and have not expired at `at`, newest first. Looked up by the call, so how many other
    /// requests were made meanwhile changes nothing.
    fn rejections_for(
        &self,
        digest: &CallDigest,
        since: Timestamp,
        at: Timestamp,
    ) -> impl Future<Output = Result<Vec<Approval>, StoreError>> + Send;

    /// Up to `limit` audit records from sequence number `from`, in order.
    fn audit_records(
        &self,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredRecord>, StoreError>> + Send;

    /// Every stored checkpoint (signed notes), oldest first.
    fn audit_checkpoints(&self) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// The newest stored checkpoint (the last one [`Store::audit_checkpoints`] lists), read
    /// alone: `/metrics` reads it at every scrape for its age, and a long log has many.
    fn newest_checkpoint(&self) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// The id of a request for the call with `digest` under policy `revision` that is still
    /// pending and unexpired at `at` (the newest, if several), so that a retry waits on it
    /// instead of asking again.
    fn pending_approval_for(
        &self,
        digest: &CallDigest,
        revision: &Revision,
        at: Timestamp,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Stores a new standing grant (`used` 0, not revoked).
    fn put_standing_grant(
        &self,
        grant: StandingGrant,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Standing grants newest first: of `agent` for `action` when given, else all; at most
    /// `limit`.
    fn standing_grants(
        &self,
        agent_action: Option<(&str, &str)>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StandingGrant>, StoreError>> + Send;

    /// Counts one use of grant `id` if it has uses left, has not expired at `at` and is
    /// not revoked, in one guarded statement (of racing instances only as many as it has
    /// uses succeed). Returns whether the use was counted.
    fn use_standing_grant(
        &self,
        id: &str,
        at: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Revokes grant `id` at `at`; false when unknown or revoked already.
    fn revoke_standing_grant(
        &self,
        id: &str,
        at: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records credential `id` (`jti:…` for a token, `agent_key:…` for an agent's key) as
    /// revoked at `at` by `by`; false when it was revoked already. Revocations are never
    /// lifted: a withdrawn key is replaced, not restored.
    fn revoke_credential(
        &self,
        id: &str,
        at: Timestamp,
        by: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The first of `ids` that is revoked, if any: read at every request, so every replica
    /// refuses a revoked credential at its next one.
    fn revoked_credential(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Whether the store can still record calls: a real write probe (rate-limited by the
    /// store), the writer's state and the last commit. A store that cannot tell reports
    /// itself unhealthy: `/healthz` fails closed.
    fn health(&self) -> impl Future<Output = StoreHealth> + Send;

    /// How many write jobs this store has queued for its writer and not yet committed (or
    /// failed), now. Read without waiting on the writer, unlike [`Store::health`]'s probe,
    /// so a writer that has stopped keeping up shows as a queue that grows. A store that
    /// writes within each call, with no queue, answers 0.
    fn writer_queue_depth(&self) -> impl Future<Output = u64> + Send;
}

/// What a store says of its own health ([`Store::health`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreHealth {
    /// Why the store refuses every write until it is restarted (its database file was
    /// deleted, replaced or made unwritable; its writer has ended), if it does.
    pub failed: Option<String>,
    /// The error of the last commit, when it failed (a full disk, an I/O error).
    pub last_commit_error: Option<String>,
    /// A real write committed through the store's writer just now (or at most a second
    /// ago: probes are rate-limited).
    pub write_probe: Result<(), String>,
}

impl StoreHealth {
    pub fn is_healthy(&self) -> bool {
        self.failed.is_none() && self.last_commit_error.is_none() && self.write_probe.is_ok()
    }
}
