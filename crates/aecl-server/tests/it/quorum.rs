//! The approval gate's rules beyond one click: a quorum of distinct people, the cool-down
//! of a rejected call, a request decided again when the policy changed under it (and no
//! request left pending for a call that has run), and the summary arguments in the list.
//!
//! These run on SQLite against a server of their own, whose engine the test keeps to
//! reload the policy as `aecl serve` does on SIGHUP.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use aecl_audit::SignerKey;
use aecl_engine::identity::Role;
use aecl_engine::{Engine, EngineConfig, Store as _, SystemClock};
use aecl_server::{AppState, ServerConfig};
use aecl_store::{AuditConfig, SqliteStore};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::support::{AUDIT_ORIGIN, Counting, agent, call, token, token_key};

/// The finance policy with `edit` applied to the text of its catalog.
pub(crate) fn finance_with(edit: impl Fn(String) -> String) -> Arc<aecl_core::Policy> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test_data/policies/finance");
    let mut files = Vec::new();
    let mut stack = vec![dir];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if aecl_policy::is_policy_file(&path) {
                let mut text = std::fs::read_to_string(&path).unwrap();
                if path.file_name().is_some_and(|n| n == "catalog.toml") {
                    text = edit(text);
                }
                files.push(aecl_policy::SourceFile { path: path.display().to_string(), text });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Arc::new(aecl_policy::load(&files).unwrap().policy)
}

/// Adds `lines` to `[actions.transfer_funds.approval]`.
pub(crate) fn transfer_approval(lines: &'static str) -> impl Fn(String) -> String {
    move |text: String| {
        text.replace(
            "[actions.transfer_funds.approval]\n",
            &format!("[actions.transfer_funds.approval]\n{lines}\n"),
        )
    }
}

pub(crate) struct Gate {
    pub base: String,
    engine: Arc<Engine<SqliteStore>>,
    pub executed: Arc<Counting>,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    _dir: tempfile::TempDir,
}

impl Gate {
    /// What `aecl audit verify` reads of the log's story (`aecl_engine::story`).
    pub async fn story(&self) -> Vec<aecl_engine::story::Finding> {
        let mut story = aecl_engine::story::Story::new();
        let records = self.engine.store().audit_records(0, usize::MAX).await.unwrap();
        records.iter().for_each(|(_, bytes, _)| story.read_canonical(bytes));
        story.finish()
    }
}

pub(crate) async fn gate(policy: Arc<aecl_core::Policy>) -> Gate {
    let dir = tempfile::TempDir::new().unwrap();
    let audit = AuditConfig {
        origin: AUDIT_ORIGIN.to_owned(),
        signer: SignerKey::from_seed(AUDIT_ORIGIN, [0x42; 32]).unwrap(),
        publish: None,
    };
    let grant_key = audit.signer.clone();
    let store = SqliteStore::open(&dir.path().join("aecl.db"), audit).unwrap();
    let clock: Arc<dyn aecl_engine::Clock> = Arc::new(SystemClock);
    let config = EngineConfig { grant_key: Some(grant_key), ..EngineConfig::default() };
    let engine = Arc::new(Engine::new(Arc::new(store), policy, clock.clone(), config));
    engine.recover().await.unwrap();
    let executed = Arc::new(Counting::default());
    let server_config =
        ServerConfig { audit_key: AUDIT_ORIGIN.to_owned(), ..ServerConfig::default() };
    let state = AppState::new(
        engine.clone(),
        token_key().verifier(),
        clock,
        executed.clone(),
        server_config,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(aecl_server::serve(listener, Arc::new(state), std::future::pending()));
    let client = Client::builder(TokioExecutor::new()).build_http();
    Gate { base, engine, executed, client, _dir: dir }
}

impl Gate {
    async fn send(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {token}"));
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let bytes = body.map(Value::to_string).unwrap_or_default();
        let response = self
            .client
            .request(request.body(Full::new(Bytes::from(bytes))).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// The agent's transfer of `amount` as call `id` of run `r1`.
    async fn pay(&self, id: &str, amount: u64) -> Value {
        let args = json!({"vendor": "V-100", "iban": "DE89370400440532013000", "amount": amount, "currency": "EUR"});
        let (status, body) = self
            .send("POST", "/v1/execute", &agent(), Some(&call("r1", id, "transfer_funds", args)))
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn approve(&self, id: &str, who: &str) -> (u16, Value) {
        let by = token(who, Role::Approver);
        self.send("POST", &format!("/v1/approvals/{id}/approve"), &by, Some(&json!({}))).await
    }

    async fn pending(&self) -> Vec<Value> {
        let (status, list) =
            self.send("GET", "/v1/approvals", &token("root", Role::Admin), None).await;
        assert_eq!(status, 200, "{list}");
        list.as_array().cloned().unwrap_or_default()
    }

    fn ran(&self) -> usize {
        self.executed.0.load(Ordering::SeqCst)
    }
}

fn rules(answer: &Value) -> Vec<String> {
    answer["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["rule"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quorum_needs_two_distinct_people_never_the_agent_and_no_standing_grant() {
    let policy = finance_with(|text| {
        transfer_approval("approvals_required = 2")(text).replace(
            "[actions.transfer_funds.args.vendor]",
            "summary = [\"amount\", \"iban\"]\n\n[actions.transfer_funds.args.vendor]",
        )
    });
    let gate = gate(policy).await;
    let asked = gate.pay("c1", 1200).await;
    assert_eq!(asked["decision"], "require_approval", "{asked}");
    let id = asked["approval_id"].as_str().unwrap().to_owned();

    // The list shows what matters and how many approvers are needed.
    let listed = gate.pending().await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["approvals_required"], 2);
    assert_eq!(
        listed[0]["summary"],
        json!([{"arg": "amount", "values": [1200]}, {"arg": "iban", "values": ["DE89370400440532013000"]}])
    );

    let (status, first) = gate.approve(&id, "alice").await;
    assert_eq!((status, first["outcome"].as_str()), (200, Some("counted")), "{first}");
    assert_eq!(first["approval"]["status"], "pending");
    assert_eq!(first["approval"]["approvals"], json!(["alice"]));
    assert!(first["grant_id"].is_null());
    // The same person again, through another token and another spelling: refused.
    let (again, body) = gate.approve(&id, " ALICE").await;
    assert_eq!(again, 409, "{body}");
    // The agent's own identity never counts, however spelt.
    let (own, body) = gate.approve(&id, "Finance_Agent").await;
    assert_eq!(own, 403, "{body}");
    // Below quorum the call does not run, and nobody else is asked.
    let early = gate.pay("c2", 1200).await;
    assert_eq!(early["decision"], "require_approval", "{early}");
    assert_eq!(early["approval_id"], id.as_str());
    assert_eq!(gate.ran(), 0);

    let (status, second) = gate.approve(&id, "bob").await;
    assert_eq!((status, second["outcome"].as_str()), (200, Some("granted")), "{second}");
    assert_eq!(second["approval"]["decided_by"], "alice, bob");
    let done = gate.pay("c3", 1200).await;
    assert_eq!(done["decision"], "allow", "{done}");
    assert_eq!(gate.ran(), 1);

    // The log tells the quorum as it happened: `aecl audit verify`'s story finds nothing.
    assert_eq!(gate.story().await, Vec::new());

    // A vote written into the store by hand (round 21, audit F4): alice's one approval
    // completes a quorum of "bob, alice", the call runs, and the log shows bob never voted.
    let forged = gate.pay("c4", 1300).await;
    let forged_id = forged["approval_id"].as_str().unwrap().to_owned();
    assert!(gate.engine.store().record_vote(&forged_id, None, r#"["bob"]"#).await.unwrap());
    let (status, answer) = gate.approve(&forged_id, "alice").await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("granted")), "{answer}");
    assert_eq!(gate.pay("c5", 1300).await["decision"], "allow");
    let findings = gate.story().await;
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(findings[0].message.contains("counts `bob`"), "{findings:?}");

    // A stored list naming one person twice, or the agent, counts each person once and
    // never the agent (round 21, second pass, N1): alice's approval is the first vote.
    let padded = gate.pay("c6", 1400).await;
    let padded_id = padded["approval_id"].as_str().unwrap().to_owned();
    let votes = r#"["finance_agent", "Finance_Agent", "FINANCE_AGENT"]"#;
    assert!(gate.engine.store().record_vote(&padded_id, None, votes).await.unwrap());
    let (status, answer) = gate.approve(&padded_id, "alice").await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("counted")), "{answer}");
    assert_eq!(answer["approval"]["approvals"], json!(["alice"]), "{answer}");

    // One person's standing grant cannot stand in for the quorum.
    let grant = json!({"agent": "finance_agent", "action": "transfer_funds",
        "args": {"iban": {"equals": "DE89370400440532013000"}}, "max_uses": 5,
        "ttl_seconds": 600, "reason": "vendor run"});
    let (refused, body) = gate
        .send("POST", "/v1/standing-grants", &token("alice", Role::Approver), Some(&grant))
        .await;
    assert_eq!(refused, 400, "{body}");
    assert!(body.to_string().contains("approvers"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_call_resubmitted_is_answered_rejected_for_the_cooldown_only() {
    let gate = gate(finance_with(transfer_approval("rejected_cooldown = \"2s\""))).await;
    let asked = gate.pay("c1", 1200).await;
    let id = asked["approval_id"].as_str().unwrap().to_owned();
    let bob = token("bob", Role::Approver);
    let (status, _) = gate
        .send(
            "POST",
            &format!("/v1/approvals/{id}/reject"),
            &bob,
            Some(&json!({"reason": "unknown vendor"})),
        )
        .await;
    assert_eq!(status, 200);

    // A loop of the same call: each answered `rejected` with the first reason, no request.
    for n in 0..5 {
        let again = gate.pay(&format!("loop{n}"), 1200).await;
        assert_eq!(again["decision"], "block", "{again}");
        assert!(rules(&again).contains(&"approval.rejected".to_owned()), "{again}");
        assert!(again.to_string().contains("unknown vendor"), "{again}");
        assert_eq!(again["approval_id"], id.as_str());
    }
    assert!(gate.pending().await.is_empty(), "nobody was asked again");
    // Another amount is another call: it asks.
    let other = gate.pay("c2", 1100).await;
    assert_eq!(other["decision"], "require_approval", "{other}");
    // Past the cool-down, the same call asks again.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let later = gate.pay("c3", 1200).await;
    assert_eq!(later["decision"], "require_approval", "{later}");
    assert_ne!(later["approval_id"], id.as_str());
    assert_eq!(gate.ran(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_under_an_older_policy_is_decided_again_and_never_left_pending() {
    let gate = gate(finance_with(|t| t)).await;
    let first = gate.pay("c1", 1200).await;
    let old = first["approval_id"].as_str().unwrap().to_owned();

    // The policy changes (still needing approval): the agent's retry waits on a request
    // of the new revision.
    gate.engine.set_policy(finance_with(|t| t.replace("Move money to", "Send money to")));
    let retry = gate.pay("c2", 1200).await;
    assert_eq!(retry["decision"], "require_approval", "{retry}");
    let new = retry["approval_id"].as_str().unwrap().to_owned();
    assert_ne!(new, old);

    // Asking again closed the older question: the latest request is the one answered.
    let (status, stale) = gate.approve(&old, "alice").await;
    assert_eq!(status, 409, "{stale}");
    assert!(stale.to_string().contains("no longer pending"), "{stale}");
    let (status, approved) = gate.approve(&new, "alice").await;
    assert_eq!((status, approved["outcome"].as_str()), (200, Some("granted")), "{approved}");
    let done = gate.pay("c3", 1200).await;
    assert_eq!(done["decision"], "allow", "{done}");
    assert_eq!(gate.ran(), 1);
    assert!(gate.pending().await.is_empty(), "no request stays pending for a call that ran");

    // A request whose policy changed with nobody asking again: approving it decides the
    // call again; still approvable, so the grant is bound to the revision in force.
    let asked = gate.pay("c3b", 800).await;
    let id = asked["approval_id"].as_str().unwrap().to_owned();
    gate.engine.set_policy(finance_with(|t| t.replace("Move money to", "Wire money to")));
    let (status, approved) = gate.approve(&id, "alice").await;
    assert_eq!((status, approved["outcome"].as_str()), (200, Some("granted")), "{approved}");
    assert_eq!(approved["redecided"]["decision"], "require_approval", "{approved}");
    let done = gate.pay("c3c", 800).await;
    assert_eq!(done["decision"], "allow", "{done}");
    assert_eq!(gate.ran(), 2);

    // A policy that now blocks the call: approving closes the request, promises nothing.
    let asked = gate.pay("c4", 900).await;
    let id = asked["approval_id"].as_str().unwrap().to_owned();
    gate.engine.set_policy(finance_with(|t| t.replace("max = 1000000", "max = 500")));
    let (status, blocked) = gate.approve(&id, "alice").await;
    assert_eq!((status, blocked["outcome"].as_str()), (200, Some("blocked")), "{blocked}");
    assert!(blocked["grant_id"].is_null());
    assert_eq!(blocked["approval"]["status"], "expired");
    let after = gate.pay("c5", 900).await;
    assert_eq!(after["decision"], "block", "{after}");
    assert_eq!(gate.ran(), 2);
    assert!(gate.pending().await.is_empty());
}
