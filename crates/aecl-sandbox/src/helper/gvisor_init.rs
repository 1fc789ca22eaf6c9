//! Inside a `gvisor` container, the helper executable (bound in read-only) starts what
//! runsc cannot, then becomes the command: the command is the container's first process,
//! and its end ends the container.
//!
//! - `--forward`: with allowed hosts, it listens on the container's loopback for the
//!   command's proxy connections (`HTTP_PROXY`) and carries each over the egress proxy's
//!   socket, also bound in (runsc runs with `--host-uds=open`, so only sockets bound in
//!   can be opened).
//! - `--unset-home`: runsc adds `HOME` to an environment without one; the command gets
//!   exactly the environment it was given.
//! - `--seccomp`: the process tier's seccomp filter (`seccomp::apply`), applied last, so
//!   that the command runs under exactly the filter it gets in the process tier. runsc's
//!   own `--oci-seccomp` profile cannot hold all of it: it answers every refusal `EPERM`,
//!   and `clone3` must fail with `ENOSYS` for libc to fall back to `clone`, whose
//!   namespace flags the filter can read.

use std::ffi::{CString, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use nix::unistd::{ForkResult, execvpe, fork};

use super::forward;

/// `aecl-sandbox gvisor-init [--seccomp] [--forward] [--unset-home] -- COMMAND ARGS...`: returns
/// only on failure (127: no such program, 126: it could not be started, as a shell says).
pub fn main(args: &[OsString]) -> i32 {
    let Some(split) = args.iter().position(|a| a == "--") else {
        return fail("expected `-- COMMAND`", 126);
    };
    let (options, command) = (&args[..split], &args[split + 1..]);
    let forward = options.iter().any(|o| o == "--forward");
    let unset_home = options.iter().any(|o| o == "--unset-home");
    let argv: Vec<CString> =
        match command.iter().map(|a| CString::new(a.as_bytes())).collect::<Result<_, _>>() {
            Ok(argv) => argv,
            Err(_) => return fail("an argument holds a NUL byte", 126),
        };
    let Some(program) = argv.first() else { return fail("no command after `--`", 126) };
    let env: Vec<CString> = std::env::vars_os()
        .filter(|(name, _)| !(unset_home && name == "HOME"))
        .filter_map(|(name, value)| {
            let mut pair = name.as_bytes().to_vec();
            pair.push(b'=');
            pair.extend_from_slice(value.as_bytes());
            CString::new(pair).ok()
        })
        .collect();
    if forward {
        let listener = match forward::listen() {
            Ok(listener) => listener,
            Err(error) => return fail(&error, 126),
        };
        // SAFETY: this process is single-threaded (the helper starts no thread before
        // this), so the child of `fork` may run any code.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => forward::serve(listener),
            Ok(ForkResult::Parent { .. }) => {}
            Err(e) => return fail(&format!("starting the egress forwarder: {e}"), 126),
        }
    }
    // After the forwarder's fork: the forwarder needs none of it, and is no command.
    // `no_new_privs` is the bundle's already; set again, as `seccomp::apply` needs it.
    if options.iter().any(|o| o == "--seccomp") {
        let applied = nix::sys::prctl::set_no_new_privs()
            .map_err(|e| format!("no_new_privs: {e}"))
            .and_then(|()| super::seccomp::apply());
        if let Err(error) = applied {
            return fail(&error, 126);
        }
    }
    let error = execvpe(program, &argv, &env).err();
    let name = program.to_string_lossy();
    match error {
        // As a shell says it.
        Some(nix::errno::Errno::ENOENT) => fail(&format!("`{name}`: command not found"), 127),
        // The launcher reads this line as the sandbox's refusal (`Outcome::Denied`).
        Some(e) => fail(&format!("{REFUSED} `{name}`: {e}"), 126),
        None => fail(&format!("`{name}`: exec returned"), 126),
    }
}

/// How the helper's line starts when a program may not be executed.
pub const REFUSED: &str = "cannot execute";

fn fail(message: &str, code: i32) -> i32 {
    let _ = writeln!(std::io::stderr(), "aecl-sandbox: {message}");
    code
}
