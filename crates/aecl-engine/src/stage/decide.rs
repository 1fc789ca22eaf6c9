//! Stage 3, decide: the pure `aecl_core::decide` on the run's state, then made stricter by
//! what only the engine knows: a nonce spent before, a limit that refused the last commit,
//! a call id whose executed call this one repeats (recorded, never run again).

use std::borrow::Cow;

use aecl_core::{Decision, Reason, Stage, Timestamp, Verdict, decide};

use crate::engine::Engine;
use crate::run_cache::CachedRun;
use crate::stage::{Arrived, Attempt, span};
use crate::store::Store;

/// A call's verdict at this attempt, and the time it was decided at.
#[derive(Debug)]
pub(crate) struct Judged {
    pub verdict: Verdict,
    /// The time of the decision: limits, grants and the effect are stamped with it.
    pub now: Timestamp,
}

impl<S: Store> Engine<S> {
    /// The verdict on `arrived`'s call in `run`.
    pub(crate) fn decide(&self, arrived: &Arrived, run: &CachedRun, attempt: &Attempt) -> Judged {
        let call = &arrived.call;
        let _span = span("decide", call).entered();
        let now = self.now();
        let mut verdict = decide(&arrived.policy, call, &run.state, now);
        if arrived.nonce_reused {
            tighten(
                &mut verdict,
                Stage::Replay,
                Cow::Borrowed("replay.nonce"),
                "the nonce was already used",
            );
        }
        if let Some(reason) = &attempt.refused {
            tighten(&mut verdict, reason.stage, reason.rule.clone(), &reason.message);
        }
        if attempt.replay_effect.is_some() {
            // A retry of an executed call under its own id: recorded, never run again.
            verdict.replay_of = Some(call.id.clone());
            verdict.reasons.push(Reason {
                stage: Stage::Replay,
                rule: Cow::Borrowed("replay.call_id"),
                decision: Decision::Allow,
                field: None,
                message: format!(
                    "call `{}` was already executed with these arguments: its effect is \
                     returned and nothing runs again",
                    call.id
                ),
            });
        }
        Judged { verdict, now }
    }
}

/// Makes a verdict a block for a reason found outside `decide`.
pub(crate) fn tighten(verdict: &mut Verdict, stage: Stage, rule: Cow<'static, str>, message: &str) {
    verdict.decision = Decision::Block;
    verdict.reasons.push(Reason {
        stage,
        rule,
        decision: Decision::Block,
        field: None,
        message: message.to_owned(),
    });
}
