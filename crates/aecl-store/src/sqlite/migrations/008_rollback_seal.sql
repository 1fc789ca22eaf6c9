-- The engine's signature over an effect's rollback token and the ledger fields its undo
-- acts on (id, run, call, agent, action, call digest): an undo runs only when it verifies,
-- so a token or action written by hand undoes nothing. Effects recorded before this
-- migration have none; an engine with a grant key refuses to undo them (`aecl rollback`
-- answers `failed`, nothing touched).
ALTER TABLE effects ADD COLUMN rollback_seal TEXT;
