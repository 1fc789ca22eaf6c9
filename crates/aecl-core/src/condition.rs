//! Conditions on a call's arguments, as `approval.when` writes them (`amount > 100`,
//! `currency != "EUR"`, `country in ["KP", "IR"]`): parsed in `aecl-policy`, evaluated
//! here on every call of the action.
//!
//! What a condition means, in each case that an author might not think of:
//!
//! - A path reaches every value at it (each element of an array); the condition holds when
//!   it holds for any of them. An absent argument, or `null`, has no value.
//! - `<`, `<=`, `>`, `>=` compare numbers, and are strict as written: `amount > 100` does
//!   not hold for 100. A value that is not a number (`"5000"`, `true`) makes the condition
//!   hold: an agent must not escape a threshold by sending the amount as text.
//! - `==` and `in` hold when some value equals (numbers by value: `2` is `2.0`).
//! - `!=` and `not in` hold when some value differs, and when the argument is absent: an
//!   omitted currency is not `"EUR"`.

use serde_json::Value;

use crate::canonical::json_equal;
use crate::path::FieldPath;

/// One condition: an argument path, an operator and its operand.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgCondition {
    /// The condition as written, for messages.
    pub text: String,
    pub path: FieldPath,
    pub test: Test,
}

/// What is tested of the values at the path.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// `<`, `<=`, `>`, `>=` against a number.
    Compare(Order, f64),
    /// `==` (`negated: false`) or `!=` against a JSON value.
    Equals { value: Value, negated: bool },
    /// `in [..]` or `not in [..]`.
    In { values: Vec<Value>, negated: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Order {
    fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Order::Less => value < limit,
            Order::LessOrEqual => value <= limit,
            Order::Greater => value > limit,
            Order::GreaterOrEqual => value >= limit,
        }
    }
}

impl ArgCondition {
    /// Whether the condition holds for these arguments, and if so why (the value that made
    /// it hold, for the verdict's reason).
    pub fn holds(&self, args: &Value) -> Option<String> {
        let mut values = Vec::new();
        self.path.for_each_value(args, &mut |v| {
            if !v.is_null() {
                values.push(v);
            }
        });
        let path = &self.path;
        match &self.test {
            Test::Compare(order, limit) => values.iter().find_map(|v| match v.as_f64() {
                Some(n) if order.holds(n, *limit) => Some(format!("`{path}` = {n}")),
                Some(_) => None,
                None => Some(format!("`{path}` = {v} is not a number")),
            }),
            Test::Equals { value, negated: false } => {
                values.iter().find(|v| json_equal(v, value)).map(|v| format!("`{path}` = {v}"))
            }
            Test::In { values: listed, negated: false } => values
                .iter()
                .find(|v| listed.iter().any(|l| json_equal(v, l)))
                .map(|v| format!("`{path}` = {v}")),
            Test::Equals { value, negated: true } => {
                differs(path, &values, |v| !json_equal(v, value))
            }
            Test::In { values: listed, negated: true } => {
                differs(path, &values, |v| !listed.iter().any(|l| json_equal(v, l)))
            }
        }
    }
}

/// `!=` and `not in`: absent holds, else the first value that differs.
fn differs(path: &FieldPath, values: &[&Value], differ: impl Fn(&Value) -> bool) -> Option<String> {
    if values.is_empty() {
        return Some(format!("`{path}` is absent"));
    }
    values.iter().find(|v| differ(v)).map(|v| format!("`{path}` = {v}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{ArgCondition, Order, Test};
    use crate::path::FieldPath;

    fn condition(path: &str, test: Test) -> ArgCondition {
        ArgCondition {
            text: String::new(),
            path: FieldPath::parse(path).unwrap_or_else(|| FieldPath::parse("x").unwrap()),
            test,
        }
    }

    #[test]
    fn greater_is_strict_and_text_numbers_hold() {
        let above = condition("amount", Test::Compare(Order::Greater, 100.0));
        assert_eq!(above.holds(&json!({"amount": 100})), None);
        assert_eq!(above.holds(&json!({"amount": 100.01})).as_deref(), Some("`amount` = 100.01"));
        assert!(above.holds(&json!({"amount": "5000"})).unwrap().contains("not a number"));
        assert_eq!(above.holds(&json!({})), None);
        assert_eq!(above.holds(&json!({"amount": null})), None);
        let at_least = condition("amount", Test::Compare(Order::GreaterOrEqual, 100.0));
        assert!(at_least.holds(&json!({"amount": 100})).is_some());
    }

    #[test]
    fn any_element_of_an_array_counts() {
        let above = condition("lines.amount", Test::Compare(Order::Greater, 100.0));
        let args = json!({"lines": [{"amount": 5}, {"amount": 500}]});
        assert_eq!(above.holds(&args).as_deref(), Some("`lines.amount` = 500"));
        let below = condition("lines.amount", Test::Compare(Order::Less, 0.0));
        assert_eq!(below.holds(&args), None);
    }

    #[test]
    fn not_equal_holds_when_absent_and_equal_compares_numbers_by_value() {
        let not_eur = condition("currency", Test::Equals { value: json!("EUR"), negated: true });
        assert_eq!(not_eur.holds(&json!({"currency": "EUR"})), None);
        assert!(not_eur.holds(&json!({"currency": "USD"})).is_some());
        assert_eq!(not_eur.holds(&json!({})).as_deref(), Some("`currency` is absent"));
        let two = condition("n", Test::Equals { value: json!(2), negated: false });
        assert!(two.holds(&json!({"n": 2.0})).is_some());
        assert_eq!(two.holds(&json!({"n": "2"})), None);
    }

    #[test]
    fn in_and_not_in() {
        let listed = vec![json!("KP"), json!("IR")];
        let sanctioned = condition("country", Test::In { values: listed.clone(), negated: false });
        assert!(sanctioned.holds(&json!({"country": "IR"})).is_some());
        assert_eq!(sanctioned.holds(&json!({"country": "FR"})), None);
        let elsewhere = condition("country", Test::In { values: listed, negated: true });
        assert!(elsewhere.holds(&json!({"country": "FR"})).is_some());
        assert_eq!(elsewhere.holds(&json!({"country": "KP"})), None);
        assert!(elsewhere.holds(&json!({})).is_some());
    }
}
