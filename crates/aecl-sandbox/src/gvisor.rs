//! The `gvisor` tier: the command runs under runsc, gVisor's user-space kernel, in an OCI
//! bundle the launcher builds.

use crate::error::SandboxError;
use crate::launch::{Execution, Request};
use crate::tier::{Tier, TierConfig, TierStatus};

/// Whether runsc works on this host, and on which platform.
pub(crate) async fn probe(_config: &TierConfig) -> TierStatus {
    TierStatus { tier: Tier::Gvisor, available: false, detail: "not built yet".to_owned() }
}

pub(crate) async fn run(
    _config: &TierConfig,
    _status: &TierStatus,
    _request: Request,
) -> Result<Execution, SandboxError> {
    Err(SandboxError::TierUnavailable { tier: Tier::Gvisor, why: "not built yet".to_owned() })
}
