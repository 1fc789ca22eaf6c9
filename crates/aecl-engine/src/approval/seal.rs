//! The grant key's signature over a single-use grant, as standing grants carry one
//! (`standing.rs`): a grant is what lets a `require_approval` call run, and a database
//! writer without the key who inserts a grant row, or sets a request to `approved` and
//! copies its digest into one, must get nothing by it (red team round 21, audit F1). The
//! signature covers every field the engine acts on: the grant's id, its request, the
//! exact call, the policy revision and the expiry. The store keeps whether a grant is
//! spent or voided; that state is not signed (a writer who resets it is seen by
//! `aecl audit verify`, which counts each request's uses in the signed log).

use aecl_audit::SignerKey;
use aecl_core::canonical::canonical_json;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::store::Grant;

/// What a grant signature is computed over, before the terms.
const DOMAIN: &[u8] = b"aecl-grant-v1\n";

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
    let Some(signature) = &grant.signature else { return false };
    let Some(signature) =
        STANDARD.decode(signature).ok().and_then(|s| <[u8; 64]>::try_from(s).ok())
    else {
        return false;
    };
    key.verifier().verify(&signed_bytes(grant), &signature)
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
}
