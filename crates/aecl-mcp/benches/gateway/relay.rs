//! The floors of the gateway bench: what standing between an MCP client and its server
//! costs on this machine before any decision is made or recorded.
//!
//! - A byte relay: a process that copies bytes both ways (the client's pipe to the
//!   server's, or one TCP connection to another) on two blocking threads, nothing parsed:
//!   the hop itself, the least any gateway in its own process pays.
//! - A bare rmcp relay: an rmcp server whose `tools/list` and `tools/call` go through the
//!   gateway's own rmcp client ([`Upstream`]) to the server: the hop plus MCP parsed and
//!   written again on both sides, which is everything `aecl mcp` does on a call besides
//!   deciding it and recording it.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::sync::Arc;

use aecl_mcp::{Handshake, Upstream};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ListToolsResult, PaginatedRequestParams, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};

/// Starts `server` (a command line) and copies this process's stdin to its stdin and its
/// stdout to this process's stdout, until the client closes.
pub(crate) fn bytes(server: &[String]) {
    let (program, args) = server.split_first().expect("a server command");
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the server starts");
    let mut to_server = child.stdin.take().expect("its stdin");
    let mut from_server = child.stdout.take().expect("its stdout");
    // The descriptors themselves: std's stdin is buffered and its stdout line-buffered.
    let mut stdin = file(std::io::stdin().as_fd());
    let mut stdout = file(std::io::stdout().as_fd());
    // When the client closes, the server's stdin closes with `to_server`, and it exits.
    std::thread::spawn(move || copy(&mut stdin, &mut to_server));
    copy(&mut from_server, &mut stdout);
    let _ = child.wait();
}

/// Listens on a free loopback port, announces `url` with that port on stdout, and copies
/// each connection's bytes to and from a connection of its own to `url`'s host and port.
#[expect(clippy::print_stdout, reason = "the URL is how the bench finds the relay")]
pub(crate) fn tcp(url: &str) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (upstream, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    println!("http://{}{path}", listener.local_addr().expect("its address"));
    for client in listener.incoming() {
        let Ok(client) = client else { continue };
        let server = TcpStream::connect(upstream).expect("the server accepts");
        for stream in [&client, &server] {
            let _ = stream.set_nodelay(true);
        }
        let (mut client_in, mut server_out) = (clone(&client), clone(&server));
        std::thread::spawn(move || {
            copy(&mut client_in, &mut server_out);
            let _ = server_out.shutdown(Shutdown::Write);
        });
        let (mut server_in, mut client_out) = (server, client);
        std::thread::spawn(move || {
            copy(&mut server_in, &mut client_out);
            let _ = client_out.shutdown(Shutdown::Write);
        });
    }
}

/// A bare rmcp relay on this process's stdin and stdout (read through the reactor, as
/// `aecl mcp` reads its own) in front of `server`, which it starts.
pub(crate) fn rmcp_stdio(server: &[String]) {
    let (program, args) = server.split_first().expect("a server command");
    super::runtime().block_on(async {
        let upstream =
            Upstream::spawn(program, args, Handshake::default()).await.expect("the server");
        let relay = Relay(Arc::new(upstream));
        let running = relay.serve(aecl_mcp::stdio::stdio()).await.expect("the relay starts");
        let _ = running.waiting().await;
    });
}

/// A bare rmcp relay over streamable HTTP in front of the server at `url`.
pub(crate) fn rmcp_http(url: &str) {
    super::runtime().block_on(async {
        let upstream =
            Upstream::connect(url, None, Handshake::default()).await.expect("the server");
        super::serve_http(Relay(Arc::new(upstream))).await;
    });
}

/// Forwards `tools/list` and `tools/call` as they are.
#[derive(Debug, Clone)]
struct Relay(Arc<Upstream>);

impl ServerHandler for Relay {
    fn get_info(&self) -> ServerConfig {
        super::tools_only()
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools =
            self.0.tools().await.map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.0.call(request).await.map_err(|e| ErrorData::internal_error(e.to_string(), None))
    }
}

/// Copies until either side ends; each read's bytes are written at once.
fn copy(from: &mut impl Read, to: &mut impl Write) {
    let mut buffer = [0u8; 64 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

/// A descriptor of this process as a file of its own.
fn file(fd: std::os::fd::BorrowedFd<'_>) -> std::fs::File {
    std::fs::File::from(fd.try_clone_to_owned().expect("a descriptor"))
}

fn clone(stream: &TcpStream) -> TcpStream {
    stream.try_clone().expect("a socket")
}
