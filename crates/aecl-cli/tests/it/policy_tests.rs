//! Policy authoring: `aecl test` on passing and failing fixtures, `aecl check` running the
//! test files and validating Cedar rules against the catalog's schema (also when `aecl
//! serve` starts), `--emit-cedar-schema`, and arguments converted for Cedar only where a
//! rule can apply.

use std::fs;
use std::path::Path;

use crate::{copy_dir, finance, repo, run, temp_dir, write};

#[test]
fn aecl_test_passes_the_finance_examples_tests() {
    let out = run([Path::new("test"), &finance()]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let lines = out.lines();
    let passed: Vec<&&str> = lines.iter().filter(|l| l.starts_with("PASS ")).collect();
    assert_eq!(passed.len(), 4, "{out:#?}");
    assert!(passed[0].ends_with("transfers.toml: the payment summary goes to the finance team"));
    assert_eq!(lines.last().copied(), Some("PASS: 4/4"), "{out:#?}");
    assert!(!out.stdout.contains("FAIL"), "{out:#?}");
}

#[test]
fn aecl_test_fails_with_each_failure_at_its_place() {
    let fixture = repo("test_data/policy_tests/finance-failing.toml");
    let out = run([Path::new("test"), &finance(), Path::new("--tests"), &fixture]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let lines = out.lines();
    let fails: Vec<&&str> = lines.iter().filter(|l| l.starts_with("FAIL ")).collect();
    assert_eq!(fails.len(), 2, "{out:#?}");
    let at = |line: usize| format!("FAIL {}:{line}:1: test ", fixture.display());
    assert!(fails[0].starts_with(&at(13)), "{}", fails[0]);
    assert!(
        fails[0].contains("call 1 (`transfer_funds`): expected `allow`, got `require_approval`"),
        "{}",
        fails[0]
    );
    assert!(fails[0].contains("manifest.context_rules"), "{}", fails[0]);
    assert!(fails[1].starts_with(&at(21)), "{}", fails[1]);
    assert!(fails[1].contains("expected rule `data_flow.exfiltration` among the reasons"));
    assert_eq!(lines.iter().filter(|l| l.starts_with("PASS ")).count(), 1, "{out:#?}");
    assert_eq!(&lines[lines.len() - 2..], ["PASS: 1/3", "FAIL: 2/3"], "{out:#?}");
}

#[test]
fn a_malformed_test_file_or_no_tests_fails() {
    let dir = temp_dir();
    let bad = write(dir.path(), "bad.toml", "[[tests]]\nname = \"x\"\nexpct = \"allow\"\n");
    let out = run([Path::new("test"), &finance(), Path::new("--tests"), dir.path()]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let error = format!("ERROR {}:3:1: unknown field `expct`", bad.display());
    assert!(out.stdout.lines().any(|l| l.starts_with(&error)), "{out:#?}");
    assert!(out.stdout.contains("ERROR: 1 test file(s) could not be read"), "{out:#?}");

    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let out = run([Path::new("test"), &finance(), Path::new("--tests"), &empty]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(out.stdout.starts_with("no test files"), "{out:#?}");
}

#[test]
fn aecl_check_runs_the_test_files_of_the_directory() {
    let dir = temp_dir();
    let policy = dir.path().join("finance");
    copy_dir(&finance(), &policy);
    // The test files are beside the policy, not part of it: they load and check.
    let out = run([Path::new("check"), &policy]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.contains("7 example(s) passed, 4 test(s) passed; revision"), "{out:#?}");

    let failing = fs::read_to_string(repo("test_data/policy_tests/finance-failing.toml")).unwrap();
    let file = write(&policy, "tests/failing.toml", &failing);
    let out = run([Path::new("check"), &policy]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let place = format!("{}:13:1: test `wrongly expects", file.display());
    assert!(out.stdout.lines().any(|l| l.starts_with(&place)), "{out:#?}");
    let summary =
        format!("0 of 7 example(s) failed, 2 of 7 test(s) failed in {}", policy.display());
    assert_eq!(out.lines().last().copied(), Some(summary.as_str()), "{out:#?}");
}

/// A copy of the finance example whose rules name a misspelt action.
fn finance_with_misspelt_action(dir: &Path) -> std::path::PathBuf {
    let policy = dir.join("finance");
    copy_dir(&finance(), &policy);
    let rules = policy.join("rules.cedar");
    let text = fs::read_to_string(&rules).unwrap();
    let changed = text.replacen("Action::\"transfer_funds\"", "Action::\"transfer_fund\"", 1);
    assert_ne!(changed, text);
    fs::write(&rules, changed).unwrap();
    policy
}

#[test]
fn aecl_check_rejects_a_cedar_rule_naming_a_missing_action_or_attribute() {
    let dir = temp_dir();
    let policy = finance_with_misspelt_action(dir.path());
    let out = run([Path::new("check"), &policy]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let rules = policy.join("rules.cedar");
    let first = out.lines()[0];
    assert!(first.starts_with(&format!("{}:6:30: ", rules.display())), "{out:#?}");
    assert!(first.contains("unrecognized action `Action::\"transfer_fund\"`"), "{first}");
    assert!(first.contains("did you mean `Action::\"transfer_funds\"`"), "{first}");

    // A misspelt attribute, even behind `has`.
    let text = fs::read_to_string(finance().join("rules.cedar")).unwrap();
    fs::write(&rules, text.replace("context.args has currency", "context.args has curency"))
        .unwrap();
    let out = run([Path::new("check"), &policy]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let first = out.lines()[0];
    assert!(first.starts_with(&format!("{}:7:8: ", rules.display())), "{out:#?}");
    let says = "attribute `curency` is not declared in `context.args` for \
                `Action::\"transfer_funds\"` (did you mean `currency`?)";
    assert!(first.contains(says), "{first}");
    assert_eq!(out.lines().len(), 2, "one problem, then the count: {out:#?}");
}

#[test]
fn aecl_serve_refuses_to_start_with_an_invalid_cedar_rule() {
    let dir = temp_dir();
    let policy = finance_with_misspelt_action(dir.path());
    let db = dir.path().join("aecl.db");
    let out = run([
        Path::new("serve"),
        Path::new("--policy"),
        &policy,
        Path::new("--db"),
        &db,
        Path::new("--listen"),
        Path::new("127.0.0.1:0"),
        Path::new("--key"),
        &dir.path().join("missing.key"),
        Path::new("--token-key"),
        &dir.path().join("missing.pub"),
    ]);
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stderr.contains("unrecognized action `Action::\"transfer_fund\"`"), "{out:#?}");
}

#[test]
fn emit_cedar_schema_prints_the_catalog_schema_even_when_the_rules_are_wrong() {
    let dir = temp_dir();
    let policy = finance_with_misspelt_action(dir.path());
    let out = run([Path::new("check"), Path::new("--emit-cedar-schema"), &policy]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    for part in [
        "entity Agent",
        "entity Run",
        "action \"transfer_funds\" appliesTo",
        // Cedar quotes an attribute name only when it is not an identifier.
        "      amount: __cedar::decimal,",
        "      iban: __cedar::String,",
        "      limit?: __cedar::Long",
        "type RunFacts",
    ] {
        assert!(out.stdout.contains(part), "`{part}` in:\n{}", out.stdout);
    }
}

#[test]
fn a_float_with_many_decimals_on_an_action_no_rule_names_is_allowed() {
    let dir = temp_dir();
    write(
        dir.path(),
        "agents/a.toml",
        "agent_id = \"a\"\nallowed_actions = [\"pay\", \"report\"]\n",
    );
    write(
        dir.path(),
        "catalog.toml",
        "[actions.pay]\neffect = \"write\"\nreversibility = \"irreversible\"\n\
         schema = { type = \"object\", properties = { amount = { type = \"number\" } } }\n\
         [actions.pay.approval]\nwaive_irreversible = \"tested alone\"\n\n\
         [actions.report]\neffect = \"read\"\n\
         schema = { type = \"object\", properties = { ratio = { type = \"number\" } } }\n",
    );
    write(
        dir.path(),
        "rules.cedar",
        "@id(\"big-pay\")\nforbid (principal, action == Action::\"pay\", resource)\n\
         when { context.args has amount && context.args.amount.greaterThan(decimal(\"100.0\")) };\n",
    );
    // The call is written outside the policy directory, where it would read as a manifest.
    let calls = temp_dir();
    let eval = |action: &str, args: &str| {
        let call = write(
            calls.path(),
            "call.json",
            &format!(
                "{{\"run\":\"r1\",\"id\":\"c1\",\"agent\":\"a\",\"action\":\"{action}\",\"args\":{args}}}"
            ),
        );
        let out =
            run([Path::new("eval"), Path::new("--policy"), dir.path(), Path::new("--call"), &call]);
        assert_eq!(out.code, Some(0), "{out:#?}");
        serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap()
    };
    let verdict = eval("report", "{\"ratio\": 0.123456789}");
    assert_eq!(verdict["decision"], "allow", "{verdict:#}");
    // The call a rule looks at is refused, that call alone.
    let verdict = eval("pay", "{\"amount\": 0.123456789}");
    assert_eq!(verdict["decision"], "block", "{verdict:#}");
    let rules = |v: &serde_json::Value| -> Vec<String> {
        v["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["rule"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(rules(&verdict).contains(&"cedar:args".to_owned()), "{verdict:#}");
    let verdict = eval("pay", "{\"amount\": 150}");
    assert_eq!(verdict["decision"], "block", "{verdict:#}");
    assert!(rules(&verdict).contains(&"cedar:big-pay".to_owned()), "{verdict:#}");
}
