//! The pages: one file per part of the navigation, and here what they share: the page shell
//! with the navigation (the guides' words), errors shown in words with their code, and the
//! request bodies built from a form for the REST API's own create functions.

pub(super) mod agent_ingresses;
pub(super) mod api_keys;
pub(super) mod authtoken_edit;
pub(super) mod authtokens;
pub(super) mod bot_users;
pub(super) mod certificate_authorities;
mod certificates;
pub(super) mod domains;
pub(super) mod edge;
pub(super) mod live;
pub(super) mod sign_in;
pub(super) mod tls_certificates;

use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ferry_store::{BotUser, Page};
use ferry_types::ErrorCode;
use maud::{html, Markup, DOCTYPE};
use serde::de::DeserializeOwned;

use super::csrf;
use super::session::Signed;
use crate::ApiError;

/// The entries of the navigation, in the guides' words, with their paths.
const NAV: [(&str, &str); 9] = [
    ("Domains", "/dashboard/domains"),
    ("Agent Ingresses", "/dashboard/agent-ingresses"),
    ("Authtokens", "/dashboard/authtokens"),
    ("Bot Users", "/dashboard/bot-users"),
    ("API Keys", "/dashboard/api-keys"),
    (
        "Certificate Authorities",
        "/dashboard/certificate-authorities",
    ),
    ("TLS Certificates", "/dashboard/tls-certificates"),
    ("Live", "/dashboard/live"),
    ("Edge", "/dashboard/edge"),
];

/// How many rows a list shows at a time; "Older" pages on by ID, as the REST API does.
const PAGE_SIZE: u32 = 50;

/// A whole page: `current` is the navigation entry it belongs to; a signed-out page (sign-in,
/// an error) has no navigation.
pub(crate) fn shell(title: &str, signed: Option<&Signed>, current: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Ferry" }
                link rel="stylesheet" href="/dashboard/assets/dashboard.css";
            }
            body {
                header {
                    span.brand { "Ferry" }
                    @if let Some(signed) = signed {
                        nav aria-label="Main" {
                            ul {
                                @for (name, path) in NAV {
                                    li {
                                        @if name == current {
                                            a href=(path) aria-current="page" { (name) }
                                        } @else {
                                            a href=(path) { (name) }
                                        }
                                    }
                                }
                            }
                        }
                        form.inline method="post" action="/dashboard/sign-out" {
                            (csrf_field(&signed.csrf))
                            button.quiet type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
                script src="/dashboard/assets/copy.js" defer {}
            }
        }
    }
}

/// The hidden field every form carries.
pub(crate) fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name=(csrf::FIELD) value=(token); }
}

/// An API error as a page shows it: the words, then the code (and ngrok's twin).
pub(crate) fn words(e: &ApiError) -> String {
    match e.code.ngrok() {
        Some(ngrok) => format!("{} ({}, {ngrok})", e.msg, e.code),
        None => format!("{} ({})", e.msg, e.code),
    }
}

/// A form's error: shown beside `field` when the error names it, else at the top of the form.
pub(crate) struct FormError(pub ApiError);

impl FormError {
    /// The error, if it belongs to `field` (`None` for the form as a whole).
    pub(crate) fn at(e: Option<&FormError>, field: Option<&str>) -> Markup {
        let Some(FormError(e)) = e else {
            return html! {};
        };
        let here = match (e.field_name(), field) {
            (Some(named), Some(field)) => named == field,
            (None, None) => true,
            (Some(named), None) => !FormError::is_field_of_form(named),
            (None, Some(_)) => false,
        };
        let id = format!("{}-error", field.unwrap_or("form"));
        html! {
            @if here { p.error id=(id) role="alert" { (words(e)) } }
        }
    }

    /// The fields the dashboard's forms have; an error naming any other is shown at the top.
    fn is_field_of_form(name: &str) -> bool {
        [
            "domain",
            "description",
            "owner_id",
            "acl",
            "name",
            "api_key",
            "ca_pem",
            "certificate_pem",
            "private_key_pem",
        ]
        .contains(&name)
    }

    /// The status a page with this error answers.
    pub(crate) fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
    }
}

/// A REST request body built from a form, decoded into the REST API's own struct, so the
/// same fields are accepted and refused.
pub(crate) fn body<T: DeserializeOwned>(v: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| ApiError::new(ErrorCode::FieldInvalid, e.to_string()))
}

/// The page of a list that `before` (an ID from an "Older" link) asks for.
pub(crate) fn page(before: Option<String>) -> Page {
    Page {
        before_id: before.filter(|b| !b.is_empty()),
        limit: PAGE_SIZE,
    }
}

/// The "Older" link of a list whose last row is `last`, when older rows remain.
pub(crate) fn older(path: &str, more: bool, last: Option<&str>) -> Markup {
    html! {
        @if let (true, Some(last)) = (more, last) {
            p { a href={ (path) "?before=" (last) } { "Older" } }
        }
    }
}

/// The `?before=` of a list page.
#[derive(serde::Deserialize)]
pub(crate) struct Before {
    before: Option<String>,
}

impl Before {
    /// The first page: what a form shown again beside its error lists.
    pub(crate) fn none() -> Self {
        Before { before: None }
    }

    pub(crate) fn page(self) -> Page {
        page(self.before)
    }
}

/// An owner as a page names it: a bot user's name, or the operator's own account.
pub(crate) fn owner_name(bots: &[BotUser], owner_id: &str) -> String {
    if owner_id.is_empty() {
        return "Your account".into();
    }
    match bots.iter().find(|b| b.id.as_str() == owner_id) {
        Some(b) if !b.name.is_empty() => format!("{} ({owner_id})", b.name),
        _ => owner_id.to_string(),
    }
}

/// A page that could not be shown, with its status: a store failure, an unknown ID, a form
/// refused before it was read.
pub(crate) fn problem(e: ApiError) -> Response {
    let status =
        StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = html! {
        h1 { "Something went wrong" }
        p.error role="alert" { (words(&e)) }
        p { a href="/dashboard/domains" { "Back to the dashboard" } }
    };
    (status, shell("Error", None, "", body)).into_response()
}

/// After a change, the page that shows it (POST, then redirect, then GET: a reload never
/// sends the form again).
pub(crate) fn see(path: &str) -> Response {
    Redirect::to(path).into_response()
}

/// `/dashboard` itself: the first entry of the navigation.
pub(crate) async fn home(_signed: Signed) -> Response {
    see(NAV[0].1)
}

/// Any other path under `/dashboard/`, for a signed-in browser.
pub(crate) async fn not_found(signed: Signed) -> Response {
    let e = ApiError::new(ErrorCode::NotFound, "no such dashboard page");
    let body = html! {
        h1 { "Not found" }
        p.error role="alert" { (words(&e)) }
    };
    (
        StatusCode::NOT_FOUND,
        shell("Not found", Some(&signed), "", body),
    )
        .into_response()
}

pub(crate) async fn css() -> Response {
    (
        [(CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../assets/dashboard.css"),
    )
        .into_response()
}

pub(crate) async fn live_js() -> Response {
    (
        [(CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../assets/live.js"),
    )
        .into_response()
}

pub(crate) async fn copy_js() -> Response {
    (
        [(CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../assets/copy.js"),
    )
        .into_response()
}

/// A secret shown once, with a copy button (hidden until the script shows it).
pub(crate) fn shown_once(title: &str, note: &str, shown: &super::session::Shown) -> Markup {
    html! {
        section.panel.success role="status" {
            h2 { (title) }
            p { "ID " code { (shown.id) } }
            p { code.secret #new-secret { (shown.token) } }
            p { button.quiet type="button" data-copy="new-secret" hidden { "Copy" } }
            p { strong { (note) } }
        }
    }
}
