//! `--otlp-endpoint URL` (`aecl serve`, `aecl mcp`): spans exported to an OpenTelemetry
//! collector over OTLP/HTTP with protobuf bodies (`POST URL/v1/traces`), in batches, by the
//! SDK's batch processor.
//!
//! Why HTTP and not gRPC: the HTTP exporter needs `prost` only, where gRPC would bring
//! `tonic` and a second HTTP/2 stack into the build. The HTTP client is ours, over the
//! `hyper-util` client (and `hyper-rustls` for `https://`) already in the tree: the batch
//! processor exports from a thread of its own, outside any Tokio runtime, so each request
//! is run as a task on the command's runtime and awaited from there.
//!
//! The collector's other settings come from the standard variables the exporter reads
//! (`OTEL_EXPORTER_OTLP_HEADERS` for an API key, `OTEL_EXPORTER_OTLP_TIMEOUT`,
//! `OTEL_BSP_SCHEDULE_DELAY`); the incoming `traceparent` of HTTP requests (and of MCP
//! requests' `_meta`) is honoured (W3C Trace Context), so aecl's spans join the caller's
//! trace.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokio::runtime::Handle;
use tracing::Subscriber;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer};

/// The path of the traces signal under a collector's base URL.
const TRACES_PATH: &str = "/v1/traces";

/// The longest a collector's answer body is read (it is a small protobuf message).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Which spans are exported: aecl's own at `info` (requests), and other crates' warnings
/// only, so a collector is not flooded with the HTTP stack's spans; and the pipeline's
/// stages, which are `debug` spans so that logs leave them out ([`span_filter`]).
const SPAN_FILTER: &str = "warn,aecl=info,aecl_server=info,aecl_engine=info,aecl_store=info,\
                           aecl_mcp=info,aecl_connectors=info,aecl_sandbox=info";

/// [`SPAN_FILTER`] with the pipeline's stage spans.
fn span_filter() -> EnvFilter {
    EnvFilter::new(format!("{SPAN_FILTER},{}=debug", aecl_engine::observe::STAGE_TARGET))
}

/// `--otlp-endpoint`, the same for every command that exports traces (`aecl serve`,
/// `aecl mcp`).
#[derive(Debug, clap::Args)]
pub struct OtlpArgs {
    /// Export traces to an OpenTelemetry collector over OTLP/HTTP (protobuf): its base URL
    /// (`http://127.0.0.1:4318`; `/v1/traces` is added) or its full traces URL. A span per
    /// request (HTTP or MCP), continuing the caller's `traceparent`, and per pipeline stage.
    #[arg(long, value_name = "URL")]
    otlp_endpoint: Option<String>,
}

impl OtlpArgs {
    /// The export the flag asks for (none without it), its requests sent from `runtime`.
    /// The runtime must outlive the guard `logging::init` returns for it, so that the
    /// last spans are sent while it still runs.
    pub fn export(&self, runtime: &Handle) -> Result<Option<OtlpExport>> {
        self.otlp_endpoint.as_deref().map(|url| OtlpExport::new(url, runtime.clone())).transpose()
    }
}

/// A trace export to start: the collector's URL and the runtime that sends the requests.
#[derive(Debug)]
pub struct OtlpExport {
    endpoint: String,
    runtime: Handle,
}

impl OtlpExport {
    /// `endpoint` is a collector's base URL (`http://127.0.0.1:4318`, where `/v1/traces`
    /// is added) or the full URL of its traces path (ending in `/v1/traces`).
    pub fn new(endpoint: &str, runtime: Handle) -> Result<OtlpExport> {
        Ok(OtlpExport { endpoint: traces_url(endpoint)?, runtime })
    }

    /// The layer that turns spans into OpenTelemetry spans, and the guard that flushes
    /// them at the end. Also installs the W3C Trace Context propagator, through which
    /// the server continues an incoming `traceparent`.
    pub fn start<S>(self) -> Result<(Box<dyn Layer<S> + Send + Sync>, OtlpGuard)>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .context("reading the system's root certificates for --otlp-endpoint")?
            .https_or_http()
            .enable_http1()
            .build();
        let client = HyperExport {
            client: Client::builder(TokioExecutor::new()).build(connector),
            runtime: self.runtime,
            timeout: Duration::from_secs(10),
        };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(self.endpoint.clone())
            .build()
            .with_context(|| format!("the OTLP exporter to `{}`", self.endpoint))?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(Resource::builder().with_service_name("aecl").build())
            .build();
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let tracer = provider.tracer("aecl");
        let layer =
            tracing_opentelemetry::layer().with_tracer(tracer).with_filter(span_filter()).boxed();
        tracing::info!(endpoint = %self.endpoint, "exporting traces over OTLP/HTTP");
        Ok((layer, OtlpGuard { provider }))
    }
}

/// Flushes and stops the export when the command ends.
#[derive(Debug)]
pub struct OtlpGuard {
    provider: SdkTracerProvider,
}

impl OtlpGuard {
    /// Sends the spans still queued (bounded by the exporter's timeout) and stops.
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown() {
            tracing::warn!(%error, "the trace export did not shut down cleanly");
        }
    }
}

/// The traces URL of `endpoint`: `http` or `https`, with `/v1/traces` added to a base URL.
fn traces_url(endpoint: &str) -> Result<String> {
    let uri: hyper::Uri =
        endpoint.parse().with_context(|| format!("--otlp-endpoint `{endpoint}` is not a URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        bail!("--otlp-endpoint `{endpoint}`: expected an http:// or https:// URL");
    }
    if uri.query().is_some() {
        bail!("--otlp-endpoint `{endpoint}`: a collector URL takes no query");
    }
    let trimmed = endpoint.trim_end_matches('/');
    if uri.path().trim_end_matches('/').ends_with(TRACES_PATH) {
        Ok(trimmed.to_owned())
    } else {
        Ok(format!("{trimmed}{TRACES_PATH}"))
    }
}

/// The exporter's HTTP client: hyper-util on the command's runtime.
#[derive(Debug)]
struct HyperExport {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    runtime: Handle,
    timeout: Duration,
}

#[async_trait::async_trait]
impl HttpClient for HyperExport {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let timeout = self.timeout;
        // Spawned, not awaited in place: the batch processor's thread has no reactor.
        let task = self.runtime.spawn(async move {
            let (parts, body) = request.into_parts();
            let request = Request::from_parts(parts, Full::new(body));
            let response = tokio::time::timeout(timeout, client.request(request)).await??;
            let (parts, body) = response.into_parts();
            let body =
                tokio::time::timeout(timeout, Limited::new(body, MAX_ANSWER_BYTES).collect())
                    .await??
                    .to_bytes();
            Ok::<_, HttpError>(Response::from_parts(parts, body))
        });
        task.await?
    }
}

#[cfg(test)]
mod tests {
    use super::traces_url;

    #[test]
    fn a_base_url_gets_the_traces_path_and_a_full_one_is_kept() {
        assert_eq!(traces_url("http://127.0.0.1:4318").unwrap(), "http://127.0.0.1:4318/v1/traces");
        assert_eq!(traces_url("http://c:4318/").unwrap(), "http://c:4318/v1/traces");
        assert_eq!(traces_url("https://c/otlp/v1/traces").unwrap(), "https://c/otlp/v1/traces");
        assert_eq!(traces_url("http://c/otlp").unwrap(), "http://c/otlp/v1/traces");
    }

    #[test]
    fn only_http_urls_are_collectors() {
        for bad in ["127.0.0.1:4318", "ftp://c/", "grpc://c:4317", "http://c/?x=1", "not a url"] {
            assert!(traces_url(bad).is_err(), "{bad}");
        }
    }
}
