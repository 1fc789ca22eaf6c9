//! `aecl sandbox run`: the command's output and exit code pass through; timeouts, refusals
//! and bad flags have their own exit codes and say why.

use std::path::{Path, PathBuf};

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

/// A link one run plants in its writable bind never moves a later run's bind (the red
/// team's round 19: `ws/docs` linked to `/etc`, `ws/out` to `/var/tmp`, then bound by a
/// run that names only them).
#[test]
fn a_link_an_earlier_run_planted_never_moves_a_later_runs_bind() {
    use std::os::unix::fs::PermissionsExt;
    helper_is_built();
    let tmp = crate::temp_dir();
    let ws = tmp.path().join("ws");
    for dir in [&ws, &ws.join("docs"), &ws.join("out")] {
        std::fs::create_dir(dir).unwrap();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let host_dir = tmp.path().join("host");
    std::fs::create_dir(&host_dir).unwrap();
    std::fs::write(host_dir.join("secret"), "host only").unwrap();
    let plant = format!(
        "cd {} && rmdir docs out && ln -s {} docs && ln -s {} out",
        ws.display(),
        host_dir.display(),
        host_dir.display()
    );
    let ws_arg = ws.to_str().unwrap();
    let done = run(["sandbox", "run", "--bind", ws_arg, "--", "sh", "-c", &plant]);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert!(ws.join("docs").is_symlink());
    for tier in ["process", "gvisor"] {
        for (flag, link) in [("--ro-bind", "docs"), ("--bind", "out")] {
            let bind = ws.join(link);
            let bind = bind.to_str().unwrap();
            let script = format!("cat {bind}/secret /etc/secret; touch {bind}/written");
            let done =
                run(["sandbox", "run", "--tier", tier, flag, bind, "--", "sh", "-c", &script]);
            assert_eq!(done.code, Some(2), "{tier} {flag} {link}: {}", done.stderr);
            assert!(done.stderr.contains("symbolic link"), "{}", done.stderr);
            assert!(!done.stdout.contains("host only"), "{}", done.stdout);
        }
    }
    assert!(!host_dir.join("written").exists());
    // Named by its real path, the directory is bound as asked.
    let real = host_dir.to_str().unwrap();
    let done = run(["sandbox", "run", "--ro-bind", real, "--", "cat", &format!("{real}/secret")]);
    assert_eq!((done.code, done.stdout.as_str()), (Some(0), "host only"), "{}", done.stderr);
}

#[test]
fn tiers_says_which_tiers_work_here_and_why_not() {
    helper_is_built();
    let done = run(["sandbox", "tiers"]);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let lines = done.lines();
    assert!(lines[0].starts_with("TIER") && lines[0].contains("AVAILABLE"), "{}", done.stdout);
    assert!(lines.iter().any(|l| l.starts_with("process  yes")), "{}", done.stdout);
    // CI installs runsc: the tier must work there.
    let gvisor = lines.iter().find(|l| l.starts_with("gvisor")).unwrap();
    assert!(gvisor.starts_with("gvisor   yes") && gvisor.contains("platform"), "{gvisor}");
    assert!(lines.iter().any(|l| l.starts_with("microvm")), "{}", done.stdout);
    let done = run(["sandbox", "tiers", "--json"]);
    let statuses: serde_json::Value = serde_json::from_str(&done.stdout).unwrap();
    let tiers: Vec<(&str, bool)> = statuses
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["tier"].as_str().unwrap(), s["available"].as_bool().unwrap()))
        .collect();
    assert_eq!(tiers[..2], [("process", true), ("gvisor", true)], "{}", done.stdout);
    assert_eq!(tiers[2].0, "microvm");
}

#[test]
fn the_gvisor_tier_runs_the_command_and_says_so() {
    helper_is_built();
    let done = run([
        "sandbox",
        "run",
        "--tier",
        "gvisor",
        "--report",
        "--",
        "sh",
        "-c",
        "echo hi; exit 7",
    ]);
    assert_eq!(done.code, Some(7), "{}", done.stderr);
    assert_eq!(done.stdout, "hi\n");
    let report: serde_json::Value =
        serde_json::from_str(done.stderr.lines().last().unwrap()).unwrap();
    assert_eq!(report["layers"]["mode"], "gvisor");
    assert!(report["layers"]["runtime"].as_str().unwrap().starts_with("runsc "), "{report}");
}

#[test]
fn a_tier_that_does_not_work_here_refuses_with_125() {
    helper_is_built();
    // Without runsc in `PATH` the gvisor tier is unavailable; nothing runs instead.
    let done = crate::aecl()
        .args(["sandbox", "run", "--tier", "gvisor", "--", "echo", "ran"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(125), "{stderr}");
    assert!(done.stdout.is_empty());
    assert!(stderr.contains("the `gvisor` sandbox tier is not available"), "{stderr}");
    assert!(stderr.contains("runsc is not installed"), "{stderr}");
    let done = run(["sandbox", "run", "--tier", "vm", "--", "true"]);
    assert_eq!(done.code, Some(2));
    assert!(done.stderr.contains("--tier `vm`"), "{}", done.stderr);
}

#[test]
fn a_killed_launcher_leaves_no_gvisor_container_running() {
    helper_is_built();
    // The sandbox's directory, and so every runsc process's arguments, are under TMPDIR.
    let tmp = crate::temp_dir();
    let mut aecl = crate::aecl()
        .args(["sandbox", "run", "--tier", "gvisor", "--timeout", "600", "--", "sleep", "600"])
        .env("TMPDIR", tmp.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The sandbox (gVisor's kernel, `runsc-sandbox ... boot`) is up.
    let started = wait_for(|| {
        processes_naming(tmp.path())
            .iter()
            .any(|c| c.starts_with("runsc-sandbox") && c.contains(" boot "))
    });
    assert!(started, "no gVisor sandbox appeared: {:?}", processes_naming(tmp.path()));
    let cgroups = gvisor_cgroups(tmp.path());
    assert!(!cgroups.is_empty(), "the sandbox has no host cgroup");
    aecl.kill().unwrap();
    aecl.wait().unwrap();
    // runsc dies with its launcher, and the attached sandbox with runsc.
    let gone = wait_for(|| processes_naming(tmp.path()).is_empty());
    assert!(gone, "left running: {:?}", processes_naming(tmp.path()));
    // runsc could not remove the sandbox's host cgroups: the next launcher does, with the
    // killed one's sandbox directory.
    let next = crate::aecl()
        .args(["sandbox", "run", "--", "true"])
        .env("TMPDIR", tmp.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(next.status.success(), "{}", String::from_utf8_lossy(&next.stderr));
    let left: Vec<_> = cgroups.iter().filter(|d| d.exists()).collect();
    assert!(left.is_empty(), "cgroups left: {left:?}");
    let sandboxes: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("aecl-sandbox-")))
        .collect();
    assert!(sandboxes.is_empty(), "sandbox directories left: {sandboxes:?}");
}

/// The host cgroups of the gVisor sandboxes under `runtime` (runsc's, named after the
/// container: `aecl-` and the sandbox directory's own suffix), in every hierarchy.
fn gvisor_cgroups(runtime: &Path) -> Vec<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    let hierarchies: Vec<_> = std::iter::once(root.to_path_buf())
        .chain(std::fs::read_dir(root).unwrap().flatten().map(|e| e.path()))
        .collect();
    let mut found = Vec::new();
    for sandbox in std::fs::read_dir(runtime).unwrap().flatten() {
        let name = sandbox.file_name().to_string_lossy().into_owned();
        let Some(suffix) = name.rsplit('-').next() else { continue };
        let id = format!("aecl-{suffix}");
        found.extend(hierarchies.iter().map(|h| h.join(&id)).filter(|d| d.is_dir()));
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn a_killed_launcher_leaves_no_process_tier_command_running() {
    helper_is_built();
    let bind = crate::temp_dir();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bind.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let alive = bind.path().join("alive");
    let script = format!("while true; do echo x >> {}; sleep 0.05; done", alive.display());
    let mut aecl = crate::aecl()
        .args(["sandbox", "run", "--timeout", "600", "--bind"])
        .arg(bind.path())
        .args(["--", "sh", "-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lines = || std::fs::read_to_string(&alive).map_or(0, |t| t.lines().count());
    assert!(wait_for(|| lines() >= 3), "the command never wrote");
    // SIGKILL: no destructor runs; the helper sees its launcher's pipe close.
    aecl.kill().unwrap();
    aecl.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let after = lines();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(lines(), after, "the command went on writing after its launcher died");
}

#[test]
fn the_commands_own_124_is_told_apart_by_the_report_on_a_line_of_its_own() {
    helper_is_built();
    // The command's last stderr line has no newline: the report still has a line.
    let script = "printf 'aecl sandbox: timed out' >&2; exit 124";
    let done = run(["sandbox", "run", "--report", "--", "sh", "-c", script]);
    assert_eq!(done.code, Some(124), "{}", done.stderr);
    assert!(done.stderr.starts_with("aecl sandbox: timed out\n{"), "{}", done.stderr);
    let report: serde_json::Value =
        serde_json::from_str(done.stderr.lines().last().unwrap()).unwrap();
    assert_eq!(report["exit_code"], 124);
    assert_eq!(report["outcome"], serde_json::json!({"kind": "exited", "code": 124}));
}

#[test]
fn a_sigsys_the_command_sent_itself_is_not_called_a_seccomp_denial() {
    helper_is_built();
    let done = run(["sandbox", "run", "--report", "--", "sh", "-c", "kill -SYS $$"]);
    assert_eq!(done.code, Some(128 + 31), "{}", done.stderr);
    // aecl's lines before the report say it was killed, not denied by seccomp.
    let (said, _report) = done.stderr.trim_end().rsplit_once('\n').unwrap();
    assert!(!said.contains("seccomp") && !said.contains("denied"), "{}", done.stderr);
    assert!(said.contains("killed by signal 31"), "{}", done.stderr);
    let report: serde_json::Value =
        serde_json::from_str(done.stderr.lines().last().unwrap()).unwrap();
    assert_eq!(report["outcome"]["kind"], "killed");
    assert_eq!(report["outcome"]["signal"], 31);
}

/// Polls `done` for up to 20 seconds (a bound for a loaded machine, not a measurement).
fn wait_for(done: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    done()
}

/// The command lines of the host's processes that name `path`.
fn processes_naming(path: &Path) -> Vec<String> {
    let needle = path.display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " "))
        .filter(|cmdline| cmdline.contains(&needle))
        .collect()
}

#[test]
fn a_fork_bomb_ends_with_124_and_says_the_process_limit_was_reached() {
    helper_is_built();
    // The bomb starts in a subshell, the shell's only fork: a shell exits (status 2) on a
    // fork it cannot make, which would end the run before its deadline once the bomb has
    // taken every process. `exec`: the sleep needs no fork either.
    let bomb = "bomb() { bomb | bomb & }; (bomb); exec sleep 30";
    let started = std::time::Instant::now();
    let done = run(["sandbox", "run", "--pids", "64", "--timeout", "3", "--", "sh", "-c", bomb]);
    assert!(matches!(done.code, Some(124 | 137)), "{:?}: {}", done.code, done.stderr);
    assert!(done.stderr.contains("timed out (call limit)"), "{}", done.stderr);
    assert!(done.stderr.contains("the process limit (64) was reached"), "{}", done.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(15), "{:?}", started.elapsed());
}

/// `aecl sandbox run ARGS` as an unprivileged host user (no cgroup can be made).
fn run_unprivileged(uid: u32, args: &[&str]) -> (Option<i32>, String, String) {
    use std::os::unix::fs::PermissionsExt;
    let tmp = crate::temp_dir();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let done = std::process::Command::new("/usr/bin/setpriv")
        .args([format!("--reuid={uid}"), format!("--regid={uid}"), "--clear-groups".to_owned()])
        .arg(env!("CARGO_BIN_EXE_aecl"))
        .args(args)
        .env("TMPDIR", tmp.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (done.status.code(), text(&done.stdout), text(&done.stderr))
}

#[test]
fn an_unprivileged_run_refuses_limits_it_cannot_enforce_with_125_unless_best_effort() {
    helper_is_built();
    let (code, stdout, stderr) =
        run_unprivileged(60_011, &["sandbox", "run", "--pids", "64", "--", "echo", "ran"]);
    assert_eq!(code, Some(125), "{stdout}{stderr}");
    assert!(!stdout.contains("ran"), "the command ran: {stdout}");
    assert!(stderr.contains("memory (512 MiB): no cgroup"), "{stderr}");
    assert!(stderr.contains("--limits best_effort") && stderr.contains("delegate"), "{stderr}");
    // The Landlock fallback under a shared uid cannot bound processes or the work dir.
    let (code, _, stderr) = run_unprivileged(
        60_011,
        &["sandbox", "run", "--pids", "64", "--isolation", "landlock", "--", "true"],
    );
    assert_eq!(code, Some(125), "{stderr}");
    assert!(stderr.contains("pids (64)") && stderr.contains("work size (64 MiB)"), "{stderr}");
    // Chosen explicitly: it runs, and says what was not enforced.
    let (code, stdout, stderr) = run_unprivileged(
        60_011,
        &["sandbox", "run", "--pids", "64", "--limits", "best_effort", "--", "echo", "ran"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "ran\n");
    assert!(stderr.contains("limits not enforced (best effort): memory"), "{stderr}");
    let done = run(["sandbox", "run", "--limits", "loose", "--", "true"]);
    assert_eq!(done.code, Some(2));
    assert!(done.stderr.contains("--limits `loose`"), "{}", done.stderr);
}

#[test]
fn allow_cidr_lets_an_allowed_name_reach_a_private_address() {
    helper_is_built();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.read(&mut [0u8; 4096]);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nreached");
        }
    });
    let url = format!("http://localhost:{port}/");
    let host = format!("localhost:{port}");
    let curl = ["curl", "-sS", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}"];
    let mut args = vec!["sandbox", "run", "--allow-host", &host, "--"];
    args.extend(curl);
    args.push(&url);
    let done = run(args.clone());
    assert_eq!(done.stdout, "403", "{}", done.stderr);
    args.splice(2..2, ["--allow-cidr", "127.0.0.1/32"]);
    let done = run(args);
    assert_eq!(done.stdout, "200", "{}", done.stderr);
    let done = run(["sandbox", "run", "--allow-cidr", "127.0.0.1/33", "--", "true"]);
    assert_eq!(done.code, Some(2));
    assert!(done.stderr.contains("--allow-cidr `127.0.0.1/33`"), "{}", done.stderr);
}

#[test]
fn aecl_alone_is_its_own_sandbox_helper() {
    // An install of the one binary (`cargo install --path crates/aecl-cli`): no
    // `aecl-sandbox` beside it, so the launcher starts `aecl` again as the helper.
    let dir = tempfile::tempdir().unwrap();
    let aecl = dir.path().join("aecl");
    std::fs::copy(env!("CARGO_BIN_EXE_aecl"), &aecl).unwrap();
    assert!(!dir.path().join("aecl-sandbox").exists());
    let done = std::process::Command::new(&aecl)
        .args(["sandbox", "run", "--report", "--", "sh", "-c", "echo inside; exit 7"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(7), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&done.stdout), "inside\n");
    let report: serde_json::Value = serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
    assert!(report["layers"]["mode"].is_string(), "{report}");
    let tiers =
        std::process::Command::new(&aecl).args(["sandbox", "tiers", "--json"]).output().unwrap();
    let statuses: serde_json::Value = serde_json::from_slice(&tiers.stdout).unwrap();
    let process = statuses.as_array().unwrap().iter().find(|s| s["tier"] == "process").unwrap();
    assert_eq!(process["available"], true, "{statuses}");
}

#[test]
fn the_egress_proxy_listens_on_no_host_port() {
    helper_is_built();
    // The red team's F4: a loopback port of the launcher's let any local user use the
    // proxy and put attempts into the agent's record. The sandbox reaches the proxy
    // through its Unix socket: no process of the run listens on a host TCP port.
    let mut aecl = crate::aecl()
        .args(["sandbox", "run", "--isolation", "namespaces", "--allow-host", "example.com"])
        .args(["--", "sleep", "3"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let launcher = aecl.id();
    let mut listening = Vec::new();
    for _ in 0..20 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        listening.extend(host_tcp_listeners(&process_tree(launcher)));
    }
    let _ = aecl.kill();
    let _ = aecl.wait();
    assert!(listening.is_empty(), "host TCP ports listened on: {listening:?}");
}

#[test]
fn the_fallback_says_what_of_the_host_it_exposes() {
    helper_is_built();
    let done = run(["sandbox", "run", "--isolation", "landlock", "--", "true"]);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert!(
        done.stderr.contains("aecl sandbox: exposed: host network namespace"),
        "{}",
        done.stderr
    );
}

/// `root` and its descendants.
fn process_tree(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse().ok()?;
            let status = std::fs::read_to_string(entry.path().join("status")).ok()?;
            let parent =
                status.lines().find_map(|l| l.strip_prefix("PPid:"))?.trim().parse().ok()?;
            Some((pid, parent))
        })
        .collect();
    let mut tree = vec![root];
    let mut i = 0;
    while let Some(pid) = tree.get(i).copied() {
        tree.extend(parents.iter().filter(|(_, parent)| *parent == pid).map(|(child, _)| *child));
        i += 1;
    }
    tree
}

/// The host network namespace's listening TCP sockets that `pids` hold, as
/// `/proc/net/tcp` lines.
fn host_tcp_listeners(pids: &[u32]) -> Vec<String> {
    let inodes: Vec<String> = pids
        .iter()
        .flat_map(|pid| {
            std::fs::read_dir(format!("/proc/{pid}/fd")).into_iter().flatten().flatten()
        })
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().into_owned();
            Some(link.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect();
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .flat_map(|table| {
            std::fs::read_to_string(table)
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(3) == Some(&"0A")
                && fields.get(9).is_some_and(|inode| inodes.iter().any(|i| i == inode))
        })
        .collect()
}
