//! The engine: one call through the whole pipeline over the store, clock and connector
//! ports. Decide on the run as stored; record the call at the version it was decided on
//! (with the rate and concurrency limits, atomically); write the decision to the audit log
//! before anything executes; then, for `execute`, the effect ledger around the dispatch,
//! and the outcome to the audit log.
//!
//! Every error is returned, never turned into an allow: front ends answer an error with a
//! block.

use std::borrow::Cow;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aecl_audit::redact::FieldPath;
use aecl_audit::{AuditRecord, Outcome, RecordKind};
use aecl_core::policy::Policy;
use aecl_core::{
    Call, CallDigest, Decision, Mode, Reason, SandboxTier, Stage, Timestamp, Verdict, decide,
};
use aecl_policy::format::ScopeFile;
use serde_json::{Value, json};

use crate::approval::GrantFound;
use crate::clock::Clock;
use crate::connector::{Connector, ConnectorOutcome, Sandboxed};
use crate::error::{EngineError, StoreError};
use crate::notify::Notifier;
use crate::observe::{DecisionSeen, Observer};
use crate::expiry::RunTracker;
use crate::run_cache::{CachedRun, RunCache};
use crate::run_event::{RunEvent, rebuild};
use crate::standing::lift;
mod reported;

pub use reported::{ReportRefused, Reported, Reporter, client_hand_over};

use crate::store::{
    Admission, CallEnd, CallIdCheck, Committed, Effect, EffectEnd, EffectState, GrantUse,
    NewEffect, RunCommit, Store,
};

/// How many times a call is decided again when other instances keep appending to its run.
const MAX_ATTEMPTS: u32 = 64;

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
    /// Signs and verifies standing grants (`None`: standing grants cannot be given and
    /// none is honoured).
    pub grant_key: Option<aecl_audit::SignerKey>,
    /// `[runs]`: when run states expire (`expiry.rs`); [`Engine::set_run_limits`] at a
    /// reload.
    pub runs: aecl_core::run_bounds::RunLimits,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            node: "local".to_owned(),
            redact: Vec::new(),
            slot_lease: Duration::from_secs(600),
            call_timeout: Duration::from_secs(30),
            grant_key: None,
            runs: aecl_core::run_bounds::RunLimits::default(),
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
        }
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

    pub(crate) fn expiry(&self) -> &RunTracker {
        &self.expiry
    }

    pub(crate) fn run_cache(&self) -> &RunCache {
        &self.runs
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
        let mut record = self.record(RecordKind::User, agent, run);
        record.input = json!({ "text": text });
        self.redact(&mut record.input);
        self.append_run_event(run, agent, RunEvent::User { text: text.to_owned() }).await?;
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
        let mut record = self.record(RecordKind::Result, agent, run);
        record.call_id = call_id.to_owned();
        record.output = output.clone();
        self.redact(&mut record.output);
        self.append_run_event(run, agent, RunEvent::Result { id: call_id.to_owned(), output })
            .await?;
        self.store.release_slots(&slot_holder(run, call_id)).await?;
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

    /// Decides a call and records it (run history, limits, audit log). Executes nothing.
    pub async fn evaluate(&self, call: Call) -> Result<Decided, EngineError> {
        Ok(self.decide_and_record(call, None).await?.decided)
    }

    /// Decides and records a call; when executing through `connector` and the call may go
    /// ahead, its effect is recorded as `pending` with it, and its id returned.
    async fn decide_and_record(
        &self,
        mut call: Call,
        connector: Option<&dyn Connector>,
    ) -> Result<Recorded, EngineError> {
        let executing = connector.is_some();
        let started = Instant::now();
        // Hashed once: the effect, the grant lookups and the record all name it.
        let digest = call.digest();
        // When the call arrived, before it queued for its run: a grant of the same call
        // spent at or after this moment was spent by a concurrent retry of it, which this
        // call then does not repeat (and for which it asks nobody again).
        let arrival = self.clock.now();
        // `[runs]`: a run due for expiry is expired before this call is decided on it.
        self.expire_if_due(&call.run).await?;
        let run_guard = self.run_lock(&call.run).lock().await;
        let policy = self.policy();
        // A connector that acts on a filesystem this process sees: the call's paths are
        // resolved there, where it will act. What the client sent is replaced, never
        // merged: it describes another filesystem, or nothing real. A few `lstat`s per
        // string argument, cheap enough for the async thread (as in the MCP gateway).
        if let Some(cwd) = connector.and_then(|c| c.local_fs_cwd(&call)) {
            call.paths =
                crate::fs_paths::resolve_call(Some(&*policy), &call.action, &call.args, &cwd);
        }
        // A nonce is spent once per agent, whatever becomes of the call.
        let nonce_reused = match &call.nonce {
            Some(nonce) => !self.store.use_nonce(&call.agent, nonce, self.clock.now()).await?,
            None => false,
        };
        let mut refused: Option<Reason> = None;
        let mut standing: Option<Reason> = None;
        let mut attempt = 0;
        let mut cached = self.runs.take(&call.run, &policy.revision);
        // Set when the call's id turns out to be an executed call's, with the same digest.
        let mut replay_effect: Option<String> = None;
        // Cleared when an evaluation's id is an executed call's with the same arguments
        // (recording another decision of the same call is harmless).
        let mut check_call_id = true;
        let (verdict, effect, history, approval_id, audit_seq, new_request, tier) = loop {
            attempt += 1;
            if attempt > MAX_ATTEMPTS {
                return Err(EngineError::Contention(call.run.clone()));
            }
            if attempt > 1 {
                backoff(attempt, &call).await;
            }
            let run = match cached.take() {
                Some(run) => run,
                None => self.read_run(&policy, &call.run).await?,
            };
            // INVARIANT: a run holds the calls of the agent that opened it only. Checked on
            // the snapshot whose version the commit below requires, so a run that another
            // agent opens meanwhile makes the commit conflict and this check run again.
            if let Some(owner) = run.snapshot.agent.as_deref().filter(|owner| *owner != call.agent)
            {
                return Err(EngineError::Identity(format!(
                    "run `{}` belongs to agent `{owner}`, not `{}`",
                    call.run, call.agent
                )));
            }
            let now = self.clock.now();
            let mut verdict = decide(&policy, &call, &run.state, now);
            if nonce_reused {
                tighten(
                    &mut verdict,
                    Stage::Replay,
                    Cow::Borrowed("replay.nonce"),
                    "the nonce was already used",
                );
            }
            if let Some(reason) = &refused {
                tighten(&mut verdict, reason.stage, reason.rule.clone(), &reason.message);
            }
            // The tier the policy requires, where the connector can run it; or a block,
            // before any human is asked to approve what could not run here.
            let tier = match connector {
                Some(connector) => place(connector, &call, &mut verdict).await,
                None => None,
            };
            if replay_effect.is_some() {
                // A retry of an executed call under its own id: recorded, never run again.
                verdict.replay_of = Some(call.id.clone());
                verdict.reasons.push(Reason {
                    stage: Stage::Replay,
                    rule: Cow::Borrowed("replay.call_id"),
                    decision: Decision::Allow,
                    field: None,
                    message: format!(
                        "call `{}` was already executed with these arguments: its effect is \
                         returned and nothing runs again",
                        call.id
                    ),
                });
            }
            // Step 10: a human's grant for exactly this call lets it through.
            let found = if executing && replay_effect.is_none() {
                self.apply_grant(&mut verdict, &digest, arrival, now).await?
            } else {
                GrantFound::None
            };
            let grant = match &found {
                GrantFound::Usable(grant) => Some(grant.clone()),
                _ => None,
            };
            // Or an approver's standing grant covers it: one use is counted per call, however
            // often a conflicting commit below makes this loop decide again.
            if executing && grant.is_none() && replay_effect.is_none() {
                match &standing {
                    Some(reason) => lift(&mut verdict, reason),
                    None => standing = self.apply_standing_grant(&mut verdict, &call, now).await?,
                }
            }
            let admission =
                if verdict.enforced_decision() == Decision::Allow && verdict.replay_of.is_none() {
                    self.admission(&policy, &call, now)
                } else {
                    Vec::new()
                };
            let goes_ahead = verdict.enforced_decision() == Decision::Allow
                && verdict.replay_of.is_none()
                && verdict.mode != Mode::DryRun;
            let effect = (executing && goes_ahead).then(|| NewEffect {
                id: new_id(),
                run: call.run.clone(),
                call_id: call.id.clone(),
                agent: call.agent.clone(),
                action: call.action.clone(),
                idempotency_key: call.idempotency_key.clone(),
                call_digest: digest.clone(),
                node: self.config.node.clone(),
                created: now,
                // INVARIANT: a grant is spent by this commit, with the allow decision; so
                // nothing is left to spend, and the call goes to its connector right after.
                dispatched: true,
            });
            // The request this call waits on: its grant's, a pending one of the same call
            // (a retry while a human has not answered yet asks nobody again), or a new one.
            let mut new_request = false;
            let approval_id = match &found {
                GrantFound::Usable(grant) => grant.approval_id.clone(),
                // A concurrent retry spent this call's grant: no new request.
                GrantFound::Used(approval) => approval.clone(),
                GrantFound::None
                    if executing
                        && replay_effect.is_none()
                        && verdict.mode == Mode::Enforce
                        && verdict.decision == Decision::RequireApproval =>
                {
                    // A pending request of the same call, a recent rejection of it (the
                    // verdict becomes a block), or a new request.
                    let (id, new) =
                        self.approval_for(&digest, &call.action, &mut verdict, now).await?;
                    new_request = new;
                    Some(id)
                }
                GrantFound::None => None,
            };
            // The decision record goes with the run event: one durable commit per call.
            let mut record =
                self.decision_record(&call, &digest, &verdict, approval_id.as_deref(), started);
            // Decision records name the tier the call is to run in.
            record.sandbox_id = tier.map(|t| t.as_str().to_owned());
            let event = RunEvent::call(&call, &verdict);
            let commit = RunCommit {
                run: call.run.clone(),
                agent: call.agent.clone(),
                expected_version: run.snapshot.version,
                event: event.clone(),
                admission: admission.clone(),
                effect: effect.clone(),
                audit: Some(record),
                grant: grant.as_ref().map(|grant| GrantUse {
                    id: grant.id.clone(),
                    digest: digest.clone(),
                    revision: verdict.policy_revision.clone(),
                    at: now,
                }),
                call_id: check_call_id
                    .then(|| CallIdCheck { call_id: call.id.clone(), digest: digest.clone() }),
            };
            match self.store.commit_run_event(commit).await? {
                Committed::Done { audit_seq, .. } => {
                    let audit_seq = audit_seq.ok_or_else(|| {
                        StoreError::Corrupt("the store did not append the decision record".into())
                    })?;
                    // The approval request shows the run as it was when the call came.
                    let history =
                        if new_request { run.snapshot.events.clone() } else { Vec::new() };
                    self.keep_run(&policy, &call.run, &call.agent, run, event);
                    break (verdict, effect, history, approval_id, audit_seq, new_request, tier);
                }
                // Another instance moved the run on: read it again.
                Committed::Conflict => continue,
                Committed::Refused { index, retry_after_ms } => {
                    // Nothing was written: the run is as it was.
                    refused = Some(limit_reason(admission.get(index), retry_after_ms));
                    cached = Some(run);
                }
                // Another call spent the grant first (nothing was written): decide again;
                // the grant was then spent after this call arrived.
                Committed::GrantRefused(_) => cached = Some(run),
                Committed::CallIdTaken { effect_id, digest: taken } => {
                    if taken != digest {
                        return Err(EngineError::CallIdConflict {
                            run: call.run.clone(),
                            call_id: call.id.clone(),
                        });
                    }
                    if executing {
                        replay_effect = Some(effect_id);
                    }
                    check_call_id = false;
                    cached = Some(run);
                }
            }
        };
        drop(run_guard);
        // Runs this commit pushed past the `[runs]` bounds are expired now, not at the
        // next sweep; the call stands whatever becomes of that.
        self.sweep_after_commit().await;
        // After the decision record: a request never exists without its decision.
        if new_request && let Some(id) = &approval_id {
            self.request_approval(id.clone(), &call, &verdict, &history).await?;
        }
        // No request stays pending for a call that a grant let through.
        self.after_lifted(&verdict, &digest, approval_id.as_deref()).await?;
        crate::observe::decided(
            self.observer(),
            &DecisionSeen {
                call: &call,
                verdict: &verdict,
                approval_id: approval_id.as_deref(),
                latency: started.elapsed(),
                executing,
            },
        );
        let decided = Decided { call, verdict, audit_seq, approval_id };
        Ok(Recorded { decided, effect, tier, replay_effect })
    }

    /// Reads `run` from the store and rebuilds its state under `policy`.
    async fn read_run(&self, policy: &Policy, run: &str) -> Result<CachedRun, EngineError> {
        let snapshot = self.store.load_run(run).await?;
        let state = rebuild(policy, run, &snapshot.events).map_err(StoreError::Corrupt)?;
        Ok(CachedRun { revision: policy.revision.clone(), snapshot, state })
    }

    /// Caches `cached` with `event`, which was just committed on top of it.
    fn keep_run(
        &self,
        policy: &Policy,
        run: &str,
        agent: &str,
        mut cached: CachedRun,
        event: RunEvent,
    ) {
        let version = cached.snapshot.version.saturating_add(1);
        match cached.push(policy, agent, event) {
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

    /// The audit record of `call` decided as `verdict`; its latency is the time to decide.
    fn decision_record(
        &self,
        call: &Call,
        digest: &CallDigest,
        verdict: &Verdict,
        approval_id: Option<&str>,
        started: Instant,
    ) -> AuditRecord {
        let mut record = self.record(RecordKind::Decision, &call.agent, &call.run);
        record.approval_id = approval_id.map(str::to_owned);
        record.call_id.clone_from(&call.id);
        record.action.clone_from(&call.action);
        record.call_digest = digest.clone();
        record.input = call.args.clone();
        self.redact(&mut record.input);
        record.policy_revision = verdict.policy_revision.clone();
        record.mode = Some(verdict.mode);
        record.decision = Some(verdict.decision);
        record.risk_score = verdict.risk.score;
        record.reasons.clone_from(&verdict.reasons);
        record.latency_ms = elapsed_ms(started);
        record
    }

    pub(crate) fn run_lock(&self, run: &str) -> &tokio::sync::Mutex<()> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(run);
        let index = usize::try_from(hash % RUN_LOCKS as u64).unwrap_or(0);
        // `index < RUN_LOCKS == run_locks.len()`.
        &self.run_locks[index]
    }

    /// Decides, records, and when the call is allowed executes it through `connector`
    /// with the effect ledger around the dispatch. A repeated idempotency key returns the
    /// first execution's effect and executes nothing.
    pub async fn execute(
        &self,
        call: Call,
        connector: &dyn Connector,
    ) -> Result<Executed, EngineError> {
        let Recorded { decided, effect, tier, replay_effect } =
            self.decide_and_record(call, Some(connector)).await?;
        let call = &decided.call;
        if let Some(id) = &replay_effect {
            let effect = self.settled_effect(id).await?;
            return Ok(Executed { decided, effect, replayed: true });
        }
        if let (Some(_), Some(key)) = (&decided.verdict.replay_of, &call.idempotency_key) {
            let effect = self.first_outcome(&call.run, key).await?;
            return Ok(Executed { decided, effect, replayed: true });
        }
        let Some(new_effect) = effect else {
            // Blocked, pending approval, or a dry run: nothing to execute.
            return Ok(Executed { decided, effect: None, replayed: false });
        };
        let effect_id = new_effect.id.clone();
        let started = Instant::now();
        let mut ran_in = None;
        // Recorded as dispatched with the decision (and its grant spent there).
        let run = async {
            match tier {
                Some(tier) => connector.execute_in(call, &effect_id, tier).await,
                None => {
                    Sandboxed { outcome: connector.execute(call, &effect_id).await, ran_in: None }
                }
            }
        };
        let outcome = match tokio::time::timeout(self.config.call_timeout, run).await {
            Ok(done) => {
                ran_in = done.ran_in;
                done.outcome
            }
            Err(_) => ConnectorOutcome::Unknown {
                error: format!("timed out after {:?}", self.config.call_timeout),
            },
        };
        let timed_out = matches!(&outcome, ConnectorOutcome::Unknown { error } if error.starts_with("timed out"));
        let (state, result, error, rollback_token, audit_outcome) = match outcome {
            ConnectorOutcome::Succeeded { result, rollback_token } => {
                (EffectState::Succeeded, result, None, rollback_token, Outcome::Succeeded)
            }
            ConnectorOutcome::Failed { error } => {
                (EffectState::Failed, Value::Null, Some(error), None, Outcome::Failed)
            }
            ConnectorOutcome::Unknown { error } => {
                let outcome = if timed_out { Outcome::TimedOut } else { Outcome::OutcomeUnknown };
                (EffectState::OutcomeUnknown, Value::Null, Some(error), None, outcome)
            }
        };
        let mut redacted = result.clone();
        self.redact(&mut redacted);
        let end = EffectEnd {
            state,
            result: redacted.clone(),
            error: error.clone(),
            rollback_token: rollback_token.clone(),
            at: self.clock.now(),
        };
        let executed = state != EffectState::Failed;
        let mut events = vec![RunEvent::Outcome { id: call.id.clone(), executed }];
        if state == EffectState::Succeeded && !connector.reports_result() {
            // The output feeds provenance like any tool result. A client that runs the
            // call itself reports its output later (`report_result`).
            events.push(RunEvent::Result { id: call.id.clone(), output: result });
        }
        let mut record = self.record(RecordKind::Outcome, &call.agent, &call.run);
        record.call_id.clone_from(&call.id);
        record.action.clone_from(&call.action);
        record.call_digest = call.digest();
        record.policy_revision = decided.verdict.policy_revision.clone();
        record.outcome = Some(audit_outcome);
        record.output = match &error {
            Some(error) => json!({ "error": error }),
            None => redacted,
        };
        record.effect_id = Some(effect_id.clone());
        // Outcome records name the tier the call actually ran in.
        record.sandbox_id = ran_in.map(|t| t.as_str().to_owned());
        record.rollback_token = rollback_token;
        record.latency_ms = elapsed_ms(started);
        let end = CallEnd {
            run: call.run.clone(),
            agent: call.agent.clone(),
            events,
            effect_id: effect_id.clone(),
            end,
            slot_holder: slot_holder(&call.run, &call.id),
            audit: record,
        };
        // The ledger's entry as just written: no read back.
        let effect = Effect {
            id: effect_id,
            run: new_effect.run,
            call_id: new_effect.call_id,
            agent: new_effect.agent,
            action: new_effect.action,
            idempotency_key: new_effect.idempotency_key,
            call_digest: new_effect.call_digest,
            node: new_effect.node,
            state: end.end.state,
            result: end.end.result.clone(),
            error: end.end.error.clone(),
            rollback_token: end.end.rollback_token.clone(),
            created: new_effect.created,
            updated: end.end.at,
        };
        self.finish_call(end).await?;
        Ok(Executed { decided, effect: Some(effect), replayed: false })
    }

    /// The effect of the first call with an idempotency key. When that call is still
    /// executing (here or on another instance), waits up to the call timeout for its
    /// outcome, and otherwise returns it as it stands (`pending` or `dispatched`).
    async fn first_outcome(&self, run: &str, key: &str) -> Result<Option<Effect>, EngineError> {
        let deadline = Instant::now() + self.config.call_timeout;
        loop {
            let effect = self.store.effect_by_key(run, key).await?;
            match &effect {
                Some(e) if !e.state.is_final() && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                _ => return Ok(effect),
            }
        }
    }

    /// Effect `id` once it has ended (waiting up to the call timeout while it runs, here
    /// or on another instance), or as it stands then.
    async fn settled_effect(&self, id: &str) -> Result<Option<Effect>, EngineError> {
        let deadline = Instant::now() + self.config.call_timeout;
        loop {
            let effect = self.store.effect(id).await?;
            match &effect {
                Some(e) if !e.state.is_final() && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                _ => return Ok(effect),
            }
        }
    }

    /// The limits an allowed call must pass: the agent's and the action's.
    fn admission(&self, policy: &Policy, call: &Call, now: Timestamp) -> Vec<Admission> {
        let agent =
            policy.agents.get(&call.agent).map(|m| (format!("agent:{}", call.agent), m.limits));
        let action =
            policy.actions.get(&call.action).map(|a| (format!("action:{}", call.action), a.limits));
        let lease = u64::try_from(self.config.slot_lease.as_millis()).unwrap_or(u64::MAX);
        let mut out = Vec::new();
        for (key, limits) in agent.into_iter().chain(action) {
            if let Some(limit) = limits.rate {
                out.push(Admission::Rate { key: key.clone(), limit, now });
            }
            if let Some(limit) = limits.concurrency {
                out.push(Admission::Slot {
                    key,
                    limit,
                    holder: slot_holder(&call.run, &call.id),
                    now,
                    expires: Timestamp(now.0.saturating_add(lease)),
                });
            }
        }
        out
    }

    /// Writes the end of an executed call after the run's last event.
    async fn finish_call(&self, end: CallEnd) -> Result<(), EngineError> {
        let _run_guard = self.run_lock(&end.run).lock().await;
        let policy = self.policy();
        let cached = self.runs.take(&end.run, &policy.revision);
        let (run, agent, events) = (end.run.clone(), end.agent.clone(), end.events.clone());
        let version = self.store.finish_call(end).await?;
        self.expiry.touch(&run, &agent, self.clock.now().0, version, None);
        // Kept only if nothing else was appended meanwhile (by another instance): otherwise
        // the next call reads the run again.
        let count = u64::try_from(events.len()).unwrap_or(u64::MAX);
        if let Some(mut known) = cached
            && known.snapshot.version.saturating_add(count) == version
        {
            match events.into_iter().try_for_each(|event| known.push(&policy, &agent, event)) {
                Ok(()) => self.runs.put(&run, known),
                Err(error) => tracing::warn!(run, %error, "run not cached"),
            }
        }
        Ok(())
    }

    /// Appends an event that does not depend on the run's state (retrying on conflicts).
    async fn append_run_event(
        &self,
        run: &str,
        agent: &str,
        event: RunEvent,
    ) -> Result<(), EngineError> {
        self.expire_if_due(run).await?;
        let _run_guard = self.run_lock(run).lock().await;
        let policy = self.policy();
        let mut cached = self.runs.take(run, &policy.revision);
        for attempt in 1..=MAX_ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(Duration::from_micros(u64::from(attempt) * 500)).await;
            }
            // A cached run gives the version; otherwise only the version is read (no
            // rebuild: nothing here is decided).
            let version = match &cached {
                Some(known) => known.snapshot.version,
                None => self.store.load_run(run).await?.version,
            };
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
            };
            if let Committed::Done { .. } = self.store.commit_run_event(commit).await? {
                match cached {
                    Some(known) => self.keep_run(&policy, run, agent, known, event),
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

    pub(crate) fn redact(&self, value: &mut Value) {
        let found = aecl_audit::redact(value, &self.config.redact);
        if found.count > 0 {
            tracing::debug!(kinds = ?found.kinds, count = found.count, "redacted audit payload");
        }
    }
}

/// Waits before deciding again after losing a race for a run to another instance: a
/// growing, jittered pause so that instances stop colliding.
async fn backoff(attempt: u32, call: &Call) {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let ceiling = 1u64 << attempt.min(6); // up to 64 ms
    let jitter = BuildHasherDefault::<DefaultHasher>::default().hash_one((
        &call.id,
        attempt,
        Instant::now(),
    ));
    tokio::time::sleep(Duration::from_micros(jitter % (ceiling * 1000))).await;
}

/// Who holds a call's concurrency slots.
fn slot_holder(run: &str, call_id: &str) -> String {
    format!("{run}/{call_id}")
}

/// What `decide_and_record` decided and wrote.
struct Recorded {
    decided: Decided,
    /// The effect recorded with the decision, when the call is to be executed.
    effect: Option<NewEffect>,
    /// The sandbox tier the call runs in, when the policy requires one.
    tier: Option<SandboxTier>,
    /// The effect of the executed call whose id (and arguments) this call repeats.
    replay_effect: Option<String>,
}

/// Asks `connector` which sandbox tier it would run the call in. When the verdict requires
/// a tier, a connector that cannot run the call there blocks it with its reason; without a
/// requirement, a connector that runs calls in no sandbox executes it as it is.
async fn place(
    connector: &dyn Connector,
    call: &Call,
    verdict: &mut Verdict,
) -> Option<SandboxTier> {
    if verdict.decision == Decision::Block {
        return None;
    }
    let Some(required) = verdict.sandbox.as_ref().map(|s| s.tier) else {
        return connector.placement(call, SandboxTier::Process).await.ok();
    };
    match connector.placement(call, required).await {
        Ok(tier) if tier >= required => Some(tier),
        Ok(tier) => {
            let message = format!(
                "the policy requires the `{required}` sandbox tier and the connector offered \
                 only `{tier}`"
            );
            tighten(verdict, Stage::Sandbox, Cow::Borrowed("sandbox.tier_unavailable"), &message);
            None
        }
        Err(why) => {
            let message = format!("`{}` cannot run in the `{required}` tier: {why}", call.action);
            tighten(verdict, Stage::Sandbox, Cow::Borrowed("sandbox.tier_unavailable"), &message);
            None
        }
    }
}

/// Makes a verdict a block for a reason found outside `decide`.
fn tighten(verdict: &mut Verdict, stage: Stage, rule: Cow<'static, str>, message: &str) {
    verdict.decision = Decision::Block;
    verdict.reasons.push(Reason {
        stage,
        rule,
        decision: Decision::Block,
        field: None,
        message: message.to_owned(),
    });
}

fn limit_reason(admission: Option<&Admission>, retry_after_ms: Option<u64>) -> Reason {
    let (rule, message) = match admission {
        Some(Admission::Rate { key, limit, .. }) => (
            "limits.rate",
            format!(
                "rate limit of {key}: {} calls per {} ms reached; retry after {} ms",
                limit.count,
                limit.per_ms,
                retry_after_ms.unwrap_or(0)
            ),
        ),
        Some(Admission::Slot { key, limit, .. }) => (
            "limits.concurrency",
            format!("concurrency limit of {key}: {limit} calls already executing"),
        ),
        None => ("limits", "a limit refused the call".to_owned()),
    };
    Reason {
        stage: Stage::Budget,
        rule: Cow::Borrowed(rule),
        decision: Decision::Block,
        field: None,
        message,
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A new unique id: a UUID v7, which sorts by creation time.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
