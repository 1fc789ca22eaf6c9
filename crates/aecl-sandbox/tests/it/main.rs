//! Integration tests of the sandbox: real commands in the real helper, on this kernel.

mod escape;
mod run;

use std::path::PathBuf;

use aecl_sandbox::{Deadlines, Execution, Isolation, Request, Sandbox, SandboxConfig};

/// A launcher over the helper this test binary was built with, with sandbox directories
/// in a temporary directory of the test's.
pub(crate) struct Harness {
    pub(crate) sandbox: Sandbox,
    pub(crate) _runtime: tempfile::TempDir,
}

pub(crate) fn harness() -> Harness {
    let runtime = tempfile::tempdir().unwrap();
    let config = SandboxConfig {
        helper: PathBuf::from(env!("CARGO_BIN_EXE_aecl-sandbox")),
        runtime_dir: runtime.path().to_path_buf(),
        identity: None,
    };
    Harness { sandbox: Sandbox::new(config).unwrap(), _runtime: runtime }
}

/// A request for `sh -c script` with a short call timeout.
pub(crate) fn shell(script: &str) -> Request {
    Request {
        argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
        env: vec![("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into())],
        deadlines: Deadlines { call_ms: 20_000, run_ms: None, lifetime_ms: 60_000 },
        output_cap: 1 << 20,
        ..Request::default()
    }
}

pub(crate) fn isolation_modes() -> [Isolation; 2] {
    [Isolation::Namespaces, Isolation::Landlock]
}

pub(crate) fn run(request: Request) -> Execution {
    let harness = harness();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(harness.sandbox.run(request)).unwrap()
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
