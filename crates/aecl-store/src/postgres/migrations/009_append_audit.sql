-- An audit batch in one round trip (`writer.rs`) when the stored head is still the one
-- the committer last committed: the head row is locked and compared with it, then the
-- batch's records, its signed checkpoint and the new head are written, in the function's
-- own transaction (committed synchronously, as the committer's transaction is). When the
-- head is another (an instance appended since, or anyone changed it), nothing is written
-- and the answer is false: the committer then locks and checks the head in a transaction
-- of its own, as it does for every head it did not leave. In READ COMMITTED a head changed
-- while this waited for its lock is compared as it is after that change.
CREATE FUNCTION aecl_append_audit(
    p_size BIGINT,
    p_head BYTEA,
    p_nodes BYTEA,
    p_seqs BIGINT[],
    p_records BYTEA[],
    p_chain BYTEA[],
    p_new_size BIGINT,
    p_note TEXT,
    p_new_head BYTEA,
    p_new_nodes BYTEA
) RETURNS BOOLEAN
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM audit_head
    WHERE id = 1 AND size = p_size AND head = p_head AND nodes = p_nodes
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO audit_log (seq, record, chain_hash)
    SELECT * FROM UNNEST(p_seqs, p_records, p_chain);
    INSERT INTO audit_checkpoints (size, note) VALUES (p_new_size, p_note);
    UPDATE audit_head SET size = p_new_size, head = p_new_head, nodes = p_new_nodes
    WHERE id = 1;
    RETURN true;
END
$$;
