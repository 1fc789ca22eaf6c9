//! Operation binding: what a connector does for an action is a property of the action's
//! catalog entry, never the agent's choice.
//!
//! A connector that can do several things (the `fs` connector reads, writes, deletes and
//! moves) does, for one action, the one operation the catalog binds (`operation = "read"`,
//! or the one its `effect` implies). The agent may still name it in an argument (`op`),
//! but only to say the same thing: a call naming another operation is blocked at
//! validation (`arguments.operation_mismatch`). The same principle holds where the agent
//! writes the operation itself: an action declared `read` and bound to a connector may only
//! run SQL statements that only read, and send only reading HTTP methods
//! (`http_method.rs`).
//!
//! This file holds the vocabulary the policy stores; `check.rs` holds the checks, which
//! read the policy's action specs.

use crate::class::EffectClass;

/// What a connector does for an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Read,
    Write,
    Delete,
    /// Moves a file: a write (of the destination) that the catalog must declare as such.
    Move,
}

impl Operation {
    pub const ALL: [Operation; 4] =
        [Operation::Read, Operation::Write, Operation::Delete, Operation::Move];

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Write => "write",
            Operation::Delete => "delete",
            Operation::Move => "move",
        }
    }

    pub fn parse(s: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// The effect an action bound to this operation must declare: the catalog's effect is
    /// what approvals, risk and sandbox rules see, so it must say what really happens.
    pub fn effect(self) -> EffectClass {
        match self {
            Operation::Read => EffectClass::Read,
            Operation::Write | Operation::Move => EffectClass::Write,
            Operation::Delete => EffectClass::Delete,
        }
    }

    /// The operation an effect implies when the catalog names none: `read`, `write` and
    /// `delete` are themselves; other effects imply no operation.
    pub fn of_effect(effect: EffectClass) -> Option<Operation> {
        match effect {
            EffectClass::Read => Some(Operation::Read),
            EffectClass::Write => Some(Operation::Write),
            EffectClass::Delete => Some(Operation::Delete),
            _ => None,
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The operation an action is bound to, and the argument in which an agent may name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationBinding {
    pub operation: Operation,
    /// A top-level argument name (`op` unless the catalog says `operation_arg`).
    pub arg: String,
}

/// The default argument that names an operation.
pub const DEFAULT_OPERATION_ARG: &str = "op";

/// One way a call asks for something other than its action's bound operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationMismatch {
    /// The argument at fault.
    pub field: String,
    pub message: String,
}

pub mod check;
mod http_method;

#[cfg(test)]
mod tests;
