-- The PostgreSQL form of sqlite/migrations/001_initial.sql: the same tables and columns,
-- with BIGINT for integers and BYTEA for blobs. Times are milliseconds since the epoch.

-- Runs: the history decide reads, appended at the version it was decided on.
CREATE TABLE runs (
    run TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    version BIGINT NOT NULL
);
CREATE TABLE run_events (
    run TEXT NOT NULL,
    version BIGINT NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (run, version)
);

-- Limits across runs: GCRA theoretical arrival times and concurrency slots.
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    tat BIGINT NOT NULL
);
CREATE TABLE slots (
    key TEXT NOT NULL,
    holder TEXT NOT NULL,
    expires BIGINT NOT NULL,
    PRIMARY KEY (key, holder)
);
CREATE INDEX slots_holder ON slots (holder);

-- Single-use values.
CREATE TABLE nonces (
    scope TEXT NOT NULL,
    nonce TEXT NOT NULL,
    used_at BIGINT NOT NULL,
    PRIMARY KEY (scope, nonce)
);
CREATE TABLE grants (
    id TEXT PRIMARY KEY,
    approval_id TEXT,
    call_digest TEXT NOT NULL,
    policy_revision TEXT NOT NULL,
    expires BIGINT NOT NULL,
    consumed_at BIGINT
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
    requested BIGINT NOT NULL,
    expires BIGINT NOT NULL,
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
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    UNIQUE (run, call_id)
);
CREATE UNIQUE INDEX effects_idempotency ON effects (run, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX effects_node_state ON effects (node, state);

-- The audit log: canonical records with their chain hashes, signed checkpoints, and the
-- head (size, last chain hash, Merkle compact range) every instance's committer resumes
-- from. The head row exists from the start, so that committers always have a row to lock.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    record BYTEA NOT NULL,
    chain_hash BYTEA NOT NULL
);
CREATE TABLE audit_checkpoints (
    size BIGINT PRIMARY KEY,
    note TEXT NOT NULL
);
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL,
    head BYTEA NOT NULL,
    nodes BYTEA NOT NULL
);
INSERT INTO audit_head (id, size, head, nodes) VALUES (1, 0, decode(repeat('00', 32), 'hex'), '');
