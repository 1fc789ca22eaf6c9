//! `has` tests of attributes the schema does not declare. `context.args has amout` is always
//! false, so the rule it guards silently never matches (or, in a disjunction, silently
//! matches less). Cedar's typechecker knows it — it types the test as `false` — but says so
//! only when the whole policy becomes impossible, as a warning that names neither the
//! attribute nor its place. This check names both.
//!
//! Cedar's syntax trees keep no source positions, so the tests are found in the policy's
//! text: `PATH has ATTR` (or `has A.B.C`), where `PATH` is a variable (`context`,
//! `principal`, `resource`, `action`) followed by `.name` or `["name"]` accesses. By Cedar's
//! grammar the left operand of `has` is an additive expression, so such a path preceded by
//! no unary or arithmetic operator is the whole operand. Any other operand is left to the
//! validator, whose impossible-policy warning still catches what makes a rule never match.

use std::collections::BTreeSet;

use cedar_policy::ActionConstraint;

use super::schema::{CatalogSchema, Shape};

/// A `has` test that is always false.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undeclared {
    /// Byte offset of the test (the start of its left operand) in the policy's text.
    pub offset: usize,
    pub message: String,
}

/// The `has` tests of the policy `text` that test an attribute not declared for any action
/// the policy can apply to (`actions`, its action scope), in source order.
pub fn undeclared(
    text: &str,
    actions: &ActionConstraint,
    catalog: &CatalogSchema,
) -> Vec<Undeclared> {
    let tokens = lex(text);
    let applicable = applicable(actions, catalog);
    let mut found = Vec::new();
    for (index, (_, token)) in tokens.iter().enumerate() {
        if *token != Token::Ident("has") {
            continue;
        }
        let (Some(operand), Some(attrs)) = (operand(&tokens, index), tested(&tokens, index + 1))
        else {
            continue;
        };
        let test = format!("{} has {}", operand.text(), attrs.join("."));
        let message = match operand.base {
            "context" => match missing_in_context(&operand.steps, &attrs, &applicable, catalog) {
                Some(missing) => missing.message(&operand, &test, &applicable),
                None => continue,
            },
            // Entities have no attributes (the entity store is empty), and the validator
            // refuses `principal.x`: only `principal has x` itself is left.
            entity if operand.steps.is_empty() => {
                let kind = match entity {
                    "principal" => "the principal, an `Agent`,",
                    "resource" => "the resource, a `Run`,",
                    _ => "an action",
                };
                format!(
                    "`{test}` is always false: {kind} has no attributes (the entity store is \
                     empty), so the policy can never match as written"
                )
            }
            _ => continue,
        };
        found.push(Undeclared { offset: operand.offset, message });
    }
    found
}

/// The catalog actions a policy with this action scope can apply to, by name.
fn applicable(actions: &ActionConstraint, catalog: &CatalogSchema) -> Vec<String> {
    let mut names: Vec<String> = match actions {
        ActionConstraint::Any => catalog.shapes.keys().cloned().collect(),
        ActionConstraint::Eq(uid) => vec![uid.id().unescaped().to_owned()],
        ActionConstraint::In(uids) => uids.iter().map(|u| u.id().unescaped().to_owned()).collect(),
    };
    // A misspelt action is the validator's error; the test is judged on the others.
    names.retain(|name| catalog.shapes.contains_key(name));
    names.sort();
    names.dedup();
    names
}

/// The left operand of a `has` test: a variable and the attributes accessed on it.
#[derive(Debug)]
struct Operand<'a> {
    offset: usize,
    base: &'a str,
    steps: Vec<&'a str>,
}

impl Operand<'_> {
    fn text(&self) -> String {
        std::iter::once(self.base).chain(self.steps.iter().copied()).collect::<Vec<_>>().join(".")
    }
}

/// Where the attribute is missing, for every action the policy applies to.
struct Missing {
    /// The record path where it is missing (`context.args`), and the attribute.
    path: String,
    attribute: String,
    /// What the record declares there, for any of the actions.
    declared: BTreeSet<String>,
}

impl Missing {
    fn message(&self, operand: &Operand<'_>, test: &str, applicable: &[String]) -> String {
        let actions = match applicable {
            [only] => format!("`Action::\"{only}\"`"),
            all => format!("any of the {} actions the policy applies to", all.len()),
        };
        let hint = match suggestion(&self.attribute, &self.declared) {
            Some(close) => format!(" (did you mean `{close}`?)"),
            None if self.declared.is_empty() && operand.steps == ["args"] => {
                " (the action declares no argument Cedar can type: rules see the arguments \
                 its `schema` in the catalog declares)"
                    .to_owned()
            }
            None if self.declared.is_empty() => String::new(),
            None => format!(
                " (declared: {})",
                self.declared.iter().map(|d| format!("`{d}`")).collect::<Vec<_>>().join(", ")
            ),
        };
        format!(
            "attribute `{}` is not declared in `{}` for {actions}{hint}: `{test}` is always \
             false, so the policy can never match as written",
            self.attribute, self.path
        )
    }
}

/// `Some` when, for every applicable action, the context path `steps` leads to a record
/// and one of `attrs` (tested in turn, as `has a.b` does) is missing. `None` when one
/// action declares them all, or when the path is not a record the schema knows (the
/// validator reports that).
fn missing_in_context(
    steps: &[&str],
    attrs: &[&str],
    applicable: &[String],
    catalog: &CatalogSchema,
) -> Option<Missing> {
    let mut first: Option<(usize, Missing)> = None;
    for action in applicable {
        let context = catalog.context_of(action)?;
        let mut shape = &context;
        for step in steps {
            shape = field(shape, step)?;
        }
        let mut path = std::iter::once("context").chain(steps.iter().copied()).collect::<Vec<_>>();
        let mut at = None;
        for (index, attr) in attrs.iter().enumerate() {
            let Shape::Record(fields) = shape else { return None };
            match fields.get(*attr) {
                Some((inner, _)) => {
                    shape = inner;
                    path.push(*attr);
                }
                None => {
                    at = Some((index, fields.keys().cloned().collect::<BTreeSet<_>>()));
                    break;
                }
            }
        }
        // This action declares every attribute tested: the test can hold.
        let (index, declared) = at?;
        match &mut first {
            Some((seen, missing)) if *seen == index => missing.declared.extend(declared),
            Some((seen, _)) if *seen < index => {}
            _ => {
                let attribute = attrs.get(index).copied().unwrap_or_default().to_owned();
                first = Some((index, Missing { path: path.join("."), attribute, declared }));
            }
        }
    }
    first.map(|(_, missing)| missing)
}

fn field<'s>(shape: &'s Shape, name: &str) -> Option<&'s Shape> {
    match shape {
        Shape::Record(fields) => fields.get(name).map(|(inner, _)| inner),
        _ => None,
    }
}

/// The declared name closest to `name`, when it is close enough to be a misspelling.
pub fn suggestion<'d>(name: &str, declared: &'d BTreeSet<String>) -> Option<&'d str> {
    let limit = (name.chars().count() / 3).max(2);
    declared
        .iter()
        .map(|d| (edit_distance(name, d), d))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, d)| d.as_str())
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous.get(j).map_or(usize::MAX, |d| d + usize::from(ca != *cb));
            let delete = previous.get(j + 1).map_or(usize::MAX, |d| d + 1);
            let insert = current.last().map_or(usize::MAX, |d| d + 1);
            current.push(substitute.min(delete).min(insert));
        }
        previous = current;
    }
    previous.last().copied().unwrap_or_default()
}

/// A token of Cedar's policy syntax, as far as this check needs to tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    Ident(&'a str),
    /// A string literal's content; `None` when it holds an escape (left to the validator).
    Str(Option<&'a str>),
    Punct(&'a str),
    Number,
}

/// The tokens of `text` with their byte offsets; whitespace and comments are skipped.
fn lex(text: &str) -> Vec<(usize, Token<'_>)> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let next = chars.peek().map(|(_, n)| *n);
        let token = match c {
            c if c.is_whitespace() => continue,
            '/' if next == Some('/') => {
                for (_, s) in chars.by_ref() {
                    if s == '\n' {
                        break;
                    }
                }
                continue;
            }
            '"' => {
                let mut escaped = false;
                let mut end = text.len();
                while let Some((offset, s)) = chars.next() {
                    match s {
                        '\\' => {
                            escaped = true;
                            chars.next();
                        }
                        '"' => {
                            end = offset;
                            break;
                        }
                        _ => {}
                    }
                }
                let content = text.get(start + 1..end);
                Token::Str(if escaped { None } else { content })
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut end = start + c.len_utf8();
                while let Some((offset, s)) = chars.peek().copied() {
                    if !(s.is_ascii_alphanumeric() || s == '_') {
                        break;
                    }
                    end = offset + s.len_utf8();
                    chars.next();
                }
                Token::Ident(text.get(start..end).unwrap_or_default())
            }
            c if c.is_ascii_digit() => {
                while chars.peek().is_some_and(|(_, s)| s.is_ascii_alphanumeric()) {
                    chars.next();
                }
                Token::Number
            }
            _ => {
                let pair = next.and_then(|n| {
                    let pair = text.get(start..start + c.len_utf8() + n.len_utf8())?;
                    ["::", "==", "!=", "<=", ">=", "&&", "||"].contains(&pair).then_some(pair)
                });
                match pair {
                    Some(pair) => {
                        chars.next();
                        Token::Punct(pair)
                    }
                    None => Token::Punct(text.get(start..start + c.len_utf8()).unwrap_or_default()),
                }
            }
        };
        tokens.push((start, token));
    }
    tokens
}

/// The left operand of the `has` at `tokens[has]`, when it is a variable with attribute
/// accesses and nothing else.
fn operand<'a>(tokens: &[(usize, Token<'a>)], has: usize) -> Option<Operand<'a>> {
    let token = |index: usize| tokens.get(index).map(|(_, t)| *t);
    let mut end = has;
    let mut steps = Vec::new();
    loop {
        let last = end.checked_sub(1)?;
        match token(last)? {
            Token::Ident(name) if last > 0 && token(last - 1) == Some(Token::Punct(".")) => {
                steps.push(name);
                end = last - 1;
            }
            Token::Ident(base) => {
                // Anything bound tighter than `has` before the variable makes the operand a
                // larger expression.
                let before = last.checked_sub(1).and_then(token);
                let attached = ["::", ".", "!", "-", "+", "*", "/", "%"];
                if matches!(before, Some(Token::Punct(p)) if attached.contains(&p)) {
                    return None;
                }
                if !matches!(base, "context" | "principal" | "resource" | "action") {
                    return None;
                }
                steps.reverse();
                let offset = tokens.get(last).map(|(offset, _)| *offset)?;
                return Some(Operand { offset, base, steps });
            }
            Token::Punct("]") => {
                let Some(Token::Str(Some(name))) = last.checked_sub(1).and_then(token) else {
                    return None;
                };
                if last.checked_sub(2).and_then(token) != Some(Token::Punct("[")) {
                    return None;
                }
                steps.push(name);
                end = last - 2;
            }
            _ => return None,
        }
    }
}

/// The attributes tested by the `has` whose right operand starts at `tokens[start]`: one
/// name or string, or names joined by `.` (`has a.b`, which tests each in turn).
fn tested<'a>(tokens: &[(usize, Token<'a>)], start: usize) -> Option<Vec<&'a str>> {
    let token = |index: usize| tokens.get(index).map(|(_, t)| *t);
    match token(start)? {
        Token::Str(Some(name)) => Some(vec![name]),
        Token::Ident(name) => {
            let mut names = vec![name];
            let mut next = start + 1;
            while token(next) == Some(Token::Punct("."))
                && let Some(Token::Ident(name)) = token(next + 1)
            {
                names.push(name);
                next += 2;
            }
            Some(names)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{Token, edit_distance, lex, operand, tested};

    fn has_test(text: &str) -> Option<(usize, String, Vec<String>)> {
        let tokens = lex(text);
        let has = tokens.iter().position(|(_, t)| *t == Token::Ident("has"))?;
        let operand = operand(&tokens, has)?;
        let attrs = tested(&tokens, has + 1)?;
        Some((operand.offset, operand.text(), attrs.into_iter().map(str::to_owned).collect()))
    }

    #[test]
    fn paths_before_has_are_found_with_their_start() {
        let found = has_test;
        let attrs = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            found("when { context.args has amout }"),
            Some((7, "context.args".to_owned(), attrs(&["amout"])))
        );
        assert_eq!(
            found("when { x && context[\"args\"] // c\n has \"amout\" }"),
            Some((12, "context.args".to_owned(), attrs(&["amout"])))
        );
        assert_eq!(
            found("when { context.args has payee.iban }"),
            Some((7, "context.args".to_owned(), attrs(&["payee", "iban"])))
        );
        assert_eq!(
            found("when { principal has department }"),
            Some((7, "principal".to_owned(), attrs(&["department"])))
        );
        // Operands that are larger expressions, or no variable, are left alone.
        assert_eq!(found("when { !context.args has amout }"), None);
        assert_eq!(found("when { decimal(\"1.0\").x has y }"), None);
        assert_eq!(found("when { (context.args) has amout }"), None);
        assert_eq!(found("when { ip::x has y }"), None);
        // `has` in strings and comments is no test.
        assert_eq!(found("@reason(\"context.args has x\") // context has y\nforbid"), None);
    }

    #[test]
    fn edit_distance_counts_characters() {
        assert_eq!(edit_distance("curency", "currency"), 1);
        assert_eq!(edit_distance("amout", "amount"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("é", "e"), 1);
    }
}
