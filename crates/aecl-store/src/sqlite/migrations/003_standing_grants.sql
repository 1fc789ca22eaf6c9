-- Standing grants: an approver's counted, expiring permission for one agent and action.
-- `terms` is the signed canonical JSON of what the grant permits; the store only counts.
CREATE TABLE standing_grants (
    id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    action TEXT NOT NULL,
    created INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    max_uses INTEGER NOT NULL CHECK (max_uses > 0),
    used INTEGER NOT NULL DEFAULT 0 CHECK (used <= max_uses),
    revoked_at INTEGER,
    terms TEXT NOT NULL,
    signature TEXT NOT NULL
);
CREATE INDEX standing_grants_agent_action ON standing_grants (agent, action, created);
