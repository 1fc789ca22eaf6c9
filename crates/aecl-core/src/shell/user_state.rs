//! Subcommands of package managers that write the user's own state rather than the
//! project's: caches, registry credentials, installed programs and runtimes. They name
//! no path, but each writes under the home directory (`cargo uninstall` deletes from
//! `~/.cargo/bin`, `npm logout` rewrites `~/.npmrc`, `pip cache purge` empties
//! `~/.cache/pip`), so each is a write of a path only known at run time, which a policy's
//! write paths judge like `> ~/.bashrc`.

use super::ShellArg;
use super::finding::Finding;
use super::scan::Scanned;
use super::subcommands;

/// One subcommand that writes the user's state.
struct UserState {
    programs: &'static [&'static str],
    /// The subcommand, as the program reads it (`subcommands.rs`: `npm cach` is `cache`).
    subcommand: &'static str,
    /// Next words that only read (`npm cache ls`), or options that move the write into a
    /// directory the line names, judged as such (`cargo uninstall --root DIR`).
    unless: &'static [&'static str],
    /// Options without which the subcommand only changes the project (`deno install`
    /// adds a dependency, `deno install -g` a program to `~/.deno/bin`); none: always.
    with: &'static [&'static str],
    what: &'static str,
}

const CARGO_BIN: &str = "cargo's installed programs (~/.cargo/bin)";
const CARGO_CREDENTIALS: &str = "cargo's registry credentials (~/.cargo/credentials.toml)";
const NPMRC: &str = "npm's user configuration (~/.npmrc)";
const DENO_BIN: &str = "deno's installed scripts (~/.deno/bin)";
const DENO_EXECUTABLE: &str = "deno's own executable";
const PIPX: &str = "pipx's environments and programs (~/.local/pipx, ~/.local/bin)";

const TABLE: [UserState; 32] = [
    UserState {
        programs: &["cargo"],
        subcommand: "uninstall",
        unless: &["--root"],
        with: &[],
        what: CARGO_BIN,
    },
    UserState {
        programs: &["cargo"],
        subcommand: "login",
        unless: &[],
        with: &[],
        what: CARGO_CREDENTIALS,
    },
    UserState {
        programs: &["cargo"],
        subcommand: "logout",
        unless: &[],
        with: &[],
        what: CARGO_CREDENTIALS,
    },
    UserState {
        programs: &["npm"],
        subcommand: "cache",
        unless: &["ls", "info"],
        with: &[],
        what: "npm's cache (~/.npm)",
    },
    UserState { programs: &["npm"], subcommand: "login", unless: &[], with: &[], what: NPMRC },
    UserState { programs: &["npm"], subcommand: "adduser", unless: &[], with: &[], what: NPMRC },
    UserState { programs: &["npm"], subcommand: "logout", unless: &[], with: &[], what: NPMRC },
    UserState {
        programs: &["pip", "pip3"],
        subcommand: "cache",
        unless: &["dir", "info", "list"],
        with: &[],
        what: "pip's cache (~/.cache/pip)",
    },
    UserState {
        programs: &["uv"],
        subcommand: "cache",
        unless: &["dir"],
        with: &[],
        what: "uv's cache (~/.cache/uv)",
    },
    UserState {
        programs: &["uv"],
        subcommand: "python",
        unless: &["find", "list", "dir", "pin"],
        with: &[],
        what: "uv's Python installations (~/.local/share/uv/python)",
    },
    UserState { programs: &["pipx"], subcommand: "uninstall", unless: &[], with: &[], what: PIPX },
    UserState {
        programs: &["pipx"],
        subcommand: "uninstall-all",
        unless: &[],
        with: &[],
        what: PIPX,
    },
    UserState { programs: &["pipx"], subcommand: "uninject", unless: &[], with: &[], what: PIPX },
    UserState {
        programs: &["poetry"],
        subcommand: "cache",
        unless: &["list"],
        with: &[],
        what: "poetry's cache (~/.cache/pypoetry)",
    },
    UserState {
        programs: &["yarn", "pnpm", "bun"],
        subcommand: "cache",
        unless: &["dir", "list", "ls"],
        with: &[],
        what: "the package manager's cache",
    },
    UserState {
        programs: &["pnpm"],
        subcommand: "store",
        unless: &["path", "status"],
        with: &[],
        what: "pnpm's package store",
    },
    UserState {
        programs: &["gem"],
        subcommand: "cleanup",
        unless: &[],
        with: &[],
        what: "the installed gems (gem cleanup)",
    },
    UserState {
        programs: &["composer"],
        subcommand: "clear-cache",
        unless: &[],
        with: &[],
        what: "composer's cache",
    },
    UserState {
        programs: &["composer"],
        subcommand: "clearcache",
        unless: &[],
        with: &[],
        what: "composer's cache",
    },
    UserState {
        programs: &["composer"],
        subcommand: "cc",
        unless: &[],
        with: &[],
        what: "composer's cache",
    },
    UserState {
        programs: &["bundle", "bundler"],
        subcommand: "clean",
        unless: &[],
        with: &[],
        what: "the installed gems (bundle clean)",
    },
    UserState {
        programs: &["deno"],
        subcommand: "clean",
        unless: &[],
        with: &[],
        what: "deno's cache (~/.cache/deno)",
    },
    UserState {
        programs: &["gem"],
        subcommand: "signout",
        unless: &[],
        with: &[],
        what: "the gem credentials (~/.gem/credentials)",
    },
    UserState {
        programs: &["gem"],
        subcommand: "cert",
        unless: &[],
        with: &[],
        what: "the trusted gem certificates (~/.gem/trust)",
    },
    UserState {
        programs: &["uv"],
        subcommand: "auth",
        unless: &[],
        with: &[],
        what: "uv's stored credentials",
    },
    UserState {
        programs: &["bat", "batcat"],
        subcommand: "cache",
        unless: &[],
        with: &[],
        what: "bat's cache (~/.cache/bat)",
    },
    UserState {
        programs: &["conda", "mamba", "micromamba"],
        subcommand: "clean",
        unless: &[],
        with: &[],
        what: "conda's package cache",
    },
    // The runtimes' own executables, replaced by a download (`--output F` writes F
    // instead; a dry run only checks).
    UserState {
        programs: &["deno"],
        subcommand: "upgrade",
        unless: &["--output", "--dry-run"],
        with: &[],
        what: DENO_EXECUTABLE,
    },
    UserState {
        programs: &["bun"],
        subcommand: "upgrade",
        unless: &[],
        with: &[],
        what: "bun's own executable (~/.bun/bin/bun)",
    },
    // deno's global scripts: a shim in `~/.deno/bin` (`--root DIR` puts it in DIR,
    // judged as a write there); without `-g` they change the project's dependencies.
    UserState {
        programs: &["deno"],
        subcommand: "install",
        unless: &["--root"],
        with: &["-g", "--global"],
        what: DENO_BIN,
    },
    UserState {
        programs: &["deno"],
        subcommand: "i",
        unless: &["--root"],
        with: &["-g", "--global"],
        what: DENO_BIN,
    },
    UserState {
        programs: &["deno"],
        subcommand: "uninstall",
        unless: &["--root"],
        with: &["-g", "--global"],
        what: DENO_BIN,
    },
];

/// Subcommands that change a setting of the user's only when given one of these words
/// (`go telemetry on`; a bare `go telemetry` prints the mode).
const SETTINGS: [(&str, &str, &[&str], &str); 1] =
    [("go", "telemetry", &["on", "off", "local"], "go's telemetry mode (~/.config/go/telemetry)")];

/// Options that write the user's state whatever the subcommand.
const OPTIONS: [(&[&str], &str, &str); 4] = [
    (&["bat", "batcat"], "--generate-config-file", "bat's configuration (~/.config/bat)"),
    (&["tldr"], "--update", "tldr's page cache"),
    (&["tldr"], "-u", "tldr's page cache"),
    (&["tldr"], "--seed-config", "tldr's configuration"),
];

/// Adds a write for a subcommand of `program` that changes the user's state.
pub(super) fn read(program: &str, scanned: &Scanned, out: &mut Vec<Finding>) {
    // `deno upgrade --help` prints and changes nothing.
    if scanned.has(&["--help", "-h"]) {
        return;
    }
    for (programs, option, what) in OPTIONS {
        if programs.contains(&program) && scanned.has(&[option]) {
            out.push(run_time_write(what));
        }
    }
    // Every command of a line passes here: only the tables' programs read their words.
    if !TABLE.iter().any(|e| e.programs.contains(&program))
        && !SETTINGS.iter().any(|(p, ..)| *p == program)
    {
        return;
    }
    let Some(words) = subcommands::words(program, &scanned.positionals).ok() else { return };
    // `pnpm pm store prune`, `bun pm cache rm`: `pm` only leads to the subcommand.
    let pm = matches!(program, "pnpm" | "bun") && words.first().is_some_and(|w| w == "pm");
    let Some(first) = words.get(usize::from(pm)).cloned() else { return };
    let next = scanned.positionals.get(1 + usize::from(pm));
    // A next word only known at run time may be any.
    let reads =
        |unless: &[&str]| next.is_some_and(|n| n.is_known() && unless.contains(&n.text.as_str()));
    let moved = |unless: &[&str]| unless.iter().any(|u| u.starts_with('-') && scanned.has(&[u]));
    for entry in TABLE.iter().filter(|e| e.programs.contains(&program)) {
        let with = entry.with.is_empty() || scanned.has(entry.with);
        if entry.subcommand == first && with && !reads(entry.unless) && !moved(entry.unless) {
            out.push(run_time_write(entry.what));
        }
    }
    for (_, subcommand, writes, what) in SETTINGS.iter().filter(|(p, ..)| *p == program) {
        // A word only known at run time may be any of them.
        let sets = next.is_some_and(|n| !n.is_known() || writes.contains(&n.text.as_str()));
        if *subcommand == first && sets {
            out.push(run_time_write(what));
        }
    }
}

/// A write of the user's state, at a path only known at run time.
fn run_time_write(what: &str) -> Finding {
    Finding::Writes(ShellArg { raw: what.to_owned(), expansion: true, ..ShellArg::default() })
}
