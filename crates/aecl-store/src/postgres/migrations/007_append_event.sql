-- The commonest run commit in one round trip: a run's next event with nothing to admit, no
-- grant to spend and no effect to record (a decision, a refusal, a read's decision). The
-- same steps as `runs::commit_run_event`'s transaction, in the same order: the run's row
-- locked (made first for a new run, as `lock_run` does), its version compared, the call's
-- id checked against the run's executed calls, then the event appended and the version
-- moved on. In READ COMMITTED each statement of a PL/pgSQL function reads what committed
-- before it, as each statement of that transaction does. A refusal writes nothing: a run's
-- row made by this call is removed again, as that transaction's rollback would.
--
-- Called alone (`SELECT ... FROM aecl_append_event(...)`), it is its own transaction;
-- `p_ordered` makes that transaction commit asynchronously, as `SET LOCAL
-- synchronous_commit TO off` does for the other commits (`runs::ordered`).
CREATE FUNCTION aecl_append_event(
    p_run TEXT,
    p_agent TEXT,
    p_expected BIGINT,
    p_event TEXT,
    p_call_id TEXT,
    p_ordered BOOLEAN
) RETURNS TABLE (outcome TEXT, effect_id TEXT, digest TEXT)
LANGUAGE plpgsql AS $$
DECLARE
    current_version BIGINT;
    taken_id TEXT;
    taken_digest TEXT;
    made BOOLEAN := false;
BEGIN
    IF p_ordered THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    SELECT r.version INTO current_version FROM runs r WHERE r.run = p_run FOR UPDATE;
    IF NOT FOUND AND p_expected = 0 THEN
        -- A new run. Two instances making it at once: the second insert waits for the
        -- first transaction and then does nothing, and the select sees the first's version.
        INSERT INTO runs (run, agent, version) VALUES (p_run, p_agent, 0)
        ON CONFLICT (run) DO NOTHING;
        made := FOUND;
        SELECT r.version INTO STRICT current_version FROM runs r WHERE r.run = p_run FOR UPDATE;
    END IF;
    IF current_version IS NULL OR current_version <> p_expected THEN
        RETURN QUERY SELECT 'conflict'::TEXT, NULL::TEXT, NULL::TEXT;
        RETURN;
    END IF;
    IF p_call_id IS NOT NULL THEN
        SELECT e.id, e.call_digest INTO taken_id, taken_digest
        FROM effects e WHERE e.run = p_run AND e.call_id = p_call_id;
        IF FOUND THEN
            IF made THEN
                DELETE FROM runs WHERE run = p_run;
            END IF;
            RETURN QUERY SELECT 'call_id_taken'::TEXT, taken_id, taken_digest;
            RETURN;
        END IF;
    END IF;
    INSERT INTO run_events (run, version, event) VALUES (p_run, p_expected + 1, p_event);
    UPDATE runs SET version = p_expected + 1 WHERE run = p_run;
    RETURN QUERY SELECT 'appended'::TEXT, NULL::TEXT, NULL::TEXT;
END
$$;
