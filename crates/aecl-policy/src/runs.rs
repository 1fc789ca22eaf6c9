//! Lowering `policy.toml`'s `[runs]` (bounds on open run states) into
//! `aecl_core::run_bounds::RunLimits`.

use aecl_core::run_bounds::{RunLimits, parse_duration};

use crate::error::Problem;
use crate::format::RunsFile;
use crate::location::Step;
use crate::lower::FileCtx;

pub(crate) fn lower_runs(
    file: &RunsFile,
    ctx: &FileCtx<'_>,
    problems: &mut Vec<Problem>,
) -> RunLimits {
    let mut limits = RunLimits::default();
    if let Some(text) = &file.idle_expiry {
        if text.trim() == "off" {
            limits.idle_expiry_secs = None;
        } else {
            match parse_duration(text) {
                Some(secs) if secs > 0 => limits.idle_expiry_secs = Some(secs),
                _ => problems.push(ctx.problem(
                    &[Step::from("runs"), Step::from("idle_expiry")],
                    format!("`{text}` is not a duration (`90s`, `30m`, `2h`, `1d`, or `off`)"),
                )),
            }
        }
    }
    if let Some(n) = file.max_open_runs {
        if n == 0 {
            problems.push(ctx.problem(
                &[Step::from("runs"), Step::from("max_open_runs")],
                "`max_open_runs` must be at least 1",
            ));
        } else {
            limits.max_open_runs = n;
        }
    }
    if let Some(n) = file.max_state_bytes {
        // Below a few kilobytes even an empty run would not fit.
        if n < 4096 {
            problems.push(ctx.problem(
                &[Step::from("runs"), Step::from("max_state_bytes")],
                "`max_state_bytes` must be at least 4096",
            ));
        } else {
            limits.max_state_bytes = n;
        }
    }
    limits
}
