//! The notification port: told of every new approval request, so that a human hears of it
//! without watching the page. The adapter (`aecl-server`'s webhook) sends and retries on
//! its own tasks; the engine never waits for it, and a lost notification changes nothing
//! of the request, which stays pending, listed and expiring as before.

use crate::store::Approval;

/// Hears of approval requests once they are stored.
pub trait Notifier: Send + Sync + std::fmt::Debug {
    /// Called once per new request, after it is durable. Must not block.
    fn approval_requested(&self, approval: &Approval);

    /// Called once per call that ran without aecl's allow (an agent's post-tool hook
    /// reported a call aecl never decided, or refused), after it is recorded. Must not
    /// block. The default tells nobody.
    fn unguarded_call(&self, run: &str, agent: &str, call_id: &str, action: &str, reason: &str) {
        let _ = (run, agent, call_id, action, reason);
    }
}
