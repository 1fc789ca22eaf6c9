//! Where the sources of `cp`, `mv`, `ln`, `install` and `rsync` land in a directory:
//! each is a write of its own, checked as the line's other writes are.

use std::path::Path;

use aecl_core::shell::{Analysis, ShellArg, WriteWord};

use super::super::expand::{expand, glob};
use aecl_engine::fs_paths::normalise;

use super::super::protected::Protected;
use super::{Line, Refusal};

impl Line<'_> {
    /// `cp`, `mv`, `ln`, `install` and `rsync` into a directory write the entry named by
    /// each source's last component there (`cp -r /tmp/x/.claude .` writes `./.claude`),
    /// or each entry of the source when its contents are copied (`cp -rT`, `SRC/.`,
    /// rsync's `SRC/`): each such entry is checked as a write too, from each directory in
    /// `dirs`.
    pub fn check_landings<'p>(
        &self,
        analysis: &Analysis,
        dirs: &[Option<String>],
        protected: &'p Protected,
    ) -> Result<(), Refusal<'p>> {
        let copies = analysis
            .commands
            .iter()
            .filter(|c| matches!(c.program.as_str(), "cp" | "mv" | "ln" | "install" | "rsync"));
        for command in copies {
            let words = &command.words;
            let mut positionals: Vec<&ShellArg> =
                words.iter().filter(|w| !w.is_known() || !w.text.starts_with('-')).collect();
            let target = words.iter().enumerate().find_map(|(i, w)| {
                let attached = w.text.strip_prefix("--target-directory=").or_else(|| {
                    w.text.strip_prefix("-t").filter(|rest| !rest.is_empty() && w.is_known())
                });
                match attached {
                    Some(dir) => {
                        Some(ShellArg { text: dir.to_owned(), raw: dir.to_owned(), ..w.clone() })
                    }
                    None if matches!(w.text.as_str(), "-t" | "--target-directory") => {
                        words.get(i + 1).cloned()
                    }
                    None => None,
                }
            });
            let destination = match target {
                Some(dir) => {
                    positionals.retain(|p| **p != dir);
                    dir
                }
                None => match positionals.pop() {
                    Some(last) => last.clone(),
                    None => continue,
                },
            };
            // `cp -rT SRC DEST`, `cp -r SRC/. DEST`, `rsync SRC/ DEST`: what lands is each
            // entry of SRC, not SRC itself.
            let into = words.iter().any(|w| {
                w.is_known()
                    && (("--no-target-directory".starts_with(w.text.as_str()) && w.text.len() >= 6)
                        || (w.text.starts_with('-')
                            && !w.text.starts_with("--")
                            && w.text.contains('T')))
            });
            for source in positionals {
                let texts = expand(source, &self.setters(), self.pwd)
                    .map_err(|e| Refusal::Unknown(format!("copies {e}")))?;
                for text in texts {
                    let contents = into
                        || text.ends_with("/.")
                        || (command.program == "rsync" && text.ends_with('/'));
                    for path in self.absolute(&text, &[Some(self.cwd.display().to_string())])? {
                        for found in
                            glob(&path).map_err(|e| Refusal::Unknown(format!("copies {e}")))?
                        {
                            // Contents the line may fill before the copy (`git clone S &&
                            // cp -r S/. .`, red team round 15): not listed now, so anything
                            // may land under the destination.
                            if contents && !found.exists() {
                                self.check_unknown_contents(&found, &destination, dirs, protected)?;
                                continue;
                            }
                            let names = if contents {
                                entry_names(&found)
                                    .map_err(|e| Refusal::Unknown(format!("copies {e}")))?
                            } else {
                                found
                                    .file_name()
                                    .and_then(|n| n.to_str())
                                    .map(str::to_owned)
                                    .into_iter()
                                    .collect()
                            };
                            for name in names {
                                let joined =
                                    |text: &str| format!("{}/{name}", text.trim_end_matches('/'));
                                // A destination spelt with `~` or `$HOME` is expanded
                                // with the name on it (`~/` + `.local`).
                                let entry = if destination.is_known() {
                                    ShellArg::known(&joined(&destination.text))
                                } else {
                                    ShellArg {
                                        text: joined(&destination.text),
                                        raw: joined(&destination.raw),
                                        ..destination.clone()
                                    }
                                };
                                // A name the line does not show (a directory's entries, a
                                // glob's match) that is configuration running code: the shell
                                // rules judge the names a line shows, this one no word names
                                // (red team round 24, hooks E3: `cp -r d/. .` with
                                // `d/.mcp.json`, `cp d/* site-packages/` with a `.pth`).
                                // A destination spelt with `~` or `$HOME` too, as expanded
                                // (red team round 30, S-1: `cp -r evil/. ~/work/proj/`).
                                let texts = if destination.is_known() {
                                    vec![entry.text.clone()]
                                } else {
                                    expand(&entry, &self.setters(), self.pwd).unwrap_or_default()
                                };
                                for text in texts.iter().filter(|_| contents || source.pattern) {
                                    for path in self.absolute(text, dirs)? {
                                        let path = normalise(&path);
                                        if let Some(place) =
                                            protected.code_config(&path, &last_components(&path))
                                        {
                                            return Err(Refusal::Touches {
                                                how: format!(
                                                    "copies `{name}` from `{}` into",
                                                    found.display()
                                                ),
                                                what: destination.raw.clone(),
                                                place,
                                            });
                                        }
                                    }
                                }
                                // What lands below it, when it is a directory: its files
                                // are named by no word either (second pass, H2: `cp -r
                                // ext/lib .venv/` holding `site-packages/x.pth`, `mv d new`
                                // holding `pkg/.envrc`).
                                let from = if contents { found.join(&name) } else { found.clone() };
                                if std::fs::symlink_metadata(&from).is_ok_and(|m| m.is_dir()) {
                                    for at in texts
                                        .iter()
                                        .map(|text| self.absolute(text, dirs))
                                        .collect::<Result<Vec<_>, _>>()?
                                        .into_iter()
                                        .flatten()
                                    {
                                        self.check_nested(
                                            &from,
                                            &normalise(&at),
                                            &destination.raw,
                                            protected,
                                        )?;
                                    }
                                }
                                let write =
                                    WriteWord { word: entry, dirs: dirs.to_vec(), unnamed: None };
                                self.check_write(&write, protected)?;
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Refuses a directory `source` landing at `landing` when a file beneath it lands as
    /// configuration that runs code (or in the repository's hooks directory). Past
    /// [`MAX_NESTED`] entries what lands is not looked at, and the copy is refused.
    fn check_nested<'p>(
        &self,
        source: &Path,
        landing: &Path,
        what: &str,
        protected: &'p Protected,
    ) -> Result<(), Refusal<'p>> {
        let mut stack = vec![(source.to_path_buf(), landing.to_path_buf())];
        let mut seen = 0usize;
        while let Some((dir, at)) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                seen += 1;
                if seen > MAX_NESTED {
                    return Err(Refusal::Unknown(format!(
                        "copies `{}`, a tree of more than {MAX_NESTED} entries, whose files \
                         aecl does not look at one by one",
                        source.display()
                    )));
                }
                let lands = at.join(entry.file_name());
                if let Some(place) = protected.code_config(&lands, &last_components(&lands)) {
                    return Err(Refusal::Touches {
                        how: format!("copies `{}` into", entry.path().display()),
                        what: what.to_owned(),
                        place,
                    });
                }
                // Links are copied as links (or refused by the core's link rules); only
                // real directories are entered.
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push((entry.path(), lands));
                }
            }
        }
        Ok(())
    }

    /// Refuses a copy of the contents of `source`, which does not exist when the line is
    /// read, over a `destination` beneath which aecl's own or hook settings are.
    fn check_unknown_contents<'p>(
        &self,
        source: &Path,
        destination: &ShellArg,
        dirs: &[Option<String>],
        protected: &'p Protected,
    ) -> Result<(), Refusal<'p>> {
        let texts = expand(destination, &self.setters(), self.pwd)
            .map_err(|e| Refusal::Unknown(format!("copies into {e}")))?;
        for text in texts {
            for dir in self.absolute(&text, dirs)? {
                let all = |_: &Path| true;
                let place = protected.reached_under(&dir).or_else(|| {
                    protected.settings_beneath(&dir, &all).into_iter().next().map(|(p, _)| p)
                });
                if let Some(place) = place {
                    return Err(Refusal::Touches {
                        how: format!(
                            "copies the contents of `{}`, which the line may fill first, over",
                            source.display()
                        ),
                        what: destination.raw.clone(),
                        place,
                    });
                }
            }
        }
        Ok(())
    }
}

/// Entries of a directory copied whole that are looked at, at most.
const MAX_NESTED: usize = 20_000;

/// The last three components of `path`, which say whether a file is configuration that
/// runs code (`.claude/skills/x`, `site-packages/x.pth`, `.cargo/config.toml`) without the
/// directories a project itself sits in.
fn last_components(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .rev()
        .take(3)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.into_iter().rev().collect::<Vec<_>>().join("/")
}

/// The names of the entries of the directory `dir` (none when it is no directory).
fn entry_names(dir: &Path) -> Result<Vec<String>, String> {
    /// Entries listed for one source at most.
    const MAX_ENTRIES: usize = 4_096;
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(Vec::new()) };
    let mut names = Vec::new();
    for entry in entries.flatten() {
        if names.len() == MAX_ENTRIES {
            return Err(format!("`{}`, a directory of too many entries", dir.display()));
        }
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    Ok(names)
}
