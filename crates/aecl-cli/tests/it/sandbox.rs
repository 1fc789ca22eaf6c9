//! `aecl sandbox run`: the command's output and exit code pass through; timeouts, refusals
//! and bad flags have their own exit codes and say why.

use std::path::Path;

use crate::run;

/// The helper executable must sit beside `aecl` (`cargo test --workspace` builds both).
fn helper_is_built() {
    let aecl = Path::new(env!("CARGO_BIN_EXE_aecl"));
    let helper = aecl.with_file_name("aecl-sandbox");
    assert!(
        helper.is_file(),
        "`{}` is missing: build it with `cargo build -p aecl-sandbox` (the workspace test run does)",
        helper.display()
    );
}

#[test]
fn output_and_exit_code_pass_through() {
    helper_is_built();
    let done = run(["sandbox", "run", "--", "sh", "-c", "echo out; echo err >&2; exit 42"]);
    assert_eq!(done.code, Some(42), "{}", done.stderr);
    assert_eq!(done.stdout, "out\n");
    assert!(done.stderr.starts_with("err\n"), "{}", done.stderr);
}

#[test]
fn the_launchers_environment_stays_out_unless_named() {
    helper_is_built();
    let done = crate::aecl()
        .args(["sandbox", "run", "--env", "KEEP", "--env", "SET=1", "--", "env"])
        .env("KEEP", "kept")
        .env("SECRET_TOKEN", "s3cr3t")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&done.stdout);
    assert!(out.contains("KEEP=kept") && out.contains("SET=1"), "{out}");
    assert!(!out.contains("s3cr3t"), "{out}");
}

#[test]
fn a_timeout_exits_124_and_says_which() {
    helper_is_built();
    let done = run(["sandbox", "run", "--timeout", "0.3", "--", "sleep", "30"]);
    assert_eq!(done.code, Some(124));
    assert!(done.stderr.contains("timed out (call limit)"), "{}", done.stderr);
    let done =
        run(["sandbox", "run", "--timeout", "10", "--run-timeout", "0.3", "--", "sleep", "30"]);
    assert_eq!(done.code, Some(124));
    assert!(done.stderr.contains("timed out (run limit)"), "{}", done.stderr);
}

#[test]
fn the_report_names_the_layers() {
    helper_is_built();
    let done = run(["sandbox", "run", "--report", "--isolation", "landlock", "--", "true"]);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert!(done.stderr.contains("ran in the Landlock fallback"), "{}", done.stderr);
    let report = done.stderr.lines().last().unwrap();
    let report: serde_json::Value = serde_json::from_str(report).unwrap();
    assert_eq!(report["layers"]["mode"], "landlock-fallback");
    assert_eq!(report["layers"]["seccomp"], true);
}

#[test]
fn bad_flags_exit_2_naming_the_value() {
    helper_is_built();
    let done = run(["sandbox", "run", "--allow-host", "a b", "--", "true"]);
    assert_eq!(done.code, Some(2));
    assert!(done.stderr.contains("`a b`"), "{}", done.stderr);
    let done = run(["sandbox", "run", "--isolation", "chroot", "--", "true"]);
    assert_eq!(done.code, Some(2));
    assert!(done.stderr.contains("--isolation `chroot`"), "{}", done.stderr);
    let done = run(["sandbox", "run", "--bind", "/no/such/dir", "--", "true"]);
    assert_eq!(done.code, Some(2));
    assert!(done.stderr.contains("/no/such/dir"), "{}", done.stderr);
}
