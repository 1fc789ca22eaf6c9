//! Where a command line writes: redirection targets and the paths programs write, checked
//! against the action's write paths after lexical normalisation, relative to every
//! directory the line may be in (the working directory and each `cd` target).
//!
//! A target only known at run time (`> $HOME/.bashrc`, `> ~/x`, `rm $F`) may be anywhere,
//! so it is not inside. Writes into configuration that makes an allowed program run code
//! (`.git/hooks`, `.git/config`, `.cargo/config.toml`, `.npmrc`, shell start-up files) are
//! reported as running code even inside the write paths. The core follows no symbolic
//! link itself (it does no I/O): an adapter that sees the filesystem resolves the targets
//! [`spelled_targets`] names, and a target is checked both as written and as resolved
//! (`resolved.rs`). `ln` is checked at both ends so a link out of the write paths cannot be
//! made on the line itself.

use super::{Analysis, ShellArg};
use crate::resolved::PathView;

/// What is wrong with one write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum WriteProblem {
    /// The normalised path lies outside every write path.
    Outside(String),
    /// The path as written is inside, but the adapter resolved it (through a symbolic
    /// link) outside every write path.
    OutsideResolved { spelled: String, resolved: String },
    /// The path, or the directory it is relative to, is only known at run time, or the
    /// adapter that saw the filesystem could not resolve it.
    Unknown(String),
    /// The path is configuration that makes programs run code.
    Protected(String),
    /// git works in `dir`, inside, but the repository it writes is `root`, above it and
    /// outside every write path.
    OutsideRepository { dir: String, root: String },
    /// An adapter saw the filesystem but did not say where that repository is.
    RepositoryUnknown(String),
    /// `/dev/tcp/HOST/PORT` and `/dev/udp/...` open network connections.
    Network(String),
}

/// Targets that accept any write without effect on files.
const HARMLESS_TARGETS: [&str; 5] = ["/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "-"];

/// File names that make a program run code when written: version-control metadata,
/// package-manager and tool configuration read from the project or home directory, and
/// shell start-up files.
const PROTECTED_NAMES: [&str; 135] = [
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
    // rustup runs the toolchain these name (`path = DIR` runs `DIR/bin/cargo`).
    "rust-toolchain",
    "rust-toolchain.toml",
    // mise runs the hooks and tasks of its configuration.
    "mise.toml",
    ".mise.toml",
    "mise.local.toml",
    ".mise.local.toml",
    ".mise",
    // Shell and tool start-up files beside those above (second pass, P4).
    ".zlogin",
    ".zlogout",
    ".bash_logout",
    ".hgrc",
    // husky's hooks run at the next `git commit`, with no executable bit needed (P3);
    // husky 4 reads them from `.huskyrc` (red team round 31, shell low).
    ".husky",
    ".huskyrc",
    ".huskyrc.json",
    ".huskyrc.js",
    // Jujutsu's repository configuration (aliases, `ui.pager`, `fix.tools`), and Emacs's
    // directory variables (`eval:` forms), read when a file beneath is opened.
    ".jj",
    ".dir-locals.el",
    ".dir-locals-2.el",
    // The HTTP clients' configuration: a proxy or a resolve override there sends every
    // request elsewhere, a loopback one too (second pass, P2-4).
    ".curlrc",
    "_curlrc",
    ".wgetrc",
    // Python runs these at every start of an interpreter whose path holds them (P3).
    "sitecustomize.py",
    "usercustomize.py",
    // The servers an agent starts (`command` of each MCP or language server), read at its
    // next start (red team round 23).
    ".mcp.json",
    ".lsp.json",
    ".claude-plugin",
    // Codex's project configuration: its MCP servers, hooks and sandbox settings.
    ".codex",
    // A dev container's `postCreateCommand` and features run when it is built or opened.
    ".devcontainer",
    // The git hook managers' configuration: their commands run at the next `git commit`
    // once installed, as husky's do.
    ".pre-commit-config.yaml",
    "lefthook.yml",
    "lefthook.yaml",
    ".lefthook.yml",
    ".lefthook.yaml",
    "lefthook-local.yml",
    ".lefthook-local.yml",
    // Clients' configuration that names a command they run: ssh's `ProxyCommand` and
    // `Match exec` (at the next `git fetch` over ssh), the AWS CLI's `credential_process`,
    // kubectl's credential plugins (`exec.command`).
    ".ssh",
    ".aws",
    ".kube",
    // Other agents' and editors' project configuration naming MCP servers or commands
    // they start (red team round 26, hooks M2): Amazon Q, Roo Code, Kiro, Junie, Continue,
    // Zed; a dev container's configuration at the project's root; Bazel's options
    // (`--run_under`, `build --workspace_status_command`); Neovim's and Vim's project
    // scripts, run when the editor opens the directory.
    ".amazonq",
    ".roo",
    ".kiro",
    ".junie",
    ".continue",
    ".zed",
    ".devcontainer.json",
    ".bazelrc",
    ".nvim.lua",
    ".exrc",
    ".lazy.lua",
    // More agents' configuration naming MCP servers, hooks or commands (red team round 27,
    // hooks K7): Qwen Code, opencode, Crush, aider, Kilo Code, Claude Code's user file;
    // overcommit's git hooks, bun's preloaded scripts, Maven's extensions and JVM options,
    // pdb's start-up commands.
    ".qwen",
    "opencode.json",
    "opencode.jsonc",
    ".opencode",
    "crush.json",
    ".crush.json",
    ".aider.conf.yml",
    ".kilocode",
    ".claude.json",
    ".overcommit.yml",
    "bunfig.toml",
    ".mvn",
    // Tools' configuration that makes an allowed program run a command (red team round
    // 29, hooks H5): less's `LESSOPEN` from its key file, uv's indexes, bun's user file,
    // conda's channels and plugins, gpg's helpers, distutils' build commands, gdb's and
    // R's start-up scripts, IPython's and Jupyter's start-up code.
    ".lesskey",
    "uv.toml",
    ".bunfig.toml",
    ".condarc",
    ".gnupg",
    ".pydistutils.cfg",
    ".gdbinit",
    ".rprofile",
    ".ipython",
    ".jupyter",
    // Their siblings (second pass, M2): less's compiled key file, gdb's early start-up
    // file, pylint's configuration (its `init-hook` runs code).
    ".less",
    ".gdbearlyinit",
    ".pylintrc",
    "pylintrc",
    ".pdbrc",
    // Editors', shells', REPLs' and debuggers' start-up files beside those above (red team
    // round 30, shell F4: `.vimrc` with `call system(…)` ran at `vim -c q`), the session
    // files a desktop login runs, tools' files naming a program they run (`.mailcap`,
    // terraform's provider overrides, nano's speller, ack's options, curl's and wget's
    // options), and more agents' MCP configuration (Windsurf, Codeium).
    ".vimrc",
    ".vim",
    ".gvimrc",
    ".emacs",
    ".emacs.d",
    ".tmux.conf",
    ".screenrc",
    ".psqlrc",
    ".sqliterc",
    ".lldbinit",
    ".ghci",
    ".irbrc",
    ".pryrc",
    ".nanorc",
    ".ackrc",
    ".tclshrc",
    ".wishrc",
    ".kshrc",
    ".cshrc",
    ".tcshrc",
    ".mkshrc",
    ".xprofile",
    ".xinitrc",
    ".xsession",
    ".xsessionrc",
    ".pam_environment",
    ".octaverc",
    ".renviron",
    ".terraformrc",
    "terraform.rc",
    ".mailcap",
    ".windsurf",
    ".codeium",
    ".direnvrc",
    "pip.ini",
    ".juliarc.jl",
    ".gemrc",
    ".curlrc",
    ".wgetrc",
];

/// Prefixes of file names that run code when written (each tool reads several spellings:
/// `.lintstagedrc.json`, `lint-staged.config.mjs`, `.commitlintrc.cjs`): the commands a
/// git hook manager runs at the next commit (red team round 27, hooks K7).
const PROTECTED_PREFIXES: [&str; 6] = [
    ".lintstagedrc",
    "lint-staged.config.",
    ".commitlintrc",
    "commitlint.config.",
    ".simple-git-hooks",
    "simple-git-hooks.",
];

/// Directories a line may be in, at most; past this, a further `cd` makes the directory
/// only known at run time. Each `cd` can double the set, so it must be bounded.
const MAX_DIRECTORIES: usize = 64;

/// One directory a line may be in: its lexical normal form, and the absolute string it was
/// spelled as (the working directory joined to each `cd` target, not normalised), which an
/// adapter resolves physically (`link/..` is the parent of the link's target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Dir {
    normal: String,
    spelled: String,
}

impl Dir {
    fn new(spelled: String) -> Dir {
        Dir { normal: normalise(&spelled), spelled }
    }

    /// `relative` joined to this directory (an absolute `relative` replaces it).
    fn join(&self, relative: &str) -> Dir {
        if relative.starts_with('/') {
            Dir::new(relative.to_owned())
        } else {
            Dir::new(format!("{}/{relative}", self.spelled.trim_end_matches('/')))
        }
    }
}

/// The directories a line's relative paths may be relative to; `None` is a directory only
/// known at run time.
#[derive(Debug, Clone)]
pub(super) struct Directories(Vec<Option<Dir>>);

impl Directories {
    /// Starts in `working_dir` and adds the target of every `cd`, `pushd` and `popd` of
    /// the line. Each target is joined to every directory found so far: the set
    /// over-approximates wherever the line may be when it writes.
    pub(super) fn of(analysis: &Analysis, working_dir: Option<&str>) -> Directories {
        let mut dirs = vec![working_dir.map(|d| Dir::new(d.to_owned()))];
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
                    (Some(t), Some(d)) => Some(d.join(t)),
                    (Some(t), None) if t.starts_with('/') => Some(Dir::new(t.clone())),
                    _ => None,
                };
                added.push(next);
            }
            for dir in added {
                if dirs.len() >= MAX_DIRECTORIES {
                    if !dirs.contains(&None) {
                        dirs.push(None);
                    }
                    break;
                }
                if !dirs.contains(&dir) {
                    dirs.push(dir);
                }
            }
        }
        Directories(dirs)
    }

    /// Each directory as spelled (`None`: only known at run time).
    pub(super) fn spelled(&self) -> Vec<Option<String>> {
        self.0.iter().map(|d| d.as_ref().map(|d| d.spelled.clone())).collect()
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
                    _ if dir.text.starts_with('/') => Some(Dir::new(dir.text.clone())),
                    Some(d) => Some(d.join(&dir.text)),
                    None => None,
                })
                .collect(),
        )
    }
}

/// Where a write target is, as far as the line tells before it runs.
enum Located {
    /// Writes nothing that matters (`/dev/null`, a descriptor).
    Harmless,
    /// Each directory the line may be in gives one `(normal, spelled)` pair.
    At(Vec<(String, String)>),
    Problem(WriteProblem),
}

fn locate(target: &ShellArg, dirs: &Directories) -> Located {
    let text = target.text.as_str();
    if target.is_known() && (HARMLESS_TARGETS.contains(&text) || is_fd_path(text)) {
        return Located::Harmless;
    }
    if text.starts_with("/dev/tcp/") || text.starts_with("/dev/udp/") {
        return Located::Problem(WriteProblem::Network(target.raw.clone()));
    }
    // `{}` is what `find -exec` and `xargs -I{}` put found paths in: any path.
    if target.tilde || target.expansion || text.contains("{}") {
        // An expansion may hold `/` and `..`: it can name any path.
        return Located::Problem(WriteProblem::Unknown(target.raw.clone()));
    }
    let known = if target.pattern {
        match confined_pattern(text) {
            Some(path) => path,
            None => return Located::Problem(WriteProblem::Unknown(target.raw.clone())),
        }
    } else {
        text.to_owned()
    };
    if known.starts_with('/') {
        return Located::At(vec![(normalise(&known), known)]);
    }
    let mut out = Vec::new();
    for dir in &dirs.0 {
        match dir {
            Some(d) => {
                let joined = d.join(&known);
                out.push((joined.normal, joined.spelled));
            }
            None => {
                return Located::Problem(WriteProblem::Unknown(format!(
                    "{} (relative to a directory only known at run time)",
                    target.raw
                )));
            }
        }
    }
    Located::At(out)
}

/// The normal absolute paths `target` may be (one per directory the line may be in);
/// `None` when it is only known at run time. A harmless target (`/dev/null`) is none.
pub(super) fn normals(target: &ShellArg, dirs: &Directories) -> Option<Vec<String>> {
    match locate(target, dirs) {
        Located::At(paths) => Some(paths.into_iter().map(|(normal, _)| normal).collect()),
        Located::Harmless => Some(Vec::new()),
        Located::Problem(_) => None,
    }
}

/// Whether the normal path `path` is `place` or under it.
pub(super) fn within(path: &str, place: &str) -> bool {
    place == "/" || path == place || path.starts_with(&format!("{place}/"))
}

/// The absolute strings an adapter should resolve for `target`: one per directory the
/// line may be in, as spelled (see [`Dir`]). Targets that need no resolution (harmless,
/// or already refused lexically) give none.
pub(super) fn spelled_targets(target: &ShellArg, dirs: &Directories) -> Vec<String> {
    match locate(target, dirs) {
        Located::At(paths) => paths.into_iter().map(|(_, spelled)| spelled).collect(),
        Located::Harmless | Located::Problem(_) => Vec::new(),
    }
}

/// Checks one written path against the write paths: as written (lexically), and, when an
/// adapter saw the filesystem, as it resolves there (through symbolic links).
pub(super) fn check(
    target: &ShellArg,
    roots: &[String],
    dirs: &Directories,
    view: &PathView,
) -> Option<WriteProblem> {
    let located = match locate(target, dirs) {
        Located::Harmless => return None,
        // A target only known at run time that ends in configuration running code
        // whatever its start is (`~/.bashrc`, `$HOME/.gitconfig`, `$PWD/.git/hooks/x`: red
        // team round 30, shell F3) is that, not only a path the line computes.
        Located::Problem(WriteProblem::Unknown(_))
            if (target.tilde || target.expansion)
                && is_protected(&target.raw.replace(['"', '\''], "")) =>
        {
            return Some(WriteProblem::Protected(target.raw.clone()));
        }
        Located::Problem(problem) => return Some(problem),
        Located::At(located) => located,
    };
    let lexical_roots: Vec<String> = roots.iter().map(|r| normalise(r)).collect();
    for (path, _) in &located {
        if is_protected(path) {
            return Some(WriteProblem::Protected(path.clone()));
        }
        if !inside(&lexical_roots, path) {
            return Some(WriteProblem::Outside(path.clone()));
        }
    }
    // Inside as written; where it really lands must be too.
    let physical_roots = physical_roots(roots, view);
    for (_, spelled) in &located {
        let resolved = match view.lookup(spelled) {
            Ok(None) => continue,
            Ok(Some(resolved)) if resolved.starts_with('/') => normalise(resolved),
            Ok(Some(resolved)) => {
                return Some(WriteProblem::Unknown(format!(
                    "{} (resolved to `{resolved}`, not an absolute path)",
                    target.raw
                )));
            }
            Err(reason) => {
                return Some(WriteProblem::Unknown(format!("{} ({reason})", target.raw)));
            }
        };
        if is_protected(&resolved) {
            return Some(WriteProblem::Protected(resolved));
        }
        if !inside(&physical_roots, &resolved) {
            return Some(WriteProblem::OutsideResolved { spelled: spelled.clone(), resolved });
        }
    }
    None
}

/// The write paths, lexically normal, and those that are themselves links by their
/// resolution as well (a resolved path holds no links).
fn physical_roots(roots: &[String], view: &PathView) -> Vec<String> {
    let mut out: Vec<String> = roots.iter().map(|r| normalise(r)).collect();
    for root in roots {
        if let Ok(Some(resolved)) = view.lookup(root) {
            out.push(normalise(resolved));
        }
    }
    out
}

/// The repository keys an adapter should resolve for a git command working in the
/// directory `target` names ([`PathView::repository_key`]).
pub(super) fn repository_keys(target: &ShellArg, dirs: &Directories) -> Vec<String> {
    spelled_targets(target, dirs).iter().map(|dir| PathView::repository_key(dir)).collect()
}

/// Checks the repository a git command working in `target` writes, where an adapter saw
/// the filesystem: git finds it from that directory upwards, so a write path below a
/// repository's root does not hold its history, nor the branch a checkout switches. Run
/// after [`check`] found the directory itself inside.
pub(super) fn check_repository(
    target: &ShellArg,
    roots: &[String],
    dirs: &Directories,
    view: &PathView,
) -> Option<WriteProblem> {
    let Located::At(located) = locate(target, dirs) else { return None };
    let physical_roots = physical_roots(roots, view);
    for (_, spelled) in &located {
        let root = match view.repository(spelled) {
            Ok(None) => continue,
            Ok(Some(root)) if root.starts_with('/') => normalise(root),
            Ok(Some(root)) => {
                return Some(WriteProblem::RepositoryUnknown(format!(
                    "the repository of `{spelled}` was found at `{root}`, not an absolute path"
                )));
            }
            Err(reason) => return Some(WriteProblem::RepositoryUnknown(reason)),
        };
        if is_protected(&root) {
            return Some(WriteProblem::Protected(root));
        }
        if !inside(&physical_roots, &root) {
            return Some(WriteProblem::OutsideRepository { dir: normalise(spelled), root });
        }
    }
    None
}

fn inside(roots: &[String], path: &str) -> bool {
    roots.iter().any(|root| root == "/" || path == root || path.starts_with(&format!("{root}/")))
}

/// A glob stands for names in the directories it spells: its last component, with a glob
/// character, becomes a placeholder file name. Not confined: a glob in a directory
/// component or followed by `/` (it may match a link to a directory anywhere, which no
/// adapter resolved: `cp a.txt outl*/`), a component that may match `.` or `..` (one
/// starting with `.` or a bracket), and brace expansion (which can spell any path).
fn confined_pattern(text: &str) -> Option<String> {
    if text.contains('{') {
        return None;
    }
    let components: Vec<&str> = text.split('/').collect();
    let last = components.len().saturating_sub(1);
    let mut parts = Vec::new();
    for (i, component) in components.into_iter().enumerate() {
        if component.contains(['*', '?', '[']) {
            if component.starts_with(['.', '[']) || i != last {
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

/// Whether a normalised path is, or is inside, configuration that runs code. Compared
/// without case: on a file system that ignores it (macOS, Windows) `.GIT/config` is git's
/// (second pass, P1).
pub fn is_protected(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let components: Vec<&str> = lower.split('/').collect();
    // The names are lower case.
    if components.iter().any(|c| PROTECTED_NAMES.contains(c)) {
        return true;
    }
    if components.last().is_some_and(|name| PROTECTED_PREFIXES.iter().any(|p| name.starts_with(p)))
    {
        return true;
    }
    // git takes any directory holding `HEAD`, `objects/` and `refs/` for a repository and
    // honours its `config` (`core.worktree`, `core.fsmonitor`) whatever it is called (red
    // team round 20, F07: `git -C /tmp/g status` after writing `/tmp/g/HEAD` and
    // `/tmp/g/config`). `HEAD` is the file it cannot do without.
    if components.last() == Some(&"head") {
        return true;
    }
    // The agents' folders themselves, made or replaced whole (`cp -r /tmp/x/.claude .`):
    // what they hold is only known at run time, and some of it runs code.
    if components.last().is_some_and(|name| matches!(*name, ".claude" | ".gemini" | ".cursor")) {
        return true;
    }
    // So are the directories whose files run code that a write names as a whole, or fills
    // with names the line does not show (`mv cfgdir .cargo`, `cp d/* .venv/lib/python3.12/
    // site-packages/`: red team round 24, hooks E3): cargo's `config.toml`, a `.pth` file.
    if components.last().is_some_and(|name| matches!(*name, ".cargo" | "site-packages")) {
        return true;
    }
    // A `.pth` file in a `site-packages` directory is run by every interpreter of it.
    if components.last().is_some_and(|name| name.ends_with(".pth"))
        && components.contains(&"site-packages")
    {
        return true;
    }
    components.windows(2).any(|w| match w {
        // cargo reads `config` and `config.toml` only (not `config.toml.example`).
        [".cargo", name] => matches!(*name, "config" | "config.toml"),
        // mise's, fish's, git's and direnv's configuration under `~/.config` (P2, P4).
        [".config", tool] => matches!(
            *tool,
            "mise"
                | "fish"
                | "git"
                | "direnv"
                | "lesskey"
                | "go"
                | "gh"
                | "uv"
                | "pnpm"
                | "gdb"
                | "nvim"
                | "vim"
                | "emacs"
                | "tmux"
                | "nano"
                | "systemd"
                | "autostart"
                | "environment.d"
                | "starship.toml"
                | "zed"
                | "code"
                | "cursor"
                | "psql"
                | "ipython"
                | "jupyter"
                | "pip"
                | "helix"
                | "kitty"
                | "alacritty"
                | "wezterm"
        ),
        // Julia's start-up file.
        [".julia", "config"] => true,
        // docker's credential helpers (`credsStore`), Maven's settings (round 29, H5).
        [".docker", "config.json"] | [".m2", "settings.xml"] => true,
        // docker's CLI plugins and gh's extensions are programs they run by name (second
        // pass, M2).
        [".docker", "cli-plugins"] | ["gh", "extensions"] => true,
        ["mise", "config.toml"] => true,
        // Claude Code's settings (hooks) and what carries hooks in its front matter
        // (skills, subagents, commands) or runs beside it (plugins).
        [".claude", name] => {
            (name.starts_with("settings") && name.ends_with(".json"))
                || matches!(*name, "skills" | "agents" | "commands" | "hooks" | "plugins")
        }
        // Gemini CLI's settings (hooks, MCP servers) and commands (`!{...}` runs a shell).
        [".gemini", name] => matches!(*name, "settings.json" | "commands" | "extensions"),
        // Cursor's MCP servers, hooks and environment's install commands.
        [".cursor", name] => matches!(*name, "mcp.json" | "hooks.json" | "environment.json"),
        // A virtual environment's pip configuration (its index: the code pip installs)
        // and the activation scripts a shell sources (red team round 26, hooks M2).
        [_, "pip.conf"] => true,
        ["bin", name] => name.starts_with("activate"),
        // Gradle's init scripts and user properties (`org.gradle.jvmargs=-javaagent:...`).
        [".gradle", name] => {
            matches!(*name, "init.d" | "init.gradle" | "init.gradle.kts" | "gradle.properties")
        }
        _ => false,
    })
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
