//! The crate's one error type: set-up problems (configuration, secrets, a database that
//! cannot be opened). Problems of one call are outcomes, not errors: they become
//! `ConnectorOutcome::Failed` or `Unknown` and are recorded.

/// A connector could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// `connectors.toml` (or the secrets file) does not parse or says something wrong;
    /// the message names the file and the key.
    #[error("{file}: {message}")]
    Config { file: String, message: String },
    /// A file the configuration names cannot be read.
    #[error("reading `{path}`: {source}")]
    Read { path: String, source: std::io::Error },
    /// The policy binds an action to a connector that is not configured.
    #[error("action `{action}` names connector `{connector}`, which {file} does not define")]
    UnknownConnector { action: String, connector: String, file: String },
    /// The policy binds an action to a connector that cannot do it as declared.
    #[error("connector `{connector}` of {file}: {message}")]
    Binding { connector: String, file: String, message: String },
    /// The HTTP client could not be built (the system's root certificates).
    #[error("the HTTP client's TLS set-up failed: {0}")]
    Tls(std::io::Error),
}
