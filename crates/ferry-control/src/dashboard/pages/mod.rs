//! The pages: one file per part of the navigation, and here what they all share: the page
//! shell with the navigation (the guides' words) and errors shown in words with their code.

pub(super) mod agent_ingresses;
pub(super) mod api_keys;
pub(super) mod authtoken_edit;
pub(super) mod authtokens;
pub(super) mod bot_users;
mod certificate_authorities;
pub(super) mod certificates;
pub(super) mod check_status;
pub(super) mod domains;
pub(super) mod edge;
mod form;
pub(super) mod listed;
pub(super) mod live;
pub(super) mod sign_in;
mod tls_certificates;

use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ferry_store::{
    AgentIngress, ApiKey, BotUser, CertificateAuthority, Credential, ReservedDomain, TlsCertificate,
};
use ferry_types::ErrorCode;
use maud::{html, Markup, DOCTYPE};
use serde_json::Value;

use self::listed::OnDashboard;
use super::csrf;
use super::session::{Shown, Signed};
use crate::{ApiError, AppState};

/// The entries of the navigation, in the guides' words, with their paths.
const NAV: [(&str, &str); 9] = [
    (ReservedDomain::NAV, ReservedDomain::PATH),
    (AgentIngress::NAV, AgentIngress::PATH),
    (Credential::NAV, Credential::PATH),
    (BotUser::NAV, BotUser::PATH),
    (ApiKey::NAV, ApiKey::PATH),
    (CertificateAuthority::NAV, CertificateAuthority::PATH),
    (TlsCertificate::NAV, TlsCertificate::PATH),
    ("Live", "/dashboard/live"),
    ("Edge", "/dashboard/edge"),
];
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

/// After a secret was created (`created`, the REST answer with its `id` and `token`): kept for
/// the list page at `path` to show once, then that page.
pub(crate) async fn show_created(
    s: &AppState,
    signed: &Signed,
    page: &'static str,
    created: &Value,
    path: &str,
) -> Response {
    let shown = Shown {
        page,
        id: created["id"].as_str().unwrap_or_default().to_string(),
        token: created["token"].as_str().unwrap_or_default().to_string(),
    };
    match signed.show_once(s, shown).await {
        Ok(()) => see(path),
        Err(e) => problem(e),
    }
}

/// A secret shown once, with a copy button (hidden until the script shows it).
pub(crate) fn shown_once(title: &str, note: &str, shown: &Shown) -> Markup {
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
