//! Unit tests of the Cedar escape hatch: loading and validation against the catalog's
//! schema, the argument conversion and evaluation.

use std::collections::HashMap;

use aecl_core::policy::{ActionSpec, ArgSchema, EffectClass, Reversibility};
use aecl_core::rules::{RuleFinding, RuleInput, RuleSet};
use aecl_core::{Call, Decision, RunState};
use serde_json::{Value, json};

use super::value::{DecimalProblem, decimal_text};
use super::{CedarError, CedarRules, schema_text};

/// The argument schema of `transfer_funds`, the action most rules name.
fn transfer_schema() -> Value {
    json!({
        "type": "object",
        "required": ["amount"],
        "properties": {
            "amount": { "type": "number" },
            "count": { "type": "integer" },
            "currency": { "type": "string" },
            "recipient": { "type": "string" },
            "note": { "type": ["string", "null"] },
            "to": { "type": "array", "items": { "type": "string" } },
            "lines": {
                "type": "array",
                "items": { "type": "object", "properties": { "price": { "type": "number" } } }
            },
            "prices": { "type": "array", "items": { "type": "number" } },
            "big": { "type": "integer" },
            "huge": { "type": "number" },
            "x": {
                "type": "object",
                "properties": {
                    "__entity": {
                        "type": "object",
                        "properties": { "type": { "type": "string" }, "id": { "type": "string" } }
                    }
                }
            },
            "y": {
                "type": "object",
                "properties": { "__extn": { "type": "object", "properties": { "fn": { "type": "string" } } } }
            }
        }
    })
}

fn action(name: &str, schema: Option<Value>) -> ActionSpec {
    ActionSpec {
        name: name.to_owned(),
        effect: EffectClass::Payment,
        reversibility: Reversibility::Irreversible,
        output: Default::default(),
        schema: schema.map(|s| ArgSchema::compile(s).unwrap()),
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

/// `transfer_funds`, `refund` (an amount) and `export_report` (a `ratio` number no rule
/// below names).
fn catalog() -> HashMap<String, ActionSpec> {
    let refund = json!({"type": "object", "properties": {"amount": {"type": "number"}}});
    let report = json!({"type": "object", "properties": {"ratio": {"type": "number"}}});
    [
        action("transfer_funds", Some(transfer_schema())),
        action("refund", Some(refund)),
        action("export_report", Some(report)),
    ]
    .into_iter()
    .map(|a| (a.name.clone(), a))
    .collect()
}

fn rules(text: &str) -> CedarRules {
    CedarRules::from_sources(&[("rules.cedar".to_owned(), text.to_owned())], &catalog())
        .unwrap_or_else(|errors| panic!("policies should load: {errors:?}"))
}

fn load_errors(text: &str) -> Vec<CedarError> {
    CedarRules::from_sources(&[("rules.cedar".to_owned(), text.to_owned())], &catalog())
        .unwrap_err()
}

fn call(action: &str, args: Value) -> Call {
    Call {
        id: "c1".to_owned(),
        agent: "finance-agent".to_owned(),
        run: "r1".to_owned(),
        action: action.to_owned(),
        args,
        ..Call::default()
    }
}

/// The findings of `text` for a `transfer_funds` call with `args`.
fn check(text: &str, args: Value) -> Vec<RuleFinding> {
    check_action(text, "transfer_funds", args)
}

/// The findings of `text` for a call of `action` with `args`.
fn check_action(text: &str, action_name: &str, args: Value) -> Vec<RuleFinding> {
    let rules = rules(text);
    let call = call(action_name, args);
    let catalog = catalog();
    let action = catalog.get(action_name).cloned().unwrap_or_else(|| action(action_name, None));
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

/// The one load error of `text`, as `line:column: message`.
fn the_error(text: &str) -> String {
    let errors = load_errors(text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    format!("{}:{}: {}", errors[0].line, errors[0].column, errors[0].message)
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
    // A key the schema does not declare is left out; the rule does not see it.
    assert_eq!(check(AMOUNT_LIMIT, json!({"amount": 1, "memo": "x"})), Vec::new());
}

#[test]
fn forbid_on_a_string_argument_blocks_and_is_named_by_file_and_line() {
    let text = "\n\nforbid(principal, action, resource)\n\
                when { context.args has currency && context.args.currency == \"XMR\" };\n";
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
fn misspelt_action_is_a_load_error_naming_the_right_one() {
    let text = "\n@id(\"r\")\nforbid(principal, action == Action::\"refnd\", resource);\n";
    let error = the_error(text);
    assert!(error.starts_with("3:29: "), "{error}");
    assert!(error.contains("unrecognized action `Action::\"refnd\"`"), "{error}");
    assert!(error.contains("did you mean `Action::\"refund\"`"), "{error}");
}

#[test]
fn misspelt_action_is_one_error_even_when_the_condition_reads_its_arguments() {
    // Regression: Cedar offered `Action::"refund"` for `Action::"transfer_fund"` (it
    // measured the bare name against whole `Action::"..."` texts, favouring short names).
    let text = "@id(\"no-blocked-currency\")\n@reason(\"x\")\n\
                forbid (principal, action == Action::\"transfer_fund\", resource)\n\
                when { context.args has currency && context.args.currency == \"RUB\" };\n";
    let error = the_error(text);
    assert!(error.starts_with("3:30: "), "{error}");
    assert!(error.contains("unrecognized action `Action::\"transfer_fund\"`"), "{error}");
    assert!(error.contains("(did you mean `Action::\"transfer_funds\"`?)"), "{error}");
    // Nothing close: no guess.
    let error = the_error("forbid (principal, action == Action::\"ghost\", resource);");
    assert!(error.contains("unrecognized action `Action::\"ghost\"`"), "{error}");
    assert!(!error.contains("did you mean"), "{error}");
}

#[test]
fn misspelt_attribute_is_a_load_error() {
    let text = "forbid(principal, action == Action::\"refund\", resource)\n\
                when { context.args.amout.greaterThan(decimal(\"1.0\")) };\n";
    let error = the_error(text);
    assert!(error.starts_with("2:8: "), "{error}");
    assert!(error.contains("amout"), "{error}");
    // Even behind `has`, where it can only make the rule never match: named, at its place.
    let text = "forbid(principal, action == Action::\"refund\", resource)\n\
                when { context.args has amout };\n";
    assert_eq!(
        the_error(text),
        "2:8: for policy `rules.cedar:1`, attribute `amout` is not declared in `context.args` \
         for `Action::\"refund\"` (did you mean `amount`?): `context.args has amout` is always \
         false, so the policy can never match as written"
    );
}

#[test]
fn has_of_an_undeclared_attribute_is_an_error_wherever_it_is() {
    // In a disjunction the policy can still match, but less than it says.
    let error = the_error(
        "forbid(principal, action == Action::\"transfer_funds\", resource)\n\
         when { context.args has amount || context[\"args\"] has \"curency\" };",
    );
    assert!(error.starts_with("2:35: "), "{error}");
    assert!(error.contains("`curency`"), "{error}");
    assert!(error.contains("did you mean `currency`"), "{error}");
    // Nested records, and `has a.b`.
    let error = the_error(
        "forbid(principal, action == Action::\"transfer_funds\", resource)\n\
         when { context.args has x.__entty };",
    );
    assert!(error.contains("not declared in `context.args.x`"), "{error}");
    assert!(error.contains("did you mean `__entity`"), "{error}");
    let error =
        the_error("forbid(principal, action, resource) when { context.run has amount_spnt };");
    assert!(error.contains("`context.run` for any of the 3 actions"), "{error}");
    assert!(error.contains("did you mean `amount_spent`"), "{error}");
    // Entities have no attributes.
    let error = the_error("forbid(principal, action, resource) when { principal has team };");
    assert!(error.starts_with("1:44: "), "{error}");
    assert!(error.contains("`principal has team` is always false"), "{error}");
}

#[test]
fn has_of_an_attribute_one_applicable_action_declares_is_allowed() {
    // Any action: `export_report` declares `ratio`; `refund` and `transfer_funds` do not.
    rules("forbid(principal, action, resource) when { context.args has ratio };");
    rules(
        "forbid(principal, action in [Action::\"refund\", Action::\"export_report\"], resource)\n\
         when { context.args has ratio };",
    );
    // Declared, optional: the test is what makes reading it safe.
    rules(
        "forbid(principal, action == Action::\"transfer_funds\", resource)\n\
         when { context.args has x.__entity && context.args.x.__entity has id };",
    );
    let errors = load_errors(
        "forbid(principal, action in [Action::\"refund\", Action::\"transfer_funds\"], resource)\n\
         when { context.args has ratio };",
    );
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].message.contains("for any of the 2 actions"), "{}", errors[0].message);
}

#[test]
fn unknown_context_field_entity_type_and_principal_attribute_are_load_errors() {
    let error =
        the_error("forbid(principal, action, resource) when { context.colour == \"red\" };");
    assert!(error.contains("colour"), "{error}");
    let error = the_error("forbid(principal == Agnt::\"a\", action, resource);");
    assert!(error.contains("Agnt"), "{error}");
    assert!(error.contains("Agent"), "{error}");
    let error =
        the_error("forbid(principal, action, resource) when { principal.department == \"x\" };");
    assert!(error.contains("department"), "{error}");
}

#[test]
fn type_errors_are_load_errors() {
    // A decimal does not compare with `>`; a Long is not a decimal.
    let error = the_error(
        "forbid(principal, action == Action::\"transfer_funds\", resource)\n\
         when { context.args.amount > 10 };",
    );
    assert!(error.contains("decimal"), "{error}");
    let error = the_error(
        "forbid(principal, action == Action::\"transfer_funds\", resource)\n\
         when { context.args has count && context.args.count.greaterThan(decimal(\"1.0\")) };",
    );
    assert!(error.starts_with("2:"), "{error}");
    // An optional argument read without `has`.
    let error = the_error(
        "forbid(principal, action == Action::\"transfer_funds\", resource)\n\
         when { context.args.currency == \"XMR\" };",
    );
    assert!(error.contains("currency"), "{error}");
}

#[test]
fn every_problem_of_every_policy_is_reported() {
    let text = "forbid(principal, action == Action::\"refnd\", resource);\n\
                forbid(principal, action == Action::\"refund\", resource) when { context.args.amout == 1 };\n";
    let errors = load_errors(text);
    assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![1, 2], "{errors:#?}");
}

#[test]
fn an_integer_of_a_number_argument_is_a_decimal() {
    // Without the schema, 12000 would be a Long that `.greaterThan` refuses.
    let findings = check(AMOUNT_LIMIT, json!({"amount": 12000}));
    assert_eq!(decisions(&findings), vec![("cedar:large_transfer", Decision::Block)]);
}

#[test]
fn a_value_of_the_wrong_type_is_refused() {
    let findings = check(AMOUNT_LIMIT, json!({"amount": "12000"}));
    assert_eq!(decisions(&findings), vec![("cedar:args", Decision::Block)]);
    assert!(findings[0].message.contains("`amount` is a string"), "{}", findings[0].message);
    let findings = check(AMOUNT_LIMIT, json!({"amount": 1, "count": 2.5}));
    assert!(findings[0].message.contains("`count` = 2.5 is not an integer"), "{findings:?}");
    // `5.0` is the integer 5.
    assert_eq!(check(AMOUNT_LIMIT, json!({"amount": 1, "count": 5.0})), Vec::new());
}

#[test]
fn a_float_with_many_decimals_on_an_action_no_rule_names_is_allowed() {
    // Regression (#23): the conversion failed closed for every action.
    let args = json!({"ratio": 0.123456789});
    assert_eq!(check_action(AMOUNT_LIMIT, "export_report", args.clone()), Vec::new());
    // A rule that can apply to every action sees it, and refuses that call alone.
    let any =
        "forbid(principal, action, resource) when { context.risk.greaterThan(decimal(\"0.9\")) };";
    let findings = check_action(any, "export_report", args);
    assert_eq!(decisions(&findings), vec![("cedar:args", Decision::Block)]);
    assert_eq!(check_action(any, "refund", json!({"amount": 2.5})), Vec::new());
}

#[test]
fn a_rule_scoped_to_a_list_of_actions_applies_to_each() {
    let text =
        "forbid(principal, action in [Action::\"refund\", Action::\"export_report\"], resource);";
    assert_eq!(decisions(&check_action(text, "refund", json!({}))).len(), 1);
    let findings = check_action(text, "export_report", json!({"ratio": 1.000001}));
    assert_eq!(decisions(&findings), vec![("cedar:args", Decision::Block)]);
    assert_eq!(check_action(text, "transfer_funds", json!({"huge": 1.000001})), Vec::new());
}

#[test]
fn the_schema_text_declares_every_action_and_its_arguments() {
    let text = schema_text(&catalog()).unwrap();
    for part in [
        "entity Agent",
        "entity Run",
        "action \"refund\"",
        "action \"export_report\"",
        "amount",
        "__cedar::decimal",
        "RunFacts",
    ] {
        assert!(text.contains(part), "{part} in {text}");
    }
}

#[test]
fn float_with_five_decimals_is_refused() {
    let findings = check(AMOUNT_LIMIT, json!({"amount": 1, "lines": [{"price": 1.23456}]}));
    assert_eq!(decisions(&findings), vec![("cedar:args", Decision::Block)]);
    assert!(findings[0].message.contains("`lines[0].price`"), "{}", findings[0].message);
    assert!(findings[0].message.contains("more than 4 digits"), "{}", findings[0].message);
}

#[test]
fn numbers_outside_long_or_decimal_are_refused() {
    let findings = check(AMOUNT_LIMIT, json!({"amount": 1, "big": u64::MAX, "huge": 1e300}));
    assert_eq!(
        decisions(&findings),
        vec![("cedar:args", Decision::Block), ("cedar:args", Decision::Block)]
    );
}

#[test]
fn undeclared_or_deeper_parts_of_the_arguments_are_left_out() {
    let mut value = json!("leaf");
    for _ in 0..40 {
        value = json!({ "a": value });
    }
    assert_eq!(check(AMOUNT_LIMIT, json!({"amount": 1, "deep": value})), Vec::new());
}

#[test]
fn entity_syntax_in_arguments_stays_a_plain_record() {
    let text = r#"
@id("has_entity") forbid(principal, action, resource)
when { context.args has x && context.args.x has __entity };
@id("is_root") forbid(principal, action, resource) when { principal == Agent::"root" };
@id("extn") forbid(principal, action, resource)
when { context.args has y && context.args.y has __extn };
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
@id("set") forbid(principal, action, resource)
when { context.args has to && context.args.to == ["b", "a"] };
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
        "// {}\nforbid(principal, action, resource)\n\
         when {{ context.args has currency && context.args.currency == \"{}\" }};\n",
        "(".repeat(100),
        "[".repeat(100)
    );
    assert!(CedarRules::from_sources(&[("rules.cedar".to_owned(), quoted)], &catalog()).is_ok());
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
    let errors = CedarRules::from_sources(&files, &catalog()).unwrap_err();
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
    let files = [("only-comments.cedar".to_owned(), "// nothing yet\n".to_owned())];
    let rules = CedarRules::from_sources(&files, &catalog()).unwrap();
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
        json!({"amount": 1, "prices": (0..20).map(|i| 1.00001 + f64::from(i)).collect::<Vec<_>>()}),
    );
    assert_eq!(findings.len(), 9);
    assert_eq!(findings[8].message, "12 more argument(s) refused likewise");
}
