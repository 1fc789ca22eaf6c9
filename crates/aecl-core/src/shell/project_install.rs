//! An install of the project's own dependencies, which runs the project's code as a bare
//! `npm install` does (its build backend, the packages its files list) and which the table
//! does not count as running code of the caller's choosing: `pip install -r
//! requirements.txt`, `pip install -e .`, `pip install .` and `uv pip install` alike, with
//! paths inside the project (red team round 25, hooks FP4). Installing a package the line names (`pip install
//! requests`, a URL, `git+https://...`) or from another index (`-i`, `--extra-index-url`,
//! `-f`) still runs code of the caller's choosing. `go generate` and `go run` of the
//! project's own package run its code as `go test` does.

use super::ShellArg;
use super::scan::Scanned;

/// Options of `pip install` that install nothing else and fetch from nowhere else.
const PLAIN_OPTIONS: [&str; 20] = [
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-e",
    "--editable",
    "-U",
    "--upgrade",
    "-q",
    "--quiet",
    "-v",
    "--verbose",
    "--no-deps",
    "--no-cache-dir",
    "--user",
    "--require-hashes",
    "--no-build-isolation",
    "--disable-pip-version-check",
    "--progress-bar",
    "--break-system-packages",
];

/// Whether the subcommand words `names` of `program`, with `scanned`'s words, install
/// only what the project's own files list (see the module documentation).
pub(super) fn installs_the_project(program: &str, names: &[String], scanned: &Scanned) -> bool {
    // `npm init` without an initializer (`npm init -y`) writes a `package.json` and runs
    // nothing; `npm init NAME` runs the package `create-NAME` (round 26, hooks FP3). Its
    // options are judged on their own (`--init-module` runs code).
    if matches!(program, "npm" | "pnpm" | "yarn" | "bun") && names == ["init"] {
        return scanned.positionals.len() == 1 && !scanned.unknown_option;
    }
    // `go generate` runs what the project's own `//go:generate` lines say, and `go run` of
    // the project's package or files builds and runs them, as `go test` runs its tests
    // (round 26, hooks FP3); `go run MODULE@VERSION` fetches code of the caller's choosing.
    if program == "go" && (names == ["generate"] || names == ["run"]) {
        let operands = scanned.positionals.get(1..).unwrap_or_default();
        return !scanned.unknown_option
            && match names == ["run"] {
                true => operands.first().is_some_and(is_local_package),
                false => operands.iter().all(is_local_package),
            };
    }
    let is_pip = is_pip(program) && names == ["install"];
    let is_uv_pip = program == "uv" && names == ["pip", "install"];
    if !(is_pip || is_uv_pip) {
        return false;
    }
    let options_plain = scanned.options.iter().all(|option| {
        option.names.iter().all(|name| PLAIN_OPTIONS.contains(&name.as_str()))
            && option.value.as_ref().is_none_or(|value| is_local(value) || !takes_path(option))
    });
    let operands = scanned.positionals.iter().skip(names.len());
    options_plain && !scanned.unknown_option && operands.into_iter().all(is_local)
}

/// What `pip install --user` (or `uv pip install --user`) writes: the user's install base
/// (`~/.local` on Linux), where a package's data files, scripts and `.pth` files go
/// wherever the package says beneath it (red team round 30, shell F1: a wheel wrote into
/// `~/.local/state`, over `~/.local/bin/aecl` and a `.pth` run at every start). A place
/// only known at run time.
pub(super) fn user_base_written(
    program: &str,
    names: &[String],
    scanned: &Scanned,
) -> Option<ShellArg> {
    let installs = (is_pip(program) && names == ["install"])
        || (program == "uv" && names == ["pip", "install"]);
    (installs && scanned.has_abbreviated(&["--user"])).then(|| ShellArg {
        raw: "the user's install base (`--user`)".to_owned(),
        expansion: true,
        ..ShellArg::default()
    })
}

/// pip by any of its names (`pip`, `pip3`, `pip3.11`).
pub(super) fn is_pip(program: &str) -> bool {
    matches!(program, "pip" | "pip3")
        || program
            .strip_prefix("pip3.")
            .is_some_and(|minor| !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether an option's value is a file to read (`-r FILE`, `-c FILE`, `-e PATH`).
fn takes_path(option: &super::scan::ScannedOption) -> bool {
    option.names.iter().any(|n| {
        matches!(n.as_str(), "-r" | "--requirement" | "-c" | "--constraint" | "-e" | "--editable")
    })
}

/// A path inside the project, spelt as one (`.`, `./pkg`, `sub/dir`, `requirements.txt`):
/// not a package name, a URL or a VCS reference, nor a directory elsewhere (`../x`,
/// `/tmp/x`), whose code is whatever was put there.
fn is_local(arg: &ShellArg) -> bool {
    let text = arg.text.as_str();
    let inside = !text.starts_with('/')
        && !text.starts_with('~')
        && !text.split('/').any(|part| part == "..");
    // A built archive (`./evil-1.0-py3-none-any.whl`) is a package of its own, whose
    // files land where it says, not the project's source.
    let archive = [".whl", ".tar.gz", ".tgz", ".zip", ".egg", ".tar.bz2"]
        .iter()
        .any(|ext| text.to_ascii_lowercase().ends_with(ext));
    arg.is_known()
        && inside
        && !archive
        && !text.contains("://")
        && !text.contains('@')
        && !text.starts_with("git+")
        && (text.starts_with('.') || text.contains('/') || is_file(text))
}

/// A Go package or source file inside the project (`.`, `./cmd/app`, `./...`, `main.go`).
fn is_local_package(arg: &ShellArg) -> bool {
    let text = arg.text.as_str();
    arg.is_known()
        && !text.starts_with(['/', '~'])
        && !text.split('/').any(|part| part == "..")
        && !text.contains("://")
        && !text.contains('@')
        && (text.starts_with('.') || text.ends_with(".go"))
}

/// A requirements or constraints file name (`requirements.txt`, `dev-requirements.in`).
fn is_file(text: &str) -> bool {
    [".txt", ".in", ".cfg", ".toml"].iter().any(|ext| text.ends_with(ext))
}
