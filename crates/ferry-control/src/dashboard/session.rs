//! Dashboard sessions: a random ID in an HttpOnly, SameSite=Strict cookie (`Secure` when the
//! dashboard is served over TLS), kept in the store only as its SHA-256, so a copy of the
//! database does not hand out live sessions. A session ends on sign-out, after [`IDLE`]
//! without a request, after [`LIFETIME`] in all, and as soon as its API key is deleted: the
//! delete ends them, and every request looks the key up again.
//!
//! Sessions live in the store: a restart keeps them, and every node on one PostgreSQL
//! database knows them, so a browser may be sent to any node.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use ferry_store::{ApiKey, SessionExpiry};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::pages::problem;
use super::OverTls;
use crate::{ApiError, AppState};

/// A session unused this long (seconds: 12 hours) is over.
pub(crate) const IDLE: i64 = 12 * 3600;
/// A session is over this long (seconds: 7 days) after sign-in, however busy.
pub(crate) const LIFETIME: i64 = 7 * 24 * 3600;
/// The cookie holding the session ID.
pub(crate) const COOKIE_NAME: &str = "ferry_session";

const EXPIRY: SessionExpiry = SessionExpiry {
    idle: IDLE,
    lifetime: LIFETIME,
};

/// A secret shown once after a create (an authtoken, an API key), kept (sealed) with the
/// session until the page that shows it is read.
#[derive(Clone, Debug)]
pub(crate) struct Shown {
    /// Which page shows it: `authtokens` or `api_keys`.
    pub page: &'static str,
    /// The ID of what was created.
    pub id: String,
    /// The secret itself.
    pub token: String,
}

/// 32 random bytes as hex: session IDs and CSRF tokens.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hash(id: &str) -> String {
    hex(&Sha256::digest(id.as_bytes()))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Starts a session for `key` and returns its ID, for the cookie.
pub(crate) async fn start(s: &AppState, key: &ApiKey) -> Result<String, ApiError> {
    let id = random_token();
    s.store
        .start_dashboard_session(&hash(&id), key.id.as_str(), &random_token(), now(), EXPIRY)
        .await?;
    Ok(id)
}

/// The value of the cookie `name` in the request's headers.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` for `name`: HttpOnly, SameSite=Strict, `Secure` over TLS; `None` deletes it.
pub(crate) fn set_cookie(name: &str, value: Option<&str>, tls: bool) -> (HeaderName, HeaderValue) {
    let mut c = match value {
        Some(v) => format!("{name}={v}; Path=/; HttpOnly; SameSite=Strict"),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    };
    if tls {
        c.push_str("; Secure");
    }
    // The value is hex or empty and the name a constant: always a valid header value.
    let value = HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""));
    (SET_COOKIE, value)
}

/// A request from a signed-in browser: its session is live and its API key still exists.
/// Without one, the browser is sent to the sign-in page.
pub(crate) struct Signed {
    /// The SHA-256 of the session ID from the cookie: how the store knows the session.
    hash: String,
    /// The API key the session signed in with, as stored now.
    pub key: ApiKey,
    /// The session's CSRF token, which every form carries back.
    pub csrf: String,
    /// Served over TLS: cookies set now get `Secure`.
    pub tls: bool,
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Response> {
        let tls = parts.extensions.get::<OverTls>().is_some();
        let to_sign_in = || Redirect::to("/").into_response();
        let Some(id) = cookie(&parts.headers, COOKIE_NAME).map(str::to_string) else {
            return Err(to_sign_in());
        };
        let hash = hash(&id);
        let found = s.store.touch_dashboard_session(&hash, now(), EXPIRY).await;
        let session = match found {
            Ok(Some(session)) => session,
            Ok(None) => return Err(to_sign_in()),
            Err(e) => return Err(problem(e.into())),
        };
        match s.store.get::<ApiKey>(&session.api_key_id).await {
            Ok(Some(key)) => Ok(Signed {
                hash,
                key,
                csrf: session.csrf,
                tls,
            }),
            Ok(None) => {
                // The key was deleted: its sessions end with it.
                let _ = s.store.end_dashboard_session(&hash).await;
                Err(to_sign_in())
            }
            Err(e) => Err(problem(e.into())),
        }
    }
}

impl Signed {
    /// Ends this session (sign-out).
    pub(crate) async fn end(&self, s: &AppState) -> Result<(), ApiError> {
        s.store.end_dashboard_session(&self.hash).await?;
        Ok(())
    }

    /// Keeps `shown` for the next page of its kind this session reads.
    pub(crate) async fn show_once(&self, s: &AppState, shown: Shown) -> Result<(), ApiError> {
        s.store
            .show_once(&self.hash, shown.page, &shown.id, &shown.token)
            .await?;
        Ok(())
    }

    /// The secret waiting for `page`, which is then gone for good.
    pub(crate) async fn take_shown(
        &self,
        s: &AppState,
        page: &'static str,
    ) -> Result<Option<Shown>, ApiError> {
        let taken = s.store.take_shown(&self.hash, page).await?;
        Ok(taken.map(|(id, token)| Shown { page, id, token }))
    }
}
