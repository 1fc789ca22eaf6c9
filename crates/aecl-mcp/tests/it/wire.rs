//! End to end: the `aecl` binary's `aecl mcp` over a malicious server
//! (`tests/servers/malicious_server.py`, which chooses every byte it sends), driven by a raw
//! JSON-RPC client over stdio (or raw HTTP requests over `--listen`), so that a test sends
//! what no SDK client sends, and reads answers on the wire and records in the audit log
//! (`aecl audit tail`).
//!
//! The binary is `target/debug/aecl`, which `cargo test --workspace` builds (as `cargo
//! xtask ci` runs it); with `cargo test -p aecl-mcp` alone, build it first
//! (`cargo build -p aecl-cli --bin aecl`). One older than this crate's sources is refused
//! rather than tested.

mod protocol;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

const CATALOG: &str = r#"[actions.described]
effect = "read"
[actions.huge_ask]
effect = "read"
[actions.huge_note]
effect = "read"
[actions.slow]
effect = "read"
"#;

const MANIFEST: &str = r#"agent_id = "red_agent"
allowed_actions = ["described", "huge_ask", "huge_note", "slow"]
"#;

/// A path inside this crate.
fn here(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The newest modification time of the files under `dir`.
fn newest(dir: &Path) -> SystemTime {
    let mut latest = SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).expect("reading the sources").flatten() {
        let path = entry.path();
        let time = if path.is_dir() {
            newest(&path)
        } else {
            entry.metadata().and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH)
        };
        latest = latest.max(time);
    }
    latest
}

/// The `aecl` binary beside this test's executable (`target/debug/aecl`), built after this
/// crate's sources last changed.
fn aecl_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's executable");
    let debug = exe.parent().and_then(Path::parent).expect("target/debug");
    let aecl = debug.join("aecl");
    let built = std::fs::metadata(&aecl).and_then(|m| m.modified()).unwrap_or_else(|_| {
        panic!("`{}` is missing: `cargo build -p aecl-cli --bin aecl` first", aecl.display())
    });
    assert!(
        built >= newest(&here("src")),
        "`{}` is older than crates/aecl-mcp/src: `cargo build -p aecl-cli --bin aecl` first",
        aecl.display()
    );
    aecl
}

/// The Python of the test clients' and servers' venv.
fn python() -> PathBuf {
    let path = here("tests/.venv/bin/python");
    assert!(
        path.exists(),
        "`{}` is missing: make the venv from crates/aecl-mcp/tests/requirements.txt (`cargo xtask ci` does)",
        path.display()
    );
    path
}

/// Runs `aecl` with `args`; its standard output, after asserting it succeeded.
fn aecl(args: &[&str]) -> String {
    let out = Command::new(aecl_binary()).args(args).output().expect("running aecl");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "aecl {args:?}: {stderr}");
    String::from_utf8(out.stdout).expect("aecl's output is UTF-8")
}

/// Keys, a policy for the malicious server's tools, a store, and where the server logs
/// the calls it receives.
struct Wire {
    dir: tempfile::TempDir,
}

impl Wire {
    fn new() -> Wire {
        let wire = Wire { dir: tempfile::TempDir::new().expect("a temporary directory") };
        for (name, out) in [("aecl.test/audit", "audit"), ("aecl.test/tokens", "tokens")] {
            aecl(&["keys", "generate", "--name", name, "--out", &wire.path(out)]);
        }
        let policy = wire.dir.path().join("policy");
        std::fs::create_dir_all(policy.join("agents")).unwrap();
        std::fs::write(policy.join("policy.toml"), "mode = \"enforce\"\n").unwrap();
        std::fs::write(policy.join("catalog.toml"), CATALOG).unwrap();
        std::fs::write(policy.join("agents/red.toml"), MANIFEST).unwrap();
        aecl(&["check", &wire.path("policy")]);
        wire
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// `aecl mcp` in run `run_id` with `extra` options, wrapping the malicious server.
    fn command(&self, run_id: &str, extra: &[&str]) -> Command {
        let mut command = Command::new(aecl_binary());
        command
            .args(["mcp", "--policy", &self.path("policy"), "--agent", "red_agent"])
            .args(["--db", &self.path("aecl.db"), "--key", &self.path("audit/audit.key")])
            .args(["--run", run_id])
            .args(extra)
            .arg("--")
            .arg(python())
            .arg(here("tests/servers/malicious_server.py"))
            .arg(self.path("received.jsonl"));
        command
    }

    /// The gateway over stdio in run `run_id`, and its client, initialized.
    fn gateway(&self, run_id: &str) -> Client {
        Client::start(self.command(run_id, &[]))
    }

    /// The gateway over `--listen` (a free loopback port) in run `run_id`, its URL, and a
    /// token of `red_agent`'s.
    fn listening(&self, run_id: &str) -> (Listening, String, String) {
        self.listening_with(run_id, &[])
    }

    /// [`Wire::listening`] with `extra` options.
    fn listening_with(&self, run_id: &str, extra: &[&str]) -> (Listening, String, String) {
        let token_key = self.path("tokens/audit.pub");
        let mut listen = vec!["--listen", "127.0.0.1:0", "--token-key", token_key.as_str()];
        listen.extend(extra);
        let mut command = self.command(run_id, &listen);
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting the gateway");
        let stderr = child.stderr.take().unwrap();
        let running = Listening(child);
        let mut lines = BufReader::new(stderr).lines();
        let url = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| l.split_once("MCP listening on ").map(|(_, url)| url.trim().to_owned()))
            .expect("the gateway did not say where it listens");
        // Its standard error is read on, so that it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let key = self.path("tokens/audit.key");
        let policy = self.path("policy");
        let token =
            aecl(&["token", "issue", "--key", &key, "--agent", "red_agent", "--policy", &policy]);
        (running, url, token.trim().to_owned())
    }

    /// The calls the server received: (tool, arguments).
    fn received(&self) -> Vec<(String, Value)> {
        let text = std::fs::read_to_string(self.path("received.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .map(|v| (v["tool"].as_str().unwrap().to_owned(), v["arguments"].clone()))
            .collect()
    }

    /// The audit log's records.
    fn audit(&self) -> Vec<Value> {
        let out = aecl(&["audit", "tail", "--db", &self.path("aecl.db")]);
        out.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// The reasons of the refusal records, in order.
    fn refusals(&self) -> Vec<String> {
        let audit = self.audit();
        let refused = audit.iter().filter(|r| r["kind"] == "refusal");
        refused.map(|r| r["input"]["reason"].as_str().unwrap_or_default().to_owned()).collect()
    }
}

/// A gateway over `--listen`, killed when dropped.
struct Listening(Child);

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A POST of `body` to the gateway at `url` with `token`: status and body.
fn post(url: &str, token: &str, body: &[u8]) -> (u16, String) {
    let (status, _, body) = exchange(url, token, None, body, Duration::from_secs(10));
    (status, body)
}

/// A POST of `body` to the gateway at `url` with `token`, in `session` if any, read until
/// the gateway ends it or for `limit`: status, head (lower-cased) and body.
fn exchange(
    url: &str,
    token: &str,
    session: Option<&str>,
    body: &[u8],
    limit: Duration,
) -> (u16, String, String) {
    let address = url.trim_start_matches("http://").trim_end_matches("/mcp");
    let mut stream = TcpStream::connect(address).expect("connecting to the gateway");
    stream.set_read_timeout(Some(limit)).unwrap();
    let session = session.map(|s| format!("Mcp-Session-Id: {s}\r\n")).unwrap_or_default();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n{session}\
         Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n\
         MCP-Protocol-Version: 2025-11-25\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    // A stream left open ends the read by its timeout: what came so far is the answer.
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// The JSON-RPC messages of an event stream's `data:` lines (or of a plain JSON body).
fn messages(body: &str) -> Vec<Value> {
    if let Ok(message) = serde_json::from_str(body) {
        return vec![message];
    }
    body.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str(data.trim()).ok())
        .collect()
}

/// A raw MCP client of a gateway over stdio (2025-11-25, with form elicitation, which it
/// declines, noting what it was asked).
struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Value>,
    next_id: u64,
    /// The messages of the elicitations the client was asked (cut to 100 characters).
    elicited: Vec<String>,
}

impl Client {
    fn start(mut command: Command) -> Client {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the gateway");
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
        let mut client = Client { child, stdin, lines, next_id: 100, elicited: Vec::new() };
        let params = json!({"protocolVersion": "2025-11-25",
            "capabilities": {"elicitation": {"form": {}}},
            "clientInfo": {"name": "red-team", "version": "0"}});
        client.request("initialize", params);
        client.send_bytes(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        client
    }

    /// Writes `bytes` and a line break, as they are.
    fn send_bytes(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// Sends request `method` under a new id; returns the id.
    fn send(&mut self, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.send_as(id, method, params);
        id
    }

    /// Sends request `method` under the id `id` the test chose.
    fn send_as(&mut self, id: u64, method: &str, params: Value) {
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send_bytes(message.to_string().as_bytes());
    }

    /// The next message that is no request of the gateway's (an answer, an error), or
    /// `None` after `limit`. The gateway's requests meanwhile (elicitation) are declined.
    fn next_answer(&mut self, limit: Duration) -> Option<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let message = self.lines.recv_timeout(left).ok()?;
            if message["method"] == "elicitation/create" {
                let asked = message["params"]["message"].as_str().unwrap_or_default();
                self.elicited.push(asked.chars().take(100).collect());
                let answer = json!({"jsonrpc": "2.0", "id": message["id"],
                    "result": {"action": "decline"}});
                self.send_bytes(answer.to_string().as_bytes());
                continue;
            }
            if message.get("method").is_none() {
                return Some(message);
            }
        }
    }

    /// The answer to request `id`, or `None` after `limit`.
    fn answer(&mut self, id: u64, limit: Duration) -> Option<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let message = self.next_answer(deadline.checked_duration_since(Instant::now())?)?;
            if message["id"] == id {
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
