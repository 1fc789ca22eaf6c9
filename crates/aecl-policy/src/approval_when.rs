//! `approval.when`: conditions on an action's arguments that ask for a human's approval,
//! written without Cedar (`when = ["amount > 100", "currency != \"EUR\""]`, any of them).
//!
//! The grammar of one condition:
//!
//! ```text
//! condition := path op operand
//! path      := name ("." name)*          name := [A-Za-z0-9_-]+
//! op        := "<" | "<=" | ">" | ">=" | "==" | "!=" | "in" | "not in"
//! operand   := a JSON value: a number after < <= > >=; a number, string ("EUR", JSON
//!              escapes) or boolean after == !=; a non-empty list of those after in / not in
//! ```
//!
//! Spaces around the operator are optional (`amount>100`), except around `in`. What a
//! condition means on absent, `null`, array and non-number values is in
//! `aecl_core::condition`. A path that the action's JSON Schema does not declare, and an
//! order comparison on an argument the schema types as a string or boolean, are errors: a
//! condition that can never hold would silently weaken the policy.

use aecl_core::condition::{ArgCondition, Order, Test};
use aecl_core::path::FieldPath;
use aecl_core::policy::ActionSpec;
use serde_json::Value;

use crate::error::Problem;
use crate::format::ActionFile;
use crate::location::Step;
use crate::lower::FileCtx;

/// Parses `file.approval.when` into `spec.approval.when`; each problem names the file, the
/// line and the condition.
pub(crate) fn lower(
    spec: &mut ActionSpec,
    file: &ActionFile,
    ctx: &FileCtx<'_>,
    problems: &mut Vec<Problem>,
) {
    let Some(approval) = &file.approval else { return };
    let schema = spec.schema.as_ref().map(|s| &s.source);
    for (i, text) in approval.when.iter().enumerate() {
        let place = [
            Step::from("actions"),
            Step::from(spec.name.as_str()),
            Step::from("approval"),
            Step::from("when"),
            Step::Index(i),
        ];
        let checked = parse(text).and_then(|c| check_against_schema(&c, schema).map(|()| c));
        match checked {
            Ok(condition) => spec.approval.when.push(condition),
            Err(message) => problems.push(ctx.problem(
                &place,
                format!("`approval.when` condition `{text}` of `{}`: {message}", spec.name),
            )),
        }
    }
}

/// Parses one condition.
pub fn parse(text: &str) -> Result<ArgCondition, String> {
    let trimmed = text.trim();
    let path_end = trimmed
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'))
        .unwrap_or(trimmed.len());
    let (path_text, rest) = trimmed.split_at(path_end);
    let path = match FieldPath::parse(path_text) {
        Some(path) if !path_text.is_empty() => path,
        _ if path_text.is_empty() => {
            return Err("expected an argument path first (`amount`, `payee.country`)".to_owned());
        }
        _ => return Err(format!("`{path_text}` is not an argument path (names joined by dots)")),
    };
    let rest = rest.trim_start();
    let (op, operand) = operator(rest, path_text)?;
    let value = operand_value(operand.trim())?;
    let test = match (op, value) {
        (Op::Order(order), Value::Number(n)) => match n.as_f64() {
            Some(limit) if limit.is_finite() => Test::Compare(order, limit),
            _ => return Err(format!("{n} is not a number aecl can compare")),
        },
        (Op::Order(_), other) => {
            return Err(format!("`<`, `<=`, `>` and `>=` compare numbers, not {other}"));
        }
        (Op::Equals(negated), value) if is_scalar(&value) => Test::Equals { value, negated },
        (Op::Equals(_), other) => {
            return Err(format!(
                "`==` and `!=` take a number, a string or a boolean, not {other} (use `in [..]` \
                 for a list)"
            ));
        }
        (Op::In(negated), Value::Array(values))
            if !values.is_empty() && values.iter().all(is_scalar) =>
        {
            Test::In { values, negated }
        }
        (Op::In(_), other) => {
            return Err(format!(
                "`in` takes a non-empty list of numbers, strings or booleans (`[\"KP\", \"IR\"]`), \
                 not {other}"
            ));
        }
    };
    Ok(ArgCondition { text: trimmed.to_owned(), path, test })
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Order(Order),
    Equals(bool),
    In(bool),
}

/// The operator at the start of `rest`, and the text after it.
fn operator<'t>(rest: &'t str, path: &str) -> Result<(Op, &'t str), String> {
    const SYMBOLS: [(&str, Op); 6] = [
        ("<=", Op::Order(Order::LessOrEqual)),
        (">=", Op::Order(Order::GreaterOrEqual)),
        ("==", Op::Equals(false)),
        ("!=", Op::Equals(true)),
        ("<", Op::Order(Order::Less)),
        (">", Op::Order(Order::Greater)),
    ];
    for (symbol, op) in SYMBOLS {
        if let Some(after) = rest.strip_prefix(symbol) {
            return Ok((op, after));
        }
    }
    let word = |w: &str, text: &'t str| {
        text.strip_prefix(w)
            .filter(|after| after.starts_with(char::is_whitespace) || after.starts_with('['))
    };
    if let Some(after) = word("in", rest) {
        return Ok((Op::In(false), after));
    }
    if let Some(after) = word("not", rest).map(str::trim_start).and_then(|r| word("in", r)) {
        return Ok((Op::In(true), after));
    }
    if rest.starts_with('=') {
        return Err("`=` is not an operator: write `==` to compare".to_owned());
    }
    Err(format!(
        "expected an operator after `{path}`: `<`, `<=`, `>`, `>=`, `==`, `!=`, `in` or `not in`"
    ))
}

/// The operand: one JSON value and nothing after it.
fn operand_value(text: &str) -> Result<Value, String> {
    if text.is_empty() {
        return Err("expected a value after the operator".to_owned());
    }
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let value = match values.next() {
        Some(Ok(value)) => value,
        Some(Err(e)) => {
            let hint = if text.starts_with('\'') {
                " (strings are written in double quotes)"
            } else if text.starts_with(|c: char| c.is_alphabetic()) {
                " (a string is written in double quotes: \"EUR\")"
            } else {
                ""
            };
            return Err(format!("`{text}` is not a value: {e}{hint}"));
        }
        None => return Err("expected a value after the operator".to_owned()),
    };
    let offset = values.byte_offset();
    let after = text.get(offset..).unwrap_or_default().trim();
    if !after.is_empty() {
        return Err(format!(
            "unexpected `{after}` after the value: one comparison per condition (the list is \
             any-of; for all-of, use a Cedar rule)"
        ));
    }
    Ok(value)
}

fn is_scalar(value: &Value) -> bool {
    matches!(value, Value::Number(_) | Value::String(_) | Value::Bool(_))
}

/// Refuses a path the action's schema does not declare, and an order comparison on an
/// argument it types as a string or boolean: the condition could never hold.
fn check_against_schema(condition: &ArgCondition, schema: Option<&Value>) -> Result<(), String> {
    let Some(mut node) = schema else { return Ok(()) };
    let mut walked = Vec::new();
    for segment in condition.path.segments() {
        // Arrays are entered element by element, as the condition's values are.
        while let Some(items) = node.get("items").filter(|_| is_type(node, "array")) {
            node = items;
        }
        let Some(properties) = node.get("properties").and_then(Value::as_object) else {
            return Ok(());
        };
        walked.push(segment.as_str());
        match properties.get(segment) {
            Some(next) => node = next,
            None => {
                let mut declared: Vec<&str> = properties.keys().map(String::as_str).collect();
                declared.sort_unstable();
                return Err(format!(
                    "`{}` is not an argument the action's schema declares (it declares {})",
                    walked.join("."),
                    declared.iter().map(|d| format!("`{d}`")).collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    while let Some(items) = node.get("items").filter(|_| is_type(node, "array")) {
        node = items;
    }
    if matches!(condition.test, Test::Compare(..))
        && (is_type(node, "string") || is_type(node, "boolean"))
        && !is_type(node, "number")
        && !is_type(node, "integer")
    {
        return Err(format!(
            "`{}` is not a number in the action's schema, so an order comparison never holds",
            condition.path
        ));
    }
    Ok(())
}

/// Whether the schema's `type` is or lists `kind`.
fn is_type(schema: &Value, kind: &str) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == kind,
        Some(Value::Array(types)) => types.iter().any(|t| t == kind),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
