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
use aecl_policy::{LoadedPolicy, SourceFile};
use aecl_server::ReloadResult;
use anyhow::{Result, bail};

use crate::input::{load_files, now, read_policy_dir};

/// What identifies the contents of a policy directory: see [`fingerprint`].
pub type Fingerprint = u64;

/// Loads a policy directory and runs its examples: what `aecl check` accepts.
pub fn checked(dir: &Path) -> Result<LoadedPolicy> {
    checked_with_fingerprint(dir).map(|(loaded, _)| loaded)
}

/// [`checked`], with the fingerprint of the very files it loaded: a watcher that starts
/// from it cannot miss a change made between the load and its first look.
pub fn checked_with_fingerprint(dir: &Path) -> Result<(LoadedPolicy, Fingerprint)> {
    let files = read_policy_dir(dir)?;
    let fingerprint = fingerprint_of(&files);
    let loaded = load_files(dir, &files)?;
    let problems = aecl_policy::run_examples(&loaded, now());
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        bail!("{} example(s) failed:\n{}", problems.len(), list.join("\n"));
    }
    Ok((loaded, fingerprint))
}

/// A fingerprint of the directory's policy files (names and contents), to notice changes
/// without a file-system watcher. `None` when the directory cannot be read right now.
fn fingerprint(dir: &Path) -> Option<Fingerprint> {
    read_policy_dir(dir).ok().map(|files| fingerprint_of(&files))
}

fn fingerprint_of(files: &[SourceFile]) -> Fingerprint {
    let mut hasher = DefaultHasher::new();
    for file in files {
        file.path.hash(&mut hasher);
        file.text.hash(&mut hasher);
    }
    hasher.finish()
}

/// Reloads the policy of `engine` from `dir` on SIGHUP and, when `interval` is not zero,
/// whenever the directory's contents differ from `loaded` (the fingerprint of the files
/// the policy in force came from), if `accept` accepts the new policy; tells `report` how
/// each reload ended (the metrics). Runs until the process ends.
pub async fn watch<S: Store>(
    engine: Arc<Engine<S>>,
    dir: PathBuf,
    loaded: Fingerprint,
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
    let mut last = Some(loaded);
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
                    end_standing_grants(&engine).await;
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

/// Ends the standing grants of other policy revisions than the one in force (at start-up
/// and after a reload). A failure is logged: such a grant still permits nothing while
/// another revision is in force.
pub async fn end_standing_grants<S: Store>(engine: &Engine<S>) {
    match engine.end_standing_grants_of_other_revisions().await {
        Ok(0) => {}
        Ok(ended) => tracing::info!(ended, "standing grants of another policy revision ended"),
        Err(e) => {
            tracing::error!(error = %e, "cannot end the standing grants of another policy revision")
        }
    }
}

async fn blocking_fingerprint(dir: &Path) -> Option<Fingerprint> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || fingerprint(&dir)).await.ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecl_engine::{EngineConfig, SystemClock};

    /// The watcher starts from the files the policy in force was loaded from, not from
    /// its own first look: a change made between the load and that look (a slow start,
    /// a busy host) used to become the watcher's baseline and was never applied.
    #[tokio::test]
    async fn a_change_made_before_the_watcher_looks_is_applied() {
        let dir = tempfile::tempdir().unwrap();
        let example =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart/policy");
        for file in read_policy_dir(&example).unwrap() {
            let name = Path::new(&file.path).strip_prefix(&example).unwrap();
            std::fs::create_dir_all(dir.path().join(name).parent().unwrap()).unwrap();
            std::fs::write(dir.path().join(name), &file.text).unwrap();
        }
        let (loaded, fingerprint) = checked_with_fingerprint(dir.path()).unwrap();
        let old = loaded.policy.revision.clone();
        let engine = Arc::new(Engine::new(
            Arc::new(aecl_testkit::memory_store()),
            Arc::new(loaded.policy),
            Arc::new(SystemClock),
            EngineConfig::default(),
        ));
        let extra = "[actions.added_after_the_load]\neffect = \"read\"\n";
        let catalog = dir.path().join("catalog.toml");
        let text = std::fs::read_to_string(&catalog).unwrap();
        std::fs::write(&catalog, format!("{text}\n{extra}")).unwrap();

        let (sender, mut results) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(watch(
            engine.clone(),
            dir.path().to_owned(),
            fingerprint,
            Duration::from_millis(10),
            |_| Ok(()),
            move |result| sender.send(result).unwrap_or_default(),
        ));
        let result = tokio::time::timeout(Duration::from_secs(30), results.recv()).await;
        assert_eq!(result.ok().flatten(), Some(ReloadResult::Applied));
        assert_ne!(engine.policy().revision, old);
        assert!(engine.policy().actions.contains_key("added_after_the_load"));
    }
}
