//! Who is using the approvals page: the approver's token held in an `HttpOnly`,
//! `SameSite=Strict` cookie scoped to `/ui`, and the CSRF checks on every form post.
//!
//! The page has no login of its own: an approver pastes a token from `aecl token issue
//! --role approver`, the server verifies it exactly as the API does, and the cookie lives
//! no longer than the token. A form post must carry the session's CSRF value (derived from
//! the token with a domain-separated SHA-256, so it reveals nothing of the token and needs
//! no server-side state) and, when the browser sends one, an `Origin` of this server's own
//! host. `SameSite=Strict` alone would already keep other sites' posts cookie-less; the two
//! checks hold for browsers or proxies that do not honour it.

use std::sync::Arc;

use aecl_engine::Store;
use aecl_engine::identity::{Claims, Role};
use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::auth::refuse;
use crate::error::ApiError;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "aecl_session";

/// What the CSRF value is derived with: no other hash of a token is ever this one.
const CSRF_DOMAIN: &[u8] = b"aecl-ui-csrf-v1\n";

/// A signed-in approver (or administrator, who may read but not answer).
#[derive(Debug, Clone)]
pub struct Session {
    pub claims: Claims,
    /// The value every form of this session carries.
    pub csrf: String,
}

impl Session {
    pub fn can_answer(&self) -> bool {
        self.claims.role == Role::Approver
    }
}

/// The CSRF value of a session token: hex SHA-256 over a domain line and the token.
pub fn csrf_value(token: &str) -> String {
    aecl_core::call::hex(&Sha256::new().chain_update(CSRF_DOMAIN).chain_update(token).finalize())
}

/// Equality in time independent of where the values differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Refuses a form post (403) whose CSRF value is not the session's, or whose `Origin`
/// names another host.
pub fn check_post(headers: &HeaderMap, session_csrf: &str, form_csrf: &str) -> Result<(), String> {
    check_origin(headers)?;
    if !same(session_csrf, form_csrf) {
        return Err("the form's CSRF value does not match this session: reload the page".into());
    }
    Ok(())
}

/// Refuses a post whose `Origin` header (when the browser sends one) is not this server.
pub fn check_origin(headers: &HeaderMap) -> Result<(), String> {
    let Some(origin) = headers.get(ORIGIN) else { return Ok(()) };
    let host = headers.get(HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let origin = origin.to_str().unwrap_or("");
    let origin_host =
        origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")).unwrap_or("");
    if host.is_empty() || origin_host != host {
        return Err(format!(
            "a form posted from `{origin}` is refused: only this server's own page may post"
        ));
    }
    Ok(())
}

/// The `Set-Cookie` value that starts a session for `token`, expiring with it.
pub fn start_cookie(token: &str, max_age_secs: u64) -> HeaderValue {
    let value = format!(
        "{COOKIE_NAME}={token}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}"
    );
    // Tokens are base64url with dots: always a valid header value.
    HeaderValue::from_str(&value).unwrap_or_else(|_| end_cookie())
}

/// The `Set-Cookie` value that ends a session.
pub fn end_cookie() -> HeaderValue {
    HeaderValue::from_static("aecl_session=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The session token from the request's cookies, if any.
pub fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE_NAME)?.strip_prefix('='))
        .filter(|token| !token.is_empty())
}

/// Verifies `token` for the page: an approver's or an administrator's. A refusal is
/// recorded as the API's are.
pub async fn verify<S: Store>(state: &AppState<S>, token: &str) -> Result<Claims, ApiError> {
    // Every issuer the API accepts (an IdP's tokens too), revocation included.
    let claims = crate::auth::authenticate(state, token).await?;
    if !matches!(claims.role, Role::Approver | Role::Admin) {
        let error = ApiError::Forbidden(format!(
            "the approvals page needs an approver (or admin) token, not `{}`",
            claims.role.as_str()
        ));
        return Err(refuse(state, Some(&claims), error).await);
    }
    Ok(claims)
}

impl<S: Store> FromRequestParts<Arc<AppState<S>>> for Session {
    /// To the login page, ending a session whose token no longer verifies.
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState<S>>,
    ) -> Result<Session, Response> {
        let Some(token) = cookie_token(&parts.headers) else {
            return Err(Redirect::to("/ui/login").into_response());
        };
        match verify(state, token).await {
            Ok(claims) => Ok(Session { claims, csrf: csrf_value(token) }),
            Err(ApiError::RateLimited { retry_after_secs }) => {
                Err(ApiError::RateLimited { retry_after_secs }.into_response())
            }
            Err(_) => {
                let mut response = Redirect::to("/ui/login?expired=1").into_response();
                response.headers_mut().insert(axum::http::header::SET_COOKIE, end_cookie());
                Err(response)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_values_differ_per_token_and_compare_exactly() {
        let a = csrf_value("aecl1.a.b");
        assert_eq!(a.len(), 64);
        assert_ne!(a, csrf_value("aecl1.a.c"));
        assert!(same(&a, &csrf_value("aecl1.a.b")));
        assert!(!same(&a, &a[..63]));
        assert!(!same(&a, ""));
    }

    #[test]
    fn only_this_hosts_origin_may_post() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(check_origin(&headers).is_ok(), "no Origin: older browsers, curl");
        headers.insert(ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(check_origin(&headers).is_ok());
        headers.insert(ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert!(check_origin(&headers).is_err());
        headers.insert(ORIGIN, HeaderValue::from_static("null"));
        assert!(check_origin(&headers).is_err());
        assert!(check_post(&HeaderMap::new(), "abc", "abd").is_err());
    }
}
