//! The grant key's signature over a single-use grant, as standing grants carry one
//! (`standing.rs`): a grant is what lets a `require_approval` call run, and a database
//! writer without the key who inserts a grant row, or sets a request to `approved` and
//! copies its digest into one, must get nothing by it (red team round 21, audit F1). The
//! signature covers every field the engine acts on: the grant's id, its request, the
//! exact call, the policy revision and the expiry. The store keeps whether a grant is
//! spent or voided; that state is not signed (a writer who resets it is seen by
//! `aecl audit verify`, which counts each request's uses in the signed log).
//!
//! A request is sealed the same way when it is filed: its id, run, call, agent, action,
//! digest, revision and times, under `seal` in its body. The request is what an approver
//! is refused for (their own call) and what the signed records of the answer name, so a
//! writer who changes its `agent` to approve their own call, or has the log say another
//! agent asked, is refused (red team round 23, audit F2).

use aecl_audit::SignerKey;
use aecl_core::canonical::canonical_json;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::store::{Approval, Grant};

/// What a grant signature is computed over, before the terms.
const DOMAIN: &[u8] = b"aecl-grant-v1\n";

/// What a request's signature is computed over, before its terms.
const REQUEST_DOMAIN: &[u8] = b"aecl-approval-request-v1\n";

/// The key of a request's body that holds its signature.
const SEAL: &str = "seal";

/// The bytes `approval`'s signature covers: its terms, and its body as the approvers are
/// shown it (the call's arguments, its summary and reasons), but the seal itself (red team
/// round 23, second pass, N1: a body edited in the store showed an approver an `INSERT`
/// for the `DELETE` that ran).
fn request_bytes(approval: &Approval) -> Vec<u8> {
    let mut body = approval.body.clone();
    if let Some(body) = body.as_object_mut() {
        body.remove(SEAL);
    }
    let terms = json!({
        "body": body,
        "id": approval.id,
        "run": approval.run,
        "call_id": approval.call_id,
        "agent": approval.agent,
        "action": approval.action,
        "call_digest": approval.call_digest.0,
        "policy_revision": approval.policy_revision.0,
        "requested_ms": approval.requested.0,
        "expires_ms": approval.expires.0,
    });
    [REQUEST_DOMAIN, canonical_json(&terms).as_bytes()].concat()
}

/// `approval` with `key`'s signature over its terms in its body.
pub(crate) fn seal_request(key: &SignerKey, mut approval: Approval) -> Approval {
    let signature = STANDARD.encode(key.sign(&request_bytes(&approval)));
    if let Some(body) = approval.body.as_object_mut() {
        body.insert(SEAL.to_owned(), signature.into());
    }
    approval
}

/// Whether `approval`'s body carries `key`'s signature over its terms as they are.
pub(crate) fn request_is_sealed(key: &SignerKey, approval: &Approval) -> bool {
    let signature = approval.body.get(SEAL).and_then(|s| s.as_str());
    verifies(key, &request_bytes(approval), signature)
}

/// Whether `signature` (base64) is `key`'s over `bytes`.
pub(crate) fn verifies(key: &SignerKey, bytes: &[u8], signature: Option<&str>) -> bool {
    let Some(signature) =
        signature.and_then(|s| STANDARD.decode(s).ok()).and_then(|s| <[u8; 64]>::try_from(s).ok())
    else {
        return false;
    };
    key.verifier().verify(bytes, &signature)
}

/// The bytes `grant`'s signature covers.
fn signed_bytes(grant: &Grant) -> Vec<u8> {
    let terms = json!({
        "id": grant.id,
        "approval_id": grant.approval_id,
        "call_digest": grant.call_digest.0,
        "policy_revision": grant.policy_revision.0,
        "expires_ms": grant.expires.0,
    });
    [DOMAIN, canonical_json(&terms).as_bytes()].concat()
}

/// `grant` signed with `key`.
pub(crate) fn seal(key: &SignerKey, mut grant: Grant) -> Grant {
    grant.signature = Some(STANDARD.encode(key.sign(&signed_bytes(&grant))));
    grant
}

/// Whether `grant` carries `key`'s signature over its fields as they are.
pub(crate) fn is_sealed(key: &SignerKey, grant: &Grant) -> bool {
    verifies(key, &signed_bytes(grant), grant.signature.as_deref())
}

#[cfg(test)]
mod tests {
    use aecl_core::{CallDigest, Revision, Timestamp};

    use super::*;

    fn grant() -> Grant {
        Grant {
            id: "g1".to_owned(),
            approval_id: Some("a1".to_owned()),
            call_digest: CallDigest("ab".repeat(32)),
            policy_revision: Revision("rev-1".to_owned()),
            expires: Timestamp(10_000),
            signature: None,
        }
    }

    /// Every field the engine acts on is covered: a sealed grant changed in any one of
    /// them, re-signed by nobody, does not verify.
    #[test]
    fn a_sealed_grant_verifies_and_any_change_breaks_it() {
        let key = SignerKey::from_seed("aecl.test/grants", [7; 32]).unwrap();
        let sealed = seal(&key, grant());
        assert!(is_sealed(&key, &sealed));
        let changes: [fn(&mut Grant); 6] = [
            |g| g.id = "g2".to_owned(),
            |g| g.approval_id = Some("a2".to_owned()),
            |g| g.approval_id = None,
            |g| g.call_digest = CallDigest("cd".repeat(32)),
            |g| g.policy_revision = Revision("rev-2".to_owned()),
            |g| g.expires = Timestamp(10_001),
        ];
        for change in changes {
            let mut forged = sealed.clone();
            change(&mut forged);
            assert!(!is_sealed(&key, &forged), "{forged:?}");
        }
        // No signature, a malformed one, another key's.
        assert!(!is_sealed(&key, &grant()));
        let mut bad = sealed.clone();
        bad.signature = Some("not base64!".to_owned());
        assert!(!is_sealed(&key, &bad));
        assert!(!is_sealed(&SignerKey::from_seed("aecl.test/grants", [8; 32]).unwrap(), &sealed));
    }

    fn request() -> Approval {
        Approval {
            id: "a1".to_owned(),
            run: "r1".to_owned(),
            call_id: "c1".to_owned(),
            agent: "agent1".to_owned(),
            action: "pay".to_owned(),
            call_digest: CallDigest("ab".repeat(32)),
            policy_revision: Revision("rev-1".to_owned()),
            status: crate::store::ApprovalStatus::Pending,
            requested: Timestamp(1_000),
            expires: Timestamp(10_000),
            decided_by: None,
            reason: None,
            body: serde_json::json!({ "summary": "pay 10" }),
        }
    }

    /// A request changed in any of the fields its approvers and records rely on (the
    /// agent above all: red team round 23, audit F2) no longer verifies.
    #[test]
    fn a_sealed_request_verifies_and_any_change_breaks_it() {
        let key = SignerKey::from_seed("aecl.test/grants", [7; 32]).unwrap();
        let sealed = seal_request(&key, request());
        assert!(request_is_sealed(&key, &sealed));
        let changes: [fn(&mut Approval); 9] = [
            |a| a.id = "a2".to_owned(),
            |a| a.run = "r2".to_owned(),
            |a| a.call_id = "c2".to_owned(),
            |a| a.agent = "someone_else".to_owned(),
            |a| a.action = "refund".to_owned(),
            |a| a.call_digest = CallDigest("cd".repeat(32)),
            |a| a.policy_revision = Revision("rev-2".to_owned()),
            |a| a.requested = Timestamp(1_001),
            |a| a.expires = Timestamp(10_001),
        ];
        for change in changes {
            let mut forged = sealed.clone();
            change(&mut forged);
            assert!(!request_is_sealed(&key, &forged), "{forged:?}");
        }
        // What the approvers are shown is sealed too.
        let mut shown = sealed.clone();
        shown.body["summary"] = serde_json::json!("pay 1");
        assert!(!request_is_sealed(&key, &shown));
        // What the store keeps of its answer is not sealed: votes and status change.
        let mut answered = sealed.clone();
        answered.decided_by = Some("[\"bob\"]".to_owned());
        answered.status = crate::store::ApprovalStatus::Approved;
        assert!(request_is_sealed(&key, &answered));
        assert!(!request_is_sealed(&key, &request()), "filed unsealed");
    }
}
