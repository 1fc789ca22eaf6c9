//! Isolation tiers, from the weakest to the strongest, and what each needs on the host.
//!
//! The same [`Request`](crate::Request) runs in any tier: `process` is the helper's own
//! namespaces, Landlock and seccomp (trusted internal work); `gvisor` runs the command
//! under runsc, a user-space kernel (semi-trusted work); `microvm` boots a small virtual
//! machine with its own kernel (untrusted content). A tier that does not work on this
//! host is never replaced by a weaker one: the run is refused with
//! [`SandboxError::TierUnavailable`](crate::SandboxError::TierUnavailable).

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Ordered from the weakest isolation to the strongest.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    #[default]
    Process,
    Gvisor,
    Microvm,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Process, Tier::Gvisor, Tier::Microvm];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Process => "process",
            Tier::Gvisor => "gvisor",
            Tier::Microvm => "microvm",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a tier works on this host, as a start-up probe found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TierStatus {
    pub tier: Tier,
    pub available: bool,
    /// How it runs here (the runsc platform, the accelerator), or why it cannot.
    pub detail: String,
}

/// Where the stronger tiers find what they need. The defaults look `runsc` and
/// `qemu-system-x86_64` up in `PATH`; the microVM tier also needs a kernel and an
/// initramfs, which have no default.
#[derive(Debug, Clone, Default)]
pub struct TierConfig {
    /// The runsc executable; `None`: `runsc` in `PATH`.
    pub runsc: Option<PathBuf>,
    /// The microVM's kernel and initramfs; `None`: the tier is unavailable.
    pub microvm: Option<crate::microvm::MicrovmConfig>,
}
