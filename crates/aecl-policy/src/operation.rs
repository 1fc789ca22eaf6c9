//! Lowering of an action's `operation` and `operation_arg`: the operation its connector
//! performs is bound here, from the catalog, and must agree with the declared `effect`.

use aecl_core::operation::{DEFAULT_OPERATION_ARG, Operation, OperationBinding};
use aecl_core::policy::EffectClass;

use crate::error::Problem;
use crate::format::{ActionFile, OperationName};
use crate::location::Step;
use crate::lower::FileCtx;

/// The binding of the action whose key path is `at` (`actions.NAME`), reporting problems
/// against its `operation` and `operation_arg` keys.
///
/// An explicit `operation` must match the effect (a `read` action cannot be bound to
/// `delete`). Without one, an action that names a connector is bound to the operation its
/// effect implies; an action with no connector (executed by the client) has no binding.
pub(crate) fn lower(
    file: &ActionFile,
    effect: EffectClass,
    ctx: &FileCtx<'_>,
    at: &[Step],
    problems: &mut Vec<Problem>,
) -> Option<OperationBinding> {
    let key = |name: &str| {
        let mut path = at.to_vec();
        path.push(Step::from(name));
        path
    };
    let operation = match file.operation.map(operation) {
        Some(operation) if operation.effect() != effect => {
            problems.push(ctx.problem(
                &key("operation"),
                format!(
                    "operation `{operation}` is a `{}`, but the action declares effect `{}`: \
                     declare `effect = \"{}\"` or bind the operation the effect says",
                    operation.effect().as_str(),
                    effect.as_str(),
                    operation.effect().as_str()
                ),
            ));
            None
        }
        Some(operation) => Some(operation),
        None if file.connector.is_some() => Operation::of_effect(effect),
        None => None,
    };
    let arg = match &file.operation_arg {
        Some(arg) if arg.is_empty() || arg.contains('.') => {
            problems.push(ctx.problem(
                &key("operation_arg"),
                format!("`operation_arg` takes a top-level argument name, not `{arg}`"),
            ));
            DEFAULT_OPERATION_ARG.to_owned()
        }
        Some(_) if operation.is_none() && file.operation.is_none() => {
            problems.push(ctx.problem(
                &key("operation_arg"),
                "`operation_arg` needs an operation: set `operation`, or a `connector` with a \
                 `read`, `write` or `delete` effect",
            ));
            DEFAULT_OPERATION_ARG.to_owned()
        }
        Some(arg) => arg.clone(),
        None => DEFAULT_OPERATION_ARG.to_owned(),
    };
    operation.map(|operation| OperationBinding { operation, arg })
}

fn operation(name: OperationName) -> Operation {
    match name {
        OperationName::Read => Operation::Read,
        OperationName::Write => Operation::Write,
        OperationName::Delete => Operation::Delete,
        OperationName::Move => Operation::Move,
    }
}
