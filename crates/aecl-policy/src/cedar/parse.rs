//! Parsing `.cedar` files into labelled policies: positions, annotations, and the checks
//! that keep Cedar a tightening-only escape hatch.

use std::collections::HashMap;
use std::str::FromStr;

use aecl_core::Decision;
use cedar_policy::ffi::DetailedError;
use cedar_policy::{Effect, Policy, PolicyId, PolicySet};

use super::CedarError;
use crate::compiled::CompiledRule;
use crate::location::line_col;

/// A policy ready for evaluation, with what a finding says about it.
#[derive(Debug, Clone)]
pub struct ParsedPolicy {
    /// Re-identified with `info.label`, so Cedar's diagnostics name it the same way.
    pub policy: Policy,
    pub effect: Effect,
    pub info: PolicyInfo,
    /// The byte offset of the policy's text (`policy.to_cedar()`) in its file, when found.
    pub offset: Option<usize>,
}

/// What a finding names: the label, the place, the decision a match means and its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInfo {
    /// Position in file-name then source order; findings are sorted by it.
    pub order: usize,
    /// The `@id` annotation, else `file:line` (`file:line:column` when two policies share
    /// a line).
    pub label: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub decision: Decision,
    /// The `@reason` annotation.
    pub reason: Option<String>,
}

/// All policies of all files, or every problem found in them.
#[derive(Debug, Default)]
pub struct Parsed {
    pub policies: Vec<ParsedPolicy>,
    pub canonical: String,
    /// The policies in their compiled form (empty when they were built from one).
    pub compiled: Vec<CompiledRule>,
}

/// Parses `files` in file-name order.
pub fn parse_files(files: &[(String, String)]) -> Result<Parsed, Vec<CedarError>> {
    let mut sorted: Vec<&(String, String)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut parsed = Parsed::default();
    let mut errors = Vec::new();
    let mut labels: HashMap<String, (String, usize, usize)> = HashMap::new();
    for (file, text) in sorted {
        if let Err((offset, depth)) = check_nesting(text) {
            let (line, column) = line_col(text, offset);
            errors.push(CedarError {
                file: file.clone(),
                line,
                column,
                message: format!(
                    "brackets nested {depth} deep: at most {MAX_NESTING} levels are accepted"
                ),
            });
            continue;
        }
        let pset = match PolicySet::from_str(text) {
            Ok(pset) => pset,
            Err(parse_errors) => {
                errors.extend(parse_errors.iter().map(|e| parse_error(file, text, e)));
                continue;
            }
        };
        for entry in located_entries(&pset, text) {
            let (line, column) = entry.offset.map_or((0, 0), |offset| line_col(text, offset));
            let Some(policy) = entry.policy else {
                errors.push(CedarError {
                    file: file.clone(),
                    line,
                    column,
                    message: "templates (policies with `?principal` or `?resource` slots) are \
                              not supported; write a static policy"
                        .to_owned(),
                });
                continue;
            };
            let at = |message: String| CedarError { file: file.clone(), line, column, message };
            let effect = policy.effect();
            let decision = match decision_of(&policy, effect) {
                Ok(decision) => decision,
                Err(message) => {
                    errors.push(at(message));
                    continue;
                }
            };
            let label = match policy.annotation("id") {
                Some("") => {
                    errors.push(at("`@id` must not be empty".to_owned()));
                    continue;
                }
                Some(id) => id.to_owned(),
                None => {
                    let short = format!("{file}:{line}");
                    if labels.contains_key(&short) { format!("{short}:{column}") } else { short }
                }
            };
            if let Some((f, l, c)) = labels.get(&label) {
                errors.push(at(format!(
                    "policy id `{label}` is already used by the policy at {f}:{l}:{c}"
                )));
                continue;
            }
            labels.insert(label.clone(), (file.clone(), line, column));
            let policy = policy.new_id(PolicyId::new(&label));
            let text = canonical_policy_text(&policy);
            parsed.canonical.push_str(&format!("// {label}\n{text}\n"));
            let (label_, file_) = (label.clone(), file.clone());
            parsed.compiled.push(CompiledRule { label: label_, file: file_, line, column, text });
            let reason = policy.annotation("reason").map(str::to_owned);
            let order = parsed.policies.len();
            let info =
                PolicyInfo { order, label, file: file.clone(), line, column, decision, reason };
            let offset = entry.offset;
            parsed.policies.push(ParsedPolicy { policy, effect, info, offset });
        }
    }
    if errors.is_empty() { Ok(parsed) } else { Err(errors) }
}

/// What a match of `policy` decides. Unannotated permits are refused: they would read as
/// "allow", which a rule that can only tighten cannot mean.
fn decision_of(policy: &Policy, effect: Effect) -> Result<Decision, String> {
    match (policy.annotation("decision"), effect) {
        (None, Effect::Forbid) | (Some("block"), _) => Ok(Decision::Block),
        (Some("require_approval"), _) => Ok(Decision::RequireApproval),
        (None, Effect::Permit) => Err("a `permit` policy must carry \
             `@decision(\"require_approval\")` (or `@decision(\"block\")`): Cedar rules can only \
             tighten the verdict, so a permit cannot allow what the manifest blocks; it can \
             only ask for a human's approval when it matches"
            .to_owned()),
        (Some(other), _) => Err(format!(
            "`@decision(\"{other}\")` is not a decision a Cedar rule can make; expected \
             `require_approval` or `block` (Cedar rules can only tighten the verdict)"
        )),
    }
}

/// A static policy or a template of one file, with where its text starts.
struct Entry {
    policy: Option<Policy>,
    offset: Option<usize>,
}

/// The policies and templates of `pset` in source order, each with its byte offset in
/// `text`. Cedar numbers them `policy0`, `policy1`, ... in source order and keeps each
/// one's exact text, so each text is searched for after the end of the previous one.
fn located_entries(pset: &PolicySet, text: &str) -> Vec<Entry> {
    let number = |id: &PolicyId| {
        let id: &str = id.as_ref();
        id.strip_prefix("policy").and_then(|n| n.parse::<usize>().ok()).unwrap_or(usize::MAX)
    };
    let mut items: Vec<(usize, Option<String>, Option<Policy>)> = pset
        .policies()
        .map(|p| (number(p.id()), p.to_cedar(), Some(p.clone())))
        .chain(pset.templates().map(|t| (number(t.id()), Some(t.to_cedar()), None)))
        .collect();
    items.sort_by_key(|(n, _, _)| *n);
    let mut cursor = 0;
    items
        .into_iter()
        .map(|(_, source, policy)| {
            let offset = source.and_then(|source| {
                let found = text.get(cursor..).and_then(|rest| rest.find(source.as_str()));
                let offset =
                    found.map(|pos| cursor + pos).or_else(|| text.find(source.as_str()))?;
                cursor = offset + source.len();
                Some(offset)
            });
            Entry { policy, offset }
        })
        .collect()
}

/// One parse error at its line and column, with what the parser expected there.
fn parse_error(file: &str, text: &str, error: &cedar_policy::ParseError) -> CedarError {
    let detailed = DetailedError::from(error);
    let mut message = detailed.message;
    let first = detailed.source_locations.first();
    if let Some(label) = first.and_then(|l| l.label.as_deref()) {
        message.push_str(&format!("; {label}"));
    }
    if let Some(help) = detailed.help {
        message.push_str(&format!(" ({help})"));
    }
    let (line, column) = first.map_or((0, 0), |l| line_col(text, l.loc.start));
    CedarError { file: file.to_owned(), line, column, message }
}

/// A policy's text independent of whitespace and comments: Cedar's own printing of its
/// syntax tree (through the JSON form, since a policy parsed from text prints its source).
/// Falls back to the source text.
fn canonical_policy_text(policy: &Policy) -> String {
    policy
        .to_json()
        .ok()
        .and_then(|json| Policy::from_json(None, json).ok())
        .and_then(|p| p.to_cedar())
        .unwrap_or_else(|| policy.to_string())
}

/// The policies of a compiled form: their canonical texts, parsed together (Cedar's parser
/// builds its lexer once per parse, so one parse of all of them costs least; Cedar's JSON
/// form costs more, as every name in it is parsed on its own). The canonical text is the
/// one parsed, so the revision computed from it names the policies evaluated.
pub fn from_compiled(rules: &[CompiledRule]) -> Result<Parsed, Vec<CedarError>> {
    let problem = |message: String| {
        let place = rules.first();
        vec![CedarError {
            file: place.map_or_else(|| "(cedar)".to_owned(), |r| r.file.clone()),
            line: place.map_or(0, |r| r.line),
            column: place.map_or(0, |r| r.column),
            message,
        }]
    };
    let text: String = rules.iter().map(|r| format!("{}\n", r.text)).collect();
    if let Err((_, depth)) = check_nesting(&text) {
        return Err(problem(format!("compiled rules nested {depth} deep")));
    }
    let pset = PolicySet::from_str(&text)
        .map_err(|e| problem(format!("compiled rules do not parse: {e}")))?;
    let mut policies: Vec<(usize, Policy)> = pset
        .policies()
        .map(|p| {
            let id: &str = p.id().as_ref();
            let number = id.strip_prefix("policy").and_then(|n| n.parse().ok());
            (number.unwrap_or(usize::MAX), p.clone())
        })
        .collect();
    policies.sort_by_key(|(number, _)| *number);
    let numbered = policies.iter().enumerate().all(|(i, (number, _))| i == *number);
    if policies.len() != rules.len() || !numbered || pset.templates().next().is_some() {
        return Err(problem("compiled rules are not one policy each".to_owned()));
    }
    let mut parsed = Parsed::default();
    for (order, (rule, (_, policy))) in rules.iter().zip(policies).enumerate() {
        let effect = policy.effect();
        let decision = decision_of(&policy, effect).map_err(problem)?;
        parsed.canonical.push_str(&format!("// {}\n{}\n", rule.label, rule.text));
        let info = PolicyInfo {
            order,
            label: rule.label.clone(),
            file: rule.file.clone(),
            line: rule.line,
            column: rule.column,
            decision,
            reason: policy.annotation("reason").map(str::to_owned),
        };
        let policy = policy.new_id(PolicyId::new(&rule.label));
        parsed.policies.push(ParsedPolicy { policy, effect, info, offset: None });
    }
    // `compiled` stays empty: the caller holds the form these came from.
    Ok(parsed)
}

/// The deepest bracket nesting accepted in a `.cedar` file. Cedar's parser recurses once per
/// level, so a file of a few thousand `(` overflows the stack and aborts the process (found
/// by the `policy_parse` fuzz target); real policies stay far below this.
const MAX_NESTING: usize = 64;

/// Checks bracket nesting outside string literals and comments before the text reaches
/// Cedar. `Err` holds the byte offset where the limit is passed and the depth reached.
fn check_nesting(text: &str) -> Result<(), (usize, usize)> {
    let mut depth = 0usize;
    let mut chars = text.char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        match c {
            '"' => {
                // Skip the string literal, honouring backslash escapes.
                while let Some((_, s)) = chars.next() {
                    match s {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '/' if chars.peek().is_some_and(|(_, n)| *n == '/') => {
                for (_, s) in chars.by_ref() {
                    if s == '\n' {
                        break;
                    }
                }
            }
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err((offset, depth));
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}
