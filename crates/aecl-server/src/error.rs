//! The one mapping from failures to HTTP answers: `{"error":{"code":"...","message":"..."}}`
//! with a stable, documented `code` per kind (`aecl_protocol::ErrorCode`), so clients branch
//! on codes, not on text.

use aecl_protocol::{ErrorAnswer, ErrorBody, ErrorCode};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Why a request is refused. Messages never contain a token or a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// No token, or one that is malformed, forged or expired (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// A valid token that may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The body or a parameter is wrong; the message names the field or line and column
    /// (400).
    #[error("{0}")]
    BadRequest(String),
    /// The body is larger than the configured limit (413).
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The token's request rate is exceeded (429, with `Retry-After`).
    #[error("too many requests for this token: retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// No such run (or not one this caller may see) (404).
    #[error("{0}")]
    NotFound(String),
    /// The request no longer allows this: an approval already answered or expired (409).
    #[error("{0}")]
    Conflict(String),
    /// A call id already used in its run by an executed call with other arguments (409).
    #[error("{0}")]
    CallIdConflict(String),
    /// An idempotency key already used in its run by a call with other arguments (409).
    #[error("{0}")]
    IdempotencyKeyConflict(String),
    /// A reported result names no call the engine allowed and handed over in the run
    /// (404, `event.unknown_call`).
    #[error("{0}")]
    UnknownCall(String),
    /// A reported event for a run of another agent (403, `event.wrong_agent`).
    #[error("{0}")]
    WrongAgent(String),
    /// A second result for one call (409, `event.duplicate_result`).
    #[error("{0}")]
    DuplicateResult(String),
    /// The store or the engine failed: nothing was allowed (503).
    #[error("{0}")]
    Unavailable(String),
    /// A bug (a handler panicked): nothing was allowed (500).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The stable code of the error's kind.
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    /// The kind of the error.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            ApiError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::BadRequest(_) => ErrorCode::BadRequest,
            ApiError::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            ApiError::RateLimited { .. } => ErrorCode::RateLimited,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::CallIdConflict(_) => ErrorCode::CallIdConflict,
            ApiError::IdempotencyKeyConflict(_) => ErrorCode::IdempotencyKeyConflict,
            ApiError::UnknownCall(_) => ErrorCode::UnknownCall,
            ApiError::WrongAgent(_) => ErrorCode::WrongAgent,
            ApiError::DuplicateResult(_) => ErrorCode::DuplicateResult,
            ApiError::Unavailable(_) => ErrorCode::Unavailable,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::WrongAgent(_) => StatusCode::FORBIDDEN,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotFound(_) | ApiError::UnknownCall(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_)
            | ApiError::CallIdConflict(_)
            | ApiError::IdempotencyKeyConflict(_)
            | ApiError::DuplicateResult(_) => StatusCode::CONFLICT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `error` object of the error's answer.
    pub fn error_body(&self) -> ErrorBody {
        ErrorBody { code: self.error_code(), message: self.to_string() }
    }

    /// The JSON body of the error.
    pub fn body(&self) -> ErrorAnswer {
        ErrorAnswer { error: self.error_body() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        // For the layer that records refusals (`refusals.rs`).
        response.extensions_mut().insert(self.clone());
        if let ApiError::RateLimited { retry_after_secs } = &self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        if let ApiError::Unauthenticated(_) = &self {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
