//! Ordinary runs: output, exit codes, stdin, the environment allowlist and the layers.

use aecl_sandbox::{Isolation, Outcome};

use crate::{isolation_modes, run, shell, text};

#[test]
fn output_exit_code_and_stdin_pass_through() {
    for isolation in isolation_modes() {
        let mut request = shell("echo out; echo err >&2; read line; echo \"got $line\"; exit 3");
        request.stdin = b"hello\n".to_vec();
        request.isolation = isolation;
        let done = run(request);
        assert_eq!(done.outcome, Outcome::Exited { code: 3 }, "{isolation:?}: {}", text(&done.stderr));
        assert_eq!(text(&done.stdout), "out\ngot hello\n");
        assert_eq!(text(&done.stderr), "err\n");
    }
}

#[test]
fn namespaces_report_every_layer() {
    let mut request = shell("true");
    request.isolation = Isolation::Namespaces;
    let done = run(request);
    assert_eq!(done.outcome, Outcome::Exited { code: 0 }, "{}", text(&done.stderr));
    let layers = &done.layers;
    assert_eq!(layers.mode, "namespaces");
    assert_eq!(layers.namespaces, ["user", "pid", "mount", "net", "ipc", "uts", "cgroup"]);
    assert!(layers.readonly_root && layers.seccomp && layers.rlimits);
    assert!(layers.capabilities_dropped && layers.no_new_privs && layers.env_allowlist);
    assert_eq!(layers.landlock, "fully_enforced", "{layers:?}");
    assert_ne!(layers.host_uid, 0);
}
