//! Shared set-up of the decide benchmarks: the finance policy, a 50-event run and calls.

use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use aecl_core::{Call, Policy, RunState};
use aecl_policy::SourceFile;
use cedar_policy::{Context, Entities, EntityUid, PolicySet, Request, RestrictedExpression};
use serde_json::json;

fn finance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies/finance")
}

fn files(dir: &Path, with_cedar: bool, out: &mut Vec<SourceFile>) {
    let mut entries: Vec<PathBuf> =
        fs::read_dir(dir).expect("finance example").flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, with_cedar, out);
        } else if aecl_policy::is_policy_file(&path)
            && (with_cedar || !path.to_string_lossy().ends_with(".cedar"))
        {
            let text = fs::read_to_string(&path).expect("policy file");
            out.push(SourceFile { path: path.display().to_string(), text });
        }
    }
}

/// The finance example policy, with or without its `.cedar` rules.
pub fn finance_policy(with_cedar: bool) -> Policy {
    let mut sources = Vec::new();
    files(&finance_dir(), with_cedar, &mut sources);
    let loaded = aecl_policy::load(&sources).expect("finance policy loads");
    assert_eq!(loaded.policy.rules.is_some(), with_cedar);
    loaded.policy
}

/// A run of 50 events: the user's request, then invoices (trusted), e-mails (untrusted)
/// and vendor profiles read in turn, with the calls that fetched them.
pub fn run_with_history(policy: &Policy) -> RunState {
    let mut run = RunState::new("r-bench");
    run.agent = Some("finance_agent".to_owned());
    run.goal = Some("Prepare this week's vendor payment report".to_owned());
    run.record_user(
        "Prepare this week's vendor payment report from the open invoices; pay V-118 4200 EUR.",
    );
    let mut events = 1;
    let mut i = 0;
    while events < 50 {
        i += 1;
        let (action, args, output) = match i % 3 {
            0 => (
                "read_invoice",
                json!({"invoice_id": format!("INV-{i}")}),
                json!({"invoice_id": format!("INV-{i}"), "vendor": format!("V-{i}"), "amount": 100 * i,
                       "iban": format!("DE44500105175407{i:06}"), "notes": "net 30"}),
            ),
            1 => (
                "read_email",
                json!({"folder": "inbox", "limit": 5}),
                json!([{"id": format!("m-{i}"), "from": "billing@vendor.example",
                        "subject": "Invoice reminder", "body": format!("Please pay invoice INV-{i} to account GB29NWBK6016133192{i:04} soon.")}]),
            ),
            _ => (
                "read_vendor_profile",
                json!({"vendor": format!("V-{i}")}),
                json!({"vendor": format!("V-{i}"), "name": format!("Vendor {i} Ltd"), "iban": format!("DE89370400440532{i:06}")}),
            ),
        };
        let call = call(action, args, &format!("h{i}"));
        let verdict = aecl_core::decide(policy, &call, &run, aecl_core::Timestamp(0));
        run.record_call(&call, &verdict, policy.actions.get(action).map(|a| a.as_ref()));
        run.record_result(&call.id, policy.actions.get(action).map(|a| a.as_ref()), &output);
        events += 2;
    }
    run
}

pub fn call(action: &str, args: serde_json::Value, id: &str) -> Call {
    Call {
        id: id.to_owned(),
        agent: "finance_agent".to_owned(),
        run: "r-bench".to_owned(),
        action: action.to_owned(),
        args,
        ..Call::default()
    }
}

/// The calls measured: an allowed read and the full pipeline of a transfer.
pub fn read_call() -> Call {
    call("read_invoice", json!({"invoice_id": "INV-7781"}), "c-read")
}

pub fn transfer_call() -> Call {
    call(
        "transfer_funds",
        json!({"vendor": "V-118", "amount": 4200, "currency": "EUR", "iban": "DE44500105175407000003"}),
        "c-pay",
    )
}

/// The baseline: the finance manifest written as Cedar, and a request like `transfer_call`.
pub struct CedarBaseline {
    pub policies: PolicySet,
    pub request: Request,
    pub entities: Entities,
}

pub fn cedar_baseline() -> CedarBaseline {
    let text = r#"
        permit (principal == Agent::"finance_agent",
                action in [Action::"read_invoice", Action::"read_vendor_profile", Action::"read_email",
                           Action::"generate_payment_report", Action::"transfer_funds", Action::"send_payment_summary"],
                resource);
        forbid (principal == Agent::"finance_agent",
                action in [Action::"delete_record", Action::"modify_iam_policy", Action::"bulk_export"],
                resource);
        forbid (principal, action == Action::"transfer_funds", resource)
        when { context.args.amount > 500000 };
    "#;
    let policies = PolicySet::from_str(text).expect("baseline policies parse");
    let args = RestrictedExpression::new_record([
        ("vendor".to_owned(), RestrictedExpression::new_string("V-118".to_owned())),
        ("amount".to_owned(), RestrictedExpression::new_long(4200)),
        ("currency".to_owned(), RestrictedExpression::new_string("EUR".to_owned())),
        ("iban".to_owned(), RestrictedExpression::new_string("DE44500105175407000003".to_owned())),
    ])
    .expect("record");
    let context = Context::from_pairs([("args".to_owned(), args)]).expect("context");
    let request = Request::new(
        EntityUid::from_str(r#"Agent::"finance_agent""#).expect("uid"),
        EntityUid::from_str(r#"Action::"transfer_funds""#).expect("uid"),
        EntityUid::from_str(r#"Run::"r-bench""#).expect("uid"),
        context,
        None,
    )
    .expect("request");
    CedarBaseline { policies, request, entities: Entities::empty() }
}
