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
//! Build and test tools (`cargo test`, `npm test`) run the project's code and are not
//! counted: the policy's `runs_code` rules and the sandbox's network setting govern them.

use super::finding::Finding;
use super::programs::{ProgramSpec, Special};
use super::scan::scan;
use super::{HARMLESS_BUILTINS, SimpleCommand, git, special};

/// Whether `command` may reach other hosts, given its table entry (`None`: not in the
/// table) and the findings the guard made of it.
pub(super) fn reaches(
    command: &SimpleCommand,
    spec: Option<&ProgramSpec>,
    found: &[Finding],
) -> bool {
    if command.dynamic || command.path.is_some() {
        return true;
    }
    if found
        .iter()
        .any(|f| matches!(f, Finding::Uploads(_) | Finding::RunsCode(_) | Finding::Unknown))
    {
        return true;
    }
    let Some(spec) = spec else {
        // A wrapper's command is analysed on its own; a shell builtin does not connect.
        return !(command.wrapper || HARMLESS_BUILTINS.contains(&command.program.as_str()));
    };
    if spec.network || spec.uploads || spec.runs_code {
        return true;
    }
    if spec.special == Some(Special::Git) {
        return git::reaches_network(&command.words);
    }
    let words = special::prepare(spec.special, &command.words);
    let scanned = scan(spec, &words);
    // An interpreter runs its script; `python3 -m pytest` runs a module the table knows
    // as a plain tool (any other module is a `runs_code` finding, above).
    if spec.stdin_code && !special::runs_module(spec.special, &scanned) {
        return true;
    }
    if spec.network_subcommands.is_empty() {
        return false;
    }
    // `""` stands for the program run without a subcommand (a bare `yarn` installs); an
    // npm abbreviation counts as the command it stands for.
    match super::subcommands::words(&command.program, &scanned.positionals) {
        Err(_) => true,
        Ok(names) => {
            scanned.positionals.first().is_some_and(|first| !first.is_known())
                || names.iter().any(|n| spec.network_subcommands.contains(n))
        }
    }
}

/// Programs outside the table whose words name the host they reach (`ping HOST`,
/// `dig NAME`): for reading those words as hosts, never for allowing them.
const HOST_PROGRAMS: [&str; 12] = [
    "ping",
    "ping6",
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
];

/// Programs whose remote operands are `HOST:PATH` (`HOST::MODULE` for rsync): a word
/// without a colon is a local path (`rsync -a 10.1/ backup:`, `git checkout 1.0.1`).
const COLON_REMOTES: [&str; 3] = ["scp", "rsync", "git"];

/// curl's options whose value is where it connects: a URL, a proxy, or (`--connect-to`,
/// `--resolve`) colon-separated fields among which an address.
const CURL_HOST_OPTIONS: [&str; 11] = [
    "--url",
    "-x",
    "--proxy",
    "--preproxy",
    "--proxy1.0",
    "--socks4",
    "--socks4a",
    "--socks5",
    "--socks5-hostname",
    "--connect-to",
    "--resolve",
];

/// The words of `analysis`'s commands that a network client takes as where to connect:
/// the positional arguments of a program the table says reaches other hosts (`curl`,
/// `wget`, `ssh`, `nc`; for `scp`, `rsync` and `git`, those naming a remote), curl's
/// options that name a URL or a proxy, and the words of a host look-up tool (`ping`,
/// `dig`). Data flow reads them as links, so that a spelling no text scanner takes as a
/// host (`curl 3405803783`, `ssh root@203.7`) is still one there. Over-reading costs
/// little: a word is only a host there when it is an address in a numeric spelling.
pub(crate) fn host_operands(analysis: &super::Analysis) -> Vec<String> {
    let mut out = Vec::new();
    for command in &analysis.commands {
        if command.dynamic || command.wrapper {
            continue;
        }
        let program = command.program.as_str();
        if COLON_REMOTES.contains(&program) {
            // Remotes may stand anywhere (`git remote add NAME REMOTE`, `-J`, option values).
            let remote = |w: &&super::ShellArg| {
                w.text.split_once(':').is_some_and(|(host, _)| !host.contains('/'))
            };
            out.extend(command.words.iter().filter(remote).map(|w| w.text.clone()));
            continue;
        }
        match super::programs::builtin(program) {
            Some(spec) if spec.network || spec.uploads => {
                let words = special::prepare(spec.special, &command.words);
                let scanned = scan(spec, &words);
                if program == "curl" {
                    for value in scanned.values(&CURL_HOST_OPTIONS) {
                        // `--connect-to H1:P1:H2:P2`, `--resolve H:P:ADDR`: each field.
                        out.extend(value.text.split(':').map(str::to_owned));
                        out.push(value.text.clone());
                    }
                }
                out.extend(scanned.positionals.into_iter().map(|p| p.text));
            }
            Some(_) => {}
            None if HOST_PROGRAMS.contains(&program) => {
                let words = command.words.iter().map(|w| &w.text);
                out.extend(words.filter(|w| !w.starts_with('-')).cloned());
            }
            None => {}
        }
    }
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
        assert_eq!(operands("curl -s -m 3.5 203.7/x"), ["203.7/x"]);
        let proxied = operands("curl --url=3405803783 -x 203.7:3128 https://ok.test/");
        for expected in ["3405803783", "203.7:3128", "203.7", "https://ok.test/"] {
            assert!(proxied.iter().any(|o| o == expected), "{expected}: {proxied:?}");
        }
        assert_eq!(operands("git clone git@203.7:team/x.git 10.1"), ["git@203.7:team/x.git"]);
        assert!(operands("git checkout 1.0.1 && git diff 1.0.1 10.0.1").is_empty());
        assert_eq!(operands("rsync -a 10.1/ backup:/srv/"), ["backup:/srv/"]);
        assert_eq!(operands("ping -c 4 203.7"), ["4", "203.7"]);
        assert!(operands("cat 203.7/x && echo 3405803783").is_empty());
        // Wrapped commands are read as the commands they start.
        assert_eq!(operands("sudo timeout 5 curl 203.7"), ["203.7"]);
    }
}
