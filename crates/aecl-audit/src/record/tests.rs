//! Record tests: the canonical bytes are the core's canonical JSON, decode inverts encode,
//! and every other spelling of a record is refused.

use aecl_core::canonical::canonical_json;
use aecl_core::policy::Revision;
use aecl_core::{CallDigest, Decision, Mode, Reason, Stage, Timestamp};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::scan::scan;
use super::{AuditRecord, Outcome, RecordKind, STAGES, check_canonical, decode_canonical};
use crate::error::AuditError;

fn sample() -> AuditRecord {
    AuditRecord {
        seq: 7,
        kind: RecordKind::Decision,
        event_id: "ev-7".into(),
        time: Timestamp(1_764_000_000_123),
        agent: "banking".into(),
        run: "r1".into(),
        call_id: "c2".into(),
        action: "send_money".into(),
        call_digest: CallDigest("ab".repeat(32)),
        input: json!({"recipient": "GB29NWBK60161331926819", "amount": 1200.5, "memo": "rent \"March\"\n"}),
        policy_revision: Revision("rev-1".into()),
        mode: Some(Mode::Enforce),
        decision: Some(Decision::RequireApproval),
        risk_score: 0.35,
        reasons: vec![Reason {
            stage: Stage::DataFlow,
            rule: "data_flow.untrusted_control_argument".into(),
            decision: Decision::RequireApproval,
            field: Some("recipient".into()),
            message: "`recipient` comes only from untrusted content".into(),
        }],
        outcome: None,
        output: Value::Null,
        latency_ms: 3,
        sandbox_id: None,
        approval_id: Some("ap-1".into()),
        effect_id: None,
        rollback_token: None,
    }
}

#[test]
fn canonical_bytes_are_the_cores_canonical_json() {
    let record = sample();
    let bytes = record.to_canonical().unwrap();
    let value: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(canonical_json(&value).as_bytes(), bytes.as_slice());
    // Every field is present, absent ones as null.
    let object = value.as_object().unwrap();
    assert_eq!(object.len(), 22);
    assert_eq!(object["sandbox_id"], Value::Null);
    assert_eq!(object["risk_score"], json!(0.35));
    assert_eq!(object["mode"], json!("enforce"));
}

#[test]
fn canonical_bytes_read_back_to_the_same_record() {
    let record = sample();
    let bytes = record.to_canonical().unwrap();
    assert_eq!(AuditRecord::from_canonical(&bytes).unwrap(), record);
    let mut scratch = Vec::new();
    assert_eq!(check_canonical(&bytes, &mut scratch).unwrap(), 7);

    let mut outcome = sample();
    outcome.kind = RecordKind::Outcome;
    outcome.decision = None;
    outcome.mode = None;
    outcome.reasons.clear();
    outcome.outcome = Some(Outcome::Succeeded);
    outcome.output = json!({"status": "ok", "id": 42});
    outcome.effect_id = Some("ef-1".into());
    outcome.sandbox_id = Some("sb-1".into());
    outcome.rollback_token = Some("undo-1".into());
    outcome.risk_score = 1.0;
    let bytes = outcome.to_canonical().unwrap();
    assert!(String::from_utf8_lossy(&bytes).contains(r#""risk_score":1.0"#));
    assert_eq!(AuditRecord::from_canonical(&bytes).unwrap(), outcome);
}

#[test]
fn other_spellings_of_a_record_are_refused() {
    let bytes = sample().to_canonical().unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    let not_canonical = |t: &str| {
        matches!(AuditRecord::from_canonical(t.as_bytes()), Err(AuditError::NotCanonical { .. }))
    };
    let malformed = |t: &str| {
        matches!(AuditRecord::from_canonical(t.as_bytes()), Err(AuditError::MalformedRecord(_)))
    };

    assert!(not_canonical(&serde_json::to_string_pretty(&value).unwrap()));
    assert!(not_canonical(&format!("{text} ")));
    assert!(not_canonical(&text.replace(r#""latency_ms":3"#, r#""latency_ms":3 "#)));
    assert!(not_canonical(&text.replace(r#""risk_score":0.35"#, r#""risk_score":0.350"#)));
    assert!(not_canonical(&text.replace(r#""risk_score":0.35"#, r#""risk_score":3.5e-1"#)));
    assert!(not_canonical(&text.replace(r#""amount":1200.5"#, r#""amount":1.2005e3"#)));
    assert!(not_canonical(&text.replace(r#""agent":"banking""#, r#""agent":"b\u0061nking""#)));
    // Keys of the arguments out of order.
    assert!(not_canonical(&text.replace(
        r#"{"amount":1200.5,"memo""#,
        r#"{"memo":"rent \"March\"\n","amount":1200.5,"memo""#
    )));
    // Top-level keys out of order.
    assert!(not_canonical(&text.replacen(
        r#"{"action":"send_money","agent":"banking""#,
        r#"{"agent":"banking","action":"send_money""#,
        1
    )));

    assert!(malformed(&text.replace(r#""kind":"decision""#, r#""kind":"approved""#)));
    assert!(malformed(&text.replace(r#""stage":"data_flow""#, r#""stage":"dataflow""#)));
    // A missing optional field reads as null, which then re-encodes differently.
    assert!(not_canonical(&text.replace(r#","sandbox_id":null"#, "")));
    assert!(malformed(&text.replace(r#","seq":7"#, "")));
    assert!(malformed(&text.replace(r#""seq":7"#, r#""seq":7,"seq":7"#)));
    assert!(malformed(&text.replace(r#""time_ms""#, r#""extra":1,"time_ms""#)));
    assert!(malformed(&text.replace(r#""latency_ms":3"#, r#""latency_ms":-3"#)));
    assert!(malformed("[]"));
    assert!(malformed(""));
    assert!(malformed(&text[..text.len() - 1]));
}

/// The fast scanner takes the encoder's output and nothing the slow path refuses.
#[test]
fn the_fast_scanner_agrees_with_the_slow_path() {
    let bytes = sample().to_canonical().unwrap();
    assert_eq!(scan(&bytes), Some(7));
    let text = String::from_utf8(bytes).unwrap();
    for changed in [
        text.replace(r#""risk_score":0.35"#, r#""risk_score":0.350"#),
        text.replace(r#""risk_score":0.35"#, r#""risk_score":1"#),
        text.replace(r#""latency_ms":3"#, r#""latency_ms":03"#),
        text.replace(r#""seq":7"#, r#""seq":-7"#),
        text.replace(r#""kind":"decision""#, r#""kind":"decisio\u006e""#),
        text.replace(r#""mode":"enforce""#, r#""mode":"monitor""#),
        text.replace(
            r#""decision":"require_approval","effect_id""#,
            r#""decision":null,"effect_id""#,
        ),
        text.replace(r#""reasons":[{"#, r#""reasons":[ {"#),
        format!("{text}\n"),
        text.replace('}', "} "),
    ] {
        let fast = scan(changed.as_bytes());
        let slow = decode_canonical(changed.as_bytes(), &mut Vec::new()).map(|w| w.seq);
        match fast {
            Some(seq) => assert_eq!(slow, Ok(seq), "{changed}"),
            None => assert!(slow.is_err(), "the scanner refused a canonical record: {changed}"),
        }
    }
    // Nesting at serde_json's limit, inside the record.
    for depth in [120, 126, 127, 130] {
        let mut record = sample();
        let mut input = Value::Null;
        for _ in 0..depth {
            input = Value::Array(vec![input]);
        }
        record.input = input;
        // Every depth is recorded: what fits as it is, what does not with the part past
        // the limit as text (`bounded`). What is encoded decodes.
        let bytes = record.to_canonical().unwrap();
        assert_eq!(scan(&bytes), Some(7));
        let decoded = AuditRecord::from_canonical(&bytes).unwrap();
        if depth <= 126 {
            assert_eq!(decoded, record, "depth {depth}");
        } else {
            let mut inner = &decoded.input;
            for _ in 0..126 {
                inner = &inner[0];
            }
            let text = inner.as_str().and_then(|t| t.strip_prefix(super::bounded::TOO_DEEP));
            let rest = "[".repeat(depth - 126) + "null" + &"]".repeat(depth - 126);
            assert_eq!(text, Some(rest.as_str()), "depth {depth}");
        }
    }
}

/// Red-team round 10, finding 2: a remote JSON answer nested as deep as serde_json reads,
/// wrapped by its connector (`{"status":…,"body":…}`), made the outcome record impossible
/// to encode, so a call that ran was recorded as lost. Its outcome is recorded, the part
/// too deep as text, and the record verifies as canonical.
#[test]
fn an_outcome_whose_output_is_deeper_than_a_record_holds_is_still_recorded() {
    for depth in [125, 126, 127] {
        let body: Value =
            serde_json::from_str(&("[".repeat(depth) + "1" + &"]".repeat(depth))).unwrap();
        let mut record = sample();
        record.kind = RecordKind::Outcome;
        record.outcome = Some(Outcome::Succeeded);
        record.output = json!({"status": 200, "body": body, "truncated": false});
        let unsequenced = record.to_unsequenced().unwrap();
        let bytes = unsequenced.with_seq(9);
        assert_eq!(check_canonical(&bytes, &mut Vec::new()), Ok(9), "depth {depth}");
        let decoded = AuditRecord::from_canonical(&bytes).unwrap();
        assert_eq!(decoded.outcome, Some(Outcome::Succeeded));
        assert_eq!(decoded.output["status"], 200);
        let text = canonical_json(&decoded.output);
        assert_eq!(text.contains(super::bounded::TOO_DEEP), depth > 125, "depth {depth}");
    }
}

#[test]
fn a_non_finite_risk_score_cannot_be_encoded() {
    let mut record = sample();
    record.risk_score = f64::NAN;
    assert!(matches!(record.to_canonical(), Err(AuditError::NonFiniteRiskScore(_))));
}

#[test]
fn every_stage_has_a_spelling() {
    // This match stops compiling when the core gains a stage; add it to `STAGES` then.
    let index = |s: Stage| match s {
        Stage::Manifest => 0,
        Stage::Arguments => 1,
        Stage::Scope => 2,
        Stage::DataFlow => 3,
        Stage::Budget => 4,
        Stage::Replay => 5,
        Stage::Risk => 6,
        Stage::Rules => 7,
        Stage::Approval => 8,
        Stage::Sandbox => 9,
        Stage::Internal => 10,
    };
    for (i, stage) in STAGES.into_iter().enumerate() {
        assert_eq!(index(stage), i);
        let mut record = sample();
        record.reasons[0].stage = stage;
        let bytes = record.to_canonical().unwrap();
        assert_eq!(AuditRecord::from_canonical(&bytes).unwrap(), record);
    }
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::char::range('a', 'z'),
            1 => prop::char::range('\u{0}', '\u{20}'),
            1 => prop::sample::select(vec!['"', '\\', '/', '\u{7f}', 'é', '𝄞', '\u{2028}']),
        ],
        0..12,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

prop_compose! {
    fn record()(
        seq in any::<u64>(),
        strings in prop::collection::vec(text(), 8),
        options in prop::collection::vec(prop::option::of(text()), 5),
        input in json_value(),
        output in json_value(),
        risk in any::<f64>().prop_filter("finite", |f| f.is_finite()),
        numbers in (any::<u64>(), any::<u64>()),
        decision in prop::option::of(prop::sample::select(vec![Decision::Allow, Decision::RequireApproval, Decision::Block])),
        stage in prop::sample::select(STAGES.to_vec()),
    ) -> AuditRecord {
        AuditRecord {
            seq,
            kind: if decision.is_some() { RecordKind::Decision } else { RecordKind::Outcome },
            event_id: strings[0].clone(),
            time: Timestamp(numbers.0),
            agent: strings[1].clone(),
            run: strings[2].clone(),
            call_id: strings[3].clone(),
            action: strings[4].clone(),
            call_digest: CallDigest(strings[5].clone()),
            input,
            policy_revision: Revision(strings[6].clone()),
            mode: decision.map(|_| Mode::Monitor),
            decision,
            risk_score: risk,
            reasons: decision.iter().map(|d| Reason {
                stage,
                rule: strings[7].clone().into(),
                decision: *d,
                field: options[0].clone(),
                message: strings[0].clone(),
            }).collect(),
            outcome: if decision.is_some() { None } else { Some(Outcome::OutcomeUnknown) },
            output,
            latency_ms: numbers.1,
            sandbox_id: options[1].clone(),
            approval_id: options[2].clone(),
            effect_id: options[3].clone(),
            rollback_token: options[4].clone(),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_record_round_trips_through_its_canonical_bytes(record in record()) {
        let bytes = record.to_canonical().unwrap();
        let back = AuditRecord::from_canonical(&bytes).unwrap();
        // Compare through the bytes: -0.0 == 0.0 would hide a difference in `PartialEq`.
        prop_assert_eq!(back.to_canonical().unwrap(), bytes.clone());
        prop_assert_eq!(back, record);
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        prop_assert_eq!(canonical_json(&value).into_bytes(), bytes);
    }

    /// The fast scanner accepts every record the encoder writes.
    #[test]
    fn the_fast_scanner_accepts_every_encoded_record(record in record()) {
        let bytes = record.to_canonical().unwrap();
        prop_assert_eq!(scan(&bytes), Some(record.seq));
    }

    /// After any one-byte change, the scanner accepts only what the slow path accepts.
    #[test]
    fn the_fast_scanner_never_accepts_what_the_slow_path_refuses(
        record in record(),
        at in any::<prop::sample::Index>(),
        byte in prop::sample::select(b" \"\\/,:[]{}0123456789-+.eEnulatrfsA\n\x01\x7f\xc3\xa9".to_vec()),
    ) {
        let mut bytes = record.to_canonical().unwrap();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        let slow = decode_canonical(&bytes, &mut Vec::new()).map(|w| w.seq);
        if let Some(seq) = scan(&bytes) {
            prop_assert_eq!(slow.clone(), Ok(seq));
        }
        prop_assert_eq!(check_canonical(&bytes, &mut Vec::new()), slow);
    }

    /// A one-byte change either breaks the record or changes what it says: it never yields
    /// a different byte string that decodes to the same record.
    #[test]
    fn a_changed_byte_never_decodes_to_the_same_record(
        record in record(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let bytes = record.to_canonical().unwrap();
        let mut changed = bytes.clone();
        let i = at.index(changed.len());
        prop_assume!(changed[i] != byte);
        changed[i] = byte;
        if let Ok(decoded) = AuditRecord::from_canonical(&changed) {
            prop_assert_eq!(decoded.to_canonical().unwrap(), changed);
        }
    }
}

#[test]
fn a_refusal_record_round_trips_with_an_empty_run() {
    let mut refusal = sample();
    refusal.kind = RecordKind::Refusal;
    refusal.run = String::new();
    refusal.call_id = String::new();
    refusal.action = String::new();
    refusal.call_digest = CallDigest(String::new());
    refusal.mode = None;
    refusal.decision = None;
    refusal.reasons.clear();
    refusal.approval_id = None;
    refusal.input = json!({"role": "agent", "token_id": "t-1", "reason": "forbidden: no"});
    let bytes = refusal.to_canonical().unwrap();
    assert!(String::from_utf8_lossy(&bytes).contains(r#""kind":"refusal""#));
    assert_eq!(AuditRecord::from_canonical(&bytes).unwrap(), refusal);
    let mut scratch = Vec::new();
    assert_eq!(check_canonical(&bytes, &mut scratch).unwrap(), 7);
}
