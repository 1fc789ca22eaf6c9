//! Bind paths as configured: each made canonical by a walk of our own, one component at a
//! time from open descriptors, following only links a sandboxed command cannot have made.
//!
//! A sandboxed command can make links wherever it may write: in this request's writable
//! binds, and in any writable bind of an earlier run or of another connector. A bind named
//! through such a link (`ro_binds = ["ws/docs"]` after a run given `ws` writable replaced
//! `ws/docs` by a link to `/etc`) would, canonicalised, bind whatever the command chose:
//! the host's `/etc` read-only, its `/var/tmp` writable. So a link is followed only when
//! root owns it and every directory above it is root's and writable by no one else (a
//! sticky `/tmp` is not): a sandbox never runs as root, a launcher that is not root runs its sandboxes
//! as itself, and a link in a directory a command may write could have been renamed into
//! place (`vendor/pkg/up -> ../..` moved to `ws/docs`). Such a link's target is walked the
//! same way, component by component (an administrator's `/opt/app/config -> /srv/ws/config`
//! is followed; a link a command then put at `ws/config` is not). Each component is opened
//! from its parent's descriptor without following links (`O_NOFOLLOW`), so nothing renamed
//! during the walk redirects it; each sandbox build then refuses any link on a bind's
//! canonical path (`helper/pinned.rs`), so a link made after the walk is refused too.

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::fcntl::{AT_FDCWD, OFlag, openat, readlinkat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat};

use crate::spec::Bind;

/// The binds `requested` (writable or not; a relative path from the working directory),
/// each canonical: an error names the bind and the link when a link a sandboxed command
/// may have made is on the way to one.
pub fn resolve_binds(requested: &[(PathBuf, bool)]) -> Result<Vec<Bind>, String> {
    let requested = requested
        .iter()
        .map(|(path, writable)| {
            std::path::absolute(path)
                .map(|path| (path, *writable))
                .map_err(|e| format!("bind `{}`: {e}", path.display()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut writable = Vec::new();
    for (path, is_writable) in &requested {
        if *is_writable {
            writable.push(resolve(path, &[])?);
        }
    }
    let mut binds = Vec::with_capacity(requested.len());
    for (path, is_writable) in &requested {
        binds.push(Bind { path: resolve(path, &writable)?, writable: *is_writable });
    }
    Ok(binds)
}

/// The most links one bind's path may go through, as the kernel's own limit (`ELOOP`).
const MAX_LINKS: usize = 40;

/// Where the walk has reached: the directory's descriptor, its path, and whether it and
/// every directory above it are root's alone (so that an entry in it is root's doing).
struct Reached {
    fd: OwnedFd,
    path: PathBuf,
    roots_alone: bool,
}

/// `path` (absolute) made canonical by walking it from `/`, following only links
/// [`followed`] allows; `writable` (canonical) are the request's writable binds, inside
/// which no link is followed.
fn resolve(path: &Path, writable: &[PathBuf]) -> Result<PathBuf, String> {
    let failed = |e: String| format!("bind `{}`: {e}", path.display());
    let mut todo: Vec<OsString> = Vec::new();
    push_components(&mut todo, path);
    let root = open_path(None, OsStr::new("/")).map_err(|e| failed(format!("`/`: {e}")))?;
    let mut stack = vec![Reached { fd: root, path: PathBuf::from("/"), roots_alone: true }];
    let mut links = 0;
    while let Some(name) = todo.pop() {
        let Some(here) = stack.last() else { return Err(failed("the walk lost `/`".into())) };
        match name.as_bytes() {
            b"" | b"." => continue,
            b".." => {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            _ => {}
        }
        let at = here.path.join(&name);
        let fd = open_path(Some(&here.fd), &name)
            .map_err(|e| failed(format!("`{}`: {e}", at.display())))?;
        let stat = fstat(&fd).map_err(|e| failed(format!("`{}`: {e}", at.display())))?;
        match kind(&stat) {
            Kind::Link => {
                let target = readlinkat(&fd, "").map(PathBuf::from).unwrap_or_default();
                if let Some(why) = refused_link(here, &stat, &at, writable) {
                    return Err(failed(format!(
                        "`{}` on the way is a symbolic link (to `{}`) {why}, which a sandboxed \
                         command may have made; name the bind by its real path, or remove the \
                         link",
                        at.display(),
                        target.display()
                    )));
                }
                links += 1;
                if links > MAX_LINKS {
                    return Err(failed("too many levels of symbolic links".into()));
                }
                if target.is_absolute() {
                    stack.truncate(1);
                }
                push_components(&mut todo, &target);
            }
            Kind::Dir => {
                let roots_alone = here.roots_alone && roots_alone(&stat);
                stack.push(Reached { fd, path: at, roots_alone });
            }
            Kind::Other if todo.iter().all(|n| n.is_empty() || n == ".") => return Ok(at),
            Kind::Other => return Err(failed(format!("`{}` is not a directory", at.display()))),
        }
    }
    stack.pop().map(|reached| reached.path).ok_or_else(|| failed("the walk lost `/`".into()))
}

/// Why the link at `at`, found in the directory `here`, is not followed; `None`: it is.
fn refused_link(
    here: &Reached,
    link: &FileStat,
    at: &Path,
    writable: &[PathBuf],
) -> Option<String> {
    if writable.iter().any(|w| at.starts_with(w) && at != w.as_path()) {
        Some("inside a writable bind".to_owned())
    } else if link.st_uid != 0 {
        Some(format!("owned by uid {}, not root", link.st_uid))
    } else if !here.roots_alone {
        Some(format!(
            "in `{}`, where others than root may write (it could have been moved there)",
            here.path.display()
        ))
    } else {
        None
    }
}

/// Whether a directory is root's and no one else may add or rename entries in it: not
/// writable by its group or others. A sticky directory (`/tmp`) is not: only an entry's
/// owner may rename it away, but anyone may move a root link into it from a directory
/// they may write (the red team's round 19, third pass).
fn roots_alone(dir: &FileStat) -> bool {
    dir.st_uid == 0 && dir.st_mode & 0o022 == 0
}

/// Puts `path`'s components on `todo` so that the first is popped first.
fn push_components(todo: &mut Vec<OsString>, path: &Path) {
    let parts: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_owned()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect();
    todo.extend(parts.into_iter().rev());
}

enum Kind {
    Dir,
    Link,
    Other,
}

fn kind(stat: &FileStat) -> Kind {
    match SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits()) {
        SFlag::S_IFDIR => Kind::Dir,
        SFlag::S_IFLNK => Kind::Link,
        _ => Kind::Other,
    }
}

/// `name` opened beneath `dir` (or from the working directory, for `/`) as a path only,
/// never through a link: a link is opened as itself.
fn open_path(dir: Option<&OwnedFd>, name: &OsStr) -> Result<OwnedFd, nix::errno::Errno> {
    let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    match dir {
        Some(dir) => openat(dir, name, flags, Mode::empty()),
        None => openat(AT_FDCWD, name, flags, Mode::empty()),
    }
}

/// A read-only bind inside (or at) a writable one: Landlock, the fallback's only wall,
/// adds rights along a tree and cannot take the writable one's back beneath it.
pub fn read_only_inside_writable(binds: &[Bind]) -> Option<(&Path, &Path)> {
    binds.iter().filter(|b| !b.writable).find_map(|ro| {
        binds
            .iter()
            .filter(|w| w.writable)
            .find(|w| ro.path.starts_with(&w.path))
            .map(|w| (ro.path.as_path(), w.path.as_path()))
    })
}

/// The binds to mount, parents before children: `binds`, and each directory between a
/// writable bind and a bind inside it bound onto itself (writable, as it is already). A
/// mount point cannot be renamed or removed (`EBUSY`), so a command can no longer move
/// such a directory away and put an empty one in its place, which the next sandbox would
/// bind read-only while the real directory, under another name in the writable bind, is
/// writable (`ro_binds = ["ws/.git/hooks"]`: `mv .git g && mkdir -p .git/hooks`).
pub(crate) fn with_intermediates(binds: &[Bind]) -> Vec<Bind> {
    let mut out: Vec<Bind> = binds.to_vec();
    for bind in binds {
        for writable in binds.iter().filter(|w| w.writable && w.path != bind.path) {
            if !bind.path.starts_with(&writable.path) {
                continue;
            }
            let mut dir = bind.path.parent();
            while let Some(between) = dir.filter(|d| *d != writable.path) {
                if !out.iter().any(|b| b.path == between) {
                    out.push(Bind { path: between.to_path_buf(), writable: true });
                }
                dir = between.parent();
            }
        }
    }
    // Parents first: a bind mounted after one inside it would hide it.
    out.sort_by_key(|b| b.path.components().count());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory for a test's links where root alone writes every directory above it
    /// (not under the sticky `/tmp`, under which no link is followed): `/run` as root,
    /// else the build's target directory.
    fn root_dir() -> tempfile::TempDir {
        let run = Path::new("/run");
        if nix::unistd::geteuid().is_root()
            && let Ok(dir) = tempfile::tempdir_in(run)
        {
            return dir;
        }
        tempfile::tempdir_in(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target")).unwrap()
    }

    #[test]
    fn a_link_inside_a_writable_bind_is_refused_and_one_outside_it_followed() {
        let dir = root_dir();
        let base = dir.path().canonicalize().unwrap();
        let ws = base.join("ws");
        std::fs::create_dir_all(ws.join("x/ro")).unwrap();
        std::fs::create_dir_all(base.join("etc")).unwrap();
        let ok = resolve_binds(&[(ws.clone(), true), (ws.join("x/ro"), false)]).unwrap();
        assert_eq!(ok[1].path, ws.join("x/ro"));
        // What a sandboxed command can do inside `ws`: the read-only bind now names `etc`.
        std::fs::rename(ws.join("x"), ws.join("x.old")).unwrap();
        std::fs::create_dir(ws.join("x")).unwrap();
        std::os::unix::fs::symlink(base.join("etc"), ws.join("x/ro")).unwrap();
        let error = resolve_binds(&[(ws.clone(), true), (ws.join("x/ro"), false)]).unwrap_err();
        assert!(error.contains("x/ro` on the way is a symbolic link"), "{error}");
        // A link higher up, made by the host's administrator (root), is followed.
        std::os::unix::fs::symlink(&ws, base.join("alias")).unwrap();
        let by_root = nix::unistd::geteuid().is_root();
        let resolved = resolve_binds(&[(base.join("alias"), true), (base.join("etc"), false)]);
        if by_root {
            assert_eq!(resolved.unwrap()[0].path, ws);
            // A link inside a writable bind named through such an alias is still seen.
            let error =
                resolve_binds(&[(ws.clone(), true), (base.join("alias/x/ro"), false)]).unwrap_err();
            assert!(error.contains("inside a writable bind"), "{error}");
        } else {
            assert!(resolved.unwrap_err().contains("not root"));
        }
        assert!(resolve_binds(&[(PathBuf::from("no/such/relative/dir"), false)]).is_err());
    }

    /// The red team's round 19: a run given `ws` writable links `ws/docs` to `/etc` and
    /// `ws/out` to `/var/tmp`; a later request names only `ws/docs` and `ws/out`.
    #[test]
    fn a_link_an_earlier_sandbox_made_outside_this_requests_binds_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let ws = base.join("ws");
        std::fs::create_dir_all(&ws).unwrap();
        std::fs::create_dir_all(base.join("etc")).unwrap();
        std::os::unix::fs::symlink(base.join("etc"), ws.join("docs")).unwrap();
        std::os::unix::fs::symlink(base.join("etc"), ws.join("out")).unwrap();
        // Owned as a sandbox's would be: a sandbox uid (root launcher), else the launcher's.
        if nix::unistd::geteuid().is_root() {
            let uid = nix::unistd::Uid::from_raw(0x7000_0001);
            for link in ["docs", "out"] {
                nix::unistd::fchownat(
                    AT_FDCWD,
                    &ws.join(link),
                    Some(uid),
                    None,
                    nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                )
                .unwrap();
            }
        }
        for request in [
            vec![(ws.join("docs"), false)],
            vec![(ws.join("out"), true)],
            vec![(ws.join("docs/.."), false)],
            vec![(base.join("etc"), false), (ws.join("out/../out"), true)],
        ] {
            let error = resolve_binds(&request).unwrap_err();
            assert!(error.contains("not root") && error.contains("ws/"), "{error}");
        }
        // The real path is bound.
        assert_eq!(resolve_binds(&[(base.join("etc"), false)]).unwrap()[0].path, base.join("etc"));
    }

    /// The red team's round 19, second pass: a root link followed with what its target
    /// holds (`appconfig -> ws/config`, then `ws/config` made a link to `/etc` by a run),
    /// and a root link renamed into a directory others may write.
    #[test]
    fn a_root_links_target_is_walked_and_a_root_link_counts_only_where_root_alone_writes() {
        use std::os::unix::fs::PermissionsExt;
        if !nix::unistd::geteuid().is_root() {
            // Without root no link is root's: the test above holds the refusal.
            return;
        }
        let dir = root_dir();
        let base = dir.path().canonicalize().unwrap();
        let (ws, etc) = (base.join("ws"), base.join("etc"));
        std::fs::create_dir_all(ws.join("venv")).unwrap();
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::set_permissions(&ws, std::fs::Permissions::from_mode(0o777)).unwrap();
        // The administrator's links (root's): one outside the workspace into it, one
        // inside it (as `python3 -m venv` run as root makes `lib64 -> lib`).
        std::os::unix::fs::symlink(ws.join("config"), base.join("appconfig")).unwrap();
        std::os::unix::fs::symlink("lib", ws.join("venv/lib64")).unwrap();
        // What a run given `ws` left: the targets are its links.
        let sandbox = nix::unistd::Uid::from_raw(0x7000_0001);
        for (link, target) in [(ws.join("config"), &etc), (ws.join("venv/lib"), &etc)] {
            std::os::unix::fs::symlink(target, &link).unwrap();
            nix::unistd::fchownat(
                AT_FDCWD,
                &link,
                Some(sandbox),
                None,
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .unwrap();
        }
        let error = resolve_binds(&[(base.join("appconfig"), false)]).unwrap_err();
        assert!(error.contains("ws/config` on the way") && error.contains("not root"), "{error}");
        // `venv/lib64` is root's, but in `ws`, where others may write.
        let error = resolve_binds(&[(ws.join("venv/lib64"), true)]).unwrap_err();
        assert!(error.contains("where others than root may write"), "{error}");
        // A root link in a root directory others may not write is followed, and so is a
        // relative one; `..` and `.` are walked as the kernel walks them.
        let admin = base.join("admin");
        std::fs::create_dir(&admin).unwrap();
        std::fs::set_permissions(&admin, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink(&etc, admin.join("etc")).unwrap();
        std::os::unix::fs::symlink("../etc", admin.join("up")).unwrap();
        for path in ["admin/etc", "admin/up", "admin/./up/../etc", "ws/../admin/etc"] {
            let bound = resolve_binds(&[(base.join(path), false)]).unwrap();
            assert_eq!(bound[0].path, etc, "{path}");
        }
        // A loop is an error, not a hang.
        std::os::unix::fs::symlink(admin.join("loop"), admin.join("loop")).unwrap();
        let error = resolve_binds(&[(admin.join("loop"), false)]).unwrap_err();
        assert!(error.contains("too many levels"), "{error}");
        // A sticky directory others may write is not root's alone: a root link moved into
        // it from a directory a command may write is refused (round 19, third pass).
        let share = base.join("share");
        std::fs::create_dir(&share).unwrap();
        std::fs::set_permissions(&share, std::fs::Permissions::from_mode(0o1777)).unwrap();
        std::os::unix::fs::symlink(&etc, share.join("docs")).unwrap();
        let error = resolve_binds(&[(share.join("docs"), false)]).unwrap_err();
        assert!(error.contains("where others than root may write"), "{error}");
    }

    #[test]
    fn the_directories_between_a_writable_bind_and_one_inside_it_are_bound_too() {
        let bind = |path: &str, writable| Bind { path: PathBuf::from(path), writable };
        let binds = [bind("/srv/ws/.git/hooks", false), bind("/srv/ws", true), bind("/opt", false)];
        let paths: Vec<_> = with_intermediates(&binds)
            .into_iter()
            .map(|b| (b.path.display().to_string(), b.writable))
            .collect();
        let expected = [
            ("/opt", false),
            ("/srv/ws", true),
            ("/srv/ws/.git", true),
            ("/srv/ws/.git/hooks", false),
        ];
        let expected: Vec<_> = expected.iter().map(|(p, w)| (p.to_string(), *w)).collect();
        assert_eq!(paths, expected);
    }

    #[test]
    fn a_read_only_bind_inside_a_writable_one_is_found() {
        let bind = |path: &str, writable| Bind { path: PathBuf::from(path), writable };
        let binds = [bind("/srv/ws", true), bind("/srv/ws/.git/hooks", false)];
        assert_eq!(
            read_only_inside_writable(&binds),
            Some((Path::new("/srv/ws/.git/hooks"), Path::new("/srv/ws")))
        );
        let apart = [bind("/srv/ws", true), bind("/srv/wsx", false), bind("/opt", false)];
        assert_eq!(read_only_inside_writable(&apart), None);
    }
}
