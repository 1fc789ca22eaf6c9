//! The Cedar escape hatch: rules the manifest form cannot say, written as Cedar policies in
//! the `.cedar` files of the policy directory. They can only tighten a verdict.
//!
//! # What a policy means
//!
//! - An unannotated `forbid` blocks the call when it matches.
//! - A `permit` or `forbid` annotated `@decision("require_approval")` asks for a human's
//!   approval when it matches; `@decision("block")` blocks.
//! - An unannotated `permit` is refused when loading: a Cedar permit cannot allow what the
//!   manifest blocks, so it could only mislead the reader.
//! - Any error while evaluating a policy blocks the call and names the policy. Cedar itself
//!   skips a policy that fails, which for a forbid would fail open.
//!
//! `@id("...")` names a policy in findings (`cedar:<id>`); without it the policy is named
//! `<file>:<line>`. `@reason("...")` is the finding's message. Templates are refused.
//!
//! # Validation
//!
//! Policies are checked when loading against a Cedar schema generated from the catalog
//! (`schema.rs`), with Cedar's validator in strict mode (`validate.rs`): a misspelt action,
//! attribute or entity type, a type error, or a condition that can never hold is a load
//! error with its `file:line:column`. So is a `has` test of an attribute that no action the
//! policy applies to declares (`attributes.rs`), which Cedar silently types as `false`.
//! `aecl check --emit-cedar-schema DIR` prints the schema.
//!
//! # The request
//!
//! - principal: `Agent::"<agent id>"`; action: `Action::"<action name>"`; resource:
//!   `Run::"<run id>"`. There are no entity attributes or parents (the entity store is
//!   empty), so the validator refuses `principal.x`.
//! - context:
//!
//! ```text
//! {
//!   args:             Record,   // the call's arguments, typed by the action's schema
//!   risk:             decimal,  // the built-in risk score, rounded to 4 places
//!   decision_so_far:  String,   // "allow" | "require_approval" | "block"
//!   effect:           String,   // the action's effect class: "read", "write", "delete",
//!                               // "send", "exec", "payment" or "admin"
//!   untrusted_args:   Set<String>, // argument paths whose value came only from untrusted content
//!   run: {
//!     goal:           String,   // "" when the run declared none
//!     calls_allowed:  Long,
//!     amount_spent:   decimal,  // rounded to 4 places
//!     read_untrusted: Bool,
//!     read_private:   Bool,
//!     tenant:         String,   // of the run's declared scope, "" when none
//!     environment:    String,   // of the run's declared scope, "" when none
//!   },
//! }
//! ```
//!
//! # Arguments as Cedar values
//!
//! The arguments of a call are converted only when some policy can apply to its action (its
//! scope names the action, or any action), so a value Cedar cannot hold is an error of the
//! calls rules look at, never of other actions. The conversion is this module's own (see
//! `value.rs`), never Cedar's JSON syntax, so an argument key such as `__entity` or
//! `__extn` stays a plain record attribute and cannot forge an entity reference or an
//! extension value. It follows the action's `args` type in the schema:
//!
//! - `String`, `Bool` from strings and booleans; `Long` from an integer that fits 64 bits;
//! - `decimal` from any number of a `number` argument (`12.5`, `1200`, `1e3`) with at most
//!   4 digits after the point within Cedar's decimal range; otherwise the call is blocked
//!   with a finding naming the field. Decimals compare with `.greaterThan(...)` and
//!   friends, not `>`;
//! - `null` → the key is left out (test it with `has`); no arguments at all (`null`) is
//!   the empty record; keys the schema does not declare are left out too;
//! - array → `Set`: order and duplicates are lost, and `null` elements are left out;
//! - object → `Record`;
//! - a value of another JSON type than the schema's, or containers nested deeper than 32
//!   levels, block the call.

// The decision path must not panic on any input.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod attributes;
mod decimal;
mod parse;
pub(crate) mod schema;
mod validate;
mod value;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use aecl_core::Decision;
use aecl_core::policy::ActionSpec;
use aecl_core::rules::{RuleFinding, RuleInput, RuleSet};
use cedar_policy::ffi::DetailedError;
use cedar_policy::{
    ActionConstraint, AuthorizationError, Authorizer, Context, Decision as CedarDecision, Effect,
    Entities, EntityId, EntityTypeName, EntityUid, PolicySet, Request, RestrictedExpression,
};

use self::parse::{PolicyInfo, parse_files};
use self::schema::{CatalogSchema, Shape};
use crate::compiled::CompiledRule;

/// One problem in a `.cedar` file. Line and column count from 1; 0 when unknown.
#[derive(Debug, Clone, PartialEq)]
pub struct CedarError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for CedarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
    }
}

/// The Cedar policies of a policy directory, ready to evaluate on every call.
#[derive(Debug)]
pub struct CedarRules {
    authorizer: Authorizer,
    /// INVARIANT: every group holds policies of one effect and one decision, so the
    /// policies Cedar names as the reason for its answer are exactly those that matched:
    /// the satisfied forbids when it denies, the satisfied permits when it allows, and
    /// none when nothing matched (Cedar's default deny has no reason). No synthetic
    /// `permit` is needed to observe a forbid.
    groups: Vec<Group>,
    /// By policy id (the label).
    policies: HashMap<String, PolicyInfo>,
    types: EntityTypes,
    canonical: String,
    /// The `args` record type of every catalog action.
    shapes: HashMap<String, Shape>,
    /// The actions some policy's scope can apply to.
    applies: Applies,
    /// The policies in their compiled form, until the load takes them
    /// ([`CedarRules::take_compiled`]); empty when they were built from one.
    compiled: Vec<CompiledRule>,
}

/// Which actions the policies can apply to, from their action scopes: the arguments of
/// other actions are never converted.
#[derive(Debug, Default)]
struct Applies {
    /// A policy with an unconstrained action scope applies to every action.
    any: bool,
    actions: HashSet<String>,
}

impl Applies {
    fn of(policies: &[parse::ParsedPolicy]) -> Applies {
        let mut applies = Applies::default();
        for parsed in policies {
            match parsed.policy.action_constraint() {
                ActionConstraint::Any => applies.any = true,
                ActionConstraint::Eq(uid) => {
                    applies.actions.insert(uid.id().unescaped().to_owned());
                }
                ActionConstraint::In(uids) => {
                    applies.actions.extend(uids.iter().map(|u| u.id().unescaped().to_owned()));
                }
            }
        }
        applies
    }

    fn contains(&self, action: &str) -> bool {
        self.any || self.actions.contains(action)
    }
}

/// Policies evaluated together.
#[derive(Debug)]
struct Group {
    effect: Effect,
    set: PolicySet,
}

#[derive(Debug)]
struct EntityTypes {
    agent: EntityTypeName,
    action: EntityTypeName,
    run: EntityTypeName,
}

impl CedarRules {
    /// Parses every file and validates it against the Cedar schema of `actions` (the
    /// catalog); errors name file:line:column and what was expected.
    pub fn from_sources(
        files: &[(String, String)],
        actions: &HashMap<String, ActionSpec>,
    ) -> Result<CedarRules, Vec<CedarError>> {
        let parsed = parse_files(files)?;
        let catalog = CatalogSchema::of(actions);
        let problems = validate::validate(&catalog, &parsed, files);
        if !problems.is_empty() {
            return Err(problems);
        }
        CedarRules::build(parsed, catalog)
    }

    /// Builds the policies of a compiled form (`compiled.rs`) without parsing Cedar text or
    /// validating them: only for a form that [`CedarRules::from_sources`] made with the same
    /// catalog, in this build of aecl (the hook's policy cache vouches for that). Validation
    /// only refuses; what it accepts is built exactly as here, so the rules are the same.
    /// Cedar's parser, schema and strict validator were the costliest part of a hook call.
    pub(crate) fn from_compiled(
        rules: &[CompiledRule],
        actions: &HashMap<String, ActionSpec>,
    ) -> Result<CedarRules, Vec<CedarError>> {
        CedarRules::build(parse::from_compiled(rules)?, CatalogSchema::of(actions))
    }

    /// The policies in their compiled form, once (empty after the first call).
    pub(crate) fn take_compiled(&mut self) -> Vec<CompiledRule> {
        std::mem::take(&mut self.compiled)
    }

    fn build(parsed: parse::Parsed, catalog: CatalogSchema) -> Result<CedarRules, Vec<CedarError>> {
        let internal = |message: String| {
            vec![CedarError { file: "(cedar)".to_owned(), line: 0, column: 0, message }]
        };
        let type_name = |name: &str| {
            EntityTypeName::from_str(name)
                .map_err(|e| internal(format!("entity type `{name}`: {e}")))
        };
        let types = EntityTypes {
            agent: type_name("Agent")?,
            action: type_name("Action")?,
            run: type_name("Run")?,
        };
        let mut groups = Vec::new();
        for decision in [Decision::Block, Decision::RequireApproval] {
            for effect in [Effect::Forbid, Effect::Permit] {
                let members = parsed
                    .policies
                    .iter()
                    .filter(|p| p.effect == effect && p.info.decision == decision)
                    .map(|p| p.policy.clone());
                let set = PolicySet::from_policies(members)
                    .map_err(|e| internal(format!("building the policy set: {e}")))?;
                if !set.is_empty() {
                    groups.push(Group { effect, set });
                }
            }
        }
        let applies = Applies::of(&parsed.policies);
        let policies =
            parsed.policies.into_iter().map(|p| (p.info.label.clone(), p.info)).collect();
        Ok(CedarRules {
            authorizer: Authorizer::new(),
            groups,
            policies,
            types,
            canonical: parsed.canonical,
            shapes: catalog.shapes,
            applies,
            compiled: parsed.compiled,
        })
    }

    /// Only parses every file (the catalog is not known, so nothing can be validated):
    /// the syntax errors.
    pub fn syntax_errors(files: &[(String, String)]) -> Vec<CedarError> {
        parse_files(files).err().unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// Canonical text of all policies, for the policy revision hash: in file-name then
    /// source order, each as Cedar prints its syntax tree under a `// <label>` line. It does
    /// not change with whitespace or comments, except where they move a policy without
    /// `@id` to another line (its label, `file:line`, appears in findings).
    pub fn canonical_text(&self) -> String {
        self.canonical.clone()
    }

    fn request(&self, input: &RuleInput<'_>) -> Result<Request, Vec<RuleFinding>> {
        // An action outside the catalog has no declared arguments (and is blocked earlier).
        let empty = Shape::Record(Default::default());
        let shape = self.shapes.get(&input.call.action).unwrap_or(&empty);
        let args = value::arguments(&input.call.args, shape).map_err(refused_arguments)?;
        let decimal = |name: &str, number: f64| {
            value::rounded_decimal_text(number).map(decimal::decimal).map_err(|problem| {
                vec![block("cedar:context", format!("{name} {number} {problem}"))]
            })
        };
        let text =
            |s: &Option<String>| RestrictedExpression::new_string(s.clone().unwrap_or_default());
        let run = input.run;
        let run_record = RestrictedExpression::new_record([
            ("goal".to_owned(), text(&run.goal)),
            (
                "calls_allowed".to_owned(),
                RestrictedExpression::new_long(i64::from(run.calls_allowed)),
            ),
            ("amount_spent".to_owned(), decimal("the run's amount spent", run.amount_spent)?),
            (
                "read_untrusted".to_owned(),
                RestrictedExpression::new_bool(run.read_untrusted.is_some()),
            ),
            ("read_private".to_owned(), RestrictedExpression::new_bool(run.read_private.is_some())),
            ("tenant".to_owned(), text(&run.scope.tenant)),
            ("environment".to_owned(), text(&run.scope.environment)),
        ])
        .map_err(|e| vec![block("cedar:context", format!("building `context.run`: {e}"))])?;
        let untrusted =
            input.untrusted_args.iter().map(|a| RestrictedExpression::new_string(a.clone()));
        let context = Context::from_pairs([
            ("args".to_owned(), args),
            ("risk".to_owned(), decimal("the risk score", input.risk_score)?),
            (
                "decision_so_far".to_owned(),
                RestrictedExpression::new_string(input.decision_so_far.as_str().to_owned()),
            ),
            (
                "effect".to_owned(),
                RestrictedExpression::new_string(input.action.effect.as_str().to_owned()),
            ),
            ("untrusted_args".to_owned(), RestrictedExpression::new_set(untrusted)),
            ("run".to_owned(), run_record),
        ])
        .map_err(|e| vec![block("cedar:context", format!("building the Cedar context: {e}"))])?;
        let uid = |type_name: &EntityTypeName, id: &str| {
            EntityUid::from_type_name_and_id(type_name.clone(), EntityId::new(id))
        };
        let call = input.call;
        Request::new(
            uid(&self.types.agent, &call.agent),
            uid(&self.types.action, &call.action),
            uid(&self.types.run, &call.run),
            context,
            None,
        )
        .map_err(|e| vec![block("cedar:request", format!("building the Cedar request: {e}"))])
    }

    /// The finding for policy `id` matching.
    fn matched(&self, id: &str) -> (usize, RuleFinding) {
        let Some(info) = self.policies.get(id) else {
            let message = format!("Cedar reported policy `{id}`, which was not loaded");
            return (usize::MAX, block(&format!("cedar:{id}"), message));
        };
        let message = match (&info.reason, info.decision) {
            (Some(reason), _) => reason.clone(),
            (None, Decision::RequireApproval) => {
                "a Cedar policy asks for a human's approval".to_owned()
            }
            (None, _) => "a Cedar policy forbids this call".to_owned(),
        };
        let finding =
            RuleFinding { rule: format!("cedar:{}", info.label), decision: info.decision, message };
        (info.order, finding)
    }

    /// The finding for policy `id` failing to evaluate.
    fn failed(&self, error: &AuthorizationError) -> (usize, RuleFinding) {
        let AuthorizationError::PolicyEvaluationError(error) = error;
        let id: &str = error.policy_id().as_ref();
        let order = self.policies.get(id).map_or(usize::MAX, |info| info.order);
        let detailed = DetailedError::from(error.inner());
        let mut message = format!(
            "the Cedar policy could not be evaluated, so the call is blocked: {}",
            detailed.message
        );
        if let Some(help) = detailed.help {
            message.push_str(&format!(" ({help})"));
        }
        (order, block(&format!("cedar:{id}"), message))
    }
}

impl RuleSet for CedarRules {
    fn evaluate(&self, input: &RuleInput<'_>) -> Vec<RuleFinding> {
        // No policy can apply to this action: its arguments are not converted, so a value
        // Cedar cannot hold is no reason to refuse it.
        if self.groups.is_empty() || !self.applies.contains(&input.call.action) {
            return Vec::new();
        }
        let request = match self.request(input) {
            Ok(request) => request,
            Err(findings) => return findings,
        };
        let entities = Entities::empty();
        let mut findings: Vec<(usize, RuleFinding)> = Vec::new();
        for group in &self.groups {
            let response = self.authorizer.is_authorized(&request, &group.set, &entities);
            let diagnostics = response.diagnostics();
            findings.extend(diagnostics.errors().map(|e| self.failed(e)));
            let matched: Vec<&str> = diagnostics.reason().map(AsRef::as_ref).collect();
            // Only matching forbids deny, and only matching permits allow: an answer that
            // disagrees with its reasons means this module misread Cedar, so block.
            let expected = match group.effect {
                Effect::Forbid => CedarDecision::Deny,
                Effect::Permit => CedarDecision::Allow,
            };
            if !matched.is_empty() && response.decision() != expected {
                let message = format!(
                    "Cedar answered {:?} for matching {} policies {}",
                    response.decision(),
                    group.effect,
                    matched.join(", ")
                );
                findings.push((usize::MAX, block("cedar:internal", message)));
            }
            findings.extend(matched.into_iter().map(|id| self.matched(id)));
        }
        findings.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.rule.cmp(&b.1.rule)));
        findings.into_iter().map(|(_, finding)| finding).collect()
    }
}

/// The Cedar schema the rules of a policy with these catalog `actions` are validated
/// against, in Cedar's schema syntax (`aecl check --emit-cedar-schema`).
pub fn schema_text(actions: &HashMap<String, ActionSpec>) -> Result<String, String> {
    let catalog = CatalogSchema::of(actions);
    let fragment = cedar_policy::SchemaFragment::from_json_value(catalog.json)
        .map_err(|e| format!("the generated Cedar schema is not valid: {e}"))?;
    fragment.to_cedarschema().map_err(|e| format!("printing the Cedar schema: {e}"))
}

/// Findings listed for refused arguments before the rest are summed up in one, so that a
/// huge argument list cannot flood the verdict.
const MAX_REFUSAL_FINDINGS: usize = 8;

fn refused_arguments(refusals: Vec<value::Refusal>) -> Vec<RuleFinding> {
    let total = refusals.len();
    let mut findings: Vec<RuleFinding> = refusals
        .into_iter()
        .take(MAX_REFUSAL_FINDINGS)
        .map(|r| {
            let what = if r.field.is_empty() {
                "the arguments".to_owned()
            } else {
                format!("argument `{}`", r.field)
            };
            let message =
                format!("{what} {}; Cedar rules cannot see it, so the call is refused", r.message);
            block("cedar:args", message)
        })
        .collect();
    if total > MAX_REFUSAL_FINDINGS {
        let more = total - MAX_REFUSAL_FINDINGS;
        findings.push(block("cedar:args", format!("{more} more argument(s) refused likewise")));
    }
    findings
}

fn block(rule: &str, message: String) -> RuleFinding {
    RuleFinding { rule: rule.to_owned(), decision: Decision::Block, message }
}

#[cfg(test)]
mod tests;
