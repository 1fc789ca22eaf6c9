//! Resolving path arguments on the filesystem a call will act on, for the adapters that see
//! it (the agent hook, the MCP gateway in front of a local server, the connectors). The
//! result goes into `Call::paths`; `aecl_core::resolved` says how `decide` uses it.
//!
//! A path is resolved the way the kernel walks it, component by component from `/` (or
//! from the working directory for a relative path):
//!
//! - a symbolic link in the existing prefix is replaced by its target, which is walked in
//!   turn (an absolute target restarts at `/`), so chains of links are followed;
//! - `..` goes to the parent of what has been resolved so far, so `link/..` is the parent
//!   of the link's target, not the directory holding the link (physical, not lexical);
//! - once a component does not exist, it and the rest are appended lexically (a `..`
//!   there drops the last appended component), since nothing below a missing name can be
//!   a link yet. A final component that is a link is followed too, which for a call that
//!   acts on the link itself (unlink) is stricter than needed, never looser.
//!
//! The work is bounded: at most [`MAX_LINKS`] links (the kernel's limit, so a loop is an
//! error), paths of at most [`MAX_PATH_BYTES`], and [`MAX_STRINGS`] strings per call. What
//! is not resolved has no entry, and a path constraint on it blocks.
//!
//! The answer describes the filesystem at the moment of the check. A link swapped in
//! between the check and the use is the executor's to refuse (the fs connector opens with
//! `openat2` and `RESOLVE_BENEATH`).

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsString;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use aecl_core::resolved::{PathView, Resolution};
use serde_json::Value;

/// Symbolic links followed in one path before it counts as a loop (Linux's `MAXSYMLINKS`).
pub const MAX_LINKS: usize = 40;
/// Longest path string resolved, and longest link target read (Linux's `PATH_MAX`).
pub const MAX_PATH_BYTES: usize = 4096;
/// Strings of one call's arguments resolved; the rest are left without an entry.
pub const MAX_STRINGS: usize = 1024;

/// Why a path could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("more than {MAX_LINKS} symbolic links (a loop?) at `{0}`")]
    TooManyLinks(String),
    #[error("longer than {MAX_PATH_BYTES} bytes")]
    TooLong,
    #[error("contains a NUL byte")]
    Nul,
    #[error("the working directory `{0}` is not absolute")]
    RelativeCwd(String),
    #[error("`{path}` cannot be examined: {error}")]
    Unreadable { path: String, error: String },
    #[error("resolves to a path that is not UTF-8")]
    NotUtf8,
    #[error(
        "`..` after a symbolic link reads two ways: `{physical}` as the kernel walks it, \
         `{lexical}` with `..` taken first (as tools that clean paths do); name the path \
         without `..`"
    )]
    Ambiguous { physical: String, lexical: String },
    #[error(
        "`{0}` starts with `~`, which a shell and some tools read as a home directory and \
         others as a name in the working directory; write the path out"
    )]
    Tilde(String),
    #[error(
        "`{0}` names a process's own objects (its working directory, root or descriptors), \
         which the tool's process and aecl's see differently; name the file itself"
    )]
    ProcessRelative(String),
}

/// One step of the walk.
enum Step {
    Root,
    Parent,
    Name(OsString),
}

fn steps_of(path: &Path, out: &mut VecDeque<Step>, front: bool) {
    let steps: Vec<Step> = path
        .components()
        .filter_map(|c| match c {
            Component::RootDir => Some(Step::Root),
            Component::ParentDir => Some(Step::Parent),
            Component::Normal(name) => Some(Step::Name(name.to_owned())),
            Component::CurDir | Component::Prefix(_) => None,
        })
        .collect();
    if front {
        for step in steps.into_iter().rev() {
            out.push_front(step);
        }
    } else {
        out.extend(steps);
    }
}

/// Resolves `written` as the kernel would from the working directory `cwd` (absolute):
/// the physical path of its longest existing prefix with the rest appended lexically.
///
/// A path with `..` is also resolved with its `..` taken first, lexically, as tools that
/// clean a path before opening it do (Node's `path.resolve`, Python's `os.path.abspath`,
/// the fs connector): `a/../b/config` with `a -> real/x` and `b -> .git` is
/// `real/b/config` to the kernel but `.git/config` to them. When the two readings land
/// apart, the path is refused ([`ResolveError::Ambiguous`]): the check cannot know which
/// the executor takes.
pub fn resolve_path(cwd: &Path, written: &str) -> Result<String, ResolveError> {
    if written.starts_with('~') {
        return Err(ResolveError::Tilde(written.to_owned()));
    }
    let (physical, link_before_parent) = walk_noting(cwd, written)?;
    // Only a `..` taken after a link can land apart from its cleaned reading.
    if !link_before_parent {
        return Ok(physical);
    }
    let cleaned = normalise(&cwd.join(written));
    let cleaned = cleaned.into_os_string().into_string().map_err(|_| ResolveError::NotUtf8)?;
    let lexical = walk(Path::new("/"), &cleaned)?;
    if lexical != physical {
        return Err(ResolveError::Ambiguous { physical, lexical });
    }
    Ok(physical)
}

/// `path` (absolute) with `.` and `..` taken lexically, as tools that clean a path do.
pub fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => out.push(name),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// The kernel's walk of `written` from `cwd` alone, for a path an opener takes as written
/// (a shell's redirection, a program's argument), or one an adapter reads both ways itself.
pub fn resolve_physical(cwd: &Path, written: &str) -> Result<String, ResolveError> {
    walk(cwd, written)
}

/// The kernel's walk of `written` from `cwd`.
fn walk(cwd: &Path, written: &str) -> Result<String, ResolveError> {
    walk_noting(cwd, written).map(|(path, _)| path)
}

/// [`walk`], and whether a `..` left a directory reached through a link (where the
/// kernel's reading and a cleaned one can differ).
fn walk_noting(cwd: &Path, written: &str) -> Result<(String, bool), ResolveError> {
    if written.contains('\0') {
        return Err(ResolveError::Nul);
    }
    if written.len() > MAX_PATH_BYTES {
        return Err(ResolveError::TooLong);
    }
    let mut pending = VecDeque::new();
    if !written.starts_with('/') {
        if !cwd.is_absolute() {
            return Err(ResolveError::RelativeCwd(cwd.display().to_string()));
        }
        steps_of(cwd, &mut pending, false);
    }
    steps_of(Path::new(written), &mut pending, false);
    let mut resolved = PathBuf::from("/");
    let mut missing: Vec<OsString> = Vec::new();
    let mut links = 0usize;
    let mut link_before_parent = false;
    while let Some(step) = pending.pop_front() {
        let name = match step {
            Step::Root => {
                resolved = PathBuf::from("/");
                missing.clear();
                continue;
            }
            Step::Parent => {
                if missing.pop().is_none() {
                    link_before_parent |= links > 0;
                    resolved.pop();
                }
                continue;
            }
            Step::Name(name) => name,
        };
        if !missing.is_empty() {
            missing.push(name);
            continue;
        }
        // `/proc/self/cwd`, `/proc/thread-self/root`, `/proc/PID/fd/N` (also reached
        // through `/dev/fd`, `/dev/stdout`): what they name is the walking process's, not
        // the tool's, whose working directory and descriptors this one does not share (red
        // team round 31, paths P3: a write to `/proc/self/cwd/policy/catalog.toml` was
        // judged from the hook's own directory).
        if resolved == Path::new("/proc") && process_relative(&name) {
            return Err(ResolveError::ProcessRelative(resolved.join(&name).display().to_string()));
        }
        let candidate = resolved.join(&name);
        match std::fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(ResolveError::TooManyLinks(candidate.display().to_string()));
                }
                let target =
                    std::fs::read_link(&candidate).map_err(|e| unreadable(&candidate, e))?;
                if target.as_os_str().len() > MAX_PATH_BYTES {
                    return Err(ResolveError::TooLong);
                }
                // The target's components replace the link's; an absolute target starts
                // with `Root`, a relative one continues from the link's directory.
                steps_of(&target, &mut pending, true);
            }
            Ok(_) => resolved = candidate,
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                missing.push(name);
            }
            Err(e) => return Err(unreadable(&candidate, e)),
        }
    }
    for name in missing {
        resolved.push(name);
    }
    let resolved = resolved.into_os_string().into_string().map_err(|_| ResolveError::NotUtf8)?;
    Ok((resolved, link_before_parent))
}

/// Whether `name`, a directory of `/proc`, is a process's own (`self`, `thread-self`, a
/// process id).
fn process_relative(name: &std::ffi::OsStr) -> bool {
    let name = name.as_encoded_bytes();
    name == b"self"
        || name == b"thread-self"
        || (!name.is_empty() && name.iter().all(u8::is_ascii_digit))
}

fn unreadable(path: &Path, error: std::io::Error) -> ResolveError {
    ResolveError::Unreadable { path: path.display().to_string(), error: error.to_string() }
}

/// Resolves every string of `args` (any of them may be a path; only those a path
/// constraint names are checked), the paths a string's braces expand to, and the `extra`
/// strings (for example the roots of the action's path constraints, which may be links
/// themselves), from `cwd`. Strings that cannot be paths (longer than [`MAX_PATH_BYTES`],
/// or holding a NUL or a line break) and strings past [`MAX_STRINGS`] get no entry.
///
/// A string of `directories` (the values of the action's path arguments; `None`: any
/// string of `args`) that resolves to an existing directory other than `cwd` is a base
/// ([`PathView::base_key`]): every relative string (and brace expansion) is resolved from
/// it too ([`PathView::based_key`]), since a tool may take a relative pattern under a
/// directory argument of its own (`Glob`'s `path`). A string that names no directory, or
/// whose own resolution failed, is no base (a path constraint on it refuses it). A reading
/// past [`MAX_STRINGS`] gets no entry, which the path constraints refuse.
pub fn resolve_strings<'b>(
    args: &Value,
    extra: impl IntoIterator<Item = &'b str>,
    directories: Option<&[&str]>,
    cwd: &Path,
) -> PathView {
    let mut strings: Vec<&str> = Vec::new();
    collect_strings(args, &mut strings);
    let mut map = BTreeMap::new();
    // Each string with the paths its braces expand to: a tool that reads the string as a
    // glob pattern expands its braces first, and the path constraints check each
    // expansion as a path (`aecl_core::path_pattern`). Past the map's bound nothing more
    // gets an entry, so nothing more is kept.
    let mut written: Vec<Cow<'_, str>> = Vec::new();
    for string in &strings {
        if written.len() > MAX_STRINGS {
            break;
        }
        written.push(Cow::Borrowed(*string));
        // The files a patch names (Codex's `apply_patch`): the path rules check each, so
        // each is resolved as a path of its own (red team round 31, paths P5: every patch
        // was refused, its files "not resolved on the filesystem").
        if let Some(Ok(targets)) = aecl_core::patch::targets(string) {
            written.extend(targets.iter().map(|t| Cow::Owned(t.path.to_owned())));
            continue;
        }
        if string.len() <= MAX_PATH_BYTES
            && !string.contains(['\0', '\n', '\r'])
            && aecl_core::path_pattern::expands(string)
            && let Ok(expansions) = aecl_core::path_pattern::expand(string)
        {
            written.extend(expansions.into_iter().map(Cow::Owned));
        }
    }
    for text in &written {
        insert_resolution(&mut map, text, cwd, resolve_path);
    }
    for text in extra {
        insert_resolution(&mut map, text, cwd, resolve_path);
    }
    let bases = bases(&map, directories.unwrap_or(&strings), cwd);
    for base in &bases {
        map.insert(PathView::base_key(base), Resolution::Path(base.clone()));
    }
    'bases: for base in &bases {
        for text in written.iter().filter(|t| !t.starts_with('/')) {
            if map.len() >= MAX_STRINGS + bases.len() {
                break 'bases;
            }
            let key = PathView::based_key(base, text);
            insert_entry(&mut map, &key, text, Path::new(base), resolve_path);
        }
    }
    PathView::Seen(map)
}

/// The directories other than `cwd` that `strings` resolved to (in `map`), each once, in
/// the order the strings come.
fn bases(map: &BTreeMap<String, Resolution>, strings: &[&str], cwd: &Path) -> Vec<String> {
    let mut bases: Vec<String> = Vec::new();
    for string in strings {
        if let Some(Resolution::Path(dir)) = map.get(*string)
            && !bases.contains(dir)
            && std::fs::metadata(dir).is_ok_and(|meta| meta.is_dir())
        {
            bases.push(dir.clone());
        }
    }
    // The working directory is where every relative string was read from already; walked
    // only when a base may be it.
    if !bases.is_empty()
        && let Ok(here) = walk(cwd, "")
    {
        bases.retain(|dir| *dir != here);
    }
    bases
}

/// Commands longer than this are not read for write targets (a command line of the
/// shell tools is far shorter; a longer one gets no resolutions and its writes are
/// refused).
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;

/// Everything an adapter that sees the filesystem resolves for one call of `action`, from
/// the working directory `cwd` (absolute), into `Call::paths`:
///
/// - every string of `args` and the roots of the action's `path_under` constraints
///   ([`resolve_strings`], [`path_roots`]);
/// - the working directory itself, under [`PathView::WORKING_DIR`], so the shell rules
///   take relative write targets from where the command really runs;
/// - the write targets and write paths of every shell constraint of the action, read from
///   each string of `args` (`ShellRules::targets`): `echo x > link/f` is then checked
///   where `link/f` lands;
/// - for a git command that writes its repository, the repository's root
///   ([`PathView::repository_key`]), found as git finds it.
///
/// Without the policy (`None`: `aecl hook --server`), every string of `args` is read as a
/// command with the built-in program table; the server refuses a write it finds no
/// resolution for.
pub fn resolve_call(
    policy: Option<&aecl_core::Policy>,
    action: &str,
    args: &Value,
    cwd: &Path,
) -> PathView {
    let roots = policy.map(|p| path_roots(p, action)).unwrap_or_default();
    let directories = policy.map(|p| path_values(p, action, args));
    let PathView::Seen(mut map) =
        resolve_strings(args, roots.iter().map(String::as_str), directories.as_deref(), cwd)
    else {
        return PathView::Unseen;
    };
    let Some(cwd_text) = cwd.to_str().filter(|_| cwd.is_absolute()) else {
        // No working directory to give: relative targets stay unresolved and are refused.
        return PathView::Seen(map);
    };
    map.insert(PathView::WORKING_DIR.to_owned(), Resolution::Path(cwd_text.to_owned()));
    let mut strings: Vec<&str> = Vec::new();
    collect_strings(args, &mut strings);
    strings.retain(|s| s.len() <= MAX_COMMAND_BYTES);
    let default_guard;
    let guards: Vec<&aecl_core::shell::ProgramGuard> = match policy {
        Some(policy) => shell_guards(policy, action),
        None => {
            default_guard = aecl_core::shell::ProgramGuard::default();
            vec![&default_guard]
        }
    };
    for guard in guards {
        for command in &strings {
            for target in aecl_core::shell::write_targets(guard, command, Some(cwd_text)) {
                match target.strip_prefix(PathView::REPOSITORY) {
                    Some(dir) => insert_entry(&mut map, &target, dir, cwd, repository_root),
                    // The shell opens a redirection's target as written, so the kernel's
                    // walk is the only reading (no tool cleans it first).
                    None => insert_resolution(&mut map, &target, cwd, walk),
                }
            }
        }
    }
    PathView::Seen(map)
}

/// The directory git finds its repository in when it works in `dir`: walking up from
/// `dir`'s resolution, the first directory that holds a `.git` entry (a directory, or the
/// file a linked work tree or a submodule has) or is itself a bare repository (`HEAD`,
/// `objects/` and `refs/`). With none (`git init`, `git clone`, or git failing), `dir`'s
/// resolution. git's own limits on the walk (`GIT_CEILING_DIRECTORIES`, a file system
/// boundary) can only stop it sooner, at a directory this walk also passes.
fn repository_root(cwd: &Path, dir: &str) -> Result<String, ResolveError> {
    let start = walk(cwd, dir)?;
    let examined = |path: &Path| -> Result<bool, ResolveError> {
        match std::fs::symlink_metadata(path) {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                Ok(false)
            }
            Err(e) => Err(ResolveError::Unreadable {
                path: path.display().to_string(),
                error: e.to_string(),
            }),
        }
    };
    for candidate in Path::new(&start).ancestors() {
        let bare = || -> Result<bool, ResolveError> {
            Ok(candidate.join("HEAD").is_file()
                && examined(&candidate.join("objects"))?
                && examined(&candidate.join("refs"))?)
        };
        if examined(&candidate.join(".git"))? || bare()? {
            return candidate.to_str().map(str::to_owned).ok_or(ResolveError::NotUtf8);
        }
    }
    Ok(start)
}

/// The program guards of every shell constraint of `action` in `policy`.
fn shell_guards<'p>(
    policy: &'p aecl_core::Policy,
    action: &str,
) -> Vec<&'p aecl_core::shell::ProgramGuard> {
    let Some(spec) = policy.actions.get(action) else { return Vec::new() };
    spec.args
        .iter()
        .flat_map(|arg| &arg.constraints)
        .filter_map(|constraint| match constraint {
            aecl_core::constraint::Constraint::Shell(rules) => Some(&rules.guard),
            _ => None,
        })
        .collect()
}

/// The strings of `args` that the path constraints of `action` in `policy` check
/// (`path_under`, `path_glob`): the arguments that may name a tool's directory.
fn path_values<'a>(policy: &aecl_core::Policy, action: &str, args: &'a Value) -> Vec<&'a str> {
    let Some(spec) = policy.actions.get(action) else { return Vec::new() };
    spec.args
        .iter()
        .filter(|arg| {
            arg.constraints.iter().any(|c| {
                matches!(
                    c,
                    aecl_core::constraint::Constraint::PathUnder(_)
                        | aecl_core::constraint::Constraint::PathGlob(_)
                )
            })
        })
        .flat_map(|arg| arg.path.values(args))
        .filter_map(Value::as_str)
        .collect()
}

/// The roots of every `path_under` constraint of `action` in `policy`: an adapter
/// resolves them too, since a root may itself be a link.
pub fn path_roots(policy: &aecl_core::Policy, action: &str) -> Vec<String> {
    let Some(spec) = policy.actions.get(action) else { return Vec::new() };
    spec.args
        .iter()
        .flat_map(|arg| &arg.constraints)
        .filter_map(|constraint| match constraint {
            aecl_core::constraint::Constraint::PathUnder(roots) => Some(roots.iter().cloned()),
            _ => None,
        })
        .flatten()
        .collect()
}

fn insert_resolution(
    map: &mut BTreeMap<String, Resolution>,
    written: &str,
    cwd: &Path,
    resolve: fn(&Path, &str) -> Result<String, ResolveError>,
) {
    insert_entry(map, written, written, cwd, resolve);
}

/// Puts what `resolve` makes of `written` under `key` (the string itself, or a key of
/// [`PathView`] that holds it), within the bounds.
fn insert_entry(
    map: &mut BTreeMap<String, Resolution>,
    key: &str,
    written: &str,
    cwd: &Path,
    resolve: fn(&Path, &str) -> Result<String, ResolveError>,
) {
    if map.len() >= MAX_STRINGS
        || written.is_empty()
        || written.len() > MAX_PATH_BYTES
        || written.contains(['\0', '\n', '\r'])
        || map.contains_key(key)
    {
        return;
    }
    let resolution = match resolve(cwd, written) {
        Ok(path) => Resolution::Path(path),
        Err(e) => Resolution::Failed(e.to_string()),
    };
    map.insert(key.to_owned(), resolution);
}

fn collect_strings<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}
