//! The hash maps of the decision path.
//!
//! Every look-up `decide` makes (agent, action, allowed and blocked actions, the run's
//! nonces and idempotency keys, the provenance index) hashes a string the caller chose, so
//! the hasher is on the hot path: std's SipHash-1-3 spent a fifth of a decision. foldhash
//! is the hasher hashbrown itself defaults to; its `RandomState` seeds each map from
//! per-process randomness, which keeps the resistance to chosen collisions that matters
//! here (keys come from agents and from untrusted tool output) at a fraction of the cost.
//!
//! Nothing may depend on the iteration order of these maps: it differs between processes,
//! as it did with std's `RandomState`. Outputs that list map contents sort them first.

/// A `HashMap` with the decision path's hasher.
pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A `HashSet` with the decision path's hasher.
pub type HashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
