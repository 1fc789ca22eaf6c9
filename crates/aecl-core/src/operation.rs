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

use serde_json::Value;

use crate::constraint::Constraint;
use crate::policy::{ActionSpec, EffectClass};
use crate::sql::StatementClass;

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

/// Every way `args` asks for another operation than `action` is bound to.
pub fn mismatches(action: &ActionSpec, args: &Value) -> Vec<OperationMismatch> {
    let mut out = Vec::new();
    if let Some(binding) = &action.operation
        && let Some(named) = args.get(&binding.arg)
    {
        // Exact text only: `Delete`, ` read` or a non-string are not the bound operation,
        // and a connector must never be left to interpret them.
        if named.as_str() != Some(binding.operation.as_str()) {
            out.push(OperationMismatch {
                field: binding.arg.clone(),
                message: format!(
                    "action `{}` is bound to operation `{}`; the call asks for {named}",
                    action.name, binding.operation
                ),
            });
        }
    }
    // Only where a connector of aecl's runs the statement: a client executing its own tool
    // keeps its SQL rules as written.
    if action.effect == EffectClass::Read && action.connector.is_some() {
        sql_reads_only(action, args, &mut out);
        http_method::reads_only(action, args, &mut out);
    }
    out
}

/// An action declared `read` and bound to a connector runs only statements that only read,
/// whatever its SQL rules allow. (Text that does not parse is left to the SQL constraint, which blocks it.)
fn sql_reads_only(action: &ActionSpec, args: &Value, out: &mut Vec<OperationMismatch>) {
    for arg in &action.args {
        for constraint in &arg.constraints {
            let Constraint::Sql(rules) = constraint else { continue };
            arg.path.for_each_value(args, &mut |value| {
                let Some(text) = value.as_str() else { return };
                let Ok(statements) = rules.analyse(text) else { return };
                let writes: Vec<&str> = statements
                    .iter()
                    .flat_map(|s| &s.classes)
                    .filter(|c| **c != StatementClass::Select)
                    .map(|c| c.as_str())
                    .collect();
                if !writes.is_empty() {
                    out.push(OperationMismatch {
                        field: arg.path.to_string(),
                        message: format!(
                            "action `{}` is declared `read`; the statement is `{}`",
                            action.name,
                            writes.join("`, `")
                        ),
                    });
                }
            });
        }
    }
}

mod http_method;

#[cfg(test)]
mod tests;
