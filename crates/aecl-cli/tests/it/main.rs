//! End-to-end tests of the `aecl` binary: the commands run as users run them, with their
//! exit codes and their output, against the repository's examples and policies written into
//! temporary directories.

mod audit;
mod check;
mod claude_code;
mod connector_arguments;
mod deploy;
mod eval;
mod fs_operations;
mod hook;
mod hook_agents_local;
mod hook_full_disk;
mod hook_install;
mod hook_limits;
mod hook_local;
mod hook_oversized;
mod hook_policy_cache;
mod hook_saved_state;
mod hook_state;
mod hook_unified_exec;
mod hook_workdir;
mod hook_written_text;
mod identity;
mod mcp;
mod mcp_auth;
mod mcp_gateway;
mod mcp_redteam;
mod mcp_servers;
mod mcp_traces;
mod mcp_upstream;
mod observability;
mod paths;
mod policy_tests;
mod protection;
mod quickstart;
mod real_programs;
mod reconcile;
mod reconcile_fs;
mod replay;
mod rollback;
mod sandbox;
mod serve;
mod shell;
mod shell_links;
mod store_gone;
mod tampered_log;
mod tampered_state;
mod tiers;
mod token;

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What one run of `aecl` did.
#[derive(Debug)]
pub struct Outcome {
    /// The exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// The lines of standard output.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

/// The `aecl` binary built for these tests. The local hook's session files go to a
/// directory of this test process, not the user's state directory.
pub fn aecl() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aecl"));
    let state = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("aecl-hook-state-{}", std::process::id()));
    command.env("AECL_STATE_DIR", state);
    command
}

/// A path inside the repository.
pub fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative)
}

/// The finance policy of the examples.
pub fn finance() -> PathBuf {
    repo("examples/policies/finance")
}

/// Runs `aecl` with `args` and no standard input.
pub fn run<I, S>(args: I) -> Outcome
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_with_stdin(args, "")
}

/// Runs `aecl` with `args`, writing `stdin` to its standard input.
pub fn run_with_stdin<I, S>(args: I, stdin: &str) -> Outcome
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_with_stdin_env(args, stdin, &[])
}

/// Runs `aecl` with `args` and `stdin`, with the environment variables `env` set (a value
/// of `None` removes the variable).
pub fn run_with_stdin_env<I, S>(args: I, stdin: &str, env: &[(&str, Option<&str>)]) -> Outcome
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = aecl();
    for (name, value) in env {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command.args(args);
    output_with_stdin(command, stdin)
}

/// Runs `command` (an `aecl`, or a copy of it) with `stdin`; its exit code and output.
pub fn output_with_stdin(mut command: Command, stdin: impl AsRef<[u8]>) -> Outcome {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning aecl");
    let mut input = child.stdin.take().expect("aecl's stdin");
    let text = stdin.as_ref().to_vec();
    // Written from another thread: a large input must not block while aecl's output fills
    // its pipe.
    let writer = std::thread::spawn(move || {
        // aecl may exit before reading everything (a bad line); that is not this test's failure.
        let _ = input.write_all(&text);
    });
    let output = child.wait_with_output().expect("waiting for aecl");
    writer.join().expect("the stdin writer");
    Outcome {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("aecl's stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("aecl's stderr is UTF-8"),
    }
}

/// Writes `text` to `dir/relative`, creating the folders on the way.
pub fn write(dir: &Path, relative: &str, text: &str) -> PathBuf {
    let path = dir.join(relative);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("creating a test folder");
    }
    fs::write(&path, text).expect("writing a test file");
    path
}

/// Copies the directory tree `from` into `to` (which is created).
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("creating the copy");
    for entry in fs::read_dir(from).expect("reading the directory to copy") {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copying a file");
        }
    }
}

/// The temporary directory a test writes its policies and traces into.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::TempDir::new().expect("creating a temporary directory")
}
