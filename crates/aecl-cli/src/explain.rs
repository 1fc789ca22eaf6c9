//! The human-readable explanation of a verdict (`--explain`).

use std::fmt::Write;

use aecl_core::{Call, Decision, Verdict};

/// Explains `verdict` for `call` in a few lines a person reads top to bottom.
pub fn explain(call: &Call, verdict: &Verdict) -> String {
    let mut s = String::new();
    let shout = match verdict.decision {
        Decision::Allow => "ALLOW",
        Decision::RequireApproval => "REQUIRE_APPROVAL",
        Decision::Block => "BLOCK",
    };
    let args = serde_json::to_string(&call.args).unwrap_or_default();
    let _ = writeln!(s, "call     {} {} {args}", call.id, call.action);
    let _ = writeln!(s, "         agent `{}`, run `{}`", call.agent, call.run);
    let revision = verdict.policy_revision.0.get(..12).unwrap_or(&verdict.policy_revision.0);
    let _ = writeln!(s, "verdict  {shout}   (mode {}, policy {revision})", verdict.mode.as_str());
    if let Some(first) = &verdict.replay_of {
        let _ = writeln!(s, "         repeats call `{first}`: its recorded outcome is returned");
    }
    if verdict.reasons.is_empty() {
        let _ = writeln!(s, "reasons  none: every stage passed");
    } else {
        let _ = writeln!(s, "reasons");
        for r in &verdict.reasons {
            let field = r.field.as_deref().map(|f| format!(" `{f}`")).unwrap_or_default();
            let _ = writeln!(
                s,
                "  {:<16} {:<9} {}{field}: {}",
                r.decision.as_str(),
                r.stage.as_str(),
                r.rule,
                r.message
            );
        }
    }
    let risk = &verdict.risk;
    let _ = write!(s, "risk     {:.2} (approval above {:.2}", risk.score, risk.approval_threshold);
    if let Some(block) = risk.block_threshold {
        let _ = write!(s, ", block above {block:.2}");
    }
    let _ = writeln!(s, ")");
    for c in &risk.contributions {
        let _ = writeln!(s, "  +{:.2} {:<16} {}", c.weight, c.factor, c.detail);
    }
    if let Some(secs) = verdict.approval_expires_in_secs {
        let _ =
            writeln!(s, "approval a human must approve within {secs} s, or the call is rejected");
    }
    s
}
