-- Revoked credentials: a token's `jti:ID` or an agent key's `agent_key:KID`, checked at
-- every request. Never deleted: a revocation is not lifted.
CREATE TABLE revoked_credentials (
    id TEXT PRIMARY KEY,
    revoked_at BIGINT NOT NULL,
    revoked_by TEXT NOT NULL
);
