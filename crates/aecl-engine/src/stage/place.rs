//! Stage 5, place: the sandbox tier the call runs in. When the verdict requires a tier, a
//! connector that cannot run the call there blocks it with its reason, before any human is
//! asked to approve what could not run here; without a requirement, a connector that runs
//! calls in no sandbox executes it as it is.

use std::borrow::Cow;

use aecl_core::{Decision, SandboxTier, Stage};
use tracing::Instrument;

use crate::connector::{Connector, Invocation};
use crate::engine::Engine;
use crate::stage::decide::{Judged, tighten};
use crate::stage::{Arrived, span};
use crate::store::Store;

/// A judged call and where it runs.
#[derive(Debug)]
pub(crate) struct Placed {
    pub judged: Judged,
    /// The tier the connector runs it in; `None` when it runs in no sandbox, is blocked,
    /// or is only evaluated.
    pub tier: Option<SandboxTier>,
}

impl<S: Store> Engine<S> {
    /// Where `connector` runs `arrived`'s call (nowhere when only evaluating).
    pub(crate) async fn place(
        &self,
        arrived: &Arrived,
        mut judged: Judged,
        connector: Option<&dyn Connector>,
    ) -> Placed {
        let span = span("place", &arrived.call);
        let Some(connector) = connector else {
            // Evaluated only: nothing runs, so nothing is placed.
            drop(span.entered());
            return Placed { judged, tier: None };
        };
        let invocation = Invocation::new(&arrived.policy, &arrived.call, &arrived.effect_id);
        let tier = tier(connector, invocation, &mut judged.verdict).instrument(span).await;
        Placed { judged, tier }
    }
}

async fn tier(
    connector: &dyn Connector,
    invocation: Invocation<'_>,
    verdict: &mut aecl_core::Verdict,
) -> Option<SandboxTier> {
    if verdict.decision == Decision::Block {
        return None;
    }
    let Some(required) = verdict.sandbox.as_ref().map(|s| s.tier) else {
        return connector.placement(invocation, SandboxTier::Process).await.ok();
    };
    match connector.placement(invocation, required).await {
        Ok(tier) if tier >= required => Some(tier),
        Ok(tier) => {
            let message = format!(
                "the policy requires the `{required}` sandbox tier and the connector offered \
                 only `{tier}`"
            );
            tighten(verdict, Stage::Sandbox, Cow::Borrowed("sandbox.tier_unavailable"), &message);
            None
        }
        Err(why) => {
            let message =
                format!("`{}` cannot run in the `{required}` tier: {why}", invocation.call.action);
            tighten(verdict, Stage::Sandbox, Cow::Borrowed("sandbox.tier_unavailable"), &message);
            None
        }
    }
}
