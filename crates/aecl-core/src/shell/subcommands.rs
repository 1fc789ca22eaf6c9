//! Which words of a command are its subcommands, as the program itself reads them: npm
//! takes any unambiguous prefix of a command, its aliases and typos (`npm pub` is `npm
//! publish`, `npm inst` is `npm install`, `npm confi` is `npm config`), and installers
//! have namespaces whose second word is the subcommand (`uv pip install`, `poetry self
//! add`, `conda env create`, `composer global require`, `pnpm recursive exec`, `yarn
//! workspace NAME exec`). The table's subcommand lists
//! hold canonical names; a word the program would read as a command aecl cannot name is
//! refused.

use super::ShellArg;

/// The subcommand words of `program`'s positionals that the table's lists are matched
/// against: the canonical name of the first (`""` when there is none: a bare `bundle`
/// installs) and, after a namespace word, the second. `Err` when the first word is one
/// the program resolves in a way aecl does not know.
pub(super) fn words(program: &str, positionals: &[ShellArg]) -> Result<Vec<String>, String> {
    let Some(first) = positionals.first() else { return Ok(vec![String::new()]) };
    if !first.is_known() {
        return Ok(vec![first.text.clone()]);
    }
    let name = if program == "npm" {
        match npm_command(&first.text) {
            Some(command) => command.to_owned(),
            None => {
                return Err(format!(
                    "npm reads `{}` as a command aecl does not know (npm takes any unambiguous \
                     prefix of a command)",
                    first.raw
                ));
            }
        }
    } else {
        first.text.clone()
    };
    let mut out = vec![name.clone()];
    // `yarn workspace NAME CMD`: the word after the workspace's name.
    let at = if matches!(program, "yarn") && name == "workspace" { 2 } else { 1 };
    if namespaces(program).contains(&name.as_str())
        && let Some(second) = positionals.get(at)
    {
        if !second.is_known() {
            return Err(format!(
                "the subcommand `{} {}` is only known at run time",
                first.raw, second.raw
            ));
        }
        out.push(second.text.clone());
        // `yarn workspaces foreach [-A] CMD`: the command run in each workspace.
        if program == "yarn"
            && second.text == "foreach"
            && let Some(third) = positionals.get(at + 1)
        {
            out.push(if third.is_known() { third.text.clone() } else { "exec".to_owned() });
        }
    }
    Ok(out)
}

/// Namespace words whose next word is the subcommand.
fn namespaces(program: &str) -> &'static [&'static str] {
    match program {
        "uv" => &["pip", "tool", "python", "self", "cache"],
        "poetry" => &["self", "env", "source", "cache", "debug"],
        "conda" | "mamba" | "micromamba" => &["env", "pkg"],
        "composer" => &["global"],
        "go" => &["mod"],
        // pnpm's `recursive` (`m`, `multi`) runs a command in every package of the
        // workspace; yarn's `workspace NAME` and `workspaces foreach` likewise.
        "pnpm" => &["global", "pm", "recursive", "m", "multi"],
        "yarn" => &["global", "pm", "workspace", "workspaces"],
        "bun" => &["global", "pm"],
        _ => &[],
    }
}

/// npm's commands (npm 11, `lib/utils/cmd-list.js`).
const NPM_COMMANDS: [&str; 73] = [
    "access",
    "adduser",
    "approve-scripts",
    "audit",
    "bugs",
    "cache",
    "ci",
    "completion",
    "config",
    "dedupe",
    "deny-scripts",
    "deprecate",
    "diff",
    "dist-tag",
    "docs",
    "doctor",
    "edit",
    "exec",
    "explain",
    "explore",
    "find-dupes",
    "fund",
    "get",
    "help",
    "help-search",
    "init",
    "install",
    "install-ci-test",
    "install-scripts",
    "install-test",
    "link",
    "ll",
    "login",
    "logout",
    "ls",
    "org",
    "outdated",
    "owner",
    "pack",
    "ping",
    "pkg",
    "prefix",
    "profile",
    "prune",
    "publish",
    "query",
    "rebuild",
    "repo",
    "restart",
    "root",
    "run",
    "sbom",
    "search",
    "set",
    "shrinkwrap",
    "stage",
    "star",
    "stars",
    "start",
    "stop",
    "team",
    "test",
    "token",
    "trust",
    "undeprecate",
    "uninstall",
    "unpublish",
    "unstar",
    "update",
    "version",
    "view",
    "whoami",
    // npm 8's, which a prefix there reaches.
    "set-script",
];

/// npm's aliases, each with the command it stands for.
const NPM_ALIASES: [(&str, &str); 57] = [
    ("author", "owner"),
    ("home", "docs"),
    ("issues", "bugs"),
    ("info", "view"),
    ("show", "view"),
    ("find", "search"),
    ("add", "install"),
    ("unlink", "uninstall"),
    ("remove", "uninstall"),
    ("rm", "uninstall"),
    ("r", "uninstall"),
    ("un", "uninstall"),
    ("rb", "rebuild"),
    ("list", "ls"),
    ("ln", "link"),
    ("create", "init"),
    ("i", "install"),
    ("it", "install-test"),
    ("cit", "install-ci-test"),
    ("u", "update"),
    ("up", "update"),
    ("c", "config"),
    ("s", "search"),
    ("se", "search"),
    ("tst", "test"),
    ("t", "test"),
    ("ddp", "dedupe"),
    ("v", "view"),
    ("run-script", "run"),
    ("clean-install", "ci"),
    ("clean-install-test", "install-ci-test"),
    ("x", "exec"),
    ("why", "explain"),
    ("la", "ll"),
    ("verison", "version"),
    ("ic", "ci"),
    ("innit", "init"),
    ("in", "install"),
    ("ins", "install"),
    ("inst", "install"),
    ("insta", "install"),
    ("instal", "install"),
    ("isnt", "install"),
    ("isnta", "install"),
    ("isntal", "install"),
    ("isntall", "install"),
    ("install-clean", "ci"),
    ("isntall-clean", "ci"),
    ("hlep", "help"),
    ("dist-tags", "dist-tag"),
    ("upgrade", "update"),
    ("udpate", "update"),
    ("rum", "run"),
    ("sit", "install-ci-test"),
    ("urn", "run"),
    ("ogr", "org"),
    ("add-user", "adduser"),
];

/// The command npm runs for `word`, as its `deref` finds it: camelCase made kebab-case,
/// an exact command, an alias, or the one command or alias `word` is a prefix of (an
/// alias then followed to its command). `None` when npm would find none or aecl cannot
/// tell which.
pub(super) fn npm_command(word: &str) -> Option<&'static str> {
    let mut kebab = String::with_capacity(word.len() + 4);
    for c in word.chars() {
        if c.is_ascii_uppercase() {
            kebab.push('-');
            kebab.push(c.to_ascii_lowercase());
        } else {
            kebab.push(c);
        }
    }
    let word = kebab.as_str();
    if word.is_empty() {
        return None;
    }
    if let Some(command) = NPM_COMMANDS.iter().find(|c| **c == word) {
        return Some(command);
    }
    let alias = |name: &str| NPM_ALIASES.iter().find(|(a, _)| *a == name).map(|(_, c)| *c);
    if let Some(command) = alias(word) {
        return Some(command);
    }
    // `abbrev`: a prefix of exactly one name (commands and aliases together).
    let names = NPM_COMMANDS.iter().copied().chain(NPM_ALIASES.iter().map(|(a, _)| *a));
    let mut found: Option<&'static str> = None;
    for name in names.filter(|n| n.starts_with(word)) {
        match found {
            Some(other) if other != name => return None,
            _ => found = Some(name),
        }
    }
    let name = found?;
    Some(alias(name).unwrap_or(name))
}

/// The commands of yarn (1 and berry), pnpm and bun. Any other first word runs the
/// project's script of that name or, failing that, a program: the package's binary or the
/// system's (`pnpm eslint -f f.js`, `pnpm sh -c CMD`).
const JS_MANAGER_COMMANDS: [&str; 98] = [
    "access",
    "add",
    "adduser",
    "approve-builds",
    "audit",
    "autoclean",
    "bin",
    "build",
    "bun",
    "c",
    "cache",
    "cat-file",
    "cat-index",
    "check",
    "ci",
    "config",
    "constraints",
    "create",
    "dedupe",
    "deploy",
    "dlx",
    "doctor",
    "dist-tag",
    "env",
    "exec",
    "explain",
    "fetch",
    "find-hash",
    "generate-lock-entry",
    "global",
    "help",
    "i",
    "import",
    "info",
    "init",
    "install",
    "install-test",
    "it",
    "licenses",
    "link",
    "list",
    "ln",
    "login",
    "logout",
    "ls",
    "m",
    "multi",
    "node",
    "npm",
    "outdated",
    "owner",
    "pack",
    "patch",
    "patch-commit",
    "patch-remove",
    "plugin",
    "pm",
    "policies",
    "prune",
    "publish",
    "r",
    "rb",
    "rebuild",
    "recursive",
    "remove",
    "repl",
    "rm",
    "root",
    "run",
    "run-script",
    "sbom",
    "search",
    "self-update",
    "server",
    "set",
    "setup",
    "stage",
    "start",
    "store",
    "t",
    "tag",
    "team",
    "test",
    "tst",
    "un",
    "uninstall",
    "unlink",
    "unplug",
    "up",
    "update",
    "upgrade",
    "upgrade-interactive",
    "version",
    "versions",
    "why",
    "workspace",
    "workspaces",
    "x",
];

/// Whether `word`, first after yarn's, pnpm's or bun's options, is one of their commands
/// rather than a script or program name.
pub(super) fn is_js_manager_command(word: &str) -> bool {
    JS_MANAGER_COMMANDS.contains(&word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npm_resolves_prefixes_aliases_and_camel_case_as_npm_does() {
        for (word, command) in [
            ("pub", "publish"),
            ("publ", "publish"),
            ("unpub", "unpublish"),
            ("dep", "deprecate"),
            ("confi", "config"),
            ("c", "config"),
            ("inst", "install"),
            ("rb", "rebuild"),
            ("rebu", "rebuild"),
            ("exe", "exec"),
            ("it", "install-test"),
            ("sit", "install-ci-test"),
            ("u", "update"),
            ("udpate", "update"),
            ("installTest", "install-test"),
            ("ln", "link"),
            ("add-user", "adduser"),
            ("logi", "login"),
            ("test", "test"),
            ("run", "run"),
            ("ci", "ci"),
            ("install-cl", "ci"),
        ] {
            assert_eq!(npm_command(word), Some(command), "{word}");
        }
        // Ambiguous prefixes and unknown words resolve to nothing.
        for word in ["", "p", "st", "un-x", "nonesuch", "de"] {
            assert_eq!(npm_command(word), None, "{word}");
        }
    }
}
