//! An action declared `read` and bound to a connector sends only reading HTTP methods:
//! `GET`, `HEAD` or `OPTIONS`. The `http` connector refuses other methods at dispatch; this
//! is the same rule at validation, so the call is blocked with its reason before anything
//! is recorded as dispatched, and a client-executed call is judged the same way.
//!
//! The arguments read are the `http` connector's default names: `method` (any value that
//! is not exactly one of the three, case-insensitively, is a mismatch: `POST`, `get `,
//! `["POST"]`) and `headers` (a method-override header, which many servers and frameworks
//! honour in place of the request's method, must name a reading method too). A connector
//! configured with other argument names is still bounded by the connector itself.

use serde_json::Value;

use super::OperationMismatch;
use crate::policy::ActionSpec;

/// The argument naming the method (the `http` connector's default `method_arg`).
pub const METHOD_ARG: &str = "method";
/// The argument holding request headers (the `http` connector's default `headers_arg`).
pub const HEADERS_ARG: &str = "headers";

/// Methods that only read.
const READING: [&str; 3] = ["GET", "HEAD", "OPTIONS"];

/// Headers that tell a server to act as if the request had another method.
const OVERRIDE_HEADERS: [&str; 3] =
    ["x-http-method-override", "x-http-method", "x-method-override"];

fn reading(value: &Value) -> bool {
    value.as_str().is_some_and(|m| READING.iter().any(|r| r.eq_ignore_ascii_case(m)))
}

/// Appends a mismatch for a non-reading method or method override in `args`.
pub(super) fn reads_only(action: &ActionSpec, args: &Value, out: &mut Vec<OperationMismatch>) {
    if let Some(method) = args.get(METHOD_ARG)
        && !reading(method)
    {
        out.push(OperationMismatch {
            field: METHOD_ARG.to_owned(),
            message: format!(
                "action `{}` is declared `read`; the method {method} is not a read (GET, HEAD, \
                 OPTIONS)",
                action.name
            ),
        });
    }
    let Some(headers) = args.get(HEADERS_ARG).and_then(Value::as_object) else { return };
    for (name, value) in headers {
        let name_lower = name.trim().to_ascii_lowercase();
        if OVERRIDE_HEADERS.contains(&name_lower.as_str()) && !reading(value) {
            out.push(OperationMismatch {
                field: format!("{HEADERS_ARG}.{name}"),
                message: format!(
                    "action `{}` is declared `read`; the header `{name}: {value}` asks the server \
                     for another method",
                    action.name
                ),
            });
        }
    }
}
