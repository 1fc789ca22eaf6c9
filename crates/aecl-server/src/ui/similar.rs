//! "Approve and allow similar for N minutes": the form, pre-filled from the call, and the
//! standing grant it asks for.
//!
//! The conditions come from the request as stored, never from the form: the form only
//! chooses, per summary argument, between the call's exact value and, for a number, an
//! upper bound no higher than the call's. So the approver can narrow what the grant
//! allows (a lower bound, fewer uses, less time) but never widen it past the call that was
//! shown, and every summary argument is always constrained.

use std::collections::{BTreeMap, HashMap};

use aecl_engine::{Approval, ArgCondition, NewStandingGrant};
use maud::{Markup, html};
use serde_json::Value;

use super::session::Session;

/// The longest "allow similar" a page offers: an hour.
pub const MAX_MINUTES: u64 = 60;

/// Uses a similar grant allows at most.
pub const MAX_USES: u32 = 100;

/// The summary arguments of a request: `(path, values)`.
fn summary(approval: &Approval) -> Vec<(String, Vec<Value>)> {
    approval.body["summary"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|item| {
            let path = item["arg"].as_str()?.to_owned();
            let values = item["values"].as_array()?.clone();
            (!values.is_empty()).then_some((path, values))
        })
        .collect()
}

/// The single number of a summary argument, if it has one.
fn number(values: &[Value]) -> Option<f64> {
    match values {
        [value] => value.as_f64(),
        _ => None,
    }
}

/// Whether the form can be offered: every summary argument has values, and there is one.
pub fn offered(approval: &Approval) -> bool {
    let listed = approval.body["summary"].as_array().map_or(0, Vec::len);
    listed > 0 && summary(approval).len() == listed
}

/// The form, for a pending request whose action needs one approver.
pub fn form(session: &Session, approval: &Approval) -> Markup {
    html! {
        form #similar-form method="post" action={ "/ui/approvals/" (approval.id) "/approve-similar" } {
            input type="hidden" name="csrf" value=(session.csrf);
            label for="similar-minutes" { "Approve and allow similar calls for (minutes)" }
            input #similar-minutes type="number" name="minutes" min="1" max=(MAX_MINUTES) value="10" required;
            label for="similar-uses" { "At most (calls)" }
            input #similar-uses type="number" name="uses" min="1" max=(MAX_USES) value="10" required;
            fieldset.conditions {
                legend { "Similar means: same agent, same action, and" }
                @for (i, (path, values)) in summary(approval).iter().enumerate() {
                    @if let Some(n) = number(values) {
                        div {
                            code { (path) } " ≤ "
                            input id={ "similar-max-" (i) } type="number" step="any" name={ "max" (i) } value=(n) max=(n) required;
                        }
                    } @else {
                        div { code { (path) } " = " @for v in values { code.value { (plain(v)) } " " } }
                    }
                }
            }
            label for="similar-reason" { "Note (optional)" }
            input #similar-reason type="text" name="reason" maxlength="500";
            button #approve-similar .approve type="submit" { "Approve and allow similar" }
        }
    }
}

/// The standing grant a posted form asks for, or why it cannot be given.
pub fn grant(
    approval: &Approval,
    form: &HashMap<String, String>,
) -> Result<NewStandingGrant, &'static str> {
    if !offered(approval) {
        return Err("this request has no arguments to make a grant of");
    }
    let minutes: u64 = field(form, "minutes").ok_or("the minutes are not a number")?;
    if !(1..=MAX_MINUTES).contains(&minutes) {
        return Err("the minutes are out of range");
    }
    let uses: u32 = field(form, "uses").ok_or("the number of calls is not a number")?;
    if !(1..=MAX_USES).contains(&uses) {
        return Err("the number of calls is out of range");
    }
    let mut args = BTreeMap::new();
    for (i, (path, values)) in summary(approval).into_iter().enumerate() {
        let condition = match number(&values) {
            Some(n) => {
                let bound: f64 =
                    field(form, &format!("max{i}")).ok_or("a bound is not a number")?;
                // INVARIANT: a bound never exceeds the value the approver was shown.
                if !bound.is_finite() || bound > n {
                    return Err("a bound is higher than the call's value");
                }
                ArgCondition::AtMost(bound)
            }
            None => match <[Value; 1]>::try_from(values) {
                Ok([value]) => ArgCondition::Equals(value),
                Err(values) => ArgCondition::OneOf(values),
            },
        };
        args.insert(path, condition);
    }
    let note = form.get("reason").map(|r| r.trim()).filter(|r| !r.is_empty());
    Ok(NewStandingGrant {
        agent: approval.agent.clone(),
        action: approval.action.clone(),
        args,
        max_uses: uses,
        ttl_seconds: minutes * 60,
        reason: match note {
            Some(note) => format!("similar to request {}: {note}", approval.id),
            None => format!("similar to request {}", approval.id),
        },
    })
}

fn field<T: std::str::FromStr>(form: &HashMap<String, String>, name: &str) -> Option<T> {
    form.get(name)?.trim().parse().ok()
}

/// A value as text (strings without quotes).
fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecl_core::{CallDigest, Revision, Timestamp};
    use aecl_engine::ApprovalStatus;
    use serde_json::json;

    fn approval(summary: Value) -> Approval {
        Approval {
            id: "a1".into(),
            run: "r".into(),
            call_id: "c".into(),
            agent: "finance_agent".into(),
            action: "transfer_funds".into(),
            call_digest: CallDigest("d".into()),
            policy_revision: Revision("p".into()),
            status: ApprovalStatus::Pending,
            requested: Timestamp(0),
            expires: Timestamp(1),
            decided_by: None,
            reason: None,
            body: json!({ "summary": summary }),
        }
    }

    fn form(fields: &[(&str, &str)]) -> HashMap<String, String> {
        fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn the_grant_is_built_from_the_stored_call_and_can_only_be_narrowed() {
        let a = approval(json!([
            {"arg": "amount", "values": [1200]},
            {"arg": "iban", "values": ["DE89"]},
            {"arg": "to", "values": ["a@x.org", "b@x.org"]},
        ]));
        let ok = grant(&a, &form(&[("minutes", "10"), ("uses", "3"), ("max0", "1000")])).unwrap();
        assert_eq!(ok.ttl_seconds, 600);
        assert_eq!(ok.args["amount"], ArgCondition::AtMost(1000.0));
        assert_eq!(ok.args["iban"], ArgCondition::Equals(json!("DE89")));
        assert_eq!(ok.args["to"], ArgCondition::OneOf(vec![json!("a@x.org"), json!("b@x.org")]));
        assert_eq!((ok.agent.as_str(), ok.action.as_str()), ("finance_agent", "transfer_funds"));
        // Wider than the call, forged fields, out of range: refused.
        assert!(grant(&a, &form(&[("minutes", "10"), ("uses", "3"), ("max0", "1201")])).is_err());
        assert!(grant(&a, &form(&[("minutes", "10"), ("uses", "3"), ("max0", "inf")])).is_err());
        assert!(grant(&a, &form(&[("minutes", "10"), ("uses", "3"), ("max0", "NaN")])).is_err());
        assert!(grant(&a, &form(&[("minutes", "0"), ("uses", "3"), ("max0", "1")])).is_err());
        assert!(grant(&a, &form(&[("minutes", "61"), ("uses", "3"), ("max0", "1")])).is_err());
        assert!(grant(&a, &form(&[("minutes", "10"), ("uses", "101"), ("max0", "1")])).is_err());
        assert!(grant(&a, &form(&[("minutes", "10"), ("uses", "3")])).is_err(), "no bound");
        let forged = form(&[("minutes", "10"), ("uses", "3"), ("max0", "5"), ("iban", "X")]);
        assert_eq!(grant(&a, &forged).unwrap().args["iban"], ArgCondition::Equals(json!("DE89")));
    }

    #[test]
    fn no_grant_without_arguments_to_constrain() {
        assert!(!offered(&approval(json!([]))));
        assert!(!offered(&approval(json!([{"arg": "iban", "values": []}]))));
        let none = approval(json!([{"arg": "iban", "values": []}]));
        assert!(grant(&none, &form(&[("minutes", "10"), ("uses", "3")])).is_err());
    }
}
