//! The README's quickstart, run as written: the shell block between `<!-- quickstart -->`
//! and `<!-- /quickstart -->` in README.md is extracted and run with bash, with the `aecl`
//! built for these tests first on the PATH. Only two things are changed: the folder it
//! copies the example into (a temporary one) and the port (a free one). It must end with
//! a call that ran, a call that was stopped, and a verified audit log.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BEGIN: &str = "<!-- quickstart -->";
const END: &str = "<!-- /quickstart -->";

/// The commands of the README's quickstart block.
fn quickstart() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme.find(BEGIN).expect("README.md has no quickstart marker") + BEGIN.len();
    let end = start + readme[start..].find(END).expect("the quickstart block is not closed");
    let block = &readme[start..end];
    let fence = block.find("```sh\n").expect("the quickstart is not a ```sh block") + 6;
    let close = fence + block[fence..].find("```").expect("the ```sh block is not closed");
    block[fence..close].to_owned()
}

#[test]
fn the_readme_quickstart_runs_a_call_and_stops_another() {
    let script = quickstart();
    assert!(script.contains("/tmp/aecl-quickstart") && script.contains("127.0.0.1:8080"));
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("aecl-quickstart");
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let script = script
        .replace("/tmp/aecl-quickstart", copy.to_str().unwrap())
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
    let bin = Path::new(env!("CARGO_BIN_EXE_aecl")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut child = Command::new("bash")
        .args(["-eu", "-o", "pipefail", "-c", &script])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .env("PATH", path)
        .env_remove("AECL_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that the server it starts in the background is killed
        // with it whatever happens.
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = child.id();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pgid}")]).status();
    let done = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&done.stdout);
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let allowed = stdout.lines().find(|l| l.contains(r#""id":"c1""#)).unwrap_or_default();
    assert!(
        allowed.contains(r#""decision":"allow""#) && allowed.contains(r#""state":"succeeded""#),
        "the first call did not run: {stdout}"
    );
    let stopped = stdout.lines().find(|l| l.contains(r#""id":"c2""#)).unwrap_or_default();
    assert!(stopped.contains(r#""decision":"block""#), "the second call was not stopped: {stdout}");
    assert_eq!(std::fs::read_to_string(copy.join("notes/hello.md")).unwrap(), "aecl was here");
    assert!(stdout.lines().any(|l| l.starts_with("ok: ")), "the log was not verified: {stdout}");
}
