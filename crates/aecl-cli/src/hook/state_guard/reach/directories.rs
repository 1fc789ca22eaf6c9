//! The directories a line's commands may run in, as the read check follows them: the
//! agent's `cwd` and where each `cd` or `pushd` goes from those before it.

use std::path::PathBuf;

use aecl_core::shell::{Analysis, ShellArg};

use super::super::expand::expand;
use super::Line;
use super::unknown_reads::substituted;

impl Line<'_> {
    /// The directories the line's commands may run in: the agent's `cwd` and where each
    /// `cd` or `pushd` of the line goes from those before it (bounded); a `cd` with no
    /// directory goes home.
    pub fn cd_targets(&self, analysis: &Analysis) -> Vec<PathBuf> {
        const MAX_DIRS: usize = 32;
        let mut dirs = vec![self.cwd.to_owned()];
        let cds = analysis.commands.iter().filter(|c| matches!(c.program.as_str(), "cd" | "pushd"));
        for cd in cds {
            let mut targets: Vec<&ShellArg> =
                cd.words.iter().filter(|w| !w.text.starts_with('-')).collect();
            let home = ShellArg { tilde: true, ..ShellArg::known("~") };
            if targets.is_empty() && cd.program == "cd" {
                targets.push(&home);
            }
            for word in targets {
                if word.raw.trim_matches('"') == "$(git rev-parse --show-toplevel)" {
                    let top = super::repository::work_tree_top(self.cwd);
                    if let Some(top) = top.filter(|t| dirs.len() < MAX_DIRS && !dirs.contains(t)) {
                        dirs.push(top);
                    }
                    continue;
                }
                // With the line's own values and defaults (`X=/d; cd $X`, `cd ${X:-..}`).
                let texts = expand(word, &self.setters(), self.pwd).or_else(|e| {
                    let candidates = substituted(word, &analysis.assignments);
                    let read: Vec<Vec<String>> = candidates
                        .iter()
                        .filter_map(|c| expand(c, &self.setters(), self.pwd).ok())
                        .collect();
                    if read.is_empty() { Err(e) } else { Ok(read.concat()) }
                });
                let Ok(texts) = texts else { continue };
                let mut added = Vec::new();
                for text in &texts {
                    if text.starts_with('/') {
                        added.push(PathBuf::from(text));
                    } else {
                        added.extend(dirs.iter().map(|dir| dir.join(text)));
                    }
                }
                for dir in added {
                    if dirs.len() < MAX_DIRS && !dirs.contains(&dir) {
                        dirs.push(dir);
                    }
                }
            }
        }
        dirs
    }

    /// The first `cd` (or `pushd`) of the line whose directory is only known at run time,
    /// even with the line's own values (`cd "$(cat f)"`, `cd ${PWD%/*}`): relative reads
    /// after it may be anywhere. `$(git rev-parse --show-toplevel)` is the work tree the
    /// agent is in, which the other directories hold.
    pub fn unknown_cd(&self, analysis: &Analysis) -> Option<String> {
        let cds = analysis.commands.iter().filter(|c| matches!(c.program.as_str(), "cd" | "pushd"));
        for cd in cds {
            for word in cd.words.iter().filter(|w| !w.text.starts_with('-')) {
                let raw = word.raw.trim_matches('"');
                if raw == "$(git rev-parse --show-toplevel)" {
                    continue;
                }
                if expand(word, &self.setters(), self.pwd).is_ok() {
                    continue;
                }
                let candidates = substituted(word, &analysis.assignments);
                let all_read = !candidates.is_empty()
                    && candidates.iter().all(|c| expand(c, &self.setters(), self.pwd).is_ok());
                if !all_read {
                    return Some(word.raw.clone());
                }
            }
        }
        None
    }
}
