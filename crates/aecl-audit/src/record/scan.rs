//! The fast path of the canonical check: one pass over the bytes that accepts only the
//! exact bytes the encoder writes, without building anything.
//!
//! It is an optimisation of `decode_canonical` (decode with serde, re-encode, compare),
//! which stays the authority: whatever this scanner rejects is handed to it, so a scanner
//! that is too strict only costs time, and `tests.rs` checks on random and mutated records
//! that the scanner never accepts what the authority refuses.

use aecl_core::{Decision, Mode};

use super::{Outcome, RecordKind, parse_stage};
use crate::canonical::Cursor;

/// The record's `seq` when `bytes` are certainly a canonical record; `None` when the slow
/// path has to decide.
pub(super) fn scan(bytes: &[u8]) -> Option<u64> {
    std::str::from_utf8(bytes).ok()?;
    let mut c = Cursor::new(bytes);
    c.literal(b"{\"action\":").ok()?;
    c.string().ok()?;
    c.literal(b",\"agent\":").ok()?;
    c.string().ok()?;
    c.literal(b",\"approval_id\":").ok()?;
    optional_string(&mut c)?;
    c.literal(b",\"call_digest\":").ok()?;
    c.string().ok()?;
    c.literal(b",\"call_id\":").ok()?;
    c.string().ok()?;
    c.literal(b",\"decision\":").ok()?;
    optional_name(&mut c, |s| Decision::parse(s).is_some())?;
    c.literal(b",\"effect_id\":").ok()?;
    optional_string(&mut c)?;
    c.literal(b",\"event_id\":").ok()?;
    c.string().ok()?;
    c.literal(b",\"input\":").ok()?;
    // Inside the record object: one level of nesting is used already.
    c.value(1).ok()?;
    c.literal(b",\"kind\":").ok()?;
    name(&mut c, |s| RecordKind::parse(s).is_some())?;
    c.literal(b",\"latency_ms\":").ok()?;
    c.u64().ok()?;
    c.literal(b",\"mode\":").ok()?;
    optional_name(&mut c, |s| Mode::parse(s).is_some())?;
    c.literal(b",\"outcome\":").ok()?;
    optional_name(&mut c, |s| Outcome::parse(s).is_some())?;
    c.literal(b",\"output\":").ok()?;
    c.value(1).ok()?;
    c.literal(b",\"policy_revision\":").ok()?;
    c.string().ok()?;
    c.literal(b",\"reasons\":[").ok()?;
    if c.peek() == Some(b']') {
        c.eat(b']').ok()?;
    } else {
        loop {
            c.literal(b"{\"decision\":").ok()?;
            name(&mut c, |s| Decision::parse(s).is_some())?;
            c.literal(b",\"field\":").ok()?;
            optional_string(&mut c)?;
            c.literal(b",\"message\":").ok()?;
            c.string().ok()?;
            c.literal(b",\"rule\":").ok()?;
            c.string().ok()?;
            c.literal(b",\"stage\":").ok()?;
            name(&mut c, |s| parse_stage(s).is_some())?;
            c.eat(b'}').ok()?;
            match c.peek() {
                Some(b',') => c.eat(b',').ok()?,
                _ => {
                    c.eat(b']').ok()?;
                    break;
                }
            }
        }
    }
    c.literal(b",\"risk_score\":").ok()?;
    c.f64().ok()?;
    c.literal(b",\"rollback_token\":").ok()?;
    optional_string(&mut c)?;
    c.literal(b",\"run\":").ok()?;
    c.string().ok()?;
    c.literal(b",\"sandbox_id\":").ok()?;
    optional_string(&mut c)?;
    c.literal(b",\"seq\":").ok()?;
    let seq = c.u64().ok()?;
    c.literal(b",\"time_ms\":").ok()?;
    c.u64().ok()?;
    c.eat(b'}').ok()?;
    c.at_end().then_some(seq)
}

fn optional_string(c: &mut Cursor<'_>) -> Option<()> {
    if c.peek() == Some(b'n') { c.literal(b"null").ok() } else { c.string().ok().map(|_| ()) }
}

/// A string that must be one of an enumeration's spellings (none of which has escapes).
fn name(c: &mut Cursor<'_>, known: impl Fn(&str) -> bool) -> Option<()> {
    let raw = c.string().ok()?;
    let text = std::str::from_utf8(raw).ok()?;
    (!text.contains('\\') && known(text)).then_some(())
}

fn optional_name(c: &mut Cursor<'_>, known: impl Fn(&str) -> bool) -> Option<()> {
    if c.peek() == Some(b'n') { c.literal(b"null").ok() } else { name(c, known) }
}
