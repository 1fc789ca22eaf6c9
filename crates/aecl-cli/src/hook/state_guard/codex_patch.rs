//! The files a patch writes (Codex's `apply_patch`, `aecl_core::patch`): each checked as a
//! file tool's path is, and refused where it is a protected place, inside the state
//! directory, or configuration that makes programs run code, which no path rule of the
//! policy can see in a patch's text (red team round 25, hooks H2). A patch that does not
//! parse is refused: what Codex would write from it is not known.

use std::path::{Path, PathBuf};

use aecl_engine::fs_paths::{normalise, resolve_physical};

use super::protected::Protected;
use super::reach::Refusal;

/// Checks every patch among `texts` (the call's argument strings) from `cwd`.
pub fn check<'p>(texts: &[&str], cwd: &Path, protected: &'p Protected) -> Result<(), Refusal<'p>> {
    let home = std::env::var_os("HOME").map(PathBuf::from).filter(|h| h.is_absolute());
    for text in texts {
        let targets = match aecl_core::patch::targets(text) {
            None => continue,
            Some(Ok(targets)) => targets,
            Some(Err(why)) => {
                return Err(Refusal::Unknown(format!(
                    "applies a patch that does not parse ({why})"
                )));
            }
        };
        for target in targets {
            let written = match target.path.strip_prefix("~/") {
                Some(rest) => match &home {
                    Some(home) => home.join(rest),
                    None => {
                        let what =
                            format!("writes `{}`, a path only known at run time", target.path);
                        return Err(Refusal::Unknown(what));
                    }
                },
                None => cwd.join(target.path),
            };
            let lexical = normalise(&written);
            let physical =
                written.to_str().and_then(|w| resolve_physical(cwd, w).ok()).map(PathBuf::from);
            let what = target.path.to_owned();
            for path in std::iter::once(&lexical).chain(physical.iter()) {
                let place = protected.inside_state(path).or_else(|| protected.touched_by(path));
                if let Some(place) = place {
                    return Err(Refusal::Touches { how: "writes".to_owned(), what, place });
                }
                let below = [Some(cwd), home.as_deref()]
                    .into_iter()
                    .flatten()
                    .find_map(|base| path.strip_prefix(base).ok())
                    .unwrap_or(path)
                    .to_string_lossy()
                    .trim_start_matches('/')
                    .to_owned();
                if let Some(place) = protected.code_config(path, &below) {
                    return Err(Refusal::Touches { how: "writes".to_owned(), what, place });
                }
            }
        }
    }
    Ok(())
}
