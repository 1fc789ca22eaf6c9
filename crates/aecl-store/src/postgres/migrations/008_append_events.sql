-- Plain appends of several runs in one round trip (`batch.rs`, `runs::append_events`):
-- each item is `aecl_append_event`'s commit (migration 007) with its own outcome, all in one
-- transaction. The items come sorted by run, so two batches (two instances) lock their
-- runs' rows in one order and never wait on each other in a cycle. `p_ordered` (every item
-- ordered) makes the transaction commit asynchronously; one item that must be synced syncs
-- the batch. An error in any item rolls the whole batch back: nothing of it is written.
CREATE FUNCTION aecl_append_events(
    p_runs TEXT[],
    p_agents TEXT[],
    p_expected BIGINT[],
    p_events TEXT[],
    p_call_ids TEXT[],
    p_ordered BOOLEAN
) RETURNS TABLE (item INT, item_outcome TEXT, item_effect_id TEXT, item_digest TEXT)
LANGUAGE plpgsql AS $$
BEGIN
    IF p_ordered THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    FOR i IN 1 .. coalesce(array_length(p_runs, 1), 0) LOOP
        RETURN QUERY
            SELECT i, a.outcome, a.effect_id, a.digest
            FROM aecl_append_event(p_runs[i], p_agents[i], p_expected[i], p_events[i],
                                   p_call_ids[i], false) a;
    END LOOP;
END
$$;
