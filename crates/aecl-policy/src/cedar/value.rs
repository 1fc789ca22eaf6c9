//! Converting a call's JSON arguments into Cedar values, by hand.
//!
//! Cedar's own JSON forms (`Context::from_json_value`, entity JSON) read `__entity` and
//! `__extn` keys as entity references and extension values, so an argument such as
//! `{"__entity": {"type": "Agent", "id": "root"}}` would become a reference to
//! `Agent::"root"`. Building every value with `RestrictedExpression`'s constructors keeps
//! such keys plain record attributes.

use cedar_policy::RestrictedExpression;
use serde_json::{Number, Value};

use super::schema::Shape;

/// Containers nested deeper than this are refused: evaluation cost and recursion stay
/// bounded whatever the client sends. The argument object itself is level 1.
pub const MAX_DEPTH: usize = 32;

/// Why an argument could not be given to Cedar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The argument's path, `items[2].price` style; empty for the arguments as a whole.
    pub field: String,
    pub message: String,
}

/// The arguments of a call as the Cedar record `shape` (the action's `args` type in the
/// catalog's Cedar schema). `null` (no arguments) is an empty record; `null` anywhere
/// inside and keys the shape does not declare are left out (the validator has made sure
/// that no rule reads them). Every value that cannot be represented is listed.
pub fn arguments(args: &Value, shape: &Shape) -> Result<RestrictedExpression, Vec<Refusal>> {
    let mut refusals = Vec::new();
    let mut field = String::new();
    let empty = Value::Object(serde_json::Map::new());
    let args = if args.is_null() { &empty } else { args };
    let converted = convert(args, shape, 1, &mut field, &mut refusals);
    match converted {
        Some(value) if refusals.is_empty() => Ok(value),
        _ => {
            if refusals.is_empty() {
                // Unreachable by construction, but a missing value must never pass silently.
                refusals.push(Refusal {
                    field: String::new(),
                    message: "the arguments could not be converted".to_owned(),
                });
            }
            Err(refusals)
        }
    }
}

/// Converts one value to `shape` at `depth` (containers count levels). `None` for `null`,
/// which the caller leaves out, and for a refused value, which is recorded in `refusals`.
fn convert(
    value: &Value,
    shape: &Shape,
    depth: usize,
    field: &mut String,
    refusals: &mut Vec<Refusal>,
) -> Option<RestrictedExpression> {
    match (shape, value) {
        (_, Value::Null) => None,
        (Shape::Set(_) | Shape::Record(_), Value::Array(_) | Value::Object(_))
            if depth > MAX_DEPTH =>
        {
            refuse(field, refusals, format!("is nested deeper than {MAX_DEPTH} levels"))
        }
        (Shape::String, Value::String(s)) => Some(RestrictedExpression::new_string(s.clone())),
        (Shape::Bool, Value::Bool(b)) => Some(RestrictedExpression::new_bool(*b)),
        (Shape::Long, Value::Number(n)) => match long(n) {
            Ok(i) => Some(RestrictedExpression::new_long(i)),
            Err(message) => refuse(field, refusals, message),
        },
        (Shape::Decimal, Value::Number(n)) => match decimal_text(&n.to_string()) {
            Ok(decimal) => Some(super::decimal::decimal(decimal)),
            Err(problem) => refuse(field, refusals, format!("= {n} {problem}")),
        },
        (Shape::Set(element), Value::Array(items)) => {
            let mut elements = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let len = field.len();
                field.push_str(&format!("[{index}]"));
                elements.extend(convert(item, element, depth + 1, field, refusals));
                field.truncate(len);
            }
            Some(RestrictedExpression::new_set(elements))
        }
        (Shape::Record(declared), Value::Object(map)) => {
            let mut fields = Vec::with_capacity(declared.len());
            for (key, (inner, _)) in declared {
                let Some(item) = map.get(key) else { continue };
                let len = field.len();
                if !field.is_empty() {
                    field.push('.');
                }
                field.push_str(key);
                if let Some(expr) = convert(item, inner, depth + 1, field, refusals) {
                    fields.push((key.clone(), expr));
                }
                field.truncate(len);
            }
            match RestrictedExpression::new_record(fields) {
                Ok(expr) => Some(expr),
                Err(e) => {
                    refusals.push(Refusal {
                        field: field.clone(),
                        message: format!("is not a record Cedar accepts: {e}"),
                    });
                    None
                }
            }
        }
        (expected, other) => {
            let message =
                format!("is {}, where the schema has {}", kind_of(other), expected_kind(expected));
            refuse(field, refusals, message)
        }
    }
}

fn refuse(
    field: &str,
    refusals: &mut Vec<Refusal>,
    message: String,
) -> Option<RestrictedExpression> {
    refusals.push(Refusal { field: field.to_owned(), message });
    None
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn expected_kind(shape: &Shape) -> &'static str {
    match shape {
        Shape::String => "a string",
        Shape::Bool => "a boolean",
        Shape::Long => "an integer",
        Shape::Decimal => "a number",
        Shape::Set(_) => "an array",
        Shape::Record(_) => "an object",
    }
}

/// A Cedar `Long` for an `integer` argument: a number without a fraction that fits 64
/// bits (`5.0` is the integer 5, as JSON Schema's `integer` says).
fn long(n: &Number) -> Result<i64, String> {
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    if n.is_u64() {
        return Err(format!("= {n} does not fit a Cedar long (a signed 64-bit integer)"));
    }
    match decimal_text(&n.to_string()) {
        Ok(text) => match text.strip_suffix(".0").map(str::parse::<i64>) {
            Some(Ok(i)) => Ok(i),
            _ => Err(format!("= {n} is not an integer")),
        },
        Err(DecimalProblem::TooManyDigits) => Err(format!("= {n} is not an integer")),
        Err(_) => Err(format!("= {n} does not fit a Cedar long exactly")),
    }
}

/// Why a number is not a Cedar decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalProblem {
    TooManyDigits,
    OutOfRange,
    NotANumber,
}

impl std::fmt::Display for DecimalProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DecimalProblem::TooManyDigits => {
                "has more than 4 digits after the decimal point, the most a Cedar decimal holds"
            }
            DecimalProblem::OutOfRange => {
                "is outside the range of a Cedar decimal \
                 (-922337203685477.5808 to 922337203685477.5807)"
            }
            DecimalProblem::NotANumber => "is not a finite number",
        })
    }
}

/// Decimal places of Cedar's `decimal`.
const DECIMAL_PLACES: i64 = 4;

/// The text Cedar's `decimal(...)` accepts for a number written in JSON (`-12.5`, `1.5e3`,
/// `2E-4`), or why there is none. Exact: a number is never rounded to fit.
pub fn decimal_text(number: &str) -> Result<String, DecimalProblem> {
    let (negative, unsigned) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let is_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty())
        || !is_digits(int_part)
        || !is_digits(frac_part)
    {
        return Err(DecimalProblem::NotANumber);
    }
    let digits: String = int_part.chars().chain(frac_part.chars()).collect();
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Ok("0.0".to_owned());
    }
    let exponent = match exponent {
        None => 0,
        Some(e) => parse_exponent(e)?,
    };
    // value = significant × 10^scale, with the significant digits' trailing zeros moved
    // into the scale.
    let significant = digits.trim_end_matches('0');
    let trailing_zeros = i64::try_from(digits.len() - significant.len()).unwrap_or(i64::MAX);
    let frac_len = i64::try_from(frac_part.len()).unwrap_or(i64::MAX);
    let scale = exponent.saturating_sub(frac_len).saturating_add(trailing_zeros);
    if scale < -DECIMAL_PLACES {
        return Err(DecimalProblem::TooManyDigits);
    }
    // The value in ten-thousandths has this many digits; an i64 has at most 19.
    let shift = scale.saturating_add(DECIMAL_PLACES);
    let total_digits = i64::try_from(significant.len()).unwrap_or(i64::MAX).saturating_add(shift);
    if total_digits > 19 {
        return Err(DecimalProblem::OutOfRange);
    }
    let mut units: i128 = significant.parse().map_err(|_| DecimalProblem::OutOfRange)?;
    for _ in 0..shift {
        units = units.checked_mul(10).ok_or(DecimalProblem::OutOfRange)?;
    }
    let limit = if negative { i128::from(i64::MAX) + 1 } else { i128::from(i64::MAX) };
    if units > limit {
        return Err(DecimalProblem::OutOfRange);
    }
    let whole = units / 10_000;
    let fraction = format!("{:04}", units % 10_000);
    let fraction = match fraction.trim_end_matches('0') {
        "" => "0",
        trimmed => trimmed,
    };
    let sign = if negative { "-" } else { "" };
    Ok(format!("{sign}{whole}.{fraction}"))
}

/// An exponent too large for an `i64` is clamped: the value is then far outside the
/// decimal range (or far below its precision) either way.
fn parse_exponent(text: &str) -> Result<i64, DecimalProblem> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecimalProblem::NotANumber);
    }
    let magnitude: i64 = digits.parse().unwrap_or(1_000_000);
    let magnitude = magnitude.min(1_000_000);
    Ok(if negative { -magnitude } else { magnitude })
}

/// The decimal text of a number the engine computed (risk score, amount spent), rounded to
/// Cedar's four decimal places.
pub fn rounded_decimal_text(value: f64) -> Result<String, DecimalProblem> {
    if !value.is_finite() {
        return Err(DecimalProblem::NotANumber);
    }
    // Checked before formatting so that a huge value does not print hundreds of digits.
    if value.abs() >= 1e15 {
        return Err(DecimalProblem::OutOfRange);
    }
    decimal_text(&format!("{value:.4}"))
}
