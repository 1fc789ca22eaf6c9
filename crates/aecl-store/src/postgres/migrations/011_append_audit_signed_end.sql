-- An audit batch in one round trip (`writer.rs`), as `aecl_append_audit_at_end` of
-- migration 010, which it calls, after one more check under the head's lock: the newest
-- stored checkpoint is the one the committer knows signed the head (`p_checkpoint`, the
-- note it wrote last or read when it checked the head; null for an empty log with none).
-- A newest checkpoint deleted or replaced by anything other than a committer is then found
-- by the next batch, which writes nothing and answers 'checkpoint' with the size of the
-- newest checkpoint it found (null when there is none); the committer stops appending for
-- good (`log_end.rs`). Without the check the batch's own checkpoint would cover the records
-- again and the deletion would not show: neither to the store nor to `aecl audit verify`.
--
-- The check is one step down `audit_checkpoints`' primary key, in a statement of its own
-- after the lock (see migration 010 on READ COMMITTED). Migration 010's function locks the
-- head row again, which this transaction already holds. Answers are migration 010's, and
-- 'checkpoint'. Migrations 009's and 010's functions are kept for instances of earlier
-- builds still running during an upgrade.
CREATE FUNCTION aecl_append_audit_signed_end(
    p_size BIGINT,
    p_head BYTEA,
    p_nodes BYTEA,
    p_checkpoint TEXT,
    p_seqs BIGINT[],
    p_records BYTEA[],
    p_chain BYTEA[],
    p_new_size BIGINT,
    p_note TEXT,
    p_new_head BYTEA,
    p_new_nodes BYTEA,
    OUT outcome TEXT,
    OUT last_seq BIGINT,
    OUT last_chain BYTEA
)
LANGUAGE plpgsql AS $$
DECLARE
    v_size BIGINT;
    v_note TEXT;
BEGIN
    PERFORM 1 FROM audit_head
    WHERE id = 1 AND size = p_size AND head = p_head AND nodes = p_nodes
    FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'other_head';
        RETURN;
    END IF;
    SELECT c.size, c.note INTO v_size, v_note
    FROM audit_checkpoints c ORDER BY c.size DESC LIMIT 1;
    IF v_note IS DISTINCT FROM p_checkpoint THEN
        outcome := 'checkpoint';
        last_seq := v_size;
        RETURN;
    END IF;
    SELECT a.outcome, a.last_seq, a.last_chain INTO outcome, last_seq, last_chain
    FROM aecl_append_audit_at_end(p_size, p_head, p_nodes, p_seqs, p_records, p_chain,
                                  p_new_size, p_note, p_new_head, p_new_nodes) a;
END
$$;
