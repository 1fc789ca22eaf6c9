//! The grant key's signature over an effect's undo: the rollback token its connector
//! returned, with the ledger fields an undo acts on (the effect's id, run, call, agent,
//! action, call digest, idempotency key and its `succeeded` state). The effect ledger is store state beside the signed log; a
//! database writer who pointed a harmless effect's token at another file, or made an
//! irreversible effect's action a reversible one, had an approver's rollback delete or
//! overwrite what no effect wrote, while the undo's own records said `restored` (red team
//! round 25, tamper F1). The engine signs the token when it records the outcome (or the
//! reconciliation that found the effect landed), and undoes only an effect whose seal
//! verifies over its ledger row as it is now. A state or key changed since took an effect
//! out of a run's undo while the effects before it were undone (round 26, tamper R1).

use aecl_audit::SignerKey;
use aecl_core::canonical::canonical_json;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::approval::seal::verifies;
use crate::engine::Engine;
use crate::store::{Effect, EffectState, NewEffect, Store};

/// What an undo's signature is computed over, before its terms.
const DOMAIN: &[u8] = b"aecl-undo-v1\n";

/// The ledger fields of an effect that its undo acts on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Undone<'a> {
    pub id: &'a str,
    pub run: &'a str,
    pub call_id: &'a str,
    pub agent: &'a str,
    pub action: &'a str,
    pub call_digest: &'a str,
    pub idempotency_key: Option<&'a str>,
    /// What the ledger says became of it (a token is kept for a success only).
    pub state: &'a str,
}

impl<'a> Undone<'a> {
    /// `effect` as it ends `state`.
    pub(crate) fn ending(effect: &'a NewEffect, state: EffectState) -> Undone<'a> {
        Undone {
            id: &effect.id,
            run: &effect.run,
            call_id: &effect.call_id,
            agent: &effect.agent,
            action: &effect.action,
            call_digest: &effect.call_digest.0,
            idempotency_key: effect.idempotency_key.as_deref(),
            state: state.as_str(),
        }
    }
}

impl<'a> From<&'a Effect> for Undone<'a> {
    fn from(e: &'a Effect) -> Undone<'a> {
        Undone {
            id: &e.id,
            run: &e.run,
            call_id: &e.call_id,
            agent: &e.agent,
            action: &e.action,
            call_digest: &e.call_digest.0,
            idempotency_key: e.idempotency_key.as_deref(),
            state: e.state.as_str(),
        }
    }
}

fn signed_bytes(effect: Undone<'_>, token: &str) -> Vec<u8> {
    let terms = json!({
        "effect": effect.id,
        "run": effect.run,
        "call_id": effect.call_id,
        "agent": effect.agent,
        "action": effect.action,
        "call_digest": effect.call_digest,
        "idempotency_key": effect.idempotency_key,
        "state": effect.state,
        "rollback_token": token,
    });
    [DOMAIN, canonical_json(&terms).as_bytes()].concat()
}

/// `key`'s signature (base64) over `effect`'s undo by `token`.
fn seal(key: &SignerKey, effect: Undone<'_>, token: &str) -> String {
    STANDARD.encode(key.sign(&signed_bytes(effect, token)))
}

/// Whether `effect`'s ledger row carries `key`'s seal over its rollback token and the
/// fields its undo acts on, as they are now. An effect with neither a token nor a seal has
/// nothing to verify (and nothing to undo); a seal without its token was changed.
fn verifies_undo(key: &SignerKey, effect: &Effect) -> bool {
    match (&effect.rollback_token, &effect.rollback_seal) {
        (None, None) => true,
        (None, Some(_)) => false,
        (Some(token), seal) => verifies(key, &signed_bytes(effect.into(), token), seal.as_deref()),
    }
}

impl<S: Store> Engine<S> {
    /// The seal of `effect`'s undo by `token`, when there is a token and the engine has a
    /// grant key.
    pub(crate) fn seal_undo(&self, effect: Undone<'_>, token: Option<&str>) -> Option<String> {
        Some(seal(self.config().grant_key.as_ref()?, effect, token?))
    }

    /// Whether `effect`'s undo is as the engine recorded it (see the module's header);
    /// without a grant key the store is trusted.
    pub(crate) fn undo_verifies(&self, effect: &Effect) -> bool {
        self.config().grant_key.as_ref().is_none_or(|key| verifies_undo(key, effect))
    }
}

#[cfg(test)]
mod tests {
    use aecl_core::{CallDigest, Timestamp};
    use serde_json::Value;

    use super::*;

    fn effect() -> Effect {
        Effect {
            id: "e1".to_owned(),
            run: "r1".to_owned(),
            call_id: "c1".to_owned(),
            agent: "agent1".to_owned(),
            action: "write_note".to_owned(),
            idempotency_key: None,
            call_digest: CallDigest("ab".repeat(32)),
            node: "n1".to_owned(),
            state: EffectState::Succeeded,
            result: Value::Null,
            error: None,
            rollback_token: Some(r#"{"op":"write","path":"/srv/notes/n3.md"}"#.to_owned()),
            rollback_seal: None,
            created: Timestamp(1),
            updated: Timestamp(2),
        }
    }

    /// The token and every ledger field an undo acts on are covered; what the ledger
    /// changes as the effect moves (its state, result, times) is not.
    #[test]
    fn a_sealed_undo_verifies_and_any_change_breaks_it() {
        let key = SignerKey::from_seed("aecl.test/undo", [7; 32]).unwrap();
        let mut sealed = effect();
        let token = sealed.rollback_token.clone().unwrap();
        sealed.rollback_seal = Some(seal(&key, (&sealed).into(), &token));
        assert!(verifies_undo(&key, &sealed));
        let changes: [fn(&mut Effect); 12] = [
            |e| e.rollback_token = Some(r#"{"op":"write","path":"/srv/notes/README.md"}"#.into()),
            |e| e.id = "e2".to_owned(),
            |e| e.run = "r2".to_owned(),
            |e| e.call_id = "c2".to_owned(),
            |e| e.agent = "agent2".to_owned(),
            |e| e.action = "publish_note".to_owned(),
            |e| e.call_digest = CallDigest("cd".repeat(32)),
            |e| e.rollback_seal = Some("not base64!".to_owned()),
            |e| e.state = EffectState::Failed,
            |e| e.idempotency_key = Some("rollback:x".to_owned()),
            |e| e.rollback_token = None,
            |e| e.rollback_seal = None,
        ];
        for change in changes {
            let mut forged = sealed.clone();
            change(&mut forged);
            assert!(!verifies_undo(&key, &forged), "{forged:?}");
        }
        assert!(!verifies_undo(&key, &effect()), "a token without a seal");
        let other = SignerKey::from_seed("aecl.test/undo", [8; 32]).unwrap();
        assert!(!verifies_undo(&other, &sealed), "another key's seal");
        let mut moved = sealed.clone();
        moved.result = serde_json::json!({ "status": "restored" });
        moved.updated = Timestamp(3);
        assert!(verifies_undo(&key, &moved), "what the ledger does not act on is not sealed");
        let mut none = effect();
        none.rollback_token = None;
        assert!(verifies_undo(&key, &none), "nothing to undo, nothing to verify");
    }
}
