//! The engine instance: its ports (store, clock, notifier, observer), the policy in force,
//! the per-run locks and run cache, and what does not go through the pipeline (recovery
//! after a restart, run events that depend on no decision, refusals). The call path itself
//! is `pipeline.rs` over the stages of `stage.rs`.
//!
//! Every error is returned, never turned into an allow: front ends answer an error with a
//! block.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aecl_audit::redact::FieldPath;
use aecl_audit::{AuditRecord, Outcome, RecordKind};
use aecl_core::policy::Policy;
use aecl_core::{Call, CallDigest, Reason, Timestamp, Verdict};
use aecl_policy::format::ScopeFile;
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::error::EngineError;
use crate::expiry::RunTracker;
use crate::notify::Notifier;
use crate::observe::Observer;
use crate::run_cache::{CachedRun, RunCache};
use crate::run_event::RunEvent;
mod held_reads;
pub(crate) mod reported;
mod run_expiry;
mod waiting;

use crate::held::HeldReads;
use crate::store::{Committed, Durability, Effect, EffectState, RunCommit, Store};

/// How many times a call is decided again when other instances keep appending to its run.
pub(crate) const MAX_ATTEMPTS: u32 = 64;

/// Stripes of the per-run lock.
const RUN_LOCKS: usize = 256;

/// Settings of one engine instance.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// This instance's name in the effect ledger. Replicas need distinct, stable names:
    /// after a restart an instance recovers the effects it left in flight.
    pub node: String,
    /// Argument and output fields always redacted from audit records, beside the built-in
    /// credential detectors.
    pub redact: Vec<FieldPath>,
    /// How long a concurrency slot is held at most when its holder never reports back.
    pub slot_lease: Duration,
    /// The per-call timeout of an execution.
    pub call_timeout: Duration,
    /// A read that takes no limit runs before its decision is committed, and both commit
    /// together (`held.rs`). Off by default: on for one instance over SQLite (`aecl serve`,
    /// `aecl mcp`). Instances racing on one run may each run such a read once (the one
    /// decided second is decided again, and its output withheld if it no longer stands);
    /// PostgreSQL commits the two apart anyway, so replicas keep it off.
    pub joint_read_commits: bool,
    /// Signs and verifies standing grants and single-use grants (`None`: standing grants
    /// cannot be given and none is honoured; single-use grants are unsigned, and the
    /// store's are trusted: a library embedding without an audit key).
    pub grant_key: Option<aecl_audit::SignerKey>,
    /// `[runs]`: when run states expire (`expiry.rs`); [`Engine::set_run_limits`] at a
    /// reload.
    pub runs: aecl_core::run_bounds::RunLimits,
    /// Where the store's checkpoints are published outside it (`--checkpoint-dir`): an
    /// effect is dispatched, and a decision allowing one answered, only once a published
    /// checkpoint covers its decision's record (`None`: the store alone holds the log).
    pub publication: Option<Arc<dyn aecl_audit::CheckpointSink>>,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            node: "local".to_owned(),
            redact: Vec::new(),
            slot_lease: Duration::from_secs(600),
            call_timeout: Duration::from_secs(30),
            joint_read_commits: false,
            grant_key: None,
            runs: aecl_core::run_bounds::RunLimits::default(),
            publication: None,
        }
    }
}

/// A decided and recorded call.
#[derive(Debug, Clone)]
pub struct Decided {
    pub call: Call,
    pub verdict: Verdict,
    /// The audit record of the decision.
    pub audit_seq: u64,
    /// The approval request this call is waiting for (`execute` of a `require_approval`
    /// call), or the one whose grant let it through.
    pub approval_id: Option<String>,
}

/// A call after `execute`.
#[derive(Debug, Clone)]
pub struct Executed {
    pub decided: Decided,
    /// The effect: new, or the first execution's when the idempotency key repeats. `None`
    /// when nothing was executed (blocked, pending approval, dry run, or a repeated key
    /// whose first call was never executed).
    pub effect: Option<Effect>,
    /// True when the effect is an earlier execution's, returned instead of executing.
    pub replayed: bool,
    /// For a replayed effect that aecl has since rolled back: the compensation's effect.
    /// The effect's own state stays what its execution ended in (`succeeded`); a client
    /// told only that would take the effect for in place.
    pub rolled_back_by: Option<String>,
}

/// The engine over a store `S`.
#[derive(Debug)]
pub struct Engine<S> {
    store: Arc<S>,
    policy: RwLock<Arc<Policy>>,
    clock: Arc<dyn Clock>,
    config: EngineConfig,
    /// Calls of one run are decided one at a time in this instance (a run is sequential
    /// by nature), so optimistic retries happen only between instances. Striped: a run
    /// maps to one of these by hash.
    run_locks: Vec<tokio::sync::Mutex<()>>,
    /// Told of new approval requests.
    notifier: Option<Arc<dyn Notifier>>,
    /// Told of every recorded decision and approval answer (`observe.rs`).
    observer: Option<Arc<dyn Observer>>,
    /// The runs this instance wrote last, rebuilt.
    runs: RunCache,
    /// The runs this instance wrote last, for `[runs]` expiry.
    expiry: RunTracker,
    /// Why the last policy reload was refused (the policy in force stayed), until one
    /// succeeds.
    policy_error: RwLock<Option<String>>,
    /// Decisions of reads that are running, to commit with their outcomes (`held.rs`).
    held: HeldReads,
    /// The credential revocations this instance has seen (`credentials.rs`).
    revocations: crate::revocations::SeenRevocations,
}

impl<S: Store> Engine<S> {
    /// An engine over `store`. Call [`Engine::recover`] once before serving.
    pub fn new(
        store: Arc<S>,
        policy: Arc<Policy>,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> Self {
        let run_locks = (0..RUN_LOCKS).map(|_| tokio::sync::Mutex::new(())).collect();
        let expiry = RunTracker::new(config.runs);
        Engine {
            store,
            policy: RwLock::new(policy),
            clock,
            config,
            run_locks,
            notifier: None,
            observer: None,
            runs: RunCache::default(),
            expiry,
            policy_error: RwLock::new(None),
            held: HeldReads::default(),
            revocations: Default::default(),
        }
    }

    pub(crate) fn held_reads(&self) -> &HeldReads {
        &self.held
    }

    pub(crate) fn revocations(&self) -> &crate::revocations::SeenRevocations {
        &self.revocations
    }

    /// Tells `notifier` of every new approval request.
    #[must_use]
    pub fn with_notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    pub(crate) fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub(crate) fn expiry(&self) -> &RunTracker {
        &self.expiry
    }

    pub(crate) fn run_cache(&self) -> &RunCache {
        &self.runs
    }

    /// Tells `observer` of every recorded decision and approval answer (the log lines
    /// are written either way).
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    pub(crate) fn observer(&self) -> Option<&dyn Observer> {
        self.observer.as_deref()
    }

    pub(crate) fn notifier(&self) -> Option<&dyn Notifier> {
        self.notifier.as_deref()
    }

    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        // A poisoned lock still holds a complete `Arc`: a writer cannot leave it half set.
        self.policy.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Replaces the policy in force, atomically: calls already deciding finish with the
    /// old one.
    pub fn set_policy(&self, policy: Arc<Policy>) {
        *self.policy.write().unwrap_or_else(std::sync::PoisonError::into_inner) = policy;
    }

    /// Records how the last policy reload ended: `Some(error)` when it was refused and the
    /// policy in force stayed, `None` when it succeeded. `/healthz` reports it.
    pub fn set_policy_error(&self, error: Option<String>) {
        *self.policy_error.write().unwrap_or_else(std::sync::PoisonError::into_inner) = error;
    }

    /// Why the last policy reload was refused, if it was.
    pub fn policy_error(&self) -> Option<String> {
        self.policy_error.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// After a restart: marks what this node left in flight (`outcome_unknown` for
    /// dispatched effects, `failed` for pending ones), releases their slots and audits
    /// each. Returns them.
    pub async fn recover(&self) -> Result<Vec<Effect>, EngineError> {
        let now = self.clock.now();
        let effects = self.store.recover_effects(&self.config.node, now).await?;
        for effect in &effects {
            self.store.release_slots(&slot_holder(&effect.run, &effect.call_id)).await?;
            let executed = effect.state != EffectState::Failed;
            self.append_run_event(
                &effect.run,
                &effect.agent,
                RunEvent::Outcome { id: effect.call_id.clone(), executed },
            )
            .await?;
            let outcome = match effect.state {
                EffectState::Failed => Outcome::Failed,
                _ => Outcome::OutcomeUnknown,
            };
            let mut record = self.effect_outcome_record(effect, outcome);
            record.output = json!({ "error": effect.error });
            self.store.append_audit(record).await?;
        }
        Ok(effects)
    }

    /// Opens a run with its declared goal and scope (optional: a run also opens on its
    /// first call).
    pub async fn open_run(
        &self,
        run: &str,
        agent: &str,
        goal: Option<String>,
        scope: Option<ScopeFile>,
    ) -> Result<u64, EngineError> {
        let mut record = self.record(RecordKind::Run, agent, run);
        record.input = json!({ "goal": goal, "scope": scope });
        self.append_run_event(run, agent, RunEvent::Run { agent: agent.to_owned(), goal, scope })
            .await?;
        Ok(self.store.append_audit(record).await?)
    }

    /// Records the user's own words in a run: values in them are trusted.
    pub async fn record_user(
        &self,
        run: &str,
        agent: &str,
        text: &str,
    ) -> Result<u64, EngineError> {
        if let Some(why) = crate::origin::reserved(run) {
            return Err(EngineError::ReservedId(why));
        }
        let mut record = self.record(RecordKind::User, agent, run);
        record.input = json!({ "text": text });
        self.redact(&mut record.input);
        let event = RunEvent::User { text: redacted_text(&record.input) };
        self.append_run_event(run, agent, event).await?;
        Ok(self.store.append_audit(record).await?)
    }

    /// Records a tool output that the agent reports (front ends that execute themselves);
    /// it feeds provenance as aecl's own executions do.
    pub async fn record_result(
        &self,
        run: &str,
        agent: &str,
        call_id: &str,
        output: Value,
    ) -> Result<u64, EngineError> {
        if let Some(why) = [run, call_id].into_iter().find_map(crate::origin::reserved) {
            return Err(EngineError::ReservedId(why));
        }
        let mut record = self.record(RecordKind::Result, agent, run);
        record.call_id = call_id.to_owned();
        record.output = output;
        self.redact(&mut record.output);
        let output = record.output.clone();
        let event = RunEvent::Result { id: call_id.to_owned(), output, untrusted: false };
        self.append_run_event(run, agent, event).await?;
        self.store.release_slots(&slot_holder(run, call_id)).await?;
        Ok(self.store.append_audit(record).await?)
    }

    /// Records content the agent was shown beside any call's output, which no catalog
    /// describes (an MCP server's instructions and tool descriptions, a server's request
    /// for input during a call): values in it are untrusted in `run`'s later calls
    /// ([`RunEvent::Untrusted`]). A front end records it before the agent can act on it,
    /// that is before deciding any later call of the run. Its audit record is a `result`
    /// record of no call, `input` saying it is untrusted and naming its `source`, the
    /// content redacted as any output is.
    pub async fn record_untrusted(
        &self,
        run: &str,
        agent: &str,
        source: &str,
        content: Value,
    ) -> Result<u64, EngineError> {
        self.record_shown(run, agent, source, content, false).await
    }

    /// `record_untrusted` for content the agent read as it reads a call's output (Claude
    /// Code's `<task-notification>`: a subagent's result, a background command's report):
    /// the run has then read untrusted content, as after an untrusted output (red team
    /// round 27, flow D1: the values were indexed, the run not marked, so the exfiltration
    /// rule and `after_untrusted` sandbox rules did not apply).
    pub async fn record_untrusted_read(
        &self,
        run: &str,
        agent: &str,
        source: &str,
        content: Value,
    ) -> Result<u64, EngineError> {
        self.record_shown(run, agent, source, content, true).await
    }

    async fn record_shown(
        &self,
        run: &str,
        agent: &str,
        source: &str,
        content: Value,
        read: bool,
    ) -> Result<u64, EngineError> {
        if let Some(why) = crate::origin::reserved(run) {
            return Err(EngineError::ReservedId(why));
        }
        let mut record = self.record(RecordKind::Result, agent, run);
        record.input = json!({ "untrusted": true, "source": source });
        record.output = content;
        self.redact(&mut record.output);
        let content = record.output.clone();
        let event = RunEvent::Untrusted { source: source.to_owned(), content, read };
        self.append_run_event(run, agent, event).await?;
        Ok(self.store.append_audit(record).await?)
    }

    /// Records a request that a front end refused before any decision (authentication,
    /// authorisation, a malformed or oversized request, a conflict, a rate limit) with its
    /// HTTP `status`. `subject`, `role` and `token_id` are empty when no valid token was
    /// shown; the caller passes no secret. `suppressed` counts the refusals of the same
    /// caller that were not recorded since its last record (the front end rate-limits
    /// these records).
    pub async fn record_refusal(
        &self,
        subject: &str,
        role: &str,
        token_id: &str,
        reason: &str,
        status: u16,
        suppressed: u64,
    ) -> Result<u64, EngineError> {
        let mut record = self.record(RecordKind::Refusal, subject, "");
        record.input = json!({
            "role": role,
            "token_id": token_id,
            "reason": reason,
            "status": status,
            "suppressed": suppressed,
        });
        self.redact(&mut record.input);
        Ok(self.store.append_audit(record).await?)
    }

    /// Caches `cached` with `events`, which were just committed on top of it.
    pub(crate) fn keep_run(
        &self,
        policy: &Policy,
        run: &str,
        agent: &str,
        mut cached: CachedRun,
        events: impl ExactSizeIterator<Item = RunEvent>,
    ) {
        let count = u64::try_from(events.len()).unwrap_or(u64::MAX);
        let version = cached.snapshot.version.saturating_add(count);
        match events.into_iter().try_for_each(|event| cached.push(policy, agent, event)) {
            Ok(()) => {
                let bytes = cached.state.approx_bytes();
                self.expiry.touch(run, agent, self.clock.now().0, version, Some(bytes));
                self.runs.put(run, cached);
            }
            // The store holds the event; the next call reads it and says what is wrong.
            Err(error) => {
                self.expiry.touch(run, agent, self.clock.now().0, version, None);
                tracing::warn!(run, %error, "run not cached");
            }
        }
    }

    pub(crate) fn run_lock(&self, run: &str) -> &tokio::sync::Mutex<()> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(run);
        let index = usize::try_from(hash % RUN_LOCKS as u64).unwrap_or(0);
        // `index < RUN_LOCKS == run_locks.len()`.
        &self.run_locks[index]
    }

    /// Appends an event that does not depend on the run's state (retrying on conflicts).
    async fn append_run_event(
        &self,
        run: &str,
        agent: &str,
        event: RunEvent,
    ) -> Result<(), EngineError> {
        self.expire_if_due(run).await?;
        let _run_guard = self.lock_run(run).await;
        let policy = self.policy();
        let mut cached = self.runs.take(run, &policy.revision);
        for attempt in 1..=MAX_ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(Duration::from_micros(u64::from(attempt) * 500)).await;
            }
            // A cached run gives the version and owner; otherwise only they are read (no
            // rebuild: nothing here is decided).
            let loaded;
            let (version, opened_by) = match &cached {
                Some(known) => (known.snapshot.version, known.snapshot.agent.as_deref()),
                None => {
                    loaded = self.store.load_run(run).await?;
                    (loaded.version, loaded.agent.as_deref())
                }
            };
            // INVARIANT: a run holds the events of one agent only (`stage::load_run`).
            if let Some(owner) = policy.other_owner_of_run(run, opened_by, agent) {
                return Err(EngineError::foreign_run(run, owner, agent));
            }
            let commit = RunCommit {
                run: run.to_owned(),
                agent: agent.to_owned(),
                expected_version: version,
                event: event.clone(),
                admission: Vec::new(),
                effect: None,
                audit: None,
                grant: None,
                call_id: None,
                durability: Durability::Synced,
                end: None,
            };
            if let Committed::Done { .. } = self.store.commit_run_event(commit).await? {
                match cached {
                    Some(known) => self.keep_run(&policy, run, agent, known, [event].into_iter()),
                    None => self.expiry.touch(
                        run,
                        agent,
                        self.clock.now().0,
                        version.saturating_add(1),
                        None,
                    ),
                }
                return Ok(());
            }
            cached = None;
        }
        Err(EngineError::Contention(run.to_owned()))
    }

    /// The time on the engine's clock.
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// A record with the fields every kind has.
    /// An outcome record of an effect found after the fact (recovery, reconciliation): the
    /// call it belongs to and the outcome; the caller adds the output.
    pub(crate) fn effect_outcome_record(&self, effect: &Effect, outcome: Outcome) -> AuditRecord {
        let mut record = self.record(RecordKind::Outcome, &effect.agent, &effect.run);
        record.call_id.clone_from(&effect.call_id);
        record.action.clone_from(&effect.action);
        record.call_digest = effect.call_digest.clone();
        record.outcome = Some(outcome);
        record.effect_id = Some(effect.id.clone());
        record
    }

    pub(crate) fn record(&self, kind: RecordKind, agent: &str, run: &str) -> AuditRecord {
        AuditRecord {
            seq: 0,
            kind,
            event_id: new_id(),
            time: self.clock.now(),
            agent: agent.to_owned(),
            run: run.to_owned(),
            call_id: String::new(),
            action: String::new(),
            call_digest: CallDigest(String::new()),
            input: Value::Null,
            policy_revision: self.policy().revision.clone(),
            mode: None,
            decision: None,
            risk_score: 0.0,
            reasons: Vec::new(),
            outcome: None,
            output: Value::Null,
            latency_ms: 0,
            sandbox_id: None,
            approval_id: None,
            effect_id: None,
            rollback_token: None,
        }
    }

    /// `text` with every secret the detectors find replaced: for free text that a record
    /// and the ledger keep outside any JSON payload (a connector's error, which may quote
    /// the call's arguments or a server's answer; a rollback token, which may hold a path
    /// or a key), where configured field paths cannot reach.
    pub fn redact_text(&self, text: String) -> String {
        aecl_audit::redact::redact_text(&text).unwrap_or(text)
    }

    /// Redacts `value` (a call's arguments, a tool's output) as the audit log does: the
    /// configured field paths, sensitive keys, and the credential detectors over every
    /// string. Every view that shows such a value redacts it the same way, and so is every
    /// output, untrusted content and user's words a run's history keeps (the store's
    /// `run_events`): the history is kept as long as the log, in the same database and its
    /// backups. A call's own arguments are kept as given: they are what an approval runs
    /// and a reconciliation asks the target about.
    pub fn redact(&self, value: &mut Value) {
        let found = aecl_audit::redact(value, &self.config.redact);
        if found.count > 0 {
            tracing::debug!(kinds = ?found.kinds, count = found.count, "redacted audit payload");
        }
    }
}

/// `reasons` as a record or an approver keeps them: a check's message may quote the
/// argument it refused, and what redacting the arguments (`original`, now `redacted`) took
/// out stays out of the messages too (red team round 30, tamper F1).
pub(crate) fn redact_reasons(original: &Value, redacted: &Value, reasons: &mut [Reason]) {
    if reasons.is_empty() {
        return;
    }
    let quoted = aecl_audit::Quoted::between(original, redacted);
    for reason in reasons {
        if let Some(clean) = quoted.redact(&reason.message) {
            reason.message = clean;
        }
    }
}

/// A verdict as an approver sees it: [`redact_reasons`], and the risk breakdown's details,
/// which quote the value a factor weighed (`first_seen`: "`iban` = `DE89…` was not used
/// earlier", `one_of`, `greater_than`; red team round 31, tamper F1), cleaned the same
/// way. Every free text of a verdict goes through here.
pub(crate) fn redact_verdict(original: &Value, redacted: &Value, verdict: &mut Verdict) {
    let quoted = aecl_audit::Quoted::between(original, redacted);
    let texts = verdict
        .reasons
        .iter_mut()
        .map(|reason| &mut reason.message)
        .chain(verdict.risk.contributions.iter_mut().map(|c| &mut c.detail));
    for text in texts {
        if let Some(clean) = quoted.redact(text) {
            *text = clean;
        }
    }
}

/// The `text` of a redacted `{"text": ...}` input: the user's words as a run keeps them.
pub(crate) fn redacted_text(input: &Value) -> String {
    input.get("text").and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// Who holds a call's concurrency slots.
pub(crate) fn slot_holder(run: &str, call_id: &str) -> String {
    format!("{run}/{call_id}")
}

pub(crate) fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A new unique id: a UUID v7, which sorts by creation time.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
