//! Standing grants: "`send_email` to `@example.com` for 30 minutes, at most 5 times",
//! given by an approver ahead of the calls, against approval fatigue.
//!
//! A standing grant names one agent and one action, conditions on the call's arguments,
//! a number of uses and an expiry, and is bound to the policy revision it was given under
//! (a policy change voids it, as it voids a single-use grant). What it permits is signed
//! by the engine's grant key, and a grant whose signature does not verify is ignored and
//! logged, so a row written into the database by hand permits nothing. It only ever lifts
//! a `require_approval`: a block stays a block. Each use is counted by one guarded store
//! statement, so racing instances never exceed the count; a use is counted when the call
//! is decided, before dispatch, so a call that then fails has still spent it (the count
//! errs towards fewer calls, never more).

use std::borrow::Cow;
use std::collections::BTreeMap;

use aecl_audit::{RecordKind, SignerKey};
use aecl_core::constraint::host_matches;
use aecl_core::email::{email_domain, is_host_name};
use aecl_core::path::FieldPath;
use aecl_core::{Call, Decision, Mode, Reason, Revision, Stage, Timestamp, Verdict};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::engine::{Engine, new_id};
use crate::error::EngineError;
use crate::store::{StandingGrant, Store};

/// What a grant signature is computed over, before the terms.
const DOMAIN: &[u8] = b"aecl-standing-grant-v1\n";

/// The most uses one standing grant may have.
pub const MAX_USES: u32 = 1000;

/// The longest a standing grant may last: a day.
pub const MAX_TTL_SECS: u64 = 24 * 3600;

/// A condition on the values at one argument path; every value there must meet it, and a
/// path with no value fails it.
///
/// A condition meant as a structural check parses the structure: an e-mail domain is
/// `email_domain`, which reads exactly one address as the catalog's `email_domains` check
/// reads each of a list (`aecl_core::constraint::email_domain`). `ends_with` is a lexical
/// check of the whole string and nothing more, so a suffix with an `@` in it, which only
/// an address has, is refused when the grant is made and permits nothing in a grant made
/// before (`"eve@evil.test, bob@example.com"` ends with `@example.com`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ArgCondition {
    /// The value is exactly this JSON value.
    Equals(Value),
    /// The value is one of these.
    OneOf(Vec<Value>),
    /// The value is a string ending with this, compared without regard to ASCII case (a
    /// file extension); never an address's domain (no `@` in it: see `EmailDomain`).
    EndsWith(String),
    /// The value is exactly one e-mail address (`local@domain` or `Name <local@domain>`)
    /// whose domain is this one, or with `*.suffix` any subdomain of `suffix`.
    EmailDomain(String),
    /// The value is a number no greater than this (an amount up to the approved one).
    AtMost(f64),
}

impl ArgCondition {
    fn holds(&self, value: &Value) -> bool {
        if self.refusal().is_some() {
            return false;
        }
        match self {
            ArgCondition::Equals(expected) => value == expected,
            ArgCondition::OneOf(allowed) => allowed.contains(value),
            ArgCondition::EndsWith(suffix) => value
                .as_str()
                .is_some_and(|s| s.to_ascii_lowercase().ends_with(&suffix.to_ascii_lowercase())),
            ArgCondition::EmailDomain(pattern) => value
                .as_str()
                .and_then(email_domain)
                .is_some_and(|domain| host_matches(pattern, &domain)),
            ArgCondition::AtMost(bound) => value.as_f64().is_some_and(|v| v <= *bound),
        }
    }

    /// Why this condition cannot be given (and permits nothing in a grant stored before
    /// the rule), naming the replacement; `None` when it can.
    pub fn refusal(&self) -> Option<String> {
        match self {
            ArgCondition::EndsWith(suffix) if suffix.contains('@') => {
                let domain = suffix.rsplit('@').next().unwrap_or_default();
                Some(format!(
                    "`ends_with` {suffix:?} compares text, and cannot check an e-mail address \
                     (`eve@evil.test, bob{suffix}` ends with it too): use \
                     `{{\"email_domain\": {domain:?}}}`, which reads exactly one address"
                ))
            }
            ArgCondition::EndsWith(suffix) if suffix.is_empty() => {
                Some("`ends_with` \"\" holds for every string: name the suffix".to_owned())
            }
            ArgCondition::EmailDomain(pattern) => {
                let host = pattern.strip_prefix("*.").unwrap_or(pattern);
                (!is_host_name(host)).then(|| {
                    format!(
                        "`email_domain` {pattern:?} is not a domain (`example.com`, or \
                         `*.example.com` for its subdomains; no `@`)"
                    )
                })
            }
            ArgCondition::AtMost(bound) if !bound.is_finite() => {
                Some("`at_most` needs a finite number".to_owned())
            }
            _ => None,
        }
    }
}

/// What an approver asks for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStandingGrant {
    pub agent: String,
    pub action: String,
    /// Argument path (dotted, as in the catalog: `to`, `recipient.iban`; arrays are entered
    /// element by element) → condition. At least one:
    /// a grant for any arguments at all is an allow rule, which belongs in the policy.
    pub args: BTreeMap<String, ArgCondition>,
    pub max_uses: u32,
    pub ttl_seconds: u64,
    /// Why: kept in the audit log.
    pub reason: String,
}

/// The signed content of a standing grant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandingTerms {
    pub id: String,
    pub agent: String,
    pub action: String,
    pub args: BTreeMap<String, ArgCondition>,
    pub max_uses: u32,
    pub policy_revision: String,
    pub created_ms: u64,
    pub expires_ms: u64,
    pub created_by: String,
    pub reason: String,
}

impl StandingTerms {
    /// Whether `call`'s arguments meet every condition.
    pub fn matches(&self, call: &Call) -> bool {
        call.agent == self.agent
            && call.action == self.action
            && !self.args.is_empty()
            && self.args.iter().all(|(path, condition)| {
                let Some(path) = FieldPath::parse(path) else { return false };
                let values = path.values(&call.args);
                !values.is_empty() && values.into_iter().all(|v| condition.holds(v))
            })
    }
}

/// The signature of `terms` (canonical JSON) under `key`, in base64.
fn sign(key: &SignerKey, terms: &str) -> String {
    STANDARD.encode(key.sign(&[DOMAIN, terms.as_bytes()].concat()))
}

/// The terms of `grant` if its signature verifies under `key`.
fn verified(key: &SignerKey, grant: &StandingGrant) -> Option<StandingTerms> {
    let signature: [u8; 64] = STANDARD.decode(&grant.signature).ok()?.try_into().ok()?;
    if !key.verifier().verify(&[DOMAIN, grant.terms.as_bytes()].concat(), &signature) {
        return None;
    }
    let terms: StandingTerms = serde_json::from_str(&grant.terms).ok()?;
    // The store's index must say what was signed.
    let consistent = terms.id == grant.id
        && terms.agent == grant.agent
        && terms.action == grant.action
        && terms.max_uses == grant.max_uses
        && terms.expires_ms == grant.expires.0;
    consistent.then_some(terms)
}

impl<S: Store> Engine<S> {
    /// Creates a standing grant as `approver`. Refuses unknown agents and actions, a grant
    /// without conditions or with a bad path, counts and lifetimes out of range, and an
    /// approver who is the agent.
    pub async fn create_standing_grant(
        &self,
        new: NewStandingGrant,
        approver: &str,
    ) -> Result<StandingTerms, EngineError> {
        let key = self.grant_key()?;
        // INVARIANT: nobody grants their own identity anything, however spelt.
        if crate::approval::same_person(&new.agent, approver) {
            return Err(EngineError::SelfApproval {
                id: "(standing grant)".to_owned(),
                approver: approver.to_owned(),
            });
        }
        let policy = self.policy();
        let invalid = |message: String| Err(EngineError::InvalidGrant(message));
        if !policy.agents.contains_key(new.agent.as_str()) {
            return invalid(format!("`agent`: no agent `{}` in the policy", new.agent));
        }
        let Some(action) = policy.actions.get(new.action.as_str()) else {
            return invalid(format!("`action`: no action `{}` in the catalog", new.action));
        };
        // A standing grant is one person's answer: it cannot stand in for a quorum.
        let quorum = action.approval.approvals_required;
        if quorum > 1 {
            return invalid(format!(
                "`action`: every call of `{}` needs {quorum} approvers, so one person's \
                 standing grant cannot cover it",
                new.action
            ));
        }
        if let Some((path, why)) =
            new.args.iter().find_map(|(path, c)| c.refusal().map(|why| (path, why)))
        {
            return invalid(format!("`args`: `{path}`: {why}"));
        }
        if new.args.is_empty() {
            return invalid("`args`: at least one condition is needed".to_owned());
        }
        if let Some(path) = new.args.keys().find(|p| FieldPath::parse(p).is_none()) {
            return invalid(format!("`args`: `{path}` is not an argument path"));
        }
        if !(1..=MAX_USES).contains(&new.max_uses) {
            return invalid(format!("`max_uses`: expected 1 to {MAX_USES}"));
        }
        if !(1..=MAX_TTL_SECS).contains(&new.ttl_seconds) {
            return invalid(format!("`ttl_seconds`: expected 1 to {MAX_TTL_SECS}"));
        }
        if new.reason.trim().is_empty() {
            return invalid("`reason`: say why (it is kept in the audit log)".to_owned());
        }
        let now = self.now();
        let terms = StandingTerms {
            id: new_id(),
            agent: new.agent,
            action: new.action,
            args: new.args,
            max_uses: new.max_uses,
            policy_revision: policy.revision.0.clone(),
            created_ms: now.0,
            expires_ms: now.0.saturating_add(new.ttl_seconds.saturating_mul(1000)),
            created_by: approver.to_owned(),
            reason: new.reason,
        };
        let text =
            aecl_core::canonical::canonical_json(&serde_json::to_value(&terms).unwrap_or_default());
        let grant = StandingGrant {
            id: terms.id.clone(),
            agent: terms.agent.clone(),
            action: terms.action.clone(),
            created: now,
            expires: Timestamp(terms.expires_ms),
            max_uses: terms.max_uses,
            used: 0,
            revoked: None,
            signature: sign(key, &text),
            terms: text,
        };
        self.store().put_standing_grant(grant).await?;
        self.record_standing(&terms, json!({ "standing_grant": "created", "terms": terms }))
            .await?;
        // A reload that applied another policy while the grant was being made may have
        // looked for grants to end before this one was stored: it is ended here (the
        // reload sets the policy before it looks, and this looks after storing).
        if self.policy().revision.0 != terms.policy_revision {
            self.end_standing_grants_of_other_revisions().await?;
            return invalid(
                "the policy changed while the grant was made: it was ended; give it again"
                    .to_owned(),
            );
        }
        Ok(terms)
    }

    /// Standing grants newest first, with their verified terms (`None`: the signature
    /// does not verify, and the grant permits nothing).
    pub async fn standing_grants(
        &self,
        limit: usize,
    ) -> Result<Vec<(StandingGrant, Option<StandingTerms>)>, EngineError> {
        let key = self.grant_key()?;
        let grants = self.store().standing_grants(None, limit).await?;
        Ok(grants.into_iter().map(|g| (verified(key, &g), g)).map(|(t, g)| (g, t)).collect())
    }

    /// Revokes standing grant `id` as `approver`; false when unknown or revoked already.
    pub async fn revoke_standing_grant(
        &self,
        id: &str,
        approver: &str,
    ) -> Result<bool, EngineError> {
        let key = self.grant_key()?;
        let found = self.store().standing_grants(None, usize::MAX).await?;
        let Some(terms) = found.iter().find(|g| g.id == id).and_then(|g| verified(key, g)) else {
            return Ok(false);
        };
        if !self.store().revoke_standing_grant(id, self.now()).await? {
            return Ok(false);
        }
        self.record_standing(
            &terms,
            json!({ "standing_grant": "revoked", "id": id, "by": approver }),
        )
        .await?;
        self.published_all().await?;
        Ok(true)
    }

    /// Ends the standing grants given under another policy revision than the one in
    /// force. A policy change ends them (docs/http.md); one only passed over while its
    /// revision differs came back when the old policy did (a reverted deploy: red team,
    /// 2026-11-30). Called at start-up and when a reload applies a new policy; each grant
    /// ended is an `approval` audit record. Returns how many were ended.
    pub async fn end_standing_grants_of_other_revisions(&self) -> Result<usize, EngineError> {
        let Ok(key) = self.grant_key() else { return Ok(0) };
        let revision = self.policy().revision.clone();
        let now = self.now();
        let mut ended = 0;
        for grant in self.store().standing_grants(None, usize::MAX).await? {
            if grant.revoked.is_some() || grant.used >= grant.max_uses || now >= grant.expires {
                continue;
            }
            // A grant whose signature does not verify permits nothing already.
            let Some(terms) = verified(key, &grant) else { continue };
            if terms.policy_revision == revision.0
                || !self.store().revoke_standing_grant(&grant.id, now).await?
            {
                continue;
            }
            let input = json!({
                "standing_grant": "ended",
                "id": grant.id,
                "why": "the policy changed",
                "revision": revision.0,
            });
            self.record_standing(&terms, input).await?;
            ended += 1;
        }
        Ok(ended)
    }

    /// Lifts a `require_approval` verdict of an executed call with a standing grant that
    /// covers it, counting one use. Returns the reason it added when one was used.
    pub(crate) async fn apply_standing_grant(
        &self,
        verdict: &mut Verdict,
        call: &Call,
        now: Timestamp,
    ) -> Result<Option<Reason>, EngineError> {
        if verdict.decision != Decision::RequireApproval || verdict.mode != Mode::Enforce {
            return Ok(None);
        }
        let Ok(key) = self.grant_key() else { return Ok(None) };
        let candidates =
            self.store().standing_grants(Some((&call.agent, &call.action)), 100).await?;
        for grant in candidates {
            if grant.revoked.is_some() || grant.used >= grant.max_uses || now >= grant.expires {
                continue;
            }
            let Some(terms) = verified(key, &grant) else {
                tracing::error!(grant = %grant.id, "a standing grant's signature does not verify: ignored");
                continue;
            };
            if let Some((path, why)) =
                terms.args.iter().find_map(|(path, c)| c.refusal().map(|why| (path, why)))
            {
                // Made before the rule: it permits nothing (`ArgCondition::holds`).
                tracing::warn!(grant = %grant.id, %path, %why, "a standing grant's condition is refused: ignored");
                continue;
            }
            if terms.policy_revision != verdict.policy_revision.0 || !terms.matches(call) {
                continue;
            }
            if !self.store().use_standing_grant(&grant.id, now).await? {
                continue; // spent or revoked meanwhile
            }
            let reason = Reason {
                stage: Stage::Approval,
                rule: Cow::Borrowed("approval.standing_grant"),
                decision: Decision::Allow,
                field: None,
                message: format!(
                    "{USE_PREFIX}{}` by {} covers this call (use {} of {})",
                    grant.id,
                    terms.created_by,
                    grant.used + 1,
                    grant.max_uses
                ),
            };
            lift(verdict, &reason);
            return Ok(Some(reason));
        }
        Ok(None)
    }

    fn grant_key(&self) -> Result<&SignerKey, EngineError> {
        self.config().grant_key.as_ref().ok_or_else(|| {
            EngineError::InvalidGrant(
                "standing grants need a signing key (none is configured)".to_owned(),
            )
        })
    }

    async fn record_standing(
        &self,
        terms: &StandingTerms,
        input: Value,
    ) -> Result<(), EngineError> {
        let mut record = self.record(RecordKind::Approval, &terms.agent, "");
        record.action.clone_from(&terms.action);
        record.policy_revision = Revision(terms.policy_revision.clone());
        record.input = input;
        self.store().append_audit(record).await?;
        Ok(())
    }
}

/// How the reason of a use of a standing grant begins, before the grant's id.
const USE_PREFIX: &str = "standing grant `";

/// The standing grant an `approval.standing_grant` reason's message names.
pub(crate) fn grant_named(message: &str) -> Option<&str> {
    let rest = message.strip_prefix(USE_PREFIX)?;
    rest.split_once('`').map(|(id, _)| id)
}

/// Lets a `require_approval` verdict through for `reason`.
pub(crate) fn lift(verdict: &mut Verdict, reason: &Reason) {
    // INVARIANT: only a `require_approval` verdict is lifted; a block stays a block.
    if verdict.decision == Decision::RequireApproval && verdict.mode == Mode::Enforce {
        verdict.reasons.push(reason.clone());
        verdict.decision = Decision::Allow;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(args: BTreeMap<String, ArgCondition>) -> StandingTerms {
        StandingTerms {
            id: "g".to_owned(),
            agent: "support".to_owned(),
            action: "send_email".to_owned(),
            args,
            max_uses: 5,
            policy_revision: "p".to_owned(),
            created_ms: 0,
            expires_ms: 1,
            created_by: "alice".to_owned(),
            reason: "r".to_owned(),
        }
    }

    fn call(args: Value) -> Call {
        Call {
            id: "c1".to_owned(),
            agent: "support".to_owned(),
            run: "r1".to_owned(),
            action: "send_email".to_owned(),
            args,
            idempotency_key: None,
            nonce: None,
            scope: Default::default(),
            provenance: BTreeMap::new(),
            paths: Default::default(),
        }
    }

    #[test]
    fn every_value_at_every_path_must_meet_its_condition() {
        let to = BTreeMap::from([(
            "to".to_owned(),
            ArgCondition::EmailDomain("Example.com".to_owned()),
        )]);
        let grant = terms(to);
        assert!(grant.matches(&call(json!({"to": ["a@example.com", "b@EXAMPLE.com"]}))));
        assert!(!grant.matches(&call(json!({"to": ["a@example.com", "b@evil.com"]}))));
        assert!(!grant.matches(&call(json!({"to": ["a@example.com.evil"]}))));
        assert!(!grant.matches(&call(json!({"cc": ["a@example.com"]}))), "missing path");
        let mut other = call(json!({"to": ["a@example.com"]}));
        other.action = "delete_user".to_owned();
        assert!(!grant.matches(&other), "another action");
        assert!(!terms(BTreeMap::new()).matches(&call(json!({}))), "no conditions, no match");
        let exact = terms(BTreeMap::from([(
            "n".to_owned(),
            ArgCondition::OneOf(vec![json!(1), json!(2)]),
        )]));
        assert!(exact.matches(&call(json!({"n": 2}))) && !exact.matches(&call(json!({"n": 3}))));
    }

    /// The red team's F3: what `ends_with "@example.com"` let through.
    const NOT_ONE_ADDRESS_IN_EXAMPLE_COM: [&str; 9] = [
        "eve@evil.test",
        "eve@evil.test, bob@example.com",
        "eve@evil.test;@example.com",
        "\"bob@example.com\" <eve@evil.test>, x@example.com",
        "eve@evil.test\n@example.com",
        "eve@evil.test?@example.com",
        "eve@evil.test#@example.com",
        "\"bob@example.com\" <eve@evil.test>",
        "bob@example.com.evil.test",
    ];

    #[test]
    fn an_email_domain_condition_reads_exactly_one_address_f3() {
        let grant = terms(BTreeMap::from([(
            "to".to_owned(),
            ArgCondition::EmailDomain("example.com".to_owned()),
        )]));
        for to in ["bob@example.com", "Bob <BOB@Example.com>", "bob+tag@example.com."] {
            assert!(grant.matches(&call(json!({ "to": to }))), "{to:?}");
        }
        assert!(grant.matches(&call(json!({"to": ["a@example.com", "b@example.com"]}))));
        for to in NOT_ONE_ADDRESS_IN_EXAMPLE_COM {
            assert!(!grant.matches(&call(json!({ "to": to }))), "{to:?}");
        }
        assert!(!grant.matches(&call(json!({"to": ["eve@evil.test", "bob@example.com"]}))));
        assert!(!grant.matches(&call(json!({"to": "bob@sub.example.com"}))), "not a subdomain");
        let subdomains = terms(BTreeMap::from([(
            "to".to_owned(),
            ArgCondition::EmailDomain("*.example.com".to_owned()),
        )]));
        assert!(subdomains.matches(&call(json!({"to": "bob@sub.example.com"}))));
        assert!(!subdomains.matches(&call(json!({"to": "bob@example.com"}))));
    }

    #[test]
    fn ends_with_an_at_sign_is_refused_and_permits_nothing_f3() {
        let old = ArgCondition::EndsWith("@example.com".to_owned());
        let why = old.refusal().expect("refused");
        assert!(why.contains("email_domain") && why.contains("example.com"), "{why}");
        let grant = terms(BTreeMap::from([("to".to_owned(), old)]));
        assert!(!grant.matches(&call(json!({"to": "bob@example.com"}))), "permits nothing");
        for to in NOT_ONE_ADDRESS_IN_EXAMPLE_COM {
            assert!(!grant.matches(&call(json!({ "to": to }))), "{to:?}");
        }
        assert!(ArgCondition::EndsWith(".pdf".to_owned()).refusal().is_none());
        assert!(ArgCondition::EndsWith(String::new()).refusal().is_some());
        for bad in ["@example.com", "example.com/x", "", "*.", "exa mple.com"] {
            assert!(ArgCondition::EmailDomain(bad.to_owned()).refusal().is_some(), "{bad:?}");
        }
        assert!(ArgCondition::AtMost(f64::INFINITY).refusal().is_some());
    }

    #[test]
    fn a_changed_byte_of_the_terms_voids_the_signature() {
        let key = SignerKey::from_seed("aecl.test/grants", [7; 32]).unwrap();
        let t = terms(BTreeMap::from([("to".to_owned(), ArgCondition::Equals(json!("a@x.org")))]));
        let text = aecl_core::canonical::canonical_json(&serde_json::to_value(&t).unwrap());
        let mut grant = StandingGrant {
            id: "g".to_owned(),
            agent: "support".to_owned(),
            action: "send_email".to_owned(),
            created: Timestamp(0),
            expires: Timestamp(1),
            max_uses: 5,
            used: 0,
            revoked: None,
            signature: sign(&key, &text),
            terms: text,
        };
        assert_eq!(verified(&key, &grant), Some(t));
        grant.max_uses = 50;
        assert_eq!(verified(&key, &grant), None, "index disagrees with the signed terms");
        grant.max_uses = 5;
        grant.terms = grant.terms.replace("a@x.org", "b@x.org");
        assert_eq!(verified(&key, &grant), None);
        let other = SignerKey::from_seed("aecl.test/grants", [8; 32]).unwrap();
        grant.terms = grant.terms.replace("b@x.org", "a@x.org");
        assert!(verified(&key, &grant).is_some());
        assert_eq!(verified(&other, &grant), None, "another key");
    }
}
