//! Bind paths as configured: each made canonical, and refused when the way to it goes
//! through a symbolic link a sandboxed command may have made.
//!
//! A sandboxed command can make links wherever it may write: in this request's writable
//! binds, and in any writable bind of an earlier run or of another connector. A bind named
//! through such a link (`ro_binds = ["ws/docs"]` after a run given `ws` writable replaced
//! `ws/docs` by a link to `/etc`) would, canonicalised, bind whatever the command chose:
//! the host's `/etc` read-only, its `/var/tmp` writable. So only links owned by root are
//! followed (`/srv` a link to `/data/srv`, made by the host's administrator): a sandbox
//! never runs as root, and a launcher that is not root runs its sandboxes as itself, so a
//! link of any other owner may be a command's. Each sandbox build then refuses any link on
//! a bind's canonical path (`helper/pinned.rs`), so a link made after this check is
//! refused too.

use std::path::{Component, Path, PathBuf};

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
            // Not canonicalised through a link a command may have made either.
            refuse_untrusted_link(path, &[])?;
            writable.push(canonical(path)?);
        }
    }
    let mut binds = Vec::with_capacity(requested.len());
    for (path, is_writable) in &requested {
        refuse_untrusted_link(path, &writable)?;
        binds.push(Bind { path: canonical(path)?, writable: *is_writable });
    }
    Ok(binds)
}

/// An error naming the bind `path` and the link when a link a sandboxed command may have
/// made is on the way to it ([`untrusted_link`]).
fn refuse_untrusted_link(path: &Path, writable: &[PathBuf]) -> Result<(), String> {
    let Some(link) = untrusted_link(path, writable)? else { return Ok(()) };
    let whose = match link.owner {
        None => "inside a writable bind".to_owned(),
        Some(uid) => format!("owned by uid {uid}, not root"),
    };
    Err(format!(
        "bind `{}`: `{}` on the way is a symbolic link (to `{}`) {whose}, which a sandboxed \
         command may have made; name the bind by its real path, or remove the link",
        path.display(),
        link.path.display(),
        link.target.display()
    ))
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

fn canonical(path: &Path) -> Result<PathBuf, String> {
    path.canonicalize().map_err(|e| format!("bind `{}`: {e}", path.display()))
}

/// A symbolic link on the way to a bind that is not followed.
struct UntrustedLink {
    path: PathBuf,
    target: PathBuf,
    /// Its owner when that is what refuses it; `None`: it lies inside a writable bind of
    /// the same request (whoever owns it, a command of this very sandbox could replace it).
    owner: Option<u32>,
}

/// The first symbolic link on the way to `path` that lies inside one of `writable`
/// (canonical directories) or is not owned by root.
fn untrusted_link(path: &Path, writable: &[PathBuf]) -> Result<Option<UntrustedLink>, String> {
    use std::os::unix::fs::MetadataExt;
    let mut reached = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => continue,
            Component::ParentDir => {
                reached.pop();
                continue;
            }
            Component::Normal(name) => reached.push(name),
        }
        // `reached` has no link before its last component: where that entry is, is where
        // it lies.
        let Ok(meta) = std::fs::symlink_metadata(&reached) else {
            // Missing: `canonical` names it.
            return Ok(None);
        };
        if !meta.file_type().is_symlink() {
            continue;
        }
        let target = std::fs::read_link(&reached).unwrap_or_default();
        if writable.iter().any(|w| reached.starts_with(w) && reached != *w) {
            return Ok(Some(UntrustedLink { path: reached, target, owner: None }));
        }
        if meta.uid() != 0 {
            return Ok(Some(UntrustedLink { path: reached, target, owner: Some(meta.uid()) }));
        }
        reached = reached
            .canonicalize()
            .map_err(|e| format!("bind `{}`: `{}`: {e}", path.display(), reached.display()))?;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_inside_a_writable_bind_is_refused_and_one_outside_it_followed() {
        let dir = tempfile::tempdir().unwrap();
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
                    nix::fcntl::AT_FDCWD,
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
