//! Readers for tools whose options decide by their value what they do: pytest's `-p`
//! (a plugin, or `no:NAME` to disable one), `-o KEY=VALUE` (any ini setting, `addopts`
//! and `pythonpath` among them) and `-W` filters (whose category is imported);
//! argparse's `@FILE` (more options read from a file: mypy); cloc's `--vcs` (a command
//! unless it names git or svn); `file -C`, which compiles magic files into the current
//! directory; eslint's `-f` (a built-in formatter, or a module it loads); `npm pkg set`
//! (a script or a dependency is code npm runs later); node's and deno's debugger address
//! and deno's remote scripts.

use super::ShellArg;
use super::finding::Finding;
use super::scan::Scanned;

/// pytest ini settings that change only how results are shown or which tests run among
/// those collected: any other (`addopts`, `pythonpath`, `required_plugins`,
/// `testpaths`, `confcutdir`, `cache_dir`, ...) loads code or writes.
const PYTEST_PLAIN_SETTINGS: [&str; 17] = [
    "log_cli",
    "log_cli_level",
    "log_cli_format",
    "log_cli_date_format",
    "log_level",
    "log_format",
    "log_date_format",
    "console_output_style",
    "xfail_strict",
    "junit_family",
    "junit_suite_name",
    "junit_logging",
    "junit_duration_report",
    "empty_parameter_set_mark",
    "asyncio_mode",
    "verbosity_assertions",
    "verbosity_test_cases",
];

/// pytest: `-p NAME` loads a plugin, `-o` sets any ini value, `-W` imports a warning
/// category, `--cov-report TYPE:PATH` writes PATH.
pub(super) fn pytest(scanned: &Scanned, out: &mut Vec<Finding>) {
    for plugin in scanned.values(&["-p"]) {
        if !(plugin.is_known() && plugin.text.starts_with("no:")) {
            out.push(Finding::RunsCode(format!("`-p {}` loads a plugin", plugin.raw)));
        }
    }
    for setting in scanned.values(&["-o", "--override-ini"]) {
        let key = setting.text.split('=').next().unwrap_or_default().trim();
        let value = setting.text.split_once('=').map(|(_, v)| v);
        match (setting.is_known(), key, value) {
            (true, "cache_dir", Some(dir)) => out.push(Finding::Writes(ShellArg {
                text: dir.to_owned(),
                raw: dir.to_owned(),
                ..setting.clone()
            })),
            (true, key, _) if PYTEST_PLAIN_SETTINGS.contains(&key) => {}
            _ => out.push(Finding::RunsCode(format!(
                "`-o {}` overrides a setting that loads code or writes",
                setting.raw
            ))),
        }
    }
    warning_filters(scanned.values(&["-W", "--pythonwarnings"]), out);
    for report in scanned.values(&["--cov-report"]) {
        if let Some((_, path)) = report.text.split_once(':') {
            out.push(Finding::Writes(ShellArg {
                text: path.to_owned(),
                raw: path.to_owned(),
                ..report.clone()
            }));
        } else if !report.is_known() {
            out.push(Finding::Writes(report.clone()));
        }
    }
}

/// Python's warning filters (`-W ACTION:MESSAGE:CATEGORY:MODULE:LINE`): a dotted category
/// is imported, which runs its module.
pub(super) fn warning_filters<'a>(
    filters: impl Iterator<Item = &'a ShellArg>,
    out: &mut Vec<Finding>,
) {
    for filter in filters {
        let category = filter.text.split(':').nth(2).unwrap_or_default();
        if !filter.is_known() || category.contains('.') {
            out.push(Finding::RunsCode(format!(
                "the warning filter `{}` imports the module of its category",
                filter.raw
            )));
        }
    }
}

/// argparse programs built with `fromfile_prefix_chars='@'` (mypy) read more options from
/// `@FILE`: any option, the ones that run code included.
pub(super) fn options_files(scanned: &Scanned, out: &mut Vec<Finding>) {
    if let Some(file) = scanned.positionals.iter().find(|p| p.text.starts_with('@')) {
        out.push(Finding::RunsCode(format!(
            "`{}` reads more options from a file the line does not show",
            file.raw
        )));
    }
}

/// cloc: `--vcs=CMD` hands CMD to the shell to list the files, unless it is `git`, `svn`
/// or `auto`.
pub(super) fn cloc(scanned: &Scanned, out: &mut Vec<Finding>) {
    // cloc reads `--extract_with` as `--extract-with`, and any option from `--config FILE`
    // or its default configuration file: spelled so, what it does is not read here.
    for option in &scanned.options {
        if let Some(name) = option.names.iter().find(|n| n.starts_with("--") && n.contains('_')) {
            out.push(Finding::RunsCode(format!(
                "cloc reads `{name}` as `{}`, which is not checked in that spelling",
                name.replace('_', "-")
            )));
        }
    }
    if scanned.has(&["--config"]) {
        out.push(Finding::RunsCode(
            "`cloc --config` reads options (`extract_with`) from a file".to_owned(),
        ));
    }
    for vcs in scanned.values(&["--vcs"]) {
        if !(vcs.is_known() && matches!(vcs.text.as_str(), "git" | "svn" | "auto")) {
            out.push(Finding::RunsCode(format!("`--vcs {}` runs a shell command", vcs.raw)));
        }
    }
}

/// `file -C` compiles each magic file (`-m A:B`, else the default `magic`) into
/// `NAME.mgc` in the current directory.
pub(super) fn file(scanned: &Scanned, out: &mut Vec<Finding>) {
    if !scanned.has(&["-C", "--compile"]) {
        return;
    }
    let mut lists = scanned.values(&["-m", "--magic-file"]).peekable();
    if lists.peek().is_none() {
        out.push(Finding::Writes(ShellArg::known("magic.mgc")));
        return;
    }
    for list in lists {
        if !list.is_known() {
            out.push(Finding::Writes(ShellArg {
                raw: format!("the `.mgc` files `-m {}` names", list.raw),
                expansion: true,
                ..ShellArg::default()
            }));
            continue;
        }
        for magic in list.text.split(':').filter(|m| !m.is_empty()) {
            let name = magic.trim_end_matches('/').rsplit('/').next().unwrap_or(magic);
            out.push(Finding::Writes(ShellArg::known(&format!("{name}.mgc"))));
        }
    }
}

/// The formatters eslint has built in (8 and 9); any other `-f` value is a module eslint
/// loads: a path, or the package `eslint-formatter-NAME`.
const ESLINT_FORMATTERS: [&str; 11] = [
    "stylish",
    "json",
    "json-with-metadata",
    "html",
    "checkstyle",
    "compact",
    "jslint-xml",
    "junit",
    "tap",
    "unix",
    "visualstudio",
];

/// eslint's `-f FORMATTER`.
pub(super) fn eslint(scanned: &Scanned, out: &mut Vec<Finding>) {
    for format in scanned.values(&["-f", "--format"]) {
        if !format.is_known() || !ESLINT_FORMATTERS.contains(&format.text.as_str()) {
            out.push(Finding::RunsCode(format!(
                "the formatter `{}` is a module eslint loads",
                format.raw
            )));
        }
    }
}

/// `package.json` fields that npm runs nothing from: any other (`scripts`, `bin`, the
/// dependencies, `overrides`, `packageManager`, `config`, `workspaces`...) is code that
/// `npm test`, an install or corepack runs later.
const NPM_PLAIN_FIELDS: [&str; 15] = [
    "name",
    "version",
    "description",
    "keywords",
    "homepage",
    "bugs",
    "license",
    "author",
    "contributors",
    "funding",
    "repository",
    "private",
    "engines",
    "files",
    "type",
];

/// `npm pkg set KEY=VALUE...` (the words after `pkg`).
pub(super) fn npm_pkg(scanned: &Scanned, out: &mut Vec<Finding>) {
    let mut words = scanned.positionals.iter().skip(1);
    let Some(action) = words.next() else { return };
    if action.is_known() && action.text != "set" {
        return;
    }
    for setting in words {
        let field = setting.text.split(['=', '.', '[']).next().unwrap_or_default();
        if !setting.is_known() || !NPM_PLAIN_FIELDS.contains(&field) {
            out.push(Finding::RunsCode(format!(
                "`npm pkg set {}` changes what npm runs later",
                setting.raw
            )));
        }
    }
}

/// node's script when it is a package manager's own, and its env file from outside the
/// project; then its debugger.
pub(super) fn node(scanned: &Scanned, out: &mut Vec<Finding>) {
    // The package managers' own entry scripts (`node .../npm/bin/npm-cli.js exec X`) are
    // those programs, with their ways of running code.
    const MANAGERS: [&str; 6] =
        ["npm-cli.js", "npx-cli.js", "pnpm.cjs", "pnpm.js", "yarn.js", "yarn.cjs"];
    if let Some(script) = scanned.positionals.first()
        && MANAGERS.iter().any(|m| script.text.rsplit('/').next() == Some(*m))
    {
        out.push(Finding::RunsCode(format!("`{}` is a package manager's program", script.raw)));
    }
    // An env file may set NODE_OPTIONS (`--require=M`): the project's own is its code,
    // one elsewhere is not.
    for file in scanned.values(&["--env-file", "--env-file-if-exists"]) {
        if !file.is_known() || !super::variable_values::inside_project(&file.text) {
            out.push(Finding::RunsCode(format!(
                "the env file `{}` may set NODE_OPTIONS",
                file.raw
            )));
        }
    }
    debugger(scanned, out);
}

/// `--inspect[=[HOST:]PORT]` and its kin open a debugger, which runs any code it is sent:
/// on an address other than the loopback one, for whoever reaches it.
pub(super) fn debugger(scanned: &Scanned, out: &mut Vec<Finding>) {
    const OPTIONS: [&str; 5] =
        ["--inspect", "--inspect-brk", "--inspect-wait", "--inspect-port", "--debug-port"];
    for address in scanned.values(&OPTIONS) {
        let host = match address.text.rsplit_once(':') {
            Some((host, _)) => host,
            None if address.text.bytes().all(|b| b.is_ascii_digit()) => "127.0.0.1",
            None => address.text.as_str(),
        };
        let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1");
        if !address.is_known() || !loopback {
            out.push(Finding::RunsCode(format!(
                "the debugger listens on `{}`, beyond this machine",
                address.raw
            )));
        }
    }
}

/// deno runs a script from a registry or a URL as readily as a file (`deno run npm:x`,
/// `deno test https://...`): code of the caller's choosing.
pub(super) fn deno(scanned: &Scanned, out: &mut Vec<Finding>) {
    debugger(scanned, out);
    let mut words = scanned.positionals.iter();
    let Some(subcommand) = words.next() else { return };
    let runs = ["run", "test", "bench", "serve", "install", "compile", "check", "cache", "info"];
    if subcommand.is_known() && !runs.contains(&subcommand.text.as_str()) {
        return;
    }
    // The script; the words after it are its own arguments.
    let Some(script) = words.next() else { return };
    let text = script.text.to_ascii_lowercase();
    let remote = ["npm:", "jsr:", "http:", "https:", "data:"].iter().any(|s| text.starts_with(s));
    if remote || !script.is_known() {
        out.push(Finding::RunsCode(format!("deno loads `{}` from elsewhere", script.raw)));
    }
}

/// tsc's project outside the working tree (`-p /tmp/tsconfig.json`, `--build ../x`): its
/// configuration names where the output goes (`outDir`, `declarationDir`), anywhere,
/// so the build writes a path only known at run time (red team, 2026-11-30).
pub(super) fn tsc(scanned: &Scanned, out: &mut Vec<Finding>) {
    let build = scanned.has(&["-b", "-build"]);
    let projects =
        scanned.values(&["-p", "-project"]).chain(scanned.positionals.iter().filter(|_| build));
    for project in projects {
        if !project.is_known() || !super::variable_values::inside_project(&project.text) {
            out.push(Finding::Writes(ShellArg {
                raw: format!("the outputs the project `{}` names", project.raw),
                expansion: true,
                ..ShellArg::default()
            }));
        }
    }
}
