//! Whether the policy's rules are on the arguments a connector really reads.
//!
//! The policy judges a call's arguments by name (`[actions.X.args.NAME]`); a connector
//! reads what it acts on from names of its own configuration (`statement_arg`,
//! `path_arg`, `to_arg`, `url_arg`, `command_arg`). A rule on one name while the connector
//! takes the statement, the path, the URL or the command from another checks nothing: the
//! call `{"sql": "SELECT 1", "query": "DELETE FROM t"}` passes SQL rules on `sql` and runs
//! the `DELETE`. So, for each kind of rule that bounds what a connector touches, an action
//! that has rules of that kind must have them on the argument the connector reads for it
//! (its *target*); otherwise the policy is refused, naming the action, where the rules
//! are, where they must be and the setting that would move the target instead.
//!
//! An action without rules of a kind is not refused here: it has said nothing about what
//! the connector may touch, and the connector's own bounds (roots, egress allowlist,
//! sandbox) are all there is (documented in `docs/connectors.md`). A rule on another
//! argument *beside* one on the target (`url_hosts` on a callback URL in the body as well
//! as on `url`) is the policy's own business and is kept.
//!
//! [`Connectors::check_policy`](crate::Connectors::check_policy) runs this at start-up and
//! at each reload (through each connector's `check_action`), and every connector runs it
//! again on each call, so that a policy never checked against this configuration (an
//! embedding, a test harness) fails closed rather than running the unchecked argument.

use aecl_core::ActionSpec;
use aecl_core::constraint::Constraint;
use aecl_core::policy::ArgSpec;

/// A kind of rule that bounds what a connector touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleKind {
    /// `sql = { ... }`: statement classes and functions.
    Sql,
    /// `path_under`, `path_glob`.
    Path,
    /// `url_hosts`.
    UrlHosts,
    /// `shell = { ... }`: command rules.
    Shell,
}

impl RuleKind {
    /// Whether `constraint` is a rule of this kind.
    pub(crate) fn covers(self, constraint: &Constraint) -> bool {
        matches!(
            (self, constraint),
            (RuleKind::Sql, Constraint::Sql(_))
                | (RuleKind::Path, Constraint::PathUnder(_) | Constraint::PathGlob(_))
                | (RuleKind::UrlHosts, Constraint::UrlHosts(_))
                | (RuleKind::Shell, Constraint::Shell(_))
        )
    }

    fn describe(self) -> &'static str {
        match self {
            RuleKind::Sql => "SQL rules (`sql`)",
            RuleKind::Path => "path rules (`path_under`, `path_glob`)",
            RuleKind::UrlHosts => "`url_hosts` rules",
            RuleKind::Shell => "shell rules (`shell`)",
        }
    }
}

/// An argument a connector reads to decide what it touches.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    /// The top-level argument name, as configured.
    pub arg: &'a str,
    /// The connector setting that names it (`statement_arg`).
    pub key: &'static str,
    /// What the connector takes from it (`the statement`).
    pub role: &'static str,
}

/// The rules of `kind` that `action` puts on the top-level argument `arg`.
pub(crate) fn rules_on<'s>(
    action: &'s ActionSpec,
    arg: &'s str,
    kind: RuleKind,
) -> impl Iterator<Item = &'s Constraint> + 's {
    action
        .args
        .iter()
        .filter(move |spec| spec.path.segments() == [arg])
        .flat_map(|spec| &spec.constraints)
        .filter(move |constraint| kind.covers(constraint))
}

/// Refuses `action` when it has rules of `kind` and none of them is on one of `targets`:
/// the connector would act on arguments no such rule checks. `targets` empty (the
/// connector reads nothing of this kind for the action: a webhook with a fixed `url`)
/// refuses nothing.
pub(crate) fn check_targets(
    action: &ActionSpec,
    kind: RuleKind,
    targets: &[Target<'_>],
) -> Result<(), String> {
    if targets.is_empty() {
        return Ok(());
    }
    let elsewhere: Vec<&ArgSpec> =
        action.args.iter().filter(|spec| spec.constraints.iter().any(|c| kind.covers(c))).collect();
    if elsewhere.is_empty() {
        return Ok(());
    }
    if targets.iter().any(|target| rules_on(action, target.arg, kind).next().is_some()) {
        return Ok(());
    }
    let read: Vec<String> =
        targets.iter().map(|t| format!("{} from `args.{}` (`{}`)", t.role, t.arg, t.key)).collect();
    let mut fix = targets
        .first()
        .map(|t| {
            format!("put the rules on `args.{0}` (`[actions.{1}.args.{0}]`)", t.arg, action.name)
        })
        .unwrap_or_default();
    // Moving the target instead is an option when the rules are on a top-level argument.
    if let (Some(target), Some([name])) =
        (targets.first(), elsewhere.first().map(|spec| spec.path.segments()))
    {
        fix.push_str(&format!(", or set `{} = \"{name}\"` for this connector", target.key));
    }
    let places: Vec<String> =
        elsewhere.iter().map(|spec| format!("`args.{}`", spec.path)).collect();
    Err(format!(
        "action `{}` has {} on {}, but this connector reads {}, which no such rule checks: {fix}",
        action.name,
        kind.describe(),
        places.join(", "),
        read.join(" and "),
    ))
}
