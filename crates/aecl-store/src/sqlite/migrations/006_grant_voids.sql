-- A grant voided by a later answer about its call (a new request for the call, an
-- approval or rejection of it) or found unusable: never spent after. The reason is kept
-- with it; the audit log has the same record.
ALTER TABLE grants ADD COLUMN voided_at INTEGER;
ALTER TABLE grants ADD COLUMN voided_why TEXT;
