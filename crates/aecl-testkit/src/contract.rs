//! The store contract: every guarantee the engine relies on from the `Store` port, as one
//! async function per guarantee, checked the same way on every backend. A backend's test
//! binary runs the whole list with [`store_contract!`](crate::store_contract): memory in
//! this crate's tests, SQLite and PostgreSQL in `aecl-store`'s.

pub mod answers;
pub mod approvals;
pub mod audit;
pub mod credentials;
pub mod effects;
pub mod grants;
pub mod runs;

use aecl_audit::AuditRecord;
use aecl_core::{CallDigest, Timestamp};
use aecl_engine::{
    Admission, CallEnd, Durability, EffectEnd, EffectState, NewEffect, RunCommit, RunEvent,
};
use serde_json::json;

/// One `#[tokio::test]` per case of the contract, each on a fresh store from `$open`, an
/// expression (evaluated once per test) whose future gives `(store, guard)`: the guard
/// (a temporary directory, say) lives as long as the test. Every backend runs this one
/// list, so a case added here runs on all of them.
#[macro_export]
macro_rules! store_contract {
    ($open:expr) => {
        $crate::store_contract!(@cases $open;
            runs::run_events_append_only_at_the_version_decided_on,
            runs::a_rate_limit_refusal_writes_nothing,
            runs::concurrency_slots_are_held_released_and_expire,
            runs::a_commits_audit_record_is_appended_only_with_its_event,
            runs::a_calls_end_is_written_whole_or_not_at_all,
            runs::a_reads_decision_and_end_commit_together_or_not_at_all,
            runs::an_executed_calls_id_refuses_a_commit_that_reuses_it,
            runs::a_runs_agent_is_its_first_commits,
            runs::a_refused_first_commit_leaves_no_run,
            runs::a_commit_whose_effect_collides_writes_nothing,
            runs::slots_are_released_by_their_holder_only,
            runs::an_ordered_write_is_seen_at_once_by_reads_and_later_writes,
            runs::commits_racing_at_one_version_append_once,
            runs::commits_of_many_runs_at_once_each_get_their_own_answer,
            credentials::checks_made_at_once_each_find_their_own_revoked_credential,
            effects::the_effect_ledger_moves_forward_only,
            effects::an_idempotency_key_makes_one_effect,
            effects::recovery_marks_what_was_in_flight,
            effects::a_runs_effects_are_listed_oldest_first,
            effects::an_effect_may_end_before_dispatch,
            effects::unresolved_effects_are_paged_by_id,
            effects::a_reconciliation_is_written_once,
            grants::a_nonce_is_spent_once,
            grants::a_grant_is_spent_once_by_the_exact_call,
            grants::a_grant_is_spent_in_the_transaction_that_dispatches_its_call,
            grants::a_grant_is_spent_by_the_commit_that_records_its_call,
            grants::the_last_spent_grant_is_found_with_its_time,
            grants::standing_grants_count_uses_and_end,
            grants::a_standing_grant_is_stored_unused,
            approvals::approvals_resolve_once,
            approvals::approvals_are_listed_newest_first,
            approvals::a_vote_is_written_over_the_votes_it_was_counted_with,
            approvals::rejections_are_found_by_their_call,
            answers::filing_a_request_voids_its_calls_grants_and_closes_the_older_question,
            answers::an_answer_voids_its_calls_other_grants_and_writes_its_own,
            answers::a_voided_grant_is_never_spent,
            audit::concurrent_audit_appends_make_one_verifiable_log,
            audit::every_writer_appends_to_one_verifiable_log,
            audit::a_working_store_is_healthy,
            audit::the_newest_checkpoint_is_the_last_and_answered_writes_leave_no_queue,
            credentials::a_revoked_credential_is_found_among_a_requests_ids,
        );
    };
    (@cases $open:expr; $($module:ident :: $name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let (store, _guard) = $open.await;
                $crate::contract::$module::$name(&store).await;
            }
        )*
    };
}

pub(crate) fn user(text: &str) -> RunEvent {
    RunEvent::User { text: text.to_owned() }
}

pub(crate) fn commit(run: &str, expected: u64, admission: Vec<Admission>) -> RunCommit {
    RunCommit {
        run: run.to_owned(),
        agent: "finance".to_owned(),
        expected_version: expected,
        event: user(&format!("event at {expected}")),
        admission,
        effect: None,
        audit: None,
        grant: None,
        call_id: None,
        durability: Durability::Synced,
        end: None,
    }
}

pub(crate) fn new_effect(id: &str, call_id: &str, key: Option<&str>, node: &str) -> NewEffect {
    NewEffect {
        id: id.to_owned(),
        run: "r1".to_owned(),
        call_id: call_id.to_owned(),
        agent: "finance".to_owned(),
        action: "send_webhook".to_owned(),
        idempotency_key: key.map(str::to_owned),
        call_digest: CallDigest("ab".repeat(32)),
        node: node.to_owned(),
        created: Timestamp(1_000),
        dispatched: false,
    }
}

pub(crate) fn end(state: EffectState) -> EffectEnd {
    EffectEnd {
        state,
        result: json!({"status": 200}),
        error: None,
        rollback_token: Some("undo-1".into()),
        rollback_seal: Some("seal-1".into()),
        at: Timestamp(2_000),
    }
}

/// The successful end of effect `e1` of call `c1` in run `r1`: `events` after the run's
/// last, and `audit` as its outcome record.
pub(crate) fn call_end(
    events: Vec<RunEvent>,
    audit: AuditRecord,
    durability: Durability,
) -> CallEnd {
    CallEnd {
        run: "r1".into(),
        agent: "finance".into(),
        events,
        effect_id: "e1".into(),
        end: end(EffectState::Succeeded),
        slot_holder: "r1/c1".into(),
        audit,
        durability,
    }
}
