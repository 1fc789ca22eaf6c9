//! The operation checks of one call: every way its arguments ask for another operation than
//! the one its action is bound to, and, for an action declared `read` that a connector
//! runs, every statement or method that does not only read.

use serde_json::Value;

use super::{OperationMismatch, http_method};
use crate::class::EffectClass;
use crate::constraint::Constraint;
use crate::policy::ActionSpec;
use crate::sql::StatementClass;

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
/// whatever its SQL rules allow. (Text that does not parse is left to the SQL constraint,
/// which blocks it.)
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
