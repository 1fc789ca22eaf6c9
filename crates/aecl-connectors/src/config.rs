//! `connectors.toml`: what each connector name of the catalog is, and how it is set up.
//!
//! ```toml
//! [secrets]                 # optional: credentials the `http` connector injects
//! file = "secrets.toml"     # relative to this file
//!
//! [connectors.users_db]
//! kind = "sql"
//! database = "users.db"     # a SQLite file (relative to this file), or postgres://...
//! statement_arg = "query"   # the argument holding the statement (default `query`)
//!
//! [connectors.files]
//! kind = "fs"
//! roots = ["/srv/data"]
//! undo_dir = "/var/lib/aecl/undo"
//!
//! [connectors.slack]
//! kind = "webhook"
//! allow_hosts = ["hooks.slack.com"]
//!
//! [connectors.crm]
//! kind = "http"
//! allow_hosts = ["api.example.com"]
//!
//! [connectors.sh]
//! kind = "shell"            # runs in the process-tier sandbox
//! allow_hosts = ["pypi.org"]
//! timeout_secs = 30
//! ```
//!
//! Each kind's settings, with their defaults, are documented on its type
//! ([`crate::sql::SqlConfig`], [`crate::fs::FsConfig`], [`crate::http::HttpConfig`],
//! [`crate::webhook::WebhookConfig`], [`crate::shell::ShellConfig`]). Unknown keys are errors that name the file and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::ConnectorError;

/// The parsed `connectors.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorsFile {
    #[serde(default)]
    pub secrets: Option<SecretsRef>,
    #[serde(default)]
    pub connectors: BTreeMap<String, ConnectorConfig>,
    /// The file's name, for messages (set by [`ConnectorsFile::parse`]).
    #[serde(skip)]
    pub origin: String,
    /// The folder relative paths are read from (set by [`ConnectorsFile::load`]).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// Where the secret store is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsRef {
    pub file: PathBuf,
}

/// One connector. The `kind` key selects the variant; new kinds are new variants.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConnectorConfig {
    Sql(crate::sql::SqlConfig),
    Fs(crate::fs::FsConfig),
    Http(crate::http::HttpConfig),
    Webhook(crate::webhook::WebhookConfig),
    Shell(crate::shell::ShellConfig),
}

impl ConnectorConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectorConfig::Sql(_) => "sql",
            ConnectorConfig::Fs(_) => "fs",
            ConnectorConfig::Http(_) => "http",
            ConnectorConfig::Webhook(_) => "webhook",
            ConnectorConfig::Shell(_) => "shell",
        }
    }
}

impl ConnectorsFile {
    /// Parses `text`, the content of the file called `origin`; relative paths in it will be
    /// read from `base_dir`.
    pub fn parse(
        text: &str,
        origin: &str,
        base_dir: &Path,
    ) -> Result<ConnectorsFile, ConnectorError> {
        let mut file: ConnectorsFile =
            toml::from_str(text).map_err(|e| ConnectorError::Config {
                file: origin.to_owned(),
                message: e.to_string().trim_end().to_owned(),
            })?;
        for name in file.connectors.keys() {
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return Err(ConnectorError::Config {
                    file: origin.to_owned(),
                    message: format!(
                        "connector name `{name}`: use letters, digits, `_` and `-` only"
                    ),
                });
            }
        }
        file.origin = origin.to_owned();
        file.base_dir = base_dir.to_owned();
        Ok(file)
    }

    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<ConnectorsFile, ConnectorError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConnectorError::Read { path: path.display().to_string(), source })?;
        let base = path.parent().map(Path::to_owned).unwrap_or_default();
        ConnectorsFile::parse(&text, &path.display().to_string(), &base)
    }

    /// `path` as written in the file: relative paths are relative to the file's folder.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() { path.to_owned() } else { self.base_dir.join(path) }
    }

    /// A configuration error in this file.
    pub fn error(&self, message: impl Into<String>) -> ConnectorError {
        ConnectorError::Config { file: self.origin.clone(), message: message.into() }
    }
}
