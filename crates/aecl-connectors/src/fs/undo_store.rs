//! `undo_dir`: where the `fs` connector keeps each effect's pre-image (`EFFECT/before`) and
//! intent (`EFFECT/intent`, `reconcile.rs`), reached only through a directory handle opened
//! at start-up, never by path again.
//!
//! The pre-images are the content of files the agent changed, secrets included, so the
//! store is private to aecl's user: `undo_dir` and each effect's folder are `0700`, their
//! files `0600`, all created so (not left to the umask). An `undo_dir` owned by another user
//! is refused; one that is aecl's but open to others (earlier versions made it `0755`) is
//! tightened to `0700`, with a warning (see [`make_private`]). An effect's folder found
//! already there (a retry, a reconciliation) is checked the same way.

use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::{Dir, DirBuilder, DirBuilderExt as _, OpenOptions, OpenOptionsExt as _};

use super::beneath::Beneath;
use super::meta::make_private;

/// Where pre-images are kept: a directory handle on `undo_dir`, written only beneath it.
#[derive(Debug)]
pub(crate) struct UndoStore {
    /// Where `undo_dir` was when it was opened (canonical), for messages.
    pub path: PathBuf,
    dir: Dir,
}

impl UndoStore {
    /// Creates `path` if missing (`0700`, and so any folder above it that it creates); its
    /// canonical path.
    pub fn create(path: &Path) -> Result<PathBuf, String> {
        let shown = |e: &dyn std::fmt::Display| format!("undo_dir `{}`: {e}", path.display());
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(|e| shown(&e))?;
        path.canonicalize().map_err(|e| shown(&e))
    }

    /// Opens the folder at `path` (canonical, made by [`UndoStore::create`]) and makes it
    /// private to aecl's user.
    pub fn open(path: PathBuf) -> Result<UndoStore, String> {
        let dir = Dir::open_ambient_dir(&path, ambient_authority())
            .map_err(|e| format!("undo_dir `{}`: {e}", path.display()))?;
        make_private(&dir, &format!("undo_dir `{}`", path.display()))?;
        Ok(UndoStore { path, dir })
    }

    /// The folder of `effect`, created (`0700`) if missing, else checked to be private;
    /// never a symlink.
    pub fn effect_dir(&self, effect: &str) -> Result<Dir, String> {
        check_effect_id(effect)?;
        let shown = format!("`{}/{effect}`", self.path.display());
        let mut builder = DirBuilder::new();
        builder.mode(0o700);
        match self.dir.create_dir_with(effect, &builder) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("{shown}: {e}")),
        }
        let mut options = OpenOptions::new();
        let flags = rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::NOFOLLOW;
        options.read(true).custom_flags(flags.bits() as i32);
        let folder = self.dir.open_with(effect, &options).map_err(|e| format!("{shown}: {e}"))?;
        make_private(&folder, &shown)?;
        Ok(Dir::from_std_file(folder.into_std()))
    }

    /// Keeps `bytes` as the pre-image of `effect` (a `0600` file of a `0700` folder).
    pub fn keep(&self, effect: &str, bytes: &[u8]) -> Result<(), String> {
        let folder = self.effect_dir(effect)?;
        Beneath { dir: &folder, rel: Path::new(BEFORE), decided: None }
            .replace(bytes)
            .map_err(|e| format!("keeping the pre-image: {e}"))
    }

    /// The pre-image of `effect`, if kept.
    pub fn kept(&self, effect: &str, limit: u64) -> Result<Option<Vec<u8>>, String> {
        check_effect_id(effect)?;
        let before = Path::new(effect).join(BEFORE);
        Beneath { dir: &self.dir, rel: &before, decided: None }.read("pre-image", limit)
    }
}

/// The pre-image's name in an effect's folder.
const BEFORE: &str = "before";

/// Refuses an effect id that is not a single plain name (it names a folder of the store).
fn check_effect_id(effect: &str) -> Result<(), String> {
    let valid = !effect.is_empty()
        && effect.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!("effect id `{effect}` cannot name a folder of undo_dir"))
    }
}
