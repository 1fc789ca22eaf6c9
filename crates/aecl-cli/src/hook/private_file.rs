//! Files the local hook keeps for itself in its state directory (the policy cache's
//! records, sessions' saved states): read only when they are plainly the hook's own, and
//! written whole or not at all.
//!
//! Such a file is as strong as what it stands for (a policy, a session's history), so it
//! is read only from a real directory of this user's that nobody else can write, as a
//! regular file of this user's that nobody else can read or write, not through a link,
//! and not past a size cap. Anything else reads as no file: the caller then does the work
//! the file would have saved. A file is written to a temporary name in its directory and
//! renamed into place, so a reader never sees half of one.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};
use nix::fcntl::OFlag;
use sha2::{Digest, Sha256};

/// The text of the private file at `path` in the directory `dir`, at most `max` bytes;
/// `None` for anything not plainly the hook's own (see the module's header).
pub fn read(dir: &Path, path: &Path, max: u64) -> Option<String> {
    if !private_dir(dir) {
        return None;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    let private = meta.mode() & 0o077 == 0 && meta.uid() == own_uid();
    if !meta.is_file() || !private || meta.len() > max {
        return None;
    }
    let mut text = String::new();
    (&mut file).take(max + 1).read_to_string(&mut text).ok()?;
    Some(text)
}

/// Writes `text` to `path` in `dir` (which must be private) atomically: a temporary file,
/// 0600, renamed into place.
pub fn write(dir: &Path, path: &Path, text: &[u8]) -> Result<()> {
    if !private_dir(dir) {
        anyhow::bail!("`{}` is not a private directory of this user's", dir.display());
    }
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|e| anyhow::anyhow!("random name: {e}"))?;
    let temp = dir.join(format!(".tmp-{}", aecl_core::call::hex(&suffix)));
    let written = (|| -> Result<()> {
        let mut file: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(OFlag::O_NOFOLLOW.bits())
            .open(&temp)?;
        // The mode is set again: a umask may have taken bits away, never added them, but a
        // file must read 0600 exactly to be trusted later.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(text)?;
        std::fs::rename(&temp, path)?;
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.with_context(|| format!("writing `{}`", path.display()))
}

/// Whether `dir` is a real directory (not a link) of this user's that only they can write.
pub fn private_dir(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir)
        .is_ok_and(|m| m.is_dir() && m.mode() & 0o022 == 0 && m.uid() == own_uid())
}

/// The user the hook runs as: a file or directory of anyone else's is not this hook's.
fn own_uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Feeds `hash` the identity of the running executable (device, inode, size, modification
/// and change times of `/proc/self/exe`) and aecl's version: what a file made by one
/// binary is keyed by, so that another binary, which may check more, never reads it.
/// `None` when the executable cannot be identified (then nothing is kept).
pub fn hash_executable(hash: &mut Sha256) -> Option<()> {
    let exe = std::fs::metadata("/proc/self/exe").ok()?;
    field(hash, env!("CARGO_PKG_VERSION").as_bytes());
    for number in [
        exe.dev(),
        exe.ino(),
        exe.size(),
        exe.mtime().cast_unsigned(),
        exe.mtime_nsec().cast_unsigned(),
        exe.ctime().cast_unsigned(),
        exe.ctime_nsec().cast_unsigned(),
    ] {
        field(hash, &number.to_le_bytes());
    }
    Some(())
}

/// Feeds `hash` one field of a key, length first, so that no two lists of fields run
/// together into the same bytes.
pub fn field(hash: &mut Sha256, bytes: &[u8]) {
    hash.update((bytes.len() as u64).to_le_bytes());
    hash.update(bytes);
}
