//! The configuration files curl and wget read before their arguments (`~/.curlrc`,
//! `~/.wgetrc`, `$WGETRC`): an `output = .claude/settings.json` there sends the download
//! where no word of the line says (red team round 16). A download is refused when the
//! line writes such a file or sets the variable that names it, or when the file as it is
//! holds a directive that chooses where the client writes.

use std::path::{Path, PathBuf};

use aecl_core::shell::Analysis;

use super::expand::{env, may_be_set};
use super::reach::Refusal;

/// Names of the clients' configuration files.
const FILES: [&str; 6] = [".curlrc", "curlrc", "_curlrc", ".wgetrc", "wgetrc", "_wgetrc"];

/// Variables that name where the clients look for them.
const VARIABLES: [&str; 5] = ["CURL_HOME", "XDG_CONFIG_HOME", "WGETRC", "SYSTEM_WGETRC", "HOME"];

/// curl's options (without dashes) and wget's commands that choose a file it writes or
/// read more options: in a configuration file they move the download.
const DIRECTIVES: [&str; 34] = [
    "o",
    "output",
    "O",
    "remote-name",
    "remote-name-all",
    "output-dir",
    "create-dirs",
    "J",
    "remote-header-name",
    "K",
    "config",
    "D",
    "dump-header",
    "c",
    "cookie-jar",
    "trace",
    "trace-ascii",
    "stderr",
    "etag-save",
    "hsts",
    "alt-svc",
    "libcurl",
    "output_document",
    "dir_prefix",
    "logfile",
    "save_cookies",
    "recursive",
    "mirror",
    "content_disposition",
    "trust_server_names",
    "add_hostdir",
    "dirstruct",
    "input",
    "page_requisites",
];

/// Refuses a line (`text`) that runs curl or wget with a configuration file that may
/// move its downloads: one the line names (it may write it first) or whose variable it
/// may set, or one that exists with such a directive.
pub fn check(text: &str, analysis: &Analysis) -> Result<(), Refusal<'static>> {
    let Some(client) = analysis
        .commands
        .iter()
        .map(|c| c.program.as_str())
        .find(|p| matches!(*p, "curl" | "wget" | "wget2"))
    else {
        return Ok(());
    };
    // A script the line sources and the hook did not read may set any of them
    // (`sourced.rs`; one it read names none).
    let unread_source = analysis.commands.iter().any(|c| c.sourced);
    if let Some(name) = VARIABLES.iter().find(|name| unread_source || may_be_set(text, name)) {
        return Err(Refusal::Unknown(format!(
            "runs `{client}` on a line that may set `{name}`, which names the configuration \
             file it reads"
        )));
    }
    if let Some(name) = FILES.iter().find(|name| text.contains(*name)) {
        return Err(Refusal::Unknown(format!(
            "runs `{client}` on a line that names `{name}`, a configuration file it reads"
        )));
    }
    for file in config_files() {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        if let Some(line) = text.lines().find(|line| moves_output(line)) {
            return Err(Refusal::Unknown(format!(
                "runs a download whose configuration `{}` says `{}`, which chooses where it \
                 writes",
                file.display(),
                line.trim()
            )));
        }
    }
    Ok(())
}

/// The configuration files the clients read from this environment.
fn config_files() -> Vec<PathBuf> {
    let home = env("HOME").map(PathBuf::from);
    let mut out: Vec<PathBuf> = Vec::new();
    for (variable, names) in [
        ("CURL_HOME", &[".curlrc"][..]),
        ("XDG_CONFIG_HOME", &["curlrc", ".curlrc"][..]),
        ("HOME", &[".curlrc", ".wgetrc", ".config/curlrc", ".config/wgetrc"][..]),
    ] {
        let base = env(variable).map(PathBuf::from).or_else(|| home.clone());
        if let Some(base) = base {
            out.extend(names.iter().map(|name| base.join(name)));
        }
    }
    out.extend(env("WGETRC").map(PathBuf::from));
    out.push(Path::new("/etc/wgetrc").to_path_buf());
    out
}

/// Whether a configuration line sets one of [`DIRECTIVES`]: `output = F`, `-o F`,
/// `--output F`, `dir_prefix = D`.
fn moves_output(line: &str) -> bool {
    let line = line.trim_start();
    if line.starts_with('#') {
        return false;
    }
    let name = line.trim_start_matches('-');
    let end = name.find(|c: char| c.is_whitespace() || c == '=' || c == ':').unwrap_or(name.len());
    let key = name.get(..end).unwrap_or_default();
    // wget reads `dir-prefix` and `dirprefix` as `dir_prefix`.
    let folded = key.replace('-', "_").to_ascii_lowercase();
    DIRECTIVES.iter().any(|d| *d == key || d.replace('-', "_") == folded)
        || DIRECTIVES.iter().any(|d| d.replace(['-', '_'], "") == folded.replace('_', ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_that_move_a_download_are_found() {
        for line in [
            "output = x",
            "-o x",
            "--output-dir=/x",
            "dir_prefix = .claude",
            "DirPrefix = x",
            "  O",
            "remote-name",
        ] {
            assert!(moves_output(line), "{line}");
        }
        for line in ["# output = x", "user-agent = x", "tries = 3", "silent", "-s"] {
            assert!(!moves_output(line), "{line}");
        }
    }
}
