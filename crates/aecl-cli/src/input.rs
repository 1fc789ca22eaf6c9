//! Reading what the commands are given: policy directories, call files, traces.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use aecl_core::Timestamp;
use aecl_policy::{LoadedPolicy, SourceFile, is_policy_file};
use anyhow::{Context, Result, bail};

/// Reads every policy file under `dir` (recursively, in name order, skipping hidden
/// entries). File names in the result are `dir` joined with the relative path, so errors
/// point at files the user can open.
pub fn read_policy_dir(dir: &Path) -> Result<Vec<SourceFile>> {
    if !dir.is_dir() {
        bail!("`{}` is not a policy directory", dir.display());
    }
    let mut paths = Vec::new();
    collect(dir, &mut paths)?;
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path)
                .with_context(|| format!("reading `{}`", path.display()))?;
            Ok(SourceFile { path: path.display().to_string(), text })
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        fs::read_dir(dir).with_context(|| format!("reading directory `{}`", dir.display()))?;
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() {
            collect(&path, out)?;
        } else if is_policy_file(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// Loads and validates a policy directory; problems become one error listing them all.
pub fn load_policy(dir: &Path) -> Result<LoadedPolicy> {
    load_files(dir, &read_policy_dir(dir)?)
}

/// Loads `files`, read from the policy directory `dir` (named in the error).
pub fn load_files(dir: &Path, files: &[SourceFile]) -> Result<LoadedPolicy> {
    aecl_policy::load(files).with_context(|| format!("loading policy `{}`", dir.display()))
}

/// Now, from the system clock: the one place the CLI reads it for decisions.
pub fn now() -> Timestamp {
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    Timestamp(u64::try_from(millis).unwrap_or(u64::MAX))
}
