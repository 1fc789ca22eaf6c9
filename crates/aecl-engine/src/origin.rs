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
/// key) is refused: the name is reserved for aecl's compensation calls (in any case or
/// spelling a reader takes for it: full-width letters, an invisible character inside), or
/// it cannot be shown faithfully in a log line, an approval page or a command's argument
/// (red team round 29, tamper L1 and its second pass): empty, blank or invisible only, or
/// holding a control character, a line or paragraph separator, or an invisible format
/// character (`r1` and `r1` with a zero-width space after it would be two runs that show
/// as one).
pub fn reserved(id: &str) -> Option<String> {
    let unseen = |c: char| c.is_whitespace() || aecl_core::visible::is_invisible(c);
    if id.is_empty() || id.chars().all(unseen) {
        return Some(format!(
            "{id:?}: run ids, call ids and idempotency keys must name something visible"
        ));
    }
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}')
            || (c != ' ' && unseen(c) && !c.is_ascii_whitespace())
    };
    if id.chars().any(hidden) {
        return Some(format!(
            "{id:?}: run ids, call ids and idempotency keys may not hold control, separator or \
             invisible characters"
        ));
    }
    let read = aecl_core::values::fold(id);
    let prefix = read.get(..ROLLBACK_KEY_PREFIX.len());
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
        for id in [
            "",
            " ",
            "\u{200b}",
            "\u{feff}",
            "\u{3164}",
            "\u{a0}",
            "r\u{0}x",
            "a\nb",
            "r1\u{200b}",
            "x\u{2028}y",
            "\u{202e}x",
            "\u{7f}",
            "\u{85}",
            "rollback:e1",
            "ROLLBACK:e1",
            "RollBack:x",
            "\u{ff52}ollback:x",
            "rollback\u{ff1a}x",
        ] {
            assert!(reserved(id).is_some(), "{id:?}");
        }
        for id in ["c1", "run-2026", "toolu_01ABC", "roll", "rollback", "é-1"] {
            assert_eq!(reserved(id), None, "{id:?}");
        }
    }
}
