//! Other spellings of one operation, for the command patterns of a policy. A pattern names
//! an operation by its best-known spelling, and an agent kept from it reaches for the
//! next: a policy that asks a human before `git reset --hard` means "before uncommitted
//! work is thrown away", which `git checkout -f`, `git checkout -- .`, `git switch
//! --discard-changes`, `git restore .` and `git stash drop` do as well. Each such command
//! is matched as its canonical form too.

use super::SimpleCommand;

/// A canonical form: the flags and leading positional words a pattern of it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Canonical {
    pub flags: &'static [&'static str],
    pub args: &'static [&'static str],
}

/// `git reset --hard`: the work tree and index set to a commit, uncommitted changes lost.
const RESET_HARD: Canonical = Canonical { flags: &["hard"], args: &["reset"] };

/// git's subcommands that discard uncommitted work with some options or operands.
const DISCARDING: [&str; 12] = [
    "checkout",
    "switch",
    "restore",
    "stash",
    "read-tree",
    "checkout-index",
    "worktree",
    "reset",
    "rm",
    "reflog",
    "update-ref",
    "submodule",
];

/// What `command` may also be, and whether it surely is (`Some(true)`) or only may be,
/// for words only known at run time (`Some(false)`).
pub(super) fn of(command: &SimpleCommand) -> Option<(Canonical, bool)> {
    if command.program != "git" {
        return None;
    }
    let subcommand = command.args.first()?;
    if !DISCARDING.contains(&subcommand.as_str()) {
        return None;
    }
    if discards_work(command, subcommand) {
        return Some((RESET_HARD, true));
    }
    // An operand only known at run time may be `-f` or `.`.
    command.unknown_args.is_some_and(|at| at >= 1).then_some((RESET_HARD, false))
}

/// Whether the git `subcommand` throws uncommitted changes away.
fn discards_work(command: &SimpleCommand, subcommand: &str) -> bool {
    let flag = |name: &str| command.flags.iter().any(|f| f == name);
    let operands = command.args.get(1..).unwrap_or_default();
    match subcommand {
        // `-f` drops local changes; `--` (or a whole-tree pathspec, a pathspec file, or a
        // commit and paths: `git checkout HEAD f`) takes the named files back to the index
        // or a commit. `-b NAME START` makes a branch instead. One operand is a branch or
        // a commit unless it can only be a file (`git checkout src/main.rs`).
        "checkout" => {
            let paths = command.words.iter().any(|w| w.is_known() && w.text == "--");
            let branch = ["b", "B", "orphan"].iter().any(|b| flag(b));
            // The operands as git reads them: the flag normaliser takes `-m .` for a
            // message, as `commit` would have it (red team round 2).
            let written = checkout_operands(command);
            let operands: Vec<&str> = if written.is_empty() {
                operands.iter().map(String::as_str).collect()
            } else {
                written
            };
            // `-p` picks hunks to throw away; `--ours`/`--theirs` take only paths.
            flag("force")
                || flag("pathspec-from-file")
                || flag("patch")
                || command.words.iter().any(|w| w.is_known() && w.text == "-p")
                || ((flag("ours") || flag("theirs")) && !operands.is_empty())
                || (paths && !operands.is_empty())
                || operands.iter().any(|o| whole(o))
                || (!branch && operands.iter().any(|o| names_a_file(o)))
                || (!branch && operands.len() >= 2)
        }
        // `--discard-changes` (`-f`, `--force`).
        "switch" => flag("force") || flag("discard-changes"),
        // The work tree is restored unless only `--staged` is asked for.
        "restore" => !(flag("staged") || flag("S")) || flag("worktree") || flag("W"),
        "stash" => operands.first().is_some_and(|o| o == "drop" || o == "clear"),
        // `read-tree -u --reset` (or `-m`, in any order or cluster: `-mu`) and
        // `checkout-index -f` overwrite the work tree's files.
        "read-tree" => {
            let letters = |c: char| {
                command.words.iter().any(|w| {
                    w.text.strip_prefix('-').is_some_and(|l| !l.starts_with('-') && l.contains(c))
                })
            };
            letters('u') && (flag("reset") || letters('m'))
        }
        // `reset --merge` resets what was staged; `rm -f` deletes files with their changes.
        "reset" => flag("merge"),
        "rm" => flag("force"),
        // The stash's entries, deleted through its reflog or its ref.
        "reflog" => {
            operands.first().is_some_and(|o| o == "delete")
                && operands.iter().any(|o| o.starts_with("stash") || o.starts_with("refs/stash"))
        }
        "update-ref" => flag("delete") && operands.iter().any(|o| o == "refs/stash"),
        // `submodule update --force` and `deinit -f` throw a submodule's changes away.
        "submodule" => {
            operands.first().is_some_and(|o| o == "update" || o == "deinit") && flag("force")
        }
        "checkout-index" => flag("force"),
        // `worktree remove --force` deletes a work tree with its changes.
        "worktree" => operands.first().is_some_and(|o| o == "remove") && flag("force"),
        _ => false,
    }
}

/// A pathspec of the whole tree or of many files (`.`, `:/`, `*`).
fn whole(operand: &str) -> bool {
    matches!(operand, "." | "./" | "*") || operand.starts_with(':')
}

/// Whether a checkout's operand names files rather than a branch or a commit. What no
/// branch name can be (`git check-ref-format`: a part starting with `.`, a glob
/// character, a backslash or space, a name ending in `/` or `.`) is a pathspec; so is a
/// last part with a file's extension (`main.rs`, `config.yaml`), which a branch could
/// have but hardly does (a version's digits, `v1.2`, are not one). Revision syntax
/// (`HEAD~1`, `main^`, `@{-1}`) names a commit.
fn names_a_file(operand: &str) -> bool {
    if operand.is_empty() || operand.starts_with('-') {
        return false;
    }
    let last = operand.rsplit('/').next().unwrap_or(operand);
    let extension = last.rsplit_once('.').is_some_and(|(stem, extension)| {
        !stem.is_empty() && FILE_EXTENSIONS.contains(&extension.to_ascii_lowercase().as_str())
    });
    operand.starts_with('/')
        || operand.ends_with(['/', '.'])
        || operand.split('/').any(|part| part.starts_with('.'))
        || operand.contains(['*', '?', '[', '\\', ' '])
        || extension
        || FILE_NAMES.contains(&operand)
}

/// Extensions of source, configuration and document files: a last part ending in one is a
/// file (`main.rs`), while `1.x`, `v2.0` and `foo.bar` may be branches.
const FILE_EXTENSIONS: [&str; 72] = [
    "rs",
    "py",
    "pyi",
    "js",
    "mjs",
    "cjs",
    "ts",
    "tsx",
    "jsx",
    "json",
    "jsonc",
    "toml",
    "yaml",
    "yml",
    "md",
    "mdx",
    "rst",
    "txt",
    "c",
    "h",
    "cc",
    "cpp",
    "cxx",
    "hpp",
    "hh",
    "go",
    "mod",
    "sum",
    "java",
    "kt",
    "kts",
    "scala",
    "rb",
    "php",
    "cs",
    "fs",
    "swift",
    "m",
    "mm",
    "sh",
    "bash",
    "zsh",
    "ps1",
    "bat",
    "css",
    "scss",
    "sass",
    "less",
    "html",
    "htm",
    "xml",
    "svg",
    "sql",
    "lock",
    "cfg",
    "ini",
    "conf",
    "env",
    "gradle",
    "properties",
    "proto",
    "graphql",
    "vue",
    "svelte",
    "csv",
    "ipynb",
    "lua",
    "pl",
    "ex",
    "exs",
    "tf",
    "dart",
];

/// Files and directories that projects have under these names, which a branch rarely has:
/// `git checkout Makefile` and `git checkout src` throw their changes away.
const FILE_NAMES: [&str; 24] = [
    "Makefile",
    "makefile",
    "GNUmakefile",
    "Dockerfile",
    "Containerfile",
    "LICENSE",
    "COPYING",
    "README",
    "NOTICE",
    "AUTHORS",
    "CHANGELOG",
    "CODEOWNERS",
    "Gemfile",
    "Rakefile",
    "Procfile",
    "Jenkinsfile",
    "Vagrantfile",
    "src",
    "lib",
    "tests",
    "include",
    "scripts",
    "assets",
    "vendor",
];

/// The words after `checkout` that git reads as operands: not options, nor the branch
/// name `-b`, `-B` and `--orphan` take.
fn checkout_operands(command: &SimpleCommand) -> Vec<&str> {
    let mut out = Vec::new();
    let mut words = command.words.iter().skip_while(|w| w.text != "checkout").skip(1);
    while let Some(word) = words.next() {
        let text = word.text.as_str();
        if text == "--" {
            out.extend(words.by_ref().map(|w| w.text.as_str()));
        } else if matches!(text, "-b" | "-B" | "--orphan") {
            words.next();
        } else if !text.starts_with('-') {
            out.push(text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::analyse;
    use super::*;

    fn canonical(line: &str) -> Option<(Canonical, bool)> {
        of(analyse(line).unwrap().first().unwrap())
    }

    #[test]
    fn ways_of_throwing_work_away_are_reset_hard() {
        for line in [
            "git checkout -f",
            "git checkout --force main",
            "git checkout -- .",
            "git checkout HEAD -- src/a.rs",
            "git checkout .",
            "git switch --discard-changes main",
            "git switch -f main",
            "git restore .",
            "git restore --source HEAD~3 --staged --worktree src",
            "git stash drop",
            "git stash clear",
            "git read-tree -u --reset HEAD",
            "git checkout-index -f -a",
            "git worktree remove --force ../wt",
            "git checkout HEAD src/a.rs",
            "git checkout --pathspec-from-file=list",
            "git checkout :/src",
            "git checkout src/main.rs",
            "git checkout README.md",
            "git checkout .gitignore",
            "git checkout src/",
            "git checkout '*.rs'",
            "git checkout ../lib/a.c",
            // Red team round 2: `-m` read as a message's flag, patch mode, `--ours`, names
            // without an extension.
            "git checkout -m .",
            "git checkout -m src/a.rs",
            "git checkout -p",
            "git checkout --ours Makefile",
            "git checkout --theirs src",
            "git checkout Makefile",
            "git checkout --quiet Dockerfile",
            "git checkout src",
            "git read-tree -mu HEAD",
            "git reset --merge",
            "git rm -f src/a.rs",
            "git reflog delete stash@{0}",
            "git update-ref -d refs/stash",
            "git submodule update --force",
            "git submodule deinit -f lib",
        ] {
            assert_eq!(canonical(line), Some((RESET_HARD, true)), "{line}");
        }
        for line in [
            "git checkout main",
            "git checkout feature/login",
            "git checkout v1.2.3",
            "git checkout release-2.0",
            "git checkout HEAD~1",
            "git checkout @{-1}",
            "git checkout -",
            "git checkout 1.x",
            "git checkout stable-2.x",
            "git checkout renovate/lodash-4.x",
            "git checkout feature/foo.bar",
            "git checkout -m main",
            "git checkout -b fix/main.rs",
            "git checkout -b feature",
            "git switch main",
            "git restore --staged src/a.rs",
            "git restore -S src/a.rs",
            "git stash",
            "git stash pop",
            "git read-tree HEAD",
            "git worktree remove ../wt",
            "git checkout -b fix origin/main",
            "git rm --cached src/a.rs",
            "git reset --soft HEAD~1",
            "git submodule update --init",
            "git status",
        ] {
            assert_eq!(canonical(line), None, "{line}");
        }
        assert_eq!(canonical("git checkout $X"), Some((RESET_HARD, false)));
    }
}
