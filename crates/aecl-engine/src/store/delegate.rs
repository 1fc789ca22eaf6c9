//! [`impl_store_by!`](crate::impl_store_by): implements the [`Store`](super::Store) port for
//! a type that hands every call to another store (a store chosen at run time, a test
//! wrapper that injects failures), with each method's signature written once, here.
//!
//! The port has no default methods, so the compiler checks this list against the trait:
//! a method added to the port and not here (or the reverse) fails to build.

// The types the macro's signatures name, reachable through `$crate` from any crate.
pub use aecl_audit::{AuditRecord, StoredRecord};
pub use aecl_core::{CallDigest, Revision, Timestamp};

/// Implements `Store` for a type whose every method is answered by
/// `$via!(self, method(arg, ...))`, an expression (usually ending in `.await`) that a
/// macro of the caller's writes.
///
/// ```text
/// macro_rules! to_inner {
///     ($self:ident, $method:ident($($arg:expr),*)) => { $self.inner.$method($($arg),*).await };
/// }
/// aecl_engine::impl_store_by!({ impl<S: Store> Store for Wrapper<S> } via to_inner);
/// ```
#[macro_export]
macro_rules! impl_store_by {
    ({ $($head:tt)* } via $via:ident) => {
        $($head)* {
            async fn load_run(
                &self,
                run: &str,
            ) -> ::core::result::Result<$crate::store::RunSnapshot, $crate::StoreError> {
                $via!(self, load_run(run))
            }

            async fn commit_run_event(
                &self,
                commit: $crate::store::RunCommit,
            ) -> ::core::result::Result<$crate::store::Committed, $crate::StoreError> {
                $via!(self, commit_run_event(commit))
            }

            async fn finish_call(
                &self,
                end: $crate::store::CallEnd,
            ) -> ::core::result::Result<u64, $crate::StoreError> {
                $via!(self, finish_call(end))
            }

            async fn release_slots(
                &self,
                holder: &str,
            ) -> ::core::result::Result<(), $crate::StoreError> {
                $via!(self, release_slots(holder))
            }

            async fn append_audit(
                &self,
                record: $crate::store::delegate::AuditRecord,
            ) -> ::core::result::Result<u64, $crate::StoreError> {
                $via!(self, append_audit(record))
            }

            async fn begin_effect(
                &self,
                effect: $crate::store::NewEffect,
            ) -> ::core::result::Result<$crate::store::Begun, $crate::StoreError> {
                $via!(self, begin_effect(effect))
            }

            async fn dispatch_effect(
                &self,
                id: &str,
            ) -> ::core::result::Result<(), $crate::StoreError> {
                $via!(self, dispatch_effect(id))
            }

            async fn finish_effect(
                &self,
                id: &str,
                end: $crate::store::EffectEnd,
            ) -> ::core::result::Result<(), $crate::StoreError> {
                $via!(self, finish_effect(id, end))
            }

            async fn effect(
                &self,
                id: &str,
            ) -> ::core::result::Result<Option<$crate::store::Effect>, $crate::StoreError> {
                $via!(self, effect(id))
            }

            async fn effect_by_key(
                &self,
                run: &str,
                key: &str,
            ) -> ::core::result::Result<Option<$crate::store::Effect>, $crate::StoreError> {
                $via!(self, effect_by_key(run, key))
            }

            async fn run_effects(
                &self,
                run: &str,
            ) -> ::core::result::Result<Vec<$crate::store::Effect>, $crate::StoreError> {
                $via!(self, run_effects(run))
            }

            async fn recover_effects(
                &self,
                node: &str,
                at: $crate::store::delegate::Timestamp,
            ) -> ::core::result::Result<Vec<$crate::store::Effect>, $crate::StoreError> {
                $via!(self, recover_effects(node, at))
            }

            async fn unresolved_effects(
                &self,
                after: Option<&str>,
                limit: usize,
            ) -> ::core::result::Result<Vec<$crate::store::Effect>, $crate::StoreError> {
                $via!(self, unresolved_effects(after, limit))
            }

            async fn reconcile_effect(
                &self,
                reconciliation: $crate::store::Reconciliation,
            ) -> ::core::result::Result<bool, $crate::StoreError> {
                $via!(self, reconcile_effect(reconciliation))
            }

            async fn use_nonce(
                &self,
                scope: &str,
                nonce: &str,
                at: $crate::store::delegate::Timestamp,
            ) -> ::core::result::Result<bool, $crate::StoreError> {
                $via!(self, use_nonce(scope, nonce, at))
            }

            async fn put_grant(
                &self,
                grant: $crate::store::Grant,
            ) -> ::core::result::Result<(), $crate::StoreError> {
                $via!(self, put_grant(grant))
            }

            async fn consume_grant(
                &self,
                id: &str,
                digest: &$crate::store::delegate::CallDigest,
                revision: &$crate::store::delegate::Revision,
                at: $crate::store::delegate::Timestamp,
            ) -> ::core::result::Result<
                ::core::result::Result<$crate::store::Grant, $crate::store::GrantRefusal>,
                $crate::StoreError,
            > {
                $via!(self, consume_grant(id, digest, revision, at))
            }

            async fn grant_for_call(
                &self,
                digest: &$crate::store::delegate::CallDigest,
            ) -> ::core::result::Result<Option<$crate::store::Grant>, $crate::StoreError> {
                $via!(self, grant_for_call(digest))
            }

            async fn spent_grant_for_call(
                &self,
                digest: &$crate::store::delegate::CallDigest,
            ) -> ::core::result::Result<
                Option<($crate::store::Grant, $crate::store::delegate::Timestamp)>,
                $crate::StoreError,
            > {
                $via!(self, spent_grant_for_call(digest))
            }

            async fn dispatch_effect_with_grant(
                &self,
                id: &str,
                grant: &str,
                digest: &$crate::store::delegate::CallDigest,
                revision: &$crate::store::delegate::Revision,
                at: $crate::store::delegate::Timestamp,
            ) -> ::core::result::Result<
                ::core::result::Result<(), $crate::store::GrantRefusal>,
                $crate::StoreError,
            > {
                $via!(self, dispatch_effect_with_grant(id, grant, digest, revision, at))
            }

            async fn void_grants(
                &self,
                digest: &$crate::store::delegate::CallDigest,
                voiding: $crate::store::Voiding,
            ) -> ::core::result::Result<Vec<$crate::store::Grant>, $crate::StoreError> {
                $via!(self, void_grants(digest, voiding))
            }

            async fn put_approval(
                &self,
                approval: $crate::store::Approval,
            ) -> ::core::result::Result<(), $crate::StoreError> {
                $via!(self, put_approval(approval))
            }

            async fn file_approval(
                &self,
                approval: $crate::store::Approval,
                voiding: $crate::store::Voiding,
            ) -> ::core::result::Result<$crate::store::Superseded, $crate::StoreError> {
                $via!(self, file_approval(approval, voiding))
            }

            async fn approval(
                &self,
                id: &str,
            ) -> ::core::result::Result<Option<$crate::store::Approval>, $crate::StoreError> {
                $via!(self, approval(id))
            }

            async fn approvals(
                &self,
                pending_only: bool,
                limit: usize,
            ) -> ::core::result::Result<Vec<$crate::store::Approval>, $crate::StoreError> {
                $via!(self, approvals(pending_only, limit))
            }

            async fn resolve_approval(
                &self,
                id: &str,
                status: $crate::store::ApprovalStatus,
                by: &str,
                reason: Option<&str>,
            ) -> ::core::result::Result<bool, $crate::StoreError> {
                $via!(self, resolve_approval(id, status, by, reason))
            }

            async fn answer_approval(
                &self,
                id: &str,
                answer: $crate::store::Answer,
            ) -> ::core::result::Result<
                Option<Vec<$crate::store::Grant>>,
                $crate::StoreError,
            > {
                $via!(self, answer_approval(id, answer))
            }

            async fn record_vote(
                &self,
                id: &str,
                expected: Option<&str>,
                votes: &str,
            ) -> ::core::result::Result<bool, $crate::StoreError> {
                $via!(self, record_vote(id, expected, votes))
            }

            async fn rejections_for(
                &self,
                digest: &$crate::store::delegate::CallDigest,
                since: $crate::store::delegate::Timestamp,
                at: $crate::store::delegate::Timestamp,
            ) -> ::core::result::Result<Vec<$crate::store::Approval>, $crate::StoreError> {
                $via!(self, rejections_for(digest, since, at))
            }

            async fn audit_records(
                &self,
                from: u64,
                limit: usize,
            ) -> ::core::result::Result<Vec<$crate::store::delegate::StoredRecord>, $crate::StoreError> {
                $via!(self, audit_records(from, limit))
            }

            async fn audit_checkpoints(
                &self,
            ) -> ::core::result::Result<Vec<String>, $crate::StoreError> {
                $via!(self, audit_checkpoints())
            }

            async fn newest_checkpoint(
                &self,
            ) -> ::core::result::Result<
                ::core::option::Option<::std::string::String>,
                $crate::StoreError,
            > {
                $via!(self, newest_checkpoint())
            }

            async fn pending_approval_for(
                &self,
                digest: &$crate::store::delegate::CallDigest,
                revision: &$crate::store::delegate::Revision,
                at: $crate::store::delegate::Timestamp,
            ) -> ::core::result::Result<Option<String>, $crate::StoreError> {
                $via!(self, pending_approval_for(digest, revision, at))
            }

            async fn put_standing_grant(
                &self,
                grant: $crate::store::StandingGrant,
            ) -> ::core::result::Result<(), $crate::StoreError> {
                $via!(self, put_standing_grant(grant))
            }

            async fn standing_grants(
                &self,
                agent_action: Option<(&str, &str)>,
                limit: usize,
            ) -> ::core::result::Result<Vec<$crate::store::StandingGrant>, $crate::StoreError>
            {
                $via!(self, standing_grants(agent_action, limit))
            }

            async fn use_standing_grant(
                &self,
                id: &str,
                at: $crate::store::delegate::Timestamp,
            ) -> ::core::result::Result<bool, $crate::StoreError> {
                $via!(self, use_standing_grant(id, at))
            }

            async fn revoke_standing_grant(
                &self,
                id: &str,
                at: $crate::store::delegate::Timestamp,
            ) -> ::core::result::Result<bool, $crate::StoreError> {
                $via!(self, revoke_standing_grant(id, at))
            }

            async fn revoke_credential(
                &self,
                id: &str,
                at: $crate::store::delegate::Timestamp,
                by: &str,
            ) -> ::core::result::Result<bool, $crate::StoreError> {
                $via!(self, revoke_credential(id, at, by))
            }

            async fn revoked_credential(
                &self,
                ids: &[::std::string::String],
            ) -> ::core::result::Result<::core::option::Option<::std::string::String>, $crate::StoreError> {
                $via!(self, revoked_credential(ids))
            }

            async fn health(&self) -> $crate::store::StoreHealth {
                $via!(self, health())
            }

            async fn writer_queue_depth(&self) -> u64 {
                $via!(self, writer_queue_depth())
            }
        }
    };
}
