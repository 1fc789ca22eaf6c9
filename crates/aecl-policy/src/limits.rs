//! Lowering of `limits` tables (rate and concurrency), shared by manifests and actions.

use aecl_core::limits::{Limits, RateLimit};

use crate::error::Problem;
use crate::format::LimitsFile;
use crate::location::Step;
use crate::lower::FileCtx;

/// Lowers the `limits` table found at `at` (the path of its parent), reporting problems
/// against its fields.
pub(crate) fn lower(
    file: Option<&LimitsFile>,
    ctx: &FileCtx<'_>,
    at: &[Step],
    problems: &mut Vec<Problem>,
) -> Limits {
    let Some(file) = file else { return Limits::default() };
    let field = |key: &str| {
        let mut path = at.to_vec();
        path.push(Step::from("limits"));
        path.push(Step::from(key));
        path
    };
    let rate = file.rate.as_deref().and_then(|text| match parse_rate(text) {
        Ok((count, per_ms)) => {
            let burst = file.burst.unwrap_or(count);
            if burst == 0 {
                problems.push(ctx.problem(&field("burst"), "`burst` must be at least 1"));
                return None;
            }
            Some(RateLimit { count, per_ms, burst })
        }
        Err(message) => {
            problems.push(ctx.problem(&field("rate"), message));
            None
        }
    });
    if file.burst.is_some() && file.rate.is_none() {
        problems.push(ctx.problem(&field("burst"), "`burst` needs a `rate`"));
    }
    if file.concurrency == Some(0) {
        problems.push(ctx.problem(
            &field("concurrency"),
            "`concurrency` must be at least 1 (to forbid an action, leave it out of \
             `allowed_actions`)",
        ));
    }
    Limits { rate, concurrency: file.concurrency.filter(|&c| c > 0) }
}

/// `COUNT/UNIT`, as `10/minute`: the count and the period in milliseconds.
pub(crate) fn parse_rate(text: &str) -> Result<(u32, u64), String> {
    let expected = || {
        format!(
            "rate `{text}`: expected COUNT/UNIT with COUNT at least 1 and UNIT one of \
             `second`, `minute`, `hour`, `day` (as \"10/minute\")"
        )
    };
    let (count, unit) = text.split_once('/').ok_or_else(expected)?;
    let count: u32 = count.trim().parse().map_err(|_| expected())?;
    let per_ms = match unit.trim() {
        "second" | "s" => 1_000,
        "minute" | "min" => 60_000,
        "hour" | "h" => 3_600_000,
        "day" | "d" => 86_400_000,
        _ => return Err(expected()),
    };
    if count == 0 {
        return Err(expected());
    }
    Ok((count, per_ms))
}

#[cfg(test)]
mod tests {
    use super::parse_rate;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("10/minute"), Ok((10, 60_000)));
        assert_eq!(parse_rate(" 3 / second "), Ok((3, 1_000)));
        assert!(parse_rate("0/minute").is_err());
        assert!(parse_rate("10/fortnight").unwrap_err().contains("`second`, `minute`"));
        assert!(parse_rate("ten/minute").is_err());
        assert!(parse_rate("10").is_err());
    }
}
