//! `aecl token issue`: agent tokens take the manifest's TTL, unknown agents are refused, and
//! the printed JWT verifies with the public half of the key.

use aecl_audit::VerifierKey;
use aecl_engine::identity::{self, Role};

use crate::{finance, run, temp_dir};

/// A fresh key pair in `dir`: (secret key file, verifier key).
fn keys(dir: &std::path::Path) -> (std::path::PathBuf, VerifierKey) {
    let out = run([
        "keys",
        "generate",
        "--name",
        "aecl.test/tokens",
        "--out",
        &dir.display().to_string(),
    ]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let public = std::fs::read_to_string(dir.join("audit.pub")).unwrap();
    (dir.join("audit.key"), VerifierKey::parse(public.trim()).unwrap())
}

fn now_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    u64::try_from(since.as_millis()).unwrap()
}

#[test]
fn an_agent_token_carries_the_manifest_ttl() {
    let dir = temp_dir();
    let (key, verifier) = keys(dir.path());
    let before = now_ms();
    let out = run([
        "token".as_ref(),
        "issue".as_ref(),
        "--agent".as_ref(),
        "finance_agent".as_ref(),
        "--key".as_ref(),
        key.as_os_str(),
        "--policy".as_ref(),
        finance().as_os_str(),
    ]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let token = out.stdout.trim();
    let claims = identity::verify(&verifier, token, aecl_core::Timestamp(now_ms())).unwrap();
    assert_eq!((claims.sub.as_str(), claims.role), ("finance_agent", Role::Agent));
    // finance_agent.toml says `token_ttl_seconds = 900`.
    let ttl = claims.exp_ms - claims.iat_ms;
    assert_eq!(ttl, 900_000);
    // JWT times are whole seconds.
    assert!(claims.iat_ms >= before / 1000 * 1000);
    assert_eq!(claims.jti.len(), 32);
}

#[test]
fn unknown_agents_are_refused_and_people_get_their_role() {
    let dir = temp_dir();
    let (key, verifier) = keys(dir.path());
    let key = key.display().to_string();
    let policy = finance().display().to_string();
    let out = run(["token", "issue", "--agent", "nobody", "--key", &key, "--policy", &policy]);
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stderr.contains("unknown agent `nobody`"), "{}", out.stderr);
    assert!(out.stdout.is_empty());

    let out = run(["token", "issue", "--approver", "alice", "--ttl", "60", "--key", &key]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let claims =
        identity::verify(&verifier, out.stdout.trim(), aecl_core::Timestamp(now_ms())).unwrap();
    assert_eq!((claims.sub.as_str(), claims.role), ("alice", Role::Approver));
    assert_eq!(claims.exp_ms - claims.iat_ms, 60_000);

    let out = run(["token", "issue", "--admin", "root", "--agent", "x", "--key", &key]);
    assert_eq!(out.code, Some(2), "two subjects are a usage error: {out:#?}");
}

/// A red-team finding: `--approver` took names holding zero-width, bidirectional and
/// control characters, with which one person could pass for two in a quorum.
#[test]
fn names_a_reader_cannot_see_whole_are_refused() {
    let dir = temp_dir();
    let (key, _) = keys(dir.path());
    let key = key.display().to_string();
    for name in
        ["alice\u{200b}", "\u{feff}alice", "al\u{200d}ice", "bob\u{202e}", "eve\n", "ali\u{ad}ce"]
    {
        let out = run(["token", "issue", "--approver", name, "--key", &key]);
        assert_eq!(out.code, Some(2), "{name:?}: {out:#?}");
        assert!(
            out.stderr.contains("holds characters a reader does not see"),
            "{name:?}: {}",
            out.stderr
        );
    }
    let out = run(["token", "issue", "--approver", "René Éluard", "--key", &key]);
    assert_eq!(out.code, Some(0), "{out:#?}");
}
