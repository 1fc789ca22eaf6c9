//! Who proposes a call: an agent, through any front end, or aecl's rollback engine undoing
//! an effect at a person's request; and the names reserved for the engine's own calls. A
//! leaf module: the pipeline's stages and the front ends' checks read it, and it reads
//! nothing of the engine.

use serde::Serialize;

/// The idempotency key (and call id) prefix of compensation calls.
pub const ROLLBACK_KEY_PREFIX: &str = "rollback:";

/// Who proposes a call: an agent, through any front end, or a person rolling back one of
/// its effects (the engine's own compensation call).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Origin {
    #[default]
    Agent,
    Rollback(Requester),
}

/// Who asked for a rollback: the subject and role of their credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Requester {
    pub subject: String,
    pub role: String,
}

/// Why a call or result that an agent sent under `id` (its run id, call id or idempotency
/// key) is refused: the name is reserved for aecl's compensation calls (in any case: a
/// reader of the log should not have to know which spelling is the engine's), or it
/// cannot be shown faithfully in a log line or a command's argument (empty, or holding a
/// control character: red team round 29, tamper L1).
pub fn reserved(id: &str) -> Option<String> {
    if id.is_empty() {
        return Some("an empty id: run ids, call ids and idempotency keys name something".into());
    }
    if id.chars().any(char::is_control) {
        return Some(format!(
            "{id:?}: run ids, call ids and idempotency keys may not hold control characters"
        ));
    }
    let prefix = id.get(..ROLLBACK_KEY_PREFIX.len());
    prefix.is_some_and(|p| p.eq_ignore_ascii_case(ROLLBACK_KEY_PREFIX)).then(|| {
        format!(
            "`{id}`: call ids and idempotency keys starting with `{ROLLBACK_KEY_PREFIX}` are \
             aecl's own (the calls that undo effects)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_ids_control_characters_and_the_undo_prefix_in_any_case_are_refused() {
        for id in ["", "r\u{0}x", "a\nb", "rollback:e1", "ROLLBACK:e1", "RollBack:x"] {
            assert!(reserved(id).is_some(), "{id:?}");
        }
        for id in ["c1", "run-2026", "toolu_01ABC", "roll", "rollback", "é-1"] {
            assert_eq!(reserved(id), None, "{id:?}");
        }
    }
}
