//! "Edge": what this edge is at a glance: its version and uptime, what it listens on, which
//! database it keeps its state in, how many agent sessions and tunnels it holds, and the
//! certificates that expire within [`SOON`] (a renewal that keeps failing shows here first).

use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use ferry_store::{Backend, TlsCertificate};
use maud::html;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{problem, shell};
use crate::dashboard::session::Signed;
use crate::{rfc3339, AppState};

const NAV: &str = "Edge";

/// How far ahead expiring certificates are listed: 30 days.
const SOON: Duration = Duration::from_secs(30 * 24 * 3600);

pub(crate) async fn page(State(s): State<AppState>, signed: Signed) -> Response {
    let certificates = match s.store.all::<TlsCertificate>().await {
        Ok(c) => c,
        Err(e) => return problem(e.into()),
    };
    let now = SystemTime::now();
    let mut expiring: Vec<(OffsetDateTime, &TlsCertificate)> = certificates
        .iter()
        .filter_map(|c| {
            let at = OffsetDateTime::parse(c.parsed["not_after"].as_str()?, &Rfc3339).ok()?;
            (at < OffsetDateTime::from(now + SOON)).then_some((at, c))
        })
        .collect();
    expiring.sort_by_key(|(at, _)| *at);
    let config = &s.config;
    let uptime = now.duration_since(config.started_at).unwrap_or_default();
    let database = match s.store.backend() {
        Backend::Sqlite => "SQLite (this node only)",
        Backend::Postgres => "PostgreSQL (shared by the nodes on it)",
    };
    let body = html! {
        h1 { "Edge" }
        dl {
            dt { "Version" } dd { (config.version) }
            dt { "Started At" } dd { (rfc3339(config.started_at)) }
            dt { "Uptime" } dd { (human(uptime)) }
            dt { "Database" } dd { (database) }
            dt { "Tunnel Sessions" } dd { (s.live.sessions().len()) }
            dt { "Tunnels" } dd { (s.live.tunnels().len()) }
            dt { "TLS Certificates" } dd { (certificates.len()) }
        }
        h2 { "Listeners" }
        table {
            thead { tr { th { "Serves" } th { "Address" } } }
            tbody {
                @for (what, addr) in &config.listeners {
                    tr { td data-label="Serves" { (what) } td data-label="Address" { code { (addr) } } }
                }
            }
        }
        h2 #expiring { "Certificates Expiring Within 30 Days (" (expiring.len()) ")" }
        @if expiring.is_empty() {
            p { "None." }
        } @else {
            table {
                thead { tr { th { "Certificate" } th { "Names" } th { "Expires" } } }
                tbody {
                    @for (at, c) in &expiring {
                        tr {
                            td data-label="Certificate" { code { (c.id) } }
                            td data-label="Names" { (names(&c.parsed)) }
                            td data-label="Expires" {
                                @if *at < OffsetDateTime::from(now) { strong.mark-bad { "expired " } }
                                (c.parsed["not_after"].as_str().unwrap_or_default())
                            }
                        }
                    }
                }
            }
        }
    };
    shell(NAV, Some(&signed), NAV, body).into_response()
}

/// A certificate's DNS names, or its subject's common name.
fn names(parsed: &serde_json::Value) -> String {
    let dns: Vec<&str> = parsed["subject_alternative_names"]["dns_names"]
        .as_array()
        .map(|l| l.iter().filter_map(|n| n.as_str()).collect())
        .unwrap_or_default();
    if dns.is_empty() {
        parsed["subject_common_name"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    } else {
        dns.join(", ")
    }
}

/// `3 d 4 h 5 min`: an uptime as a person reads it.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, minutes) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (days, hours) {
        (0, 0) => format!("{minutes} min"),
        (0, _) => format!("{hours} h {minutes} min"),
        _ => format!("{days} d {hours} h {minutes} min"),
    }
}
