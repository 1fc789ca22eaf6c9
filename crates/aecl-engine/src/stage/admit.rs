//! Stage 4, admit: the rate and concurrency limits (the agent's and the action's) that the
//! call takes if it goes ahead. They are checked and taken by the record stage's commit,
//! atomically with the decision, and only when the call is allowed and not a replay; a
//! limit that refuses makes the call a block ([`limit_reason`]) on the next attempt.

use std::borrow::Cow;
use std::time::Duration;

use aecl_core::{Decision, Reason, SandboxTier, Stage};

use crate::connector::{Connector, Invocation};
use crate::engine::{Engine, slot_holder};
use crate::origin::Origin;
use crate::stage::decide::Judged;
use crate::stage::{Arrived, span, wait_limit};
use crate::store::{Admission, Store};

impl<S: Store> Engine<S> {
    /// The limits `arrived`'s call takes when it goes ahead (to run through `connector`).
    /// A concurrency slot is leased for at least as long as the engine may wait for the
    /// call: a lease that ran out while the call still ran would let another take its slot.
    pub(crate) fn admit(
        &self,
        arrived: &Arrived,
        judged: &Judged,
        connector: Option<&dyn Connector>,
    ) -> Vec<Admission> {
        let (call, policy, now) = (&arrived.call, &arrived.policy, judged.now);
        let _span = span("admit", call).entered();
        // A compensation is not held back by its agent's limits (`rollback.rs`); its own
        // action's limits hold.
        let agent = policy
            .agents
            .get(&call.agent)
            .filter(|_| arrived.origin == Origin::Agent)
            .map(|m| (format!("agent:{}", call.agent), m.limits));
        let action =
            policy.actions.get(&call.action).map(|a| (format!("action:{}", call.action), a.limits));
        // Asked of the connector only for a call that takes a slot.
        let lease = || {
            let waits = connector.map_or(Duration::ZERO, |connector| {
                let invocation = Invocation::new(policy, call, &arrived.effect_id);
                // Admitted before the call is placed: the longest of the tiers it may get.
                std::iter::once(None)
                    .chain(SandboxTier::ALL.into_iter().map(Some))
                    .map(|tier| {
                        wait_limit(self.config().call_timeout, connector.deadline(invocation, tier))
                    })
                    .max()
                    .unwrap_or(Duration::ZERO)
            });
            let lease = self.config().slot_lease.max(waits.saturating_add(LEASE_MARGIN));
            u64::try_from(lease.as_millis()).unwrap_or(u64::MAX)
        };
        let mut out = Vec::new();
        for (key, limits) in agent.into_iter().chain(action) {
            if let Some(limit) = limits.rate {
                out.push(Admission::Rate { key: key.clone(), limit, now });
            }
            if let Some(limit) = limits.concurrency {
                out.push(Admission::Slot {
                    key,
                    limit,
                    holder: slot_holder(&call.run, &call.id),
                    now,
                    expires: aecl_core::Timestamp(now.0.saturating_add(lease())),
                });
            }
        }
        out
    }
}

/// What a slot's lease lasts past the engine's longest wait for its call (the answer and
/// the end's commit).
const LEASE_MARGIN: Duration = Duration::from_secs(60);

/// The block reason of a limit that refused a commit.
pub(crate) fn limit_reason(admission: Option<&Admission>, retry_after_ms: Option<u64>) -> Reason {
    let (rule, message) = match admission {
        Some(Admission::Rate { key, limit, .. }) => (
            "limits.rate",
            format!(
                "rate limit of {key}: {} calls per {} ms reached; retry after {} ms",
                limit.count,
                limit.per_ms,
                retry_after_ms.unwrap_or(0)
            ),
        ),
        Some(Admission::Slot { key, limit, .. }) => (
            "limits.concurrency",
            format!("concurrency limit of {key}: {limit} calls already executing"),
        ),
        None => ("limits", "a limit refused the call".to_owned()),
    };
    Reason {
        stage: Stage::Budget,
        rule: Cow::Borrowed(rule),
        decision: Decision::Block,
        field: None,
        message,
    }
}
