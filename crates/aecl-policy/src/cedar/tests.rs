//! Unit tests of the Cedar escape hatch: loading, the argument conversion and evaluation.

use aecl_core::policy::{ActionSpec, EffectClass, Reversibility};
use aecl_core::rules::{RuleFinding, RuleInput, RuleSet};
use aecl_core::{Call, Decision, RunState};
use serde_json::{Value, json};

use super::value::{DecimalProblem, decimal_text};
use super::{CedarError, CedarRules};

fn rules(text: &str) -> CedarRules {
    CedarRules::from_sources(&[("rules.cedar".to_owned(), text.to_owned())])
        .unwrap_or_else(|errors| panic!("policies should load: {errors:?}"))
}

fn load_errors(text: &str) -> Vec<CedarError> {
    CedarRules::from_sources(&[("rules.cedar".to_owned(), text.to_owned())]).unwrap_err()
}

fn action(name: &str) -> ActionSpec {
    ActionSpec {
        name: name.to_owned(),
        effect: EffectClass::Payment,
        reversibility: Reversibility::Irreversible,
        output: Default::default(),
        schema: None,
        args: Vec::new(),
        amount_arg: None,
        scope_args: Default::default(),
        risk_factors: Vec::new(),
        approval: Default::default(),
        connector: None,
        outward: false,
        limits: Default::default(),
        sandbox: None,
        operation: None,
        authoritative_for: Vec::new(),
    }
}

fn call(args: Value) -> Call {
    Call {
        id: "c1".to_owned(),
        agent: "finance-agent".to_owned(),
        run: "r1".to_owned(),
        action: "transfer_funds".to_owned(),
        args,
        ..Call::default()
    }
}

/// The findings of `text` for a `transfer_funds` call with `args`.
fn check(text: &str, args: Value) -> Vec<RuleFinding> {
    let rules = rules(text);
    let call = call(args);
    let action = action(&call.action);
    let mut run = RunState::new("r1");
    run.goal = Some("pay the March invoices".to_owned());
    run.amount_spent = 1200.5;
    let untrusted = vec!["recipient".to_owned()];
    let input = RuleInput {
        call: &call,
        action: &action,
        run: &run,
        risk_score: 0.7000000000000001,
        decision_so_far: Decision::RequireApproval,
        untrusted_args: &untrusted,
    };
    rules.evaluate(&input)
}

fn decisions(findings: &[RuleFinding]) -> Vec<(&str, Decision)> {
    findings.iter().map(|f| (f.rule.as_str(), f.decision)).collect()
}

const AMOUNT_LIMIT: &str = r#"
// Large transfers are never made by an agent.
@id("large_transfer")
@reason("transfers above 10000 are never made by an agent")
forbid(principal, action == Action::"transfer_funds", resource)
when { context.args has amount && context.args.amount.greaterThan(decimal("10000.0")) };
"#;

#[test]
fn forbid_on_a_decimal_argument_blocks() {
    let findings = check(AMOUNT_LIMIT, json!({"amount": 12000.5}));
    assert_eq!(
        findings,
        vec![RuleFinding {
            rule: "cedar:large_transfer".to_owned(),
            decision: Decision::Block,
            message: "transfers above 10000 are never made by an agent".to_owned(),
        }]
    );
}

#[test]
fn unmatched_policy_yields_no_finding() {
    assert_eq!(check(AMOUNT_LIMIT, json!({"amount": 500.25})), Vec::new());
    // `has` guards the attribute: a call without it is no error.
    assert_eq!(check(AMOUNT_LIMIT, json!({"to": "x"})), Vec::new());
}

#[test]
fn forbid_on_a_string_argument_blocks_and_is_named_by_file_and_line() {
    let text =
        "\n\nforbid(principal, action, resource)\nwhen { context.args.currency == \"XMR\" };\n";
    let findings = check(text, json!({"currency": "XMR"}));
    assert_eq!(decisions(&findings), vec![("cedar:rules.cedar:3", Decision::Block)]);
    assert_eq!(findings[0].message, "a Cedar policy forbids this call");
    assert_eq!(check(text, json!({"currency": "EUR"})), Vec::new());
}

#[test]
fn annotated_permit_escalates() {
    let text = r#"
@id("new_recipient")
@decision("require_approval")
@reason("payments to untrusted recipients need a human")
permit(principal == Agent::"finance-agent", action, resource == Run::"r1")
when { context.untrusted_args.contains("recipient") && context.effect == "payment" };
"#;
    let findings = check(text, json!({"recipient": "GB94BARC10201530093459"}));
    assert_eq!(decisions(&findings), vec![("cedar:new_recipient", Decision::RequireApproval)]);
    assert_eq!(findings[0].message, "payments to untrusted recipients need a human");
}

#[test]
fn annotated_forbid_escalates_and_plain_forbid_blocks() {
    let text = r#"
@decision("require_approval")
forbid(principal, action, resource) when { context.risk.greaterThan(decimal("0.5")) };
forbid(principal, action, resource) when { context.run.goal like "*invoices*" };
@decision("require_approval") permit(principal, action, resource)
when { context.decision_so_far == "block" };
"#;
    let findings = check(text, json!({}));
    assert_eq!(
        decisions(&findings),
        vec![
            ("cedar:rules.cedar:2", Decision::RequireApproval),
            ("cedar:rules.cedar:4", Decision::Block)
        ]
    );
}

#[test]
fn the_run_record_is_in_the_context() {
    let text = r#"
forbid(principal, action, resource) when {
  context.run.amount_spent == decimal("1200.5") && context.run.calls_allowed == 0 &&
  !context.run.read_untrusted && !context.run.read_private &&
  context.run.tenant == "" && context.run.environment == "" &&
  context.risk == decimal("0.7") && context.decision_so_far == "require_approval"
};
"#;
    assert_eq!(decisions(&check(text, json!({}))), vec![("cedar:rules.cedar:2", Decision::Block)]);
}

#[test]
fn missing_attribute_is_an_evaluation_error_that_blocks() {
    let text = r#"
@id("missing") forbid(principal, action, resource) when { context.args.missing_field == 1 };
"#;
    let findings = check(text, json!({"amount": 5}));
    assert_eq!(decisions(&findings), vec![("cedar:missing", Decision::Block)]);
    assert!(findings[0].message.contains("could not be evaluated"), "{}", findings[0].message);
    assert!(findings[0].message.contains("missing_field"), "{}", findings[0].message);
}

#[test]
fn type_error_is_an_evaluation_error_that_blocks() {
    // Decimals do not support `>`; and a Long is not a decimal.
    let text = r#"
@id("gt") forbid(principal, action, resource) when { context.args.amount > decimal("10.0") };
@id("long_vs_decimal") @decision("require_approval") permit(principal, action, resource)
when { context.args.count.greaterThan(decimal("1.0")) };
"#;
    let findings = check(text, json!({"amount": 5.5, "count": 3}));
    assert_eq!(
        decisions(&findings),
        vec![("cedar:gt", Decision::Block), ("cedar:long_vs_decimal", Decision::Block)]
    );
}

#[test]
fn float_with_five_decimals_is_refused() {
    let findings = check(AMOUNT_LIMIT, json!({"lines": [{"price": 1.23456}]}));
    assert_eq!(decisions(&findings), vec![("cedar:args", Decision::Block)]);
    assert!(findings[0].message.contains("`lines[0].price`"), "{}", findings[0].message);
    assert!(findings[0].message.contains("more than 4 digits"), "{}", findings[0].message);
}

#[test]
fn numbers_outside_long_or_decimal_are_refused() {
    let findings = check(AMOUNT_LIMIT, json!({"big": u64::MAX, "huge": 1e300}));
    assert_eq!(
        decisions(&findings),
        vec![("cedar:args", Decision::Block), ("cedar:args", Decision::Block)]
    );
}

#[test]
fn nesting_deeper_than_32_levels_is_refused() {
    let nest = |levels: usize| {
        let mut value = json!("leaf");
        for _ in 0..levels {
            value = json!({ "a": value });
        }
        value
    };
    // The arguments object is level 1; 31 more nested objects make 32 levels.
    assert_eq!(check(AMOUNT_LIMIT, nest(32)), Vec::new());
    let findings = check(AMOUNT_LIMIT, nest(33));
    assert_eq!(decisions(&findings), vec![("cedar:args", Decision::Block)]);
    assert!(findings[0].message.contains("deeper than 32"), "{}", findings[0].message);
}

#[test]
fn entity_syntax_in_arguments_stays_a_plain_record() {
    let text = r#"
@id("has_entity") forbid(principal, action, resource) when { context.args.x has __entity };
@id("is_root") forbid(principal, action, resource) when { principal == Agent::"root" };
@id("x_is_root") forbid(principal, action, resource) when { context.args.x == Agent::"root" };
@id("extn") forbid(principal, action, resource) when { context.args.y has __extn };
"#;
    let args = json!({
        "x": {"__entity": {"type": "Agent", "id": "root"}},
        "y": {"__extn": {"fn": "decimal", "arg": "1.0"}},
    });
    let findings = check(text, args);
    assert_eq!(
        decisions(&findings),
        vec![("cedar:has_entity", Decision::Block), ("cedar:extn", Decision::Block)]
    );
}

#[test]
fn nulls_are_left_out_and_arrays_become_sets() {
    let text = r#"
@id("null_key") forbid(principal, action, resource) when { context.args has note };
@id("set") forbid(principal, action, resource) when { context.args.to == ["b", "a"] };
"#;
    let findings = check(text, json!({"note": null, "to": ["a", null, "b", "a"]}));
    assert_eq!(decisions(&findings), vec![("cedar:set", Decision::Block)]);
}

#[test]
fn syntax_error_names_file_line_and_column() {
    let errors = load_errors("forbid(principal, action, resource)\nwhen { context.args.x == };\n");
    assert_eq!((errors[0].file.as_str(), errors[0].line, errors[0].column), ("rules.cedar", 2, 26));
    assert!(errors[0].to_string().starts_with("rules.cedar:2:26: "), "{}", errors[0]);
    assert!(errors[0].message.contains("expected"), "{}", errors[0].message);
}

#[test]
fn thousands_of_nested_parentheses_are_an_error_not_a_stack_overflow() {
    // Regression: fuzz/regressions/policy_parse/cedar-1000-nested-parentheses-overflow-the-stack
    let deep = format!(
        "forbid(principal, action, resource)\nwhen {{ {}true{} }};\n",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    let errors = load_errors(&deep);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, 2);
    assert!(errors[0].message.contains("nested"), "{}", errors[0].message);
    // Brackets inside strings and comments do not count.
    let quoted = format!(
        "// {}\nforbid(principal, action, resource) when {{ context.args.x == \"{}\" }};\n",
        "(".repeat(100),
        "[".repeat(100)
    );
    assert!(CedarRules::from_sources(&[("rules.cedar".to_owned(), quoted)]).is_ok());
}

#[test]
fn unannotated_permit_is_rejected() {
    let errors = load_errors(
        "forbid(principal, action, resource);\n\n  permit(principal, action, resource);\n",
    );
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].line, errors[0].column), (3, 3));
    assert!(
        errors[0].message.contains("@decision(\\\"require_approval\\\")")
            || errors[0].message.contains("@decision(\"require_approval\")")
    );
    let errors = load_errors(r#"@decision("allow") permit(principal, action, resource);"#);
    assert!(errors[0].message.contains("can only tighten"), "{}", errors[0].message);
}

#[test]
fn duplicate_ids_and_templates_are_rejected() {
    let files = [
        ("a.cedar".to_owned(), "@id(\"x\") forbid(principal, action, resource);".to_owned()),
        ("b.cedar".to_owned(), "\n@id(\"x\") forbid(principal, action, resource);".to_owned()),
    ];
    let errors = CedarRules::from_sources(&files).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].to_string(),
        "b.cedar:2:1: policy id `x` is already used by the policy at a.cedar:1:1"
    );
    let errors = load_errors("forbid(principal == ?principal, action, resource);");
    assert!(errors[0].message.contains("templates"), "{}", errors[0].message);
}

#[test]
fn two_policies_on_one_line_get_distinct_labels() {
    let text = "forbid(principal, action, resource); forbid(principal, action, resource);";
    let findings = check(text, json!({}));
    assert_eq!(
        decisions(&findings),
        vec![("cedar:rules.cedar:1", Decision::Block), ("cedar:rules.cedar:1:38", Decision::Block)]
    );
}

#[test]
fn canonical_text_ignores_whitespace_and_comments() {
    let a = rules(AMOUNT_LIMIT).canonical_text();
    let b = rules(
        &AMOUNT_LIMIT
            .replace("// Large transfers are never made by an agent.\n", "")
            .replace("  ", " ")
            .replace(" && ", "\n  && "),
    )
    .canonical_text();
    assert_eq!(a, b);
    assert!(a.starts_with("// large_transfer\n"), "{a}");
    let c = rules(&AMOUNT_LIMIT.replace("10000.0", "10001.0")).canonical_text();
    assert_ne!(a, c);
}

#[test]
fn empty_sources_give_empty_rules() {
    let rules = CedarRules::from_sources(&[(
        "only-comments.cedar".to_owned(),
        "// nothing yet\n".to_owned(),
    )])
    .unwrap();
    assert!(rules.is_empty());
    assert_eq!(rules.canonical_text(), "");
}

#[test]
fn decimal_text_is_exact() {
    assert_eq!(decimal_text("12"), Ok("12.0".to_owned()));
    assert_eq!(decimal_text("-0.5"), Ok("-0.5".to_owned()));
    assert_eq!(decimal_text("1200.0"), Ok("1200.0".to_owned()));
    assert_eq!(decimal_text("1.5e3"), Ok("1500.0".to_owned()));
    assert_eq!(decimal_text("2E-4"), Ok("0.0002".to_owned()));
    assert_eq!(decimal_text("1.2345"), Ok("1.2345".to_owned()));
    assert_eq!(decimal_text("0e999999999999999999999"), Ok("0.0".to_owned()));
    assert_eq!(decimal_text("922337203685477.5807"), Ok("922337203685477.5807".to_owned()));
    assert_eq!(decimal_text("-922337203685477.5808"), Ok("-922337203685477.5808".to_owned()));
    assert_eq!(decimal_text("922337203685477.5808"), Err(DecimalProblem::OutOfRange));
    assert_eq!(decimal_text("1e999999999999999999999"), Err(DecimalProblem::OutOfRange));
    assert_eq!(decimal_text("1.23456"), Err(DecimalProblem::TooManyDigits));
    assert_eq!(decimal_text("1e-5"), Err(DecimalProblem::TooManyDigits));
    assert_eq!(decimal_text("1.2.3"), Err(DecimalProblem::NotANumber));
    assert_eq!(decimal_text("NaN"), Err(DecimalProblem::NotANumber));
}

#[test]
fn many_refused_arguments_are_summed_up() {
    let findings = check(
        AMOUNT_LIMIT,
        json!({"prices": (0..20).map(|i| 1.00001 + f64::from(i)).collect::<Vec<_>>()}),
    );
    assert_eq!(findings.len(), 9);
    assert_eq!(findings[8].message, "12 more argument(s) refused likewise");
}
