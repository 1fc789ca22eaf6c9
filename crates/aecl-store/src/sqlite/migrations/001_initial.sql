-- Runs: the history decide reads, appended at the version it was decided on.
CREATE TABLE runs (
    run TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE TABLE run_events (
    run TEXT NOT NULL,
    version INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (run, version)
);

-- Limits across runs: GCRA theoretical arrival times and concurrency slots.
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    tat INTEGER NOT NULL
);
CREATE TABLE slots (
    key TEXT NOT NULL,
    holder TEXT NOT NULL,
    expires INTEGER NOT NULL,
    PRIMARY KEY (key, holder)
);
CREATE INDEX slots_holder ON slots (holder);

-- Single-use values.
CREATE TABLE nonces (
    scope TEXT NOT NULL,
    nonce TEXT NOT NULL,
    used_at INTEGER NOT NULL,
    PRIMARY KEY (scope, nonce)
);
CREATE TABLE grants (
    id TEXT PRIMARY KEY,
    approval_id TEXT,
    call_digest TEXT NOT NULL,
    policy_revision TEXT NOT NULL,
    expires INTEGER NOT NULL,
    consumed_at INTEGER
);
CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    run TEXT NOT NULL,
    call_id TEXT NOT NULL,
    agent TEXT NOT NULL,
    action TEXT NOT NULL,
    call_digest TEXT NOT NULL,
    policy_revision TEXT NOT NULL,
    status TEXT NOT NULL,
    requested INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    decided_by TEXT,
    reason TEXT,
    body TEXT NOT NULL
);
CREATE INDEX approvals_status ON approvals (status, expires);

-- The effect ledger: pending -> dispatched -> succeeded | failed | outcome_unknown.
CREATE TABLE effects (
    id TEXT PRIMARY KEY,
    run TEXT NOT NULL,
    call_id TEXT NOT NULL,
    agent TEXT NOT NULL,
    action TEXT NOT NULL,
    idempotency_key TEXT,
    call_digest TEXT NOT NULL,
    node TEXT NOT NULL,
    state TEXT NOT NULL,
    result TEXT NOT NULL,
    error TEXT,
    rollback_token TEXT,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    UNIQUE (run, call_id)
);
CREATE UNIQUE INDEX effects_idempotency ON effects (run, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX effects_node_state ON effects (node, state);

-- The audit log: canonical records with their chain hashes, signed checkpoints, and the
-- head (size, last chain hash, Merkle compact range) the writer resumes from.
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    record BLOB NOT NULL,
    chain_hash BLOB NOT NULL
);
CREATE TABLE audit_checkpoints (
    size INTEGER PRIMARY KEY,
    note TEXT NOT NULL
);
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size INTEGER NOT NULL,
    head BLOB NOT NULL,
    nodes BLOB NOT NULL
);
