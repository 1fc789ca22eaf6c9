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
        assert_eq!(
            done.outcome,
            Outcome::Exited { code: 3 },
            "{isolation:?}: {}",
            text(&done.stderr)
        );
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

#[test]
fn each_of_the_three_timeouts_ends_the_whole_process_tree() {
    use aecl_sandbox::{Deadlines, TimeLimit};
    let cases = [
        (Deadlines { call_ms: 500, run_ms: Some(20_000), lifetime_ms: 20_000 }, TimeLimit::Call),
        (Deadlines { call_ms: 20_000, run_ms: Some(500), lifetime_ms: 20_000 }, TimeLimit::Run),
        (Deadlines { call_ms: 20_000, run_ms: None, lifetime_ms: 500 }, TimeLimit::Lifetime),
    ];
    for isolation in isolation_modes() {
        for (deadlines, expected) in cases {
            // A tree: two background sleepers and a foreground one, in a subshell too.
            let mut request =
                shell("sleep 1000 & (sleep 1000 & sleep 1000) & sh -c 'sleep 1000'; echo never");
            request.deadlines = deadlines;
            request.isolation = isolation;
            let started = std::time::Instant::now();
            let done = run(request);
            match done.outcome {
                Outcome::TimedOut { limit, after_ms } => {
                    assert_eq!(limit, expected, "{isolation:?}");
                    assert!((500..5_000).contains(&after_ms), "{after_ms}");
                }
                other => panic!("{isolation:?} {expected:?}: {other:?}"),
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(10));
            assert!(!text(&done.stdout).contains("never"));
            if done.layers.host_uid != nix::unistd::geteuid().as_raw() {
                let left = crate::processes_left(done.layers.host_uid);
                assert!(left.is_empty(), "{isolation:?} {expected:?}: left {left:?}");
            }
        }
    }
}

#[test]
fn the_network_is_closed_but_allowed_hosts_work_through_the_egress_proxy() {
    use aecl_sandbox::HostPattern;
    let allowed = serve_http("hello from the allowed host");
    let other = serve_http("this host is not allowed");
    // The fallback refuses allowed hosts (`fallback.rs`).
    let isolation = Isolation::Namespaces;
    let script = format!(
        "curl -sS --max-time 5 http://127.0.0.1:{allowed}/; echo \" via-proxy=$?\"; \
         curl -sS --max-time 5 --noproxy '*' http://127.0.0.1:{allowed}/; echo \" direct=$?\"; \
         curl -sS --max-time 5 -o /dev/null -w '%{{http_code}}' http://127.0.0.1:{other}/; echo \" other=$?\""
    );
    let mut request = shell(&script);
    request.allow_hosts = vec![HostPattern::parse(&format!("127.0.0.1:{allowed}")).unwrap()];
    request.isolation = isolation;
    let done = run(request);
    let out = text(&done.stdout);
    assert!(
        out.contains("hello from the allowed host via-proxy=0"),
        "{isolation:?}: {out}\n{}",
        text(&done.stderr)
    );
    // Straight to the host: nothing there.
    assert!(out.contains(" direct=7") || out.contains(" direct=6"), "{isolation:?}: {out}");
    assert!(!out.contains("not allowed\" direct=0"), "{out}");
    assert!(out.contains("403 other=0"), "{isolation:?}: {out}");
    assert!(!out.contains("this host is not allowed"), "{out}");
    let attempts: Vec<(u16, bool)> = done.egress.iter().map(|a| (a.port, a.allowed)).collect();
    assert_eq!(attempts, [(allowed, true), (other, false)], "{isolation:?}");
    assert!(done.layers.egress_proxy);
}

#[test]
fn without_allowed_hosts_there_is_no_network_at_all() {
    let port = serve_http("unreachable");
    for isolation in isolation_modes() {
        let mut request =
            shell(&format!("curl -sS --max-time 5 http://127.0.0.1:{port}/; echo \" rc=$?\""));
        request.isolation = isolation;
        let done = run(request);
        let out = text(&done.stdout);
        assert!(!out.contains("unreachable"), "{isolation:?}: {out}");
        assert!(!out.contains(" rc=0"), "{isolation:?}: {out}");
        assert!(!done.layers.egress_proxy);
    }
}

#[test]
fn output_beyond_the_cap_is_dropped_and_counted() {
    let mut request = shell("head -c 100000 /dev/zero");
    request.output_cap = 1000;
    let done = run(request);
    assert_eq!(done.outcome, Outcome::Exited { code: 0 });
    assert_eq!(done.stdout.len(), 1000);
    assert_eq!(done.stdout_dropped, 99_000);
}

#[test]
fn a_program_that_is_not_there_fails_and_a_refused_exec_is_denied() {
    let done = run(shell("exec /nonexistent/program"));
    assert!(matches!(done.outcome, Outcome::Exited { code: 127 }), "{:?}", done.outcome);
    let mut request = shell("true");
    request.argv = vec!["no-such-program-anywhere".into()];
    let done = run(request);
    assert_eq!(done.outcome, Outcome::Exited { code: 127 });
    assert!(text(&done.stderr).contains("command not found"), "{}", text(&done.stderr));
    // `/dev` is mounted `noexec` and Landlock grants no execute right there: refused.
    let mut request = shell("true");
    request.argv = vec!["/dev/null".into()];
    let done = run(request);
    assert!(matches!(done.outcome, Outcome::Denied { .. }), "{:?}", done.outcome);
}

/// A one-answer-per-connection HTTP server on the host's loopback; returns its port.
pub(crate) fn serve_http(body: &'static str) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn warm_sandboxes_are_built_ahead_used_once_and_replaced() {
    let runtime_dir = tempfile::tempdir().unwrap();
    let sandbox = aecl_sandbox::Sandbox::new(crate::config(runtime_dir.path(), 1)).unwrap();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    for isolation in isolation_modes() {
        let mut first = shell("echo one > /tmp/mark; echo first; id -u");
        first.isolation = isolation;
        first.deadlines.call_ms = 1_000;
        runtime.block_on(sandbox.prepare(&first)).unwrap();
        assert_eq!(sandbox.warm_for(&first), 1);
        // The deadline counts from the hand-over, not from the build.
        std::thread::sleep(std::time::Duration::from_millis(1_500));
        let done = runtime.block_on(sandbox.run(first.clone())).unwrap();
        assert_eq!(
            done.outcome,
            Outcome::Exited { code: 0 },
            "{isolation:?}: {}",
            text(&done.stderr)
        );
        assert!(text(&done.stdout).starts_with("first\n"));
        // A replacement is built in the background.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while sandbox.warm_for(&first) == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(sandbox.warm_for(&first), 1, "{isolation:?}: no replacement was built");
        // The next command of the same shape runs in the fresh one: nothing carried over.
        let mut second = shell("cat /tmp/mark 2>/dev/null || echo clean; exit 5");
        second.isolation = isolation;
        second.deadlines.call_ms = 1_000;
        let done = runtime.block_on(sandbox.run(second)).unwrap();
        assert_eq!(done.outcome, Outcome::Exited { code: 5 }, "{isolation:?}");
        assert_eq!(text(&done.stdout), "clean\n", "{isolation:?}");
    }
}

#[test]
fn the_command_holds_no_descriptor_but_its_stdio() {
    for isolation in isolation_modes() {
        let mut request = shell(
            "exec /usr/bin/python3 -c \"import os\nfor fd in range(3, 1024):\n    try:\n        os.fstat(fd); print('open', fd, os.readlink('/proc/self/fd/%d' % fd))\n    except OSError:\n        pass\nprint('done')\"",
        );
        request.isolation = isolation;
        // The fallback refuses allowed hosts (`fallback.rs`).
        if isolation == Isolation::Namespaces {
            request.allow_hosts = vec![aecl_sandbox::HostPattern::parse("example.com").unwrap()];
        }
        let done = run(request);
        assert_eq!(text(&done.stdout), "done\n", "{isolation:?}: {}", text(&done.stderr));
    }
}

#[test]
fn a_command_reading_stdin_without_any_sees_its_end() {
    let mut request = shell("cat; echo read-all");
    request.deadlines.call_ms = 5_000;
    let done = run(request);
    assert_eq!(done.outcome, Outcome::Exited { code: 0 });
    assert_eq!(text(&done.stdout), "read-all\n");
}

#[test]
fn directories_left_by_a_killed_launcher_are_swept() {
    let runtime_dir = tempfile::tempdir().unwrap();
    // A launcher that is gone: a pid that is surely not alive (above the kernel's limit).
    let orphan = runtime_dir.path().join("aecl-sandbox-2147483646-0011223344556677");
    std::fs::create_dir_all(orphan.join("root")).unwrap();
    std::fs::write(orphan.join("egress.sock"), b"").unwrap();
    // One of a live launcher (this test) stays.
    let live =
        runtime_dir.path().join(format!("aecl-sandbox-{}-8899aabbccddeeff", std::process::id()));
    std::fs::create_dir_all(&live).unwrap();
    let _sandbox = aecl_sandbox::Sandbox::new(crate::config(runtime_dir.path(), 0)).unwrap();
    assert!(!orphan.exists(), "the orphan was not swept");
    assert!(live.exists(), "a live launcher's directory was swept");
}

#[test]
fn an_allowed_name_resolving_to_loopback_is_refused_unless_its_address_is_allowed() {
    use aecl_sandbox::{HostPattern, parse_cidr};
    let port = serve_http("host loopback listener");
    // The fallback refuses allowed hosts (`fallback.rs`).
    let isolation = Isolation::Namespaces;
    // `localhost` is allowed by name, but it is the host's loopback: refused, and the
    // listener is never reached, however the address is spelled.
    let script = format!(
        "curl -sS --max-time 5 -o /dev/null -w '%{{http_code}}' http://localhost:{port}/; echo \" name=$?\"; \
         curl -sS --max-time 5 -o /dev/null -w '%{{http_code}}' -p https://localhost:{port}/; echo \" tunnel=$?\"; \
         curl -sS --max-time 5 -o /dev/null -w '%{{http_code}}' http://2130706433:{port}/; echo \" number=$?\""
    );
    let mut request = shell(&script);
    request.allow_hosts = vec![HostPattern::parse(&format!("localhost:{port}")).unwrap()];
    request.isolation = isolation;
    let done = run(request);
    let out = text(&done.stdout);
    assert!(!out.contains("host loopback listener"), "{isolation:?}: {out}");
    assert!(out.contains("403 name=0"), "{isolation:?}: {out}\n{}", text(&done.stderr));
    assert!(!out.contains(" tunnel=0"), "{isolation:?}: {out}");
    // curl reads the number as 127.0.0.1 as well: refused the same.
    assert!(out.contains("403 number=0"), "{isolation:?}: {out}");
    let refused: Vec<_> = done.egress.iter().filter(|a| !a.allowed).collect();
    assert!(refused.len() >= 2, "{:?}", done.egress);
    assert!(
        refused[0].refused.as_deref().is_some_and(|r| r.contains("127.0.0.1")),
        "{:?}",
        done.egress
    );

    // Named by the policy: the same request reaches it.
    let mut request =
        shell(&format!("curl -sS --max-time 5 http://localhost:{port}/; echo \" rc=$?\""));
    request.allow_hosts = vec![HostPattern::parse(&format!("localhost:{port}")).unwrap()];
    request.allow_cidrs = vec![parse_cidr("127.0.0.1/32").unwrap()];
    request.isolation = isolation;
    let done = run(request);
    let out = text(&done.stdout);
    assert!(
        out.contains("host loopback listener rc=0"),
        "{isolation:?}: {out}\n{}",
        text(&done.stderr)
    );
    assert_eq!(done.egress[0].address.as_deref(), Some("127.0.0.1"), "{:?}", done.egress);
}
