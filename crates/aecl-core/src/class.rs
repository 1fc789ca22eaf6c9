//! The classes the catalog sorts actions and data into: an action's effect and whether it
//! can be undone, an output's trust and data class.
//!
//! A leaf module: the policy holds these, and the stages below it (sandbox tiers, operation
//! binding, the run's history, provenance) sort by them without reaching up to the policy.

use serde::{Deserialize, Serialize};

/// What kind of effect an action has on the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectClass {
    Read,
    Write,
    Delete,
    Send,
    Exec,
    Payment,
    Admin,
}

impl EffectClass {
    pub const ALL: [EffectClass; 7] = [
        EffectClass::Read,
        EffectClass::Write,
        EffectClass::Delete,
        EffectClass::Send,
        EffectClass::Exec,
        EffectClass::Payment,
        EffectClass::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EffectClass::Read => "read",
            EffectClass::Write => "write",
            EffectClass::Delete => "delete",
            EffectClass::Send => "send",
            EffectClass::Exec => "exec",
            EffectClass::Payment => "payment",
            EffectClass::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<EffectClass> {
        EffectClass::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// Whether an action's effect can be undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reversibility {
    /// The action changes nothing (reads).
    NoEffect,
    Reversible {
        compensation: String,
    },
    Irreversible,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    Trusted,
    Untrusted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataClass {
    Public,
    Internal,
    Secret,
}
