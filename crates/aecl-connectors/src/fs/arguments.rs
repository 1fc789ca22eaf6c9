//! The `fs` connector's path arguments and the policy's path rules on them.
//!
//! The connector reads `path_arg` for every operation and, for a move, `to_arg`, the
//! destination. Two rules keep the policy's path rules (`path_under`, `path_glob`) on what
//! is really touched:
//!
//! - at start-up and on each call, an action whose path rules are all on arguments the
//!   connector does not read is refused (`binding.rs`);
//! - on each move, the rules on the source (`path_arg`) are applied to the destination as
//!   well, as `decide` would have applied them, with the paths the engine resolved for the
//!   call. Otherwise `path_glob.block = ["*/.git/*"]` on `path` keeps a write out of
//!   `.git`, and a move of a file written elsewhere puts it there. The destination may
//!   carry rules of its own, stricter or not: a move goes ahead only when the source's
//!   rules, applied to it, ask for nothing stricter than its own rules already asked for
//!   (and so the decision already required: a block, or an approval given).

use aecl_core::constraint::{ValueFacts, Violation};
use aecl_core::operation::Operation;
use aecl_core::{ActionSpec, Call, Decision};

use super::FsConfig;
use crate::binding::{self, RuleKind, Target};

/// The arguments the connector reads a path from for `operation`.
pub(super) fn targets(config: &FsConfig, operation: Operation) -> Vec<Target<'_>> {
    let mut targets = vec![Target { arg: &config.path_arg, key: "path_arg", role: "the path" }];
    if operation == Operation::Move {
        targets.push(Target { arg: &config.to_arg, key: "to_arg", role: "the destination" });
    }
    targets
}

/// Refuses `action` when its path rules are only on arguments the connector does not read.
pub(super) fn check_rules_placed(
    config: &FsConfig,
    action: &ActionSpec,
    operation: Operation,
) -> Result<(), String> {
    binding::check_targets(action, RuleKind::Path, &targets(config, operation))
}

/// Refuses a move whose destination the source's path rules judge more strictly than the
/// destination's own rules did (see the module's documentation); nothing is done then.
pub(super) fn check_destination(
    config: &FsConfig,
    action: &ActionSpec,
    call: &Call,
) -> Result<(), String> {
    // A missing or non-text destination is refused where it is read.
    let Some(to) = call.args.get(&config.to_arg) else { return Ok(()) };
    let judged = |arg: &str| -> Vec<Violation> {
        let mut out = Vec::new();
        let mut facts = ValueFacts::default();
        for rule in binding::rules_on(action, arg, RuleKind::Path) {
            rule.check_with(to, &call.paths, &mut out, &mut facts);
        }
        out
    };
    let by_source = judged(&config.path_arg);
    let Some(worst) = by_source.iter().max_by_key(|v| v.decision) else { return Ok(()) };
    let own = judged(&config.to_arg).iter().map(|v| v.decision).max();
    if own.is_some_and(|own| own >= worst.decision) {
        return Ok(());
    }
    let needed = match worst.decision {
        Decision::Block => "block",
        Decision::RequireApproval | Decision::Allow => "require an approval for",
    };
    Err(format!(
        "blocked: action `{action}`: the rules of the source `args.{source}`, which apply to \
         both paths of a move, {needed} the destination `{to}` (`args.{dest}`: {rule}: \
         {message}), and its own rules did not; give `args.{dest}` the same rules as \
         `args.{source}`; nothing was moved",
        action = action.name,
        source = config.path_arg,
        dest = config.to_arg,
        to = to.as_str().unwrap_or_default(),
        rule = worst.rule,
        message = worst.message,
    ))
}
