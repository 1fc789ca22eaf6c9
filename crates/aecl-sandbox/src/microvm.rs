//! The `microvm` tier: the command runs in a small virtual machine with its own kernel
//! and no network device.

use std::path::PathBuf;

use crate::error::SandboxError;
use crate::launch::{Execution, Request};
use crate::tier::{Tier, TierConfig, TierStatus};

/// The guest's kernel and initramfs, and the emulator that boots them.
#[derive(Debug, Clone)]
pub struct MicrovmConfig {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// `None`: `qemu-system-x86_64` in `PATH`.
    pub qemu: Option<PathBuf>,
}

/// Whether a tiny guest boots under KVM on this host.
pub(crate) async fn probe(_config: &TierConfig) -> TierStatus {
    TierStatus { tier: Tier::Microvm, available: false, detail: "not built yet".to_owned() }
}

pub(crate) async fn run(
    _config: &TierConfig,
    _status: &TierStatus,
    _request: Request,
) -> Result<Execution, SandboxError> {
    Err(SandboxError::TierUnavailable { tier: Tier::Microvm, why: "not built yet".to_owned() })
}
