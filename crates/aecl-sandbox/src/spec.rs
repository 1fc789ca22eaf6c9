//! What the launcher tells the helper and what the helper reports back. The launcher
//! writes two messages on the helper's stdin, each its length in decimal on a line and
//! then that much JSON: the [`Spec`] (the sandbox to build), and once the sandbox is
//! built, the [`Command`] to run in it. Whatever follows is the command's stdin. On its
//! descriptor 3 the helper says when the sandbox is built (one byte) and, at the end,
//! writes its [`Report`] (JSON to the pipe's end).
//!
//! Two messages, so that a sandbox can be built ahead of time and wait, fully restricted,
//! for its one command: the time to build it is then off the call's path.
//!
//! The helper trusts its spec: only the launcher writes it, through a pipe, and the
//! helper runs with the launcher's own privileges. Everything the sandboxed command can
//! influence (its output, its exit status) is data to the launcher, never instructions.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Inside the sandbox: the writable, ephemeral work directory and the command's cwd.
pub const WORK_DIR: &str = "/work";

/// Inside the sandbox: where the egress proxy's socket is bound, and the loopback port
/// on which the sandbox's forwarder listens for the command (`HTTP_PROXY`).
pub const EGRESS_SOCKET: &str = "/run/aecl/egress.sock";
pub const EGRESS_PORT: u16 = 3128;

/// The command a built sandbox runs (exactly one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    /// The program and its arguments; a program without `/` is looked up in `PATH`.
    pub argv: Vec<String>,
    /// The whole environment of the command (the launcher built it from an allowlist).
    pub env: Vec<(String, String)>,
    /// Counted from when the helper receives this message.
    pub deadlines: Deadlines,
}

/// The sandbox to build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The host user and group the sandbox runs as: never 0.
    pub host_uid: u32,
    pub host_gid: u32,
    /// An empty host directory, the mount point of the sandbox's new root.
    pub root_dir: PathBuf,
    /// A host directory for the work dir when namespaces are not available (fallback).
    pub fallback_work_dir: PathBuf,
    /// The egress proxy's Unix socket on the host; `None`: no network at all.
    pub egress: Option<Egress>,
    /// Host directories bound into the sandbox.
    pub binds: Vec<Bind>,
    pub limits: Limits,
    /// Whether a limit that cannot be enforced refuses the run.
    pub enforcement: Enforcement,
    pub isolation: Isolation,
    /// The name of the sandbox's cgroup (under `aecl/`), chosen by the launcher so that
    /// it can kill the whole tree itself when the helper does not answer.
    pub cgroup: String,
}

/// What happens when a limit of [`Limits`] cannot be enforced on this host (no cgroup
/// can be made, so no memory limit over the whole tree; no tmpfs for the work dir...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Enforcement {
    /// The run is refused (`Outcome::Setup`, exit 125) with a message naming each limit
    /// and the fix. The default: a limit asked for is a limit kept.
    #[default]
    Enforced,
    /// Set explicitly by the operator: run with what can be enforced (per-process
    /// rlimits), and name the limits that were not in the layers (`limits_unenforced`).
    BestEffort,
}

impl Enforcement {
    pub fn as_str(self) -> &'static str {
        match self {
            Enforcement::Enforced => "enforced",
            Enforcement::BestEffort => "best_effort",
        }
    }

    pub fn parse(text: &str) -> Option<Enforcement> {
        [Enforcement::Enforced, Enforcement::BestEffort].into_iter().find(|e| e.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Egress {
    /// Bound into the sandbox (namespaces, gVisor); in the fallback the helper carries
    /// the command's authenticated connections from a loopback port of its own to it.
    /// The launcher opens no TCP port: no other local user can reach the proxy.
    pub socket: PathBuf,
}

/// A host directory visible inside the sandbox at the same path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bind {
    pub path: PathBuf,
    pub writable: bool,
}

/// Resource limits. Memory and process counts are enforced over the whole process tree
/// by the cgroup; process counts also by `RLIMIT_NPROC` where that count is the
/// sandbox's own (its own user namespace, or a fresh host uid); the work size by a tmpfs
/// with `size=` and `nr_inodes=`; CPU time per process by `RLIMIT_CPU`. What cannot be
/// enforced refuses the run unless [`Enforcement::BestEffort`] is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub memory_bytes: u64,
    pub pids: u64,
    pub cpu_seconds: u64,
    /// The largest file the command may write (`RLIMIT_FSIZE`).
    pub file_bytes: u64,
    pub open_files: u64,
    /// Size of the work dir and of `/tmp` (each a tmpfs, counted in the memory cgroup);
    /// each also holds at most [`Limits::work_inodes`] files.
    pub work_bytes: u64,
}

impl Limits {
    /// The most files and directories the work dir (and `/tmp`) may hold: one per 4 KiB
    /// of its size, at least 256. Without it a tmpfs counts only its bytes, and empty
    /// files cost none of them while each costs the host about a kilobyte of kernel
    /// memory.
    pub fn work_inodes(&self) -> u64 {
        (self.work_bytes / 4096).max(256)
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory_bytes: 512 << 20,
            pids: 256,
            cpu_seconds: 60,
            file_bytes: 64 << 20,
            open_files: 256,
            work_bytes: 64 << 20,
        }
    }
}

/// The three timeouts of design.md §3 step 11, in milliseconds. The earliest one ends the
/// whole process tree; the report names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadlines {
    /// This tool call.
    pub call_ms: u64,
    /// What is left of the run's time, when the run has a limit.
    pub run_ms: Option<u64>,
    /// The longest any sandbox may live, whatever else is set.
    pub lifetime_ms: u64,
}

impl Deadlines {
    /// The deadline that ends the command first, and which one it is (the call's on a tie).
    pub fn binding(&self) -> (TimeLimit, u64) {
        let mut best = (TimeLimit::Call, self.call_ms);
        if let Some(run) = self.run_ms
            && run < best.1
        {
            best = (TimeLimit::Run, run);
        }
        if self.lifetime_ms < best.1 {
            best = (TimeLimit::Lifetime, self.lifetime_ms);
        }
        best
    }
}

/// How the command is contained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// Namespaces when the kernel lets us make them, else Landlock plus seccomp (said so
    /// in the report).
    #[default]
    Auto,
    /// Namespaces or nothing: a host without user namespaces refuses to run.
    Namespaces,
    /// Landlock, seccomp and rlimits only, as on a host without user namespaces.
    Landlock,
}

/// Which timeout fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeLimit {
    Call,
    Run,
    Lifetime,
}

impl TimeLimit {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeLimit::Call => "call",
            TimeLimit::Run => "run",
            TimeLimit::Lifetime => "lifetime",
        }
    }
}

/// How the command ended. `Denied`, `TimedOut`, `Killed` and `Setup` are kept apart from
/// an ordinary exit so that a refusal by the sandbox never reads as the command's failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// The command exited by itself (0 is success; anything else is its own failure).
    Exited { code: i32 },
    /// The sandbox refused: the program could not be executed under its rules. Only
    /// what aecl knows it refused: a command ended by `SIGSYS` is [`Outcome::Killed`],
    /// since a seccomp kill and a signal the command sent itself look the same.
    Denied { reason: String },
    /// A deadline passed and the whole process tree was killed.
    TimedOut { limit: TimeLimit, after_ms: u64 },
    /// The command died of a signal; `cause` says when the sandbox knows why (the memory
    /// limit).
    Killed { signal: i32, cause: Option<String> },
    /// The sandbox could not be built; nothing ran.
    Setup { error: String },
}

impl Outcome {
    /// The exit code `aecl sandbox run` passes through: the command's own, 124 for a
    /// timeout, 125 when the sandbox could not be built, 126 when it refused, 128 + N for
    /// a signal (as shells and `timeout(1)` do).
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Exited { code } => *code,
            Outcome::TimedOut { .. } => 124,
            Outcome::Setup { .. } => 125,
            Outcome::Denied { .. } => 126,
            Outcome::Killed { signal, .. } => 128 + signal,
        }
    }

    /// One word for logs and audit records.
    pub fn label(&self) -> String {
        match self {
            Outcome::Exited { code: 0 } => "succeeded".to_owned(),
            Outcome::Exited { .. } => "failed".to_owned(),
            Outcome::Denied { .. } => "denied".to_owned(),
            Outcome::TimedOut { .. } => "timed_out".to_owned(),
            Outcome::Killed { signal, .. } => format!("killed({signal})"),
            Outcome::Setup { .. } => "setup".to_owned(),
        }
    }
}

/// The isolation layers that were active, for the audit record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layers {
    /// `namespaces` or `landlock-fallback` (process tier), `gvisor`.
    pub mode: String,
    /// The runtime under the command in the stronger tiers (`runsc 0.0~20240729.0,
    /// platform systrap`); `None` in the process tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// Why namespaces were not used, in the fallback.
    pub fallback_reason: Option<String>,
    /// `user`, `pid`, `mount`, `net`, `ipc`, `uts`, `cgroup`.
    pub namespaces: Vec<String>,
    pub readonly_root: bool,
    /// `fully_enforced`, `partially_enforced` or `not_enforced`, and the kernel's ABI.
    pub landlock: String,
    pub landlock_abi: i32,
    pub seccomp: bool,
    /// `v1`, `v2`, or `none: <why>`.
    pub cgroup: String,
    pub rlimits: bool,
    pub capabilities_dropped: bool,
    pub no_new_privs: bool,
    pub env_allowlist: bool,
    pub egress_proxy: bool,
    pub host_uid: u32,
    /// The limits that were asked for but not enforced (`limits = "best_effort"`), each
    /// with why: `memory (512 MiB): no cgroup ...`. Empty when every limit holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits_unenforced: Vec<String>,
    /// What of the host the command can still see or shares in this mode, each with its
    /// remedy where there is one: the Landlock fallback's host `/proc` (unless hidden),
    /// the host's network namespace, and aecl's own uid. Empty where nothing is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposed: Vec<String>,
}

/// What the helper reports of one run. `elapsed_ms` counts from the command's arrival.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub outcome: Outcome,
    pub layers: Layers,
    pub elapsed_ms: u64,
    /// Limits the command ran into, as the cgroup counted them: `the process limit (64)
    /// refused 1532 forks`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits_reached: Vec<String>,
}
