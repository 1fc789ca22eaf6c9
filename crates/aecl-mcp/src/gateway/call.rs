//! One `tools/call` through the engine ([`Gateway::call`]): routed to its server, its
//! tool's pinned definition checked, what the agent has been shown of the servers recorded
//! in the run ([`crate::shown`]), decided and forwarded by `Engine::execute`, waited on
//! when it needs approval, and answered redacted.
//!
//! INVARIANT: a call its client cancelled (`notifications/cancelled`) is never executed
//! afterwards: its wait for approval ends, its approval request is withdrawn (so no
//! approver can make it executable), and the connector forwards nothing once cancelled.

use aecl_core::{Call, Decision, Mode, Verdict};
use aecl_engine::{ApprovalStatus, EngineError, Store, new_id};
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock, ResultType};
use serde_json::Value;

use super::Gateway;
use crate::forward::{Cancel, Forward};
use crate::pins::Pinned;
use crate::relay::Relay;

/// Characters of a refused tool name the audit log keeps.
const SHOWN_NAME: usize = 200;

impl<S: Store + 'static> Gateway<S> {
    /// One `tools/call` through the engine. Never an error: every failure is a tool error
    /// naming it, and nothing is forwarded unless the engine allowed and recorded it. The
    /// server's requests for input go to `relay`; `cancel` is set when the client cancels.
    pub(super) async fn call(
        &self,
        params: CallToolRequestParams,
        relay: Relay,
        cancel: Cancel,
    ) -> CallToolResult {
        // The session is not idle while a call (an approval wait, say) is in progress.
        let _working = self.connections.working();
        let exposed = params.name.into_owned();
        // Not a name the gateway exposes (another server's look-alike, a tool name that
        // could pass for another's): nothing to decide, nothing forwarded.
        let Some((index, tool)) = self.connections.servers().route(&exposed) else {
            self.record_refusal(&format!("mcp.unknown_tool: {}", shown_name(&exposed))).await;
            return tool_error(format!(
                "aecl: no MCP server behind this gateway has a tool `{exposed}`"
            ));
        };
        let tool = tool.to_owned();
        let action = self.action(index, &tool);
        // Only the arguments: the request's `_meta` (a trace context, a progress token),
        // which rmcp keeps apart, is never part of the call that is decided.
        let args = Value::Object(params.arguments.unwrap_or_default());
        let call = self.call_of(index, &action, args);
        // A tool whose definition changed since it was first seen runs only once an
        // approver has accepted the change.
        let checked = match self.definition(index, &exposed).await {
            Ok(Some(definition)) => match self.pinned(&action, &definition).await {
                // Checked again at each call: a policy replaced since the listing is
                // tightened before this call's output is recorded.
                Ok(Pinned::Accepted) => {
                    self.tighten(index, std::slice::from_ref(&definition));
                    Ok(())
                }
                Ok(Pinned::Changed { approval_id, status, first, now }) => {
                    Err(Refused::ToolChanged { approval_id, status, first, now })
                }
                Err(error) => Err(Refused::Engine(error)),
            },
            // The server does not list it, even listed again: nothing pins its definition,
            // so it is not called (fail closed), and the refusal is recorded (a look-alike
            // of a listed name, `Delete_all` or `delete_all `, is an attempt worth seeing).
            Ok(None) => {
                let reason = format!("mcp.unknown_tool: {}", shown_name(&exposed));
                self.record_refusal(&reason).await;
                Err(Refused::Failed(format!("the MCP server does not list a tool `{exposed}`")))
            }
            // Never a server's own text, which would reach the model unrecorded.
            Err(error) => {
                tracing::warn!(tool = %exposed, %error, "listing the tool's server failed");
                Err(Refused::Failed(error.shown_to_client()))
            }
        };
        // Refused outside the policy, and recorded as a block all the same, so the audit
        // log shows it; a failure to record it still refuses the call.
        let checked = match checked {
            Err(refused @ Refused::ToolChanged { .. }) => {
                let message = refused.message(&action);
                match self.engine.record_block(&call, "mcp.tool_changed", &message).await {
                    Ok(_) => Err(refused),
                    Err(error) => Err(Refused::Engine(error)),
                }
            }
            other => other,
        };
        // Before the decision: what the agent has been shown of the servers (their
        // instructions, their tools' descriptions) is in the run, so a value it took from
        // there is untrusted in this call. Not recorded, not decided (fail closed).
        let checked = match checked {
            Ok(()) => self.record_shown().await.map_err(Refused::Engine),
            refused => refused,
        };
        let checked = match checked {
            Ok(()) if cancel.is_cancelled() => Err(Refused::Cancelled),
            checked => checked,
        };
        let mut outcome = match checked {
            Ok(()) => self.execute(call.clone(), index, &tool, &relay, &cancel).await,
            Err(refused) => Err(refused),
        };
        // A request made now (or earlier, for the same call) is waited on; once it is
        // approved the same call is made again and its grant lets it through.
        if let Err(Refused::Pending { approval_id, .. }) = &outcome {
            match self.wait_for(approval_id, &cancel).await {
                // Approved as the client cancelled: the grant stays for the exact call,
                // which runs only if the client makes it again.
                Ok(ApprovalStatus::Approved) if cancel.is_cancelled() => {
                    outcome = Err(Refused::Cancelled);
                }
                Ok(ApprovalStatus::Approved) => {
                    let again = Call { id: new_id(), ..call };
                    outcome = self.execute(again, index, &tool, &relay, &cancel).await;
                }
                Ok(status) => {
                    outcome = Err(Refused::Answered { approval_id: approval_id.clone(), status });
                }
                // Still pending: the first answer, with the reasons approval is needed.
                Err(Refused::Pending { .. }) => {}
                Err(failed) => outcome = Err(failed),
            }
        }
        let result = match outcome {
            Ok(result) => result,
            Err(refused) => {
                tracing::info!(tool, action, refused = %refused.message(&action), "tool call refused");
                tool_error(refused.message(&action))
            }
        };
        let mut result = self.redact(result);
        // Translation between revisions: a 2025-11-25 server's result has no `resultType`,
        // which 2026-07-28 requires; rmcp leaves it out again for older clients.
        result.result_type = Some(ResultType::COMPLETE);
        result
    }

    fn call_of(&self, index: usize, action: &str, args: Value) -> Call {
        let spec = self.connections.servers().specs().get(index);
        // A few `lstat`s per string argument: cheap enough to run on the async thread.
        let paths = match spec.and_then(|spec| spec.resolve_paths_from.as_ref()) {
            Some(cwd) => aecl_engine::fs_paths::resolve_call(
                Some(&*self.engine.policy()),
                action,
                &args,
                cwd,
            ),
            None => aecl_core::PathView::Unseen,
        };
        Call {
            id: new_id(),
            agent: self.config.agent.clone(),
            run: self.config.run.clone(),
            action: action.to_owned(),
            args,
            idempotency_key: None,
            nonce: None,
            scope: Default::default(),
            provenance: Default::default(),
            paths,
        }
    }

    /// Executes `call` through the engine, forwarding it to server `index`'s `tool` if
    /// allowed.
    async fn execute(
        &self,
        call: Call,
        index: usize,
        tool: &str,
        relay: &Relay,
        cancel: &Cancel,
    ) -> Result<CallToolResult, Refused> {
        // Started before the decision when it is not yet (the definition check started it
        // already): a server that cannot start refuses the call, and nothing is recorded as
        // dispatched.
        let upstream = self.connections.upstream(index).await.map_err(|error| {
            tracing::warn!(tool, %error, "starting the tool's server failed");
            Refused::Failed(error.shown_to_client())
        })?;
        let forward = Forward::new(upstream, tool.to_owned(), relay.clone(), cancel.clone());
        let executed = self.engine.execute(call, &forward).await.map_err(Refused::Engine)?;
        let verdict = &executed.decided.verdict;
        if let Some(answer) = forward.take_answer() {
            // The server answered: that answer is the client's, error or not.
            return Ok(answer);
        }
        if let Some(effect) = executed.effect {
            // An earlier execution replayed, whose effect aecl has since undone: its result
            // is no longer true, and the agent must not take it for in place.
            if let Some(undone) = executed.rolled_back_by {
                return Err(Refused::Failed(format!(
                    "this call was already executed (effect `{}`) and aecl has since rolled it \
                     back (effect `{undone}`): nothing ran again, and its effect is not in \
                     place",
                    effect.id
                )));
            }
            // Executed (or an earlier execution replayed) without an answer kept here.
            return match effect.error {
                Some(error) => Err(Refused::Failed(error)),
                // The ledger keeps the result as `history_value` wrote it.
                None => Ok(serde_json::from_value(effect.result.clone()).unwrap_or_else(|_| {
                    CallToolResult::success(vec![ContentBlock::text(effect.result.to_string())])
                })),
            };
        }
        match verdict.enforced_decision() {
            Decision::Block => Err(Refused::Blocked(reasons(verdict))),
            Decision::RequireApproval => match executed.decided.approval_id {
                Some(approval_id) => {
                    Err(Refused::Pending { approval_id, reasons: reasons(verdict) })
                }
                // Monitor or dry-run modes never wait; enforce always names a request.
                None => Err(Refused::Blocked(reasons(verdict))),
            },
            Decision::Allow if verdict.mode == Mode::DryRun => {
                Ok(CallToolResult::success(vec![ContentBlock::text(
                    "aecl dry run: the call would be allowed; it was not executed",
                )]))
            }
            Decision::Allow => {
                Err(Refused::Failed("the call was allowed but not executed".to_owned()))
            }
        }
    }

    /// Waits for an approver's answer to `approval_id`, up to the configured wait. `Err`
    /// when it is still pending. When the client cancels the call meanwhile (or had
    /// already), the request is withdrawn and the answer is [`Refused::Cancelled`].
    async fn wait_for(
        &self,
        approval_id: &str,
        cancel: &Cancel,
    ) -> Result<ApprovalStatus, Refused> {
        let waited = tokio::select! {
            biased;
            () = cancel.cancelled() => {
                let why = "the agent's client cancelled the call";
                return match self.engine.withdraw_approval(approval_id, why).await {
                    Ok(_) => Err(Refused::Cancelled),
                    Err(error) => Err(Refused::Engine(error)),
                };
            }
            waited = self.engine.await_approval(approval_id, self.config.approval_wait) => waited,
        };
        match waited {
            Ok(Some(approval)) if approval.status != ApprovalStatus::Pending => Ok(approval.status),
            Ok(Some(_)) => Err(Refused::Pending {
                approval_id: approval_id.to_owned(),
                reasons: String::new(),
            }),
            Ok(None) => {
                Err(Refused::Failed(format!("approval request `{approval_id}` is missing")))
            }
            Err(error) => Err(Refused::Engine(error)),
        }
    }

    /// What the client is given has its secrets redacted as the audit log has: the
    /// configured paths in every form the fields travel in (`structuredContent`, text
    /// blocks holding JSON), the detectors over all its text, `_meta` included.
    pub(super) fn redact(&self, result: CallToolResult) -> CallToolResult {
        let unredactable =
            || tool_error("aecl: the tool's output could not be redacted".to_owned());
        // Never hand out what could not be redacted.
        let Ok(mut value) = serde_json::to_value(&result) else { return unredactable() };
        let found = aecl_audit::redact(&mut value, &self.config.redact);
        if found.count == 0 {
            return result;
        }
        match serde_json::from_value(value) {
            Ok(redacted) => redacted,
            // A configured path that took away a part the result needs (`content`):
            // never hand out the unredacted one.
            Err(_) => unredactable(),
        }
    }
}

/// Why a call was not executed (or not to the end).
#[derive(Debug)]
pub(super) enum Refused {
    Blocked(String),
    Pending {
        approval_id: String,
        reasons: String,
    },
    Answered {
        approval_id: String,
        status: ApprovalStatus,
    },
    ToolChanged {
        approval_id: String,
        status: ApprovalStatus,
        first: String,
        now: String,
    },
    Failed(String),
    Engine(EngineError),
    /// The client cancelled the call: nothing more of it is done.
    Cancelled,
}

impl Refused {
    fn message(&self, action: &str) -> String {
        match self {
            Refused::Blocked(reasons) => format!("aecl blocked `{action}`: {reasons}"),
            Refused::Pending { approval_id, reasons } => {
                let why = if reasons.is_empty() { String::new() } else { format!(" ({reasons})") };
                format!(
                    "aecl: `{action}` is waiting for approval{why}: request `{approval_id}` is pending. \
                     Nothing was executed; call the tool again with the same arguments once it is approved."
                )
            }
            Refused::Answered { approval_id, status } => format!(
                "aecl: `{action}` was not executed: approval request `{approval_id}` was {}",
                status.as_str()
            ),
            Refused::ToolChanged { approval_id, status, first, now } => format!(
                "aecl blocked `{action}`: mcp.tool_changed: the tool's definition changed since \
                 it was first seen (sha256 {first} -> {now}); approval request `{approval_id}` \
                 for the new definition is {}",
                status.as_str()
            ),
            Refused::Failed(error) => format!("aecl: `{action}` failed: {error}"),
            Refused::Cancelled => {
                format!("aecl: `{action}` was cancelled by the agent's client: it was not executed")
            }
            // Fail closed: the engine could not decide or record the call.
            Refused::Engine(error) => {
                format!(
                    "aecl blocked `{action}`: aecl could not decide and record the call: {error}"
                )
            }
        }
    }
}

/// The reasons that decided a verdict, one sentence each.
fn reasons(verdict: &Verdict) -> String {
    let reasons: Vec<String> =
        verdict.deciding_reasons().map(|r| format!("{}: {}", r.rule, r.message)).collect();
    if reasons.is_empty() {
        format!("{} (policy {})", verdict.enforced_decision().as_str(), verdict.policy_revision)
    } else {
        reasons.join("; ")
    }
}

pub(super) fn tool_error(message: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

/// A name a client sent, as a refusal record shows it: escaped, so that a NUL, a trailing
/// space or a look-alike letter (`\u{430}` for `a`) is visible, and cut short.
fn shown_name(name: &str) -> String {
    let mut shown: String = name.escape_default().take(SHOWN_NAME).collect();
    if name.escape_default().nth(SHOWN_NAME).is_some() {
        shown.push_str("...");
    }
    format!("`{shown}`")
}
