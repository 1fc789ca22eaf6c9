//! The local hook's guard of aecl's own files and the agents' hook settings (`aecl hook
//! AGENT --policy`): the session files and policy cache in the state directory are each
//! session's memory of what the agent read, the policy directory decides every call, and
//! the agents' settings run the hook at all. An agent that could rewrite any of them
//! would make an injected value look like its own, loosen the policy, or turn the hook
//! off. What is protected, and when a path touches it, is `protected`'s; a call is refused
//! when it
//!
//! - names the state directory (its path, its physical path, or the default location's
//!   name `.local/state/aecl`) anywhere in its arguments, or has a path argument that
//!   resolves (through links, from the agent's `cwd`) into it: reads too; a shell
//!   command's words are expanded and resolved for it as its write targets are
//!   (`Line::check_reads`: `cat ../state/F`, `cat ../stat?/F`, `cd .. && cat state/F`);
//! - writes, moves, links onto or deletes a protected place: every write target of a shell
//!   command (the core's [`write_words`]: redirections, globs among them, and what
//!   programs write or remove, through wrappers and nested code), and every path argument
//!   of an action that is not declared `read`, checked as written and as resolved;
//! - runs a command whose writes the program table cannot list with words that name a
//!   protected place, or that writes a whole tree holding the state or policy directory
//!   (`reach`);
//! - removes, moves or changes everything beneath a directory holding an agent's hook
//!   settings (`rm -rf .`, `find . -delete`, `git clean -fdx` over untracked settings,
//!   an action of effect `delete` on the project), `reach::trees`.
//!
//! Shell words are expanded as the shell would where that is certain (`~`, `$HOME`,
//! `${VAR}` from this process's environment, which the agent passes on to its hooks,
//! quotes, `{a,b}`, globs listed on the filesystem, matching letters in any case and
//! `**` across directories, as `nocaseglob` and `globstar` or zsh would); a command line
//! carried in a word (an option's value, a variable's) is checked as that line; a write whose target or directory is
//! only known at run time (`$(...)`, a variable the line assigns, `cd "$X"`, `CDPATH`)
//! could be a protected place, so it is refused. Reading stays allowed (`ls ~`,
//! `cat policy/policy.toml`). Not caught: what a program that runs code of the agent's
//! choosing computes for itself (`python3 -c ...`), which the policy's shell rules judge
//! (`runs_code`, `unknown`).

mod client_config;
mod codex_patch;
mod expand;
mod git_state;
mod globstar;
mod hooks_path;
mod nested;
mod output_variables;
mod protected;
mod reach;
mod search;
mod sourced;

use std::path::{Path, PathBuf};

use aecl_core::Policy;
use aecl_core::policy::EffectClass;
use aecl_core::shell::{Analysis, ProgramGuard, write_words_in};
use aecl_engine::fs_paths::MAX_COMMAND_BYTES;
use aecl_policy::hook::is_shell_tool;
use aecl_policy::trace::{CallEvent, ResolvedPathFile};
use anyhow::{Result, bail};
use serde_json::Value;

pub use protected::Protected;
use reach::{Line, Refusal};

/// Refuses `event` when it names the state directory, or writes to a protected place or a
/// directory holding aecl's own. `cwd` is where the call runs (absolute).
pub fn check_untouched(
    policy: &Policy,
    event: &CallEvent,
    protected: &Protected,
    cwd: &Path,
) -> Result<()> {
    let args = guarded_args(&event.args);
    let spellings = protected.state_spellings();
    let mut named = None;
    visit_strings(&args, &mut |text| {
        if named.is_none() && spellings.iter().any(|s| text.contains(s.as_str())) {
            named = Some(text.to_owned());
        }
    });
    if let (Some(what), Some(place)) = (named, protected.state()) {
        return refuse(protected, Refusal::Touches { how: "names".to_owned(), what, place });
    }
    let resolved = |written: &str| match event.resolved_paths.as_ref()?.get(written)? {
        ResolvedPathFile::Path(path) => Some(PathBuf::from(path)),
        ResolvedPathFile::Failed(_) => None,
    };
    let unresolved = |written: &str| {
        let found = event.resolved_paths.as_ref().and_then(|paths| paths.get(written));
        matches!(found, Some(ResolvedPathFile::Failed(_)))
    };
    // A path argument as written, made absolute as a client would (`~` the home directory,
    // a relative one from `cwd`): checked beside its resolved form, which a path that does
    // not resolve (`~/x`, `link/../x`, a loop) lacks.
    let as_written = |written: &str| -> Option<PathBuf> {
        let is_path_argument =
            event.resolved_paths.as_ref().is_some_and(|p| p.contains_key(written));
        if Path::new(written).is_absolute() {
            return Some(PathBuf::from(written));
        }
        if !is_path_argument {
            return None;
        }
        match written.strip_prefix('~') {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                let home =
                    std::env::var_os("HOME").map(PathBuf::from).filter(|h| h.is_absolute())?;
                Some(home.join(rest.trim_start_matches('/')))
            }
            Some(_) => None,
            None => Some(cwd.join(written)),
        }
    };
    // A search tool rooted above the state directory whose pattern reaches into it
    // (`search.rs`): from its resolved `path` (as written too), or the working directory.
    if search::SEARCH_TOOLS.contains(&event.action.as_str()) {
        let root =
            ["path", "dir_path", "directory"].iter().find_map(|field| args.get(field)?.as_str());
        let roots: Vec<PathBuf> = match root {
            Some(root) => resolved(root).into_iter().chain(as_written(root)).collect(),
            None => vec![cwd.to_path_buf()],
        };
        let home = std::env::var_os("HOME").map(PathBuf::from).filter(|h| h.is_absolute());
        if let Some((what, place)) =
            search::reached(&event.action, &args, &roots, home.as_deref(), protected)
        {
            return refuse(protected, Refusal::Touches { how: "reaches".to_owned(), what, place });
        }
    }
    // Inside the state directory, for anything the hook resolved (path arguments, shell
    // write targets), as resolved and as written: even a read.
    for (written, _) in event.resolved_paths.iter().flatten() {
        let place = resolved(written)
            .iter()
            .chain(as_written(written).iter())
            .find_map(|path| protected.inside_state(path).map(|place| (path.clone(), place)));
        if let Some((path, place)) = place {
            let what = path.display().to_string();
            return refuse(protected, Refusal::Touches { how: "reaches".to_owned(), what, place });
        }
    }
    let default_guard = ProgramGuard::default();
    let mut guards = shell_guards(policy, &event.action);
    if is_shell_tool(&event.action) {
        guards.push(&default_guard);
    }
    let targets = without_text(&event.action, &args);
    let mut strings = Vec::new();
    visit_strings(&targets, &mut |s| strings.push(s));
    // A protected place, or a directory holding aecl's own, for a path argument of an
    // action that may write (not its shell commands, read for their writes below; and not
    // a read: the agent's own `cwd` may be the home directory, and `ls ~` stays allowed).
    let effect = policy.actions.get(&event.action).map(|a| a.effect);
    let writes = effect != Some(EffectClass::Read);
    // The files a patch names (Codex's `apply_patch`), whatever the action's effect.
    if let Err(refusal) = codex_patch::check(&strings, cwd, protected) {
        return refuse(protected, refusal);
    }
    if writes && guards.is_empty() {
        for text in &strings {
            // A path it may write that does not resolve is not known to be harmless.
            if unresolved(text) {
                return refuse(
                    protected,
                    Refusal::Unknown(format!("writes `{text}`, a path that does not resolve")),
                );
            }
            let lexical = as_written(text);
            let physical = resolved(text);
            let paths = || lexical.iter().chain(physical.iter());
            // A delete of a directory takes the settings beneath it (an unknown action's
            // effect is not known: it may be one), and so does a write naming a directory
            // that exists: a move's source (an MCP server's `move_file`, declared `write`:
            // red team round 25, hooks M1), or a directory written over.
            let deletes = matches!(effect, None | Some(EffectClass::Delete))
                || (effect == Some(EffectClass::Write) && paths().any(|p| p.is_dir()));
            let all = |_: &Path| true;
            let beneath = |p: &PathBuf| {
                protected.settings_beneath(p, &all).into_iter().next().map(|(place, _)| place)
            };
            let place = paths()
                .find_map(|p| protected.touched_by(p))
                .or_else(|| paths().filter(|_| deletes).find_map(beneath));
            if let Some(place) = place {
                let what = (*text).to_owned();
                return refuse(
                    protected,
                    Refusal::Touches { how: "writes or removes".to_owned(), what, place },
                );
            }
        }
    }
    let cwd_text = cwd.to_str().filter(|_| cwd.is_absolute());
    let lines = command_lines(&args);
    // A command the guard does not read is not known to be harmless (the shell rules read
    // four times as much).
    if !guards.is_empty()
        && let Some(long) = lines.iter().find(|line| line.len() > MAX_COMMAND_BYTES)
    {
        return refuse(
            protected,
            Refusal::Unknown(format!(
                "runs a command of {} bytes, longer than the {MAX_COMMAND_BYTES} the guard reads",
                long.len()
            )),
        );
    }
    // The state directory read through another spelling than its own (`cat ../state/F`),
    // by a shell command.
    // Each line analysed once, its sourced scripts read once, for every check below. A
    // line that does not parse is the shell rules' to refuse.
    let shell_lines = if guards.is_empty() { &[][..] } else { lines.as_slice() };
    let analysed: Vec<(&str, Analysis, Vec<String>)> = shell_lines
        .iter()
        .filter_map(|command| {
            let (analysis, read) = analyse_line(command, cwd).ok()?;
            Some((command.as_str(), analysis, read))
        })
        .collect();
    for (command, analysis, read) in &analysed {
        if let Err(refusal) =
            Line::new(command, analysis, cwd).sourcing(read).check_reads(analysis, protected)
        {
            return refuse(protected, refusal);
        }
    }
    // The project's repository, whose configuration is the user's (found only when a
    // line runs git).
    let project = std::cell::OnceCell::new();
    for guard in guards {
        for (command, analysis, read) in &analysed {
            let found = write_words_in(guard, analysis, cwd_text);
            let line =
                Line::new(command, analysis, cwd).sourcing(read).noting_writes(&found.writes);
            for write in &found.writes {
                if let Err(refusal) = line.check_write(write, protected) {
                    return refuse(protected, refusal);
                }
            }
            for opaque in &found.opaque {
                if let Err(refusal) = line.check_opaque(opaque, protected) {
                    return refuse(protected, refusal);
                }
            }
            for git in &found.git {
                let project = project.get_or_init(|| reach::project_repository(cwd));
                if let Err(refusal) = line.check_repository(git, analysis, project.as_deref()) {
                    return refuse(protected, refusal);
                }
            }
            if let Err(refusal) = nested::check(guard, &line, analysis, &found, cwd, protected) {
                return refuse(protected, refusal);
            }
            if let Err(refusal) = client_config::check(command, analysis) {
                return refuse(protected, refusal);
            }
            let mut dirs: Vec<Option<String>> =
                found.writes.iter().flat_map(|w| w.dirs.iter().cloned()).collect();
            dirs.dedup();
            if dirs.is_empty() {
                dirs.push(cwd_text.map(str::to_owned));
            }
            if let Err(refusal) = output_variables::check(&line, analysis, &dirs, protected) {
                return refuse(protected, refusal);
            }
            if let Err(refusal) = line.check_landings(analysis, &dirs, protected) {
                return refuse(protected, refusal);
            }
            if let Err(refusal) = line.check_trees(analysis, &dirs, protected) {
                return refuse(protected, refusal);
            }
        }
    }
    Ok(())
}

/// The error that refuses the call.
fn refuse(protected: &Protected, refusal: Refusal<'_>) -> Result<()> {
    match refusal {
        Refusal::Touches { how, what, place } => {
            bail!("the call {how} {} (in `{what}`), {}", place.name(), place.why())
        }
        Refusal::Unknown(what) => {
            bail!("the call {what}, which could be {}", protected.summary())
        }
        Refusal::RunsCode(what) => {
            bail!(
                "the call {what}: programs aecl does not see, which could write {}",
                protected.summary()
            )
        }
    }
}

/// What of a tool's input the guard reads: all of it, but the `description` a shell tool
/// (Claude Code's `Bash`, Gemini CLI's `run_shell_command`) carries beside its `command`,
/// which is shown to the user and never run (its words read as a command denied `ls -la
/// ~` described as "List files in home directory ~").
fn guarded_args(args: &Value) -> std::borrow::Cow<'_, Value> {
    match args {
        Value::Object(fields)
            if fields.contains_key("command") && fields.contains_key("description") =>
        {
            let mut fields = fields.clone();
            fields.remove("description");
            std::borrow::Cow::Owned(Value::Object(fields))
        }
        _ => std::borrow::Cow::Borrowed(args),
    }
}

/// The text a file tool puts into the file it names, never a path it writes: Claude Code's
/// `Write` content, `Edit` and `MultiEdit` strings and `NotebookEdit` source, Gemini CLI's
/// `write_file` content and `replace` strings (red team round 20, hooks FP1: an edit of
/// `~1.2.3` to `^1.3.0`, of `...` to `..` or `\\` to `/` was taken for a write of those
/// paths and denied). Every other string of such a tool, and of any other tool, is still
/// taken for a path it may write.
const TEXT_FIELDS: [(&str, &[&str]); 6] = [
    ("Write", &["content"]),
    ("Edit", &["old_string", "new_string"]),
    ("MultiEdit", &["old_string", "new_string"]),
    ("NotebookEdit", &["new_source"]),
    ("write_file", &["content"]),
    ("replace", &["old_string", "new_string", "instruction"]),
];

/// `args` without the text fields of a file tool ([`TEXT_FIELDS`]), at any depth (`MultiEdit`'s
/// `edits`).
fn without_text<'a>(action: &str, args: &'a Value) -> std::borrow::Cow<'a, Value> {
    fn strip(value: &mut Value, fields: &[&str]) {
        match value {
            Value::Object(map) => {
                map.retain(|key, _| !fields.contains(&key.as_str()));
                map.values_mut().for_each(|v| strip(v, fields));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| strip(v, fields)),
            _ => {}
        }
    }
    match TEXT_FIELDS.iter().find(|(tool, _)| *tool == action) {
        Some((_, fields)) => {
            let mut args = args.clone();
            strip(&mut args, fields);
            std::borrow::Cow::Owned(args)
        }
        None => std::borrow::Cow::Borrowed(args),
    }
}

/// `command` analysed, with what reading the scripts it sources settles, and their texts
/// (`sourced::settle`).
fn analyse_line(command: &str, cwd: &Path) -> Result<(Analysis, Vec<String>), String> {
    let mut analysis = aecl_core::shell::analyse_line(command)?;
    let read = sourced::settle(command, &mut analysis, cwd);
    Ok((analysis, read))
}

/// Every command line in `args`: each string, and each array of strings joined as one
/// line (Codex's `shell` takes its command as an argv), each word quoted.
fn command_lines(args: &Value) -> Vec<String> {
    let mut out = Vec::new();
    visit_values(args, &mut |value| match value {
        Value::String(text) => out.push(text.clone()),
        list => out.extend(aecl_core::shell::argv_line(list)),
    });
    out
}

/// The program guards of every shell constraint of `action` in `policy`.
fn shell_guards<'p>(policy: &'p Policy, action: &str) -> Vec<&'p ProgramGuard> {
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

fn visit_strings<'v>(value: &'v Value, visit: &mut impl FnMut(&'v str)) {
    visit_values(value, &mut |v| {
        if let Value::String(text) = v {
            visit(text);
        }
    });
}

fn visit_values<'v>(value: &'v Value, visit: &mut impl FnMut(&'v Value)) {
    visit(value);
    match value {
        Value::Array(items) => items.iter().for_each(|item| visit_values(item, visit)),
        Value::Object(map) => map.values().for_each(|item| visit_values(item, visit)),
        _ => {}
    }
}
