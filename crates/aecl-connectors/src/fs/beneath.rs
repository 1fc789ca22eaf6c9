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
//! Paths given by the agent are first normalised lexically (a `..` that would climb above
//! the root is refused outright, with a clear message) and split into a root and a path
//! relative to it; only the relative part ever reaches the file system.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::{Dir, File, OpenOptions, OpenOptionsExt};

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

    /// The handle and relative path of `located`.
    pub fn beneath<'r>(&'r self, located: &'r Located) -> Result<Beneath<'r>, String> {
        let root = self.roots.get(located.root).ok_or("no such root")?;
        Ok(Beneath { dir: &root.dir, rel: &located.rel })
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

impl Beneath<'_> {
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

    /// Opens what is at the path for reading, never through a symlink at the last component.
    fn open_file(&self) -> Result<File, std::io::Error> {
        let mut options = OpenOptions::new();
        options.read(true).custom_flags(read_flags());
        self.dir.open_with(self.rel, &options)
    }

    /// The content of the regular file at the path, refused past `limit` bytes; `None` when
    /// nothing is there.
    pub fn read(&self, what: &str, limit: u64) -> Result<Option<Vec<u8>>, String> {
        let mut file = match self.open_file() {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(what, self.rel, &e)),
        };
        // Checked on the open file: what was opened is what is measured and read.
        let meta = file.metadata().map_err(|e| io_error(what, self.rel, &e))?;
        if !meta.is_file() {
            return Err(format!("{what} `{}`: not a regular file", self.rel.display()));
        }
        if meta.len() > limit {
            return Err(format!("{what}: the file has {} bytes, more than {limit}", meta.len()));
        }
        let mut bytes = Vec::new();
        // One byte past the limit tells a file that grew since the stat.
        Read::by_ref(&mut file)
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| io_error(what, self.rel, &e))?;
        if bytes.len() as u64 > limit {
            return Err(format!("{what}: the file grew past {limit} bytes while being read"));
        }
        Ok(Some(bytes))
    }

    /// Replaces the file at the path with `bytes`, through a new file beside it and a
    /// rename, so that it is never seen half written. The rename replaces whatever entry is
    /// there (a symlink itself, never its target).
    pub fn replace(&self, bytes: &[u8]) -> Result<(), String> {
        let name = self.rel.file_name().ok_or("the path has no file name")?;
        let temporary = self.rel.with_file_name(format!(
            ".{}.aecl-{}",
            name.to_string_lossy(),
            uuid::Uuid::now_v7()
        ));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true).mode(0o644);
        let written = self.dir.open_with(&temporary, &options).and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        });
        if let Err(e) = written {
            let _ = self.dir.remove_file(&temporary);
            return Err(io_error("write", self.rel, &e));
        }
        self.dir.rename(&temporary, self.dir, self.rel).map_err(|e| {
            let _ = self.dir.remove_file(&temporary);
            io_error("write", self.rel, &e)
        })
    }

    /// Removes the file (or symlink) entry at the path; never follows it.
    pub fn remove(&self) -> Result<(), String> {
        self.dir.remove_file(self.rel).map_err(|e| io_error("delete", self.rel, &e))
    }

    /// Renames the entry at the path to `to` (which may be under another root).
    pub fn rename_to(&self, to: &Beneath<'_>) -> Result<(), String> {
        self.dir.rename(self.rel, to.dir, to.rel).map_err(|e| io_error("move", self.rel, &e))
    }
}

/// Where pre-images are kept: a directory handle on `undo_dir`, written only beneath it.
#[derive(Debug)]
pub(crate) struct UndoStore {
    /// Where `undo_dir` was when it was opened (canonical), for messages.
    pub path: PathBuf,
    dir: Dir,
}

impl UndoStore {
    /// Creates `path` if missing and opens it.
    pub fn open(path: &Path) -> Result<UndoStore, String> {
        std::fs::create_dir_all(path).map_err(|e| format!("undo_dir `{}`: {e}", path.display()))?;
        let path =
            path.canonicalize().map_err(|e| format!("undo_dir `{}`: {e}", path.display()))?;
        let dir = Dir::open_ambient_dir(&path, ambient_authority())
            .map_err(|e| format!("undo_dir `{}`: {e}", path.display()))?;
        Ok(UndoStore { path, dir })
    }

    /// The pre-image file of effect `effect`, relative to the store.
    fn before(effect: &str) -> Result<PathBuf, String> {
        let valid = !effect.is_empty()
            && effect.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(format!("effect id `{effect}` cannot name a pre-image"));
        }
        Ok(Path::new(effect).join("before"))
    }

    /// Keeps `bytes` as the pre-image of `effect`.
    pub fn keep(&self, effect: &str, bytes: &[u8]) -> Result<(), String> {
        let before = UndoStore::before(effect)?;
        self.dir
            .create_dir_all(effect)
            .map_err(|e| format!("keeping the pre-image in `{}`: {e}", self.path.display()))?;
        Beneath { dir: &self.dir, rel: &before }
            .replace(bytes)
            .map_err(|e| format!("keeping the pre-image: {e}"))
    }

    /// The pre-image of `effect`, if kept.
    pub fn kept(&self, effect: &str, limit: u64) -> Result<Option<Vec<u8>>, String> {
        let before = UndoStore::before(effect)?;
        Beneath { dir: &self.dir, rel: &before }.read("pre-image", limit)
    }
}
