-- An audit batch in one round trip (`writer.rs`), as `aecl_append_audit` of migration 009,
-- which also checks, under the head's lock and before writing, that the stored log ends
-- where the head does: its last record is the head's last (sequence number `p_size - 1`,
-- chain hash `p_head`), and an empty head has no record at all. A record removed from the
-- end of `audit_log`, or one written past it, by anything other than a committer is then
-- found by the next batch, which writes nothing and answers 'log_end' with the last record
-- it found (the committer stops appending for good, `log_end.rs`). Without the check the
-- batch would be numbered from the head, fill the hole, and the log would end where its
-- head does again while no longer verifying.
--
-- The check is one step down `audit_log`'s primary key. It is a statement of its own after
-- the lock: in READ COMMITTED each statement of a PL/pgSQL function reads what committed
-- before it, so it sees the records of a batch that held the lock while this one waited
-- (a subquery of the locking statement would read the log as it was before the wait).
--
-- Answers: 'appended'; 'other_head' when the head is not the one given (another instance
-- appended, or anyone changed it; nothing written, the committer checks that head in a
-- transaction of its own); 'log_end' with the stored last record's number and chain hash
-- (both null for an empty log). Called alone it is its own transaction; the committer also
-- calls it inside the transaction that already holds the head's lock. Migration 009's
-- function is kept for instances of the previous build still running during an upgrade.
CREATE FUNCTION aecl_append_audit_at_end(
    p_size BIGINT,
    p_head BYTEA,
    p_nodes BYTEA,
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
BEGIN
    PERFORM 1 FROM audit_head
    WHERE id = 1 AND size = p_size AND head = p_head AND nodes = p_nodes
    FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'other_head';
        RETURN;
    END IF;
    -- No row leaves both null.
    SELECT l.seq, l.chain_hash INTO last_seq, last_chain
    FROM audit_log l ORDER BY l.seq DESC LIMIT 1;
    IF last_seq IS DISTINCT FROM (CASE WHEN p_size > 0 THEN p_size - 1 END)
       OR last_chain IS DISTINCT FROM (CASE WHEN p_size > 0 THEN p_head END) THEN
        outcome := 'log_end';
        RETURN;
    END IF;
    INSERT INTO audit_log (seq, record, chain_hash)
    SELECT * FROM UNNEST(p_seqs, p_records, p_chain);
    INSERT INTO audit_checkpoints (size, note) VALUES (p_new_size, p_note);
    UPDATE audit_head SET size = p_new_size, head = p_new_head, nodes = p_new_nodes
    WHERE id = 1;
    outcome := 'appended';
    last_seq := NULL;
    last_chain := NULL;
END
$$;
