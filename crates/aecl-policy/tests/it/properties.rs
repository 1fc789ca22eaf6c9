//! Properties of the decision path that must hold for every input, checked on random calls
//! and histories against the finance example: tightening a policy never loosens a verdict,
//! provenance never forgets an untrusted source, and `decide` is a function of its inputs.

use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use aecl_core::provenance::Provenance;
use aecl_core::{Call, Decision, Policy, RunState, Timestamp, decide};
use aecl_policy::replay::Replayer;
use aecl_policy::trace::{CallEvent, TraceEvent};
use aecl_policy::{SourceFile, is_policy_file, load};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

const NOW: Timestamp = Timestamp(1_764_000_000_000);

/// The actions of the finance catalog.
const CATALOG: [&str; 9] = [
    "read_invoice",
    "read_vendor_profile",
    "read_email",
    "generate_payment_report",
    "transfer_funds",
    "send_payment_summary",
    "delete_record",
    "modify_iam_policy",
    "bulk_export",
];

/// The agents of the finance example, and one it does not define.
const AGENTS: [&str; 3] = ["finance_agent", "finance_agent_v2", "intruder"];

/// The manifests of the finance example, with the text each has right before its
/// `blocked_actions` entries.
const MANIFESTS: [(&str, &str); 2] = [
    ("agents/finance_agent.toml", "blocked_actions = ["),
    ("agents/finance_agent_v2.json", "\"blocked_actions\": ["),
];

/// The finance example's files, named relative to its directory, as `aecl` reads them.
fn finance_files() -> &'static [SourceFile] {
    static FILES: OnceLock<Vec<SourceFile>> = OnceLock::new();
    FILES.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies/finance");
        let mut files = Vec::new();
        read_dir(&root, "", &mut files);
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files
    })
}

fn read_dir(dir: &Path, prefix: &str, out: &mut Vec<SourceFile>) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.file_type().unwrap().is_dir() {
            read_dir(&entry.path(), &format!("{name}/"), out);
        } else if is_policy_file(&entry.path()) {
            out.push(SourceFile { path: name, text: fs::read_to_string(entry.path()).unwrap() });
        }
    }
}

fn load_policy(files: &[SourceFile]) -> Policy {
    load(files).unwrap_or_else(|e| panic!("{e}\n{files:#?}")).policy
}

/// The finance policy, loaded once.
fn finance() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| load_policy(finance_files()))
}

/// A change to a policy that may only make it stricter.
#[derive(Debug, Clone)]
enum Tightening {
    /// One more entry in the `blocked_actions` of a manifest (`MANIFESTS[manifest]`).
    BlockAction { manifest: usize, action: String },
    /// One more `.cedar` file, holding one `forbid`.
    Forbid(String),
}

/// `files` with `tightenings` applied.
fn tighten(files: &[SourceFile], tightenings: &[Tightening]) -> Vec<SourceFile> {
    let mut files = files.to_vec();
    for (i, tightening) in tightenings.iter().enumerate() {
        match tightening {
            Tightening::BlockAction { manifest, action } => {
                let (path, list) = MANIFESTS[*manifest];
                let file = files.iter_mut().find(|f| f.path == path).unwrap();
                let changed = file.text.replacen(list, &format!("{list}\"{action}\", "), 1);
                assert_ne!(changed, file.text, "`{list}` in {path}");
                file.text = changed;
            }
            Tightening::Forbid(text) => {
                files
                    .push(SourceFile { path: format!("tightening-{i}.cedar"), text: text.clone() });
            }
        }
    }
    files
}

fn catalog_action() -> impl Strategy<Value = String> {
    select(CATALOG.to_vec()).prop_map(str::to_owned)
}

/// An action name: mostly from the catalog, with its effects more often than its reads,
/// sometimes one it lacks.
fn any_action() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just("transfer_funds".to_owned()),
        2 => Just("send_payment_summary".to_owned()),
        6 => catalog_action(),
        1 => select(vec!["wire_money", "drop_ledger", "TRANSFER_FUNDS"]).prop_map(str::to_owned),
    ]
}

fn any_agent() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(AGENTS[..2].to_vec()).prop_map(str::to_owned),
        1 => Just(AGENTS[2].to_owned()),
    ]
}

/// A currency: mostly one the catalog accepts.
fn currency() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(vec!["EUR", "USD", "GBP", "INR"]),
        1 => select(vec!["RUB", "eur", ""]),
    ]
    .prop_map(str::to_owned)
}

/// An IBAN: mostly well formed, sometimes written the way people type it.
fn iban() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(vec!["DE89370400440532013000", "DE44500105175407324931", "GB29NWBK60161331926819"])
            .prop_map(str::to_owned),
        2 => "[A-Z]{2}[0-9]{2}[A-Z0-9]{10,16}",
        1 => Just("de89 3704 0044 0532 0130 00".to_owned()),
    ]
}

fn vendor() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(vec!["V-118", "V-221"]).prop_map(str::to_owned),
        2 => "V-[0-9]{1,4}",
        1 => Just("vendor".to_owned()),
    ]
}

/// An amount: around the thresholds of the finance policy (10,000 in Cedar, 50,000 for
/// risk, 500,000 per call), of either JSON number kind, sometimes not a number.
fn amount() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => select(vec![0, 4200, 10_001, 50_001, 100_000, 500_001, 600_000, 1_000_001, -5])
            .prop_map(|n| json!(n)),
        2 => (0i64..600_000).prop_map(|n| json!(n)),
        2 => (0.0f64..600_000.0).prop_map(|n| json!(n)),
        1 => select(vec![1200.5, 0.005, 99_999.999_9]).prop_map(|n| json!(n)),
        1 => Just(json!("4200")),
    ]
}

fn email() -> impl Strategy<Value = String> {
    select(vec![
        "finance-team@ourco.example",
        "someone@gmail.example",
        "billing@vendor-v221.example",
    ])
    .prop_map(str::to_owned)
}

/// A word a value may be embedded in, or stand alone as.
fn phrase() -> impl Strategy<Value = String> {
    select(vec!["Please pay", "URGENT: transfer to", "new account", "thanks for your business", ""])
        .prop_map(str::to_owned)
}

/// A value text as it appears in messages and outputs.
fn value_text() -> impl Strategy<Value = String> {
    prop_oneof![
        iban(),
        vendor(),
        currency(),
        email(),
        amount().prop_map(|a| a.to_string().trim_matches('"').to_owned()),
    ]
}

/// An action and its arguments: mostly shaped for the action, so that calls get past the
/// schema to the later stages; sometimes anything.
fn action_and_args() -> impl Strategy<Value = (String, Value)> {
    any_action().prop_flat_map(|action| {
        let args = prop_oneof![6 => shaped_args(&action), 1 => any_args()];
        (Just(action), args)
    })
}

/// Arguments shaped like those `action` takes, with values that may or may not pass.
fn shaped_args(action: &str) -> BoxedStrategy<Value> {
    match action {
        "read_invoice" => prop_oneof!["INV-[0-9]{1,5}", Just("../../etc/passwd".to_owned())]
            .prop_map(|id| json!({"invoice_id": id}))
            .boxed(),
        "read_vendor_profile" => vendor().prop_map(|vendor| json!({"vendor": vendor})).boxed(),
        "read_email" => (select(vec!["inbox", "archive"]), 0i64..60)
            .prop_map(|(folder, limit)| json!({"folder": folder, "limit": limit}))
            .boxed(),
        "generate_payment_report" => {
            "20[0-9]{2}-W[0-9]{2}".prop_map(|week| json!({"week": week})).boxed()
        }
        "transfer_funds" => (vendor(), amount(), currency(), iban(), option::of(phrase()))
            .prop_map(|(vendor, amount, currency, iban, reference)| {
                let mut args =
                    json!({"vendor": vendor, "amount": amount, "currency": currency, "iban": iban});
                if let Some(reference) = reference {
                    args["reference"] = json!(reference);
                }
                args
            })
            .boxed(),
        "send_payment_summary" => (email(), phrase(), value_text())
            .prop_map(|(to, phrase, text)| json!({"to": to, "body": format!("{phrase} {text}")}))
            .boxed(),
        "bulk_export" => Just(json!({"destination": "s3://outside/ledger.csv"})).boxed(),
        _ => Just(json!({})).boxed(),
    }
}

/// Call arguments of no particular action: usually an object with some of the finance
/// arguments, sometimes not an object at all.
fn any_args() -> impl Strategy<Value = Value> {
    let object = (
        option::of(vendor()),
        option::of(amount()),
        option::of(currency()),
        option::of(iban()),
        option::of(prop_oneof!["INV-[0-9]{1,5}", Just("../../etc/passwd".to_owned())]),
        option::of(email()),
        option::of(phrase()),
        option::of(select(vec!["inbox", "archive"])),
        option::of(Just("s3://outside/ledger.csv")),
    )
        .prop_map(
            |(vendor, amount, currency, iban, invoice, to, body, folder, destination)| {
                let mut args = Map::new();
                let mut put = |key: &str, value: Option<Value>| {
                    if let Some(value) = value {
                        args.insert(key.to_owned(), value);
                    }
                };
                put("vendor", vendor.map(Value::from));
                put("amount", amount);
                put("currency", currency.map(Value::from));
                put("iban", iban.map(Value::from));
                put("invoice_id", invoice.map(Value::from));
                put("to", to.map(Value::from));
                put("body", body.map(Value::from));
                put("folder", folder.map(Value::from));
                put("destination", destination.map(Value::from));
                Value::Object(args)
            },
        );
    prop_oneof![10 => object, 1 => Just(Value::Null), 1 => Just(json!(["V-221"]))]
}

/// A call as it arrives on the wire (the `call` event without `type`), in run `r-prop`.
fn call_event(run: &'static str) -> impl Strategy<Value = CallEvent> {
    (
        0u8..6,
        action_and_args(),
        option::weighted(0.2, any_agent()),
        option::of(select(vec!["k-1", "k-2"])),
        option::of(select(vec!["n-1", "n-2"])),
        option::of(select(vec!["user", "trusted_tool", "untrusted"])),
    )
        .prop_map(move |(id, (action, args), agent, key, nonce, declared)| {
            let mut event =
                json!({"run": run, "id": format!("c{id}"), "action": action, "args": args});
            if let Some(agent) = agent {
                event["agent"] = json!(agent);
            }
            if let Some(key) = key {
                event["idempotency_key"] = json!(key);
            }
            if let Some(nonce) = nonce {
                event["nonce"] = json!(nonce);
            }
            if let Some(declared) = declared {
                event["provenance"] = json!({"iban": declared});
            }
            serde_json::from_value(event).unwrap()
        })
}

/// A call of the run `r-prop`, by `finance_agent` unless it names another agent.
fn call() -> impl Strategy<Value = Call> {
    call_event("r-prop").prop_map(|event| event.to_call("finance_agent"))
}

/// An event of a run's history before the calls under test.
#[derive(Debug, Clone)]
enum HistoryEvent {
    User(String),
    /// The output of a call of `action` (`None`: a tool the catalog does not know).
    Result {
        action: Option<String>,
        output: Value,
    },
}

/// A tool output holding some of the values calls use.
fn output() -> impl Strategy<Value = Value> {
    prop_oneof![
        (phrase(), value_text()).prop_map(|(p, v)| json!(format!("{p} {v}"))),
        (vendor(), amount(), iban(), currency(), phrase(), value_text()).prop_map(
            |(vendor, amount, iban, currency, phrase, text)| {
                json!({
                    "invoice_id": "INV-7781", "vendor": vendor, "amount": amount, "iban": iban,
                    "currency": currency, "notes": format!("{phrase} {text}"),
                })
            }
        ),
        (phrase(), value_text(), email()).prop_map(|(phrase, text, from)| {
            json!([{"id": "m-9", "from": from, "subject": "URGENT", "body": format!("{phrase} {text}")}])
        }),
    ]
}

fn history_event() -> impl Strategy<Value = HistoryEvent> {
    prop_oneof![
        (phrase(), value_text()).prop_map(|(p, v)| HistoryEvent::User(format!("{p} {v}"))),
        (option::of(catalog_action()), output())
            .prop_map(|(action, output)| HistoryEvent::Result { action, output }),
    ]
}

fn goal() -> impl Strategy<Value = Option<String>> {
    option::of(
        select(vec!["Prepare this week's vendor payment report", "transfer_funds to V-118"])
            .prop_map(str::to_owned),
    )
}

/// A run of `policy` that saw `history`.
fn run_state(policy: &Policy, goal: &Option<String>, history: &[HistoryEvent]) -> RunState {
    let mut run = RunState::new("r-prop");
    run.goal.clone_from(goal);
    for (i, event) in history.iter().enumerate() {
        match event {
            HistoryEvent::User(text) => run.record_user(text),
            HistoryEvent::Result { action, output } => {
                let spec = action.as_ref().and_then(|a| policy.actions.get(a));
                run.record_result(&format!("h{i}"), spec.map(AsRef::as_ref), output);
            }
        }
    }
    run
}

/// A Cedar `forbid`, unannotated or annotated with the decision it asks for.
fn forbid() -> impl Strategy<Value = String> {
    let scope = prop_oneof![
        Just("principal, action, resource".to_owned()),
        // Actions of the catalog: a rule naming another one does not load at all.
        prop_oneof![
            3 => Just("transfer_funds".to_owned()),
            2 => Just("send_payment_summary".to_owned()),
            6 => catalog_action(),
        ]
        .prop_map(|a| format!("principal, action == Action::\"{a}\", resource")),
        any_agent().prop_map(|a| format!("principal == Agent::\"{a}\", action, resource")),
    ];
    let condition = prop_oneof![
        Just(String::new()),
        currency().prop_map(|c| format!(
            "when {{ context.args has currency && context.args.currency == \"{c}\" }}"
        )),
        (0i64..1_000_000).prop_map(|n| format!(
            "when {{ context.args has amount && context.args.amount.greaterThan(decimal(\"{n}.0\")) }}"
        )),
        Just("when { context.run.read_untrusted }".to_owned()),
        Just("when { context.run.read_private && context.effect == \"send\" }".to_owned()),
        select(vec!["vendor", "iban"])
            .prop_map(|a| format!("when {{ context.untrusted_args.contains(\"{a}\") }}")),
        select(vec!["read", "payment", "send", "admin"])
            .prop_map(|e| format!("when {{ context.effect == \"{e}\" }}")),
        Just("unless { context.run.goal like \"*report*\" }".to_owned()),
        select(vec!["allow", "require_approval"])
            .prop_map(|d| format!("when {{ context.decision_so_far == \"{d}\" }}")),
        Just("when { context.risk.greaterThan(decimal(\"0.5\")) }".to_owned()),
    ];
    let annotation = select(vec![
        "",
        "@decision(\"require_approval\")\n",
        "@decision(\"block\")\n",
        "@reason(\"tightened\")\n",
    ]);
    (annotation, scope, condition).prop_map(|(annotation, scope, condition)| {
        format!("// Added by a property test.\n{annotation}forbid ({scope})\n{condition};\n")
    })
}

fn tightening() -> impl Strategy<Value = Tightening> {
    prop_oneof![
        (0..MANIFESTS.len(), any_action())
            .prop_map(|(manifest, action)| Tightening::BlockAction { manifest, action }),
        forbid().prop_map(Tightening::Forbid),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Adding a blocked action or a Cedar `forbid` never makes a verdict more permissive.
    #[test]
    fn tightening_a_policy_never_loosens_a_verdict(
        tightenings in vec(tightening(), 1..4),
        goal in goal(),
        history in vec(history_event(), 0..6),
        calls in vec(call(), 1..8),
    ) {
        let original = finance();
        // A forbid the validator refuses (its condition can never hold for the actions it
        // names, say `has currency` on an action without one) makes the whole policy fail
        // to load, which is stricter still: the property is about policies that load.
        let tightened = load(&tighten(finance_files(), &tightenings));
        prop_assume!(tightened.is_ok());
        let tightened = tightened.unwrap().policy;
        let before_run = run_state(original, &goal, &history);
        let after_run = run_state(&tightened, &goal, &history);
        for call in &calls {
            let before = decide(original, call, &before_run, NOW);
            let after = decide(&tightened, call, &after_run, NOW);
            prop_assert!(
                after.decision >= before.decision,
                "{call:#?}\nwas {before:#?}\nbecame {after:#?}"
            );
            let blocked_here = tightenings.iter().any(|t| matches!(t,
                Tightening::BlockAction { manifest, action }
                    if *action == call.action && MANIFESTS[*manifest].0.contains(&format!("/{}.", call.agent))
            ));
            if blocked_here {
                prop_assert_eq!(after.decision, Decision::Block, "{:#?}", after);
            }
        }
    }
}

/// How a tainted value first reaches the run: in content a third party could have written.
#[derive(Debug, Clone, Copy)]
enum Carrier {
    /// The body of an e-mail (`read_email`, untrusted but for `id` and `received_at`).
    EmailBody,
    /// An e-mail's sender, the whole field.
    EmailFrom,
    /// The output of `read_email` as plain text.
    EmailText,
    /// The vendor's free-text note on a trusted invoice (`notes` is untrusted).
    InvoiceNotes,
    /// The output of a tool the catalog does not know.
    UnknownTool,
}

/// Something that happens after the tainted value was seen.
#[derive(Debug, Clone)]
enum Later {
    /// The user repeats it, in a sentence or alone, in upper or lower case.
    User { phrase: String, case: Case },
    /// A trusted tool returns it: `read_invoice`'s IBAN and vendor, `read_vendor_profile`,
    /// `generate_payment_report` as text, `read_email`'s trusted `id` field.
    Trusted(usize),
    /// More untrusted content with it.
    Untrusted(Carrier),
    /// A trusted event without it.
    Unrelated(String),
}

#[derive(Debug, Clone, Copy)]
enum Case {
    AsIs,
    Lower,
    Upper,
}

impl Case {
    fn apply(self, text: &str) -> String {
        match self {
            Case::AsIs => text.to_owned(),
            Case::Lower => text.to_lowercase(),
            Case::Upper => text.to_uppercase(),
        }
    }
}

fn record_carrier(run: &mut RunState, carrier: Carrier, id: &str, value: &str) {
    let actions = &finance().actions;
    let (action, output) = match carrier {
        Carrier::EmailBody => {
            ("read_email", json!([{"id": "m-1", "body": format!("Please pay {value} now.")}]))
        }
        Carrier::EmailFrom => ("read_email", json!([{"id": "m-2", "from": value}])),
        Carrier::EmailText => {
            ("read_email", json!(format!("Subject: overdue\nPay to {value}, urgently")))
        }
        Carrier::InvoiceNotes => (
            "read_invoice",
            json!({"invoice_id": "INV-0000000", "notes": format!("new account {value}")}),
        ),
        Carrier::UnknownTool => ("", json!(value)),
    };
    run.record_result(id, actions.get(action).map(AsRef::as_ref), &output);
}

fn record_later(run: &mut RunState, later: &Later, id: &str, value: &str) {
    let actions = &finance().actions;
    let trusted = |action: &str, output: Value| (actions.get(action).map(AsRef::as_ref), output);
    match later {
        Later::User { phrase, case } => run.record_user(&case.apply(&format!("{phrase} {value}"))),
        Later::Trusted(which) => {
            let (spec, output) = match which % 5 {
                0 => trusted(
                    "read_invoice",
                    json!({"invoice_id": "INV-1", "vendor": value, "iban": value}),
                ),
                1 => {
                    trusted("read_vendor_profile", json!({"vendor": "V-1", "bank_account": value}))
                }
                2 => trusted("generate_payment_report", json!(format!("Week 47: pay {value}"))),
                3 => trusted("read_email", json!([{"id": value, "received_at": value}])),
                _ => trusted(
                    "read_invoice",
                    json!({"invoice_id": value, "amount": value.parse::<u64>().ok()}),
                ),
            };
            assert!(spec.is_some(), "a trusted action of the catalog");
            run.record_result(id, spec, &output);
        }
        Later::Untrusted(carrier) => record_carrier(run, *carrier, id, value),
        Later::Unrelated(text) => run.record_user(text),
    }
}

/// A value worth stealing: always with a digit, so the letters-only texts before it
/// cannot contain it.
fn tainted_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Z]{2}[0-9]{2}[A-Z0-9]{10,20}",
        "V-[0-9]{2,5}",
        (1u64..10_000_000).prop_map(|n| n.to_string()),
        "[a-z]{3,8}[0-9]{1,3}@[a-z]{3,8}\\.example",
        "INV-[0-9]{1,6}",
        "Zürich-[0-9]{4,10}",
        "https://[a-z]{3,10}\\.example/pay/[0-9]{1,5}",
    ]
}

fn carrier() -> impl Strategy<Value = Carrier> {
    select(vec![
        Carrier::EmailBody,
        Carrier::EmailFrom,
        Carrier::EmailText,
        Carrier::InvoiceNotes,
        Carrier::UnknownTool,
    ])
}

fn later() -> impl Strategy<Value = Later> {
    prop_oneof![
        (phrase(), select(vec![Case::AsIs, Case::Lower, Case::Upper]))
            .prop_map(|(phrase, case)| Later::User { phrase, case }),
        (0usize..5).prop_map(Later::Trusted),
        carrier().prop_map(Later::Untrusted),
        "[a-z ]{0,40}".prop_map(Later::Unrelated),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A value seen first in untrusted content stays untrusted, whatever trusted sources
    /// repeat it later: otherwise a tool that echoes its input would launder it.
    #[test]
    fn a_value_first_seen_untrusted_never_becomes_trusted(
        value in tainted_value(),
        before in vec("[a-z ]{1,40}", 0..3),
        carrier in carrier(),
        later in vec(later(), 1..10),
    ) {
        let mut run = RunState::new("r-taint");
        for text in &before {
            run.record_user(text);
        }
        prop_assert_eq!(run.provenance_of(&value), Provenance::Unseen);
        record_carrier(&mut run, carrier, "c0", &value);
        prop_assert!(
            matches!(run.provenance_of(&value), Provenance::UntrustedOnly { .. }),
            "{value} after {carrier:?}: {:?}", run.provenance_of(&value)
        );
        let mut queries = vec![value.clone(), value.to_lowercase(), value.to_uppercase()];
        if value.chars().count() >= aecl_core::provenance::MIN_SUBSTRING_LEN {
            // Long values are matched with white space ignored.
            let (head, tail) = value.split_at(value.char_indices().nth(4).map_or(0, |(i, _)| i));
            queries.push(format!("{head} {tail}"));
        }
        for (i, event) in later.iter().enumerate() {
            record_later(&mut run, event, &format!("c{}", i + 1), &value);
            for query in &queries {
                let provenance = run.provenance_of(query);
                prop_assert!(
                    !matches!(provenance, Provenance::Trusted { .. }),
                    "`{query}` became trusted after {:?}: {provenance:?}", &later[..=i]
                );
            }
        }
    }
}

/// A trace event of one of two runs.
fn trace_event() -> impl Strategy<Value = TraceEvent> {
    let run = select(vec!["r1", "r2"]);
    prop_oneof![
        1 => (run.clone(), option::of(any_agent()), goal()).prop_map(|(run, agent, goal)| {
            serde_json::from_value(json!({"type": "run", "run": run, "agent": agent, "goal": goal})).unwrap()
        }),
        2 => (run.clone(), phrase(), value_text()).prop_map(|(run, p, v)| {
            TraceEvent::User { run: run.to_owned(), text: format!("{p} {v}") }
        }),
        4 => prop_oneof![call_event("r1"), call_event("r2")].prop_map(TraceEvent::Call),
        3 => (run.clone(), 0u8..6, output()).prop_map(|(run, id, output)| {
            TraceEvent::Result { run: run.to_owned(), id: format!("c{id}"), output }
        }),
        1 => run.prop_map(|run| TraceEvent::End { run: run.to_owned() }),
    ]
}

/// The finance policy loaded a second time, from the same files.
fn finance_again() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| load_policy(finance_files()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The same call against the same run gives the same verdict: twice in a row, against a
    /// clone of the run, and against the same policy loaded again.
    #[test]
    fn decide_is_a_function_of_its_inputs(
        goal in goal(),
        history in vec(history_event(), 0..6),
        calls in vec(call(), 1..6),
    ) {
        let policy = finance();
        let run = run_state(policy, &goal, &history);
        let cloned = run.clone();
        prop_assert_eq!(&policy.revision, &finance_again().revision);
        for call in &calls {
            let first = decide(policy, call, &run, NOW);
            prop_assert_eq!(&first, &decide(policy, call, &run, NOW));
            prop_assert_eq!(&first, &decide(policy, call, &cloned, NOW));
            prop_assert_eq!(&first, &decide(finance_again(), call, &run, NOW));
        }
    }

    /// Replaying the same events in fresh runs gives the same verdicts, call for call.
    #[test]
    fn replaying_the_same_events_gives_the_same_verdicts(events in vec(trace_event(), 1..24)) {
        let agent = Some("finance_agent".to_owned());
        let mut first = Replayer::new(finance(), agent.clone(), NOW);
        let mut second = Replayer::new(finance_again(), agent, NOW);
        for event in &events {
            let a = first.apply(event);
            let b = second.apply(event);
            match (a, b) {
                (Ok(Some(a)), Ok(Some(b))) => {
                    prop_assert_eq!(&a.call, &b.call);
                    prop_assert_eq!(a.verdict, b.verdict);
                }
                (a, b) => prop_assert_eq!(a.map(|d| d.is_some()), b.map(|d| d.is_some())),
            }
        }
        prop_assert_eq!(first.open_runs(), second.open_runs());
    }
}
