//! Bind paths as configured: each made canonical, and refused when the way to it goes
//! through a symbolic link that lies inside a writable bind.
//!
//! A sandboxed command can make links wherever it may write. A bind named through such a
//! link (`ro_binds = ["ws/x/ro"]` after a command replaced `ws/x/ro` by a link to `/etc`)
//! would, canonicalised, bind whatever the command chose: the host's keys, read-only or
//! writable. Links elsewhere on the way (`/srv` a link to `/data/srv`, made by the host's
//! administrator) are followed as usual. Each sandbox build then refuses any link on a
//! bind's canonical path (`helper/pinned.rs`), so a link made after this check is refused
//! too.

use std::path::{Component, Path, PathBuf};

use crate::spec::Bind;

/// The binds `requested` (writable or not; a relative path from the working directory), each canonical: an error names
/// the bind and the link when a link inside a writable bind is on the way to one.
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
            writable.push(canonical(path)?);
        }
    }
    let mut binds = Vec::with_capacity(requested.len());
    for (path, is_writable) in &requested {
        if let Some((link, target)) = link_inside(path, &writable)? {
            return Err(format!(
                "bind `{}`: `{}` on the way is a symbolic link (to `{}`) inside a writable \
                 bind, where a sandboxed command may have made it; name the bind by its real \
                 path, or remove the link",
                path.display(),
                link.display(),
                target.display()
            ));
        }
        binds.push(Bind { path: canonical(path)?, writable: *is_writable });
    }
    Ok(binds)
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

/// The first symbolic link on the way to `path` that lies inside one of `writable`
/// (canonical directories), with its target.
fn link_inside(path: &Path, writable: &[PathBuf]) -> Result<Option<(PathBuf, PathBuf)>, String> {
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
            return Ok(Some((reached, target)));
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
        // A link higher up, made by whoever set the host up, is followed.
        std::os::unix::fs::symlink(&ws, base.join("alias")).unwrap();
        let ok = resolve_binds(&[(base.join("alias"), true), (base.join("etc"), false)]).unwrap();
        assert_eq!(ok[0].path, ws);
        // A link inside a writable bind named through such an alias is still seen.
        let error =
            resolve_binds(&[(ws.clone(), true), (base.join("alias/x/ro"), false)]).unwrap_err();
        assert!(error.contains("symbolic link"), "{error}");
        assert!(resolve_binds(&[(PathBuf::from("no/such/relative/dir"), false)]).is_err());
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
