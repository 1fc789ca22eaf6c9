//! aecl's own secret store for the `http` connector: credentials per `credential_scope`,
//! injected into requests so that the agent never sees them.
//!
//! ```toml
//! # secrets.toml (readable by aecl only)
//! [scopes.payments.headers]
//! Authorization = "Bearer sk_live_..."
//! ```
//!
//! INVARIANT: secret values never reach a result, an error message, a log line or the
//! audit log: `Debug` shows scope and header names only, and response bodies are scrubbed
//! of every value before they are returned.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::ConnectorError;

/// The credentials of every scope.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    #[serde(default)]
    scopes: BTreeMap<String, ScopeSecrets>,
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeSecrets {
    /// Header name → value, added to every request made for an agent of the scope.
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: BTreeMap<&str, Vec<&str>> = self
            .scopes
            .iter()
            .map(|(scope, s)| (scope.as_str(), s.headers.keys().map(String::as_str).collect()))
            .collect();
        f.debug_struct("Secrets").field("scopes", &names).finish()
    }
}

impl Secrets {
    /// Parses the secrets file's `text` (`origin` names it in errors; values never appear).
    pub fn parse(text: &str, origin: &str) -> Result<Secrets, ConnectorError> {
        toml::from_str(text).map_err(|e| ConnectorError::Config {
            file: origin.to_owned(),
            // toml's message quotes the offending line, which may hold a secret: keep the
            // first line (the position and what was wrong) only.
            message: e.message().lines().next().unwrap_or("invalid TOML").to_owned(),
        })
    }

    pub fn load(path: &Path) -> Result<Secrets, ConnectorError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConnectorError::Read { path: path.display().to_string(), source })?;
        Secrets::parse(&text, &path.display().to_string())
    }

    /// The headers of `scope` (none for an unknown scope).
    pub fn headers(&self, scope: &str) -> impl Iterator<Item = (&str, &str)> {
        self.scopes
            .get(scope)
            .into_iter()
            .flat_map(|s| s.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// `text` with every secret value (of any scope) replaced by `[redacted]`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for scope in self.scopes.values() {
            for value in scope.headers.values() {
                if !value.is_empty() {
                    out = out.replace(value.as_str(), "[redacted]");
                }
                // A bearer value is also scrubbed without its scheme.
                if let Some((_, token)) = value.split_once(' ')
                    && token.len() >= 8
                {
                    out = out.replace(token, "[redacted]");
                }
            }
        }
        out
    }
}
