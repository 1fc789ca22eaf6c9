//! Readers for programs whose grammar the program table cannot express: git (global
//! options, subcommands, `config` keys, remote helpers), tar (old-style options, archive
//! and extraction targets), sed and awk scripts, `dd` operands, make overrides, python
//! modules, HTTP methods, ssh options and remote copies, `+COMMAND` words, package
//! installs, and the Rust toolchain (`rust_tools.rs`). Each adds findings to what the
//! table found.

use std::borrow::Cow;

use super::finding::Finding;
use super::git;
use super::programs::Special;
use super::rust_tools;
use super::scan::Scanned;
use super::scripts::{self, ScriptEffects};
use super::{ShellArg, archives, subcommands, tool_readers};

/// The words as the table should read them: tar's old-style first word (`tar cvf a.tar
/// dir`) becomes options, each value letter taking the next word; curl's long options are
/// named as curl reads them (`curl.rs`).
pub(super) fn prepare(special: Option<Special>, words: &[ShellArg]) -> Cow<'_, [ShellArg]> {
    const TAR_VALUE_LETTERS: &str = "fbCTXKNgVLHIF";
    if matches!(special, Some(Special::Cargo | Special::Rustc)) {
        return rust_tools::prepare(words);
    }
    if special == Some(Special::Curl) {
        return super::curl::prepare(words);
    }
    if special != Some(Special::Tar) {
        return Cow::Borrowed(words);
    }
    let Some((first, rest)) = words.split_first() else {
        return Cow::Borrowed(words);
    };
    if !first.is_known()
        || first.text.starts_with('-')
        || !first.text.chars().all(|c| c.is_ascii_alphabetic())
    {
        return Cow::Borrowed(words);
    }
    let mut out = Vec::new();
    let mut rest = rest.iter();
    for letter in first.text.chars() {
        out.push(ShellArg::known(&format!("-{letter}")));
        if TAR_VALUE_LETTERS.contains(letter)
            && let Some(value) = rest.next()
        {
            out.push(value.clone());
        }
    }
    out.extend(rest.cloned());
    Cow::Owned(out)
}

/// Whether the command runs a named module rather than reading code (`python -m`).
pub(super) fn runs_module(special: Option<Special>, scanned: &Scanned) -> bool {
    special == Some(Special::Python) && scanned.has(&["-m"])
}

/// Python modules that are tools, not a way to run arbitrary code.
/// (Not `doctest`: it runs the `>>>` lines of the file it is given.)
const PLAIN_MODULES: [&str; 7] =
    ["unittest", "venv", "json.tool", "py_compile", "compileall", "pydoc", "tabnanny"];

/// Python modules that are the programs of the same name in the table: `python3 -m
/// black FILE` is `black FILE`, which the analyser adds as a command of its own
/// (`unwrap/python.rs`) for its table entry to judge.
pub(super) const TOOL_MODULES: [&str; 11] = [
    "pytest", "mypy", "black", "ruff", "isort", "flake8", "pip", "pyright", "uv", "poetry", "pipx",
];

/// Adds the findings of a special reader.
pub(super) fn read(
    kind: Special,
    program: &str,
    words: &[ShellArg],
    scanned: &Scanned,
    in_place: bool,
    out: &mut Vec<Finding>,
) {
    match kind {
        Special::Git => git::read(words, out),
        Special::Cargo => rust_tools::read(true, words, scanned, out),
        Special::Rustc => rust_tools::read(false, words, scanned, out),
        Special::Tar => archives::tar(scanned, out),
        Special::Unzip => archives::unzip(scanned, out),
        Special::Patch => archives::patch(scanned, out),
        Special::Compressor => archives::compressor(program, scanned, out),
        Special::Pytest => tool_readers::pytest(scanned, out),
        Special::OptionsFiles => tool_readers::options_files(scanned, out),
        Special::Cloc => tool_readers::cloc(scanned, out),
        Special::File => tool_readers::file(scanned, out),
        Special::Sed => {
            sed(scanned, in_place, out);
            sed_backups(words, scanned, out);
        }
        Special::Awk => awk(scanned, out),
        Special::Dd => {
            for word in &scanned.positionals {
                if let Some(path) = word.text.strip_prefix("of=") {
                    let raw = word.raw.strip_prefix("of=").unwrap_or(&word.raw).to_owned();
                    out.push(Finding::Writes(ShellArg {
                        text: path.to_owned(),
                        raw,
                        ..word.clone()
                    }));
                } else if !word.is_known() && word.text.is_empty() {
                    out.push(Finding::Writes(word.clone()));
                }
            }
        }
        Special::Make => {
            const SHELL_VARIABLES: [&str; 7] =
                ["SHELL", ".SHELLFLAGS", "MAKESHELL", "MAKEFLAGS", "MFLAGS", "MAKEFILES", "MAKE"];
            for word in &scanned.positionals {
                let Some((name, value)) = word.text.split_once('=') else { continue };
                let metacharacters =
                    value.contains([' ', ';', '|', '&', '$', '`', '(', ')', '<', '>', '\n']);
                if SHELL_VARIABLES.contains(&name) || metacharacters || word.expansion {
                    out.push(Finding::RunsCode(format!(
                        "the override `{}` reaches recipes run by the shell",
                        word.raw
                    )));
                }
            }
        }
        Special::Python => {
            tool_readers::warning_filters(scanned.values(&["-W"]), out);
            for module in scanned.values(&["-m"]) {
                let args = &scanned.positionals;
                let name = module.text.as_str();
                if !module.is_known()
                    || !(PLAIN_MODULES.contains(&name) || TOOL_MODULES.contains(&name))
                {
                    out.push(Finding::RunsCode(format!("module `{}`", module.raw)));
                }
                match module.text.as_str() {
                    // `json.tool [--indent N] IN OUT` writes OUT: every word after the first
                    // may be it (an option's value shifts them).
                    "json.tool" => out.extend(args.iter().skip(1).cloned().map(Finding::Writes)),
                    // `venv DIR` makes DIR; `compileall PATH`, `py_compile FILE` write
                    // `__pycache__` beside what they compile.
                    "venv" | "compileall" | "py_compile" => out.extend(
                        args.iter()
                            .filter(|a| !a.text.starts_with('-'))
                            .cloned()
                            .map(Finding::Writes),
                    ),
                    _ => {}
                }
            }
        }
        Special::HttpClient | Special::Curl => {
            // A URL built at run time can carry data out (`https://x/?d=$(cat secret)`).
            let mut urls = scanned.positionals.iter().chain(scanned.values(&["--url"]));
            if let Some(url) = urls.find(|u| u.expansion) {
                out.push(Finding::Uploads(format!("the URL `{}` is built at run time", url.raw)));
            }
            // `-H @FILE` sends each line of FILE as a header; `telnet://` and the like send
            // standard input (`curl telnet://host:25 < secrets`).
            for header in scanned.values(&["-H", "--header", "--proxy-header"]) {
                if !header.is_known() || header.text.starts_with('@') {
                    out.push(Finding::Uploads(format!("the headers `{}`", header.raw)));
                }
            }
            if kind == Special::Curl {
                curl(scanned, out);
            }
            let mut urls = scanned.positionals.iter().chain(scanned.values(&["--url"]));
            if let Some(url) = urls.find(|u| {
                let lower = u.text.to_ascii_lowercase();
                lower.split_once("://").is_some_and(|(scheme, _)| {
                    !matches!(scheme, "http" | "https" | "ftp" | "ftps" | "file")
                })
            }) {
                out.push(Finding::Uploads(format!("the URL `{}` sends what it reads", url.raw)));
            }
            for method in scanned.values(&["-X", "--request", "--method"]) {
                let upper = method.text.to_ascii_uppercase();
                if !method.is_known() || !matches!(upper.as_str(), "GET" | "HEAD" | "OPTIONS") {
                    out.push(Finding::Uploads(format!("method `{}`", method.raw)));
                }
            }
        }
        Special::Ssh => ssh_options(scanned, out),
        Special::RemoteCopy => remote_copy(scanned, in_place, out),
        Special::PlusCommand => {
            for word in scanned.positionals.iter().filter(|w| w.text.starts_with('+')) {
                let command = word.text.get(1..).unwrap_or_default();
                let search = command.starts_with(['/', '?']) && !command.contains(['!', '|']);
                let plain = command.chars().all(|c| c.is_ascii_digit())
                    || matches!(command, "F" | "G" | "g");
                if !(word.is_known() && (search || plain)) {
                    out.push(Finding::RunsCode(format!(
                        "`{}` runs an editor or pager command",
                        word.raw
                    )));
                }
            }
        }
        Special::PackageManager => {
            // Canonical npm names, and the aliases of yarn, pnpm and bun.
            const INSTALL: [&str; 11] = [
                "install",
                "i",
                "add",
                "isntall",
                "in",
                "update",
                "up",
                "upgrade",
                "link",
                "install-test",
                "install-ci-test",
            ];
            let sub = subcommands::words(program, &scanned.positionals).unwrap_or_default();
            // `yarn global add PKG`: the namespace's subcommand, then packages.
            if sub.iter().any(|s| INSTALL.contains(&s.as_str()))
                && scanned.positionals.len() > sub.len()
                && !scanned.has(&["--ignore-scripts"])
            {
                out.push(Finding::RunsCode(format!(
                    "`{}` with packages runs their install scripts",
                    sub.join(" ")
                )));
            }
            // `-g`, `--global`, `--location=global`, `yarn global ...`, and a bare `npm
            // link` (this package into the global prefix): the global prefix is written, a
            // directory only known at run time (npm's configuration, the environment).
            const CHANGES: [&str; 7] = ["uninstall", "remove", "rm", "r", "un", "unlink", "prune"];
            let changes =
                sub.iter().any(|s| INSTALL.contains(&s.as_str()) || CHANGES.contains(&s.as_str()));
            let global = scanned.has(&["-g", "--global"])
                || scanned.values(&["--location"]).any(|v| !v.is_known() || v.text == "global")
                || sub.first().is_some_and(|s| s == "global");
            let bare_link =
                sub.last().is_some_and(|s| s == "link") && scanned.positionals.len() == sub.len();
            if (changes && global) || bare_link {
                out.push(Finding::Writes(ShellArg {
                    raw: "the global package prefix".to_owned(),
                    expansion: true,
                    ..ShellArg::default()
                }));
            }
        }
    }
}

/// curl's own ways of building a request from what the line does not show, or of sending
/// it to another host than its URL names.
fn curl(scanned: &Scanned, out: &mut Vec<Finding>) {
    // `--variable NAME@FILE` (or `%ENV`) loads a file or the environment, which the
    // `--expand-*` options put into the URL, headers and credentials: the request is then
    // built at run time from what no word of the line shows. (`prepare` reads
    // `--expand-NAME` as `--NAME` with a value built at run time, judged as such.)
    if let Some(name) =
        scanned.options.iter().find_map(|o| o.names.iter().find(|n| *n == "--variable"))
    {
        out.push(Finding::Uploads(format!(
            "`{name}` builds the request from files, the environment or values known at run \
             time"
        )));
    }
    // These send the request to another host than its URL names (a proxy, a
    // forced address, a socket, a resolver of the caller's choosing).
    const ELSEWHERE: [&str; 14] = [
        "-x",
        "--proxy",
        "--proxy1.0",
        "--preproxy",
        "--socks4",
        "--socks4a",
        "--socks5",
        "--socks5-hostname",
        "--connect-to",
        "--resolve",
        "--doh-url",
        "--dns-servers",
        "--unix-socket",
        "--abstract-unix-socket",
    ];
    if let Some(option) = scanned
        .options
        .iter()
        .find_map(|o| o.names.iter().find(|n| ELSEWHERE.contains(&n.as_str())))
    {
        out.push(Finding::Uploads(format!(
            "`{option}` sends the request elsewhere than its URL says"
        )));
    }
    // `-w '%output{FILE}...'` writes the rest of the format to FILE (curl 8.3); a format
    // read from a file (`-w @FILE`) or built at run time may hold one.
    for format in scanned.values(&["-w", "--write-out"]) {
        if !format.is_known() || format.text.starts_with('@') {
            out.push(Finding::Writes(ShellArg {
                raw: format!("the files `-w {}` may name", format.raw),
                expansion: true,
                ..ShellArg::default()
            }));
            continue;
        }
        let mut rest = format.text.as_str();
        while let Some(start) = rest.find("%output{") {
            let after = &rest[start + "%output{".len()..];
            let Some(end) = after.find('}') else { break };
            // `%output{>>FILE}` appends to FILE.
            let file = after[..end].strip_prefix(">>").unwrap_or(&after[..end]);
            out.push(Finding::Writes(ShellArg::known(file)));
            rest = &after[end..];
        }
    }
    // An option's value built at run time is sent (`-A "$(cat .env)"`, `-u`, `-b`,
    // `--oauth2-bearer`), as a URL built at run time is. Not the values that name a file
    // curl writes (its table's write options, judged as writes) or reads for itself, the
    // write-out format (above), nor numbers and times.
    let writes = super::programs::builtin("curl").map_or(&[][..], |spec| &spec.write_options);
    const NOT_SENT: [&str; 24] = [
        "-w",
        "--write-out",
        "--cacert",
        "--capath",
        "-E",
        "--cert",
        "--key",
        "--cert-type",
        "--key-type",
        "--proxy-cacert",
        "--netrc-file",
        "-m",
        "--max-time",
        "--connect-timeout",
        "--retry",
        "--retry-delay",
        "--retry-max-time",
        "--speed-limit",
        "--speed-time",
        "--limit-rate",
        "--max-filesize",
        "--max-redirs",
        "--keepalive-time",
        "--local-port",
    ];
    if let Some(value) = scanned
        .options
        .iter()
        .filter(|o| !o.names.iter().any(|n| NOT_SENT.contains(&n.as_str()) || writes.contains(n)))
        .filter_map(|o| o.value.as_ref())
        .find(|v| v.expansion)
    {
        out.push(Finding::Uploads(format!(
            "the option value `{}` is built at run time",
            value.raw
        )));
    }
    // Other protocols send what no upload option shows: `telnet:` (or `--proto-default
    // telnet`) sends standard input, `smtp:`, `mqtt:`, `dict:`, `gopher:` and the rest
    // requests of the caller's own making.
    let urls = scanned.positionals.iter().chain(scanned.values(&["--url"]));
    // curl expands `{a,b}` and `[1-3]` in a URL (unless `-g`): `{telnet,http}://x` speaks
    // telnet, so a pattern where the scheme is stands for any protocol.
    let globbing = !scanned.has(&["-g", "--globoff"]);
    // Without `--proto-default`, curl guesses the protocol of a URL without a scheme from
    // its host name (`dict.x/d:secret` speaks DICT).
    let guessing = scanned.values(&["--proto-default"]).next().is_none();
    let mut schemes = Vec::new();
    for url in urls {
        let head = url.text.split("://").next().unwrap_or_default();
        if globbing && head.contains(['{', '[']) {
            out.push(Finding::Uploads(format!(
                "`{}`: a URL pattern where the scheme is may make curl speak any protocol",
                url.raw
            )));
        } else if let Some(scheme) =
            url_scheme(&url.text).or_else(|| guessing.then(|| guessed_scheme(&url.text)).flatten())
        {
            schemes.push((scheme, &url.raw));
        }
        // `https://[e-e]vil.test/`, `https://docs.test{,@evil.test}/`: the hosts curl
        // connects to are known once it expands the pattern, as a URL built at run time.
        if globbing && host_pattern(&url.text) {
            out.push(Finding::Uploads(format!(
                "`{}`: a URL pattern in the host makes curl connect to hosts the line does not \
                 spell",
                url.raw
            )));
        }
    }
    let defaults = scanned.values(&["--proto-default"]).map(|v| (v.text.clone(), &v.raw));
    for (scheme, raw) in schemes.into_iter().chain(defaults) {
        if !matches!(
            scheme.to_ascii_lowercase().as_str(),
            "http" | "https" | "ftp" | "ftps" | "file"
        ) {
            out.push(Finding::Uploads(format!("`{raw}` makes curl speak `{scheme}`")));
        }
    }
}

/// The scheme of a URL as curl reads it (`telnet:/host`, `TELNET://host`, `dict:x`):
/// one of curl's protocols, or any name followed by `:/`; `None` for `host:port/path`,
/// `user:password@host` and text without a scheme.
fn url_scheme(url: &str) -> Option<String> {
    const PROTOCOLS: [&str; 27] = [
        "dict", "file", "ftp", "ftps", "gopher", "gophers", "http", "https", "imap", "imaps",
        "ldap", "ldaps", "mqtt", "pop3", "pop3s", "rtmp", "rtsp", "scp", "sftp", "smb", "smbs",
        "smtp", "smtps", "telnet", "tftp", "ws", "wss",
    ];
    let (scheme, rest) = url.split_once(':')?;
    let name = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
    let known = PROTOCOLS.contains(&scheme.to_ascii_lowercase().as_str());
    (name && (known || rest.starts_with('/'))).then(|| scheme.to_owned())
}

/// The protocol curl guesses for a URL without a scheme from its host name (curl's
/// `guess_scheme`: `ftp.`, `dict.`, `ldap.`, `imap.`, `smtp.` and `pop3.` at its start, in
/// any case); `None` for a URL with a scheme and for the others, which curl fetches over
/// HTTP.
fn guessed_scheme(url: &str) -> Option<String> {
    if url.contains("://") {
        return None;
    }
    let authority = url.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default().to_ascii_lowercase();
    ["ftp", "dict", "ldap", "imap", "smtp", "pop3"]
        .into_iter()
        .find(|p| host.strip_prefix(p).is_some_and(|rest| rest.starts_with('.')))
        .map(str::to_owned)
}

/// Whether curl's URL globbing (`{a,b}`, `[a-z]`) reaches the host of `url`: a `{` or a
/// `[` before its path, other than an IPv6 literal (`[::1]`, which curl leaves as it is).
fn host_pattern(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let user_info = authority.get(..authority.len() - host.len()).unwrap_or_default();
    let after_literal = host.strip_prefix('[').and_then(|inner| inner.split_once(']')).and_then(
        |(inside, port)| {
            let address = inside.contains(':')
                && inside.bytes().all(|b| b.is_ascii_alphanumeric() || b":.%".contains(&b));
            address.then_some(port)
        },
    );
    user_info.contains(['{', '[']) || after_literal.unwrap_or(host).contains(['{', '['])
}

fn sed(scanned: &Scanned, in_place: bool, out: &mut Vec<Finding>) {
    let mut scripts: Vec<&ShellArg> = scanned.values(&["-e", "--expression"]).collect();
    let files: Vec<&ShellArg> = if scripts.is_empty() {
        let mut positionals = scanned.positionals.iter();
        scripts.extend(positionals.next());
        positionals.collect()
    } else {
        scanned.positionals.iter().collect()
    };
    for script in scripts {
        if !script.is_known() {
            out.push(Finding::RunsCode(format!(
                "the script `{}` is only known at run time",
                script.raw
            )));
            continue;
        }
        script_findings(&scripts::sed(&script.text), out);
    }
    if in_place {
        out.extend(files.into_iter().map(|f| Finding::Writes(f.clone())));
    }
}

/// GNU sed's `-i[SUFFIX]` (`--in-place[=SUFFIX]`) keeps a backup of each file: a suffix
/// with a `/` names its own path, each `*` the file's name (`-i'/outside/*'` writes
/// `/outside/a.txt`). That path is a write; one only known at run time is refused.
fn sed_backups(words: &[ShellArg], scanned: &Scanned, out: &mut Vec<Finding>) {
    let mut suffixes = Vec::new();
    for word in words {
        let text = &word.text;
        // `--in-place=SUFFIX`, or any abbreviation of it (`--in=`, `--i=`).
        if let Some((name, suffix)) = text.strip_prefix("--").and_then(|o| o.split_once('='))
            && !name.is_empty()
            && "in-place".starts_with(name)
        {
            suffixes.push((suffix.to_owned(), word));
        } else if let Some(cluster) = text.strip_prefix('-').filter(|c| !c.starts_with('-'))
            && let Some((_, suffix)) = cluster.split_once('i')
            && !suffix.is_empty()
        {
            // Letters after `i` in a cluster are its suffix (`-ni.bak`).
            suffixes.push((suffix.to_owned(), word));
        }
    }
    let files: Vec<&ShellArg> = scanned.positionals.iter().skip(1).collect();
    for (suffix, word) in suffixes {
        if word.expansion || word.pattern {
            out.push(Finding::RunsCode(format!(
                "the backup suffix of `{}` is only known at run time",
                word.raw
            )));
            continue;
        }
        if !suffix.contains('/') {
            continue;
        }
        for file in &files {
            let name = file.text.rsplit('/').next().unwrap_or_default();
            let backup = if suffix.contains('*') {
                suffix.replace('*', name)
            } else {
                format!("{}{suffix}", file.text)
            };
            out.push(Finding::Writes(ShellArg::known(&backup)));
        }
    }
}

fn awk(scanned: &Scanned, out: &mut Vec<Finding>) {
    if scanned.has(&[
        "-f",
        "--file",
        "-e",
        "--source",
        "-i",
        "--include",
        "-l",
        "--load",
        "-E",
        "--exec",
    ]) {
        return;
    }
    let Some(program) = scanned.positionals.first() else { return };
    if !program.is_known() {
        out.push(Finding::RunsCode(format!(
            "the program `{}` is only known at run time",
            program.raw
        )));
        return;
    }
    script_findings(&scripts::awk(&program.text), out);
}

fn script_findings(effects: &ScriptEffects, out: &mut Vec<Finding>) {
    if let Some(why) = &effects.runs_code {
        out.push(Finding::RunsCode(why.clone()));
    }
    if effects.network {
        out.push(Finding::Uploads("its script opens network connections".to_owned()));
    }
    for file in &effects.writes {
        out.push(Finding::Writes(match file {
            Some(path) => ShellArg::known(path),
            None => ShellArg {
                raw: "a file named at run time".to_owned(),
                expansion: true,
                ..ShellArg::default()
            },
        }));
    }
}

/// `ssh -o` (also `scp -o`) options that run a local command or read more configuration.
fn ssh_options(scanned: &Scanned, out: &mut Vec<Finding>) {
    const CODE_OPTIONS: [&str; 8] = [
        "proxycommand",
        "localcommand",
        "permitlocalcommand",
        "knownhostscommand",
        "match",
        "include",
        "pkcs11provider",
        "securitykeyprovider",
    ];
    for option in scanned.values(&["-o"]) {
        let key =
            option.text.split(['=', ' ', '\t']).next().unwrap_or_default().to_ascii_lowercase();
        if !option.is_known() || CODE_OPTIONS.contains(&key.as_str()) {
            out.push(Finding::RunsCode(format!("ssh option `{}`", option.raw)));
        }
    }
}

fn remote_copy(scanned: &Scanned, in_place: bool, out: &mut Vec<Finding>) {
    ssh_options(scanned, out);
    for shell in scanned.values(&["-e", "--rsh"]) {
        let plain_ssh = shell.is_known()
            && shell.text.split_whitespace().next() == Some("ssh")
            && !shell.text.contains(['-', ';', '|', '&', '$', '`', '(', '<', '>'])
            || shell.is_known() && shell.text == "ssh";
        if !plain_ssh {
            out.push(Finding::RunsCode(format!("remote shell `{}`", shell.raw)));
        }
    }
    let positionals = &scanned.positionals;
    if positionals.len() < 2 {
        return;
    }
    let (Some(destination), sources) =
        (positionals.last(), positionals.get(..positionals.len() - 1).unwrap_or_default())
    else {
        return;
    };
    if is_remote(destination) {
        out.push(Finding::Uploads(format!("copies to the remote `{}`", destination.raw)));
    } else {
        out.push(Finding::Writes(destination.clone()));
    }
    if in_place {
        out.extend(sources.iter().filter(|s| !is_remote(s)).map(|s| Finding::Writes(s.clone())));
    }
}

/// `host:path`, `user@host:path` or `rsync://...` (a `:` before any `/`).
fn is_remote(word: &ShellArg) -> bool {
    let text = &word.text;
    text.starts_with("rsync://")
        || text.find(':').is_some_and(|colon| text.find('/').is_none_or(|slash| colon < slash))
}
