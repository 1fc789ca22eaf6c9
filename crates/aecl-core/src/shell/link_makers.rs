//! Commands that may make symbolic links, and where: a write elsewhere on the same line
//! that passes through such a place is checked against a filesystem the line changes.
//!
//! The adapter that resolves write targets (`ShellRules::targets`) sees the filesystem
//! before the line runs. `ln` is judged by both of its ends, but a link also appears when
//! `cp -P /proc/self/root r` copies one, `mv outlink r` renames one, `tar -x` or `unzip`
//! extracts one from an archive, or `git checkout` writes one the repository holds. After
//! that, `echo x > r/tmp/f` lands wherever the link points, though `r` did not exist (or
//! was a plain directory) when the target was resolved. So every write of the line under a
//! place where another of its commands may make a link is refused: where it lands is only
//! known when the line runs.

use super::finding::Finding;
use super::git::work_tree::{self, WorkTree};
use super::writes::{self, Directories};
use super::{ShellArg, SimpleCommand};

/// Whether `command` writes anywhere under the directory it works in, whatever its
/// arguments name: an extraction, a patch, a checkout or clean of git's work tree.
pub(super) fn writes_tree(command: &SimpleCommand) -> bool {
    if command.program == "git" {
        return matches!(work_tree::of_words(&command.words), WorkTree::Writes | WorkTree::Removes);
    }
    makes_links(command) == Some(Makes::UnderTheWorkingDirectory)
}

/// `ln -s TARGET... LINK`: a relative target is read from the link's directory, not from
/// the working directory: `ln -s ../../x sub/l` points at `sub/../../x`, the working
/// directory's parent's `x`, not its grandparent's. So each relative target is also a
/// write joined to the directories the link may be in: `LINK`'s parent, and `LINK` itself
/// in case it is an existing directory (or the `-t` directory). The target as written,
/// from the working directory, stays a write too (what `ln -r` and a hard link read).
pub(super) fn symlink_targets(
    options: &[&str],
    directory: Option<&ShellArg>,
    positionals: &[ShellArg],
    unknown_option: bool,
) -> Vec<ShellArg> {
    // `--sym`, `--symb`...: GNU getopt takes any unambiguous prefix.
    let symbolic = unknown_option
        || options.iter().any(|n| *n == "-s" || super::scan::abbreviates(n, "--symbolic"));
    if !symbolic {
        return Vec::new();
    }
    let (targets, bases): (&[ShellArg], Vec<ShellArg>) = match (directory, positionals.split_last())
    {
        (Some(dir), _) => (positionals, vec![dir.clone()]),
        (None, Some((link, targets))) if !targets.is_empty() => {
            let parent = link.text.trim_end_matches('/').rsplit_once('/').map_or(".", |(p, _)| p);
            let parent = if link.text.starts_with('/') && parent.is_empty() { "/" } else { parent };
            let parent =
                ShellArg { text: parent.to_owned(), raw: parent.to_owned(), ..link.clone() };
            (targets, vec![parent, link.clone()])
        }
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    for target in targets.iter().filter(|t| !t.tilde && !t.text.starts_with('/')) {
        for base in &bases {
            out.push(if base.is_known() && target.is_known() {
                ShellArg::known(&format!("{}/{}", base.text.trim_end_matches('/'), target.text))
            } else {
                // Somewhere only known at run time, said as written.
                ShellArg {
                    text: String::new(),
                    raw: format!("{}/{}", base.raw, target.raw),
                    expansion: true,
                    ..ShellArg::default()
                }
            });
        }
    }
    out
}

/// Whether `word`, an operand of `ln` as written, is a relative target of a symbolic link
/// made without `-r`: the link reads it from its own directory (where [`symlink_targets`]
/// writes it), so from the working directory it names no place the command writes
/// (`ln -s ../src tests/src` points at the project's `src`). The link itself (the last
/// operand without `-t`, the only one with a single operand), `-r`, and unknown options keep
/// it as written.
pub(super) fn target_read_from_link(
    options: &[&str],
    directory: Option<&ShellArg>,
    positionals: &[ShellArg],
    unknown_option: bool,
    word: &ShellArg,
) -> bool {
    let has = |short: &str, long: &str| {
        options.iter().any(|n| *n == short || super::scan::abbreviates(n, long))
    };
    let link = if directory.is_some() { None } else { positionals.last() };
    has("-s", "--symbolic")
        && !has("-r", "--relative")
        && !unknown_option
        && word.is_known()
        && !word.tilde
        && !word.pattern
        && !word.text.starts_with('/')
        && link.is_none_or(|link| !std::ptr::eq(link, word))
}

/// How a command may make links: at the places it writes, or anywhere under the
/// directories the line may be in (an archive's or a repository's paths).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Makes {
    AtItsTargets,
    UnderTheWorkingDirectory,
}

fn makes_links(command: &SimpleCommand) -> Option<Makes> {
    let words = || command.words.iter().filter(|w| w.is_known()).map(|w| w.text.as_str());
    let short = |letters: &str| {
        words().any(|w| {
            w.starts_with('-')
                && !w.starts_with("--")
                && w.chars().skip(1).any(|c| letters.contains(c))
        })
    };
    let long = |names: &[&str]| {
        words().any(|w| names.iter().any(|n| w == *n || w.starts_with(&format!("{n}="))))
    };
    match command.program.as_str() {
        "ln" | "link" | "mv" | "rsync" => Some(Makes::AtItsTargets),
        // `cp -r`, `-R`, `-a`, `-d` and `-P` copy a link as a link.
        "cp" if short("rRadP")
            || long(&["--recursive", "--archive", "--no-dereference", "--preserve"]) =>
        {
            Some(Makes::AtItsTargets)
        }
        "tar" | "gtar" | "bsdtar" => {
            let first = words().next().unwrap_or_default();
            let old_style = !first.starts_with('-') && first.contains('x');
            (old_style || short("x") || long(&["--extract", "--get"]))
                .then_some(Makes::UnderTheWorkingDirectory)
        }
        // A git-style patch can add a link (`new file mode 120000`).
        "unzip" | "cpio" | "bsdcpio" | "patch" => Some(Makes::UnderTheWorkingDirectory),
        // 7-Zip extracts with `x` and `e` (a mode only known at run time may be either);
        // `a`, `u`, `d`, `l` and `t` make no link.
        "7z" | "7za" => {
            let mode = command.words.iter().find(|w| !(w.is_known() && w.text.starts_with('-')));
            mode.is_none_or(|m| !m.is_known() || matches!(m.text.as_str(), "x" | "e"))
                .then_some(Makes::UnderTheWorkingDirectory)
        }
        "git" => (work_tree::of_words(&command.words) == WorkTree::Writes)
            .then_some(Makes::UnderTheWorkingDirectory),
        _ => None,
    }
}

/// A place where a command may make links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Place {
    /// A normal absolute path; `"/"` when the place is only known at run time.
    pub path: String,
    /// Links only below `path`, never `path` itself: the directory a git command works in,
    /// which its checkout fills but does not replace.
    pub below: bool,
}

/// For each command of a line, the places under which it may make links.
pub(super) fn places(
    commands: &[SimpleCommand],
    findings: &[Vec<Finding>],
    dirs: &Directories,
) -> Vec<Vec<Place>> {
    commands
        .iter()
        .zip(findings)
        .map(|(command, found)| {
            let Some(makes) = makes_links(command) else { return Vec::new() };
            let git = command.program == "git";
            // git makes the links its repository holds below the paths it writes (a
            // clone's or a new work tree's directory), never at them; `git mv` renames
            // a link to the path it names.
            let git_below = git && !work_tree::moves(&command.words);
            let mut out = Vec::new();
            let mut add = |target: &ShellArg, dirs: &Directories, below: bool| {
                let paths = writes::normals(target, dirs).unwrap_or_else(|| vec!["/".to_owned()]);
                // A place only known at run time may be anything.
                out.extend(
                    paths.into_iter().map(|path| Place { below: below && path != "/", path }),
                );
            };
            for finding in found {
                if let Some((target, dirs)) = finding.write_target(dirs) {
                    add(&target, &dirs, git_below || matches!(finding, Finding::WorkTree(_)));
                }
            }
            // A git command's work tree finding already names its directory (`-C DIR`
            // when given, not the line's).
            let named = git && found.iter().any(|f| matches!(f, Finding::WorkTree(_)));
            if makes == Makes::UnderTheWorkingDirectory && !named {
                add(&ShellArg::known("."), dirs, git);
            }
            out
        })
        .collect()
}
