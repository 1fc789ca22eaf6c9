//! Lowering what the approval gate shows and needs beyond "when": an action's `summary`
//! arguments, its quorum (`approvals_required`) and the cool-down of a rejected call
//! (`rejected_cooldown`, per action or as `[approval]` in `policy.toml`).

use aecl_core::path::FieldPath;
use aecl_core::policy::{ActionSpec, DEFAULT_REJECTED_COOLDOWN_SECS};
use aecl_core::run_bounds::parse_duration;

use crate::error::Problem;
use crate::format::{ActionFile, ApprovalSettingsFile};
use crate::location::Step;
use crate::lower::FileCtx;

/// The most approvers one request may need: more is a policy that nobody can satisfy
/// in time, and likely a typo.
pub(crate) const MAX_APPROVALS_REQUIRED: u32 = 5;

/// `[approval]` of `policy.toml`: the cool-down every action has unless it sets its own.
pub(crate) fn lower_settings(
    file: &ApprovalSettingsFile,
    ctx: &FileCtx<'_>,
    problems: &mut Vec<Problem>,
) -> Option<u64> {
    let text = file.rejected_cooldown.as_deref()?;
    let at = [Step::from("approval"), Step::from("rejected_cooldown")];
    cooldown(text, ctx, &at, problems)
}

/// Adds the action's `summary`, `approval.approvals_required` and
/// `approval.rejected_cooldown` to `spec`; the cool-down falls back to `default_cooldown`
/// (the settings' value), then to ten minutes.
pub(crate) fn lower_action(
    spec: &mut ActionSpec,
    file: &ActionFile,
    default_cooldown: Option<u64>,
    ctx: &FileCtx<'_>,
    problems: &mut Vec<Problem>,
) {
    let at = |rest: &[&str]| {
        let mut path = vec![Step::from("actions"), Step::from(spec.name.as_str())];
        path.extend(rest.iter().map(|s| Step::from(*s)));
        path
    };
    let mut summary = Vec::new();
    for (i, text) in file.summary.iter().enumerate() {
        let mut place = at(&["summary"]);
        place.push(Step::Index(i));
        match FieldPath::parse(text) {
            Some(path) if !summary.contains(&path) => summary.push(path),
            Some(_) => problems.push(ctx.problem(&place, format!("`{text}` is listed twice"))),
            None => problems
                .push(ctx.problem(&place, format!("`{text}` is not an argument path (`a.b`)"))),
        }
    }
    spec.approval.summary = summary;
    let approval = file.approval.as_ref();
    if let Some(n) = approval.and_then(|a| a.approvals_required) {
        if (1..=MAX_APPROVALS_REQUIRED).contains(&n) {
            spec.approval.approvals_required = n;
        } else {
            problems.push(ctx.problem(
                &at(&["approval", "approvals_required"]),
                format!("`approvals_required` must be 1 to {MAX_APPROVALS_REQUIRED}, not {n}"),
            ));
        }
    }
    let own = approval
        .and_then(|a| a.rejected_cooldown.as_deref())
        .and_then(|text| cooldown(text, ctx, &at(&["approval", "rejected_cooldown"]), problems));
    spec.approval.rejected_cooldown_secs =
        own.or(default_cooldown).unwrap_or(DEFAULT_REJECTED_COOLDOWN_SECS);
}

/// A cool-down: a duration or `off` (0).
fn cooldown(
    text: &str,
    ctx: &FileCtx<'_>,
    at: &[Step],
    problems: &mut Vec<Problem>,
) -> Option<u64> {
    if text.trim() == "off" {
        return Some(0);
    }
    match parse_duration(text) {
        Some(secs) if secs > 0 => Some(secs),
        _ => {
            problems.push(ctx.problem(
                at,
                format!("`{text}` is not a duration (`90s`, `10m`, `2h`, `1d`, or `off`)"),
            ));
            None
        }
    }
}
