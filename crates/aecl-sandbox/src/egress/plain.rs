//! A plain (`http://`, absolute-form) request through the proxy: one request per
//! connection. The proxy checks and records the request's target, then sends upstream
//! exactly that request: its head in origin form with `Connection: close`, and its body
//! as its own framing bounds it (`Content-Length` or chunked), nothing after it. The
//! answer goes back with `Connection: close`, and the client's connection ends with it,
//! so a client's next request comes on a new connection, which is parsed, checked and
//! recorded in turn: nothing the client pipelines behind the first request ever reaches
//! the upstream unchecked.
//!
//! The `Host` header must name the request's target (or be absent, and is then added):
//! a request for an allowed host cannot name another site that shares its address
//! (domain fronting). A body framed two ways (`Content-Length` beside
//! `Transfer-Encoding`, or more than one `Content-Length`), or framed in a way parsers
//! read differently (a length that is not ASCII digits alone, such as `+5`; a chunked
//! framing line that ends in a bare LF), is refused: the upstream could read another
//! request into it than the proxy did. A chunked body goes upstream re-framed in the
//! one canonical form (`{size:x}\r\n`, no extensions, no trailers), so what the upstream
//! reads as chunk sizes is what the proxy read.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::address::Host;

/// The longest response head read from upstream before it is passed on unchanged.
const MAX_RESPONSE_HEAD_BYTES: usize = 64 * 1024;

/// The longest line of a chunked body's framing (size and extensions, or a trailer).
const MAX_CHUNK_LINE_BYTES: u64 = 8 * 1024;

/// Request headers that concern this hop only, dropped on the way upstream
/// (`Connection: close` is sent instead).
const HOP_BY_HOP: &[&str] =
    &["connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "upgrade"];

/// What is sent upstream for one plain request.
#[derive(Debug)]
pub(super) struct Plain {
    /// The head in origin form.
    pub(super) head: Vec<u8>,
    pub(super) body: Body,
}

/// How the request's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Body {
    None,
    Length(u64),
    Chunked,
}

impl Plain {
    /// The request to send upstream for `method path` to `host:port` with the client's
    /// `headers`; `Err` with why when it cannot be sent as it is.
    pub(super) fn new(
        method: &str,
        path: &str,
        (host, port): (&str, u16),
        headers: &[httparse::Header<'_>],
    ) -> Result<Plain, String> {
        let target = format!("{host}:{port}");
        let mut hosts = headers.iter().filter(|h| h.name.eq_ignore_ascii_case("host"));
        let host_header = hosts.next();
        if hosts.next().is_some() {
            return Err(format!("the request for `{target}` has more than one Host header"));
        }
        if let Some(header) = host_header {
            let value = String::from_utf8_lossy(header.value);
            if !same_host(value.trim(), (host, port)) {
                return Err(format!(
                    "the Host header names `{}`, not the request's target `{target}`",
                    value.trim()
                ));
            }
        }
        let body = body(headers).map_err(|why| format!("the request for `{target}` {why}"))?;
        let mut head = format!("{method} {path} HTTP/1.1\r\n").into_bytes();
        if host_header.is_none() {
            let authority = if port == 80 { host.to_owned() } else { target.clone() };
            head.extend_from_slice(format!("Host: {authority}\r\n").as_bytes());
        }
        Ok(Plain { head: closed(head, headers, HOP_BY_HOP), body })
    }

    /// Sends this request upstream (`rest`: what of its body came with its head, then
    /// the client's connection) while carrying the answer back, until the upstream
    /// closes; then closes the client's connection.
    pub(super) async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        client: S,
        upstream: TcpStream,
        rest: Vec<u8>,
    ) {
        let (client_read, mut client_write) = tokio::io::split(client);
        let (mut upstream_read, mut upstream_write) = upstream.into_split();
        let send = async {
            upstream_write.write_all(&self.head).await?;
            let mut body = BufReader::new(rest.as_slice().chain(client_read));
            copy_body(&mut body, &mut upstream_write, self.body).await
        };
        let answer = async {
            answer(&mut upstream_read, &mut client_write).await;
            let _ = client_write.shutdown().await;
        };
        // The answer may come before the body is all sent (an early error, a client
        // waiting for `100 Continue`): both run; the answer's end ends the exchange.
        tokio::pin!(send, answer);
        let mut sending = true;
        loop {
            tokio::select! {
                sent = &mut send, if sending => {
                    sending = false;
                    if sent.is_err() {
                        return;
                    }
                }
                () = &mut answer => return,
            }
        }
    }
}

/// Whether a `Host` header's value names `host:port` (the port 80 when it names none).
fn same_host(value: &str, (host, port): (&str, u16)) -> bool {
    let Some((named, named_port)) = authority(value) else { return false };
    named_port.unwrap_or(80) == port
        && Host::parse(named).is_some_and(|named| Host::parse(host) == Some(named))
}

/// An authority's host and its port when it has one: `example.com:8080`, `[::1]:80`,
/// `127.0.0.1`. `None`: not an authority (empty, credentials, a port that is no number);
/// whether the host is one is for [`Host::parse`].
pub(super) fn authority(text: &str) -> Option<(&str, Option<u16>)> {
    if text.is_empty() || text.contains('@') {
        return None;
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && !port.contains(']') => {
            Some((host, Some(port.parse().ok()?)))
        }
        _ => Some((text, None)),
    }
}

/// How the body of a request with `headers` ends, or why that is unclear.
fn body(headers: &[httparse::Header<'_>]) -> Result<Body, &'static str> {
    let values = |name: &str| {
        headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_owned())
            .collect::<Vec<_>>()
    };
    let encodings = values("transfer-encoding");
    let lengths = values("content-length");
    match (encodings.as_slice(), lengths.as_slice()) {
        ([], []) => Ok(Body::None),
        ([], [length]) => {
            // `u64::from_str` takes a leading `+`, which other parsers refuse or read
            // otherwise: ASCII digits alone.
            if length.is_empty() || !length.bytes().all(|b| b.is_ascii_digit()) {
                return Err("has a Content-Length that is not a plain number");
            }
            let length = length.parse().map_err(|_| "has a Content-Length too large")?;
            Ok(Body::Length(length))
        }
        ([], _) => Err("has more than one Content-Length"),
        ([encoding], []) if encoding.eq_ignore_ascii_case("chunked") => Ok(Body::Chunked),
        (_, []) => Err("has a Transfer-Encoding other than chunked"),
        _ => Err("has both a Content-Length and a Transfer-Encoding"),
    }
}

/// Copies exactly the body `framing` bounds from `from` to `to`; what follows it is
/// never read.
async fn copy_body<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    from: &mut BufReader<R>,
    to: &mut W,
    framing: Body,
) -> std::io::Result<()> {
    let cut_short = || std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
    match framing {
        Body::None => Ok(()),
        Body::Length(length) => {
            let copied = tokio::io::copy(&mut from.take(length), to).await?;
            if copied == length { Ok(()) } else { Err(cut_short()) }
        }
        Body::Chunked => loop {
            let size = chunk_size(&chunk_line(from).await?)?;
            // INVARIANT: the upstream reads the sizes the proxy read: each is sent in one
            // canonical form, whatever the client wrote.
            to.write_all(format!("{size:x}\r\n").as_bytes()).await?;
            if size == 0 {
                // Trailers, up to the empty line, are dropped: none goes upstream.
                while chunk_line(from).await? != b"\r\n" {}
                return to.write_all(b"\r\n").await;
            }
            let copied = tokio::io::copy(&mut from.take(size), to).await?;
            if copied != size {
                return Err(cut_short());
            }
            if chunk_line(from).await? != b"\r\n" {
                return Err(std::io::Error::other("a chunk longer than its size"));
            }
            to.write_all(b"\r\n").await?;
        },
    }
}

/// The size a chunk's framing line (with its CRLF) gives: hex digits, then nothing or
/// extensions after `;` (dropped).
pub(super) fn chunk_size(line: &[u8]) -> std::io::Result<u64> {
    let malformed = || std::io::Error::other("a malformed chunk size");
    let line = line.strip_suffix(b"\r\n").ok_or_else(malformed)?;
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let (size, rest) = line.split_at(digits);
    if size.is_empty() || size.len() > 16 || !(rest.is_empty() || rest.starts_with(b";")) {
        return Err(malformed());
    }
    if rest.iter().any(|b| matches!(b, b'\r' | b'\n')) {
        return Err(malformed());
    }
    let size = std::str::from_utf8(size).map_err(|_| malformed())?;
    u64::from_str_radix(size, 16).map_err(|_| malformed())
}

/// One line of a chunked body's framing, with its line end, which must be CRLF.
async fn chunk_line<R: AsyncRead + Unpin>(from: &mut BufReader<R>) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    (&mut *from).take(MAX_CHUNK_LINE_BYTES).read_until(b'\n', &mut line).await?;
    if !line.ends_with(b"\r\n") {
        return Err(std::io::Error::other(
            "a chunk's framing line is cut short, too long or ends in a bare LF",
        ));
    }
    Ok(line)
}

/// Carries the upstream's answer to the client, its final head with `Connection: close`,
/// until the upstream closes.
async fn answer<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(upstream: &mut R, client: &mut W) {
    let mut buffer = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 100];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&buffer) {
            // Interim answers (`100 Continue`) pass as they are; the final one follows.
            Ok(httparse::Status::Complete(end))
                if response.code.is_some_and(|c| (100..200).contains(&c) && c != 101) =>
            {
                if client.write_all(&buffer[..end]).await.is_err() {
                    return;
                }
                buffer.drain(..end);
                continue;
            }
            Ok(httparse::Status::Complete(end)) => {
                let head = closing(&response);
                if client.write_all(&head).await.is_err()
                    || client.write_all(&buffer[end..]).await.is_err()
                {
                    return;
                }
                break;
            }
            Ok(httparse::Status::Partial) if buffer.len() <= MAX_RESPONSE_HEAD_BYTES => {}
            // Not an HTTP/1 answer the proxy can read: passed on as it is.
            _ => {
                if client.write_all(&buffer).await.is_err() {
                    return;
                }
                break;
            }
        }
        match upstream.read(&mut chunk).await {
            Ok(0) | Err(_) => {
                let _ = client.write_all(&buffer).await;
                return;
            }
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    let _ = tokio::io::copy(upstream, client).await;
}

/// A response head as parsed, its connection headers replaced by `Connection: close`.
fn closing(response: &httparse::Response<'_, '_>) -> Vec<u8> {
    let version = response.version.unwrap_or(1);
    let code = response.code.unwrap_or(502);
    let reason = response.reason.unwrap_or("");
    let head = format!("HTTP/1.{version} {code} {reason}\r\n").into_bytes();
    closed(head, response.headers, &["connection", "keep-alive", "proxy-connection"])
}

/// `head` (a start line) followed by `headers` but the `dropped` ones, then
/// `Connection: close` and the head's end.
fn closed(mut head: Vec<u8>, headers: &[httparse::Header<'_>], dropped: &[&str]) -> Vec<u8> {
    for header in headers {
        if dropped.iter().any(|h| header.name.eq_ignore_ascii_case(h)) {
            continue;
        }
        head.extend_from_slice(header.name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(header.value);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"Connection: close\r\n\r\n");
    head
}
