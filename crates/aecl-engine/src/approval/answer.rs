//! Approving a request: the votes towards its quorum, the re-decision of a call whose
//! policy changed since it asked, and the grant at the end.
//!
//! A request needs `approvals_required` distinct people (the most of what the policy said
//! when it was made and what it says now), none of them the agent that asked. People are
//! compared as [`person`] spells them, so `Alice` with one token and `alice` with another
//! are one person. While a request waits for more approvers, the names so far are kept
//! in its `decided_by` as a JSON list (its status stays `pending`). Each vote is written
//! by the store's compare-and-set ([`Store::record_vote`]: still pending, and its votes
//! still the ones this vote was counted with), so a vote never lands on a request that
//! another approver rejected and never overwrites a vote written meanwhile: the losing
//! vote is counted again on the request as it now stands (a bounded number of times,
//! each lost round being another approver's vote written). An approver is told "counted"
//! only once their name is in the stored list, and one person never counts twice.
//!
//! When the policy changed since the request, the call is decided again under the
//! policy in force, on the run as it was when the call came: a block closes the request
//! (nobody is told the call will run), an allow needs no grant, and only a call that
//! still needs approval gets a grant, bound to the revision in force so that the retry
//! can use it.

use aecl_audit::RecordKind;
use aecl_core::policy::Policy;
use aecl_core::{Decision, Revision, Verdict, decide};
use serde_json::{Value, json};

use super::voids::VoidedFor;
use crate::engine::{Engine, new_id};
use crate::error::{EngineError, StoreError};
use crate::run_event::{RunEvent, rebuild};
use crate::store::{Answer, Approval, ApprovalStatus, Grant, Store};

/// What an approver's "approve" did.
#[derive(Debug, Clone)]
pub enum Approved {
    /// The request is approved and its call's grant written: the agent's retry of the
    /// same call runs, once.
    Granted { grant: Grant, approvers: Vec<String>, redecided: Option<Redecision> },
    /// The approval is counted (its approver is in the request's stored votes); the
    /// request needs more approvers and stays pending.
    Counted { approvers: Vec<String>, required: u32 },
    /// The policy changed, and under the policy in force the call needs no approval:
    /// the request is closed as approved, without a grant.
    NotNeeded { approvers: Vec<String>, redecided: Redecision },
    /// The policy changed, and the policy in force blocks the call: the request is
    /// closed (`expired`), and the call will not run.
    Blocked { redecided: Redecision },
}

/// A request's call decided again under the policy in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Redecision {
    /// The revision the request was made under.
    pub from: Revision,
    /// The revision in force.
    pub to: Revision,
    pub decision: Decision,
    /// The deciding reasons' messages.
    pub reasons: Vec<String>,
}

impl Redecision {
    fn new(from: &Revision, verdict: &Verdict) -> Redecision {
        Redecision {
            from: from.clone(),
            to: verdict.policy_revision.clone(),
            decision: verdict.decision,
            reasons: verdict
                .deciding_reasons()
                .map(|r| format!("{}: {}", r.rule, r.message))
                .collect(),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "from": self.from.0,
            "to": self.to.0,
            "decision": self.decision.as_str(),
            "reasons": self.reasons,
        })
    }
}

/// How a person's name is compared, as a reader tells names apart: characters a reader
/// does not see, letter case, normal forms (`rené` composed or not, full-width letters),
/// accents, look-alike letters of other scripts (a Cyrillic `а` for `a`, UTS #39's
/// confusable skeleton), control characters (which a page or a log shows as nothing or as
/// an escape) and surrounding white space and dots aside. Two spellings that
/// read alike are one person, so that one person cannot count twice in a quorum, nor an
/// agent approve itself under another spelling; two people whose names read alike must
/// tell their IdP or token issuer apart some other way.
///
/// A capital `I` is drawn like a small `l` (`Iedger` for `ledger`), which folding the case
/// first hides from the skeleton, and folding it after would part `ALICE` from `alice`:
/// `i` and `l` are one letter here. Two people told apart only by them are one person,
/// which errs towards asking for another approver, never towards one counting twice.
/// Small capitals are their letters, and punctuation and spaces inside a name are dropped
/// (`b.o.t`, `o t h e r`).
pub fn person(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    use unicode_normalization::char::is_combining_mark;
    let seen: String =
        name.chars().filter(|c| !aecl_core::visible::is_invisible(*c) && !c.is_control()).collect();
    let folded = seen.nfkc().collect::<String>().to_lowercase();
    let skeleton: String = unicode_security::skeleton(&folded).collect();
    let bare: String =
        skeleton.nfd().filter(|c| !is_combining_mark(*c)).collect::<String>().to_lowercase();
    // Small capitals (`ᴀʟɪᴄᴇ`), which no normal form or skeleton maps, are their letters;
    // punctuation and spaces inside a name (`b.o.t`, `bot_`, `o t h e r`) separate nothing
    // a reader goes by (red team round 2).
    bare.chars()
        .filter_map(|c| match small_capital(c) {
            Some(letter) => Some(letter),
            None if c.is_whitespace() || c.is_ascii_punctuation() || is_punctuation(c) => None,
            None => Some(c),
        })
        .collect::<String>()
        .replace('i', "l")
}

/// Whether two names are one person's: the same [`person`], or the same but for a letter
/// outside ASCII in place of another (a quarter of the letters at most, and one in any
/// name): no table lists every look-alike (`Ьot`, `boτ`, `ხot`, `aliϲe`, `ledgeɾ` for
/// `bot`, `alice`, `ledger`: red team round 2), and an ASCII name respelled with one
/// foreign letter is far likelier a disguise than another person. It errs towards
/// asking for another approver.
pub fn same_person(one: &str, other: &str) -> bool {
    let (one, other) = (person(one), person(other));
    if one == other {
        return true;
    }
    let (a, b): (Vec<char>, Vec<char>) = (one.chars().collect(), other.chars().collect());
    if a.len() != b.len() || a.len() < 3 {
        return false;
    }
    let differing: Vec<(char, char)> =
        a.iter().zip(&b).filter(|(x, y)| x != y).map(|(x, y)| (*x, *y)).collect();
    let allowed = (a.len() / 4).max(1);
    differing.len() <= allowed && differing.iter().all(|(x, y)| !x.is_ascii() || !y.is_ascii())
}

/// The letter a Latin small capital stands for.
fn small_capital(c: char) -> Option<char> {
    const SMALL: [(char, char); 26] = [
        ('ᴀ', 'a'),
        ('ʙ', 'b'),
        ('ᴄ', 'c'),
        ('ᴅ', 'd'),
        ('ᴇ', 'e'),
        ('ꜰ', 'f'),
        ('ɢ', 'g'),
        ('ʜ', 'h'),
        ('ɪ', 'l'),
        ('ᴊ', 'j'),
        ('ᴋ', 'k'),
        ('ʟ', 'l'),
        ('ᴍ', 'm'),
        ('ɴ', 'n'),
        ('ᴏ', 'o'),
        ('ᴘ', 'p'),
        ('ꞯ', 'q'),
        ('ʀ', 'r'),
        ('ꜱ', 's'),
        ('ᴛ', 't'),
        ('ᴜ', 'u'),
        ('ᴠ', 'v'),
        ('ᴡ', 'w'),
        ('ʏ', 'y'),
        ('ᴢ', 'z'),
        ('ɶ', 'o'),
    ];
    SMALL.iter().find(|(small, _)| *small == c).map(|(_, letter)| *letter)
}

/// Punctuation outside ASCII (dashes, dots and connectors of other scripts).
fn is_punctuation(c: char) -> bool {
    matches!(c, '\u{2010}'..='\u{2027}' | '\u{00b7}' | '\u{02d0}'..='\u{02d1}' | '\u{3000}'..='\u{303f}' | '\u{ff01}'..='\u{ff0f}')
}

/// The approvers a pending request has so far.
pub fn approvers_so_far(approval: &Approval) -> Vec<String> {
    if approval.status != ApprovalStatus::Pending {
        return Vec::new();
    }
    let stored = approval
        .decided_by
        .as_deref()
        .and_then(|text| serde_json::from_str::<Vec<String>>(text).ok())
        .unwrap_or_default();
    // INVARIANT: a quorum counts people, each once, never the agent, whatever the stored
    // list says: one written into the store with a name twice (`["bob","bob"]`) or the
    // agent's counts each person once (red team round 21, audit N1).
    let mut distinct: Vec<String> = Vec::with_capacity(stored.len());
    for name in stored {
        if !same_person(&name, &approval.agent) && !distinct.iter().any(|d| same_person(d, &name)) {
            distinct.push(name);
        }
    }
    distinct
}

/// The approvers a request needs: the most of what its body recorded when it was made
/// and what `policy` says now (never fewer than one).
pub fn approvals_required(approval: &Approval, policy: &Policy) -> u32 {
    let recorded = approval.body["approvals_required"].as_u64().and_then(|n| u32::try_from(n).ok());
    let now = policy.actions.get(&approval.action).map(|a| a.approval.approvals_required);
    recorded.unwrap_or(1).max(now.unwrap_or(1)).max(1)
}

/// Times one approval is counted at most: once, and again after each time another vote
/// was written between reading the request and writing this vote. Every lost round is
/// another approver's vote written, and a quorum is at most a handful of people, so with
/// anything like that many approvers at once the vote lands well within the bound.
const VOTE_ATTEMPTS: usize = 16;

impl<S: Store> Engine<S> {
    /// Approves request `id` as `approver` (see the module documentation). Refuses the
    /// agent that asked, a person who approved it already, a request no longer pending,
    /// and one that has expired. With a checkpoint destination, answers once a published
    /// checkpoint covers the answer's records ([`EngineError::Unpublished`] otherwise: the
    /// answer is recorded, but not yet beyond the store's reach).
    pub async fn approve_request(
        &self,
        id: &str,
        approver: &str,
        reason: Option<&str>,
    ) -> Result<Approved, EngineError> {
        for _ in 0..VOTE_ATTEMPTS {
            let approval = self.open_approval(id, approver).await?;
            let policy = self.policy();
            let mut approvers = approvers_so_far(&approval);
            // INVARIANT: a quorum counts people, each once.
            if approvers.iter().any(|a| same_person(a, approver)) {
                return Err(EngineError::AlreadyApproved {
                    id: id.to_owned(),
                    approver: approver.to_owned(),
                });
            }
            approvers.push(approver.to_owned());
            let required = approvals_required(&approval, &policy);
            let count = u32::try_from(approvers.len()).unwrap_or(u32::MAX);
            if count >= required {
                let approved = self.conclude(&approval, &policy, approvers, reason).await?;
                self.published_all().await?;
                return Ok(approved);
            }
            let so_far = serde_json::to_string(&approvers).unwrap_or_default();
            // INVARIANT: a vote is reported counted only once it is written over the very
            // votes it was counted with; a lost race reads the request again (a rejection
            // meanwhile then refuses it, the same person's vote meanwhile too).
            let expected = approval.decided_by.as_deref();
            if !self.store().record_vote(id, expected, &so_far).await? {
                continue;
            }
            let vote = json!({ "status": "pending", "by": approver, "reason": reason,
                               "approvals": count, "approvals_required": required });
            self.record_answer(&approval, vote).await?;
            self.published_all().await?;
            return Ok(Approved::Counted { approvers, required });
        }
        Err(EngineError::VoteContention { id: id.to_owned() })
    }

    /// The approval that completes the quorum of `approval` (by `approvers`, the last of
    /// them answering now): the grant, or the closing after a re-decision.
    async fn conclude(
        &self,
        approval: &Approval,
        policy: &Policy,
        approvers: Vec<String>,
        reason: Option<&str>,
    ) -> Result<Approved, EngineError> {
        let id = approval.id.as_str();
        let by = approvers.join(", ");
        let mut grant_revision = approval.policy_revision.clone();
        let mut redecided = None;
        if approval.policy_revision != policy.revision {
            let verdict = self.redecide(approval, policy).await?;
            let redecision = Redecision::new(&approval.policy_revision, &verdict);
            match verdict.decision {
                Decision::Block => {
                    let why = format!(
                        "the policy changed since this request, and the policy in force \
                         blocks the call: {}",
                        redecision.reasons.join("; ")
                    );
                    self.close(approval, ApprovalStatus::Expired, "aecl", &why, &redecision)
                        .await?;
                    return Ok(Approved::Blocked { redecided: redecision });
                }
                Decision::Allow => {
                    let why = reason.unwrap_or("the policy in force allows the call");
                    self.close(approval, ApprovalStatus::Approved, &by, why, &redecision).await?;
                    return Ok(Approved::NotNeeded { approvers, redecided: redecision });
                }
                Decision::RequireApproval => {
                    grant_revision = policy.revision.clone();
                    redecided = Some(redecision);
                }
            }
        }
        let grant = Grant {
            id: new_id(),
            approval_id: Some(approval.id.clone()),
            call_digest: approval.call_digest.clone(),
            policy_revision: grant_revision,
            expires: approval.expires,
            signature: None,
        };
        let grant = match &self.config().grant_key {
            Some(key) => super::seal::seal(key, grant),
            None => grant,
        };
        // INVARIANT: the grant is written in the transaction that makes the request
        // `approved`, and only if it was still pending: of approvers answering at the same
        // moment (or the last votes of a quorum) exactly one grants, and an agent that sees
        // `approved` and retries finds the grant. The same transaction voids every older
        // unspent grant of the call: this answer is the one that holds.
        let why = format!("{by} approved this call (request `{id}`)");
        let answer = Answer {
            status: ApprovalStatus::Approved,
            by: by.clone(),
            reason: reason.map(str::to_owned),
            grant: Some(grant.clone()),
            voiding: self.voiding(why.clone()),
        };
        let Some(voided) = self.store().answer_approval(id, answer).await? else {
            return Err(self.closed(id).await);
        };
        if let Some(redecision) = &redecided {
            self.record_answer(approval, json!({ "redecided": redecision.to_json() })).await?;
        }
        self.record_resolution_by(approval, ApprovalStatus::Approved, &by, &approvers, reason)
            .await?;
        self.record_voids(&voided, &VoidedFor::approval(approval), &why).await?;
        self.close_superseded(&approval.call_digest, &grant.policy_revision, Some(&approval.id))
            .await?;
        Ok(Approved::Granted { grant, approvers, redecided })
    }

    /// Closes `approval` as `status` after a re-decision, with `why`: a person answered,
    /// so older grants of the call are voided as by any answer.
    async fn close(
        &self,
        approval: &Approval,
        status: ApprovalStatus,
        by: &str,
        why: &str,
        redecision: &Redecision,
    ) -> Result<(), EngineError> {
        let voided_why = format!("request `{}` of this call was answered", approval.id);
        let answer = Answer {
            status,
            by: by.to_owned(),
            reason: Some(why.to_owned()),
            grant: None,
            voiding: self.voiding(voided_why.clone()),
        };
        let Some(voided) = self.store().answer_approval(&approval.id, answer).await? else {
            return Err(self.closed(&approval.id).await);
        };
        self.record_answer(approval, json!({ "redecided": redecision.to_json() })).await?;
        self.record_resolution(approval, status, by, Some(why)).await?;
        self.record_voids(&voided, &VoidedFor::approval(approval), &voided_why).await?;
        Ok(())
    }

    /// The call of `approval` decided under `policy`, on its run as it was when the call
    /// came. A call no longer found in its run is blocked: what cannot be judged is not
    /// approved.
    async fn redecide(&self, approval: &Approval, policy: &Policy) -> Result<Verdict, EngineError> {
        let snapshot = self.store().load_run(&approval.run).await?;
        let found = snapshot.events.iter().enumerate().find_map(|(i, event)| match event {
            RunEvent::Call { call, .. } if call.id == approval.call_id => {
                let call = call.to_call(&approval.agent);
                (call.digest() == approval.call_digest).then_some((i, call))
            }
            _ => None,
        });
        let Some((at, call)) = found else {
            return Err(StoreError::Corrupt(format!(
                "the call `{}` of approval request `{}` is not in run `{}`",
                approval.call_id, approval.id, approval.run
            ))
            .into());
        };
        let before = snapshot.events.get(..at).unwrap_or_default();
        let state = rebuild(policy, &approval.run, before).map_err(StoreError::Corrupt)?;
        let mut verdict = decide(policy, &call, &state, self.now());
        // Its reasons are recorded with the answer: what redaction takes out of the
        // arguments stays out of them.
        let mut args = call.args.clone();
        self.redact(&mut args);
        crate::engine::redact_verdict(&call.args, &args, &mut verdict);
        Ok(verdict)
    }

    /// The audit record of an answer (a vote, an approval, a closing after re-decision).
    async fn record_answer(&self, approval: &Approval, input: Value) -> Result<(), EngineError> {
        let mut record = self.record(RecordKind::Approval, &approval.agent, &approval.run);
        record.call_id.clone_from(&approval.call_id);
        record.action.clone_from(&approval.action);
        record.call_digest = approval.call_digest.clone();
        record.policy_revision = approval.policy_revision.clone();
        record.approval_id = Some(approval.id.clone());
        record.input = input;
        self.store().append_audit(record).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{person, same_person};

    /// A red-team finding: 12 of 19 spellings of one name counted as a second person in a
    /// quorum of two, and an agent could approve its own call as `аgent1` (Cyrillic `а`).
    #[test]
    fn spellings_that_read_alike_are_one_person() {
        let alike = [
            ("rené", "rene\u{301}"),
            ("alice", "\u{430}lice"),
            ("alice", "ａｌｉｃｅ"),
            ("alice", "alice\u{200b}"),
            ("alice", "al\u{200d}ice"),
            ("alice", "\u{feff}alice"),
            ("alice", "ali\u{ad}ce"),
            ("alice", "alice."),
            ("alice", "ALICE"),
            ("alice", " alice\t"),
            ("alice", "alice\u{a0}"),
            ("kate", "\u{212a}ate"),
            ("agent1", "\u{430}gent1"),
            ("agent1", "ａgent1"),
            ("rené", "rene"),
            ("bob", "b\u{ff4f}b"),
            // Control characters, which an IdP may let into a user name (red team,
            // 2026-11-28: `finance_agent` + U+0001 approved finance_agent's own transfer).
            ("finance_agent", "finance_agent\u{1}"),
            ("finance_agent", "finance_agent\u{0}"),
            ("alice", "al\u{1f}ice"),
            ("alice", "alice\u{7f}"),
            ("alice", "\u{85}alice"),
            ("alice", "ali\u{9b}ce"),
            // A capital I drawn like an l (red team, 2026-11-30: `Iedger` approved
            // ledger's own request, `aIice` counted beside alice), in either case.
            ("ledger", "Iedger"),
            ("alice", "aIice"),
            ("ALICE", "aIice"),
            ("ledger", "1edger"),
            ("ledger", "\u{399}edger"),
            // Red team round 2: small capitals, punctuation and spaces inside a name.
            ("alice", "ᴀʟɪᴄᴇ"),
            ("alice", "aʟice"),
            ("bot", "ʙot"),
            ("bot", "b.o.t"),
            ("bot", "bot_"),
            ("other", "ot-her"),
            ("other", "o t h e r"),
            ("alice", "a.lice"),
        ];
        for (one, other) in alike {
            assert_eq!(person(one), person(other), "{one:?} and {other:?}");
        }
        for (one, other) in [("alice", "alicia"), ("bob", "rob"), ("agent1", "agent2")] {
            assert_ne!(person(one), person(other), "{one:?} and {other:?}");
            assert!(!same_person(one, other), "{one:?} and {other:?}");
        }
        // One foreign letter no table maps (red team round 2).
        for (one, other) in [
            ("bot", "\u{42c}ot"),
            ("bot", "bo\u{3c4}"),
            ("bot", "\u{10ee}ot"),
            ("alice", "ali\u{3f2}e"),
            ("ledger", "ledge\u{27e}"),
            ("alice", "a\u{ab6e}ice"),
        ] {
            assert!(same_person(one, other), "{one:?} and {other:?}");
        }
        // Two people: ASCII letters that differ, or names in two scripts.
        for (one, other) in
            [("alice", "alicf"), ("john", "\u{418}\u{432}\u{430}\u{43d}"), ("ann", "anna")]
        {
            assert!(!same_person(one, other), "{one:?} and {other:?}");
        }
    }
}
