//! Test files: parsing with places, passing and failing calls, histories from a trace, and
//! outputs that feed the calls after them.

use aecl_core::{Policy, Timestamp};

use super::{ParsedTests, Tally, TestOutcome, parse_tests, run_tests};
use crate::{SourceFile, load};

const NOW: Timestamp = Timestamp(1_700_000_000_000);

/// `payer` may read mail (untrusted output) and pay (the IBAN is a control argument).
fn policy() -> Policy {
    let files = [
        ("agents/payer.toml", "agent_id = \"payer\"\nallowed_actions = [\"read_mail\", \"pay\"]\n"),
        (
            "catalog.toml",
            r#"
[actions.read_mail]
effect = "read"

[actions.pay]
effect = "payment"
reversibility = "irreversible"
schema = { type = "object", properties = { iban = { type = "string" }, amount = { type = "number" } } }

[actions.pay.args.iban]
control = true

[actions.pay.approval]
waive_irreversible = "tested alone"
when = ["amount > 1000"]
"#,
        ),
    ];
    let files: Vec<SourceFile> = files
        .iter()
        .map(|(path, text)| SourceFile { path: (*path).to_owned(), text: (*text).to_owned() })
        .collect();
    load(&files).unwrap().policy
}

fn parsed(text: &str) -> ParsedTests {
    parse_tests("tests/pay.toml", text).unwrap_or_else(|p| panic!("{p}"))
}

fn outcomes(text: &str, traces: &[(&str, &str)]) -> Vec<TestOutcome> {
    let mut read = |name: &str| {
        traces
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| (*t).to_owned())
            .ok_or_else(|| "no such file".to_owned())
    };
    run_tests(&policy(), &parsed(text), &mut read, NOW)
}

const TESTS: &str = r#"
[[tests]]
name = "a small payment runs"

[[tests.calls]]
action = "pay"
args = { iban = "GB29NWBK60161331926819", amount = 10 }
expect = "allow"

[[tests]]
name = "above 1000 asks"

[[tests.calls]]
action = "pay"
args = { iban = "GB29NWBK60161331926819", amount = 1000.5 }
expect = "require_approval"
expect_rules = ["approval.when"]

[[tests]]
name = "wrongly expected"

[[tests.calls]]
action = "pay"
args = { iban = "GB29NWBK60161331926819", amount = 5000 }
expect = "allow"
"#;

#[test]
fn passing_and_failing_tests_are_told_apart_at_their_lines() {
    let results = outcomes(TESTS, &[]);
    assert_eq!(Tally::of(&results), Tally { passed: 2, failed: 1 });
    let failed = &results[2];
    assert_eq!((failed.line, failed.column, failed.name.as_str()), (19, 1, "wrongly expected"));
    let failure = failed.failure.as_deref().unwrap();
    assert!(
        failure.starts_with("call 1 (`pay`): expected `allow`, got `require_approval`"),
        "{failure}"
    );
    assert!(failure.contains("approval.when"), "{failure}");
    let problem = failed.problem().unwrap().to_string();
    assert!(problem.starts_with("tests/pay.toml:19:1: test `wrongly expected`: "), "{problem}");
    assert_eq!(results[0].problem(), None);
}

#[test]
fn an_expected_rule_missing_from_the_reasons_fails() {
    let text =
        TESTS.replace("expect_rules = [\"approval.when\"]", "expect_rules = [\"risk.amount\"]");
    let results = outcomes(&text, &[]);
    let failure = results[1].failure.as_deref().unwrap();
    assert!(failure.contains("expected rule `risk.amount` among the reasons"), "{failure}");
}

const FROM_MAIL: &str = r#"
[[tests]]
name = "an IBAN read in an e-mail needs approval"
trace = "mail.jsonl"

[[tests.calls]]
action = "pay"
args = { iban = "DE44500105175407324931", amount = 10 }
expect = "require_approval"
expect_rules = ["data_flow.untrusted_control_argument"]
"#;

const MAIL_TRACE: &str = r#"{"type":"run","run":"r1","agent":"payer","goal":"pay the invoice"}
{"type":"call","run":"r1","id":"c1","action":"read_mail","args":{}}
{"type":"result","run":"r1","id":"c1","output":"Please pay to DE44500105175407324931 today"}
{"type":"user","run":"r2","text":"DE44500105175407324931"}
"#;

#[test]
fn a_trace_gives_the_run_its_history() {
    let results = outcomes(FROM_MAIL, &[("mail.jsonl", MAIL_TRACE)]);
    assert_eq!(results[0].failure, None);
    // Run r2, where the user gave the IBAN, allows it.
    let text = FROM_MAIL.replace(
        "trace = \"mail.jsonl\"",
        "trace = \"mail.jsonl\"\nrun = \"r2\"\nagent = \"payer\"",
    );
    let results = outcomes(&text, &[("mail.jsonl", MAIL_TRACE)]);
    assert!(results[0].failure.as_deref().unwrap().contains("got `allow`"), "{results:?}");
}

#[test]
fn a_missing_or_broken_trace_fails_the_test() {
    let results = outcomes(FROM_MAIL, &[]);
    assert_eq!(results[0].failure.as_deref(), Some("trace `mail.jsonl`: no such file"));
    let results = outcomes(FROM_MAIL, &[("mail.jsonl", "{\"type\":\"usr\"}\n")]);
    assert!(results[0].failure.as_deref().unwrap().starts_with("trace `mail.jsonl`: line 1:"));
}

#[test]
fn an_output_feeds_the_calls_after_it_and_inline_history_counts() {
    let text = r#"
[[tests]]
name = "output then pay"

[[tests.calls]]
action = "read_mail"
expect = "allow"
output = "pay DE44500105175407324931"

[[tests.calls]]
action = "pay"
args = { iban = "DE44500105175407324931", amount = 10 }
expect = "require_approval"

[[tests]]
name = "the user said it"
history = [{ type = "user", text = "pay DE44500105175407324931" }]

[[tests.calls]]
action = "pay"
args = { iban = "DE44500105175407324931", amount = 10 }
expect = "allow"
"#;
    let results = outcomes(text, &[]);
    assert_eq!(results.iter().map(|r| r.failure.clone()).collect::<Vec<_>>(), vec![None, None]);
}

#[test]
fn malformed_files_are_problems_with_places() {
    let problem =
        parse_tests("t.toml", "[[tests]]\nname = \"x\"\nexpct = \"allow\"\n").unwrap_err();
    assert_eq!((problem.line, problem.column), (3, 1));
    assert!(problem.message.contains("unknown field `expct`"), "{problem}");
    let problem = parse_tests("t.toml", "# nothing\n").unwrap_err();
    assert!(problem.message.contains("missing field `tests`"), "{problem}");
    let problem = parse_tests("t.toml", "tests = []\n").unwrap_err();
    assert!(problem.message.contains("no `[[tests]]`"), "{problem}");
    let results = outcomes("[[tests]]\nname = \"empty\"\ncalls = []\n", &[]);
    assert!(results[0].failure.as_deref().unwrap().contains("at least one call"));
    let results = outcomes(
        "[[tests]]\nname = \"ghost\"\n[[tests.calls]]\naction = \"ghost\"\nexpect = \"block\"\n",
        &[],
    );
    assert!(results[0].failure.as_deref().unwrap().contains("no agent allows `ghost`"));
}
