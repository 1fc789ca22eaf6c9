//! wget's `-e COMMAND` (`--execute`): one line of a `.wgetrc`, run after the startup
//! files. Most commands only tune the fetch (`robots=off`, `tries=3`), but others set
//! where files go (`output_document`, `dir_prefix`, `logfile`), what is sent
//! (`post_file`, `body_file`, `header`), what runs
//! (`use_askpass`), or make the fetch recursive: a command outside the short list of
//! tuning settings is refused as code of the caller's choosing, as a whole `.wgetrc` is.

use super::ShellArg;
use super::finding::Finding;
use super::scan::Scanned;

/// Settings that change neither which files are written, nor what is sent beyond the
/// request the line shows, nor what runs; spelled as wget compares them (lower case,
/// without `_` and `-`: `init.c`'s `command_by_name`).
const TUNING: [&str; 39] = [
    "robots",
    "tries",
    "timeout",
    "dnstimeout",
    "connecttimeout",
    "readtimeout",
    "wait",
    "waitretry",
    "randomwait",
    "limitrate",
    "quiet",
    "verbose",
    "showprogress",
    "progress",
    "useragent",
    "checkcertificate",
    "httpsonly",
    "inet4only",
    "inet6only",
    "preferfamily",
    "maxredirect",
    "retryconnrefused",
    "serverresponse",
    "compression",
    "iri",
    "localencoding",
    "remoteencoding",
    "cache",
    "dnscache",
    "httpkeepalive",
    "timestamping",
    "noclobber",
    "continue",
    "ignorelength",
    "ignorecase",
    "noparent",
    "accept",
    "reject",
    "quota",
];

/// Adds a finding for each `-e` command that is not a tuning setting, or is built at run
/// time.
pub(super) fn read(scanned: &Scanned, out: &mut Vec<Finding>) {
    for command in scanned.values(&["-e", "--execute"]) {
        if !is_tuning(command) {
            out.push(Finding::RunsCode(format!(
                "`-e {}` runs a wgetrc command that may set where files go, what is sent or \
                 what runs",
                command.raw
            )));
        }
    }
}

/// Whether `command` is `NAME = VALUE` with NAME a tuning setting, all of it known.
fn is_tuning(command: &ShellArg) -> bool {
    let Some((name, _value)) = command.text.split_once('=') else { return false };
    let name: String = name
        .trim()
        .chars()
        .filter(|c| !matches!(c, '_' | '-'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    command.is_known() && TUNING.contains(&name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuning(text: &str) -> bool {
        is_tuning(&ShellArg::known(text))
    }

    #[test]
    fn only_tuning_settings_are_plain() {
        for plain in ["robots=off", "ROBOTS = off", "wait_retry=2", "max-redirect=3"] {
            assert!(tuning(plain), "{plain}");
        }
        for other in [
            "output_document=/etc/x",
            "dir_prefix=/etc",
            "logfile=~/.bashrc",
            "use_askpass=/tmp/x",
            "post_file=/etc/shadow",
            "recursive=on",
            "page_requisites=on",
            "robots",
            "",
        ] {
            assert!(!tuning(other), "{other}");
        }
        let built = ShellArg { expansion: true, ..ShellArg::known("robots=$X") };
        assert!(!is_tuning(&built));
    }
}
