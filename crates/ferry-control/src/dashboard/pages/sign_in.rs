//! `GET /`: sign in with an API key, checked as the REST API checks its Bearer key; then a
//! session cookie. Sign out ends the session.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::response::{AppendHeaders, IntoResponse, Response};
use maud::html;

use super::{csrf_field, see, shell, words};
use crate::dashboard::csrf::{self, Fields, Posted};
use crate::dashboard::session::{self, cookie, random_token, set_cookie, Signed};
use crate::dashboard::OverTls;
use crate::{ApiError, AppState};

/// The cookie of the sign-in form's double-submit token.
const SIGN_IN_COOKIE: &str = "ferry_sign_in";

/// Where a signed-in browser goes first.
const FIRST_PAGE: &str = "/dashboard/domains";

/// The sign-in page, with a new double-submit token; a browser already signed in goes on.
pub(crate) async fn page(State(s): State<AppState>, req: Request) -> Response {
    let (mut parts, _) = req.into_parts();
    let tls = parts.extensions.get::<OverTls>().is_some();
    if Signed::from_request_parts(&mut parts, &s).await.is_ok() {
        return see(FIRST_PAGE);
    }
    form(tls, StatusCode::OK, None)
}

fn form(tls: bool, status: StatusCode, error: Option<&ApiError>) -> Response {
    let token = random_token();
    let body = html! {
        h1 { "Sign in" }
        form.stack method="post" action="/dashboard/sign-in" {
            (csrf_field(&token))
            div {
                label for="api_key" { "API key" }
                input #api_key type="password" name="api_key" autocomplete="off" required
                    aria-describedby="api_key-hint api_key-error" autofocus;
                p.hint #api_key-hint {
                    "An API key of this edge: "
                    code { "ferry edge api-key create" }
                    " prints one, and dev mode writes one to dev.json."
                }
                @if let Some(e) = error {
                    p.error #api_key-error role="alert" { (words(e)) }
                }
            }
            div { button type="submit" { "Sign in" } }
        }
    };
    (
        status,
        AppendHeaders([set_cookie(SIGN_IN_COOKIE, Some(&token), tls)]),
        shell("Sign in", None, "", body),
    )
        .into_response()
}

/// Checks the form's token against its cookie, then the API key; a good key starts a
/// session (always a new ID, so a planted cookie is never promoted).
pub(crate) async fn submit(State(s): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let tls = parts.extensions.get::<OverTls>().is_some();
    let Ok(body) = axum::body::to_bytes(body, 16 * 1024).await else {
        return csrf::refused();
    };
    let fields = match Fields::parse(&body) {
        Ok(f) => f,
        Err(e) => return super::problem(e),
    };
    let expected = cookie(&parts.headers, SIGN_IN_COOKIE).unwrap_or_default();
    if !csrf::same(&fields.get(csrf::FIELD), expected) {
        return csrf::refused();
    }
    match crate::auth::api_key(&s, &fields.get("api_key")).await {
        Ok(key) => {
            let id = match session::start(&s, &key).await {
                Ok(id) => id,
                Err(e) => return super::problem(e),
            };
            (
                AppendHeaders([
                    set_cookie(session::COOKIE_NAME, Some(&id), tls),
                    set_cookie(SIGN_IN_COOKIE, None, tls),
                ]),
                see(FIRST_PAGE),
            )
                .into_response()
        }
        Err(e) => {
            let status =
                StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::UNAUTHORIZED);
            form(tls, status, Some(&e))
        }
    }
}

/// Ends the session and forgets its cookie.
pub(crate) async fn sign_out(State(s): State<AppState>, posted: Posted) -> Response {
    if let Err(e) = posted.signed.end(&s).await {
        return super::problem(e);
    }
    (
        AppendHeaders([set_cookie(session::COOKIE_NAME, None, posted.signed.tls)]),
        see("/"),
    )
        .into_response()
}
