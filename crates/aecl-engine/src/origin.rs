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

/// Why a call or result that an agent sent under `id` (its call id or idempotency key) is
/// refused, when that name is reserved for aecl's compensation calls.
pub fn reserved(id: &str) -> Option<String> {
    id.starts_with(ROLLBACK_KEY_PREFIX).then(|| {
        format!(
            "`{id}`: call ids and idempotency keys starting with `{ROLLBACK_KEY_PREFIX}` are \
             aecl's own (the calls that undo effects)"
        )
    })
}
