//! The loopback web of the Claude Code test: the attacker's page, served over TLS because
//! Claude Code's WebFetch always upgrades `http://` to `https://` (its certificate is
//! self-signed here and handed to Claude Code with `NODE_EXTRA_CA_CERTS`), and a plain
//! HTTP listener standing for the attacker's collection endpoint, which records every
//! request that reaches it.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::api::{read_request, respond};

/// An HTTP server on loopback that records the request line of every request.
#[derive(Debug)]
pub struct Recorder {
    /// `127.0.0.1:PORT`.
    pub address: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    /// The request lines received so far (`GET /x?k=... HTTP/1.1`).
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("the request log").clone()
    }
}

/// The attacker's collection endpoint: plain HTTP, answers `received` to anything.
pub fn collector() -> Recorder {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding the collector");
    let address = listener.local_addr().expect("its address").to_string();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            if let Some((line, _)) = read_request(&mut stream) {
                seen.lock().expect("the request log").push(line);
                respond(&mut stream, "200 OK", "text/plain", b"received\n");
            }
        }
    });
    Recorder { address, requests }
}

/// The page over HTTPS on loopback, with its certificate (PEM) written to `ca_file`.
pub fn page(html: String, ca_file: &Path) -> Recorder {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
        .expect("a self-signed certificate");
    std::fs::write(ca_file, certified.cert.pem()).expect("writing the certificate");
    let chain = vec![CertificateDer::from(certified.cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("the page's TLS configuration");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding the page");
    let address = listener.local_addr().expect("its address").to_string();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    let html = Arc::new(html);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (config, seen, html) = (Arc::clone(&config), Arc::clone(&seen), Arc::clone(&html));
            thread::spawn(move || serve_tls(stream, config, &seen, &html));
        }
    });
    Recorder { address, requests }
}

fn serve_tls(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
    seen: &Mutex<Vec<String>>,
    html: &str,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(connection) = rustls::ServerConnection::new(config) else { return };
    let mut tls = rustls::StreamOwned::new(connection, stream);
    if let Some((line, _)) = read_request(&mut tls) {
        seen.lock().expect("the request log").push(line);
        respond(&mut tls, "200 OK", "text/html; charset=utf-8", html.as_bytes());
        tls.conn.send_close_notify();
        let _ = std::io::Write::flush(&mut tls);
    }
}
