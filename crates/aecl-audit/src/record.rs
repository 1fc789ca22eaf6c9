//! The audit record and its canonical bytes: the exact bytes that are hash-chained, become
//! Merkle leaves and are stored.
//!
//! # Canonical form
//!
//! A record's canonical bytes are canonical JSON (as `aecl_core::canonical::canonical_json`
//! prints it): one object, no white space, keys sorted by their bytes, every field present
//! (`null` when absent), strings escaped as serde_json escapes them. Fields, in order:
//!
//! | key | JSON | meaning |
//! |---|---|---|
//! | `action` | string | the action (tool) name |
//! | `agent` | string | the agent id |
//! | `approval_id` | string or null | the approval request that gated the call |
//! | `call_digest` | string | hex SHA-256 of the call's canonical agent, run, action, args |
//! | `call_id` | string | the caller's id for the call, unique within the run |
//! | `decision` | `"allow"`, `"require_approval"`, `"block"` or null | the verdict |
//! | `effect_id` | string or null | the effect-ledger entry of the execution |
//! | `event_id` | string | unique id of this record |
//! | `input` | any JSON | the call's arguments, already redacted |
//! | `kind` | `"decision"`, `"outcome"`, `"run"`, `"user"`, `"result"`, `"refusal"` or `"approval"` | what the record is |
//! | `latency_ms` | integer | how long the step took |
//! | `mode` | `"enforce"`, `"monitor"`, `"dry-run"` or null | how the verdict was applied |
//! | `outcome` | see [`Outcome`], or null | how the execution ended |
//! | `output` | any JSON | the tool's result, redacted (or null) |
//! | `policy_revision` | string | the revision of the policy that decided |
//! | `reasons` | array of objects | the verdict's reasons: `decision`, `field` (string or null), `message`, `rule`, `stage` |
//! | `risk_score` | number | the risk score, printed as serde_json prints an `f64` (`0.0`, `0.35`) |
//! | `rollback_token` | string or null | how to undo the effect |
//! | `run` | string | the run id |
//! | `sandbox_id` | string or null | the sandbox that executed the call |
//! | `seq` | integer | the record's position in the log, from 0, contiguous |
//! | `time_ms` | integer | milliseconds since the Unix epoch |
//!
//! `input` and `output` nest at most 126 levels of arrays and objects (the record itself is
//! one more, and serde_json reads 128): a container deeper than that is recorded as a
//! string, `[too deep for the audit record] ` and its canonical JSON ([`bounded`]).
//!
//! Decoding ([`AuditRecord::from_canonical`]) parses the bytes, re-encodes what it parsed
//! and requires the two to be identical, so there is exactly one byte form per record: a
//! re-spelled record (white space, another key order, `1.0e0` for `1.0`, a needless escape)
//! is refused even though it means the same.

use std::borrow::Cow;
use std::fmt;

use aecl_core::canonical::canonical_json;
use aecl_core::policy::Revision;
use aecl_core::{CallDigest, Decision, Mode, Reason, Stage, Timestamp};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::canonical;
use crate::error::AuditError;

/// What a record is about. New kinds are added as variants (with a new spelling); records
/// of the existing kinds keep their bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// A verdict, written before anything executes (design.md §3 step 9).
    Decision,
    /// How an execution ended, with its receipt and rollback token (§3 step 12).
    Outcome,
    /// A run opened: `input` holds its declared `goal` and `scope`.
    Run,
    /// The user's own words in a run: `input` holds `text`. They make values trusted.
    User,
    /// A tool's output that the agent reported (hook and library front ends execute
    /// themselves): `output` holds it. They feed provenance.
    Result,
    /// A request the API refused before any decision (no valid token, wrong role, an
    /// agent speaking for another): `agent` is the token's subject when a valid token was
    /// shown, `input` holds `role`, `token_id` and `reason`. Never the token itself.
    Refusal,
    /// An answer to an approval request (approved, rejected, or expired unanswered):
    /// `approval_id` names the request, `input` holds `status`, `by` and `reason`.
    Approval,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Decision => "decision",
            RecordKind::Outcome => "outcome",
            RecordKind::Run => "run",
            RecordKind::User => "user",
            RecordKind::Result => "result",
            RecordKind::Refusal => "refusal",
            RecordKind::Approval => "approval",
        }
    }

    pub fn parse(s: &str) -> Option<RecordKind> {
        match s {
            "decision" => Some(RecordKind::Decision),
            "outcome" => Some(RecordKind::Outcome),
            "run" => Some(RecordKind::Run),
            "user" => Some(RecordKind::User),
            "result" => Some(RecordKind::Result),
            "refusal" => Some(RecordKind::Refusal),
            "approval" => Some(RecordKind::Approval),
            _ => None,
        }
    }
}

/// How an execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Succeeded,
    Failed,
    /// The process died between dispatch and the result: it may or may not have happened.
    OutcomeUnknown,
    /// The sandbox refused the operation.
    Denied,
    TimedOut,
    /// Dry-run mode: decided and simulated, nothing executed.
    Simulated,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::OutcomeUnknown => "outcome_unknown",
            Outcome::Denied => "denied",
            Outcome::TimedOut => "timed_out",
            Outcome::Simulated => "simulated",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "succeeded" => Some(Outcome::Succeeded),
            "failed" => Some(Outcome::Failed),
            "outcome_unknown" => Some(Outcome::OutcomeUnknown),
            "denied" => Some(Outcome::Denied),
            "timed_out" => Some(Outcome::TimedOut),
            "simulated" => Some(Outcome::Simulated),
            _ => None,
        }
    }
}

/// One entry of the audit log. See the module documentation for its canonical bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Position in the log, from 0, contiguous. Set by the appender.
    pub seq: u64,
    pub kind: RecordKind,
    pub event_id: String,
    pub time: Timestamp,
    pub agent: String,
    pub run: String,
    pub call_id: String,
    pub action: String,
    pub call_digest: CallDigest,
    /// The call's arguments, redacted before they get here.
    pub input: Value,
    pub policy_revision: Revision,
    pub mode: Option<Mode>,
    pub decision: Option<Decision>,
    pub risk_score: f64,
    pub reasons: Vec<Reason>,
    pub outcome: Option<Outcome>,
    /// The tool's result (redacted), `Null` when there is none.
    pub output: Value,
    pub latency_ms: u64,
    pub sandbox_id: Option<String>,
    pub approval_id: Option<String>,
    pub effect_id: Option<String>,
    pub rollback_token: Option<String>,
}

impl AuditRecord {
    /// The canonical bytes of this record.
    pub fn to_canonical(&self) -> Result<Vec<u8>, AuditError> {
        let mut out = Vec::with_capacity(512);
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// Appends the canonical bytes of this record to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), AuditError> {
        self.encode_numbered(self.seq, out)
    }

    /// Appends the canonical bytes of this record numbered `seq` to `out`.
    fn encode_numbered(&self, seq: u64, out: &mut Vec<u8>) -> Result<(), AuditError> {
        // Bounded to the depth a record holds: a value parsed on its own and wrapped
        // before it gets here could otherwise make the record impossible to write.
        let input = canonical_json(&bounded::bounded(&self.input));
        let output = canonical_json(&bounded::bounded(&self.output));
        let reasons: Vec<WireReason<'_>> = self
            .reasons
            .iter()
            .map(|r| WireReason {
                decision: Text(Cow::Borrowed(r.decision.as_str())),
                field: r.field.as_deref().map(Text::from),
                message: Text::from(r.message.as_str()),
                rule: Text::from(r.rule.as_ref()),
                stage: Text(Cow::Borrowed(r.stage.as_str())),
            })
            .collect();
        let wire = Wire {
            action: Text::from(self.action.as_str()),
            agent: Text::from(self.agent.as_str()),
            approval_id: self.approval_id.as_deref().map(Text::from),
            call_digest: Text::from(self.call_digest.0.as_str()),
            call_id: Text::from(self.call_id.as_str()),
            decision: self.decision.map(|d| Text(Cow::Borrowed(d.as_str()))),
            effect_id: self.effect_id.as_deref().map(Text::from),
            event_id: Text::from(self.event_id.as_str()),
            input: RawJson(&input),
            kind: Text(Cow::Borrowed(self.kind.as_str())),
            latency_ms: self.latency_ms,
            mode: self.mode.map(|m| Text(Cow::Borrowed(m.as_str()))),
            outcome: self.outcome.map(|o| Text(Cow::Borrowed(o.as_str()))),
            output: RawJson(&output),
            policy_revision: Text::from(self.policy_revision.0.as_str()),
            reasons,
            risk_score: self.risk_score,
            rollback_token: self.rollback_token.as_deref().map(Text::from),
            run: Text::from(self.run.as_str()),
            sandbox_id: self.sandbox_id.as_deref().map(Text::from),
            seq,
            time_ms: self.time.0,
        };
        wire.encode(out)
    }

    /// The canonical bytes of this record with its sequence number left to the appender
    /// (see [`LogState::append_unsequenced`](crate::LogState::append_unsequenced)).
    pub fn to_unsequenced(&self) -> Result<Unsequenced, AuditError> {
        let mut bytes = Vec::with_capacity(512);
        self.encode_numbered(0, &mut bytes)?;
        let record = self;
        // `seq` and `time_ms` are the last two keys (sorted), so the bytes end with
        // `,"seq":0,"time_ms":<digits>}`: the `0` sits before a suffix of known length.
        let suffix = format!(",\"time_ms\":{}}}", record.time.0);
        let split = bytes.len().checked_sub(suffix.len() + 1).filter(|&at| {
            bytes.get(at..) == Some(format!("0{suffix}").as_bytes())
                && bytes.get(..at).is_some_and(|head| head.ends_with(b",\"seq\":"))
        });
        match split {
            Some(at) => Ok(Unsequenced { bytes, at }),
            None => Err(AuditError::MalformedRecord(
                "the canonical form does not end with seq and time_ms".into(),
            )),
        }
    }

    /// Parses canonical bytes, refusing anything that is not exactly the canonical form of
    /// the record it describes.
    pub fn from_canonical(bytes: &[u8]) -> Result<AuditRecord, AuditError> {
        let mut scratch = Vec::with_capacity(bytes.len());
        let wire = decode_canonical(bytes, &mut scratch)?;
        wire.into_record()
    }
}

/// A record's canonical bytes with `seq` still to be written: the bytes of the record with
/// `seq` 0, and where that `0` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsequenced {
    bytes: Vec<u8>,
    at: usize,
}

impl Unsequenced {
    /// The canonical bytes of the record numbered `seq`.
    pub fn with_seq(&self, seq: u64) -> Vec<u8> {
        let digits = seq.to_string();
        let mut out = Vec::with_capacity(self.bytes.len() + digits.len());
        out.extend_from_slice(self.bytes.get(..self.at).unwrap_or_default());
        out.extend_from_slice(digits.as_bytes());
        out.extend_from_slice(self.bytes.get(self.at + 1..).unwrap_or_default());
        out
    }
}

/// Decodes `bytes` and checks that they are canonical, re-encoding into `scratch` (which
/// the caller reuses, so that checking a stream of records allocates little). Returns the
/// record's own `seq`.
pub(crate) fn check_canonical(bytes: &[u8], scratch: &mut Vec<u8>) -> Result<u64, AuditError> {
    match scan::scan(bytes) {
        Some(seq) => Ok(seq),
        // The slow path decides, and says what is wrong.
        None => decode_canonical(bytes, scratch).map(|wire| wire.seq),
    }
}

fn decode_canonical<'a>(bytes: &'a [u8], scratch: &mut Vec<u8>) -> Result<Wire<'a>, AuditError> {
    let wire: Wire<'a> = serde_json::from_slice(bytes).map_err(malformed)?;
    wire.check_spellings()?;
    scratch.clear();
    wire.encode(scratch)?;
    if scratch.as_slice() != bytes {
        let offset = scratch.iter().zip(bytes).take_while(|(a, b)| a == b).count();
        return Err(AuditError::NotCanonical { offset });
    }
    Ok(wire)
}

fn malformed(e: impl fmt::Display) -> AuditError {
    AuditError::MalformedRecord(e.to_string())
}

/// The record as it is spelled in JSON, borrowing from the bytes it was read from. Field
/// order is the canonical key order.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire<'a> {
    #[serde(borrow)]
    action: Text<'a>,
    #[serde(borrow)]
    agent: Text<'a>,
    #[serde(borrow)]
    approval_id: Option<Text<'a>>,
    #[serde(borrow)]
    call_digest: Text<'a>,
    #[serde(borrow)]
    call_id: Text<'a>,
    #[serde(borrow)]
    decision: Option<Text<'a>>,
    #[serde(borrow)]
    effect_id: Option<Text<'a>>,
    #[serde(borrow)]
    event_id: Text<'a>,
    #[serde(borrow)]
    input: RawJson<'a>,
    #[serde(borrow)]
    kind: Text<'a>,
    latency_ms: u64,
    #[serde(borrow)]
    mode: Option<Text<'a>>,
    #[serde(borrow)]
    outcome: Option<Text<'a>>,
    #[serde(borrow)]
    output: RawJson<'a>,
    #[serde(borrow)]
    policy_revision: Text<'a>,
    #[serde(borrow)]
    reasons: Vec<WireReason<'a>>,
    risk_score: f64,
    #[serde(borrow)]
    rollback_token: Option<Text<'a>>,
    #[serde(borrow)]
    run: Text<'a>,
    #[serde(borrow)]
    sandbox_id: Option<Text<'a>>,
    seq: u64,
    time_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireReason<'a> {
    #[serde(borrow)]
    decision: Text<'a>,
    #[serde(borrow)]
    field: Option<Text<'a>>,
    #[serde(borrow)]
    message: Text<'a>,
    #[serde(borrow)]
    rule: Text<'a>,
    #[serde(borrow)]
    stage: Text<'a>,
}

impl Wire<'_> {
    /// The enumerations are strings on the wire; an unknown spelling is not a record.
    fn check_spellings(&self) -> Result<(), AuditError> {
        known("kind", &self.kind, |s| RecordKind::parse(s).is_some())?;
        if let Some(d) = &self.decision {
            known("decision", d, |s| Decision::parse(s).is_some())?;
        }
        if let Some(m) = &self.mode {
            known("mode", m, |s| Mode::parse(s).is_some())?;
        }
        if let Some(o) = &self.outcome {
            known("outcome", o, |s| Outcome::parse(s).is_some())?;
        }
        for r in &self.reasons {
            known("reason decision", &r.decision, |s| Decision::parse(s).is_some())?;
            known("reason stage", &r.stage, |s| parse_stage(s).is_some())?;
        }
        Ok(())
    }

    /// Writes the canonical bytes. The embedded JSON must already be canonical; it is
    /// checked here, so a record whose arguments were written otherwise cannot verify.
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), AuditError> {
        if !self.risk_score.is_finite() {
            return Err(AuditError::NonFiniteRiskScore(self.risk_score.to_string()));
        }
        out.extend_from_slice(b"{\"action\":");
        string(out, &self.action)?;
        out.extend_from_slice(b",\"agent\":");
        string(out, &self.agent)?;
        out.extend_from_slice(b",\"approval_id\":");
        opt_string(out, &self.approval_id)?;
        out.extend_from_slice(b",\"call_digest\":");
        string(out, &self.call_digest)?;
        out.extend_from_slice(b",\"call_id\":");
        string(out, &self.call_id)?;
        out.extend_from_slice(b",\"decision\":");
        opt_string(out, &self.decision)?;
        out.extend_from_slice(b",\"effect_id\":");
        opt_string(out, &self.effect_id)?;
        out.extend_from_slice(b",\"event_id\":");
        string(out, &self.event_id)?;
        out.extend_from_slice(b",\"input\":");
        raw(out, &self.input)?;
        out.extend_from_slice(b",\"kind\":");
        string(out, &self.kind)?;
        out.extend_from_slice(b",\"latency_ms\":");
        number(out, &self.latency_ms)?;
        out.extend_from_slice(b",\"mode\":");
        opt_string(out, &self.mode)?;
        out.extend_from_slice(b",\"outcome\":");
        opt_string(out, &self.outcome)?;
        out.extend_from_slice(b",\"output\":");
        raw(out, &self.output)?;
        out.extend_from_slice(b",\"policy_revision\":");
        string(out, &self.policy_revision)?;
        out.extend_from_slice(b",\"reasons\":[");
        for (i, r) in self.reasons.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"decision\":");
            string(out, &r.decision)?;
            out.extend_from_slice(b",\"field\":");
            opt_string(out, &r.field)?;
            out.extend_from_slice(b",\"message\":");
            string(out, &r.message)?;
            out.extend_from_slice(b",\"rule\":");
            string(out, &r.rule)?;
            out.extend_from_slice(b",\"stage\":");
            string(out, &r.stage)?;
            out.push(b'}');
        }
        out.extend_from_slice(b"],\"risk_score\":");
        number(out, &self.risk_score)?;
        out.extend_from_slice(b",\"rollback_token\":");
        opt_string(out, &self.rollback_token)?;
        out.extend_from_slice(b",\"run\":");
        string(out, &self.run)?;
        out.extend_from_slice(b",\"sandbox_id\":");
        opt_string(out, &self.sandbox_id)?;
        out.extend_from_slice(b",\"seq\":");
        number(out, &self.seq)?;
        out.extend_from_slice(b",\"time_ms\":");
        number(out, &self.time_ms)?;
        out.push(b'}');
        Ok(())
    }

    fn into_record(self) -> Result<AuditRecord, AuditError> {
        let reasons = self
            .reasons
            .into_iter()
            .map(|r| {
                Ok(Reason {
                    stage: parse_stage(&r.stage.0)
                        .ok_or_else(|| unknown("reason stage", &r.stage))?,
                    rule: r.rule.into_string().into(),
                    decision: Decision::parse(&r.decision.0)
                        .ok_or_else(|| unknown("reason decision", &r.decision))?,
                    field: r.field.map(Text::into_string),
                    message: r.message.into_string(),
                })
            })
            .collect::<Result<Vec<_>, AuditError>>()?;
        Ok(AuditRecord {
            seq: self.seq,
            kind: RecordKind::parse(&self.kind.0).ok_or_else(|| unknown("kind", &self.kind))?,
            event_id: self.event_id.into_string(),
            time: Timestamp(self.time_ms),
            agent: self.agent.into_string(),
            run: self.run.into_string(),
            call_id: self.call_id.into_string(),
            action: self.action.into_string(),
            call_digest: CallDigest(self.call_digest.into_string()),
            input: serde_json::from_str(self.input.0).map_err(malformed)?,
            policy_revision: Revision(self.policy_revision.into_string()),
            mode: match &self.mode {
                Some(m) => Some(Mode::parse(&m.0).ok_or_else(|| unknown("mode", m))?),
                None => None,
            },
            decision: match &self.decision {
                Some(d) => Some(Decision::parse(&d.0).ok_or_else(|| unknown("decision", d))?),
                None => None,
            },
            risk_score: self.risk_score,
            reasons,
            outcome: match &self.outcome {
                Some(o) => Some(Outcome::parse(&o.0).ok_or_else(|| unknown("outcome", o))?),
                None => None,
            },
            output: serde_json::from_str(self.output.0).map_err(malformed)?,
            latency_ms: self.latency_ms,
            sandbox_id: self.sandbox_id.map(Text::into_string),
            approval_id: self.approval_id.map(Text::into_string),
            effect_id: self.effect_id.map(Text::into_string),
            rollback_token: self.rollback_token.map(Text::into_string),
        })
    }
}

fn known(what: &str, text: &Text<'_>, ok: impl Fn(&str) -> bool) -> Result<(), AuditError> {
    if ok(&text.0) { Ok(()) } else { Err(unknown(what, text)) }
}

fn unknown(what: &str, text: &Text<'_>) -> AuditError {
    AuditError::MalformedRecord(format!("unknown {what} `{}`", text.0))
}

/// The pipeline stages by their spelling. `tests.rs` holds an exhaustive match that stops
/// compiling when a stage is added to the core and not here.
pub(crate) const STAGES: [Stage; 11] = [
    Stage::Manifest,
    Stage::Arguments,
    Stage::Scope,
    Stage::DataFlow,
    Stage::Budget,
    Stage::Replay,
    Stage::Risk,
    Stage::Rules,
    Stage::Approval,
    Stage::Sandbox,
    Stage::Internal,
];

fn parse_stage(s: &str) -> Option<Stage> {
    STAGES.into_iter().find(|stage| stage.as_str() == s)
}

fn string(out: &mut Vec<u8>, text: &str) -> Result<(), AuditError> {
    // serde_json's own escaping, the same that `canonical_json` uses.
    serde_json::to_writer(out, text).map_err(malformed)
}

fn opt_string(out: &mut Vec<u8>, text: &Option<Text<'_>>) -> Result<(), AuditError> {
    match text {
        Some(text) => string(out, text),
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
    }
}

fn number<N: serde::Serialize>(out: &mut Vec<u8>, n: &N) -> Result<(), AuditError> {
    serde_json::to_writer(out, n).map_err(malformed)
}

fn raw(out: &mut Vec<u8>, json: &RawJson<'_>) -> Result<(), AuditError> {
    let start = out.len();
    // One level down: inside the record object.
    canonical::check_nested(json.0.as_bytes(), 1)
        .map_err(|offset| AuditError::NotCanonical { offset: start + offset })?;
    out.extend_from_slice(json.0.as_bytes());
    Ok(())
}

/// A JSON string, borrowed from the input when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'a> From<&'a str> for Text<'a> {
    fn from(s: &'a str) -> Text<'a> {
        Text(Cow::Borrowed(s))
    }
}

impl Text<'_> {
    fn into_string(self) -> String {
        self.0.into_owned()
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text<'a>, D::Error> {
        struct TextVisitor;

        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }

        deserializer.deserialize_str(TextVisitor)
    }
}

/// Embedded JSON, kept as the exact text it was read from.
struct RawJson<'a>(&'a str);

impl<'de: 'a, 'a> Deserialize<'de> for RawJson<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RawJson<'a>, D::Error> {
        let raw: &'de RawValue = Deserialize::deserialize(deserializer)?;
        Ok(RawJson(raw.get()))
    }
}

pub mod bounded;
mod scan;
#[cfg(test)]
mod tests;
