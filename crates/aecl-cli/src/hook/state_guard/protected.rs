//! What the local hook keeps out of the agent's reach, and when a path touches it:
//!
//! - aecl's own files, as trees: the state directory (the sessions' history and the
//!   policy cache) and the `--policy` directory. A write touches one when it is the
//!   directory, inside it, or a directory holding it (`rm -rf ~`, `cp -r x/policy /proj/`).
//! - The agents' hook settings, as files: each file of `install::Target::hook_files` in
//!   each agent's folder (`.claude/settings.json`, `.codex/hooks.json`, ...) under the
//!   project (`cwd` and its parents, `$CLAUDE_PROJECT_DIR`) and the home directory
//!   (`$CLAUDE_CONFIG_DIR`, `$CODEX_HOME`), the same names anywhere, and the managed
//!   settings directories. A write touches one when it is the file or its folder
//!   (`rm -rf .claude`), not a directory above the folder: the project's own directory
//!   is written by every ordinary command. A command that reaches every file beneath a
//!   directory (`rm -rf .`, `git clean`) is `reach::trees`'.
//! - aecl's own program, the one the settings run (`current_exe`, and `argv[0]` as `PATH`
//!   finds it): touched when a write is the file; `reach::trees` for the directories
//!   holding it.
//!
//! Paths are compared lexically normalised and as resolved through links; a file written
//! is also compared by its identity (device and inode) with the settings files and the
//! program, so that a hard link made earlier, under another name, is the file it links.
//! A write whose path is the start of a settings file's or the program's path, ending
//! inside one of its names, touches it too: programs make names from two words (`cp -b -S
//! on x .claude/settings.js` moves the target to `settings.json`; `sed -iN`, `csplit -f`,
//! `split`, `gzip -S`, `patch -B` alike), and a suffix may hold a `/` (`csplit -f .cl -b
//! 'aude/settings.json%.0d'`, `mv -b -S ude x .cla` making `.claude`), which no word alone
//! shows.

use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use aecl_engine::fs_paths::normalise;
use aecl_engine::fs_paths::resolve_physical;

use crate::hook::install::Target;

use super::globstar;

/// Entries of the state, policy or a managed settings directory listed to compare with
/// a `**` pattern; past it the pattern is taken to match.
const MAX_TREE_ENTRIES: usize = 4096;

/// The places the guard protects.
pub struct Protected {
    /// The state directory, first, then the others.
    places: Vec<Place>,
    state: usize,
    /// The device and inode of each settings file and program that exists, with its
    /// place's index, for the files among them that have other names (hard links).
    linked: Vec<((u64, u64), usize)>,
}

/// One protected place.
pub struct Place {
    kind: Kind,
    /// The path the reason names.
    shown: PathBuf,
    /// Its path lexically normalised, and resolved through links.
    paths: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The hook's state directory: also refused when merely named or read.
    State,
    /// The `--policy` directory.
    Policy,
    /// A settings file: itself and its folder.
    SettingsFile,
    /// A managed settings directory: itself and everything in it.
    SettingsDir,
    /// Any agent's hook settings by name, wherever they are (`x/.claude/settings.json`):
    /// `paths` is empty.
    SettingsNames,
    /// The hook's `PATH`, in order: a file written into one of its directories under the
    /// name of a program a later one holds is found first, and runs in its place (an
    /// activated `.venv/bin/git`: red team round 20, second pass, hooks N2).
    PathOrder,
    /// The program the settings run: this executable, as the kernel and `PATH` name it.
    Program,
    /// A hooks directory git's configuration names (`core.hooksPath`): a file written
    /// there is a hook git runs.
    GitHooks,
    /// A file git's configuration includes (`include.path`), outside `.git` and the
    /// user's own configuration files: itself and its folder, as a settings file.
    GitConfig,
    /// The git the hook runs to read the work tree's state (`git_state.rs`), and the
    /// system directories' places before it.
    HookGit,
    /// Configuration that makes programs run code (`.mcp.json`, `.envrc`, `.vscode/`, the
    /// core's `is_code_config`), by name: `paths` is empty. Named writes of it are the
    /// shell rules' (`runs_code`); this place stands for what a write brings in that no
    /// word names: files a git tree writer takes from the index or a revision, and the
    /// entries of a directory whose contents are copied.
    CodeConfig,
}

impl Place {
    /// Its path lexically normalised, and resolved through links.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }
    /// The place as a reason names it.
    pub fn name(&self) -> String {
        let shown = self.shown.display();
        match self.kind {
            Kind::State => format!("aecl's hook state directory `{shown}`"),
            Kind::Policy => format!("aecl's policy directory `{shown}`"),
            Kind::SettingsFile | Kind::SettingsDir => format!("the agent hook settings `{shown}`"),
            Kind::Program => format!("aecl's own program `{shown}`"),
            Kind::HookGit => format!("the git aecl's hook runs, `{shown}`"),
            Kind::GitHooks => format!("the repository's hooks directory `{shown}`"),
            Kind::GitConfig => format!("the git configuration `{shown}`"),
            Kind::SettingsNames => {
                "an agent's hook settings (`.claude/settings.json`, `.codex/hooks.json`, \
                 `.gemini/settings.json`, ...)"
                    .to_owned()
            }
            Kind::PathOrder => "a program `PATH` finds after another of its directories".to_owned(),
            Kind::CodeConfig => "configuration that makes programs run code (`.mcp.json`, \
                                  `.envrc`, `.vscode/`, `.cargo/config.toml`, ...)"
                .to_owned(),
        }
    }

    /// Why no call may touch it, as a reason says it.
    pub fn why(&self) -> &'static str {
        match self.kind {
            Kind::State => {
                "which keeps this session's history: no tool call may touch it or a directory \
                 holding it"
            }
            Kind::Policy => {
                "which decides every call: no tool call may write it or a directory holding it \
                 (keep it outside the agent's project to write the project freely)"
            }
            Kind::SettingsFile | Kind::SettingsDir | Kind::SettingsNames => {
                "which run aecl's hook: no tool call may write them or their folder"
            }
            Kind::Program => {
                "which the agents' hook settings run: no tool call may write, move or remove it"
            }
            Kind::HookGit => {
                "which the hook runs outside every decision (a git placed before it is found \
                 first): no tool call may write, move or remove one there"
            }
            Kind::PathOrder => {
                "which a file of its name in an earlier `PATH` directory would replace for every \
                 command that runs it: no tool call may write one there"
            }
            Kind::GitHooks => {
                "(`core.hooksPath`), whose files git runs at commits, merges and checkouts: no \
                 tool call may write in it"
            }
            Kind::GitConfig => {
                "which git's configuration includes (`include.path`), where a hooks path, an \
                 alias or `core.fsmonitor` makes git run a program: no tool call may write it"
            }
            Kind::CodeConfig => {
                "which agents and tools run commands from: a tool call may not bring it into \
                 the project by a way that names no file (a git checkout, merge, reset or stash; \
                 a copy of a directory's contents) or in a patch, which no path rule reads; \
                 write it by its name, where the policy's rules judge it, or have the user do it"
            }
        }
    }

    /// Whether a write at `path` (absolute, normalised) touches this place.
    fn touched_by(&self, path: &Path) -> bool {
        match self.kind {
            Kind::State | Kind::Policy => {
                self.paths.iter().any(|p| under(path, p) || under(p, path))
            }
            // The directory and what is in it: the project holding it is written by every
            // ordinary command.
            Kind::GitHooks => self.paths.iter().any(|p| under(path, p)),
            Kind::SettingsFile | Kind::GitConfig => self
                .paths
                .iter()
                .any(|p| under(path, p) || p.parent() == Some(path) || name_starts(path, p)),
            Kind::Program | Kind::HookGit => {
                self.paths.iter().any(|p| under(path, p) || name_starts(path, p))
            }
            Kind::SettingsDir => self.paths.iter().any(|p| under(path, p)),
            Kind::SettingsNames => settings_by_name(path),
            // Only asked for by name (`Protected::code_config`): a write that names it is
            // the shell rules' to judge.
            Kind::CodeConfig => false,
            Kind::PathOrder => {
                // A `PATH` directory made or replaced whole (`mv evil .venv/bin`, `ln -s
                // evil later`) holds whatever the write puts there (second pass, hooks N3).
                if let Some(at) = self.paths.iter().position(|p| p == path) {
                    return at + 1 < self.paths.len();
                }
                let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
                    return false;
                };
                let Some(at) = self.paths.iter().position(|p| p == dir) else { return false };
                // The same file under another directory's name (`/bin` and `/usr/bin` of a
                // merged `/usr`) replaces nothing.
                let same = |a: &Path, b: &Path| match (std::fs::metadata(a), std::fs::metadata(b)) {
                    (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
                    _ => false,
                };
                self.paths.iter().skip(at + 1).any(|later| {
                    let program = later.join(name);
                    program.is_file() && !same(path, &program)
                })
            }
        }
    }
}

impl Protected {
    /// The state directory `state`, the policy directory `policy`, and the agents' hook
    /// settings seen from the working directory `cwd` (absolute).
    pub fn new(state: &Path, policy: &Path, cwd: &Path) -> Protected {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let mut places = vec![tree(Kind::State, state), tree(Kind::Policy, policy)];
        places.extend(policy_links(policy));
        // Projects: the working directory and every directory above it (an agent may have
        // moved below its project's root), and the project Claude Code names.
        let mut bases: Vec<PathBuf> = normalise(cwd).ancestors().map(Path::to_path_buf).collect();
        bases.extend(var("CLAUDE_PROJECT_DIR").filter(|p| p.is_absolute()));
        bases.extend(var("HOME").filter(|p| p.is_absolute()));
        for base in &bases {
            for target in Target::ALL {
                for file in target.hook_files() {
                    places.push(settings_file(&base.join(target.folder()).join(file)));
                }
            }
        }
        for target in Target::ALL {
            if let Some(home) = target.home_variable().and_then(var).filter(|p| p.is_absolute()) {
                for file in target.hook_files() {
                    places.push(settings_file(&home.join(file)));
                }
            }
            for dir in target.system_dirs() {
                places.push(Place {
                    kind: Kind::SettingsDir,
                    shown: PathBuf::from(dir),
                    paths: physical_and_lexical(Path::new(dir)),
                });
            }
        }
        for program in own_program() {
            places.push(Place {
                kind: Kind::Program,
                paths: physical_and_lexical(&program),
                shown: program,
            });
        }
        // The hooks directories git's configuration names, and the files it includes.
        let git_config = super::hooks_path::configured(cwd);
        places.extend(git_config.hooks.iter().map(|dir| tree(Kind::GitHooks, dir)));
        places.extend(git_config.includes.into_iter().map(|file| Place {
            kind: Kind::GitConfig,
            paths: physical_and_lexical(&file),
            shown: file,
        }));
        for git in super::git_state::git_candidates() {
            places.push(Place {
                kind: Kind::HookGit,
                paths: physical_and_lexical(&git),
                shown: git,
            });
        }
        // Relative entries (`.`, an empty one, `node_modules/.bin`) from the working
        // directory, as the shell looks them up. Last: a more telling place names a write
        // first.
        let path_dirs: Vec<PathBuf> = var("PATH")
            .map(|path| std::env::split_paths(&path).map(|dir| normalise(&cwd.join(dir))).collect())
            .unwrap_or_default();
        places.push(Place {
            kind: Kind::PathOrder,
            shown: PathBuf::from("$PATH"),
            paths: path_dirs,
        });
        places.push(Place {
            kind: Kind::SettingsNames,
            shown: PathBuf::from(".claude/settings.json"),
            paths: Vec::new(),
        });
        places.push(Place { kind: Kind::CodeConfig, shown: PathBuf::new(), paths: Vec::new() });
        // Only files that have other names cost a look at the files written.
        let linked = places
            .iter()
            .enumerate()
            .filter(|(_, place)| {
                matches!(
                    place.kind,
                    Kind::SettingsFile
                        | Kind::GitConfig
                        | Kind::Program
                        | Kind::HookGit
                        | Kind::Policy
                )
            })
            .flat_map(|(at, place)| place.paths.iter().map(move |path| (at, path)))
            .filter_map(|(at, path)| {
                let meta = std::fs::metadata(path).ok()?;
                (meta.is_file() && meta.nlink() > 1).then_some(((meta.dev(), meta.ino()), at))
            })
            .collect();
        Protected { places, state: 0, linked }
    }

    /// Whether `path` (relative or absolute) ends in an agent's hook settings by name
    /// (`x/.claude/settings.local.json`).
    pub fn is_settings_name(&self, path: &Path) -> bool {
        settings_by_name(path)
    }

    /// The place of the agents' hook settings by name.
    pub fn settings_names(&self) -> Option<&Place> {
        self.places.iter().find(|p| p.kind == Kind::SettingsNames)
    }

    /// The place of configuration that runs code when a file lands at `path` (absolute):
    /// `below`, its path beneath the project or repository it lands in (only that part
    /// counts: a project may itself sit under a `.config` directory), is such
    /// configuration, or `path` is in the repository's hooks directory (where its
    /// configuration names one). What a write that names no file may not bring in.
    pub fn code_config(&self, path: &Path, below: &str) -> Option<&Place> {
        let path = normalise(path);
        let mut hooks = self.places.iter().filter(|p| p.kind == Kind::GitHooks);
        if let Some(hooks) = hooks.find(|h| h.paths.iter().any(|dir| under(&path, dir))) {
            return Some(hooks);
        }
        // Agents' hook settings and their folders have places of their own, which say more.
        if settings_by_name(&path) || is_agent_folder(&path) {
            return None;
        }
        let below = normalise(Path::new(below));
        let below = below.to_str()?;
        aecl_core::shell::is_code_config(below)
            .then(|| self.places.iter().find(|p| p.kind == Kind::CodeConfig))
            .flatten()
    }

    /// The state directory.
    pub fn state(&self) -> Option<&Place> {
        self.places.get(self.state)
    }

    /// What a write only known at run time could be, as a reason says it.
    pub fn summary(&self) -> String {
        let shown = |kind: Kind| {
            let place = self.places.iter().find(|p| p.kind == kind);
            place.map(|p| p.shown.display().to_string()).unwrap_or_default()
        };
        format!(
            "aecl's hook state directory `{}`, its policy directory `{}` or an agent's hook \
             settings: no tool call may write them",
            shown(Kind::State),
            shown(Kind::Policy)
        )
    }

    /// Spellings of the state directory that no argument may contain: its path as given
    /// and resolved, and the default location's own name.
    pub fn state_spellings(&self) -> Vec<String> {
        let mut spellings: Vec<String> = self
            .places
            .iter()
            .filter(|p| p.kind == Kind::State)
            .flat_map(|p| std::iter::once(&p.shown).chain(&p.paths))
            .map(|p| p.display().to_string())
            .collect();
        spellings.push(".local/state/aecl".to_owned());
        spellings.retain(|s| !s.is_empty() && s != "/");
        spellings
    }

    /// The state directory when it is `dir` or beneath it: what a recursive read of `dir`
    /// reaches.
    pub fn state_beneath(&self, dir: &Path) -> Option<&Place> {
        let dir = normalise(dir);
        self.places
            .iter()
            .filter(|p| p.kind == Kind::State)
            .find(|p| p.paths.iter().any(|state| under(state, &dir)))
    }

    /// The state directory when a path that starts with `dir` (absolute) and then a name
    /// beginning with `start`, the rest only known at run time, may be it, inside it or a
    /// directory holding it (`/tmp/st-$X`, `~/$X`).
    pub fn state_maybe_under(&self, dir: &Path, start: &str) -> Option<&Place> {
        let dir = normalise(dir);
        self.places.iter().filter(|p| p.kind == Kind::State).find(|p| {
            p.paths.iter().any(|state| {
                under(&dir, state)
                    || state
                        .strip_prefix(&dir)
                        .ok()
                        .and_then(|rest| rest.iter().next())
                        .is_some_and(|first| first.to_string_lossy().starts_with(start))
            })
        })
    }

    /// The state directory when `path` (absolute) is it or inside it: refused even for a
    /// read, since it is the session's own memory.
    pub fn inside_state(&self, path: &Path) -> Option<&Place> {
        let path = normalise(path);
        self.places
            .iter()
            .filter(|p| p.kind == Kind::State)
            .find(|p| p.paths.iter().any(|dir| under(&path, dir)))
    }

    /// The place a write at `path` (absolute) would touch: by its path, or, for a file
    /// that exists with other names, by its identity.
    pub fn touched_by(&self, path: &Path) -> Option<&Place> {
        let path = normalise(path);
        self.places.iter().find(|p| p.touched_by(&path)).or_else(|| self.linked_to(&path))
    }

    /// The settings file or program that `path` is another name of (a hard link).
    fn linked_to(&self, path: &Path) -> Option<&Place> {
        if self.linked.is_empty() {
            return None;
        }
        let meta = std::fs::metadata(path).ok().filter(|m| m.is_file() && m.nlink() > 1)?;
        let id = (meta.dev(), meta.ino());
        let (_, at) = self.linked.iter().find(|(linked, _)| *linked == id)?;
        self.places.get(*at)
    }

    /// The state or policy directory when `path` (absolute) is it or inside it.
    pub fn inside_tree(&self, path: &Path) -> Option<&Place> {
        let path = normalise(path);
        self.places
            .iter()
            .filter(|p| matches!(p.kind, Kind::State | Kind::Policy))
            .find(|p| p.paths.iter().any(|dir| under(&path, dir)))
    }

    /// The tree place (state or policy directory) that a command writing anywhere under
    /// `dir` (absolute) could reach: inside it, or holding it.
    pub fn reached_under(&self, dir: &Path) -> Option<&Place> {
        let dir = normalise(dir);
        self.places
            .iter()
            .filter(|p| matches!(p.kind, Kind::State | Kind::Policy))
            .find(|p| p.touched_by(&dir))
    }
}

impl Protected {
    /// The place a path pattern with `**` (`globstar.rs`; absolute) may match: for a read,
    /// the state directory or a path inside it; for a write, the state, policy or a
    /// managed settings directory, inside or holding them, a settings file or aecl's
    /// program or a directory holding them, and an agent's settings anywhere by their
    /// names.
    pub fn reached_by_pattern(&self, pattern: &Path, write: bool) -> Option<&Place> {
        let pattern = normalise(pattern);
        let meets = |place: &Place, above: bool| {
            place.paths.iter().any(|path| globstar::meets(&pattern, path, above))
        };
        // A pattern matches what exists: the entries of a tree (a few files) are listed.
        let meets_within = |place: &Place, above: bool| {
            meets(place, above)
                || place
                    .paths
                    .iter()
                    .any(|tree| globstar::meets_listed(&pattern, tree, MAX_TREE_ENTRIES))
        };
        self.places.iter().find(|place| match place.kind {
            Kind::State if !write => meets_within(place, false),
            _ if !write => false,
            Kind::State | Kind::Policy | Kind::SettingsDir => meets_within(place, true),
            Kind::GitHooks => meets_within(place, false),
            Kind::SettingsFile | Kind::GitConfig | Kind::Program | Kind::HookGit => {
                meets(place, true)
            }
            Kind::SettingsNames => Target::ALL.iter().any(|target| {
                target
                    .hook_files()
                    .iter()
                    .any(|file| globstar::meets_ending(&pattern, &[target.folder(), file]))
            }),
            Kind::PathOrder | Kind::CodeConfig => false,
        })
    }

    /// The place a file of a name only the run knows, created directly in `dir`
    /// (absolute), could be: a settings file or aecl's program whose directory `dir` is
    /// (whether it exists yet or not), an agent's settings folder by its name, or a
    /// directory inside the state, policy or a managed settings directory.
    pub fn reached_by_entry(&self, dir: &Path) -> Option<&Place> {
        let dir = normalise(dir);
        self.places.iter().find(|place| match place.kind {
            Kind::State | Kind::Policy | Kind::SettingsDir | Kind::GitHooks => {
                place.paths.iter().any(|tree| under(&dir, tree))
            }
            Kind::SettingsFile | Kind::GitConfig | Kind::Program | Kind::HookGit => {
                place.paths.iter().any(|file| file.parent() == Some(dir.as_path()))
            }
            Kind::SettingsNames => is_agent_folder(&dir),
            Kind::PathOrder | Kind::CodeConfig => false,
        })
    }

    /// The place a file of a name only the run knows, created anywhere beneath `dir`
    /// (absolute), could be: the state or policy directory inside or holding it, a
    /// settings file or aecl's program beneath it (whether it exists yet or not: a
    /// project's `.claude/settings.json` may be created), a managed settings directory,
    /// or `dir` an agent's settings folder by its name. Settings of other projects
    /// beneath it are found by listing it (`Line::check_unnamed`).
    pub fn reached_beneath(&self, dir: &Path) -> Option<&Place> {
        let dir = normalise(dir);
        self.places.iter().find(|place| match place.kind {
            Kind::State | Kind::Policy => place.touched_by(&dir),
            Kind::GitHooks => place.paths.iter().any(|hooks| under(&dir, hooks)),
            Kind::SettingsFile
            | Kind::GitConfig
            | Kind::Program
            | Kind::HookGit
            | Kind::SettingsDir => {
                place.paths.iter().any(|path| under(path, &dir) || under(&dir, path))
            }
            Kind::SettingsNames => is_agent_folder(&dir),
            Kind::PathOrder | Kind::CodeConfig => false,
        })
    }

    /// The settings files, managed settings directories and aecl's own program that exist
    /// at or beneath `dir` (absolute) and whose path from `dir` `selects`, each with the
    /// path found: what a
    /// command reaching every file beneath `dir` would take with it. Besides the places
    /// known from the working directory and the environment, `dir`'s own agent folders
    /// (`dir/.claude/settings.json`): `dir` may be another project.
    pub fn settings_beneath(
        &self,
        dir: &Path,
        selects: &dyn Fn(&Path) -> bool,
    ) -> Vec<(&Place, PathBuf)> {
        let dir = normalise(dir);
        let exists = |path: &Path| std::fs::symlink_metadata(path).is_ok();
        let by_name = self.places.iter().find(|p| p.kind == Kind::SettingsNames);
        let own: Vec<(&Place, PathBuf)> = Target::ALL
            .iter()
            .flat_map(|t| t.hook_files().iter().map(|file| Path::new(t.folder()).join(file)))
            .filter(|below| selects(below) && exists(&dir.join(below)))
            .filter_map(|below| Some((by_name?, dir.join(below))))
            .collect();
        let known = self
            .places
            .iter()
            .filter(|p| {
                matches!(
                    p.kind,
                    Kind::SettingsFile
                        | Kind::GitConfig
                        | Kind::SettingsDir
                        | Kind::Program
                        | Kind::HookGit
                )
            })
            .filter_map(|place| {
                let found = place.paths.iter().find(|path| {
                    path.strip_prefix(&dir).is_ok_and(|below| {
                        (below.as_os_str().is_empty() || selects(below)) && exists(path)
                    })
                })?;
                Some((place, found.clone()))
            });
        own.into_iter().chain(known).collect()
    }
}

/// This executable: as the kernel resolves it, and as the agent's hook settings may name it
/// (`argv[0]`, looked up in `PATH` when it has no `/`): replacing either, or a link on the
/// way, would run something else as the hook.
fn own_program() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::env::current_exe().into_iter().collect();
    if let Some(argv0) = std::env::args_os().next().map(PathBuf::from) {
        if argv0.components().count() > 1 {
            out.extend(std::path::absolute(&argv0).ok());
        } else if let Some(path) = std::env::var_os("PATH") {
            // The one PATH finds, and the same name in every directory before it: a new
            // program there would be found first and run as the hook (red team round 20,
            // hooks HK3: `cp /bin/sh .venv/bin/aecl` took the hook over).
            for dir in std::env::split_paths(&path).filter(|dir| dir.is_absolute()) {
                let candidate = dir.join(&argv0);
                let found = candidate.is_file();
                out.push(candidate);
                if found {
                    break;
                }
            }
        }
    }
    out.dedup();
    out
}

/// The places the policy directory's links lead to, and its files that have other names:
/// the policy is read through them (a per-file link kept by a dotfile manager, a policy
/// file linked from the project), so writing there rewrites the policy (red team round 20,
/// hooks HK4: `policy.toml -> project/aecl-policy.toml` was set to `monitor` by a Write).
/// A policy holds a few files: past `MAX_ENTRIES` the walk stops.
fn policy_links(policy: &Path) -> Vec<Place> {
    const MAX_ENTRIES: usize = 4096;
    const MAX_DEPTH: usize = 8;
    let mut out = Vec::new();
    let mut pending = vec![(policy.to_path_buf(), 0)];
    let mut seen = 0;
    while let Some((dir, depth)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_ENTRIES {
                return out;
            }
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
            if meta.file_type().is_symlink() {
                if let Ok(target) = std::fs::canonicalize(&path) {
                    out.push(tree(Kind::Policy, &target));
                }
            } else if meta.is_dir() && depth < MAX_DEPTH {
                pending.push((path, depth + 1));
            } else if meta.is_file() && meta.nlink() > 1 {
                out.push(Place { kind: Kind::Policy, paths: vec![normalise(&path)], shown: path });
            }
        }
    }
    out
}

fn tree(kind: Kind, dir: &Path) -> Place {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
    Place { kind, paths: physical_and_lexical(&dir), shown: dir }
}

fn settings_file(file: &Path) -> Place {
    Place { kind: Kind::SettingsFile, shown: file.to_owned(), paths: physical_and_lexical(file) }
}

/// `path` (absolute) lexically normalised, and resolved through the links of its existing
/// part when that differs.
fn physical_and_lexical(path: &Path) -> Vec<PathBuf> {
    let lexical = normalise(path);
    let mut paths = vec![lexical.clone()];
    if let Some(physical) = path.to_str().and_then(|p| resolve_physical(Path::new("/"), p).ok()) {
        let physical = PathBuf::from(physical);
        if physical != lexical {
            paths.push(physical);
        }
    }
    paths
}

/// Whether `path` is `base` or beneath it, its names compared without case: on a file
/// system that ignores it (macOS, Windows) `~/.local/State/aecl` is the state directory
/// (red team round 31, paths P4). Elsewhere it only refuses a little more.
fn under(path: &Path, base: &Path) -> bool {
    let mut names = path.components();
    base.components().all(|part| {
        names.next().is_some_and(|name| {
            name == part
                || name.as_os_str().to_string_lossy().to_lowercase()
                    == part.as_os_str().to_string_lossy().to_lowercase()
        })
    })
}

/// Whether `path` is the start of `protected`, ending inside one of its names (a path a
/// program may complete: see the module's header). A whole directory on the way
/// (`/proj/.claude`) is not: what writes there is judged as a directory.
fn name_starts(path: &Path, protected: &Path) -> bool {
    let (path, full) =
        (path.as_os_str().as_encoded_bytes(), protected.as_os_str().as_encoded_bytes());
    path.len() < full.len()
        && full.starts_with(path)
        && !path.ends_with(b"/")
        && full.get(path.len()) != Some(&b'/')
}

/// Whether `path` names an agent's settings folder (`.claude`, `.codex`, `.gemini`), in
/// any case.
pub fn is_agent_folder(path: &Path) -> bool {
    let last = path.file_name().map(|n| n.to_string_lossy().to_lowercase());
    Target::ALL.iter().any(|target| last.as_deref() == Some(target.folder()))
}

/// Whether `path` (normalised) is an agent's hook settings file or folder by its names
/// (`…/.claude/settings.json`, `…/.codex`), or the start of a hook file's name in such a
/// folder, compared without regard to case (a case-insensitive filesystem opens
/// `.Claude/Settings.json` as the same file).
fn settings_by_name(path: &Path) -> bool {
    let mut names = path.components().rev().filter_map(|c| match c {
        Component::Normal(name) => Some(name.to_string_lossy().to_lowercase()),
        _ => None,
    });
    let (Some(last), before) = (names.next(), names.next()) else { return false };
    // The start of a hook file's name in an agent's folder, which a program may complete
    // (see the module's header).
    let starts = |name: &str| last.len() < name.len() && name.starts_with(last.as_str());
    Target::ALL.iter().any(|target| {
        last == target.folder()
            || (before.as_deref() == Some(target.folder())
                && target.hook_files().iter().any(|file| last == *file || starts(file)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protected() -> Protected {
        Protected::new(
            Path::new("/home/u/.local/state/aecl/hooks"),
            Path::new("/proj/policy"),
            Path::new("/proj/src"),
        )
    }

    #[test]
    fn a_directory_holding_the_state_or_inside_it_is_touched_and_a_sibling_is_not() {
        let protected = protected();
        for path in [
            "/",
            "/home",
            "/home/u",
            "/home/u/.local/state",
            "/home/u/.local/state/aecl/hooks/x",
            "/home/u/x/../.local",
        ] {
            assert!(protected.touched_by(Path::new(path)).is_some(), "{path}");
        }
        for path in ["/home/u/.local/share", "/home/u/.localx", "/tmp"] {
            assert!(protected.touched_by(Path::new(path)).is_none(), "{path}");
        }
    }

    #[test]
    fn the_policy_directory_is_a_tree_and_settings_are_files_with_their_folder() {
        let protected = protected();
        for path in [
            "/proj/policy",
            "/proj/policy/policy.toml",
            "/proj",
            "/proj/.claude/settings.json",
            "/proj/.claude/settings.local.json",
            "/proj/.claude",
            "/proj/src/.codex/hooks.json",
            "/proj/.gemini/settings.json",
            "/elsewhere/.CLAUDE/Settings.Json",
            "/elsewhere/.codex",
            "/etc/claude-code/managed-settings.json",
            "/etc/codex/config.toml",
        ] {
            assert!(protected.touched_by(Path::new(path)).is_some(), "{path}");
        }
        for path in [
            "/proj/src/main.rs",
            "/proj/.claude/commands/x.md",
            "/proj/policyx",
            "/proj/settings.json",
            "/etc",
        ] {
            assert!(protected.touched_by(Path::new(path)).is_none(), "{path}");
        }
        // A tree writer under the project reaches the policy, not the settings.
        assert!(protected.reached_under(Path::new("/proj")).is_some());
        assert!(protected.reached_under(Path::new("/proj/src")).is_none());
    }
}
