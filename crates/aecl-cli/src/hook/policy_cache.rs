//! The local hook's policy cache: every hook call is a fresh process that loads the policy,
//! and parsing and validating its text (TOML, and Cedar above all) cost more than deciding
//! the call. After a full load has accepted the policy, the hook records the policy's
//! compiled form ([`aecl_policy::Compiled`]: each file's kind, each Cedar policy's canonical
//! text) under the SHA-256 of everything the load read; the next call with the same files
//! loads them with [`aecl_policy::load_compiled`], which reads no `.cedar` file, parses the
//! rules' canonical texts at once, parses each TOML file once and skips the checks that can
//! only refuse (Cedar's schema and strict validator). It builds the same policy (same
//! revision, same decisions), and checks the form: one made from other files, or that does
//! not give the revision it names when computed again, is refused (a full load).
//!
//! The key hashes aecl's version and the identity of the running executable (device, inode,
//! size, modification and change times of `/proc/self/exe`), then every policy file's name
//! (as the load and its messages see it) and bytes. So a changed, added, removed or renamed
//! file, another policy directory, or a new aecl binary misses the cache and is loaded in
//! full: a new binary may check more than the one that wrote the record.
//!
//! # The threat, and where the cache lives
//!
//! A record says "these files need no validation, and their rules are these". Whoever can
//! write one can make a policy that `aecl check` refuses load anyway (a Cedar `forbid`
//! testing a misspelt attribute, which then never matches): a record is as strong as a
//! policy file. The agent whose calls the hook decides can write files, so records are
//! kept in the hook's state directory (`DIR/policy-cache/`, beside the session files),
//! which `state_guard` keeps every tool call away from, as it does the session files (the
//! same trust: an agent that could write them could also rewrite its session's history).
//! The directories are 0700 and must not be writable by others; records are 0600, written
//! to a temporary file and renamed into place, and opened without following a link.
//!
//! Never trusted beyond that: a record that is missing, unreadable, a link, not a plain
//! file, readable by others, larger than [`MAX_RECORD_BYTES`], not of the form this key
//! writes, is ignored and the policy loaded in full (then the record is written anew). A
//! record whose files then fail the quick load, or give another revision than it names, is
//! ignored the same way. So a damaged record costs a full load; only a record forged with
//! its revision recomputed (by someone who could as well edit the policy) changes rules.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use aecl_policy::{Compiled, LoadedPolicy, SourceFile};
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::private_file::{self, field};
use crate::input::{load_files, read_policy_dir};

/// The cache's directory under the hook's state directory.
pub const CACHE_DIR: &str = "policy-cache";

/// Records kept at most; past it the oldest are removed when one is written.
const MAX_RECORDS: usize = 64;

/// The first line of a record, naming its format.
const MAGIC: &str = "aecl-policy-cache v2";

/// The largest record read or written: far above any real policy's compiled form, and a
/// bound on what a hook call reads.
const MAX_RECORD_BYTES: u64 = 16 * 1024 * 1024;

/// Loads the policy directory `policy`, from the record under `state_dir` when one vouches
/// for its files, else in full (then recording it). Errors only when the full load fails.
pub fn load(policy: &Path, state_dir: &Path) -> Result<LoadedPolicy> {
    let files = read_policy_dir(policy)?;
    let Some(key) = key(&files) else {
        return load_files(policy, &files);
    };
    let dir = state_dir.join(CACHE_DIR);
    if let Some(compiled) = read_record(&dir, &key)
        && let Ok(loaded) = aecl_policy::load_compiled(&files, compiled)
    {
        return Ok(loaded);
    }
    let loaded = load_files(policy, &files)?;
    // A cache that cannot be written costs the next call a full load, nothing more.
    if let Err(error) = write_record(state_dir, &dir, &key, &loaded.compiled) {
        tracing::debug!("the policy cache was not written: {error:#}");
    }
    Ok(loaded)
}

/// The cache key of `files` for this executable, in hex; `None` when the executable cannot
/// be identified (then nothing is cached).
pub fn key(files: &[SourceFile]) -> Option<String> {
    let mut hash = Sha256::new();
    field(&mut hash, MAGIC.as_bytes());
    private_file::hash_executable(&mut hash)?;
    field(&mut hash, &(files.len() as u64).to_le_bytes());
    for file in files {
        field(&mut hash, file.path.as_bytes());
        field(&mut hash, file.text.as_bytes());
    }
    Some(aecl_core::call::hex(&hash.finalize()))
}

/// A record's whole text: its format, its key, the revision, and the compiled form on one
/// line (JSON escapes every newline of a string).
fn record_text(key: &str, compiled: &Compiled) -> Result<String> {
    let json = serde_json::to_string(compiled).context("writing the compiled policy")?;
    Ok(format!("{MAGIC}\n{key}\n{}\n{json}\n", compiled.revision()))
}

/// The path of the record of `key` under the cache directory `dir`.
pub fn record_path(dir: &Path, key: &str) -> PathBuf {
    dir.join(key)
}

/// The compiled policy a sound record of `key` holds; `None` for anything else.
fn read_record(dir: &Path, key: &str) -> Option<Compiled> {
    let text = private_file::read(dir, &record_path(dir, key), MAX_RECORD_BYTES)?;
    let body = text.strip_suffix('\n')?;
    let mut lines = body.split('\n');
    let (Some(MAGIC), Some(named), Some(revision), Some(json), None) =
        (lines.next(), lines.next(), lines.next(), lines.next(), lines.next())
    else {
        return None;
    };
    let compiled: Compiled = serde_json::from_str(json).ok()?;
    (named == key && compiled.revision() == revision).then_some(compiled)
}

/// Writes the record of `key` atomically (`private_file::write`) in the 0700 cache
/// directory under `state_dir`; then keeps at most [`MAX_RECORDS`].
fn write_record(state_dir: &Path, dir: &Path, key: &str, compiled: &Compiled) -> Result<()> {
    let text = record_text(key, compiled)?;
    if text.len() as u64 > MAX_RECORD_BYTES {
        anyhow::bail!("the compiled policy is {} bytes, over {MAX_RECORD_BYTES}", text.len());
    }
    let create = |path: &Path| {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .with_context(|| format!("creating `{}`", path.display()))
    };
    create(state_dir)?;
    if !private_file::private_dir(state_dir) {
        anyhow::bail!("`{}` is writable by others", state_dir.display());
    }
    create(dir)?;
    private_file::write(dir, &record_path(dir, key), text.as_bytes())
        .with_context(|| format!("writing a record in `{}`", dir.display()))?;
    prune(dir);
    Ok(())
}

/// Removes the oldest records past [`MAX_RECORDS`] (each policy change leaves one behind).
fn prune(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut records: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter_map(|entry| {
            let modified = entry.metadata().ok()?.modified().ok()?;
            Some((modified, entry.path()))
        })
        .collect();
    if records.len() <= MAX_RECORDS {
        return;
    }
    records.sort();
    for (_, path) in records.iter().take(records.len() - MAX_RECORDS) {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    fn files(text: &str) -> Vec<SourceFile> {
        vec![SourceFile { path: "p/catalog.toml".to_owned(), text: text.to_owned() }]
    }

    /// The compiled form of a small policy with a Cedar rule.
    fn compiled() -> Compiled {
        let file = |path: &str, text: &str| SourceFile { path: path.into(), text: text.into() };
        let files = [
            file("agents/a.toml", "agent_id = \"a\"\nallowed_actions = [\"read\"]\n"),
            file("catalog.toml", "[actions.read]\neffect = \"read\"\n"),
            file(
                "rules.cedar",
                "forbid (principal, action, resource) when { context.risk.greaterThan(decimal(\"0.9\")) };",
            ),
        ];
        aecl_policy::load(&files).unwrap().compiled
    }

    #[test]
    fn the_key_changes_with_any_name_or_byte() {
        let base = key(&files("a")).unwrap();
        assert_eq!(base, key(&files("a")).unwrap());
        assert_ne!(base, key(&files("b")).unwrap());
        let renamed = vec![SourceFile { path: "q/catalog.toml".to_owned(), text: "a".to_owned() }];
        assert_ne!(base, key(&renamed).unwrap());
        // Names and texts are length-prefixed: moving a byte across the boundary differs.
        let a = vec![SourceFile { path: "ab".to_owned(), text: "c".to_owned() }];
        let b = vec![SourceFile { path: "a".to_owned(), text: "bc".to_owned() }];
        assert_ne!(key(&a), key(&b));
    }

    #[test]
    fn only_an_exact_private_record_is_read() {
        let state = tempfile::tempdir().unwrap();
        let dir = state.path().join(CACHE_DIR);
        let key = key(&files("a")).unwrap();
        let compiled = compiled();
        assert_eq!(read_record(&dir, &key), None);
        write_record(state.path(), &dir, &key, &compiled).unwrap();
        assert_eq!(read_record(&dir, &key).as_ref(), Some(&compiled));
        let path = record_path(&dir, &key);
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        // Another key's record under this name, a trailing byte, or a mode others can read.
        std::fs::write(&path, record_text("0", &compiled).unwrap()).unwrap();
        assert_eq!(read_record(&dir, &key), None);
        std::fs::write(&path, format!("{}x", record_text(&key, &compiled).unwrap())).unwrap();
        assert_eq!(read_record(&dir, &key), None);
        std::fs::write(&path, record_text(&key, &compiled).unwrap()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(read_record(&dir, &key), None);
        // A link to a sound record is not followed.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let elsewhere = state.path().join("elsewhere");
        std::fs::rename(&path, &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        assert_eq!(read_record(&dir, &key), None);
        // A cache directory others can write is not read.
        std::fs::remove_file(&path).unwrap();
        std::fs::rename(&elsewhere, &path).unwrap();
        assert!(read_record(&dir, &key).is_some());
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(read_record(&dir, &key), None);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(read_record(&dir, &key).is_some());
    }

    /// A cache directory that is a link, even to a private directory holding a sound
    /// record, is not read: the link could be swapped for one to another user's records.
    #[test]
    fn a_linked_cache_directory_is_not_read() {
        let state = tempfile::tempdir().unwrap();
        let real = state.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let key = key(&files("a")).unwrap();
        write_record(&real, &real.join(CACHE_DIR), &key, &compiled()).unwrap();
        assert!(read_record(&real.join(CACHE_DIR), &key).is_some());
        let linked = state.path().join(CACHE_DIR);
        std::os::unix::fs::symlink(real.join(CACHE_DIR), &linked).unwrap();
        assert_eq!(read_record(&linked, &key), None);
    }

    /// A sound record owned by another user (root can make one; nobody else can give a file
    /// away) is not this hook's, nor is a directory of theirs.
    #[test]
    fn another_users_record_or_directory_is_not_read() {
        let state = tempfile::tempdir().unwrap();
        let dir = state.path().join(CACHE_DIR);
        let key = key(&files("a")).unwrap();
        let compiled = compiled();
        write_record(state.path(), &dir, &key, &compiled).unwrap();
        let path = record_path(&dir, &key);
        let nobody = Some(nix::unistd::Uid::from_raw(65_534));
        if !nix::unistd::geteuid().is_root() {
            // Not root: the record cannot be given away, so the case cannot arise.
            assert_eq!(nix::unistd::chown(&path, nobody, None), Err(nix::errno::Errno::EPERM));
            return;
        }
        nix::unistd::chown(&path, nobody, None).unwrap();
        assert_eq!(read_record(&dir, &key), None);
        nix::unistd::chown(&path, Some(nix::unistd::geteuid()), None).unwrap();
        assert_eq!(read_record(&dir, &key).as_ref(), Some(&compiled));
        nix::unistd::chown(&dir, nobody, None).unwrap();
        assert_eq!(read_record(&dir, &key), None);
    }
}
