//! The body of every error answer: `{"error":{"code":"...","message":"..."}}`, with a
//! stable `code` per kind, so that clients branch on codes, never on text.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The kinds of error, each with its stable code and HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ErrorCode {
    /// No token, or one that is malformed, forged, expired or revoked (401).
    #[serde(rename = "unauthenticated")]
    Unauthenticated,
    /// A valid token that may not do this (403).
    #[serde(rename = "forbidden")]
    Forbidden,
    /// The body or a parameter is wrong (400).
    #[serde(rename = "bad_request")]
    BadRequest,
    /// The body is larger than the configured limit (413).
    #[serde(rename = "payload_too_large")]
    PayloadTooLarge,
    /// The token's request rate is exceeded (429, with `Retry-After`).
    #[serde(rename = "rate_limited")]
    RateLimited,
    /// No such thing, or not one this caller may see (404).
    #[serde(rename = "not_found")]
    NotFound,
    /// Already answered or expired (409).
    #[serde(rename = "conflict")]
    Conflict,
    /// A call id already used in its run by an executed call with other arguments (409).
    #[serde(rename = "call.id_conflict")]
    CallIdConflict,
    /// An idempotency key already used in its run by a call with other arguments (409).
    #[serde(rename = "call.idempotency_key_conflict")]
    IdempotencyKeyConflict,
    /// A reported result for no call aecl allowed and handed over in the run (404).
    #[serde(rename = "event.unknown_call")]
    UnknownCall,
    /// A reported event for another agent's run (403).
    #[serde(rename = "event.wrong_agent")]
    WrongAgent,
    /// A second result for one call (409).
    #[serde(rename = "event.duplicate_result")]
    DuplicateResult,
    /// The store or the engine failed: nothing was allowed (503).
    #[serde(rename = "unavailable")]
    Unavailable,
    /// A bug (a handler panicked): nothing was allowed (500).
    #[serde(rename = "internal")]
    Internal,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 14] = [
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::BadRequest,
        ErrorCode::PayloadTooLarge,
        ErrorCode::RateLimited,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::CallIdConflict,
        ErrorCode::IdempotencyKeyConflict,
        ErrorCode::UnknownCall,
        ErrorCode::WrongAgent,
        ErrorCode::DuplicateResult,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    /// The code as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::CallIdConflict => "call.id_conflict",
            ErrorCode::IdempotencyKeyConflict => "call.idempotency_key_conflict",
            ErrorCode::UnknownCall => "event.unknown_call",
            ErrorCode::WrongAgent => "event.wrong_agent",
            ErrorCode::DuplicateResult => "event.duplicate_result",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

/// The `error` object of every error answer (and of a 503 `block` answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorAnswer {
    pub error: ErrorBody,
}
