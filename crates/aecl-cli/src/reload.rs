//! Policy reload for `aecl serve`: on SIGHUP, or when the policy directory's contents
//! change (polled), the directory is loaded and checked like `aecl check` (every file
//! valid, every embedded example passing) and by the server's own check (every connector
//! it names is configured), and only then swapped in, atomically: calls
//! already deciding finish with the old policy. A policy that fails is refused, logged,
//! and the old one stays in force.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aecl_core::Policy;
use aecl_engine::{Engine, Store};
use aecl_policy::LoadedPolicy;
use aecl_server::ReloadResult;
use anyhow::{Result, bail};

use crate::input::{load_policy, now, read_policy_dir};

/// Loads a policy directory and runs its examples: what `aecl check` accepts.
pub fn checked(dir: &Path) -> Result<LoadedPolicy> {
    let loaded = load_policy(dir)?;
    let problems = aecl_policy::run_examples(&loaded, now());
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        bail!("{} example(s) failed:\n{}", problems.len(), list.join("\n"));
    }
    Ok(loaded)
}

/// A fingerprint of the directory's policy files (names and contents), to notice changes
/// without a file-system watcher. `None` when the directory cannot be read right now.
fn fingerprint(dir: &Path) -> Option<u64> {
    let files = read_policy_dir(dir).ok()?;
    let mut hasher = DefaultHasher::new();
    for file in &files {
        file.path.hash(&mut hasher);
        file.text.hash(&mut hasher);
    }
    Some(hasher.finish())
}

/// Reloads the policy of `engine` from `dir` on SIGHUP and, when `interval` is not zero,
/// whenever the directory's contents change, if `accept` accepts the new policy; tells
/// `report` how each reload ended (the metrics). Runs until the process ends.
pub async fn watch<S: Store>(
    engine: Arc<Engine<S>>,
    dir: PathBuf,
    interval: Duration,
    accept: impl Fn(&Policy) -> Result<()> + Send + 'static,
    report: impl Fn(ReloadResult) + Send + 'static,
) {
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(e) => {
            tracing::error!(error = %e, "cannot watch SIGHUP: reload on change only");
            None
        }
    };
    let mut last = blocking_fingerprint(&dir).await;
    loop {
        let signalled = tokio::select! {
            Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => None } } => true,
            () = tokio::time::sleep(interval), if !interval.is_zero() => false,
        };
        let current = blocking_fingerprint(&dir).await;
        if !signalled && current == last {
            continue;
        }
        last = current;
        let reason = if signalled { "SIGHUP" } else { "the policy directory changed" };
        let load_dir = dir.clone();
        let loaded = tokio::task::spawn_blocking(move || checked(&load_dir))
            .await
            .map(|loaded| loaded.and_then(|l| accept(&l.policy).map(|()| l)));
        match loaded {
            Ok(Ok(loaded)) => {
                let old = engine.policy().revision.clone();
                let new = loaded.policy.revision.clone();
                engine.set_policy_error(None);
                if old == new {
                    tracing::info!(revision = %new, reason, "policy unchanged");
                    report(ReloadResult::Unchanged);
                } else {
                    engine.set_run_limits(loaded.runs);
                    engine.set_policy(Arc::new(loaded.policy));
                    tracing::info!(old = %old, new = %new, reason, "policy reloaded");
                    report(ReloadResult::Applied);
                }
            }
            Ok(Err(e)) => {
                engine.set_policy_error(Some(format!("{e:#}")));
                tracing::error!(
                    error = format!("{e:#}"),
                    revision = %engine.policy().revision,
                    reason,
                    "policy reload refused: the old policy stays in force"
                );
                report(ReloadResult::Refused);
            }
            Err(e) => {
                engine.set_policy_error(Some(format!("policy reload failed: {e}")));
                tracing::error!(error = %e, "policy reload failed");
                report(ReloadResult::Refused);
            }
        }
    }
}

async fn blocking_fingerprint(dir: &Path) -> Option<u64> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || fingerprint(&dir)).await.ok().flatten()
}
