//! The mode, owner and group of the files the `fs` connector writes, and who may read what
//! it keeps for undo.
//!
//! A change never leaves a file more readable than the one it replaces, and an undo puts
//! back the file as it was, permissions included:
//!
//! - a write that replaces a file gives the new file the old one's owner, group and mode,
//!   set through the new file's descriptor while it is still a private temporary file
//!   (created `0600`), before it takes the old one's place: the content is never visible
//!   under other permissions, not even for an instant. Set-user-ID and set-group-ID are
//!   dropped, as the kernel drops them when a file is written: content an agent wrote never
//!   runs with another user's privileges;
//! - a restore (the undo of a write or of a delete) gives the file the mode (set-id bits
//!   included: the content is the original, checked by its hash), owner and group recorded
//!   with the pre-image in the rollback token;
//! - a new file gets `new_file_mode` (default `0600`), whatever the process's umask, and
//!   aecl's own user and group (or the folder's group, when the folder is set-group-ID);
//! - fail closed: a file whose owner and group aecl could not give a new file (aecl is not
//!   root, and they are not its own) is neither written nor deleted, since the change would
//!   hand the content to aecl's user and group and the undo could not restore the owner; a
//!   file with a POSIX access ACL is refused likewise, since its mode bits alone, without
//!   the ACL, would widen what its owning group may do. An owner that cannot be set when the
//!   file is written or restored (a capability dropped) fails the change, with nothing
//!   changed.
//!
//! The undo directory is private to aecl's user: folders `0700`, files `0600`
//! (`undo_store.rs`).

use std::io;

use rustix::fs::{AtFlags, FileType, Mode, chmodat, fchmod, fchown, fgetxattr_query, fstat};
use rustix::io::Errno;
use rustix::process::{Gid, Uid, getegid, geteuid, getgroups};
use serde::{Deserialize, Serialize};

/// The set-user-ID and set-group-ID bits.
const SET_ID: u32 = 0o6000;

/// The permission bits, owner and group of a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileMeta {
    /// `st_mode & 0o7777`: permission, set-id and sticky bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl FileMeta {
    /// What a file (or folder) open as `fd` has now.
    pub fn of(fd: impl rustix::fd::AsFd) -> io::Result<FileMeta> {
        let stat = fstat(fd)?;
        Ok(FileMeta { mode: stat.st_mode & 0o7777, uid: stat.st_uid, gid: stat.st_gid })
    }

    /// What new content written in place of this file is given: the same owner, group and
    /// permissions, without set-user-ID and set-group-ID.
    pub fn for_new_content(self) -> FileMeta {
        FileMeta { mode: self.mode & !SET_ID, ..self }
    }

    /// Whether aecl's process may give a file this owner and group, and, if not, why. Root
    /// may (were its `CAP_CHOWN` dropped, the `fchown` itself fails, and the change with
    /// it); another user only its own user and one of its groups.
    pub fn check_can_be_given(&self) -> Result<(), String> {
        let groups = getgroups().unwrap_or_default();
        let groups: Vec<u32> = groups.iter().map(|g| g.as_raw()).collect();
        may_give(self, geteuid().as_raw(), getegid().as_raw(), &groups)
    }
}

/// [`FileMeta::check_can_be_given`] for a process of user `euid`, group `egid` and
/// supplementary `groups`.
pub(crate) fn may_give(
    meta: &FileMeta,
    euid: u32,
    egid: u32,
    groups: &[u32],
) -> Result<(), String> {
    let own_group = meta.gid == egid || groups.contains(&meta.gid);
    if euid == 0 || (meta.uid == euid && own_group) {
        return Ok(());
    }
    Err(format!(
        "the file belongs to uid {} and gid {}, which aecl (uid {euid}) cannot give a file: \
         the file it writes, or restores on an undo, would belong to aecl instead; run aecl \
         as the file's owner or as root",
        meta.uid, meta.gid
    ))
}

/// What a file written into a root is given before it is renamed into place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ownership {
    /// A new file: this mode, with aecl's user and group.
    New { mode: u32 },
    /// Exactly this mode, owner and group (a replaced file's, a restored pre-image's).
    As(FileMeta),
}

/// Gives the file open as `file` `ownership`: the owner and group first (a change of owner
/// clears set-id bits), then the mode, exactly (no umask). Through the descriptor, never by
/// name, so that nothing swapped in at the name is changed instead.
pub(crate) fn give(file: impl rustix::fd::AsFd, ownership: Ownership) -> io::Result<()> {
    let file = file.as_fd();
    let mode = match ownership {
        Ownership::New { mode } => mode,
        Ownership::As(meta) => {
            let now = FileMeta::of(file)?;
            if (now.uid, now.gid) != (meta.uid, meta.gid) {
                fchown(file, Some(Uid::from_raw(meta.uid)), Some(Gid::from_raw(meta.gid)))
                    .map_err(|e| {
                        io::Error::new(
                            io::Error::from(e).kind(),
                            format!(
                                "giving the new file owner uid {} and gid {}: {e}; nothing was \
                                 changed",
                                meta.uid, meta.gid
                            ),
                        )
                    })?;
            }
            meta.mode
        }
    };
    fchmod(file, Mode::from_raw_mode(mode)).map_err(io::Error::from)
}

/// Whether the file open as `fd` has a POSIX access ACL (a file system without extended
/// attributes has none).
pub(crate) fn has_access_acl(fd: impl rustix::fd::AsFd) -> io::Result<bool> {
    match fgetxattr_query(fd, "system.posix_acl_access") {
        Ok(_) => Ok(true),
        Err(Errno::NODATA | Errno::NOTSUP) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// What one `fstat` of an open regular file says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Regular {
    pub size: u64,
    pub meta: FileMeta,
    /// `st_nlink`: how many names the file has.
    pub links: u64,
}

/// The size, mode, owner, group and link count of the file open as `fd` (one `fstat`), or
/// `None` when it is not a regular file.
pub(crate) fn regular(fd: impl rustix::fd::AsFd) -> io::Result<Option<Regular>> {
    let stat = fstat(fd)?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Ok(None);
    }
    let meta = FileMeta { mode: stat.st_mode & 0o7777, uid: stat.st_uid, gid: stat.st_gid };
    #[allow(clippy::useless_conversion, reason = "`st_nlink` is a `u32` on some targets")]
    Ok(Some(Regular {
        size: u64::try_from(stat.st_size).unwrap_or(0),
        meta,
        links: u64::from(stat.st_nlink),
    }))
}

/// Makes the folder open as `dir` (named `shown` in messages) private to aecl's user:
/// refused when another user owns it (that user could read the pre-images, or open it to
/// anyone again); tightened to `0700`, with a warning, when it is aecl's but others may
/// read, write or enter it (as earlier versions left `undo_dir`: refusing it would turn an
/// upgrade into an outage, and tightening closes it to others from now on, pre-images
/// kept earlier included, since nobody else can enter the folder).
pub(crate) fn make_private(dir: impl rustix::fd::AsFd, shown: &str) -> Result<(), String> {
    let dir = dir.as_fd();
    let meta = FileMeta::of(dir).map_err(|e| format!("{shown}: {e}"))?;
    let euid = geteuid().as_raw();
    if meta.uid != euid {
        return Err(format!(
            "{shown} belongs to uid {}, not to aecl's user (uid {euid}): its owner could read \
             the pre-images kept there or open it to others; give it to aecl's user or choose \
             another folder",
            meta.uid
        ));
    }
    if meta.mode & 0o077 != 0 {
        // `chmodat` of `.`, not `fchmod`: the handle may be an `O_PATH` one, which `fchmod`
        // refuses; `.` is the folder itself, nothing that could be swapped.
        chmodat(dir, ".", Mode::from_raw_mode(0o700), AtFlags::empty())
            .map_err(|e| format!("{shown}: making it private (0700): {e}"))?;
        tracing::warn!(
            folder = shown,
            mode = format!("{:04o}", meta.mode),
            "the undo folder was open to other users; it is now 0700"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOBODY: FileMeta = FileMeta { mode: 0o600, uid: 65534, gid: 65534 };

    #[test]
    fn root_may_give_any_owner_and_another_user_only_its_own() {
        assert!(may_give(&NOBODY, 0, 0, &[]).is_ok());
        let own = FileMeta { uid: 1000, gid: 1000, ..NOBODY };
        assert!(may_give(&own, 1000, 1000, &[]).is_ok());
        let supplementary = FileMeta { gid: 27, ..own };
        assert!(may_give(&supplementary, 1000, 1000, &[27]).is_ok());
        let error = may_give(&NOBODY, 1000, 1000, &[27]).unwrap_err();
        assert!(error.contains("uid 65534 and gid 65534") && error.contains("uid 1000"), "{error}");
        // Its own user but a group it is not in: the group could not be kept.
        assert!(may_give(&FileMeta { gid: 65534, ..own }, 1000, 1000, &[27]).is_err());
    }

    #[test]
    fn new_content_drops_set_id_bits_only() {
        let setuid = FileMeta { mode: 0o6755, ..NOBODY };
        assert_eq!(setuid.for_new_content().mode, 0o755);
        let sticky = FileMeta { mode: 0o1640, ..NOBODY };
        assert_eq!(sticky.for_new_content(), sticky);
    }
}
