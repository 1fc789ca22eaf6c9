//! One store type for front ends that choose the database at run time: a URL names it
//! (`postgres://...` or a SQLite file), and [`AnyStore`] forwards every method of the port
//! to the store it opened.

use std::path::PathBuf;

use aecl_audit::{AuditRecord, StoredRecord};
use aecl_core::{CallDigest, Revision, Timestamp};
use aecl_engine::{
    Approval, ApprovalStatus, Begun, CallEnd, Committed, Effect, EffectEnd, Grant, GrantRefusal,
    NewEffect, Reconciliation, RunCommit, RunSnapshot, StandingGrant, Store, StoreError,
};

use crate::{AuditConfig, PostgresStore, SqliteStore};

/// Where the store is: a SQLite file or a PostgreSQL database.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` URL, as given.
    Postgres(String),
}

impl StoreUrl {
    /// `postgres://...` and `postgresql://...` name a PostgreSQL database; `sqlite://PATH`
    /// or a plain path a SQLite file. Any other `scheme://` is refused rather than taken
    /// for a file name.
    pub fn parse(text: &str) -> Result<StoreUrl, StoreError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(StoreError::Backend("empty store URL".to_owned()));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(StoreUrl::Postgres(text.to_owned()));
        }
        if let Some(path) = text.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(StoreError::Backend("`sqlite://` names no file".to_owned()));
            }
            return Ok(StoreUrl::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(StoreError::Backend(format!(
                "unsupported store URL scheme `{scheme}` (use postgres://, postgresql:// or sqlite://)"
            )));
        }
        Ok(StoreUrl::Sqlite(PathBuf::from(text)))
    }
}

/// Never prints a PostgreSQL password (URLs end up in logs and error messages).
impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreUrl::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            StoreUrl::Postgres(url) => {
                f.debug_tuple("Postgres").field(&without_password(url)).finish()
            }
        }
    }
}

/// `url` with the password of its user part replaced by `***`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The store a [`StoreUrl`] names.
#[derive(Debug, Clone)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl AnyStore {
    /// Opens the store, creating or migrating its schema (see [`SqliteStore::open`] and
    /// [`PostgresStore::open`]).
    pub async fn open(url: &StoreUrl, audit: AuditConfig) -> Result<AnyStore, StoreError> {
        match url {
            // Opening SQLite blocks briefly (file open and migrations) on a file that is
            // local: not worth a blocking-pool hop.
            StoreUrl::Sqlite(path) => SqliteStore::open(path, audit).map(AnyStore::Sqlite),
            StoreUrl::Postgres(url) => {
                PostgresStore::open(url, audit).await.map(AnyStore::Postgres)
            }
        }
    }
}

/// Forwards one call to the store inside, whichever it is.
macro_rules! forward {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($store) => $call.await,
            AnyStore::Postgres($store) => $call.await,
        }
    };
}

impl Store for AnyStore {
    async fn health(&self) -> aecl_engine::StoreHealth {
        forward!(self, s => s.health())
    }

    async fn spent_grant_for_call(
        &self,
        digest: &CallDigest,
    ) -> Result<Option<(Grant, Timestamp)>, StoreError> {
        forward!(self, s => s.spent_grant_for_call(digest))
    }

    async fn load_run(&self, run: &str) -> Result<RunSnapshot, StoreError> {
        forward!(self, s => s.load_run(run))
    }

    async fn commit_run_event(&self, commit: RunCommit) -> Result<Committed, StoreError> {
        forward!(self, s => s.commit_run_event(commit))
    }

    async fn finish_call(&self, end: CallEnd) -> Result<u64, StoreError> {
        forward!(self, s => s.finish_call(end))
    }

    async fn release_slots(&self, holder: &str) -> Result<(), StoreError> {
        forward!(self, s => s.release_slots(holder))
    }

    async fn append_audit(&self, record: AuditRecord) -> Result<u64, StoreError> {
        forward!(self, s => s.append_audit(record))
    }

    async fn begin_effect(&self, effect: NewEffect) -> Result<Begun, StoreError> {
        forward!(self, s => s.begin_effect(effect))
    }

    async fn dispatch_effect(&self, id: &str) -> Result<(), StoreError> {
        forward!(self, s => s.dispatch_effect(id))
    }

    async fn finish_effect(&self, id: &str, end: EffectEnd) -> Result<(), StoreError> {
        forward!(self, s => s.finish_effect(id, end))
    }

    async fn effect(&self, id: &str) -> Result<Option<Effect>, StoreError> {
        forward!(self, s => s.effect(id))
    }

    async fn effect_by_key(&self, run: &str, key: &str) -> Result<Option<Effect>, StoreError> {
        forward!(self, s => s.effect_by_key(run, key))
    }

    async fn run_effects(&self, run: &str) -> Result<Vec<Effect>, StoreError> {
        forward!(self, s => s.run_effects(run))
    }

    async fn recover_effects(&self, node: &str, at: Timestamp) -> Result<Vec<Effect>, StoreError> {
        forward!(self, s => s.recover_effects(node, at))
    }

    async fn unresolved_effects(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Effect>, StoreError> {
        forward!(self, s => s.unresolved_effects(after, limit))
    }

    async fn reconcile_effect(&self, r: Reconciliation) -> Result<bool, StoreError> {
        forward!(self, s => s.reconcile_effect(r))
    }

    async fn use_nonce(&self, scope: &str, nonce: &str, at: Timestamp) -> Result<bool, StoreError> {
        forward!(self, s => s.use_nonce(scope, nonce, at))
    }

    async fn put_grant(&self, grant: Grant) -> Result<(), StoreError> {
        forward!(self, s => s.put_grant(grant))
    }

    async fn consume_grant(
        &self,
        id: &str,
        digest: &CallDigest,
        revision: &Revision,
        at: Timestamp,
    ) -> Result<Result<Grant, GrantRefusal>, StoreError> {
        forward!(self, s => s.consume_grant(id, digest, revision, at))
    }

    async fn grant_for_call(&self, digest: &CallDigest) -> Result<Option<Grant>, StoreError> {
        forward!(self, s => s.grant_for_call(digest))
    }

    async fn dispatch_effect_with_grant(
        &self,
        id: &str,
        grant: &str,
        digest: &CallDigest,
        revision: &Revision,
        at: Timestamp,
    ) -> Result<Result<(), GrantRefusal>, StoreError> {
        forward!(self, s => s.dispatch_effect_with_grant(id, grant, digest, revision, at))
    }

    async fn put_approval(&self, approval: Approval) -> Result<(), StoreError> {
        forward!(self, s => s.put_approval(approval))
    }

    async fn approvals(
        &self,
        pending_only: bool,
        limit: usize,
    ) -> Result<Vec<Approval>, StoreError> {
        forward!(self, s => s.approvals(pending_only, limit))
    }

    async fn approval(&self, id: &str) -> Result<Option<Approval>, StoreError> {
        forward!(self, s => s.approval(id))
    }

    async fn resolve_approval(
        &self,
        id: &str,
        status: ApprovalStatus,
        by: &str,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        forward!(self, s => s.resolve_approval(id, status, by, reason))
    }

    async fn audit_records(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        forward!(self, s => s.audit_records(from, limit))
    }

    async fn audit_checkpoints(&self) -> Result<Vec<String>, StoreError> {
        forward!(self, s => s.audit_checkpoints())
    }

    async fn pending_approval_for(
        &self,
        digest: &CallDigest,
        revision: &Revision,
        at: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        forward!(self, s => s.pending_approval_for(digest, revision, at))
    }

    async fn put_standing_grant(&self, grant: StandingGrant) -> Result<(), StoreError> {
        forward!(self, s => s.put_standing_grant(grant))
    }

    async fn standing_grants(
        &self,
        agent_action: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<StandingGrant>, StoreError> {
        forward!(self, s => s.standing_grants(agent_action, limit))
    }

    async fn use_standing_grant(&self, id: &str, at: Timestamp) -> Result<bool, StoreError> {
        forward!(self, s => s.use_standing_grant(id, at))
    }

    async fn revoke_standing_grant(&self, id: &str, at: Timestamp) -> Result<bool, StoreError> {
        forward!(self, s => s.revoke_standing_grant(id, at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_store() {
        let pg = "postgres://aecl@db:5432/aecl";
        assert_eq!(StoreUrl::parse(pg).unwrap(), StoreUrl::Postgres(pg.to_owned()));
        let pg = "postgresql://aecl@db/aecl?sslmode=require";
        assert_eq!(StoreUrl::parse(pg).unwrap(), StoreUrl::Postgres(pg.to_owned()));
        assert_eq!(
            StoreUrl::parse("sqlite:///var/lib/aecl.db").unwrap(),
            StoreUrl::Sqlite("/var/lib/aecl.db".into())
        );
        assert_eq!(
            StoreUrl::parse("sqlite://aecl.db").unwrap(),
            StoreUrl::Sqlite("aecl.db".into())
        );
        assert_eq!(
            StoreUrl::parse("data/aecl.db").unwrap(),
            StoreUrl::Sqlite("data/aecl.db".into())
        );
        assert!(StoreUrl::parse("mysql://db/aecl").is_err());
        assert!(StoreUrl::parse("sqlite://").is_err());
        assert!(StoreUrl::parse("  ").is_err());
    }

    #[test]
    fn debug_output_hides_the_password() {
        let url = StoreUrl::parse("postgres://aecl:s3cret@db:5432/aecl").unwrap();
        let shown = format!("{url:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("postgres://aecl:***@db:5432/aecl"), "{shown}");
    }
}
