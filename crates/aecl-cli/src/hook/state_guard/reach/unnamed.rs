//! Writes of files only the run names (`WriteWord::unnamed`): an archive's members or a
//! recursive download beneath a directory, a download the server names directly in one. Each directory the line may write them in is checked for what such a
//! file could be: a settings file that is or may be there, aecl's program, the state or
//! policy directory; beneath a directory, also the links already in it (a member `l/x`
//! is written through a link `l` an earlier command left, to `~/.claude` say) and other
//! projects' agent folders, found by listing it.

use std::path::Path;

use aecl_core::shell::{Unnamed, WriteWord};
use aecl_engine::fs_paths::normalise;

use super::super::expand::glob;
use super::super::protected::{Place, Protected, is_agent_folder};
use super::{Line, Refusal};

/// Entries listed beneath one directory at most; past it the write is refused.
const MAX_ENTRIES: usize = 4096;

impl Line<'_> {
    /// Checks a write of files only the run names, directly in (`Entry`) or anywhere
    /// beneath (`Tree`) each of `write.dirs`.
    pub(super) fn check_unnamed<'p>(
        &self,
        write: &WriteWord,
        depth: Unnamed,
        protected: &'p Protected,
    ) -> Result<(), Refusal<'p>> {
        let what = &write.word.raw;
        // The first of the directories is the agent's `cwd`, which a line that starts by
        // leaving it never writes in.
        let dirs = match write.dirs.split_first() {
            Some((_, rest)) if self.leaves_cwd && !rest.is_empty() => rest,
            _ => write.dirs.as_slice(),
        };
        for dir in self.absolute(".", dirs)? {
            let found =
                glob(&dir).map_err(|e| Refusal::Unknown(format!("writes {what} in {e}")))?;
            for dir in found {
                let dir = normalise(&dir);
                let real = std::fs::canonicalize(&dir).ok();
                let places = [Some(&dir), real.as_ref()];
                let place = places.into_iter().flatten().find_map(|dir| match depth {
                    Unnamed::Entry => protected.reached_by_entry(dir),
                    Unnamed::Tree => protected.reached_beneath(dir),
                });
                let how = |at: &Path| match depth {
                    Unnamed::Entry => format!("writes {what} in `{}`, which may be", at.display()),
                    Unnamed::Tree => {
                        format!("writes {what} beneath `{}`, which may reach", at.display())
                    }
                };
                if let Some(place) = place {
                    return Err(Refusal::Touches { how: how(&dir), what: what.clone(), place });
                }
                if depth == Unnamed::Tree {
                    self.check_beneath(&dir, what, protected)?;
                }
            }
        }
        Ok(())
    }

    /// What an existing directory `dir` holds that a file written beneath it reaches: a
    /// link whose target is a protected place or holds one, and an agent's settings
    /// folder of another project.
    fn check_beneath<'p>(
        &self,
        dir: &Path,
        what: &str,
        protected: &'p Protected,
    ) -> Result<(), Refusal<'p>> {
        let mut pending = vec![dir.to_path_buf()];
        let mut seen = 0usize;
        while let Some(at) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&at) else { continue };
            for entry in entries.flatten() {
                seen += 1;
                if seen > MAX_ENTRIES {
                    return Err(Refusal::Unknown(format!(
                        "writes {what} beneath `{}`, which holds more than {MAX_ENTRIES} \
                         entries to look through for links",
                        dir.display()
                    )));
                }
                let path = entry.path();
                let Ok(kind) = entry.file_type() else { continue };
                let reached = if kind.is_symlink() {
                    link_reaches(&path, protected)
                } else if kind.is_dir() && is_agent_folder(&path) {
                    protected.reached_beneath(&path)
                } else {
                    None
                };
                if let Some(place) = reached {
                    return Err(Refusal::Touches {
                        how: format!(
                            "writes {what} beneath `{}`, through `{}`, reaching",
                            dir.display(),
                            path.display()
                        ),
                        what: what.to_owned(),
                        place,
                    });
                }
                if kind.is_dir() {
                    pending.push(path);
                }
            }
        }
        Ok(())
    }
}

/// The protected place a write through the link `link` may reach: its target, or what
/// lies beneath it when that is a directory (or does not exist yet).
fn link_reaches<'p>(link: &Path, protected: &'p Protected) -> Option<&'p Place> {
    let target = std::fs::canonicalize(link)
        .ok()
        .or_else(|| std::fs::read_link(link).ok().map(|t| link.parent().unwrap_or(link).join(t)))?;
    let target = normalise(&target);
    if target.is_file() {
        return protected.touched_by(&target);
    }
    protected.reached_beneath(&target).or_else(|| protected.touched_by(&target))
}
