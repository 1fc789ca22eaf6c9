//! The request span: every request runs inside `aecl.request`, which continues the
//! caller's trace when the request carries a W3C `traceparent` (and `tracestate`), so the
//! spans of the pipeline's stages (`aecl.stage`) appear under the agent's own trace.
//!
//! Nothing here exports anything: the binary installs an OpenTelemetry layer and the
//! propagator (`aecl serve --otlp-endpoint`); without them the extraction finds no
//! propagator and the span is an ordinary `tracing` span. The span records the method,
//! the route's path and the status, never a header's or a body's value.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::propagation::Extractor;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Runs the request inside its span.
pub async fn request_span(request: Request, next: Next) -> Response {
    // The route's pattern (`/v1/approvals/{id}`), not the path: ids stay out of span names.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let span = tracing::info_span!(
        "aecl.request",
        otel.name = format!("{} {route}", request.method()),
        otel.kind = "server",
        http.request.method = %request.method(),
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&Headers(request.headers()))
    });
    // Fails only when no OpenTelemetry layer is installed: then there is nothing to link.
    let _ = span.set_parent(parent);
    let response = next.run(request).instrument(span.clone()).await;
    span.record("http.response.status_code", i64::from(response.status().as_u16()));
    response
}

/// The request's headers as the propagator reads them.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(axum::http::HeaderName::as_str).collect()
    }
}
