//! What the edge's scrape adds to the counters (`ferry_metrics`): the sessions and tunnels
//! it holds, its certificates and its lease, read when scraped rather than kept up to date;
//! and the listener of `--metrics-addr`, which serves it without authentication to a
//! scraper on a private network. The API's `/metrics`, behind an API key, serves the same
//! text through [`EdgeView::metrics`].

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use ferry_metrics::edge::{CertificateExpiry, Snapshot};
use ferry_proto::ClientKind;
use ferry_store::{CertJob, TlsCertificate, PENDING};
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::net::TcpListener;

use crate::{EdgeView, Shared};

impl EdgeView {
    /// The edge's metrics in Prometheus' text format ([`ferry_metrics::CONTENT_TYPE`]).
    pub async fn metrics(&self) -> String {
        ferry_metrics::edge_text(&snapshot(&self.shared).await)
    }
}

/// Counts this node's own sessions and tunnels (each node reports its own, so that a sum
/// over nodes counts each once), its certificates and its lease.
async fn snapshot(shared: &Shared) -> Snapshot {
    let mut sessions: BTreeMap<String, u64> = BTreeMap::new();
    for s in shared.sessions_now() {
        *sessions.entry(client_label(&s.client).into()).or_default() += 1;
    }
    let mut tunnels: BTreeMap<String, u64> = BTreeMap::new();
    for t in shared.registry.snapshot() {
        *tunnels.entry(t.proto.to_string()).or_default() += 1;
    }
    let (certificates, expiry) = certificates(shared).await;
    Snapshot {
        region: shared.config.region().to_string(),
        sessions: sessions.into_iter().collect(),
        tunnels: tunnels.into_iter().collect(),
        certificates,
        expiry,
        lease_age_seconds: shared.membership.lease_age().as_secs_f64(),
        live_nodes: shared.membership.live().len() as u64,
    }
}

/// The client kinds a label may take: a name an SDK-built application gave itself is
/// `other`, so that no client can make a new series.
fn client_label(client: &ClientKind) -> &'static str {
    match client {
        ClientKind::Ferry => "ferry",
        ClientKind::NgrokGo => "ngrok-go",
        ClientKind::NgrokRust => "ngrok-rust",
        ClientKind::Other(_) => "other",
        ClientKind::Unknown => "unknown",
    }
}

type Certificates = (Vec<(String, u64)>, Vec<CertificateExpiry>);

/// The certificates in the store by state, and each one's time to expiry; nothing when the
/// store cannot be read (the scrape still carries the rest, and the store's own failures
/// show in the log).
async fn certificates(shared: &Shared) -> Certificates {
    let (jobs, certs) = match tokio::try_join!(
        shared.store.all::<CertJob>(),
        shared.store.all::<TlsCertificate>()
    ) {
        Ok(both) => both,
        Err(error) => {
            tracing::debug!(%error, "metrics: cannot read the certificates");
            return (Vec::new(), Vec::new());
        }
    };
    let mut states: BTreeMap<String, u64> = BTreeMap::new();
    for job in &jobs {
        *states
            .entry(job_state(&job.state, &job.error_code).into())
            .or_default() += 1;
    }
    let uploaded = certs.iter().filter(|c| c.managed_by.is_empty()).count() as u64;
    states.insert("uploaded".into(), uploaded);
    let now = OffsetDateTime::now_utc();
    let expiry = certs
        .iter()
        .filter_map(|c| {
            let not_after = c.parsed.get("not_after")?.as_str()?;
            let not_after = OffsetDateTime::parse(not_after, &Rfc3339).ok()?;
            let names = c.parsed.pointer("/subject_alternative_names/dns_names");
            let name = names
                .and_then(|n| n.get(0))
                .or_else(|| c.parsed.get("subject_common_name"))
                .and_then(|n| n.as_str())
                .unwrap_or_default();
            Some(CertificateExpiry {
                id: c.id.to_string(),
                name: name.to_string(),
                seconds: (not_after - now).as_seconds_f64(),
            })
        })
        .collect();
    (states.into_iter().collect(), expiry)
}

/// The `state` label of a managed certificate's job: a job still pending after an attempt
/// failed (it has an error code) is `failing`, so an alert can tell a stuck job from one
/// that has not had its first attempt yet.
fn job_state(state: &str, error_code: &str) -> &'static str {
    match (state, error_code.is_empty()) {
        (PENDING, false) => "failing",
        (PENDING, true) => "pending",
        _ => "issued",
    }
}

/// Serves `GET /metrics` on `listener` to anyone who reaches it, until the drain begins: an
/// upgrade in place has handed the socket to the new process by then, which should answer
/// every scrape, not every other one.
pub(crate) async fn serve(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(error) => {
                tracing::debug!(%error, "metrics accept failed");
                continue;
            }
        };
        let view = EdgeView::new(shared.clone());
        let timeout = shared.config.handshake_timeout;
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let view = view.clone();
                async move { Ok::<_, Infallible>(answer(&view, &req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(timeout)
                .serve_connection(TokioIo::new(tcp), svc);
            if let Err(error) = conn.await {
                tracing::debug!(%peer, %error, "metrics connection ended");
            }
        });
    }
}

async fn answer(view: &EdgeView, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => (
            StatusCode::OK,
            ferry_metrics::CONTENT_TYPE,
            view.metrics().await,
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "only GET /metrics is served here\n".to_string(),
        ),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_job_with_an_error_is_failing() {
        assert_eq!(job_state("pending", ""), "pending");
        assert_eq!(job_state("pending", "DNS_ERROR"), "failing");
        assert_eq!(job_state("issued", ""), "issued");
    }

    #[test]
    fn a_client_that_names_itself_gets_no_series_of_its_own() {
        let named = ClientKind::named("my-app/1.2");
        assert_eq!(client_label(&named), "other");
        assert_eq!(client_label(&ClientKind::Ferry), "ferry");
    }
}
