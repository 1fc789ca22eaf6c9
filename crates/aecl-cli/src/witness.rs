//! Checkpoints outside the store: publishing each committed checkpoint to a checkpoint
//! directory or to a witness (`--checkpoint-dir DIR|URL` of `aecl serve` and `aecl mcp`),
//! the witness itself (`aecl witness`), and reading them back for `aecl audit verify
//! --checkpoints`.
//!
//! Both keep C2SP tlog-witness `add-checkpoint` bodies (old size, consistency proof, signed
//! checkpoint), one file per checkpoint named by its size (`<size, 20 digits>.add-checkpoint`),
//! written to a temporary file, fsynced, linked into place (which never replaces a file)
//! and the directory fsynced. A witness takes a checkpoint only when it is signed by the
//! pinned log key and its proof extends the one it holds (`aecl_audit::witness::accept`), so
//! the database going back (a rollback) or sideways (a fork) cannot take the witness along.
//! A checkpoint directory takes one by the same rule: when the proof a checkpoint carries
//! starts past the size the directory holds (it missed some), the proof from the size held
//! is read from the store, and a checkpoint it does not prove consistent is refused.
//! Before a process appends with `--checkpoint-dir`, the store's log must extend the
//! newest checkpoint the destination holds (`extends`): a rolled-back or forked store is
//! not resumed.

mod extends;
mod publisher;

use std::convert::Infallible;
use std::fs;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aecl_audit::witness::accept;
use aecl_audit::{
    AddCheckpoint, Checkpoint, CheckpointSink, Hash, Refusal, VerifierKey,
    parse_and_verify_checkpoint,
};
use anyhow::{Context, Result, bail};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};

pub use extends::check_store_extends;

/// The file name suffix of a published checkpoint.
const SUFFIX: &str = ".add-checkpoint";

/// The largest add-checkpoint body a witness reads.
const MAX_BODY: usize = 64 * 1024;

fn file_name(size: u64) -> String {
    format!("{size:020}{SUFFIX}")
}

/// Whether `target` names a witness rather than a directory.
fn is_url(target: &str) -> bool {
    target.starts_with("http://") || target.starts_with("https://")
}

/// The published checkpoints of a directory or a witness URL, with a name for each.
pub fn read_published(target: &str) -> Result<Vec<(String, Vec<u8>)>> {
    if is_url(target) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let url = format!("{}/checkpoint", target.trim_end_matches('/'));
        let (status, body) = runtime.block_on(http(&url, None))?;
        return match status {
            200 => Ok(vec![(url, body.to_vec())]),
            404 => Ok(Vec::new()),
            _ => bail!("the witness at {url} answered {status}"),
        };
    }
    let dir = Path::new(target);
    let mut out = Vec::new();
    for (size, name, path) in entries(dir)? {
        let text = fs::read(&path).with_context(|| format!("reading `{}`", path.display()))?;
        // As the start refuses it (`latest_in`): a file renamed to another size (red team
        // round 20, audit I2). What does not parse is the verification's to name.
        let held = std::str::from_utf8(&text)
            .ok()
            .and_then(|text| AddCheckpoint::parse(text).ok())
            .and_then(|request| Checkpoint::read_unverified(&request.checkpoint))
            .map(|checkpoint| checkpoint.size);
        if let Some(held) = held.filter(|held| *held != size) {
            bail!(
                "`{name}` holds the checkpoint of size {held}, not {size}: the directory was \
                 changed outside aecl"
            );
        }
        out.push((name, text));
    }
    Ok(out)
}

/// The published files of `dir` (`<size, 20 digits>.add-checkpoint`), by size. Any other
/// visible name ending in the suffix is an error, not skipped: a file named to sort after
/// the real ones (`~zz.add-checkpoint`, holding a copy of an old checkpoint) would
/// otherwise be taken for the newest, and a rolled-back store resumed against it.
fn entries(dir: &Path) -> Result<Vec<(u64, String, PathBuf)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading `{}`", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(SUFFIX) || name.starts_with('.') {
            continue;
        }
        let Some(size) = size_of_name(&name) else {
            bail!(
                "`{}` is not a checkpoint file of this directory (its files are named \
                 `<size, 20 digits>{SUFFIX}`): move it away",
                entry.path().display()
            );
        };
        files.push((size, entry.path().display().to_string(), entry.path()));
    }
    files.sort_unstable_by_key(|(size, _, _)| *size);
    Ok(files)
}

/// The size a file name of [`file_name`]'s form gives.
fn size_of_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SUFFIX)?;
    let size = digits.parse().ok()?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(size)
}

/// The latest checkpoint of `dir`, which must be signed by `key` and be of the size its
/// file name says, and its body.
fn latest_in(dir: &Path, key: &VerifierKey) -> Result<Option<(Checkpoint, String)>> {
    let Some((size, name, path)) = entries(dir)?.pop() else { return Ok(None) };
    let text = fs::read_to_string(&path).with_context(|| format!("reading `{name}`"))?;
    let request = AddCheckpoint::parse(&text).with_context(|| format!("`{name}`"))?;
    let checkpoint = parse_and_verify_checkpoint(&request.checkpoint, key)
        .with_context(|| format!("`{name}` is not signed by the log's key"))?;
    if checkpoint.size != size {
        bail!(
            "`{name}` holds the checkpoint of size {}, not {size}: the directory was changed \
             outside aecl",
            checkpoint.size
        );
    }
    Ok(Some((checkpoint, text)))
}

/// Writes `text` as the file of `size` in `dir`: atomically, durably, never replacing a
/// file (an identical one is left as it is).
fn write_new(dir: &Path, size: u64, text: &str) -> Result<()> {
    let path = dir.join(file_name(size));
    let temp = dir.join(format!(".{}.{}.tmp", file_name(size), std::process::id()));
    let mut file =
        fs::File::create(&temp).with_context(|| format!("creating `{}`", temp.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    let linked = fs::hard_link(&temp, &path);
    let _ = fs::remove_file(&temp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            if fs::read_to_string(&path).ok().as_deref() != Some(text) {
                bail!("`{}` exists with other contents: not replaced", path.display());
            }
        }
        Err(e) => return Err(e).with_context(|| format!("linking `{}`", path.display())),
    }
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Where a process that writes the log (`aecl serve`, `aecl mcp`) publishes its checkpoints.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// Publish every signed audit checkpoint outside the store: a directory (one file per
    /// checkpoint, never replaced) or the URL of an `aecl witness`. `aecl audit verify
    /// --checkpoints` then catches a rollback, truncation or fork of the store.
    #[arg(long, value_name = "DIR|URL")]
    checkpoint_dir: Option<String>,
    /// Start even when the `--checkpoint-dir` witness cannot be asked what it holds, so
    /// that a rollback of the store to an older copy is not checked (logged).
    #[arg(long, requires = "checkpoint_dir")]
    allow_unwitnessed_start: bool,
}

impl PublishArgs {
    /// The directory `--checkpoint-dir` names, when it names one (not a witness's URL),
    /// where it really is (the publisher writes there, `publisher`).
    pub fn directory(&self) -> Option<PathBuf> {
        let dir = self.checkpoint_dir.as_deref().filter(|t| !is_url(t)).map(PathBuf::from)?;
        Some(fs::canonicalize(&dir).unwrap_or(dir))
    }

    /// The publisher of `--checkpoint-dir`, if given, for the log signed by `signer`.
    pub fn publication(
        &self,
        signer: &aecl_audit::SignerKey,
        db: &str,
    ) -> Result<Option<Publication>> {
        let unwitnessed = self.allow_unwitnessed_start;
        let target = self.checkpoint_dir.as_deref();
        target.map(|target| publisher(target, signer.verifier(), db, unwitnessed)).transpose()
    }
}

/// A publisher, and what its destination held when it started.
pub struct Publication {
    pub sink: Arc<dyn CheckpointSink>,
    db: String,
    key: VerifierKey,
    held: u64,
}

impl Publication {
    /// Publishes the checkpoints the destination missed (a stop before they were
    /// published, a failed attempt, a destination added later): the store's newest, proved
    /// from what the destination holds (a witness that holds more than it said answers
    /// 409, and the proof is made again from its size). Called once the store has opened,
    /// its writer having checked the log's end: a forged store is never published from.
    pub fn catch_up(&self) {
        match catch_up(&self.db, &self.key, self.held) {
            Ok(Some(request)) => self.sink.publish(request),
            Ok(None) => {}
            Err(error) => tracing::warn!(
                error = format!("{error:#}"),
                "the store's newest checkpoint was not read for publishing"
            ),
        }
    }
}

/// How long a stopping process waits for its last checkpoints to be published: with the
/// server's grace for open requests (`aecl_server::STOP_GRACE`), within the ten seconds a
/// container runtime or systemd commonly allows before SIGKILL.
const DRAIN_WITHIN: Duration = Duration::from_secs(4);

/// Publishes what waits before the process exits (`CheckpointSink::drain`), and says so
/// when some could not be: the destination then lags the store until the next start
/// publishes the store's newest checkpoint.
pub async fn drain(publish: Option<Arc<dyn CheckpointSink>>) {
    let Some(publish) = publish else { return };
    let drained = tokio::task::spawn_blocking(move || {
        let left = publish.drain(DRAIN_WITHIN);
        (left, publish.failure())
    })
    .await;
    match drained {
        Ok((0, None)) => tracing::debug!("checkpoints published before exit"),
        Ok((left, failure)) => tracing::error!(
            left,
            failure = failure.unwrap_or_default(),
            "checkpoints not published before exit: the destination lags the store until \
             the next start publishes them"
        ),
        Err(error) => tracing::error!(%error, "draining the checkpoint publisher failed"),
    }
}

/// A publisher for `--checkpoint-dir`: a directory (created if missing) or a witness URL.
/// `db` lets a destination that missed checkpoints be brought up to date with a proof read
/// from the store. Refused when the store's log does not extend the newest checkpoint the
/// destination holds (`check_store_extends`): the store was rolled back or forked.
///
/// A witness that cannot be asked what it holds cannot say whether the store was rolled
/// back: a store with records then does not start (red team round 20, audit F3: an older
/// copy restored while the witness was away was resumed, signed into a second history,
/// and an idempotency key it had forgotten ran a payment again), unless `unwitnessed`.
pub fn publisher(
    target: &str,
    key: VerifierKey,
    db: &str,
    unwitnessed: bool,
) -> Result<Publication> {
    let (destination, held) = if is_url(target) {
        let _: hyper::Uri = target.parse().with_context(|| format!("`{target}` is not a URL"))?;
        let url = target.trim_end_matches('/').to_owned();
        let held = match witnessed(&url, &key)? {
            Witnessed::Holds(held) => held,
            Witnessed::Unreachable(why) => {
                let records = crate::log_reader::LogReader::open(db)
                    .and_then(|reader| reader.head())
                    .map_or(0, |head| head.next_seq());
                if records > 0 && !unwitnessed {
                    anyhow::bail!(
                        "refusing to start: the witness `{target}` cannot say what it holds \
                         ({why}), so whether the store's {records} records were rolled back \
                         to an older copy cannot be checked; start it when the witness \
                         answers, or give --allow-unwitnessed-start to accept that"
                    );
                }
                tracing::warn!(
                    records,
                    why,
                    "starting without asking the witness what it holds: a rollback of the store \
                     is not checked"
                );
                None
            }
        };
        if let Some(held) = &held {
            check_store_extends(db, held, target)?;
        }
        (Destination::Witness { url, db: db.to_owned() }, held.map(|h| h.size))
    } else {
        fs::create_dir_all(target).with_context(|| format!("creating `{target}`"))?;
        // Written where it really is, as the start-up check placed it: a link on the way,
        // swapped later for a directory of the agent's, is not followed then (red team
        // round 29, second pass T-M1).
        let dir = fs::canonicalize(target).with_context(|| format!("resolving `{target}`"))?;
        let held = latest_in(&dir, &key)?.map(|(checkpoint, _)| checkpoint);
        if let Some(held) = &held {
            check_store_extends(db, held, target)?;
        }
        let size = held.as_ref().map(|h| h.size);
        (Destination::Dir { dir, held, db: db.to_owned() }, size)
    };
    let sink = publisher::start(target, destination, key.clone())?;
    Ok(Publication { sink, db: db.to_owned(), key, held: held.unwrap_or(0) })
}

/// How long one request to a witness may take.
const WITNESS_TIMEOUT: Duration = Duration::from_secs(10);

/// The store's newest checkpoint with the proof from `held` records, when it is newer.
fn catch_up(db: &str, key: &VerifierKey, held: u64) -> Result<Option<AddCheckpoint>> {
    let reader = crate::log_reader::LogReader::open(db)?;
    let Some(newest) = reader.checkpoints()?.pop() else { return Ok(None) };
    let size = parse_and_verify_checkpoint(&newest, key)?.size;
    if size <= held {
        return Ok(None);
    }
    let proof = extends::proof_from_reader(&reader, held, size)?;
    Ok(Some(AddCheckpoint { old_size: held, proof, checkpoint: newest }))
}

/// The checkpoint a witness holds, if it answers with one; `None` when it holds none or
/// cannot be reached now (it refuses what does not extend what it holds anyway, and the
/// health check reports that publishing fails). One not signed by `key` is refused: the
/// witness keeps another log.
/// What a witness said it holds.
enum Witnessed {
    /// Its newest checkpoint, or none.
    Holds(Option<Checkpoint>),
    /// It could not be asked, and why.
    Unreachable(String),
}

fn witnessed(url: &str, key: &VerifierKey) -> Result<Witnessed> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let endpoint = format!("{url}/checkpoint");
    let answer = runtime
        .block_on(async { tokio::time::timeout(WITNESS_TIMEOUT, http(&endpoint, None)).await });
    let (status, body) = match answer {
        Ok(Ok(answer)) => answer,
        Ok(Err(error)) => return Ok(Witnessed::Unreachable(format!("{error:#}"))),
        Err(_) => {
            let why = format!("{endpoint} did not answer within {} s", WITNESS_TIMEOUT.as_secs());
            return Ok(Witnessed::Unreachable(why));
        }
    };
    match status {
        200 => {}
        404 => return Ok(Witnessed::Holds(None)),
        _ => return Ok(Witnessed::Unreachable(format!("{endpoint} answered {status}"))),
    }
    let text = String::from_utf8_lossy(&body);
    let request = AddCheckpoint::parse(&text)
        .with_context(|| format!("{endpoint} answered no checkpoint"))?;
    let checkpoint = parse_and_verify_checkpoint(&request.checkpoint, key).with_context(|| {
        format!("the checkpoint {endpoint} holds is not signed by the log's key")
    })?;
    Ok(Witnessed::Holds(Some(checkpoint)))
}

enum Destination {
    Dir { dir: PathBuf, held: Option<Checkpoint>, db: String },
    Witness { url: String, db: String },
}

impl Destination {
    fn publish(&mut self, request: &AddCheckpoint, key: &VerifierKey, origin: &str) -> Result<()> {
        match self {
            Destination::Dir { dir, held, db } => {
                // The directory still holds what this process published last: one emptied,
                // replaced or cut back outside aecl is not published into afresh, as if
                // nothing had been there (red team round 30, tamper F2). The server then
                // reports publishing failed and effects wait, as for a directory removed.
                if let Some(last) = held.as_ref() {
                    let now = latest_in(dir, key)?.map(|(checkpoint, _)| checkpoint.size);
                    if now.is_none_or(|size| size < last.size) {
                        bail!(
                            "{}: the newest checkpoint published here, of size {}, is gone \
                             (the directory holds {}): it was changed outside aecl",
                            dir.display(),
                            last.size,
                            now.map_or_else(|| "none".to_owned(), |size| format!("size {size}"))
                        );
                    }
                }
                let (checkpoint, text) = match accept(held.as_ref(), request, key, origin) {
                    Ok(checkpoint) => (checkpoint, request.to_text()),
                    // Checkpoints this directory missed (it was added later, or a write
                    // failed): as for a witness, the proof from the size held is read from
                    // the store, and the checkpoint is kept only if it verifies. Without
                    // it, a store rolled back past the size held would lead the directory
                    // onto its fork.
                    Err(Refusal::Conflict { held: at, old_size }) if old_size > at => {
                        tracing::warn!(at, old_size, "the checkpoint directory missed checkpoints");
                        let size = parse_and_verify_checkpoint(&request.checkpoint, key)?.size;
                        let proof = proof_from_db(db, at, size.max(at))?;
                        let retry = AddCheckpoint {
                            old_size: at,
                            proof,
                            checkpoint: request.checkpoint.clone(),
                        };
                        match accept(held.as_ref(), &retry, key, origin) {
                            Ok(checkpoint) => (checkpoint, retry.to_text()),
                            Err(refusal) => bail!("{}: {refusal}", dir.display()),
                        }
                    }
                    Err(refusal) => bail!("{}: {refusal}", dir.display()),
                };
                write_new(dir, checkpoint.size, &text)?;
                *held = Some(checkpoint);
                Ok(())
            }
            Destination::Witness { url, db } => {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                let endpoint = format!("{url}/add-checkpoint");
                let (status, body) =
                    runtime.block_on(http_bounded(&endpoint, request.to_text()))?;
                if status != 409 {
                    return answered(status, &body, &endpoint);
                }
                // The witness holds an older checkpoint than the proof starts from: prove
                // from its size with the leaves in the store, once.
                let held: u64 = String::from_utf8_lossy(&body)
                    .trim()
                    .parse()
                    .with_context(|| format!("{endpoint} answered 409 without its size"))?;
                let size = parse_and_verify_checkpoint(&request.checkpoint, key)?.size;
                if held > size {
                    bail!(
                        "the witness holds size {held}, ahead of this store's {size}: rolled back?"
                    );
                }
                let proof = proof_from_db(db, held, size)?;
                let retry =
                    AddCheckpoint { old_size: held, proof, checkpoint: request.checkpoint.clone() };
                let (status, body) = runtime.block_on(http_bounded(&endpoint, retry.to_text()))?;
                answered(status, &body, &endpoint)
            }
        }
    }
}

fn answered(status: u16, body: &[u8], endpoint: &str) -> Result<()> {
    if status == 200 {
        return Ok(());
    }
    bail!("{endpoint} refused the checkpoint ({status}): {}", String::from_utf8_lossy(body).trim())
}

/// The consistency proof between the store's trees of `old` and `new` records.
pub fn proof_from_db(db: &str, old: u64, new: u64) -> Result<Vec<Hash>> {
    extends::proof_from_reader(&crate::log_reader::LogReader::open(db)?, old, new)
}

/// A POST of `body` to a witness, bounded by `WITNESS_TIMEOUT`: a witness that hangs
/// leaves the checkpoint for the next attempt instead of stopping publication.
async fn http_bounded(url: &str, body: String) -> Result<(u16, Bytes)> {
    tokio::time::timeout(WITNESS_TIMEOUT, http(url, Some(body)))
        .await
        .with_context(|| format!("{url} did not answer within {} s", WITNESS_TIMEOUT.as_secs()))?
}

/// One HTTP/1.1 request: a POST of `body`, or a GET without one.
async fn http(url: &str, body: Option<String>) -> Result<(u16, Bytes)> {
    let builder = Request::builder().uri(url);
    let request = match body {
        Some(body) => builder.method("POST").body(Full::new(Bytes::from(body))),
        None => builder.method("GET").body(Full::new(Bytes::new())),
    }
    .with_context(|| format!("a request to {url}"))?;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let response = client.request(request).await.with_context(|| format!("reaching {url}"))?;
    let status = response.status().as_u16();
    let limited = Limited::new(response.into_body(), MAX_BODY);
    let bytes = limited.collect().await.map_err(|e| anyhow::anyhow!("reading {url}: {e}"))?;
    Ok((status, bytes.to_bytes()))
}

#[derive(Debug, clap::Args)]
pub struct WitnessArgs {
    /// The address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// The log's public key: only checkpoints it signed are taken.
    #[arg(long)]
    key: String,
    /// Where the accepted checkpoints are kept (one file each, never replaced).
    #[arg(long)]
    dir: PathBuf,
}

/// What the witness holds: the latest accepted checkpoint and its add-checkpoint body.
struct Witness {
    key: VerifierKey,
    dir: PathBuf,
    held: Mutex<Option<(Checkpoint, String)>>,
}

/// `aecl witness`: `POST /add-checkpoint` takes a tlog-witness add-checkpoint body;
/// `GET /checkpoint` answers the latest one held.
pub fn run(args: &WitnessArgs) -> Result<ExitCode> {
    let _telemetry = crate::logging::init("info", None)?;
    let key = crate::audit::verifier(&args.key)?;
    fs::create_dir_all(&args.dir).with_context(|| format!("creating `{}`", args.dir.display()))?;
    let held = latest_in(&args.dir, &key)?;
    let witness = Arc::new(Witness { key, dir: args.dir.clone(), held: Mutex::new(held) });
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        #[expect(clippy::print_stdout, reason = "tells scripts and tests the port")]
        {
            println!("aecl witness: listening on http://{}", listener.local_addr()?);
        }
        loop {
            let (stream, _) = listener.accept().await?;
            let witness = witness.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let witness = witness.clone();
                    async move { Ok::<_, Infallible>(witness.answer(request).await) }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                if let Err(error) =
                    hyper::server::conn::http1::Builder::new().serve_connection(io, service).await
                {
                    tracing::debug!(%error, "witness connection ended");
                }
            });
        }
    })
}

impl Witness {
    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        match (request.method().as_str(), request.uri().path()) {
            ("GET", "/checkpoint") => match self.held.lock().ok().and_then(|h| h.clone()) {
                Some((_, text)) => reply(StatusCode::OK, text),
                None => reply(StatusCode::NOT_FOUND, "no checkpoint yet\n".into()),
            },
            ("POST", "/add-checkpoint") => {
                let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
                    Ok(body) => body.to_bytes(),
                    Err(_) => return reply(StatusCode::PAYLOAD_TOO_LARGE, "too large\n".into()),
                };
                self.add(&body)
            }
            _ => reply(StatusCode::NOT_FOUND, "not found\n".into()),
        }
    }

    fn add(&self, body: &[u8]) -> Response<Full<Bytes>> {
        let parsed = std::str::from_utf8(body).ok().map(AddCheckpoint::parse);
        let Some(Ok(request)) = parsed else {
            return reply(StatusCode::BAD_REQUEST, "not an add-checkpoint body\n".into());
        };
        let Ok(mut held) = self.held.lock() else {
            return reply(StatusCode::INTERNAL_SERVER_ERROR, "poisoned\n".into());
        };
        let current = held.as_ref().map(|(checkpoint, _)| checkpoint);
        match accept(current, &request, &self.key, self.key.name()) {
            Ok(checkpoint) => {
                let text = request.to_text();
                if let Err(error) = write_new(&self.dir, checkpoint.size, &text) {
                    tracing::error!(error = format!("{error:#}"), "cannot keep a checkpoint");
                    return reply(StatusCode::INTERNAL_SERVER_ERROR, "not kept\n".into());
                }
                tracing::info!(size = checkpoint.size, "checkpoint accepted");
                *held = Some((checkpoint, text));
                reply(StatusCode::OK, String::new())
            }
            // As tlog-witness: 409 with the size held, so the log can prove from it.
            Err(Refusal::Conflict { held, .. }) => {
                let mut response = reply(StatusCode::CONFLICT, format!("{held}\n"));
                if let Ok(value) = hyper::header::HeaderValue::from_str("text/x.tlog.size") {
                    response.headers_mut().insert(hyper::header::CONTENT_TYPE, value);
                }
                response
            }
            Err(refusal @ (Refusal::Unsigned(_) | Refusal::Origin(_))) => {
                reply(StatusCode::FORBIDDEN, format!("{refusal}\n"))
            }
            Err(refusal @ Refusal::Inconsistent { .. }) => {
                tracing::warn!(%refusal, "checkpoint refused");
                reply(StatusCode::UNPROCESSABLE_ENTITY, format!("{refusal}\n"))
            }
        }
    }
}

fn reply(status: StatusCode, text: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    response
}
