//! The gateway's added latency per `tools/call`: the same echo server called directly and
//! through `aecl mcp`, over stdio and over streamable HTTP, in the same run, beside the
//! floors any gateway pays on this machine: a process that only copies bytes between the
//! client and the server (one more hop, nothing parsed), and a bare rmcp relay (the hop,
//! plus MCP parsed and written again on both sides, nothing decided or recorded).
//!
//! The echo server is this bench's own executable started again in a server role
//! (`echo-stdio`, `echo-http`), so nothing but MCP framing and the tool's one string copy
//! is in the server's time, and what the gateway adds stands out. The client is rmcp's,
//! the one the gateway itself uses upstream ([`Upstream`]), one call at a time, each timed
//! alone from the request's send to its answer.
//!
//! `cargo bench -p aecl-mcp --bench gateway` runs it (after `cargo build --release -p
//! aecl-cli`, or with `AECL_BIN` naming an `aecl` binary); under `cargo test` it makes a
//! few calls of each case to check that it works. `-- --calls N` sets the calls per case;
//! `-- --db URL` the gateway's store (default: a SQLite file in a temporary directory).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aecl_mcp::{Handshake, Upstream};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::StreamableHttpService;
use rmcp::transport::streamable_http_server::StreamableHttpServerConfig;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::json;

#[path = "gateway/relay.rs"]
mod relay;

/// Calls made before timing, so connections, caches and the run are warm.
const WARM_UP: usize = 200;

#[expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Started again as the echo server, or as one of the floors' relays in front of it.
    match (args.get(1).map(String::as_str), args.get(2..).unwrap_or_default()) {
        (Some("echo-stdio"), _) => return echo_stdio(),
        (Some("echo-http"), _) => return echo_http(),
        (Some("relay-bytes"), server) => return relay::bytes(server),
        (Some("relay-rmcp-stdio"), server) => return relay::rmcp_stdio(server),
        (Some("relay-tcp"), [url]) => return relay::tcp(url),
        (Some("relay-rmcp-http"), [url]) => return relay::rmcp_http(url),
        _ => {}
    }
    let bench = args.iter().any(|a| a == "--bench");
    let option =
        |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let calls = option("--calls")
        .map(|n| n.parse().expect("--calls takes a number"))
        .unwrap_or(if bench { 5_000 } else { 20 });
    let warm_up = if bench { WARM_UP } else { 2 };
    let aecl = aecl_binary();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = option("--db").unwrap_or_else(|| dir.path().join("aecl.db").display().to_string());
    let gateway = GatewaySetup::new(dir.path(), &aecl, &db);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let me = std::env::current_exe().expect("this executable").display().to_string();

    // The same gateway with its store on tmpfs, where a commit's fsync costs nothing: what
    // the gateway adds besides waiting for the disk. Only when the store is not named.
    let shm = tempfile::tempdir_in("/dev/shm").ok().filter(|_| option("--db").is_none());
    let on_tmpfs = shm.as_ref().map(|shm| gateway.with_db(&shm.path().join("aecl.db")));

    let mut rows: Vec<Row> = Vec::new();
    runtime.block_on(async {
        // stdio: the client starts the server, or what stands in front of it.
        let echo = vec![me.clone(), "echo-stdio".to_owned()];
        let relayed = |role: &str| {
            let mut line = vec![me.clone(), role.to_owned()];
            line.extend(echo.iter().cloned());
            line
        };
        let mut stdio_cases = vec![
            ("stdio direct", echo.clone()),
            ("stdio via byte relay", relayed("relay-bytes")),
            ("stdio via rmcp relay", relayed("relay-rmcp-stdio")),
            ("stdio via aecl mcp", gateway.stdio(&echo)),
        ];
        if let Some(tmpfs) = &on_tmpfs {
            stdio_cases.push(("stdio via aecl mcp, tmpfs", tmpfs.stdio(&echo)));
        }
        for (name, line) in stdio_cases {
            let client = Upstream::spawn(&line[0], &line[1..], Handshake::default())
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            rows.push(Row { name, times: time_calls(&client, calls, warm_up).await });
        }
        // Streamable HTTP: the client connects to the server, or to what stands in front
        // of the same server.
        let (echo, echo_url) = spawn_announcing(Command::new(&me).arg("echo-http"), Out::Stdout);
        let mut children = Children(vec![echo]);
        let relay = |role: &str| {
            let mut command = Command::new(&me);
            command.args([role, echo_url.as_str()]);
            command
        };
        let mut http_cases = vec![
            ("http via byte relay", relay("relay-tcp"), Out::Stdout, None),
            ("http via rmcp relay", relay("relay-rmcp-http"), Out::Stdout, None),
            ("http via aecl mcp", gateway.http(&echo_url), Out::Stderr, Some(&gateway.bearer)),
        ];
        if let Some(tmpfs) = &on_tmpfs {
            let case = ("http via aecl mcp, tmpfs", tmpfs.http(&echo_url), Out::Stderr);
            http_cases.push((case.0, case.1, case.2, Some(&tmpfs.bearer)));
        }
        let direct =
            Upstream::connect(&echo_url, None, Handshake::default()).await.expect("echo over HTTP");
        rows.push(Row { name: "http direct", times: time_calls(&direct, calls, warm_up).await });
        for (name, mut command, out, bearer) in http_cases {
            let (child, url) = spawn_announcing(&mut command, out);
            children.0.push(child);
            // The gateway's HTTP front door takes agent tokens only; the relays take none.
            let client = Upstream::connect(&url, bearer.map(String::as_str), Handshake::default())
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            rows.push(Row { name, times: time_calls(&client, calls, warm_up).await });
        }
    });
    report(&rows, calls);
    // On the store's disk: a `--db` file's directory, or the temporary one.
    let disk = Path::new(&db).parent().filter(|p| !db.contains("://") && p.is_dir());
    let floor = fsync_floor(disk.unwrap_or(dir.path()), if bench { 1_000 } else { 5 });
    println!(
        "a synced 4 KiB write to the store's disk: p50 {:.1} µs, p99 {:.1} µs \
         (an allowed call waits for one synced group commit)",
        floor.0, floor.1
    );
}

/// The disk's own latency, in the same run: a 4 KiB write and `fdatasync` in `dir`, as a
/// commit of the store's write-ahead log ends; its p50 and p99 in µs.
fn fsync_floor(dir: &Path, times: usize) -> (f64, f64) {
    use std::io::Write;
    let probe = dir.join(".aecl-bench-fsync-probe");
    let mut file = std::fs::File::create(&probe).expect("a probe file");
    let block = [0u8; 4096];
    let mut took: Vec<Duration> = (0..times)
        .map(|_| {
            let started = Instant::now();
            file.write_all(&block).expect("a write");
            file.sync_data().expect("a sync");
            started.elapsed()
        })
        .collect();
    let _ = std::fs::remove_file(probe);
    took.sort();
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    (micros(percentile(&took, 50.0)), micros(percentile(&took, 99.0)))
}

/// What the bench's servers say of themselves: they serve tools, nothing else.
fn tools_only() -> ServerConfig {
    ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
}

/// The echo server's one tool: answers its `text` argument.
#[derive(Debug, Clone)]
struct Echo;

impl ServerHandler for Echo {
    fn get_info(&self) -> ServerConfig {
        tools_only()
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let schema = json!({
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        });
        let schema = schema.as_object().cloned().unwrap_or_default();
        Ok(ListToolsResult::with_all_items(vec![Tool::new("echo", "Answers its text.", schema)]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let text = request
            .arguments
            .as_ref()
            .and_then(|args| args.get("text"))
            .and_then(|text| text.as_str())
            .unwrap_or_default()
            .to_owned();
        Ok(CallToolResponse::Complete(CallToolResult::success(vec![ContentBlock::text(text)])))
    }
}

/// The echo server on this process's stdin and stdout.
fn echo_stdio() {
    runtime().block_on(async {
        let running = Echo.serve(rmcp::transport::stdio()).await.expect("the echo server starts");
        let _ = running.waiting().await;
    });
}

/// The echo server over streamable HTTP.
fn echo_http() {
    runtime().block_on(serve_http(Echo));
}

/// The runtime a server of this bench runs on: one thread.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime")
}

/// `handler` over streamable HTTP on a free loopback port, announced on stdout as its URL,
/// with rmcp's default server settings (the gateway's too), each connection served by
/// hyper's HTTP/1 as the gateway does.
#[expect(clippy::print_stdout, reason = "the URL is how the bench finds the server")]
async fn serve_http<H: ServerHandler + Clone + Send + Sync + 'static>(handler: H) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    println!("http://{}/mcp", listener.local_addr().expect("its address"));
    let service = StreamableHttpService::new(
        move || Ok(handler.clone()),
        LocalSessionManager::default().into(),
        StreamableHttpServerConfig::default(),
    );
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        tokio::spawn(async move {
            let handler = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let service = service.clone();
                async move {
                    let response = service.handle(request).await;
                    Ok::<_, std::convert::Infallible>(response.map(|body| body.boxed()))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), handler)
                .await;
        });
    }
}

/// Servers started for the HTTP cases: killed when dropped, a panic's unwinding included,
/// so none outlives the bench holding its output pipes.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Where a child announces its URL.
#[derive(Clone, Copy)]
enum Out {
    Stdout,
    Stderr,
}

/// Starts `command` and returns it with the first `http://` URL it prints on `out`.
fn spawn_announcing(command: &mut Command, out: Out) -> (Child, String) {
    match out {
        Out::Stdout => command.stdout(Stdio::piped()),
        Out::Stderr => command.stderr(Stdio::piped()),
    };
    let mut child = command.spawn().expect("the server starts");
    let stream: Box<dyn std::io::Read + Send> = match out {
        Out::Stdout => Box::new(child.stdout.take().expect("its stdout")),
        Out::Stderr => Box::new(child.stderr.take().expect("its stderr")),
    };
    let mut lines = BufReader::new(stream).lines();
    let url = loop {
        let line = lines.next().expect("the server announces its URL").expect("a line");
        if let Some(at) = line.find("http://") {
            break line[at..].trim().to_owned();
        }
    };
    // Keep draining, so that the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, url)
}

/// The `aecl` binary: `AECL_BIN`, or the one built beside this bench (`target/PROFILE`).
fn aecl_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("AECL_BIN") {
        return PathBuf::from(path);
    }
    let me = std::env::current_exe().expect("this executable");
    // target/PROFILE/deps/gateway-HASH -> target/PROFILE/aecl
    let beside = me.parent().and_then(Path::parent).map(|profile| profile.join("aecl"));
    match beside {
        Some(path) if path.is_file() => path,
        _ => panic!(
            "no `aecl` binary beside {}: run `cargo build --release -p aecl-cli` first, or set AECL_BIN",
            me.display()
        ),
    }
}

/// A policy, keys and store for `aecl mcp` in front of the echo server.
#[derive(Clone)]
struct GatewaySetup {
    aecl: PathBuf,
    policy: PathBuf,
    key: PathBuf,
    db: String,
    /// Verifies the agent token of `--listen` clients.
    token_key: PathBuf,
    /// `Bearer <agent token>` for the agent `bench`.
    bearer: String,
}

impl GatewaySetup {
    fn new(dir: &Path, aecl: &Path, db: &str) -> GatewaySetup {
        let policy = dir.join("policy");
        std::fs::create_dir_all(policy.join("agents")).expect("the policy directory");
        let files = [
            ("policy.toml", "mode = \"enforce\"\n"),
            (
                "catalog.toml",
                "[actions.echo__echo]\neffect = \"read\"\n[actions.echo__echo.output]\ntrust = \"trusted\"\n",
            ),
            // The request rate raised so that the timed calls over HTTP are never refused.
            (
                "agents/bench.toml",
                "agent_id = \"bench\"\nallowed_actions = [\"echo__echo\"]\n\
                 rate_limit = { rate = \"1000000/minute\", burst = 100000 }\n",
            ),
        ];
        for (name, text) in files {
            std::fs::write(policy.join(name), text).expect("a policy file");
        }
        let keys = dir.join("keys");
        let generated = Command::new(aecl)
            .args(["keys", "generate", "--name", "aecl.bench/audit", "--out"])
            .arg(&keys)
            .output()
            .expect("aecl keys generate runs");
        assert!(generated.status.success(), "aecl keys generate: {generated:?}");
        let tokens = dir.join("tokens");
        let generated = Command::new(aecl)
            .args(["keys", "generate", "--name", "aecl.bench/tokens", "--out"])
            .arg(&tokens)
            .output()
            .expect("aecl keys generate runs");
        assert!(generated.status.success(), "aecl keys generate: {generated:?}");
        let issued = Command::new(aecl)
            .args(["token", "issue", "--agent", "bench", "--policy"])
            .arg(&policy)
            .arg("--key")
            .arg(tokens.join("audit.key"))
            .output()
            .expect("aecl token issue runs");
        assert!(issued.status.success(), "aecl token issue: {issued:?}");
        let token = String::from_utf8_lossy(&issued.stdout).trim().to_owned();
        GatewaySetup {
            aecl: aecl.to_owned(),
            policy,
            key: keys.join("audit.key"),
            db: db.to_owned(),
            token_key: tokens.join("audit.pub"),
            bearer: format!("Bearer {token}"),
        }
    }

    /// The same gateway with its store at `db`.
    fn with_db(&self, db: &Path) -> GatewaySetup {
        GatewaySetup { db: db.display().to_string(), ..self.clone() }
    }

    /// The options every gateway case shares.
    fn options(&self) -> Vec<String> {
        let mut options = vec!["mcp".to_owned(), "--policy".to_owned()];
        options.push(self.policy.display().to_string());
        options
            .extend(["--agent", "bench", "--action-prefix", "echo__", "--db"].map(str::to_owned));
        options.push(self.db.clone());
        options.extend(["--key".to_owned(), self.key.display().to_string()]);
        options
    }

    /// `aecl mcp` over stdio in front of `server`, as a command line.
    fn stdio(&self, server: &[String]) -> Vec<String> {
        let mut line = vec![self.aecl.display().to_string()];
        line.extend(self.options());
        line.push("--".to_owned());
        line.extend(server.iter().cloned());
        line
    }

    /// `aecl mcp` serving streamable HTTP on a free port in front of the server at `url`.
    fn http(&self, url: &str) -> Command {
        let mut command = Command::new(&self.aecl);
        command.args(self.options()).args(["--listen", "127.0.0.1:0", "--upstream", url]);
        command.arg("--token-key").arg(&self.token_key);
        command
    }
}

/// Times `calls` calls of `echo` through `client`, one at a time, after `warm_up` calls.
async fn time_calls(client: &Upstream, calls: usize, warm_up: usize) -> Vec<Duration> {
    let text = "x".repeat(64);
    let params = || {
        let mut params = CallToolRequestParams::new("echo");
        params.arguments = json!({"text": text}).as_object().cloned();
        params
    };
    let mut times = Vec::with_capacity(calls);
    for i in 0..warm_up + calls {
        let started = Instant::now();
        let answer = client.call(params()).await.expect("the call is answered");
        let took = started.elapsed();
        match answer {
            CallToolResponse::Complete(result) if result.is_error != Some(true) => {}
            other => panic!("the echo call failed: {other:?}"),
        }
        if i >= warm_up {
            times.push(took);
        }
    }
    times
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    // Nearest rank; `sorted` is never empty here.
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "a rank within the slice"
    )]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One case's name (its transport first) and the time of each of its calls.
struct Row {
    name: &'static str,
    times: Vec<Duration>,
}

/// Prints each case's percentiles and, beside each, what it adds to the direct case of the
/// same transport (the first row naming it).
#[expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
fn report(rows: &[Row], calls: usize) {
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let percentiles = |times: &[Duration]| {
        let mut sorted = times.to_vec();
        sorted.sort();
        [50.0, 90.0, 99.0].map(|p| micros(percentile(&sorted, p)))
    };
    println!(
        "{calls} calls per case, latencies in µs; added: over the same transport's direct case"
    );
    println!(
        "{:<28} {:>8} {:>8} {:>8}   {:>9} {:>9} {:>9}",
        "case", "p50", "p90", "p99", "added p50", "added p90", "added p99"
    );
    let mut direct = None;
    for row in rows {
        let [p50, p90, p99] = percentiles(&row.times);
        let transport = row.name.split(' ').next().unwrap_or_default();
        let base = match direct {
            Some((name, base)) if name == transport => base,
            _ => {
                direct = Some((transport, [p50, p90, p99]));
                println!("{:<28} {p50:>8.1} {p90:>8.1} {p99:>8.1}", row.name);
                continue;
            }
        };
        let [b50, b90, b99] = base;
        println!(
            "{:<28} {p50:>8.1} {p90:>8.1} {p99:>8.1}   {:>9.1} {:>9.1} {:>9.1}",
            row.name,
            p50 - b50,
            p90 - b90,
            p99 - b99
        );
    }
}
