//! Reading what the commands are given: policy directories, call files, traces.

use std::fs;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
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
            let text = read_policy_file(&path)?;
            Ok(SourceFile { path: path.display().to_string(), text })
        })
        .collect()
}

/// A policy file larger than this is refused: no policy is near it, and reading one
/// without bound could exhaust memory on the decision path.
const MAX_POLICY_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The text of one policy file, which must be a regular file (a link to one is followed).
/// It is opened without blocking and checked before any read: a fifo, a socket or a
/// device named `x.toml` would otherwise hang every load, a hook call, start-up and the
/// reload watcher, with no answer (and an agent whose hook times out may run the call).
fn read_policy_file(path: &Path) -> Result<String> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
        .with_context(|| format!("reading `{}`", path.display()))?;
    let meta = file.metadata().with_context(|| format!("reading `{}`", path.display()))?;
    if !meta.is_file() {
        bail!("`{}` is not a regular file: a policy file must be one", path.display());
    }
    if meta.len() > MAX_POLICY_FILE_BYTES {
        bail!(
            "`{}` holds {} bytes, over the {MAX_POLICY_FILE_BYTES} bytes a policy file may hold",
            path.display(),
            meta.len()
        );
    }
    let mut text = String::new();
    file.take(MAX_POLICY_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("reading `{}`", path.display()))?;
    if text.len() as u64 > MAX_POLICY_FILE_BYTES {
        bail!("`{}` grew past {MAX_POLICY_FILE_BYTES} bytes while read", path.display());
    }
    Ok(text)
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
