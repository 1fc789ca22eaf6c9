//! A verdict with every part filled, converted by hand, written as JSON: the shape clients
//! read (field names, spellings, what is left out when empty), checked against the
//! committed schema.

use std::borrow::Cow;

use aecl_core::verdict::{RiskContribution, ValueSpan};
use aecl_core::{
    Call, Decision, Mode, Reason, Revision, RiskBreakdown, SandboxTier, Stage, TierRequirement,
    Verdict,
};
use aecl_protocol::{CallAnswer, DecisionLine, Effect, EffectState, ErrorBody, ErrorCode};
use serde_json::{Value, json};

fn verdict() -> Verdict {
    Verdict {
        decision: Decision::RequireApproval,
        mode: Mode::DryRun,
        reasons: vec![Reason {
            stage: Stage::DataFlow,
            rule: Cow::Borrowed("data_flow.untrusted_value_in_text"),
            decision: Decision::RequireApproval,
            field: Some("body".to_owned()),
            message: "an IBAN only an e-mail shows".to_owned(),
        }],
        risk: RiskBreakdown {
            score: 0.5,
            contributions: vec![RiskContribution {
                factor: Cow::Borrowed("amount"),
                weight: 0.5,
                detail: "1200 EUR".to_owned(),
            }],
            approval_threshold: 0.4,
            block_threshold: None,
        },
        policy_revision: Revision("r1".to_owned()),
        approval_expires_in_secs: Some(600),
        replay_of: None,
        sandbox: Some(TierRequirement { tier: SandboxTier::Gvisor, because: "catalog".to_owned() }),
        spans: vec![ValueSpan {
            field: "body".to_owned(),
            kind: "iban".to_owned(),
            offset: 3,
            length: 22,
            source: "c1 read_email.body".to_owned(),
            source_call: Some("c1".to_owned()),
        }],
    }
}

fn validate(file: &str, value: &Value) {
    let (_, text) =
        aecl_protocol::schema::generated().into_iter().find(|(name, _)| *name == file).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(value).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{file}: {errors:?}\n{value:#}");
}

#[test]
fn a_verdict_is_written_as_the_core_spells_it() {
    let verdict = verdict();
    let value = serde_json::to_value(aecl_protocol::Verdict::from(&verdict)).unwrap();
    assert_eq!(
        value,
        json!({
            "decision": "require_approval",
            "mode": "dry-run",
            "reasons": [{
                "stage": "data_flow",
                "rule": "data_flow.untrusted_value_in_text",
                "decision": "require_approval",
                "field": "body",
                "message": "an IBAN only an e-mail shows",
            }],
            "risk": {
                "score": 0.5,
                "contributions": [{ "factor": "amount", "weight": 0.5, "detail": "1200 EUR" }],
                "approval_threshold": 0.4,
            },
            "policy_revision": "r1",
            "approval_expires_in_secs": 600,
            "sandbox": { "tier": "gvisor", "because": "catalog" },
            "spans": [{
                "field": "body", "kind": "iban", "offset": 3, "length": 22,
                "source": "c1 read_email.body", "source_call": "c1",
            }],
        })
    );
    validate("verdict.schema.json", &value);
}

#[test]
fn a_call_answer_flattens_the_line_and_omits_what_is_empty() {
    let call = Call {
        id: "c2".to_owned(),
        run: "r".to_owned(),
        action: "pay".to_owned(),
        ..Call::default()
    };
    let mut verdict = verdict();
    verdict.spans.clear();
    verdict.sandbox = None;
    let line = DecisionLine::new(&call, &verdict);
    let answer = CallAnswer { line, approval_id: None, effect: None, replayed: None, error: None };
    let value = serde_json::to_value(&answer).unwrap();
    let keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "run",
            "action",
            "decision",
            "mode",
            "reasons",
            "risk",
            "policy_revision",
            "approval_id"
        ]
    );
    validate("call-answer.schema.json", &value);
    validate("decision-line.schema.json", &serde_json::to_value(&answer.line).unwrap());

    let effect = Effect {
        id: "e1".to_owned(),
        state: EffectState::OutcomeUnknown,
        result: json!({ "executed_by": "client" }),
        error: None,
        rollback_token: None,
        rolled_back_by: Some("e2".to_owned()),
    };
    let error = ErrorBody { code: ErrorCode::Unavailable, message: "down".to_owned() };
    let answer =
        CallAnswer { effect: Some(effect), replayed: Some(true), error: Some(error), ..answer };
    let value = serde_json::to_value(&answer).unwrap();
    assert_eq!(value["effect"]["state"], "outcome_unknown");
    assert_eq!(value["effect"]["rolled_back_by"], "e2");
    assert_eq!(value["error"], json!({ "code": "unavailable", "message": "down" }));
    validate("call-answer.schema.json", &value);
}

#[test]
fn error_codes_are_spelt_as_documented() {
    for code in ErrorCode::ALL {
        assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
    }
}
