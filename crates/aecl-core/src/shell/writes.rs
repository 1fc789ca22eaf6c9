//! Where a command line writes: redirection targets and the paths programs write, checked
//! against the action's write paths after lexical normalisation, relative to every
//! directory the line may be in (the working directory and each `cd` target).
//!
//! A target only known at run time (`> $HOME/.bashrc`, `> ~/x`, `rm $F`) may be anywhere,
//! so it is not inside. Writes into configuration that makes an allowed program run code
//! (`.git/hooks`, `.git/config`, `.cargo/config.toml`, `.npmrc`, shell start-up files) are
//! reported as running code even inside the write paths. Symbolic links are not followed
//! here (the core does no I/O); `ln` is checked at both ends so a link out of the write
//! paths cannot be made on the line itself.

use super::{Analysis, ShellArg};

/// What is wrong with one write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum WriteProblem {
    /// The normalised path lies outside every write path.
    Outside(String),
    /// The path, or the directory it is relative to, is only known at run time.
    Unknown(String),
    /// The path is configuration that makes programs run code.
    Protected(String),
    /// `/dev/tcp/HOST/PORT` and `/dev/udp/...` open network connections.
    Network(String),
}

/// Targets that accept any write without effect on files.
const HARMLESS_TARGETS: [&str; 5] = ["/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "-"];

/// File names that make a program run code when written: version-control metadata,
/// package-manager and tool configuration read from the project or home directory, and
/// shell start-up files.
const PROTECTED_NAMES: [&str; 20] = [
    ".git",
    ".hg",
    ".envrc",
    ".npmrc",
    ".yarnrc",
    ".yarnrc.yml",
    ".pnpmfile.cjs",
    ".curlrc",
    ".wgetrc",
    ".gitconfig",
    ".gitmodules",
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".profile",
    ".zshrc",
    ".zshenv",
    ".zprofile",
    ".pythonrc",
    ".vscode",
];

/// The directories a line's relative paths may be relative to; `None` is a directory only
/// known at run time.
#[derive(Debug, Clone)]
pub(super) struct Directories(Vec<Option<String>>);

impl Directories {
    /// Starts in `working_dir` and adds the target of every `cd`, `pushd` and `popd` of
    /// the line. Each target is joined to every directory found so far: the set
    /// over-approximates wherever the line may be when it writes.
    pub(super) fn of(analysis: &Analysis, working_dir: Option<&str>) -> Directories {
        let mut dirs = vec![working_dir.map(normalise)];
        for command in &analysis.commands {
            if !matches!(command.program.as_str(), "cd" | "pushd" | "popd" | "chdir") {
                continue;
            }
            let target = command
                .words
                .iter()
                .find(|w| !(w.is_known() && w.text.starts_with('-') && w.text.len() > 1));
            let target = match (command.program.as_str(), target) {
                ("popd", _) | (_, None) => None,
                (_, Some(w)) if !w.is_known() || w.text == "-" || w.text.is_empty() => None,
                (_, Some(w)) => Some(w.text.clone()),
            };
            let mut added = Vec::new();
            for dir in &dirs {
                let next = match (&target, dir) {
                    (Some(t), _) if t.starts_with('/') => Some(normalise(t)),
                    (Some(t), Some(d)) => Some(normalise(&format!("{d}/{t}"))),
                    _ => None,
                };
                added.push(next);
            }
            for dir in added {
                if !dirs.contains(&dir) {
                    dirs.push(dir);
                }
            }
        }
        Directories(dirs)
    }

    /// The directories joined to `relative` by `-C DIR` (`git -C`, `tar -C`).
    pub(super) fn under(&self, dir: &ShellArg) -> Directories {
        if !dir.is_known() {
            return Directories(vec![None]);
        }
        Directories(
            self.0
                .iter()
                .map(|d| match d {
                    _ if dir.text.starts_with('/') => Some(normalise(&dir.text)),
                    Some(d) => Some(normalise(&format!("{d}/{}", dir.text))),
                    None => None,
                })
                .collect(),
        )
    }
}

/// Checks one written path against the write paths.
pub(super) fn check(
    target: &ShellArg,
    roots: &[String],
    dirs: &Directories,
) -> Option<WriteProblem> {
    let text = target.text.as_str();
    if target.is_known() && (HARMLESS_TARGETS.contains(&text) || is_fd_path(text)) {
        return None;
    }
    if text.starts_with("/dev/tcp/") || text.starts_with("/dev/udp/") {
        return Some(WriteProblem::Network(target.raw.clone()));
    }
    // `{}` is what `find -exec` and `xargs -I{}` put found paths in: any path.
    if target.tilde || target.expansion || text.contains("{}") {
        // An expansion may hold `/` and `..`: it can name any path.
        return Some(WriteProblem::Unknown(target.raw.clone()));
    }
    let known = if target.pattern {
        match confined_pattern(text) {
            Some(path) => path,
            None => return Some(WriteProblem::Unknown(target.raw.clone())),
        }
    } else {
        text.to_owned()
    };
    let mut absolutes = Vec::new();
    if known.starts_with('/') {
        absolutes.push(normalise(&known));
    } else {
        for dir in &dirs.0 {
            match dir {
                Some(d) => absolutes.push(normalise(&format!("{d}/{known}"))),
                None => {
                    return Some(WriteProblem::Unknown(format!(
                        "{} (relative to a directory only known at run time)",
                        target.raw
                    )));
                }
            }
        }
    }
    for path in &absolutes {
        if is_protected(path) {
            return Some(WriteProblem::Protected(path.clone()));
        }
        let inside = roots.iter().any(|root| {
            let root = normalise(root);
            root == "/" || *path == root || path.starts_with(&format!("{root}/"))
        });
        if !inside {
            return Some(WriteProblem::Outside(path.clone()));
        }
    }
    None
}

/// A glob stands for names in the directories it spells: each component with a glob
/// character becomes a placeholder name. A component that may match `.` or `..` (one
/// starting with `.` or a bracket) and brace expansion (which can spell any path) are
/// not confined.
fn confined_pattern(text: &str) -> Option<String> {
    if text.contains('{') {
        return None;
    }
    let mut parts = Vec::new();
    for component in text.split('/') {
        if component.contains(['*', '?', '[']) {
            if component.starts_with(['.', '[']) {
                return None;
            }
            parts.push("x");
        } else {
            parts.push(component);
        }
    }
    Some(parts.join("/"))
}

fn is_fd_path(text: &str) -> bool {
    text.strip_prefix("/dev/fd/")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether a normalised path is, or is inside, configuration that runs code.
fn is_protected(path: &str) -> bool {
    let components: Vec<&str> = path.split('/').collect();
    if components.iter().any(|c| PROTECTED_NAMES.contains(c)) {
        return true;
    }
    components.windows(2).any(|w| matches!(w, [".cargo", name] if name.starts_with("config")))
}

/// Lexical normalisation: `.`, `..` and repeated `/` resolved; `..` at the root stays at
/// the root, as the kernel does. Relative paths stay relative.
pub(super) fn normalise(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_owned()
    } else {
        joined
    }
}
