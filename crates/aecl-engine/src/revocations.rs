//! The credential revocations one engine instance has seen (made, or found in the store),
//! kept for its lifetime: a revocation is never lifted, so a row deleted from the store
//! behind the instance's back does not bring the credential back here (red team round
//! 20, audit F1c). Another replica, or this one after a restart, reads the store alone.
//! A leaf: `credentials.rs` asks it, `engine.rs` holds it.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

/// The revocation ids seen.
#[derive(Debug, Default)]
pub(crate) struct SeenRevocations(Mutex<HashSet<String>>);

/// Revocations kept in memory at most; past it the store alone answers for the others.
const SEEN_MAX: usize = 100_000;

impl SeenRevocations {
    pub(crate) fn any(&self, ids: &[String]) -> bool {
        let seen = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        ids.iter().any(|id| seen.contains(id))
    }

    pub(crate) fn remember(&self, id: String) {
        let mut seen = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.len() < SEEN_MAX {
            seen.insert(id);
        }
    }
}
