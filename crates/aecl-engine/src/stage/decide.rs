//! Stage 3, decide: the pure `aecl_core::decide` on the run's state, then made stricter by
//! what only the engine knows: a nonce spent before, a limit that refused the last commit,
//! a call id whose executed call this one repeats (recorded, never run again), an agent
//! calling an action that only undoes effects. A compensation call (`rollback.rs`) is
//! decided without its agent's run budget: the run that spent it may be the one to undo.

use std::borrow::Cow;

use aecl_core::policy::{Policy, Reversibility};
use aecl_core::{Decision, Reason, Stage, Timestamp, Verdict, decide};

use crate::engine::Engine;
use crate::origin::Origin;
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
        let mut verdict = match &arrived.origin {
            Origin::Agent => decide(&arrived.policy, call, &run.state, now),
            Origin::Rollback(_) => {
                let mut state = run.state.clone();
                state.calls_allowed = 0;
                decide(&arrived.policy, call, &state, now)
            }
        };
        if arrived.origin == Origin::Agent
            && let Some(undone) = undone_by(&arrived.policy, &call.action)
        {
            tighten(
                &mut verdict,
                Stage::Manifest,
                Cow::Borrowed("rollback.compensation_action"),
                &format!(
                    "`{}` undoes effects of `{undone}`: only aecl's rollback calls it \
                     (`aecl rollback`)",
                    call.action
                ),
            );
        }
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
            // A retry of an executed call under its own id: recorded, never run again. Its
            // answer says what happened to the call: it was allowed and ran, and this is
            // its effect (as an idempotent repeat's answer says). What the call would be
            // decided now (a spent grant: `require_approval`) is not this call's decision,
            // and a client reading `decision` would take it for "did not run".
            verdict.replay_of = Some(call.id.clone());
            verdict.decision = Decision::Allow;
            verdict.reasons = vec![Reason {
                stage: Stage::Replay,
                rule: Cow::Borrowed("replay.call_id"),
                decision: Decision::Allow,
                field: None,
                message: format!(
                    "call `{}` was already allowed and executed with these arguments: its \
                     effect is returned and nothing runs again",
                    call.id
                ),
            }];
        }
        Judged { verdict, now }
    }
}

/// The action whose compensation `action` is, if any; not an action that undoes itself
/// (a `set` undone by a `set` of the old value is also the agent's own to call).
fn undone_by<'p>(policy: &'p Policy, action: &str) -> Option<&'p str> {
    policy.actions.values().find_map(|spec| match &spec.reversibility {
        Reversibility::Reversible { compensation }
            if compensation == action && spec.name != action =>
        {
            Some(spec.name.as_str())
        }
        _ => None,
    })
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
