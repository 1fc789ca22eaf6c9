//! Stage 6, grant (design.md §3 step 10): for an executed call that needs approval, a
//! human's single-use grant for exactly this call, or an approver's standing grant, lifts
//! it to `allow`; otherwise the call waits on an approval request: a pending one of the
//! same call (a retry while nobody has answered asks nobody again), or a new one, filed
//! by the record stage after the decision is durable. A call that a human rejected within
//! its cool-down is a block, which no grant lifts. Evaluations and replays are never
//! lifted and ask nobody.

use aecl_core::{Decision, Mode};
use tracing::Instrument;

use crate::approval::GrantFound;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::stage::place::Placed;
use crate::stage::{Arrived, Attempt, span};
use crate::standing::lift;
use crate::store::{Grant, Store};

/// A placed call after grants, and the approval request it names.
#[derive(Debug)]
pub(crate) struct Granted {
    pub placed: Placed,
    /// The single-use grant the record stage's commit spends with the allow decision.
    pub grant: Option<Grant>,
    /// The request this call waits on, or whose grant let it through.
    pub approval_id: Option<String>,
    /// The request is new: filed once the decision is durable.
    pub new_request: bool,
}

impl<S: Store> Engine<S> {
    /// The grants that apply to `arrived`'s call, and its approval request.
    pub(crate) async fn grant(
        &self,
        arrived: &Arrived,
        mut placed: Placed,
        attempt: &mut Attempt,
    ) -> Result<Granted, EngineError> {
        let span = span("grant", &arrived.call);
        async move {
            let (call, digest, now) = (&arrived.call, &arrived.digest, placed.judged.now);
            let verdict = &mut placed.judged.verdict;
            let asks = arrived.executing && attempt.replay_effect.is_none();
            // A human's grant for exactly this call lets it through.
            let found = if asks {
                self.apply_grant(verdict, call, digest, arrived.arrival, now).await?
            } else {
                GrantFound::None
            };
            let grant = match &found {
                GrantFound::Usable(grant) => Some(grant.clone()),
                _ => None,
            };
            // A human who rejected this exact call within its cool-down is not overruled
            // by any grant: the call is a block, naming the rejected request.
            let needs_human = |verdict: &aecl_core::Verdict| {
                asks && verdict.mode == Mode::Enforce
                    && verdict.decision == Decision::RequireApproval
            };
            let rejected = if grant.is_none() && needs_human(verdict) {
                self.refuse_rejected(&call.cooldown_digest(), &call.action, verdict, now).await?
            } else {
                None
            };
            // Or an approver's standing grant covers it: one use is counted per call,
            // however often a conflicting commit makes the call be decided again.
            if asks && grant.is_none() && rejected.is_none() {
                match &attempt.standing {
                    Some(reason) => lift(verdict, reason),
                    None => {
                        attempt.standing = self.apply_standing_grant(verdict, call, now).await?
                    }
                }
            }
            let mut new_request = false;
            let approval_id = match &found {
                GrantFound::Usable(grant) => grant.approval_id.clone(),
                // A concurrent retry spent this call's grant: no new request.
                GrantFound::Used(approval) => approval.clone(),
                GrantFound::None if rejected.is_some() => rejected,
                GrantFound::None if needs_human(verdict) => {
                    // A pending request of the same call, or a new request.
                    let (id, new) = self.approval_for(digest, verdict, now).await?;
                    new_request = new;
                    Some(id)
                }
                GrantFound::None => None,
            };
            Ok(Granted { placed, grant, approval_id, new_request })
        }
        .instrument(span)
        .await
    }
}
