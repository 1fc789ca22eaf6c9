//! The decision vocabulary every stage shares: what a finding asks for (`Decision`) and how
//! a policy is applied to live traffic (`Mode`).
//!
//! A leaf module: the validators (`constraint`, `shell`, `sql`, `path_glob`), the policy
//! and the verdict all name these, so they live below all of them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The outcome of a decision. Ordered from the most permissive to the strictest, so that
/// combining the findings of several stages is `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    RequireApproval,
    Block,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::RequireApproval => "require_approval",
            Decision::Block => "block",
        }
    }

    /// Parses the spelling used in policy files and traces.
    pub fn parse(s: &str) -> Option<Decision> {
        match s {
            "allow" => Some(Decision::Allow),
            "require_approval" => Some(Decision::RequireApproval),
            "block" => Some(Decision::Block),
            _ => None,
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a policy is applied to live traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// The decision is enforced.
    #[default]
    Enforce,
    /// The decision is computed and recorded, but the call is allowed: for trying a policy
    /// on live traffic before enforcing it.
    Monitor,
    /// The decision is computed and the execution simulated; nothing runs.
    DryRun,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Monitor => "monitor",
            Mode::DryRun => "dry-run",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "enforce" => Some(Mode::Enforce),
            "monitor" => Some(Mode::Monitor),
            "dry-run" => Some(Mode::DryRun),
            _ => None,
        }
    }
}
