//! The approvals page's HTML, written with `maud` (every interpolated value is escaped, so
//! arguments and tool outputs, which attackers write, render as text and never as markup).
//!
//! No script and no external asset: the page works offline and under a CSP that allows
//! only its own stylesheet. Approve and reject are plain form posts, each answered with a
//! redirect to a page (post/redirect/get); the list refreshes itself with a
//! `<meta http-equiv="refresh">`, a light poll that needs no script.

use std::borrow::Cow;
use std::time::{Duration, UNIX_EPOCH};

use aecl_core::policy::Policy;
use aecl_core::visible::visible;
use aecl_engine::{Approval, ApprovalStatus, approvals_required, approvers_so_far};
use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use super::session::Session;

/// Shorter values are not highlighted: they would mark half the page.
const MIN_HIGHLIGHT: usize = 3;

/// How often the list reloads itself, in seconds.
pub const REFRESH_SECS: u32 = 5;

fn layout(title: &str, session: Option<&Session>, body: Markup) -> Markup {
    layout_with(title, session, None, body)
}

/// The page frame; `refresh`: reload every so many seconds.
fn layout_with(
    title: &str,
    session: Option<&Session>,
    refresh: Option<u32>,
    body: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(secs) = refresh {
                    meta http-equiv="refresh" content=(secs);
                }
                title { (title) " · aecl approvals" }
                link rel="stylesheet" href="/ui/style.css";
            }
            body {
                header {
                    a.brand href="/ui/approvals" { "aecl approvals" }
                    @if let Some(session) = session {
                        span.who { "signed in as " strong { (session.claims.sub) } " (" (session.claims.role.as_str()) ")" }
                        form.inline method="post" action="/ui/logout" {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

pub fn login(error: Option<&str>) -> Markup {
    layout(
        "Sign in",
        None,
        html! {
            h1 { "Sign in" }
            p { "Paste an approver token (" code { "aecl token issue --approver NAME --key SECRET_KEY_FILE" } ")." }
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            form method="post" action="/ui/login" {
                label for="token" { "Token" }
                textarea #token name="token" rows="4" required autocomplete="off" spellcheck="false" {}
                button #sign-in type="submit" { "Sign in" }
            }
        },
    )
}

/// A refused post.
pub fn refused(session: &Session, message: &str) -> Markup {
    layout(
        "Refused",
        Some(session),
        html! {
            h1 { "Refused" }
            p.error role="alert" { (message) }
            p { a href="/ui/approvals" { "Back to the pending approvals" } }
        },
    )
}

pub fn list(
    session: &Session,
    approvals: &[Approval],
    all: bool,
    policy: &Policy,
    now_ms: u64,
) -> Markup {
    let title = if all { "All approval requests" } else { "Pending approvals" };
    layout_with(
        title,
        Some(session),
        Some(REFRESH_SECS),
        html! {
            h1 { (title) }
            p {
                @if all { a href="/ui/approvals" { "Show pending only" } }
                @else { a href="/ui/approvals?status=all" { "Show all, answered ones included" } }
            }
            @if approvals.is_empty() {
                p.empty { "Nothing is waiting for an answer." }
            } @else {
                table.approvals {
                    thead { tr { th { "Action" } th { "Agent" } th { "Arguments" } th { "Risk" } th { "Status" } th { "Approvals" } th { "Age" } } }
                    tbody {
                        @for approval in approvals {
                            tr data-id=(approval.id) {
                                td { a href={ "/ui/approvals/" (approval.id) } { (approval.action) } }
                                td { (approval.agent) }
                                td.summary { (summary(approval)) }
                                td { (risk_score(&approval.body)) }
                                td { (status_badge(approval.status)) }
                                td.quorum { (quorum(approval, policy)) }
                                td { span title=(time(approval.requested.0)) { (ago(now_ms, approval.requested.0)) } }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// A message shown above the detail: `("ok" | "error", text)`.
pub type Flash<'a> = Option<(&'a str, &'a str)>;

pub fn detail(
    session: &Session,
    approval: &Approval,
    flash: Flash<'_>,
    policy: &Policy,
    now_ms: u64,
) -> Markup {
    let pending = approval.status == ApprovalStatus::Pending;
    let required = approvals_required(approval, policy);
    let revised = pending && approval.policy_revision != policy.revision;
    let body = &approval.body;
    let needles = suspicious_values(body);
    let verdict = &body["verdict"];
    layout(
        &approval.action,
        Some(session),
        html! {
            p { a href="/ui/approvals" { "← Pending approvals" } }
            h1 { code { (approval.action) } " by " (approval.agent) " " (status_badge(approval.status)) }
            @if let Some((kind, text)) = flash {
                p class=(kind) role="status" { (text) }
            }
            dl.facts {
                dt { "Request" } dd { code #approval-id { (approval.id) } }
                dt { "Run" } dd { code { (approval.run) } }
                dt { "Call" } dd { code { (approval.call_id) } }
                dt { "Arguments that matter" } dd.summary { (summary(approval)) }
                dt { "Requested" } dd { (time(approval.requested.0)) " (" (ago(now_ms, approval.requested.0)) ")" }
                dt { "Expires" } dd { (time(approval.expires.0)) }
                dt { "Policy revision" } dd { code { (approval.policy_revision.0) } }
                @if required > 1 || !approvers_so_far(approval).is_empty() {
                    dt { "Approvals" } dd #quorum { (quorum(approval, policy)) }
                }
                @if let Some(by) = approval.decided_by.as_ref().filter(|_| !pending) {
                    dt { "Answered by" } dd { (by) }
                }
                @if let Some(reason) = &approval.reason {
                    dt { "Reason" } dd { (reason) }
                }
            }
            section #why {
                h2 { "Why it needs a human" }
                ul.reasons {
                    @for reason in array(&verdict["reasons"]) {
                        li class=(text(&reason["decision"])) {
                            span.stage { (text(&reason["stage"])) } " "
                            code { (text(&reason["rule"])) } ": "
                            (text(&reason["message"]))
                        }
                    }
                }
            }
            section #risk {
                h2 { "Risk " span.score { (risk_score(body)) } }
                table {
                    thead { tr { th { "Factor" } th { "Weight" } th { "Detail" } } }
                    tbody {
                        @for part in array(&verdict["risk"]["contributions"]) {
                            tr { td { code { (text(&part["factor"])) } } td { (part["weight"]) } td { (text(&part["detail"])) } }
                        }
                    }
                }
            }
            @let suspicious = array(&body["suspicious"]);
            @if !suspicious.is_empty() {
                section #suspicious {
                    h2 { "Values that came from untrusted content" }
                    ul {
                        @for item in suspicious {
                            li {
                                code { (text(&item["field"])) } " = "
                                @for value in array(&item["values"]) { mark { (plain(value)) } " " }
                                br; span.why { (text(&item["why"])) }
                            }
                        }
                    }
                }
            }
            @if revised {
                p #revised .warn role="note" {
                    "The policy changed since this request (revision " code { (short(&approval.policy_revision.0)) }
                    " → " code { (short(&policy.revision.0)) } "). Approving decides the call again under the policy in force: "
                    "if that blocks it, the request closes and the call does not run; if it allows it, no approval is needed."
                }
            }
            @if pending && session.can_answer() {
                section.answer {
                    form method="post" action={ "/ui/approvals/" (approval.id) "/approve" } {
                        input type="hidden" name="csrf" value=(session.csrf);
                        label for="approve-reason" { "Note (optional)" }
                        input #approve-reason type="text" name="reason" maxlength="500";
                        button #approve .approve type="submit" {
                            @if required > 1 { "Approve (" (approvers_so_far(approval).len() + 1) " of " (required) ")" }
                            @else { "Approve this call" }
                        }
                    }
                    @if required == 1 && super::similar::offered(approval) {
                        (super::similar::form(session, approval))
                    }
                    form method="post" action={ "/ui/approvals/" (approval.id) "/reject" } {
                        input type="hidden" name="csrf" value=(session.csrf);
                        label for="reject-reason" { "Reason (the agent is told)" }
                        input #reject-reason type="text" name="reason" required maxlength="500";
                        button #reject .reject type="submit" { "Reject" }
                    }
                }
            }
            section #arguments {
                h2 { "Arguments" }
                pre { (highlighted(&pretty(&body["call"]["args"]), &needles)) }
            }
            section #history {
                h2 { "Run history (latest last)" }
                ol.history {
                    @for event in array(&body["history"]) {
                        li { (history_event(event, &needles)) }
                    }
                }
            }
        },
    )
}

fn history_event(event: &Value, needles: &[String]) -> Markup {
    match text(&event["type"]).as_ref() {
        "run" => html! { span.kind { "run opened" } " goal: " (text(&event["goal"])) },
        "user" => html! { span.kind { "user" } " " (highlighted(&text(&event["text"]), needles)) },
        "call" => html! {
            span.kind { "call" } " " code { (text(&event["call"]["action"])) }
            " → " (text(&event["decision"]))
            pre { (highlighted(&pretty(&event["call"]["args"]), needles)) }
        },
        "result" => html! {
            span.kind { "tool output" } " of " code { (text(&event["id"])) }
            pre.output { (highlighted(&output_text(&event["output"]), needles)) }
        },
        "outcome" => html! {
            span.kind { "outcome" } " of " code { (text(&event["id"])) } ": "
            @if event["executed"] == Value::Bool(true) { "executed" } @else { "not executed" }
        },
        other => html! { span.kind { (other) } },
    }
}

/// `text` with every occurrence of a `needle` in a `<mark>`.
fn highlighted(text: &str, needles: &[String]) -> Markup {
    let mut parts: Vec<(bool, &str)> = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        // The earliest match, the longest at a tie (needles are sorted longest first).
        let next = needles
            .iter()
            .filter_map(|n| rest.find(n.as_str()).map(|at| (at, n.len())))
            .min_by_key(|&(at, _)| at);
        let Some((at, len)) = next else {
            parts.push((false, rest));
            break;
        };
        parts.push((false, &rest[..at]));
        parts.push((true, &rest[at..at + len]));
        rest = &rest[at + len..];
    }
    html! { @for (marked, part) in parts { @if marked { mark { (part) } } @else { (part) } } }
}

/// The suspicious argument values as text, longest first.
fn suspicious_values(body: &Value) -> Vec<String> {
    let mut needles: Vec<String> = array(&body["suspicious"])
        .iter()
        .flat_map(|item| array(&item["values"]))
        .map(plain)
        .filter(|v| v.chars().count() >= MIN_HIGHLIGHT)
        .collect();
    needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    needles.dedup();
    needles
}

/// The arguments that matter, as `path = value` pairs (the values that came from
/// untrusted content are marked on the detail page, not here).
fn summary(approval: &Approval) -> Markup {
    html! {
        @for item in array(&approval.body["summary"]) {
            span.arg {
                code { (text(&item["arg"])) } " = "
                @for (i, value) in array(&item["values"]).iter().enumerate() {
                    @if i > 0 { ", " }
                    strong { (plain(value)) }
                }
            }
            " "
        }
    }
}

/// "1 of 2 (alice)": who approved so far, of how many needed.
fn quorum(approval: &Approval, policy: &Policy) -> String {
    let required = approvals_required(approval, policy);
    if approval.status != ApprovalStatus::Pending {
        return approval.decided_by.clone().unwrap_or_default();
    }
    let so_far = approvers_so_far(approval);
    if so_far.is_empty() {
        format!("0 of {required}")
    } else {
        format!("{} of {required} ({})", so_far.len(), so_far.join(", "))
    }
}

/// How long ago `then_ms` was: "just now", "3 min ago", "2 h ago", "4 d ago".
pub fn ago(now_ms: u64, then_ms: u64) -> String {
    let secs = now_ms.saturating_sub(then_ms) / 1000;
    match secs {
        0..10 => "just now".to_owned(),
        10..60 => format!("{secs} s ago"),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86_400 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86_400),
    }
}

/// The first characters of a revision hash.
fn short(revision: &str) -> &str {
    revision.get(..12).unwrap_or(revision)
}

fn status_badge(status: ApprovalStatus) -> Markup {
    html! { span class={ "badge " (status.as_str()) } { (status.as_str()) } }
}

fn risk_score(body: &Value) -> String {
    match body["verdict"]["risk"]["score"].as_f64() {
        Some(score) => format!("{score:.2}"),
        None => "?".to_owned(),
    }
}

fn time(ms: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(ms))
}

fn array(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

// Every value of a request passes through `visible` before it is shown: a bidirectional
// override or a zero-width character in an argument would show the approver another
// text than the one that runs.

fn text(value: &Value) -> Cow<'_, str> {
    visible(value.as_str().unwrap_or(""))
}

/// A string as itself, anything else as JSON.
fn plain(value: &Value) -> String {
    let plain = match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    visible(&plain).into_owned()
}

/// A tool output: text as itself, JSON indented.
fn output_text(value: &Value) -> String {
    match value {
        Value::String(s) => visible(s).into_owned(),
        other => pretty(other),
    }
}

fn pretty(value: &Value) -> String {
    visible(&serde_json::to_string_pretty(value).unwrap_or_default()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlighting_marks_every_occurrence_and_escapes_the_rest() {
        let needles = vec!["DE89 3704".to_owned(), "DE89".to_owned()];
        let out = highlighted("pay <b>DE89 3704</b> or DE89", &needles).into_string();
        assert_eq!(out, "pay &lt;b&gt;<mark>DE89 3704</mark>&lt;/b&gt; or <mark>DE89</mark>");
        assert_eq!(highlighted("", &needles).into_string(), "");
        assert_eq!(highlighted("nothing", &[]).into_string(), "nothing");
    }

    #[test]
    fn ages_read_as_people_say_them() {
        assert_eq!(ago(10_000, 10_000), "just now");
        assert_eq!(ago(10_000, 20_000), "just now", "a clock behind the request");
        assert_eq!(ago(45_000, 0), "45 s ago");
        assert_eq!(ago(200_000, 0), "3 min ago");
        assert_eq!(ago(7_300_000, 0), "2 h ago");
        assert_eq!(ago(4 * 86_400_000, 0), "4 d ago");
    }

    #[test]
    fn suspicious_values_skip_short_ones_and_come_longest_first() {
        let body = serde_json::json!({"suspicious": [
            {"field": "iban", "values": ["GB29NWBK60161331926819", "x"]},
            {"field": "amount", "values": [120000]},
        ]});
        assert_eq!(suspicious_values(&body), vec!["GB29NWBK60161331926819", "120000"]);
    }
}
