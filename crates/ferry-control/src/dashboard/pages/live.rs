//! "Live": the edge's tunnel sessions (agent version, address, region, started at, the
//! tunnels each holds) and its endpoints, with ngrok's restart / stop / update actions,
//! which go to the agent by the code `POST /tunnel_sessions/{id}/{action}` runs. The page
//! stays current without a reload: `live.js` fetches the fragment every few seconds; without
//! JavaScript a reload shows the same.

use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use super::{csrf_field, problem, see, shell, words};
use crate::dashboard::csrf::Posted;
use crate::dashboard::session::Signed;
use crate::live::{command_session, region, ACTIONS};
use crate::{rfc3339, ApiError, AppState, LiveSession, LiveTunnel};

const NAV: &str = "Live";
const PATH: &str = "/dashboard/live";

/// How often the page asks for the fragment again, in milliseconds (read by `live.js`).
const REFRESH_MS: u32 = 3000;

pub(crate) async fn page(State(s): State<AppState>, signed: Signed) -> Response {
    full(&s, &signed, None)
}

/// The page, with the error of an action that failed above the tables.
fn full(s: &AppState, signed: &Signed, error: Option<&ApiError>) -> Response {
    let status = error.map_or(StatusCode::OK, |e| {
        StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::BAD_GATEWAY)
    });
    let body = html! {
        h1 { "Live" }
        @if let Some(e) = error { p.error role="alert" { (words(e)) } }
        div #live data-fragment={ (PATH) "/fragment" } data-every=(REFRESH_MS) aria-live="polite" {
            (fragment(s, signed))
        }
        script src="/dashboard/assets/live.js" defer {}
    };
    (status, shell(NAV, Some(signed), NAV, body)).into_response()
}

/// The tables alone, which `live.js` puts in place of the old ones.
pub(crate) async fn fragment_only(State(s): State<AppState>, signed: Signed) -> Response {
    (
        [(CONTENT_TYPE, "text/html; charset=utf-8")],
        fragment(&s, &signed),
    )
        .into_response()
}

fn fragment(s: &AppState, signed: &Signed) -> Markup {
    let mut sessions = s.live.sessions();
    sessions.sort_by_key(|t| std::cmp::Reverse(t.started_at));
    let mut tunnels = s.live.tunnels();
    tunnels.sort_by(|a, b| a.public_url.cmp(&b.public_url));
    let region = region(s);
    html! {
        h2 #sessions { "Tunnel Sessions (" (sessions.len()) ")" }
        @if sessions.is_empty() {
            p { "No agent is connected." }
        } @else {
            table {
                thead { tr {
                    th { "Session" } th { "Agent Version" } th { "Address" } th { "Region" }
                    th { "Started At" } th { "Tunnels" } th { span.hint { "Actions" } }
                } }
                tbody {
                    @for t in &sessions { (session_row(t, &tunnels, &region, signed)) }
                }
            }
        }
        h2 #endpoints { "Endpoints (" (tunnels.len()) ")" }
        @if tunnels.is_empty() {
            p { "No endpoints are online." }
        } @else {
            table {
                thead { tr { th { "URL" } th { "Protocol" } th { "Forwards To" } th { "Session" } th { "Started At" } } }
                tbody {
                    @for t in &tunnels {
                        tr {
                            td data-label="URL" { code { (t.public_url) } }
                            td data-label="Protocol" { (t.proto) }
                            td data-label="Forwards To" { code { (t.forwards_to) } }
                            td data-label="Session" { code { (t.session_id) } }
                            td data-label="Started At" { (rfc3339(t.started_at)) }
                        }
                    }
                }
            }
        }
    }
}

fn session_row(t: &LiveSession, tunnels: &[LiveTunnel], region: &str, signed: &Signed) -> Markup {
    let held: Vec<&LiveTunnel> = tunnels.iter().filter(|u| u.session_id == t.id).collect();
    html! {
        tr {
            td data-label="Session" {
                code { (t.id) }
                p.hint { "authtoken " code { (t.credential_id) } }
            }
            td data-label="Agent Version" { (t.agent_version) " " span.hint { (t.os) } }
            td data-label="Address" { (t.ip) }
            td data-label="Region" { (region) }
            td data-label="Started At" { (rfc3339(t.started_at)) }
            td data-label="Tunnels" {
                @if held.is_empty() { "none" }
                @for (i, u) in held.iter().enumerate() {
                    @if i > 0 { br; }
                    code { (u.public_url) }
                }
            }
            td {
                @for (action, _) in ACTIONS {
                    form.inline method="post" action={ (PATH) "/" (t.id) "/" (action) } {
                        (csrf_field(&signed.csrf))
                        button.quiet type="submit" aria-label={ (action) " " (t.id) } { (title(action)) }
                    }
                    " "
                }
            }
        }
    }
}

/// `restart` → `Restart`, for a button.
fn title(action: &str) -> String {
    let mut c = action.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Restart, stop or update a session's agent, as `POST /tunnel_sessions/{id}/{action}` does.
pub(crate) async fn act(
    State(s): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    let Some((action, command)) = ACTIONS.into_iter().find(|(a, _)| *a == action) else {
        return problem(ApiError::new(
            ferry_types::ErrorCode::NotFound,
            format!("no such action {action:?}: restart, stop or update"),
        ));
    };
    match command_session(&s, &id, action, command).await {
        Ok(()) => see(PATH),
        Err(e) => full(&s, &posted.signed, Some(&e)),
    }
}
