//! Stage 1, identify: the call as the engine will judge it. Its digest and arrival time,
//! the id its effect will have, its path arguments resolved on the filesystem where its
//! connector acts, its nonce spent, and its run expired first when `[runs]` says it is due.

use std::time::Instant;

use tracing::Instrument;

use aecl_core::Call;

use crate::connector::{Connector, Invocation};
use crate::engine::{Engine, new_id};
use crate::error::EngineError;
use crate::origin::{self, Origin};
use crate::stage::{Arrived, span};
use crate::store::Store;

impl<S: Store> Engine<S> {
    /// `call` as it arrived from `origin`, to be executed through `connector` (or only
    /// evaluated). An agent's call under an id or idempotency key reserved for aecl's own
    /// calls is refused here, before anything of it is recorded.
    pub(crate) async fn identify(
        &self,
        mut call: Call,
        connector: Option<&dyn Connector>,
        origin: Origin,
    ) -> Result<Arrived, EngineError> {
        if origin == Origin::Agent
            && let Some(why) = [call.run.as_str(), call.id.as_str()]
                .into_iter()
                .chain(call.idempotency_key.as_deref())
                .find_map(origin::reserved)
        {
            return Err(EngineError::ReservedId(why));
        }
        let span = span("identify", &call);
        async move {
            let started = Instant::now();
            let digest = call.digest();
            let arrival = self.now();
            // `[runs]`: a run due for expiry is expired before this call is decided on it.
            self.expire_if_due(&call.run).await?;
            let policy = self.policy();
            let effect_id = new_id();
            // A connector that acts on a filesystem this process sees: the call's paths
            // are resolved there, where it will act. What the client sent is replaced,
            // never merged: it describes another filesystem, or nothing real. A few
            // `lstat`s per string argument, cheap enough for the async thread (as in the
            // MCP gateway).
            let cwd =
                connector.and_then(|c| c.local_fs_cwd(Invocation::new(&policy, &call, &effect_id)));
            if let Some(cwd) = cwd {
                call.paths =
                    crate::fs_paths::resolve_call(Some(&*policy), &call.action, &call.args, &cwd);
            }
            // A nonce is spent once per agent, whatever becomes of the call.
            let nonce_reused = match &call.nonce {
                Some(nonce) => !self.store().use_nonce(&call.agent, nonce, self.now()).await?,
                None => false,
            };
            Ok(Arrived {
                call,
                digest,
                policy,
                arrival,
                started,
                effect_id,
                nonce_reused,
                executing: connector.is_some(),
                origin,
            })
        }
        .instrument(span)
        .await
    }
}
