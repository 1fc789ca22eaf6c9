//! The request span: every MCP request the gateway handles (`initialize`,
//! `server/discover`, `ping`, `tools/list`, `tools/call`) runs inside `aecl.mcp`, which
//! continues the caller's trace when the request carries a W3C trace context, so the spans
//! of the engine's stages (`aecl.stage`) of a `tools/call` appear under the agent's own
//! trace.
//!
//! Where the context is read: the JSON-RPC request's `params._meta.traceparent` (and
//! `tracestate`), the convention of OpenTelemetry's MCP semantic conventions, on any
//! transport; else, over streamable HTTP, the `traceparent` and `tracestate` headers of the
//! POST that carried the request. A `_meta` context wins when both are there: it is the
//! caller's own for this one request, where a header may be its HTTP client's. A malformed
//! one is ignored (the span starts a new trace), never an error, and it never reaches the
//! decision: rmcp keeps `_meta` apart from the call's `arguments`, and only those are the
//! call's arguments.
//!
//! Nothing here exports anything: the binary installs an OpenTelemetry layer and the
//! propagator (`aecl mcp --otlp-endpoint`); without them the extraction finds no
//! propagator and the span is an ordinary `tracing` span. The span records the JSON-RPC
//! method and, for `tools/call`, the tool's name as exposed; never an argument's value,
//! nor a header's.

use hyper::http::HeaderMap;
use hyper::http::request::Parts;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use rmcp::RoleServer;
use rmcp::model::JsonObject;
use rmcp::service::RequestContext;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The `_meta` key (and header) of the W3C `traceparent`.
const TRACEPARENT: &str = "traceparent";

/// The span of one request of `method` (its JSON-RPC method), parented on the caller's
/// trace context; `tool` is a `tools/call`'s tool, as exposed.
pub(crate) fn request_span(
    method: &'static str,
    tool: Option<&str>,
    context: &RequestContext<RoleServer>,
) -> tracing::Span {
    let span = tracing::info_span!(
        "aecl.mcp",
        otel.kind = "server",
        mcp.method.name = method,
        gen_ai.tool.name = tool,
    );
    let headers = context.extensions.get::<Parts>().map(|parts| &parts.headers);
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        caller_context(propagator, &context.meta.0.0, headers)
    });
    // Fails only when no OpenTelemetry layer is installed: then there is nothing to link.
    let _ = span.set_parent(parent);
    span
}

/// The caller's trace context as `propagator` reads it from a request's `_meta`, or from
/// the headers of the HTTP request that carried it when `_meta` has no `traceparent`.
/// Empty (a new trace) when neither has one that parses.
fn caller_context(
    propagator: &dyn TextMapPropagator,
    meta: &JsonObject,
    headers: Option<&HeaderMap>,
) -> opentelemetry::Context {
    match headers {
        Some(headers) if !meta.contains_key(TRACEPARENT) => propagator.extract(&Headers(headers)),
        _ => propagator.extract(&Meta(meta)),
    }
}

/// A request's `_meta` as the propagator reads it: its string values.
struct Meta<'a>(&'a JsonObject);

impl Extractor for Meta<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(serde_json::Value::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// The headers of the HTTP request that carried the MCP request.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(hyper::http::HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TraceContextExt as _;
    use opentelemetry_sdk::propagation::TraceContextPropagator;

    use super::*;

    const HEADER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const META: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    /// The trace and parent span ids of the caller's context, or `None` for a new trace.
    fn parent(meta: &[(&str, serde_json::Value)], header: Option<&str>) -> Option<String> {
        let meta: JsonObject = meta.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        let mut headers = HeaderMap::new();
        if let Some(value) = header {
            headers.insert(TRACEPARENT, value.parse().unwrap());
        }
        let context = caller_context(&TraceContextPropagator::new(), &meta, Some(&headers));
        let span = context.span().span_context().clone();
        span.is_valid().then(|| format!("{}-{}", span.trace_id(), span.span_id()))
    }

    #[test]
    fn the_header_is_the_parent_when_meta_has_no_traceparent() {
        let progress = [("progressToken", 7.into())];
        assert_eq!(
            parent(&progress, Some(HEADER)).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7")
        );
        assert_eq!(parent(&[], None), None);
    }

    #[test]
    fn a_meta_traceparent_wins_over_the_header() {
        let meta = [(TRACEPARENT, META.into())];
        assert_eq!(
            parent(&meta, Some(HEADER)).as_deref(),
            Some("0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331")
        );
        assert_eq!(parent(&meta, None), parent(&meta, Some(HEADER)));
    }

    #[test]
    fn a_malformed_traceparent_starts_a_new_trace() {
        for bad in ["garbage".into(), "00-zz-yy-01".into(), 17.into()] {
            assert_eq!(parent(&[(TRACEPARENT, bad)], Some(HEADER)), None);
        }
        assert_eq!(
            parent(&[], Some("00-00000000000000000000000000000000-00f067aa0ba902b7-01")),
            None
        );
    }
}
