//! The `approval.when` grammar: every operator, the operands each takes, the errors an
//! author meets, and the check against the action's schema; then through `load`.

use aecl_core::condition::{Order, Test};
use serde_json::json;

use super::{check_against_schema, parse};
use crate::{PolicyError, SourceFile, load};

fn test_of(text: &str) -> Test {
    parse(text).unwrap_or_else(|e| panic!("`{text}` should parse: {e}")).test
}

fn error_of(text: &str) -> String {
    parse(text).err().unwrap_or_else(|| panic!("`{text}` should not parse"))
}

#[test]
fn every_operator_parses() {
    assert_eq!(test_of("amount > 100"), Test::Compare(Order::Greater, 100.0));
    assert_eq!(test_of("amount >= 100"), Test::Compare(Order::GreaterOrEqual, 100.0));
    assert_eq!(test_of("amount < -1.5"), Test::Compare(Order::Less, -1.5));
    assert_eq!(test_of("amount <= 1e3"), Test::Compare(Order::LessOrEqual, 1000.0));
    assert_eq!(
        test_of(r#"currency != "EUR""#),
        Test::Equals { value: json!("EUR"), negated: true }
    );
    assert_eq!(test_of("urgent == true"), Test::Equals { value: json!(true), negated: false });
    assert_eq!(
        test_of(r#"payee.country in ["KP", "IR"]"#),
        Test::In { values: vec![json!("KP"), json!("IR")], negated: false }
    );
    assert_eq!(
        test_of("tier not in [1, 2]"),
        Test::In { values: vec![json!(1), json!(2)], negated: true }
    );
}

#[test]
fn spaces_around_symbols_are_optional_and_the_text_is_kept() {
    let condition = parse("  amount>100 ").unwrap();
    assert_eq!(condition.test, Test::Compare(Order::Greater, 100.0));
    assert_eq!(condition.text, "amount>100");
    assert_eq!(condition.path.to_string(), "amount");
    assert_eq!(
        test_of("country in[\"FR\"]"),
        Test::In { values: vec![json!("FR")], negated: false }
    );
    assert_eq!(
        test_of(r#"note == "a \"quoted\" word""#),
        Test::Equals { value: json!("a \"quoted\" word"), negated: false }
    );
}

#[test]
fn errors_say_what_was_expected() {
    assert!(error_of("").contains("expected an argument path"));
    assert!(error_of("> 100").contains("expected an argument path"));
    assert!(error_of("amount..x > 1").contains("not an argument path"));
    assert!(error_of("amount 100").contains("expected an operator after `amount`"));
    assert!(error_of("amount = 100").contains("write `==`"));
    assert!(error_of("amount >").contains("expected a value"));
    assert!(error_of("currency == EUR").contains("double quotes"));
    assert!(error_of("currency == 'EUR'").contains("double quotes"));
    assert!(
        error_of("amount > 100 and currency == \"EUR\"").contains("one comparison per condition")
    );
    assert!(error_of(r#"amount > "100""#).contains("compare numbers"));
    assert!(error_of("currency == [\"EUR\"]").contains("use `in [..]`"));
    assert!(error_of("currency == null").contains("not null"));
    assert!(error_of("country in []").contains("non-empty list"));
    assert!(error_of("country in \"FR\"").contains("non-empty list"));
    assert!(error_of("country in [[\"FR\"]]").contains("non-empty list"));
    assert!(error_of("amount > 1e999").contains("not a value"));
    assert!(error_of("amount innn 5").contains("expected an operator"));
}

#[test]
fn paths_and_order_comparisons_are_checked_against_the_schema() {
    let schema = json!({
        "type": "object",
        "properties": {
            "amount": { "type": "number" },
            "currency": { "type": "string" },
            "lines": { "type": "array", "items": { "type": "object", "properties": {
                "price": { "type": "number" } } } },
            "meta": { "type": "object" }
        }
    });
    let check = |text: &str| check_against_schema(&parse(text).unwrap(), Some(&schema));
    assert_eq!(check("amount > 5"), Ok(()));
    assert_eq!(check("lines.price > 5"), Ok(()));
    // Inside an object without declared properties anything goes.
    assert_eq!(check("meta.anything == 1"), Ok(()));
    let error = check("amout > 5").unwrap_err();
    assert!(error.contains("`amout` is not an argument"), "{error}");
    assert!(error.contains("`amount`, `currency`, `lines`, `meta`"), "{error}");
    assert!(check("lines.prize > 5").unwrap_err().contains("`lines.prize`"));
    assert!(check("currency > 5").unwrap_err().contains("not a number"));
    assert_eq!(check_against_schema(&parse("anything > 5").unwrap(), None), Ok(()));
}

const AGENT: &str = "agent_id = \"a\"\nallowed_actions = [\"transfer\"]\n";

fn catalog(approval: &str) -> Vec<SourceFile> {
    let catalog = format!(
        "[actions.transfer]\neffect = \"payment\"\nreversibility = \"irreversible\"\n\
         schema = {{ type = \"object\", properties = {{ amount = {{ type = \"number\" }}, \
         currency = {{ type = \"string\" }} }} }}\n\n\
         [actions.transfer.approval]\nwaive_irreversible = \"tested alone\"\n{approval}"
    );
    vec![
        SourceFile { path: "agents/a.toml".to_owned(), text: AGENT.to_owned() },
        SourceFile { path: "catalog.toml".to_owned(), text: catalog },
    ]
}

#[test]
fn load_lowers_conditions_into_the_action() {
    let loaded =
        load(&catalog("when = [\"amount > 100\", \"currency != \\\"EUR\\\"\"]\n")).unwrap();
    let when = &loaded.policy.actions["transfer"].approval.when;
    assert_eq!(when.len(), 2);
    assert_eq!(when[0].text, "amount > 100");
    assert_eq!(when[1].text, "currency != \"EUR\"");
}

#[test]
fn a_bad_condition_is_a_problem_at_its_file_line_and_column() {
    let Err(PolicyError::Invalid(problems)) =
        load(&catalog("when = [\n  \"amount > 100\",\n  \"amout > 5\",\n]\n"))
    else {
        panic!("the policy should not load");
    };
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let problem = &problems[0];
    assert_eq!((problem.file.as_str(), problem.line, problem.column), ("catalog.toml", 10, 3));
    assert!(problem.message.contains("`approval.when` condition `amout > 5` of `transfer`"));
    assert!(problem.message.contains("`amout` is not an argument"), "{}", problem.message);
}
