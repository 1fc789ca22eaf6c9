//! File access beneath a root directory handle, never by path from `/`.
//!
//! Each root is opened once, as a directory handle ([`cap_std::fs::Dir`]); every later
//! operation (open, create, rename, remove, stat, make a folder) resolves its relative path
//! from that handle, and the kernel refuses a resolution that would leave it: on Linux
//! 5.6+ `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`, elsewhere cap-std's
//! component-by-component walk with `O_NOFOLLOW`. So a directory swapped for a symlink
//! between a check and the use cannot take a read or a write out of the root: there is no
//! check-then-use, only a use that cannot escape. The last component is never followed
//! (`O_NOFOLLOW`, `unlinkat`, `renameat`): a symlink there is refused, not read through.
//!
//! Nor does a change replace what it did not check. A file is put where nothing was by a
//! rename that refuses to replace (`renameat2(RENAME_NOREPLACE)`, on the handle of the
//! path's directory opened beneath the root), so that a file created there meanwhile makes
//! the change a conflict; a file is replaced or removed only after it was swapped out
//! atomically (`RENAME_EXCHANGE`, or renamed aside) and found to be the one checked, else it
//! is put back. (On Linux; macOS has the same through `renamex_np`.)
//!
//! What a change writes is a new file, written beside the path as a private temporary
//! (`0600`) and given its final mode, owner and group through its descriptor before it is
//! renamed into place (`meta.rs`); so a file is never seen half written, nor under other
//! permissions than its own, and nothing is ever written through a hard link.
//!
//! Nor is anything read through one: every open of a file's content (a read, the pre-image
//! of a write or a delete, a move's digest, a check, an undo) refuses a regular file with
//! more than one name (`st_nlink > 1`, from `fstat` of the descriptor opened), since its
//! other name may be outside every root, where `RESOLVE_BENEATH` cannot see.
//!
//! Paths given by the agent are first normalised lexically (a `..` that would climb above
//! the root is refused outright, with a clear message) and split into a root and a path
//! relative to it; only the relative part ever reaches the file system.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::{Dir, File, OpenOptions, OpenOptionsExt};
use rustix::fs::{RenameFlags, renameat_with};

use super::meta::{self, FileMeta, Ownership};

/// Directory handles on the configured roots.
#[derive(Debug)]
pub(crate) struct Roots {
    roots: Vec<Root>,
}

#[derive(Debug)]
struct Root {
    /// Where the root was when it was opened (canonical), for messages and for absolute
    /// paths given by the agent. The handle, not this path, is what operations use.
    path: PathBuf,
    dir: Dir,
}

/// A path beneath one root.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Beneath<'r> {
    pub dir: &'r Dir,
    /// Relative to `dir`, made of normal components only, never empty.
    pub rel: &'r Path,
    /// Where the call was decided to act: the physical path the engine resolved when it
    /// judged the call (`Call::paths`). What is opened must be there: a directory inside
    /// the root swapped for a link between the decision and the open would otherwise take
    /// the call to a place inside the root its path rules never judged.
    pub decided: Option<&'r Path>,
}

/// A located path: the root it is under and the path relative to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located {
    root: usize,
    rel: PathBuf,
    /// The root's path joined with `rel`, as the agent and the rollback token see it.
    pub shown: PathBuf,
}

impl Roots {
    /// Opens every root (each must exist and be a directory).
    pub fn open(paths: &[PathBuf]) -> Result<Roots, String> {
        if paths.is_empty() {
            return Err("`roots` is empty".to_owned());
        }
        let roots = paths
            .iter()
            .map(|p| -> Result<Root, String> {
                let path = p.canonicalize().map_err(|e| format!("root `{}`: {e}", p.display()))?;
                let dir = Dir::open_ambient_dir(&path, ambient_authority())
                    .map_err(|e| format!("root `{}`: {e}", p.display()))?;
                Ok(Root { path, dir })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Roots { roots })
    }

    /// `raw` split into a root and a relative path, or why it is not under one. A relative
    /// `raw` is relative to the first root.
    pub fn locate(&self, raw: &str) -> Result<Located, String> {
        let first = self.roots.first().ok_or("no root")?;
        if raw.is_empty() || raw.contains('\0') {
            return Err(format!("path `{}` is empty or holds a NUL", raw.escape_debug()));
        }
        let given = Path::new(raw);
        let joined = if given.is_absolute() { given.to_owned() } else { first.path.join(given) };
        let mut normal = PathBuf::new();
        for component in joined.components() {
            match component {
                Component::ParentDir => {
                    if !normal.pop() {
                        return Err(format!("path `{raw}` climbs above the file system root"));
                    }
                }
                Component::CurDir => {}
                other => normal.push(other.as_os_str()),
            }
        }
        let Some((index, root)) =
            self.roots.iter().enumerate().find(|(_, r)| normal.starts_with(&r.path))
        else {
            return Err(format!("path `{raw}` is outside the allowed roots"));
        };
        let rel = normal.strip_prefix(&root.path).map_err(|e| e.to_string())?.to_owned();
        if rel.as_os_str().is_empty() {
            return Err(format!("path `{raw}` is a root itself"));
        }
        Ok(Located { root: index, rel, shown: normal })
    }

    /// The first root's canonical path: where relative paths start.
    pub fn first(&self) -> Option<&Path> {
        self.roots.first().map(|r| r.path.as_path())
    }

    /// A root that holds `path` or lies under it (both canonical), if any.
    pub fn overlapping(&self, path: &Path) -> Option<&Path> {
        self.roots
            .iter()
            .find(|r| path.starts_with(&r.path) || r.path.starts_with(path))
            .map(|r| r.path.as_path())
    }

    /// The handle and relative path of `located`.
    pub fn beneath<'r>(&'r self, located: &'r Located) -> Result<Beneath<'r>, String> {
        let root = self.roots.get(located.root).ok_or("no such root")?;
        Ok(Beneath { dir: &root.dir, rel: &located.rel, decided: None })
    }
}

/// `O_NOFOLLOW`: the last component is opened only if it is not a symlink; `O_NONBLOCK`:
/// a FIFO (or device) planted there cannot hang the open, and is then refused as not a
/// regular file (the flag changes nothing for regular files).
fn read_flags() -> i32 {
    (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32
}

/// Whether `e` is the kernel refusing a symlink at the last component (`ELOOP`).
fn is_symlink_refusal(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
}

/// An error of `what` on `path`, naming a refused symlink as such.
fn io_error(what: &str, path: &Path, e: &std::io::Error) -> String {
    if is_symlink_refusal(e) {
        format!("{what} `{}`: the path is a symlink", path.display())
    } else {
        format!("{what} `{}`: {e}", path.display())
    }
}

/// What is at a path, without following a symlink there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Absent,
    File,
    Symlink,
    Other,
}

impl<'r> Beneath<'r> {
    /// What is at the path (the last component not followed).
    pub fn kind(&self) -> Result<Kind, String> {
        match self.dir.symlink_metadata(self.rel) {
            Ok(meta) if meta.is_symlink() => Ok(Kind::Symlink),
            Ok(meta) if meta.is_file() => Ok(Kind::File),
            Ok(_) => Ok(Kind::Other),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Kind::Absent),
            Err(e) => Err(io_error("stat", self.rel, &e)),
        }
    }

    /// The same path, to be opened only where the call was decided to act.
    pub fn decided_at(self, decided: Option<&'r Path>) -> Beneath<'r> {
        Beneath { decided, ..self }
    }

    /// Opens what is at the path for reading, never through a symlink at the last
    /// component, and only where the call was decided to act.
    fn open_file(&self) -> Result<File, std::io::Error> {
        let file = open_for_reading(self.dir, self.rel)?;
        if let Some(decided) = self.decided {
            where_decided(&file, decided)?;
        }
        Ok(file)
    }

    /// The content of the regular file at the path, refused past `limit` bytes; `None` when
    /// nothing is there.
    pub fn read(&self, what: &str, limit: u64) -> Result<Option<Vec<u8>>, String> {
        let Some(file) = self.open_existing(what)? else { return Ok(None) };
        read_open(file, what, self.rel, limit).map(|(bytes, _)| Some(bytes))
    }

    /// The content of the regular file at the path, as [`Beneath::read`], with its mode,
    /// owner and group (all of the one file opened), as kept for an undo: a file with an
    /// access ACL is refused, since no change or undo would carry the ACL over.
    pub fn read_kept(&self, what: &str, limit: u64) -> Result<Option<(Vec<u8>, FileMeta)>, String> {
        let Some(file) = self.open_existing(what)? else { return Ok(None) };
        if meta::has_access_acl(&file).map_err(|e| io_error(what, self.rel, &e))? {
            return Err(format!(
                "{what} `{}`: the file has a POSIX ACL, which aecl does not carry over to the \
                 file it writes or restores (its mode bits alone would widen its group's \
                 access); nothing was done",
                self.rel.display()
            ));
        }
        read_open(file, what, self.rel, limit).map(Some)
    }

    /// The file at the path, opened for reading; `None` when nothing is there.
    fn open_existing(&self, what: &str) -> Result<Option<File>, String> {
        match self.open_file() {
            Ok(file) => Ok(Some(file)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(what, self.rel, &e)),
        }
    }

    /// Replaces whatever entry is at the path (a symlink itself, never its target) with a
    /// file holding `bytes`, written beside it and renamed in place, so that it is never
    /// seen half written. Only for aecl's own files (pre-images): a change in a root must
    /// not replace what it did not check, and uses [`Beneath::create`] or
    /// [`Beneath::replace_checked`]. The file is `0600`, aecl's own.
    pub fn replace(&self, bytes: &[u8]) -> Result<(), String> {
        let parent = self.parent().map_err(|e| io_error("write", self.rel, &e))?;
        let temporary = parent
            .write_beside(bytes, Ownership::New { mode: 0o600 })
            .map_err(|e| io_error("write", self.rel, &e))?;
        parent.dir().rename(&temporary, parent.dir(), parent.name).map_err(|e| {
            let _ = parent.dir().remove_file(&temporary);
            io_error("write", self.rel, &e)
        })
    }

    /// Creates a file holding `bytes`, given `ownership`, at the path, where nothing may be:
    /// written beside it, then renamed in place without replacing (`RENAME_NOREPLACE`), so
    /// that an entry that appeared since the path was found free is a conflict, never
    /// overwritten.
    pub fn create(&self, bytes: &[u8], ownership: Ownership) -> Result<(), ChangeError> {
        let parent = self.parent().map_err(|e| self.failed("write", &e))?;
        let temporary =
            parent.write_beside(bytes, ownership).map_err(|e| self.failed("write", &e))?;
        parent.rename_no_replace(&temporary, &parent, parent.name).map_err(|e| {
            let _ = parent.dir().remove_file(&temporary);
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                ChangeError::Conflict(format!(
                    "`{}` appeared while it was being written; nothing was changed",
                    self.rel.display()
                ))
            } else {
                self.failed("write", &e)
            }
        })
    }

    /// Replaces the file at the path with one holding `bytes`, given `ownership`, provided
    /// the file replaced is the one checked (`expected`). The new file, written beside it,
    /// is exchanged with it atomically (`RENAME_EXCHANGE`), and the file swapped out is
    /// then checked; if it is not as `expected` (the file changed since it was checked),
    /// the exchange is reversed and the answer is a conflict. Whatever was there is thus
    /// either replaced as checked or left in place, never lost unseen.
    pub fn replace_checked(
        &self,
        bytes: &[u8],
        expected: &Expected,
        ownership: Ownership,
    ) -> Result<(), ChangeError> {
        let parent = self.parent().map_err(|e| self.failed("write", &e))?;
        let temporary =
            parent.write_beside(bytes, ownership).map_err(|e| self.failed("write", &e))?;
        if let Err(e) = parent.exchange(&temporary, parent.name) {
            let _ = parent.dir().remove_file(&temporary);
            return Err(if e.kind() == std::io::ErrorKind::NotFound {
                self.changed("was removed")
            } else {
                self.failed("write", &e)
            });
        }
        // INVARIANT: from here `temporary` holds what was at the path.
        if parent.holds(&temporary, expected) {
            let _ = parent.dir().remove_file(&temporary);
            return Ok(());
        }
        match parent.exchange(&temporary, parent.name) {
            Ok(()) => {
                let _ = parent.dir().remove_file(&temporary);
                Err(self.changed("changed"))
            }
            Err(e) => Err(ChangeError::Io(format!(
                "`{}` changed while it was being written, and putting it back failed ({e}): \
                 it is kept as `{}`",
                self.rel.display(),
                Path::new(&temporary).display()
            ))),
        }
    }

    /// Removes the regular file at the path, provided it is the one checked (`expected`).
    /// The file is first renamed aside (a new name beside it), where it is checked, then
    /// removed; a file that changed since it was checked is put back (without replacing
    /// anything) and the answer is a conflict.
    pub fn remove_checked(&self, expected: &Expected) -> Result<(), ChangeError> {
        let parent = self.parent().map_err(|e| self.failed("delete", &e))?;
        let aside = parent.temporary_name();
        if let Err(e) = parent.rename_no_replace(parent.name, &parent, &aside) {
            return Err(if e.kind() == std::io::ErrorKind::NotFound {
                self.changed("was removed")
            } else {
                self.failed("delete", &e)
            });
        }
        if parent.holds(&aside, expected) {
            return parent.dir().remove_file(&aside).map_err(|e| self.failed("delete", &e));
        }
        self.put_back(&parent, &aside, "changed")
    }

    /// Renames the regular file at the path to `to` (which may be under another root),
    /// provided nothing is at `to` (`RENAME_NOREPLACE`: an entry that appeared there since
    /// it was found free is a conflict) and the file moved has SHA-256 `expected` (checked
    /// where it arrived; one that changed since it was checked is moved back).
    pub fn rename_checked(&self, to: &Beneath<'_>, expected: &str) -> Result<(), ChangeError> {
        let from = self.parent().map_err(|e| self.failed("move", &e))?;
        let target = to.parent().map_err(|e| to.failed("move", &e))?;
        if let Err(e) = from.rename_no_replace(from.name, &target, target.name) {
            return Err(match e.kind() {
                std::io::ErrorKind::AlreadyExists => ChangeError::Conflict(format!(
                    "`{}` exists already; nothing was moved",
                    to.rel.display()
                )),
                std::io::ErrorKind::NotFound => self.changed("was removed"),
                _ => self.failed("move", &e),
            });
        }
        if target.holds(target.name, &Expected::content(expected)) {
            return Ok(());
        }
        match target.rename_no_replace(target.name, &from, from.name) {
            Ok(()) => Err(self.changed("changed")),
            Err(e) => Err(ChangeError::Io(format!(
                "`{}` changed while it was being moved, and moving it back failed ({e}): it \
                 is at `{}`",
                self.rel.display(),
                to.rel.display()
            ))),
        }
    }

    /// Moves the file renamed aside back to the path (never replacing), after a check
    /// found it was not the file expected.
    fn put_back(&self, parent: &Parent<'_>, aside: &OsStr, how: &str) -> Result<(), ChangeError> {
        match parent.rename_no_replace(aside, parent, parent.name) {
            Ok(()) => Err(self.changed(how)),
            Err(e) => Err(ChangeError::Conflict(format!(
                "`{}` {how} since it was checked, and another file took its place ({e}); the \
                 one found is kept as `{}`",
                self.rel.display(),
                Path::new(aside).display()
            ))),
        }
    }

    /// The directory holding the path's last component, opened beneath the root (through
    /// the root's handle, so no symlink leads out), and that component. Renames act on
    /// these handles and single names: the kernel resolves nothing more.
    fn parent(&self) -> std::io::Result<Parent<'_>> {
        let name = self.rel.file_name().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path has no file name")
        })?;
        let owned = match self.rel.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => Some(self.dir.open_dir(parent)?),
            _ => None,
        };
        let parent = Parent { owned, root: self.dir, name };
        // Every change is made through this directory handle, by name: the directory
        // opened must be the one the call was decided to change.
        if let Some(decided) = self.decided {
            let decided_dir = decided.parent().unwrap_or(decided);
            where_decided(parent.dir(), decided_dir)?;
        }
        Ok(parent)
    }

    fn failed(&self, what: &str, e: &std::io::Error) -> ChangeError {
        ChangeError::Io(io_error(what, self.rel, e))
    }

    fn changed(&self, how: &str) -> ChangeError {
        ChangeError::Conflict(format!(
            "`{}` {how} since it was checked; nothing was changed",
            self.rel.display()
        ))
    }
}

/// What a file must be to be replaced or removed: the SHA-256 of its content and, when
/// given, its mode, owner and group (those the new file or the undo was given from).
#[derive(Debug, Clone)]
pub(crate) struct Expected {
    pub sha256: String,
    pub meta: Option<FileMeta>,
}

impl Expected {
    /// Only the content is checked.
    pub fn content(sha256: &str) -> Expected {
        Expected { sha256: sha256.to_owned(), meta: None }
    }
}

/// Why a change in a root was not made: the path was not as checked (a conflict: someone
/// else changed it), or the file system refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ChangeError {
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Io(String),
}

impl From<ChangeError> for String {
    fn from(e: ChangeError) -> String {
        e.to_string()
    }
}

/// A directory handle (the root's, or one opened beneath it) and a name in it.
struct Parent<'r> {
    owned: Option<Dir>,
    root: &'r Dir,
    name: &'r OsStr,
}

impl Parent<'_> {
    fn dir(&self) -> &Dir {
        self.owned.as_ref().unwrap_or(self.root)
    }

    /// A fresh name beside `name`, for a file written or set aside before a rename.
    fn temporary_name(&self) -> OsString {
        OsString::from(format!(".{}.aecl-{}", self.name.to_string_lossy(), uuid::Uuid::now_v7()))
    }

    /// Writes `bytes` to a new file beside the name, given `ownership`, synced; returns its
    /// name. The file is created `0600` (no one else can open it meanwhile, whatever the
    /// umask) and given its owner and mode before anyone else can see it under the name.
    fn write_beside(&self, bytes: &[u8], ownership: Ownership) -> std::io::Result<OsString> {
        let temporary = self.temporary_name();
        let mut options = OpenOptions::new();
        options.write(true).create_new(true).mode(0o600);
        let written = self.dir().open_with(&temporary, &options).and_then(|mut file| {
            file.write_all(bytes)?;
            meta::give(&file, ownership)?;
            file.sync_all()
        });
        match written {
            Ok(()) => Ok(temporary),
            Err(e) => {
                let _ = self.dir().remove_file(&temporary);
                Err(e)
            }
        }
    }

    /// `renameat2(RENAME_NOREPLACE)`: fails with `AlreadyExists` rather than replace.
    fn rename_no_replace(
        &self,
        from: &OsStr,
        to: &Parent<'_>,
        name: &OsStr,
    ) -> std::io::Result<()> {
        renameat_with(self.dir(), from, to.dir(), name, RenameFlags::NOREPLACE)
            .map_err(std::io::Error::from)
    }

    /// `renameat2(RENAME_EXCHANGE)`: swaps two entries of this directory atomically.
    fn exchange(&self, a: &OsStr, b: &OsStr) -> std::io::Result<()> {
        renameat_with(self.dir(), a, self.dir(), b, RenameFlags::EXCHANGE)
            .map_err(std::io::Error::from)
    }

    /// Whether `name` is a regular file as `expected`.
    fn holds(&self, name: &OsStr, expected: &Expected) -> bool {
        let Ok(file) = open_for_reading(self.dir(), Path::new(name)) else { return false };
        read_open(file, "check", Path::new(name), super::MAX_PREIMAGE_BYTES).is_ok_and(
            |(bytes, meta)| {
                super::sha256_hex(&bytes) == expected.sha256
                    && expected.meta.is_none_or(|expected| expected == meta)
            },
        )
    }
}

/// Opens `rel` beneath `dir` for reading, never through a symlink at the last component.
/// Refuses `opened` unless it is at `decided`, as the kernel names the open descriptor
/// (`/proc/self/fd`): a link swapped in since the decision moves what the path reaches,
/// never what was opened.
fn where_decided(opened: &impl std::os::fd::AsFd, decided: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd as _;
    let fd = opened.as_fd().as_raw_fd();
    let actual = std::fs::read_link(format!("/proc/self/fd/{fd}"))?;
    if actual == decided {
        return Ok(());
    }
    Err(std::io::Error::other(format!(
        "it was decided at `{}`, but is now reached at `{}` (a link changed since the \
         call was judged); nothing was done",
        decided.display(),
        actual.display()
    )))
}

fn open_for_reading(dir: &Dir, rel: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).custom_flags(read_flags());
    dir.open_with(rel, &options)
}

/// The content of `file` (opened as `rel`) if it is a regular file of at most `limit`
/// bytes, with its mode, owner and group.
fn read_open(
    mut file: File,
    what: &str,
    rel: &Path,
    limit: u64,
) -> Result<(Vec<u8>, FileMeta), String> {
    // Checked on the open file: what was opened is what is measured and read.
    let Some(meta::Regular { size, meta, links }) =
        meta::regular(&file).map_err(|e| io_error(what, rel, &e))?
    else {
        return Err(format!("{what} `{}`: not a regular file", rel.display()));
    };
    // A file with another name may have that name outside every root: a hard link made
    // beneath a root (by a shell command, by anyone who can write there) would read, copy
    // or keep as a pre-image, to be restored as a file of its own by an undo, content from
    // outside. Its names cannot be listed, so it is refused, whatever they are. On the
    // descriptor, not the path: a link made between a check and the open is seen too.
    if links > 1 {
        return Err(format!(
            "{what} `{}`: the file has {links} names (hard links), and another may be outside \
             the roots; nothing was done",
            rel.display()
        ));
    }
    if size > limit {
        return Err(format!("{what}: the file has {size} bytes, more than {limit}"));
    }
    let mut bytes = Vec::new();
    // One byte past the limit tells a file that grew since the stat.
    Read::by_ref(&mut file)
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(what, rel, &e))?;
    if bytes.len() as u64 > limit {
        return Err(format!("{what}: the file grew past {limit} bytes while being read"));
    }
    Ok((bytes, meta))
}

#[cfg(test)]
mod tests;
