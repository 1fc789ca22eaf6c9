//! aecl's process-tier sandbox.
//!
//! [`Sandbox::run`] runs one command in fresh user, PID, mount, network, IPC, UTS and
//! cgroup namespaces, on a read-only root with an ephemeral work dir, under Landlock,
//! seccomp, rlimits and a cgroup, with an environment built from an allowlist and no
//! network but the egress proxy's allowed hosts, and ends the whole process tree at the
//! earliest of three deadlines (call, run, sandbox lifetime). The containment is done by
//! a small single-threaded helper executable (`aecl-sandbox`, [`helper::main`]) that the
//! launcher starts per call: the multi-threaded server never forks.
//!
//! Two stronger [`Tier`]s run the same request: `gvisor` (runsc, a user-space kernel) and
//! `microvm` (a virtual machine with its own kernel). A tier that does not work on the
//! host refuses the run; nothing ever runs in a weaker tier than asked.
//!
//! Where user namespaces are not available the helper falls back to Landlock plus
//! seccomp and says so in [`Layers`]; it never runs a command unsandboxed.

mod binds;
mod egress;
mod error;
mod gvisor;
pub mod helper;
mod launch;
mod microvm;
pub mod spec;
mod tier;

pub use binds::{read_only_inside_writable, resolve_binds};
pub use egress::{EgressAttempt, HostPattern, non_public, parse_cidr, proxy_target};
pub use error::SandboxError;
/// An address range of `Request::allow_cidrs` (see [`parse_cidr`]).
pub use ipnet::IpNet;
pub use launch::{Execution, Request, Sandbox, SandboxConfig};
pub use microvm::{
    Accel, IMAGE_ENV as MICROVM_IMAGE_ENV, INITRD_FILE as MICROVM_INITRD_FILE,
    KERNEL_FILE as MICROVM_KERNEL_FILE, MicrovmConfig, build_image as build_microvm_image,
    parse_guest_answer as parse_microvm_answer,
};
pub use spec::{Bind, Deadlines, Enforcement, Isolation, Layers, Limits, Outcome, TimeLimit};
pub use tier::{Tier, TierConfig, TierStatus};
