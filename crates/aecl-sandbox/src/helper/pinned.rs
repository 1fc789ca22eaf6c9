//! Paths opened one component at a time, never through a symbolic link, and binds made
//! between the descriptors so opened.
//!
//! A bind's host path may lie inside a writable bind (`binds = ["/srv/ws"]`, `ro_binds =
//! ["/srv/ws/.git/hooks"]`), where an earlier sandboxed command could rename a directory
//! and put a symbolic link in its place. Followed, that link would lead the next sandbox's
//! bind anywhere on the host: its source (the host's keys, bound where the workspace was)
//! and its mount point (over the sandbox's own `/etc`). A configured path is the real one
//! (the connector canonicalises it when it is configured), so a link on it now is refused,
//! with both paths named; and the mount is made from one open descriptor onto another
//! (`/proc/self/fd/N`), so nothing renamed between the check and the mount moves it.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open, openat};
use nix::sys::stat::{Mode, SFlag, fstat, mkdirat};

/// An open `O_PATH` descriptor of a file or directory, reached through no symbolic link.
#[derive(Debug)]
pub(crate) struct Pinned {
    fd: OwnedFd,
    pub(crate) is_dir: bool,
}

impl Pinned {
    /// The path through which the kernel reaches exactly this descriptor.
    pub(crate) fn proc_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))
    }

    pub(crate) fn into_fd(self) -> OwnedFd {
        self.fd
    }

    pub(crate) fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

/// Opens the absolute, plain `path` (no `.` or `..`), refusing a symbolic link at any
/// component: the last one as well, since a bind names a directory or a file itself.
pub(crate) fn open_plain(path: &Path) -> Result<Pinned, String> {
    let what = |e: String| format!("bind `{}`: {e}", path.display());
    let mut current = open_root().map_err(what)?;
    let mut walked = PathBuf::from("/");
    for component in components(path).map_err(what)? {
        walked.push(component);
        current = step(&current, component, &walked).map_err(what)?;
    }
    into_pinned(current).map_err(what)
}

/// Opens `inside` (absolute, plain) beneath the directory `root`, making what is missing on
/// the way (directories; the last component a directory when `dir`, else an empty file),
/// refusing a symbolic link at any component.
pub(crate) fn make_beneath(root: &Path, inside: &Path, dir: bool) -> Result<Pinned, String> {
    let what = |e: String| format!("mount point `{}`: {e}", inside.display());
    let mut current = open_plain(root).map(|p| p.fd).map_err(what)?;
    let mut walked = root.to_path_buf();
    let parts = components(inside).map_err(what)?;
    let last = parts.len().saturating_sub(1);
    for (i, component) in parts.into_iter().enumerate() {
        walked.push(component);
        match step(&current, component, &walked) {
            Ok(next) => current = next,
            Err(_) if !exists(&current, component) => {
                make(&current, component, dir || i < last).map_err(|e| what(e.to_string()))?;
                current = step(&current, component, &walked).map_err(what)?;
            }
            Err(e) => return Err(what(e)),
        }
    }
    into_pinned(current).map_err(what)
}

fn open_root() -> Result<OwnedFd, String> {
    open("/", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| format!("opening `/`: {e}"))
}

fn components(path: &Path) -> Result<Vec<&std::ffi::OsStr>, String> {
    let mut out = Vec::new();
    for component in path.components() {
        match component {
            Component::RootDir => {}
            Component::Normal(name) => out.push(name),
            _ => return Err("expected an absolute path without `.` or `..`".to_owned()),
        }
    }
    if path.is_absolute() { Ok(out) } else { Err("expected an absolute path".to_owned()) }
}

/// Opens `name` in the directory `dir` without following it; a symbolic link is refused.
fn step(dir: &OwnedFd, name: &std::ffi::OsStr, walked: &Path) -> Result<OwnedFd, String> {
    let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(dir.as_fd(), name, flags, Mode::empty())
        .map_err(|e| format!("opening `{}`: {e}", walked.display()))?;
    let stat = fstat(fd.as_fd()).map_err(|e| format!("`{}`: {e}", walked.display()))?;
    if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK {
        let target = std::fs::read_link(walked).unwrap_or_default();
        return Err(format!(
            "`{}` is a symbolic link (to `{}`); a bind names its directory by its real path, \
             and a link on the way may have been put there by a sandboxed command: nothing \
             was mounted",
            walked.display(),
            target.display()
        ));
    }
    Ok(fd)
}

fn exists(dir: &OwnedFd, name: &std::ffi::OsStr) -> bool {
    let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    !matches!(openat(dir.as_fd(), name, flags, Mode::empty()), Err(Errno::ENOENT))
}

fn make(dir: &OwnedFd, name: &std::ffi::OsStr, directory: bool) -> Result<(), Errno> {
    if directory {
        return mkdirat(dir.as_fd(), name, Mode::from_bits_truncate(0o755));
    }
    let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY;
    openat(dir.as_fd(), name, flags | OFlag::O_CLOEXEC, Mode::from_bits_truncate(0o644)).map(drop)
}

fn into_pinned(fd: OwnedFd) -> Result<Pinned, String> {
    let stat = fstat(fd.as_fd()).map_err(|e| e.to_string())?;
    let is_dir = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
    Ok(Pinned { fd, is_dir })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_path_opens_and_a_link_anywhere_on_it_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(base.join("ws/x/ro")).unwrap();
        assert!(open_plain(&base.join("ws/x/ro")).unwrap().is_dir);
        std::fs::rename(base.join("ws/x"), base.join("ws/x.old")).unwrap();
        std::fs::create_dir(base.join("ws/x")).unwrap();
        std::os::unix::fs::symlink("/etc", base.join("ws/x/ro")).unwrap();
        let error = open_plain(&base.join("ws/x/ro")).unwrap_err();
        assert!(error.contains("is a symbolic link (to `/etc`)"), "{error}");
        // A link in the middle of the path, too.
        std::os::unix::fs::symlink(base.join("ws/x.old"), base.join("ws/y")).unwrap();
        let error = open_plain(&base.join("ws/y/ro")).unwrap_err();
        assert!(error.contains("ws/y` is a symbolic link"), "{error}");
        assert!(open_plain(Path::new("relative/path")).is_err());
        assert!(open_plain(&base.join("ws/../ws")).is_err());
    }

    #[test]
    fn a_mount_point_is_made_beneath_its_root_and_never_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap().join("root");
        std::fs::create_dir(&root).unwrap();
        let point = make_beneath(&root, Path::new("/srv/ws/file"), false).unwrap();
        assert!(!point.is_dir);
        assert!(root.join("srv/ws/file").is_file());
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("srv/link")).unwrap();
        let error = make_beneath(&root, Path::new("/srv/link/x"), true).unwrap_err();
        assert!(error.contains("is a symbolic link"), "{error}");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "made through the link");
    }
}
