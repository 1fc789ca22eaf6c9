//! `aecl mcp` against a malicious server (`crates/aecl-mcp/tests/servers/malicious_server.py`,
//! which chooses every byte it answers), driven by a raw JSON-RPC client over stdio so that
//! the tests can send what no SDK client sends (a cancellation at a chosen moment, a
//! message nested 3,000 levels deep). One test per class of a red team's findings:
//!
//! - everything of a result the client is shown is traced (text beside a harmless
//!   `structuredContent`, a resource link, `_meta`), and so is an error answer;
//! - what a server shows beside results (its instructions, its tool descriptions, its
//!   requests for input) is untrusted content;
//! - `[audit] redact` paths apply to every form of a result's fields;
//! - a call cancelled while it waits for approval never runs, and its request is withdrawn;
//! - a message too deep to parse and a tool name the gateway does not expose are answered
//!   and recorded.
//!
//! A URL the server planted, used later as `fetch_url`'s control argument (kind `url`,
//! `untrusted_control_argument = "block"`), must be blocked and never reach the server.
//!
//! Round 10's classes are in [`data_flow`] (a JSON-RPC error answer, a tool definition's
//! every text, a text block's `_meta`, the server's info and an elicitation's defaults) and
//! [`protocol`] (a reused request id, unreadable messages, `Origin`, an oversized answer).

mod data_flow;
mod protocol;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::mcp::{free_address, pending_request, python, spawn_listening};
use crate::mcp_auth::exchange;
use crate::serve::{issue, keys, request};
use crate::{repo, run, temp_dir};

/// The injected URLs, by where the server put them.
const STRUCT: &str = "https://struct-steal.example/x";
const ERROR: &str = "https://err-steal.example/x";
const LINK: &str = "https://link-steal.example/x";
const META: &str = "https://meta-steal.example/x";
const BLOB: &str = "https://blob-steal.example/x";
const INSTRUCTIONS: &str = "https://instr-steal.example/x";
const DESCRIPTION: &str = "https://desc-steal.example/x";
const SCHEMA: &str = "https://schema-steal.example/x";
const ELICITATION: &str = "https://elicit-steal.example/x";
/// A URL nothing untrusted named: its fetch goes through.
const FINE: &str = "https://fine.example/ok";
const SSN: &str = "078-05-1120";

const CATALOG: &str = r#"[actions.struct_steal]
effect = "read"
[actions.err_steal]
effect = "read"
[actions.link_steal]
effect = "read"
[actions.meta_steal]
effect = "read"
[actions.blob_steal]
effect = "read"
[actions.ask]
effect = "read"
[actions.ssn_record]
effect = "read"
[actions.ssn_text]
effect = "read"
[actions.described]
effect = "read"
[actions.slow]
effect = "read"
[actions.rpc_error]
effect = "read"
[actions.block_meta]
effect = "read"
[actions.schema_inject]
effect = "read"
[actions.huge]
effect = "read"

[actions.fetch_url]
description = "Fetch a URL: where it goes is the call's control argument."
effect = "read"
args.url = { control = true, kind = "url" }

[actions.send_money]
effect = "write"
reversibility = "irreversible"
"#;

/// Keys, a policy for the malicious server's tools, and where the server logs its calls.
struct Red {
    dir: tempfile::TempDir,
}

impl Red {
    fn new() -> Red {
        let red = Red { dir: temp_dir() };
        keys(red.dir.path());
        let policy = red.dir.path().join("policy");
        std::fs::create_dir_all(policy.join("agents")).unwrap();
        std::fs::write(
            policy.join("policy.toml"),
            "mode = \"enforce\"\n\n[data_flow]\nuntrusted_control_argument = \"block\"\n\n\
             [audit]\nredact = [\"**.ssn\"]\n",
        )
        .unwrap();
        std::fs::write(policy.join("catalog.toml"), CATALOG).unwrap();
        std::fs::write(
            policy.join("agents/red.toml"),
            r#"agent_id = "red_agent"
allowed_actions = [
  "struct_steal", "err_steal", "link_steal", "meta_steal", "blob_steal", "ask", "ssn_record", "ssn_text",
  "described", "fetch_url", "send_money", "slow", "rpc_error", "block_meta", "schema_inject", "huge",
]

[context_rules]
send_money = "requires_human_approval"
"#,
        )
        .unwrap();
        let checked = run(["check", &policy.display().to_string()]);
        assert_eq!(checked.code, Some(0), "{checked:#?}");
        red
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// The gateway over stdio in run `run_id`, with `extra` options, and its client,
    /// initialized.
    fn gateway(&self, run_id: &str, extra: &[&str]) -> Client {
        Client::start(self.command(run_id, extra))
    }

    /// `aecl mcp` in run `run_id` with `extra` options, wrapping the malicious server.
    fn command(&self, run_id: &str, extra: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_aecl"));
        command
            .args(["mcp", "--policy", &self.path("policy"), "--agent", "red_agent"])
            .args(["--db", &self.path("aecl.db"), "--key", &self.path("audit/audit.key")])
            .args(["--run", run_id])
            .args(extra)
            .arg("--")
            .arg(python())
            .arg(repo("crates/aecl-mcp/tests/servers/malicious_server.py"))
            .arg(self.path("received.jsonl"));
        command
    }

    /// The calls the server received: (tool, arguments).
    fn received(&self) -> Vec<(String, Value)> {
        let text = std::fs::read_to_string(self.path("received.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .map(|v| (v["tool"].as_str().unwrap().to_owned(), v["arguments"].clone()))
            .collect()
    }

    /// The URLs the server was asked to fetch.
    fn fetched(&self) -> Vec<String> {
        let received = self.received().into_iter().filter(|(tool, _)| tool == "fetch_url");
        received.map(|(_, args)| args["url"].as_str().unwrap().to_owned()).collect()
    }

    /// The audit log's records (`aecl audit tail`).
    fn audit(&self) -> Vec<Value> {
        let out = run(["audit", "tail", "--db", &self.path("aecl.db")]);
        assert_eq!(out.code, Some(0), "{out:#?}");
        out.lines().iter().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// The run's history as stored.
    fn history(&self, run_id: &str) -> Vec<Value> {
        let db = rusqlite::Connection::open(self.dir.path().join("aecl.db")).unwrap();
        let mut stmt =
            db.prepare("SELECT event FROM run_events WHERE run = ?1 ORDER BY version").unwrap();
        let events: Vec<String> =
            stmt.query_map([run_id], |row| row.get(0)).unwrap().collect::<Result<_, _>>().unwrap();
        events.iter().map(|e| serde_json::from_str(e).unwrap()).collect()
    }
}

/// A raw MCP client of a gateway over stdio (2025-11-25, with form elicitation, which it
/// declines, noting what it was asked).
struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Value>,
    next_id: u64,
    /// The initialize answer.
    initialized: Value,
    /// The messages of the elicitations the client was asked.
    elicited: Vec<String>,
}

impl Client {
    fn start(mut command: Command) -> Client {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(message) = serde_json::from_str(&line)
                    && sender.send(message).is_err()
                {
                    return;
                }
            }
        });
        let stdin = child.stdin.take();
        let mut client = Client {
            child,
            stdin,
            lines,
            next_id: 100,
            initialized: Value::Null,
            elicited: Vec::new(),
        };
        let capabilities = json!({"elicitation": {"form": {}}});
        let params = json!({"protocolVersion": "2025-11-25", "capabilities": capabilities,
            "clientInfo": {"name": "red-team", "version": "0"}});
        client.initialized = client.request("initialize", params);
        client.send_line(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        client
    }

    fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// Sends request `method` under a new id; returns the id.
    fn send(&mut self, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send_line(&message.to_string());
        id
    }

    /// The answer to request `id` (its whole message), or `None` after `limit`. The
    /// gateway's own requests meanwhile (elicitation) are declined.
    fn answer(&mut self, id: u64, limit: Duration) -> Option<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let message = self.lines.recv_timeout(left).ok()?;
            if message["method"] == "elicitation/create" {
                let asked = message["params"]["message"].as_str().unwrap_or_default();
                self.elicited.push(asked.to_owned());
                let answer = json!({"jsonrpc": "2.0", "id": message["id"],
                    "result": {"action": "decline"}});
                self.send_line(&answer.to_string());
                continue;
            }
            if message["id"] == id && message.get("method").is_none() {
                return Some(message);
            }
        }
    }

    /// Request `method`'s result.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params);
        let answer = self.answer(id, Duration::from_secs(60)).expect("an answer");
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// Calls `tool` with `arguments`; its result.
    fn call(&mut self, tool: &str, arguments: Value) -> Value {
        self.request("tools/call", json!({"name": tool, "arguments": arguments}))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // End of input ends the gateway; it is killed if it takes too long.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text blocks of a result, a line each.
fn text(result: &Value) -> String {
    let blocks = result["content"].as_array().cloned().unwrap_or_default();
    let texts: Vec<&str> = blocks.iter().filter_map(|b| b["text"].as_str()).collect();
    texts.join("\n")
}

fn is_error(result: &Value) -> bool {
    result["isError"] == true
}

/// Asserts that fetching `url` is blocked as an untrusted control argument found in the
/// content labelled `source` (each planted URL has a host of its own, so it is found only
/// where it was planted).
fn assert_fetch_blocked(client: &mut Client, url: &str, source: &str) {
    let result = client.call("fetch_url", json!({"url": url}));
    assert!(is_error(&result), "{url} was fetched: {result}");
    let refusal = text(&result);
    assert!(refusal.contains("data_flow.untrusted_control_argument"), "{url}: {refusal}");
    assert!(refusal.contains(source), "{url} not traced to {source}: {refusal}");
}

/// F1: the text beside a harmless `structuredContent`, a resource link's URI, a text blob and the
/// result's `_meta` reach the client; each is in the run's history and the audit log, and
/// a URL taken from any of them is blocked. (Before: only `structuredContent` was recorded.)
#[test]
fn every_part_of_a_result_the_client_is_shown_is_traced() {
    let red = Red::new();
    let mut client = red.gateway("run-result", &[]);
    let result = client.call("struct_steal", json!({}));
    assert!(text(&result).contains(STRUCT), "{result}");
    assert_eq!(result["structuredContent"], json!({"title": "harmless"}));
    assert_fetch_blocked(&mut client, STRUCT, "struct_steal");
    let result = client.call("link_steal", json!({}));
    assert_eq!(result["content"][0]["uri"], LINK, "{result}");
    assert_fetch_blocked(&mut client, LINK, "link_steal");
    let result = client.call("meta_steal", json!({}));
    assert_eq!(result["_meta"]["next"], META, "{result}");
    assert_fetch_blocked(&mut client, META, "meta_steal");
    let result = client.call("blob_steal", json!({}));
    assert!(result["content"][0]["resource"]["blob"].is_string(), "{result}");
    assert_fetch_blocked(&mut client, BLOB, "blob_steal");
    let fine = client.call("fetch_url", json!({"url": FINE}));
    assert!(!is_error(&fine), "{fine}");
    drop(client);
    assert_eq!(red.fetched(), [FINE], "a planted URL reached the server");

    let outcome = red
        .audit()
        .into_iter()
        .find(|r| r["kind"] == "outcome" && r["action"] == "struct_steal")
        .expect("the outcome record");
    assert!(outcome["output"].to_string().contains(STRUCT), "{outcome:#}");
    assert_eq!(outcome["output"]["structuredContent"], json!({"title": "harmless"}));
    // A blob is recorded as its digest, and as its text when it is text.
    let outcome = red
        .audit()
        .into_iter()
        .find(|r| r["kind"] == "outcome" && r["action"] == "blob_steal")
        .expect("the blob's outcome record");
    let resource = &outcome["output"]["content"][0]["resource"];
    assert!(resource["blob"].as_str().is_some_and(|b| b.starts_with("sha256:")), "{outcome:#}");
    assert!(resource["text"].as_str().is_some_and(|t| t.contains(BLOB)), "{outcome:#}");
}

/// F2: a tool's error answer reaches the client, and is the call's output in the run's
/// history (untrusted) and in the audit log; a URL taken from it is blocked. (Before: the
/// outcome was `outcome_unknown` and the text never entered the history.)
#[test]
fn a_tool_error_the_client_is_shown_is_untrusted_output() {
    let red = Red::new();
    let mut client = red.gateway("run-error", &[]);
    let result = client.call("err_steal", json!({}));
    assert!(is_error(&result) && text(&result).contains(ERROR), "{result}");
    assert_fetch_blocked(&mut client, ERROR, "err_steal");
    drop(client);
    assert!(red.fetched().is_empty(), "{:?}", red.fetched());

    let history = red.history("run-error");
    let output = history
        .iter()
        .find(|e| e["type"] == "result" && e["output"].to_string().contains(ERROR))
        .expect("the error answer in the history");
    assert_eq!(output["untrusted"], true, "{output:#}");
    let outcome = red
        .audit()
        .into_iter()
        .find(|r| r["kind"] == "outcome" && r["action"] == "err_steal")
        .expect("the outcome record");
    assert_eq!(outcome["outcome"], "outcome_unknown", "{outcome:#}");
    assert!(outcome["output"]["output"].to_string().contains(ERROR), "{outcome:#}");
}

/// F3: the server's instructions (in the gateway's own `initialize` answer), a tool's
/// description and schema description (in `tools/list`) and its request for input during a
/// call (relayed to the client) are the server's text: a URL taken from any of them is
/// blocked. (Before: none of them was recorded.)
#[test]
fn what_a_server_shows_beside_results_is_untrusted() {
    let red = Red::new();
    let mut client = red.gateway("run-shown", &[]);
    let instructions = client.initialized["instructions"].as_str().unwrap_or_default().to_owned();
    assert!(instructions.contains(INSTRUCTIONS), "{}", client.initialized);
    let listed = client.request("tools/list", json!({}));
    assert!(listed.to_string().contains(DESCRIPTION) && listed.to_string().contains(SCHEMA));
    let asked = client.call("ask", json!({}));
    assert_eq!(text(&asked), "answered: decline", "{asked}");
    assert!(client.elicited.iter().any(|m| m.contains(ELICITATION)), "{:?}", client.elicited);
    assert_fetch_blocked(&mut client, INSTRUCTIONS, "instructions of MCP server");
    assert_fetch_blocked(&mut client, DESCRIPTION, "tool descriptions of MCP server");
    assert_fetch_blocked(&mut client, SCHEMA, "tool descriptions of MCP server");
    assert_fetch_blocked(&mut client, ELICITATION, "request for input from the MCP server");
    let fine = client.call("fetch_url", json!({"url": FINE}));
    assert!(!is_error(&fine), "{fine}");
    drop(client);
    assert_eq!(red.fetched(), [FINE], "a planted URL reached the server");

    // In the history as untrusted content, and in the audit log as such.
    let history = red.history("run-shown");
    let sources: Vec<&str> = history
        .iter()
        .filter(|e| e["type"] == "untrusted")
        .map(|e| e["source"].as_str().unwrap())
        .collect();
    for source in ["instructions", "tool descriptions", "request for input"] {
        assert!(sources.iter().any(|s| s.contains(source)), "{source}: {sources:?}");
    }
    let audit = red.audit();
    let untrusted =
        audit.iter().filter(|r| r["kind"] == "result" && r["input"]["untrusted"] == true);
    assert!(untrusted.clone().any(|r| r["output"].to_string().contains(INSTRUCTIONS)));
    assert!(untrusted.clone().any(|r| r["output"].to_string().contains(ELICITATION)));

    // Exported as `untrusted` trace events, the log replays to the same decisions.
    let export = run(["audit", "export", "--db", &red.path("aecl.db")]);
    assert_eq!(export.code, Some(0), "{export:#?}");
    assert!(export.lines().iter().any(|l| l.contains(r#""type":"untrusted""#)), "{export:#?}");
    let trace = red.dir.path().join("exported.jsonl");
    std::fs::write(&trace, &export.stdout).unwrap();
    let trace = trace.display().to_string();
    let replayed = run(["replay", "--policy", &red.path("policy"), &trace]);
    assert_eq!(replayed.code, Some(0), "{replayed:#?}");
    let fetches: Vec<Value> = replayed
        .lines()
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|d| d["action"] == "fetch_url")
        .collect();
    let decisions: Vec<&str> = fetches.iter().map(|d| d["decision"].as_str().unwrap()).collect();
    assert_eq!(decisions, ["block", "block", "block", "block", "allow"], "{fetches:#?}");
}

/// F4: with `redact = ["**.ssn"]`, the SSN is redacted from the `structuredContent`, from
/// the same JSON in a text block, and from JSON given only as text, for the client and in
/// the audit log. (Before: the text copies went out in clear.)
#[test]
fn redact_paths_apply_to_every_form_of_a_result() {
    let red = Red::new();
    let mut client = red.gateway("run-redact", &[]);
    for tool in ["ssn_record", "ssn_text"] {
        let result = client.call(tool, json!({}));
        assert!(!result.to_string().contains(SSN), "{tool}: {result}");
        assert!(text(&result).contains("bob"), "{tool}: {result}");
    }
    drop(client);
    let audit = red.audit();
    assert!(audit.iter().any(|r| r["action"] == "ssn_text" && r["kind"] == "outcome"));
    for record in &audit {
        assert!(!record.to_string().contains(SSN), "in the audit log: {record:#}");
    }
}

/// F5: a call that waits for approval (`--approval-wait 25`) and is cancelled by its
/// client: its request is withdrawn at once (the approver sees why, and approving it
/// fails), and the server never receives the call. The client's retry asks again and runs
/// once when approved. (Before: an approval after the cancellation ran the call, and a
/// retry could run it a second time.)
#[test]
fn a_call_cancelled_while_it_waits_for_approval_never_runs() {
    let red = Red::new();
    let approver = issue(red.dir.path(), &["--approver", "alice"]);
    let address = free_address();
    let token_key = red.path("tokens/audit.pub");
    let extra = ["--approval-wait", "25", "--api", &address, "--token-key", &token_key];
    let mut client = red.gateway("run-cancel", &extra);
    let call = json!({"name": "send_money", "arguments": {"amount": 10}});
    let cancelled = client.send("tools/call", call.clone());
    let pending = pending_request(&address, &approver);
    assert_eq!(pending["action"], "send_money", "{pending}");
    let id = pending["id"].as_str().unwrap().to_owned();
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": cancelled, "reason": "the user stopped it"}});
    client.send_line(&cancel.to_string());

    let path = format!("/v1/approvals/{id}");
    let deadline = Instant::now() + Duration::from_secs(15);
    let shown = loop {
        let (status, shown) = request(&address, "GET", &path, Some(&approver), &[], "");
        assert_eq!(status, 200, "{shown}");
        if shown["status"] != "pending" || Instant::now() > deadline {
            break shown;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_ne!(shown["status"], "pending", "the cancelled call's request is still open");
    assert!(shown.to_string().contains("withdrawn"), "{shown:#}");
    let body = r#"{"reason": "looks fine"}"#;
    let (status, answer) =
        request(&address, "POST", &format!("{path}/approve"), Some(&approver), &[], body);
    assert_ne!(status, 200, "a withdrawn request was approved: {answer}");
    // No answer to a cancelled request (the spec), and nothing forwarded.
    assert_eq!(client.answer(cancelled, Duration::from_secs(2)), None);
    assert!(red.received().is_empty(), "{:?}", red.received());

    // The client tries again: a new request, which runs the call once when approved.
    let retried = client.send("tools/call", call);
    let again = pending_request(&address, &approver);
    assert_ne!(again["id"], id.as_str(), "{again}");
    let again_path = format!("/v1/approvals/{}/approve", again["id"].as_str().unwrap());
    let (status, answer) = request(&address, "POST", &again_path, Some(&approver), &[], body);
    assert_eq!(status, 200, "{answer}");
    let answer = client.answer(retried, Duration::from_secs(30)).expect("the retry's answer");
    assert!(!is_error(&answer["result"]), "{answer}");
    drop(client);
    let sent: Vec<_> =
        red.received().into_iter().filter(|(tool, _)| tool == "send_money").collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
}

/// A call its client cancels while the server works on it: the gateway passes the
/// cancellation on to the server (naming the request the server holds), answers nothing
/// (the spec), records the effect as one whose outcome is unknown, and the session goes on.
/// (Before: the server was never told, and the call's slot stayed taken until it answered.)
#[test]
fn a_call_cancelled_while_the_server_works_is_cancelled_there_too() {
    let red = Red::new();
    let mut client = red.gateway("run-cancel-upstream", &[]);
    let slow = client.send("tools/call", json!({"name": "slow", "arguments": {}}));
    let deadline = Instant::now() + Duration::from_secs(15);
    while !red.received().iter().any(|(tool, _)| tool == "slow") {
        assert!(
            Instant::now() < deadline,
            "the slow call never reached the server: {:?}",
            client.answer(slow, Duration::from_secs(1))
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": slow, "reason": "the user stopped it"}});
    client.send_line(&cancel.to_string());

    let cancelled = loop {
        let found = red.received().into_iter().find(|(tool, _)| tool == "cancelled");
        if let Some((_, cancelled)) = found {
            break cancelled;
        }
        assert!(Instant::now() < deadline, "the server was never told: {:?}", red.received());
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(cancelled["called"], true, "names the request the server holds: {cancelled}");
    assert_eq!(client.answer(slow, Duration::from_secs(1)), None);
    let fine = client.call("described", json!({}));
    assert!(!is_error(&fine), "the session did not go on: {fine}");
    drop(client);
    let outcome = red
        .audit()
        .into_iter()
        .find(|r| r["action"] == "slow" && r["kind"] == "outcome")
        .expect("the cancelled call's outcome is recorded");
    assert!(outcome.to_string().contains("cancelled"), "{outcome:#}");
}

/// F6: a `tools/call` whose arguments nest 3,000 levels deep is answered with a JSON-RPC
/// error naming its id, over stdio (before: dropped, the client waiting for ever) and over
/// streamable HTTP, and names the server does not list (look-alikes, a NUL, a trailing
/// space) are refused; each refusal is in the audit log, and the session goes on.
#[test]
fn a_message_too_deep_and_an_unknown_tool_are_answered_and_recorded() {
    let red = Red::new();
    let mut client = red.gateway("run-refused", &[]);
    let levels = 3000;
    let deep = format!("{}1{}", "[".repeat(levels), "]".repeat(levels));
    let line = format!(
        r#"{{"jsonrpc":"2.0","id":20,"method":"tools/call","params":{{"name":"fetch_url","arguments":{{"url":{deep}}}}}}}"#
    );
    client.send_line(&line);
    let answer = client.answer(20, Duration::from_secs(10)).expect("an answer to the deep call");
    assert_eq!(answer["error"]["code"], -32600, "{answer}");

    let names = ["Delete_all", "delete_all ", "delete\u{0}_all", "d\u{435}lete_all"];
    for name in names {
        let result = client.call(name, json!({}));
        assert!(is_error(&result), "{name:?}: {result}");
    }
    let fine = client.call("fetch_url", json!({"url": FINE}));
    assert!(!is_error(&fine), "the session did not go on: {fine}");
    drop(client);
    assert_eq!(red.fetched(), [FINE]);

    let token_key = red.path("tokens/audit.pub");
    let listen = ["--listen", "127.0.0.1:0", "--token-key", &token_key];
    let (gateway, url) = spawn_listening(red.command("run-refused-http", &listen));
    let policy = red.path("policy");
    let token = issue(red.dir.path(), &["--agent", "red_agent", "--policy", &policy]);
    let (status, head, body) = exchange(&url, "POST", Some(&token), None, &line);
    assert_eq!(status, 400, "{head}{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((&answer["id"], &answer["error"]["code"]), (&json!(20), &json!(-32600)), "{body}");
    drop(gateway);

    let reasons: Vec<String> = red
        .audit()
        .iter()
        .filter(|r| r["kind"] == "refusal" && r["agent"] == "red_agent")
        .map(|r| r["input"]["reason"].as_str().unwrap().to_owned())
        .collect();
    let too_deep =
        reasons.iter().filter(|r| r.contains("mcp.message_too_deep") && r.contains("tools/call"));
    assert_eq!(too_deep.count(), 2, "over stdio and over HTTP: {reasons:#?}");
    let unknown = reasons.iter().filter(|r| r.contains("mcp.unknown_tool")).count();
    assert_eq!(unknown, names.len(), "{reasons:#?}");
    assert!(reasons.iter().any(|r| r.contains("\\u{435}")), "a look-alike is shown: {reasons:#?}");
}
