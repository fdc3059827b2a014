//! Who is calling: the session cookie or the admin bearer token of a request, resolved once
//! per request by the [`Caller`] extractor.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};

use super::{AccountError, Role, SESSION_TTL, User};
use crate::AppState;
use crate::error::ApiError;
use crate::secret;

pub const COOKIE: &str = "onair_session";

#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous,
    /// A session cookie that names no live session (expired, signed out, or forged).
    Stale,
    User(User),
    /// `Authorization: Bearer ADMIN_TOKEN` from the config.
    AdminToken,
}

impl Caller {
    pub fn user(&self) -> Option<&User> {
        match self {
            Caller::User(u) => Some(u),
            _ => None,
        }
    }

    pub fn is_admin(&self) -> bool {
        match self {
            Caller::AdminToken => true,
            Caller::User(u) => u.role == Role::Admin,
            _ => false,
        }
    }

    /// The signed-in user, or why there is none.
    pub fn signed_in(&self) -> Result<&User, AccountError> {
        match self {
            Caller::User(u) => Ok(u),
            Caller::Stale => Err(AccountError::StaleSession),
            _ => Err(AccountError::NotSignedIn),
        }
    }

    pub fn require_admin(&self) -> Result<(), AccountError> {
        match self {
            _ if self.is_admin() => Ok(()),
            Caller::User(_) => Err(AccountError::Role("admin")),
            Caller::Stale => Err(AccountError::StaleSession),
            _ => Err(AccountError::NotSignedIn),
        }
    }

    /// Resolves the caller from request headers (also used outside extractors, e.g. by the
    /// media access check).
    pub fn from_headers(state: &AppState, headers: &HeaderMap) -> Result<Self, ApiError> {
        if let (Some(expected), Some(given)) = (&state.config.admin_token, bearer(headers))
            && secret::same(expected.as_bytes(), given.as_bytes())
        {
            return Ok(Caller::AdminToken);
        }
        let Some(token) = session_cookie(headers) else {
            return Ok(Caller::Anonymous);
        };
        Ok(match state.accounts.session_user(token)? {
            Some(user) => Caller::User(user),
            None => Caller::Stale,
        })
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        Self::from_headers(state, &parts.headers)
    }
}

/// `Authorization: Bearer TOKEN`.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let h = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = h.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The value of our session cookie, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == COOKIE && !v.is_empty()).then_some(v)
        })
}

/// `Set-Cookie` for a new session; `Secure` when the client reached us over HTTPS.
pub fn set_cookie(token: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{secure}",
        SESSION_TTL.as_secs()
    );
    // Tokens are base64url, so the value is always a valid header.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub fn clear_cookie(secure: bool) -> HeaderValue {
    if secure {
        HeaderValue::from_static(
            "onair_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Secure",
        )
    } else {
        HeaderValue::from_static("onair_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_bearer() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; onair_session=tok; b=2"),
        );
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer  xyz "),
        );
        assert_eq!(session_cookie(&h), Some("tok"));
        assert_eq!(bearer(&h), Some("xyz"));
        let c = set_cookie("tok", true);
        let c = c.to_str().unwrap();
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.ends_with("; Secure"),
            "{c}"
        );
        assert!(
            !set_cookie("tok", false)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
        h.insert(header::COOKIE, HeaderValue::from_static("onair_session="));
        assert_eq!(session_cookie(&h), None);
    }
}
