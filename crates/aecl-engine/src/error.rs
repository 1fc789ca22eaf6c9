//! Errors of the engine and of its store port.

use aecl_audit::AuditError;

/// A store failed. On the decision path every one of these ends in a block.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or could not be reached.
    #[error("store: {0}")]
    Backend(String),
    /// Stored data is not what this version wrote (a bad row, a bad migration state).
    #[error("store holds unreadable data: {0}")]
    Corrupt(String),
    /// A state change that the ledger does not allow (finishing an effect twice).
    #[error("effect `{id}` is {state}, not {expected}")]
    Transition { id: String, state: String, expected: &'static str },
    #[error("no effect `{0}`")]
    NoEffect(String),
    /// The audit writer has stopped (after a failed commit it refuses everything, so that
    /// nothing is acknowledged that is not durable).
    #[error("the audit writer has stopped: {0}")]
    WriterStopped(String),
    #[error("audit: {0}")]
    Audit(#[from] AuditError),
    #[error("the database schema is at version {found}, newer than this aecl ({known})")]
    SchemaTooNew { found: i64, known: i64 },
}

/// The engine could not finish a call. Front ends answer these with a block.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Other writers kept appending to the run; the call was not recorded.
    #[error("run `{0}` is too busy: gave up after repeated concurrent updates")]
    Contention(String),
    /// An agent's call or result used a call id or idempotency key reserved for aecl's
    /// own calls (`origin::reserved`): refused before anything was recorded.
    #[error("{0}")]
    ReservedId(String),
    /// The call names an agent the policy does not know, or another agent's run.
    #[error("{0}")]
    Identity(String),
    #[error("audit: {0}")]
    Audit(#[from] AuditError),
    #[error("no effect `{0}`")]
    EffectNotFound(String),
    #[error("no approval request `{0}`")]
    ApprovalNotFound(String),
    /// The request's terms do not carry the grant key's signature: changed in the store
    /// since it was filed (or filed before requests were signed). Nobody may answer it
    /// before it expires.
    #[error(
        "approval request `{0}` does not verify: its terms were changed outside aecl (or it \
         was filed before requests were signed); nobody may answer it, and its call waits \
         until it expires"
    )]
    ApprovalUnsigned(String),
    /// The request was already approved, rejected or expired.
    #[error("approval request `{id}` is {status}, no longer pending")]
    ApprovalClosed { id: String, status: &'static str },
    /// A standing grant that cannot be given as asked (the message names the field).
    #[error("{0}")]
    InvalidGrant(String),
    /// A call's id (of a call that ran, was allowed or waits for approval) was reused in
    /// its run for a call with other arguments (or another action): the id names one
    /// call, so the second is refused, not executed.
    #[error(
        "call id `{call_id}` was already used in run `{run}` for a call with other arguments \
         or another action: give every call its own id"
    )]
    CallIdConflict { run: String, call_id: String },
    /// A call brought an idempotency key that an earlier call of its run (`first`, which
    /// ran or waits for approval) used with other arguments: a key names one call, so the
    /// second is refused, not decided.
    #[error(
        "idempotency key `{key}` was already used in run `{run}` by call `{first}` with \
         other arguments (or another action): a key names one call, use a new key for \
         another call"
    )]
    IdempotencyKeyConflict { run: String, key: String, first: String },
    /// An approver tried to approve or reject a call made with their own identity.
    #[error("`{approver}` asked for approval `{id}` and cannot answer it")]
    SelfApproval { id: String, approver: String },
    /// A person approved a request a second time: a quorum counts distinct people.
    #[error("`{approver}` already approved request `{id}`: it needs another approver")]
    AlreadyApproved { id: String, approver: String },
    /// Other answers to the request kept landing between reading its votes and writing
    /// this one: the approval was not counted (and nobody was told it was).
    #[error(
        "approval request `{id}` is being answered by too many approvers at once: this \
         approval was not counted; send it again"
    )]
    VoteContention { id: String },
    /// An approval was recorded but gave no grant (a quorum not reached yet, or a changed
    /// policy that allows or blocks the call now).
    #[error("approval request `{id}` gave no grant: {why}")]
    NotGranted { id: String, why: String },
    /// A decision allowing an effect was recorded, but no checkpoint covering it reached
    /// its destination outside the store: it is not answered as an allow (the store alone
    /// could lose it unseen).
    #[error("audit: not published: {0}")]
    Unpublished(String),
}

impl EngineError {
    /// `agent`'s call or event in `run`, which is `owner`'s.
    pub(crate) fn foreign_run(run: &str, owner: &str, agent: &str) -> EngineError {
        EngineError::Identity(format!("run `{run}` belongs to agent `{owner}`, not `{agent}`"))
    }
}
