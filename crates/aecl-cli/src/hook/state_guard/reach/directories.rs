//! The directories a line's commands may run in, as the read check follows them: the
//! agent's `cwd` and where each `cd` or `pushd` goes from those before it.

use std::path::PathBuf;

use aecl_core::shell::{Analysis, ShellArg};

use super::super::expand::expand;
use super::Line;

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
                let Ok(texts) = expand(word, self.text, self.pwd) else { continue };
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
}
