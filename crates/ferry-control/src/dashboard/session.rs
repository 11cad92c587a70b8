//! Dashboard sessions: a random ID in an HttpOnly, SameSite=Strict cookie (`Secure` when the
//! dashboard is served over TLS), kept here only as its SHA-256, so a memory dump does not
//! hand out live sessions. A session ends on sign-out, after [`IDLE`] without a request,
//! after [`LIFETIME`] in all, and as soon as its API key is deleted: every request looks the
//! key up again.
//!
//! Sessions live in this process's memory: a restart signs everyone out, and on several
//! nodes a browser must keep to the node it signed in on.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use ferry_store::ApiKey;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::pages::problem;
use super::OverTls;
use crate::AppState;

/// A session unused this long is over.
pub(crate) const IDLE: Duration = Duration::from_secs(12 * 3600);
/// A session is over this long after sign-in, however busy.
pub(crate) const LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// The cookie holding the session ID.
pub(crate) const COOKIE_NAME: &str = "ferry_session";

/// A secret shown once after a create (an authtoken, an API key), kept until the page that
/// shows it is read.
#[derive(Clone, Debug)]
pub(crate) struct Shown {
    /// Which page shows it: `authtokens` or `api_keys`.
    pub page: &'static str,
    /// The ID of what was created.
    pub id: String,
    /// The secret itself.
    pub token: String,
}

struct Entry {
    key_id: String,
    csrf: String,
    started: Instant,
    last_seen: Instant,
    shown: Option<Shown>,
}

/// Every live session of this process, by the hash of its ID.
#[derive(Default)]
pub struct Sessions {
    by_hash: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sessions")
    }
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

impl Sessions {
    /// Starts a session for `key` and returns its ID, for the cookie. Ended sessions are
    /// dropped on the way, so the table holds live ones only.
    pub(crate) fn start(&self, key: &ApiKey) -> String {
        let id = random_token();
        let now = Instant::now();
        let mut table = self.lock();
        table.retain(|_, e| live(e, now));
        table.insert(
            hash(&id),
            Entry {
                key_id: key.id.to_string(),
                csrf: random_token(),
                started: now,
                last_seen: now,
                shown: None,
            },
        );
        id
    }

    /// Ends the session with this ID, if there is one.
    pub(crate) fn end(&self, id: &str) {
        self.lock().remove(&hash(id));
    }

    /// Keeps `shown` for the next page of its kind the session reads.
    pub(crate) fn show_once(&self, id: &str, shown: Shown) {
        if let Some(e) = self.lock().get_mut(&hash(id)) {
            e.shown = Some(shown);
        }
    }

    /// The secret waiting for `page`, which is then gone for good.
    pub(crate) fn take_shown(&self, id: &str, page: &str) -> Option<Shown> {
        let mut table = self.lock();
        let e = table.get_mut(&hash(id))?;
        if e.shown.as_ref().is_some_and(|s| s.page == page) {
            return e.shown.take();
        }
        None
    }

    /// The live session with this ID (its API key ID and CSRF token), marked as used now.
    fn touch(&self, id: &str) -> Option<(String, String)> {
        let now = Instant::now();
        let mut table = self.lock();
        let h = hash(id);
        let e = table.get_mut(&h)?;
        if !live(e, now) {
            table.remove(&h);
            return None;
        }
        e.last_seen = now;
        Some((e.key_id.clone(), e.csrf.clone()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic elsewhere while holding the lock leaves the table consistent: each
        // change is a single insert or remove.
        self.by_hash.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn live(e: &Entry, now: Instant) -> bool {
    now.duration_since(e.last_seen) < IDLE && now.duration_since(e.started) < LIFETIME
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
    /// The session ID from the cookie.
    pub id: String,
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
        let Some((key_id, csrf)) = s.sessions.touch(&id) else {
            return Err(to_sign_in());
        };
        match s.store.get::<ApiKey>(&key_id).await {
            Ok(Some(key)) => Ok(Signed { id, key, csrf, tls }),
            Ok(None) => {
                // The key was deleted: its sessions end with it.
                s.sessions.end(&id);
                Err(to_sign_in())
            }
            Err(e) => Err(problem(crate::ApiError::from(e))),
        }
    }
}
