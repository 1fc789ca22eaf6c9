//! Lowering of identity settings: `policy.toml`'s `[tokens] max_ttl` into
//! `aecl_core::policy::TokenLimits`, and a manifest's `public_keys` and `rate_limit`.
//!
//! A public key is checked for its form here (`NAME+HASH+BASE64`, the text `aecl keys
//! generate --agent` writes); the server parses it fully and refuses the agent's own tokens
//! when it cannot, so a bad key fails closed either way.

use aecl_core::limits::RateLimit;
use aecl_core::policy::{DEFAULT_AGENT_REQUEST_RATE, TokenLimits};
use aecl_core::run_bounds::parse_duration;

use crate::error::Problem;
use crate::format::{ManifestFile, TokensFile};
use crate::location::Step;
use crate::lower::FileCtx;

/// The longest `max_ttl` a policy may set: 366 days.
const MAX_TOKEN_TTL_SECS: u64 = 366 * 24 * 3600;

/// `[tokens]` of `policy.toml`.
pub(crate) fn lower_tokens(
    file: &TokensFile,
    ctx: &FileCtx<'_>,
    problems: &mut Vec<Problem>,
) -> TokenLimits {
    let mut limits = TokenLimits::default();
    let Some(max) = &file.max_ttl else { return limits };
    for (role, text, slot) in [
        ("agent", &max.agent, &mut limits.agent_max_ttl_secs),
        ("approver", &max.approver, &mut limits.approver_max_ttl_secs),
        ("admin", &max.admin, &mut limits.admin_max_ttl_secs),
    ] {
        let Some(text) = text else { continue };
        let at = [Step::from("tokens"), Step::from("max_ttl"), Step::from(role)];
        match parse_duration(text) {
            Some(secs) if secs > MAX_TOKEN_TTL_SECS => problems.push(ctx.problem(
                &at,
                format!(
                    "`{text}` is longer than a token may live ({MAX_TOKEN_TTL_SECS} s, 366 \
                     days): a credential must expire, and one that outlives its holder is \
                     only stopped by revocation"
                ),
            )),
            Some(secs) if secs > 0 => *slot = secs,
            _ => problems.push(
                ctx.problem(&at, format!("`{text}` is not a duration (`90s`, `30m`, `2h`, `1d`)")),
            ),
        }
    }
    limits
}

/// A manifest's `public_keys` and `rate_limit`; `token_ttl_seconds` is checked against the
/// agent's `max_ttl`.
pub(crate) fn lower_agent(
    file: &ManifestFile,
    tokens: &TokenLimits,
    ctx: &FileCtx<'_>,
    problems: &mut Vec<Problem>,
) -> (Vec<String>, RateLimit) {
    if let Some(ttl) = file.token_ttl_seconds
        && ttl > tokens.agent_max_ttl_secs
    {
        problems.push(ctx.problem(
            &[Step::from("token_ttl_seconds")],
            format!(
                "`token_ttl_seconds` {ttl} is longer than `[tokens] max_ttl.agent` ({} s)",
                tokens.agent_max_ttl_secs
            ),
        ));
    }
    for (i, key) in file.public_keys.iter().enumerate() {
        if !looks_like_public_key(key) {
            problems.push(ctx.problem(
                &[Step::from("public_keys"), Step::from(i)],
                "not an Ed25519 public key: expected the `NAME+HASH+BASE64` text of the \
                 `.pub` file `aecl keys generate --agent` writes",
            ));
        }
    }
    let mut rate = DEFAULT_AGENT_REQUEST_RATE;
    if let Some(limit) = &file.rate_limit {
        let at = |key: &str| [Step::from("rate_limit"), Step::from(key)];
        if let Some(text) = &limit.rate {
            match crate::limits::parse_rate(text) {
                Ok((count, per_ms)) => {
                    rate = RateLimit { count, per_ms, burst: count.min(rate.burst) };
                }
                Err(message) => problems.push(ctx.problem(&at("rate"), message)),
            }
        }
        match limit.burst {
            Some(0) => problems.push(ctx.problem(&at("burst"), "`burst` must be at least 1")),
            Some(burst) => rate.burst = burst,
            None => {}
        }
    }
    (file.public_keys.clone(), rate)
}

/// `NAME+HASH+BASE64`: a name without `+` or white space, eight hex digits, and 44 base64
/// characters (one algorithm byte and 32 key bytes).
fn looks_like_public_key(text: &str) -> bool {
    let parts: Vec<&str> = text.trim().splitn(3, '+').collect();
    let [name, hash, key] = parts.as_slice() else { return false };
    !name.is_empty()
        && !name.chars().any(char::is_whitespace)
        && hash.len() == 8
        && hash.chars().all(|c| c.is_ascii_hexdigit())
        && key.len() == 44
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
}

#[cfg(test)]
mod tests {
    use super::looks_like_public_key;
    use crate::{SourceFile, load};

    /// A `max_ttl` past 366 days is refused, named; one day under it loads.
    #[test]
    fn a_token_lifetime_without_a_practical_end_is_refused() {
        let files = |ttl: &str| {
            vec![
                SourceFile {
                    path: "policy.toml".to_owned(),
                    text: format!("[tokens]\nmax_ttl = {{ agent = \"{ttl}\" }}\n"),
                },
                SourceFile {
                    path: "agents/a.toml".to_owned(),
                    text: "agent_id = \"a\"\nallowed_actions = []\n".to_owned(),
                },
            ]
        };
        for ttl in ["18446744073709551615s", "367d", "9000h"] {
            let error = load(&files(ttl)).map(|_| ()).unwrap_err().to_string();
            assert!(error.contains("max_ttl") || error.contains("longer than a token"), "{error}");
            assert!(error.contains("policy.toml"), "{error}");
        }
        assert!(load(&files("365d")).is_ok());
    }

    #[test]
    fn public_key_text_form() {
        let good = format!("finance_agent+0a1b2c3d+{}", "A+".repeat(21) + "A=");
        assert!(looks_like_public_key(&good));
        for bad in [
            "",
            "finance_agent",
            "PRIVATE+KEY+finance_agent+0a1b2c3d+AAAA",
            "finance agent+0a1b2c3d+AAAA",
            "finance_agent+xyz+AAAA",
        ] {
            assert!(!looks_like_public_key(bad), "{bad}");
        }
    }
}
