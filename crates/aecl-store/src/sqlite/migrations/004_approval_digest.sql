-- A retried call waits on its pending request, found by the call's digest.
CREATE INDEX approvals_call_digest ON approvals (call_digest, status);
