//! Events a client reports into a run after the fact: the user's words, the output of a
//! call the client executed itself, and a call that ran without aecl deciding it
//! (`unguarded`). Front ends: `POST /v1/runs/{run}/events` and the agents' post-tool
//! hooks.
//!
//! A reported output feeds provenance with the catalog trust of the call's action, so it
//! is a way to make values trusted: a result is taken only for a call the engine allowed
//! in that run and handed over to the client (decided by evaluate, or executed with the
//! client as executor), once. Everything is checked and committed under the run's lock at
//! the run's version, so two reports of one call cannot both land.

use std::time::Duration;

use aecl_audit::{AuditRecord, RecordKind};
use aecl_core::{Decision, Mode};
use serde_json::{Value, json};

use super::{Engine, slot_holder};
use crate::error::{EngineError, StoreError};
use crate::run_cache::CachedRun;
use crate::run_event::RunEvent;
use crate::store::{Committed, Durability, EffectState, RunCommit, Store};

/// What the effect ledger holds for a call the client runs itself (`Aecl-Executor:
/// client`): the hand-over, never an output.
pub fn client_hand_over() -> Value {
    json!({ "executed_by": "client" })
}

/// Whether an effect's `result` is [`client_hand_over`]'s.
pub(crate) fn is_client_hand_over(result: &Value) -> bool {
    *result == client_hand_over()
}

/// Why a reported event was not recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportRefused {
    /// The run belongs to another agent.
    #[error("run `{run}` belongs to another agent")]
    WrongAgent { run: String },
    /// No call of that id that the engine allowed and handed over in the run.
    #[error("{0}")]
    UnknownCall(String),
    /// The call's result is already recorded.
    #[error("the result of call `{call}` is already recorded")]
    DuplicateResult { call: String },
}

/// Who reports a result, which decides what happens to a call aecl did not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reporter {
    /// A client of the API: an unknown or refused call is refused.
    Client,
    /// An agent's post-tool hook: the tool has run whatever aecl says, so a call it never
    /// allowed is recorded as `unguarded`; one that waited for approval (`ask`) and ran was
    /// approved by the agent's user in the client (Claude Code, whose hook answers `ask`).
    Hook,
    /// The post-tool hook of an agent whose hook cannot ask (Codex, Gemini CLI): a call
    /// that needed approval was denied to it, so if it ran, it ran unguarded.
    HookWithoutAsk,
    /// A post-tool hook whose input was not valid JSON (`aecl_policy::hook`'s lenient
    /// reading): the whole text is the output, recorded as untrusted like an unguarded
    /// call's, whatever the action's output rules say.
    HookUnreadable,
}

/// A recorded report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reported {
    /// The result of an allowed call (`approved_in_client`: it needed approval and the
    /// agent's user gave it in the client, recorded before the result).
    Result { audit_seq: u64, action: String, approved_in_client: bool },
    /// A call that ran without aecl's allow (never decided, or refused): its output is
    /// recorded as untrusted, with an audit record saying why.
    Unguarded { audit_seq: u64, action: String, reason: String },
}

/// How a result report relates to the run.
enum Standing {
    Allowed { action: String, approved_in_client: bool },
    Unguarded { action: String, reason: String },
}

impl<S: Store> Engine<S> {
    /// Records the user's words in `run` for `agent`, refused when the run is another
    /// agent's. Returns the audit record's sequence number.
    pub async fn report_user(
        &self,
        run: &str,
        agent: &str,
        text: &str,
    ) -> Result<Result<u64, ReportRefused>, EngineError> {
        if let Some(why) = crate::origin::reserved(run) {
            return Err(EngineError::ReservedId(why));
        }
        let mut record = self.record(RecordKind::User, agent, run);
        record.input = json!({ "text": text });
        self.redact(&mut record.input);
        let event = RunEvent::User { text: crate::engine::redacted_text(&record.input) };
        self.commit_report(run, agent, |_| Ok(vec![record.clone()]), event).await
    }

    /// Records that `run` ended (an agent's `SessionEnd`): an audit record of kind `run`
    /// with `input.ended`, and the run's cached state is dropped. Refused when the run is
    /// another agent's.
    pub async fn end_run(
        &self,
        run: &str,
        agent: &str,
        reason: &str,
    ) -> Result<Result<u64, ReportRefused>, EngineError> {
        if let Some(why) = crate::origin::reserved(run) {
            return Err(EngineError::ReservedId(why));
        }
        let _run_guard = self.lock_run(run).await;
        let snapshot = self.store().load_run(run).await?;
        if self.policy().other_owner_of_run(run, snapshot.agent.as_deref(), agent).is_some() {
            return Ok(Err(ReportRefused::WrongAgent { run: run.to_owned() }));
        }
        let mut record = self.record(RecordKind::Run, agent, run);
        record.input = json!({ "ended": true, "reason": reason });
        self.redact(&mut record.input);
        let seq = self.store().append_audit(record).await?;
        drop(self.runs.take(run, &self.policy().revision));
        self.expiry().forget(run);
        Ok(Ok(seq))
    }

    /// Records the output of call `call_id` of `run`, reported by `reporter`.
    /// `action_hint` names the action of a call aecl never saw (a hook knows the tool).
    pub async fn report_result(
        &self,
        run: &str,
        agent: &str,
        call_id: &str,
        output: Value,
        reporter: Reporter,
        action_hint: Option<&str>,
    ) -> Result<Result<Reported, ReportRefused>, EngineError> {
        if let Some(why) = [run, call_id].into_iter().find_map(crate::origin::reserved) {
            return Err(EngineError::ReservedId(why));
        }
        let effects = self.store().run_effects(run).await?;
        let effect = effects.into_iter().rev().find(|e| e.call_id == call_id);
        let mut redacted = output.clone();
        self.redact(&mut redacted);
        let mut found = None;
        let check = |cached: &CachedRun| {
            let standing = standing_of(cached, call_id, effect.as_ref(), reporter, action_hint)?;
            let records = self.result_records(run, agent, call_id, &redacted, &standing);
            found = Some(standing);
            Ok(records)
        };
        let event =
            RunEvent::Result { id: call_id.to_owned(), output: redacted.clone(), untrusted: false };
        let seq = match self.commit_report(run, agent, check, event).await? {
            Ok(seq) => seq,
            Err(refused) => return Ok(Err(refused)),
        };
        self.store().release_slots(&slot_holder(run, call_id)).await?;
        Ok(Ok(match found {
            Some(Standing::Unguarded { action, reason }) => {
                if let Some(notifier) = self.notifier() {
                    notifier.unguarded_call(run, agent, call_id, &action, &reason);
                }
                Reported::Unguarded { audit_seq: seq, action, reason }
            }
            Some(Standing::Allowed { action, approved_in_client }) => {
                Reported::Result { audit_seq: seq, action, approved_in_client }
            }
            // `commit_report` succeeds only after the check ran.
            None => return Err(EngineError::Contention(run.to_owned())),
        }))
    }

    /// The audit records of a reported result: the result itself (for an unguarded call,
    /// `input` says so and why), then an `approved_in_client` approval record when the call
    /// waited for approval.
    fn result_records(
        &self,
        run: &str,
        agent: &str,
        call_id: &str,
        output: &Value,
        standing: &Standing,
    ) -> Vec<AuditRecord> {
        let mut result = self.record(RecordKind::Result, agent, run);
        result.call_id = call_id.to_owned();
        result.output = output.clone();
        let mut records = Vec::new();
        match standing {
            Standing::Allowed { action, approved_in_client } => {
                result.action.clone_from(action);
                records.push(result);
                if *approved_in_client {
                    let mut approval = self.record(RecordKind::Approval, agent, run);
                    approval.call_id = call_id.to_owned();
                    approval.action.clone_from(action);
                    approval.input = json!({
                        "status": "approved_in_client",
                        "by": format!("the user of agent `{agent}`, in the agent's client"),
                        "reason": "the call needed approval (`ask`) and ran: the agent's user \
                                   approved it when the agent asked",
                    });
                    records.push(approval);
                }
            }
            Standing::Unguarded { action, reason } => {
                result.action.clone_from(action);
                result.input = json!({ "unguarded": true, "reason": reason });
                records.push(result);
            }
        }
        records
    }

    /// Commits `event` to `run` when `check` passes on the run as stored; `check` returns
    /// the audit records: the first goes with the event (one commit), the others are
    /// appended right after it. Returns the first record's sequence number.
    async fn commit_report(
        &self,
        run: &str,
        agent: &str,
        mut check: impl FnMut(&CachedRun) -> Result<Vec<AuditRecord>, ReportRefused>,
        event: RunEvent,
    ) -> Result<Result<u64, ReportRefused>, EngineError> {
        self.expire_if_due(run).await?;
        let _run_guard = self.lock_run(run).await;
        let policy = self.policy();
        let mut cached = self.runs.take(run, &policy.revision);
        for attempt in 1..=super::MAX_ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(Duration::from_micros(u64::from(attempt) * 500)).await;
            }
            let known = match cached.take() {
                Some(known) => known,
                None => self.read_run(&policy, run).await?,
            };
            // INVARIANT: a run holds the events of one agent only (`stage::load_run`).
            if policy.other_owner_of_run(run, known.snapshot.agent.as_deref(), agent).is_some() {
                return Ok(Err(ReportRefused::WrongAgent { run: run.to_owned() }));
            }
            let mut records = match check(&known) {
                Ok(records) => records.into_iter(),
                Err(refused) => {
                    self.runs.put(run, known);
                    return Ok(Err(refused));
                }
            };
            let commit = RunCommit {
                run: run.to_owned(),
                agent: agent.to_owned(),
                expected_version: known.snapshot.version,
                event: event.clone(),
                admission: Vec::new(),
                effect: None,
                audit: records.next(),
                grant: None,
                call_id: None,
                durability: Durability::Synced,
                end: None,
            };
            // Another instance moved the run on: check again on what it wrote.
            let Committed::Done { audit_seq, .. } = self.store().commit_run_event(commit).await?
            else {
                continue;
            };
            self.keep_run(&policy, run, agent, known, [event].into_iter());
            for record in records {
                self.store().append_audit(record).await?;
            }
            let seq = audit_seq.ok_or_else(|| {
                StoreError::Corrupt("the store did not append the event's record".into())
            })?;
            return Ok(Ok(seq));
        }
        Err(EngineError::Contention(run.to_owned()))
    }
}

/// Whether a result for `call_id` may be recorded in the run, and as what.
fn standing_of(
    cached: &CachedRun,
    call_id: &str,
    effect: Option<&crate::store::Effect>,
    reporter: Reporter,
    action_hint: Option<&str>,
) -> Result<Standing, ReportRefused> {
    let events = &cached.snapshot.events;
    if events.iter().any(|e| matches!(e, RunEvent::Result { id, .. } if id == call_id)) {
        return Err(ReportRefused::DuplicateResult { call: call_id.to_owned() });
    }
    // The last decision of that id counts: a call that waited for approval and was
    // retried under its id after the grant was decided again.
    let decided = events.iter().rev().find_map(|e| match e {
        RunEvent::Call { call, decision, mode, replay_of } if call.id == call_id => {
            Some((call.action.clone(), decision.as_str(), mode.as_str(), replay_of.is_some()))
        }
        _ => None,
    });
    let refuse = |why: String| match reporter {
        Reporter::Client => Err(ReportRefused::UnknownCall(why)),
        Reporter::Hook | Reporter::HookWithoutAsk | Reporter::HookUnreadable => {
            Ok(Standing::Unguarded {
                action: decided
                    .as_ref()
                    .map(|(action, ..)| action.clone())
                    .or_else(|| action_hint.map(str::to_owned))
                    .unwrap_or_default(),
                reason: why,
            })
        }
    };
    if reporter == Reporter::HookUnreadable {
        return refuse(
            "the hook's input was not valid JSON: all of it is recorded as untrusted".to_owned(),
        );
    }
    let Some((action, decision, mode, replayed)) = decided.clone() else {
        return refuse(format!("aecl never decided a call `{call_id}` in this run"));
    };
    let (Some(decision), Some(mode)) = (Decision::parse(decision), Mode::parse(mode)) else {
        return refuse(format!("call `{call_id}` has a decision this version cannot read"));
    };
    if replayed {
        return refuse(format!("call `{call_id}` was a replay of an earlier call: nothing ran"));
    }
    // Executed through the engine: only a hand-over to the client takes a result; a
    // connector's output was recorded by the engine itself.
    if let Some(effect) = effect {
        return if effect.state == EffectState::Succeeded && effect.result == client_hand_over() {
            Ok(Standing::Allowed { action, approved_in_client: false })
        } else if effect.state == EffectState::Succeeded {
            Err(ReportRefused::DuplicateResult { call: call_id.to_owned() })
        } else {
            refuse(format!(
                "call `{call_id}` was executed by aecl's connector ({}): its outcome is aecl's \
                 to record",
                effect.state.as_str()
            ))
        };
    }
    let enforced = if mode == Mode::Monitor { Decision::Allow } else { decision };
    match (enforced, mode, reporter) {
        (_, Mode::DryRun, _) => {
            refuse(format!("call `{call_id}` was decided in dry-run mode: it was not handed over"))
        }
        (Decision::Allow, _, _) => Ok(Standing::Allowed { action, approved_in_client: false }),
        (Decision::RequireApproval, _, Reporter::Hook) => {
            Ok(Standing::Allowed { action, approved_in_client: true })
        }
        (Decision::RequireApproval, _, Reporter::HookWithoutAsk) => refuse(format!(
            "call `{call_id}` needed approval, which this agent's hook cannot ask: aecl \
             denied it, and it ran"
        )),
        (decision, _, _) => refuse(format!(
            "call `{call_id}` was decided `{}`: aecl did not allow it",
            decision.as_str()
        )),
    }
}
