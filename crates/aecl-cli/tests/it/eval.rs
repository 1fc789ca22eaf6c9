//! `aecl eval`: one call decided, as JSON or explained for a person; bad call files exit 2
//! with their place.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{Outcome, finance, repo, run, temp_dir, write};

fn demo_call() -> PathBuf {
    repo("examples/calls/pay-vendor-immediately.json")
}

fn demo_trace() -> PathBuf {
    repo("examples/traces/finance-vendor-email.jsonl")
}

fn eval(call: &Path, extra: &[&str]) -> Outcome {
    let mut args: Vec<OsString> = vec!["eval".into(), "--policy".into(), finance().into()];
    args.extend(["--call".into(), call.into()]);
    args.extend(extra.iter().map(OsString::from));
    run(args)
}

/// The `rule` of every reason of a JSON verdict.
fn rules(verdict: &Value) -> Vec<&str> {
    verdict["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| r["rule"].as_str().expect("rule"))
        .collect()
}

#[test]
fn json_verdict_carries_decision_reasons_risk_and_revision() {
    let out = eval(&demo_call(), &[]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let verdict: Value = serde_json::from_str(&out.stdout).expect("the verdict is JSON");
    assert_eq!(verdict["decision"], "require_approval");
    assert_eq!(verdict["mode"], "enforce");
    let reasons = verdict["reasons"].as_array().expect("reasons");
    assert!(!reasons.is_empty());
    for reason in reasons {
        for key in ["stage", "rule", "message", "decision"] {
            assert!(reason[key].is_string(), "`{key}` in {reason}");
        }
    }
    let rules = rules(&verdict);
    for rule in [
        "manifest.context_rules",
        "approval.always",
        "risk.irreversible",
        "risk.approval_threshold",
    ] {
        assert!(rules.contains(&rule), "{rule} in {rules:?}");
    }
    let context =
        reasons.iter().find(|r| r["rule"] == "manifest.context_rules").expect("the context rule");
    assert_eq!(context["stage"], "manifest");
    assert_eq!(context["decision"], "require_approval");

    let risk = &verdict["risk"];
    assert_eq!(risk["score"], 0.9);
    assert_eq!(risk["approval_threshold"], 0.6);
    let factors: Vec<&str> = risk["contributions"]
        .as_array()
        .expect("contributions")
        .iter()
        .map(|c| {
            assert!(c["weight"].is_number() && c["detail"].is_string(), "{c}");
            c["factor"].as_str().expect("factor")
        })
        .collect();
    assert_eq!(factors, ["amount", "irreversible", "new_payee"]);
    assert_eq!(verdict["approval_expires_in_secs"], 3600);

    // The revision is the one `aecl check` reports for the same directory.
    let revision = verdict["policy_revision"].as_str().expect("policy_revision");
    assert_eq!(revision.len(), 64, "{revision}");
    assert!(revision.bytes().all(|b| b.is_ascii_hexdigit()), "{revision}");
    let check = run([Path::new("check"), &finance()]);
    assert!(check.stdout.trim_end().ends_with(&format!("revision {revision}")), "{check:#?}");
}

#[test]
fn trace_before_the_call_changes_the_verdict() {
    let out = eval(&demo_call(), &["--trace", demo_trace().to_str().expect("a UTF-8 path")]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let verdict: Value = serde_json::from_str(&out.stdout).expect("the verdict is JSON");
    let rules = rules(&verdict);
    assert!(rules.contains(&"data_flow.untrusted_control_argument"), "{rules:?}");
    assert!(rules.contains(&"cedar:large-amount-after-untrusted-read"), "{rules:?}");
    assert_eq!(verdict["risk"]["score"], 1.0);
}

#[test]
fn explain_shows_require_approval_for_the_demo_scenario() {
    let trace = demo_trace();
    let out = eval(&demo_call(), &["--trace", trace.to_str().expect("a UTF-8 path"), "--explain"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let text = &out.stdout;
    assert!(text.contains("verdict  REQUIRE_APPROVAL"), "{text}");
    for expected in [
        "call     c3 transfer_funds",
        "agent `finance_agent`, run `r-2041`",
        "manifest.context_rules",
        "data_flow.untrusted_control_argument `iban`",
        "it appears only in untrusted content (c2 read_email[0].body)",
        "risk.approval_threshold",
        "cedar:large-amount-after-untrusted-read",
        "risk     1.00 (approval above 0.60)",
        "+0.50 amount",
        "approval a human must approve within 3600 s",
    ] {
        assert!(text.contains(expected), "`{expected}` in:\n{text}");
    }
}

#[test]
fn call_file_with_invalid_json_exits_2_with_its_place() {
    let dir = temp_dir();
    let call = write(
        dir.path(),
        "call.json",
        "{\n  \"run\": \"r1\",\n  \"id\": \"c1\",\n  \"action\": \n}\n",
    );
    let out = eval(&call, &[]);
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stderr.contains(&format!("{}:5:1:", call.display())), "{out:#?}");
    assert!(out.stdout.is_empty(), "{out:#?}");
}

#[test]
fn call_file_with_unknown_field_exits_2_with_its_place() {
    let dir = temp_dir();
    let call = write(
        dir.path(),
        "call.json",
        "{\n  \"run\": \"r1\",\n  \"id\": \"c1\",\n  \"action\": \"read_invoice\",\n  \
         \"args\": {\"invoice_id\": \"INV-1\"},\n  \"agnt\": \"finance_agent\"\n}\n",
    );
    let out = eval(&call, &[]);
    assert_eq!(out.code, Some(2), "{out:#?}");
    let expected = format!("{}:6:8: unknown field `agnt`", call.display());
    assert!(out.stderr.contains(&expected), "{out:#?}");
    assert!(out.stdout.is_empty(), "{out:#?}");
}

#[test]
fn call_without_agent_exits_2() {
    let dir = temp_dir();
    let call = write(
        dir.path(),
        "call.json",
        r#"{"run":"r1","id":"c1","action":"read_invoice","args":{"invoice_id":"INV-1"}}"#,
    );
    let out = eval(&call, &[]);
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stderr.contains("has no agent"), "{out:#?}");
    assert!(out.stdout.is_empty(), "{out:#?}");

    // `--agent` supplies it.
    let out = eval(&call, &["--agent", "finance_agent"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let verdict: Value = serde_json::from_str(&out.stdout).expect("the verdict is JSON");
    assert_eq!(verdict["decision"], "allow", "{verdict}");
}

#[test]
fn missing_call_file_exits_2() {
    let dir = temp_dir();
    let out = eval(&dir.path().join("nothing.json"), &[]);
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stderr.contains("nothing.json"), "{out:#?}");
}
