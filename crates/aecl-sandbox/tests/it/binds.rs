//! Binds inside a writable bind: a command may rename directories there and plant links,
//! and a later sandbox must never follow them to bind another host directory (red-team
//! round 10: the host's `/etc` over the sandbox's own, aecl's signing keys read through a
//! read-only bind). In the process tier (namespaces, and the Landlock fallback, which
//! refuses a read-only bind inside a writable one outright) and in gVisor.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use aecl_sandbox::{Bind, Isolation, Outcome, Request, Tier};

use crate::{Mode, modes, run, shell, text, try_run};

fn open_to_all(path: &Path) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).unwrap();
}

fn request(mode: Mode, script: &str, binds: &[Bind]) -> Request {
    Request { tier: mode.tier, isolation: mode.isolation, binds: binds.to_vec(), ..shell(script) }
}

#[test]
fn a_link_a_command_plants_inside_a_writable_bind_never_moves_a_later_bind() {
    for mode in modes(Tier::Process).into_iter().chain(modes(Tier::Gvisor)) {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let (ws, secret) = (base.join("ws"), base.join("secret"));
        std::fs::create_dir_all(ws.join("x/ro")).unwrap();
        std::fs::create_dir_all(&secret).unwrap();
        std::fs::write(secret.join("key"), "SECRET").unwrap();
        for path in [&base, &ws, &ws.join("x"), &ws.join("x/ro"), &secret] {
            open_to_all(path);
        }
        std::fs::set_permissions(secret.join("key"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        let binds = [
            Bind { path: ws.clone(), writable: true },
            Bind { path: ws.join("x/ro"), writable: false },
        ];
        let plant = format!(
            "cd {ws} && mv x x.old && mkdir x && ln -s {secret} x/ro && echo planted",
            ws = ws.display(),
            secret = secret.display()
        );
        let done = run(request(mode, &plant, &binds));
        if mode.isolation == Isolation::Landlock {
            // Landlock cannot keep a read-only bind inside a writable one read-only.
            let Outcome::Setup { error } = &done.outcome else {
                panic!("{mode:?}: ran: {:?} {}", done.outcome, text(&done.stdout));
            };
            assert!(error.contains("lies inside the writable bind"), "{mode:?}: {error}");
            continue;
        }
        // `x` is a mount point in the sandbox (between a writable bind and one inside it):
        // it cannot be moved away.
        assert_eq!(text(&done.stdout), "", "{mode:?}: {}", text(&done.stderr));
        // A link made there some other way (by a host process, an older aecl) is refused.
        std::fs::rename(ws.join("x"), ws.join("x.old")).unwrap();
        std::fs::create_dir(ws.join("x")).unwrap();
        std::os::unix::fs::symlink(&secret, ws.join("x/ro")).unwrap();
        let read = format!("cat {}/x/ro/key", ws.display());
        // Refused before anything runs: as the sandbox's outcome (the process tier's helper
        // finds the link while it builds the root) or as the launcher's error (gVisor's
        // bundle is checked before runsc starts).
        let error = match try_run(request(mode, &read, &binds)) {
            Ok(done) => {
                assert!(!text(&done.stdout).contains("SECRET"), "{mode:?}: the secret was bound");
                let Outcome::Setup { error } = done.outcome else {
                    panic!("{mode:?}: not refused: {:?} {}", done.outcome, text(&done.stderr));
                };
                error
            }
            Err(error) => error.to_string(),
        };
        assert!(error.contains("is a symbolic link"), "{mode:?}: {error}");
    }
}

/// Red-team round 10, second pass: with `ro_binds = ["ws/x/ro"]`, a command moved `x` away
/// and made an empty `x/ro`: the next sandbox bound the empty one read-only while the
/// real one, at `x.o/ro`, was writable. The directories between a writable bind and a bind
/// inside it are mount points now, which cannot be moved.
#[test]
fn a_directory_above_a_nested_bind_cannot_be_moved_away() {
    for mode in [Mode { tier: Tier::Process, isolation: Isolation::Namespaces }]
        .into_iter()
        .chain(modes(Tier::Gvisor))
    {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let ws = base.join("ws");
        std::fs::create_dir_all(ws.join("x/ro")).unwrap();
        for path in [&base, &ws, &ws.join("x"), &ws.join("x/ro")] {
            open_to_all(path);
        }
        let binds = [
            Bind { path: ws.clone(), writable: true },
            Bind { path: ws.join("x/ro"), writable: false },
        ];
        let swap = format!(
            "cd {} && mv x x.o && mkdir -p x/ro && echo moved; echo hook > x.o/ro/hook",
            ws.display()
        );
        let done = run(request(mode, &swap, &binds));
        assert!(!text(&done.stdout).contains("moved"), "{mode:?}: {}", text(&done.stdout));
        assert!(ws.join("x/ro").is_dir() && !ws.join("x.o").exists(), "{mode:?}");
        assert!(!ws.join("x/ro/hook").exists(), "{mode:?}: the read-only bind was written");
    }
}
