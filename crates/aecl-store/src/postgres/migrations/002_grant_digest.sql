-- The approval gate finds the grant of a retried call by the call's digest.
CREATE INDEX grants_call_digest ON grants (call_digest, consumed_at);
