//! The launcher's errors: the sandbox could not even be prepared, so nothing ran.
//! Everything that happens once the helper runs is an [`Outcome`](crate::Outcome).

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The helper executable is missing or could not be started.
    #[error("sandbox helper: {0}")]
    Helper(String),
    /// The request's tier does not work on this host; nothing ran, and no weaker tier
    /// was tried in its place.
    #[error("the `{tier}` sandbox tier is not available on this host: {why}")]
    TierUnavailable { tier: crate::Tier, why: String },
    /// The microVM's guest image could not be built from what was given.
    #[error("microVM image: {0}")]
    Image(String),
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
}
