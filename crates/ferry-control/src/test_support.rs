//! What the in-process tests of the router and of the dashboard share: the API over a scratch
//! store ([`Api`]), Check Status's lookups answered from a table the test fills, and one
//! stand-in for the edge ([`Edge`]) that each test gives the agents it needs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use bytes::Bytes;
use ferry_dnscheck::{Answer, Kind, LookupFuture, Lookups};
use ferry_store::testing::ScratchDir;
use ferry_store::Store;
use serde_json::Value;
use tower::ServiceExt;

use crate::{
    router, AppState, CommandFailure, CommandFuture, ControlConfig, DnsFuture, Live, LiveSession,
    LiveTunnel, MetricsFuture, SessionCommand,
};

/// The one session [`Edge::with_agent`] has.
pub(crate) const SESSION: &str = "ts_0123456789abcdefghijABCDEFG";

/// The edge as the tests see it: no agents unless [`Edge::with_agent`], the commands sent
/// and the DNS rebuilds asked for counted so that a test can check them.
pub(crate) struct Edge {
    sessions: Vec<LiveSession>,
    tunnels: Vec<LiveTunnel>,
    answer: fn(SessionCommand) -> Result<(), CommandFailure>,
    /// Each command sent, with its session ID.
    pub(crate) commands: Mutex<Vec<(String, SessionCommand)>>,
    pub(crate) dns_rebuilds: AtomicUsize,
}

impl Default for Edge {
    fn default() -> Self {
        Self {
            sessions: Vec::new(),
            tunnels: Vec::new(),
            answer: |_| Err(CommandFailure::NoSession),
            commands: Mutex::new(Vec::new()),
            dns_rebuilds: AtomicUsize::new(0),
        }
    }
}

impl Edge {
    /// One agent ([`SESSION`]) with one HTTPS tunnel, answering each command with `answer`.
    pub(crate) fn with_agent(answer: fn(SessionCommand) -> Result<(), CommandFailure>) -> Self {
        Self {
            sessions: vec![LiveSession {
                id: SESSION.into(),
                credential_id: "cr_1".into(),
                ip: "192.0.2.7".into(),
                os: "linux".into(),
                agent_version: "3.19.0".into(),
                metadata: String::new(),
                started_at: SystemTime::UNIX_EPOCH,
                region: String::new(),
            }],
            tunnels: vec![LiveTunnel {
                id: "tn_1".into(),
                session_id: SESSION.into(),
                public_url: "https://app.customer1.example.com".into(),
                proto: "https".into(),
                metadata: String::new(),
                forwards_to: "http://localhost:8080".into(),
                started_at: SystemTime::UNIX_EPOCH,
                region: String::new(),
            }],
            answer,
            ..Self::default()
        }
    }
}

impl Live for Edge {
    fn draining(&self) -> bool {
        false
    }

    fn live_regions(&self) -> Vec<String> {
        Vec::new()
    }
    fn sessions(&self) -> Vec<LiveSession> {
        self.sessions.clone()
    }
    fn tunnels(&self) -> Vec<LiveTunnel> {
        self.tunnels.clone()
    }
    fn command<'a>(&'a self, id: &'a str, command: SessionCommand) -> CommandFuture<'a> {
        self.commands
            .lock()
            .expect("log")
            .push((id.to_string(), command));
        let answer = (self.answer)(command);
        Box::pin(async move { answer })
    }
    fn close_sessions_of(&self, _: &[String]) -> usize {
        0
    }
    fn agent_ingresses_changed(&self, _: Vec<String>) {}
    fn certificates_changed(&self) {}
    fn dns_changed(&self) -> DnsFuture<'_> {
        self.dns_rebuilds.fetch_add(1, Ordering::SeqCst);
        Box::pin(async {})
    }
    fn metrics(&self) -> MetricsFuture<'_> {
        Box::pin(async { "ferry_edge_binds_total{proto=\"http\"} 1\n".to_string() })
    }
}

/// Check Status's lookups answered from a table the test fills; a name not in it does not
/// exist (a wildcard's random label is matched by its parent, as a `*.` record would).
struct Dns(Mutex<HashMap<(String, Kind), Answer>>);

impl Lookups for Dns {
    fn lookup<'a>(&'a self, name: &'a str, kind: Kind) -> LookupFuture<'a> {
        let table = self.0.lock().expect("table");
        let wildcard = name
            .split_once('.')
            .map(|(_, parent)| format!("*.{parent}"));
        let answer = table
            .get(&(name.to_string(), kind))
            .or_else(|| wildcard.and_then(|w| table.get(&(w, kind))))
            .cloned()
            .unwrap_or(Answer::NoName);
        Box::pin(async move { answer })
    }
}

/// The API over a fresh SQLite store, with an API key of the operator's own account.
pub(crate) struct Api {
    _dir: ScratchDir,
    pub(crate) state: AppState,
    dns_table: Arc<Dns>,
    pub(crate) key: String,
}

impl Api {
    pub(crate) async fn new() -> Self {
        Self::with_live(Arc::new(Edge::default())).await
    }

    pub(crate) async fn with_live(live: Arc<dyn Live>) -> Self {
        let dir = ScratchDir::new();
        let store = Store::open_sqlite(&dir.path.join("ferry.db"))
            .await
            .expect("store")
            .with_sealing_key(ferry_store::SealingKey::generate());
        let (_, key) = store.create_api_key("", "", "").await.expect("key");
        let dns_table = Arc::new(Dns(Mutex::new(HashMap::new())));
        let config = ControlConfig {
            public_base: "https://api.test".into(),
            ns_targets: vec!["ns1.ferry.test".into(), "ns2.ferry.test".into()],
            regions: vec!["us".into()],
            base_domain: "ferry.test".into(),
            tcp_public_host: "tcp.ferry.test".into(),
            tcp_ports: (20000, 20100),
            dns_check_resolver: None,
            version: "0.0.0-test".into(),
            started_at: SystemTime::now(),
            listeners: vec![("HTTPS".into(), "127.0.0.1:443".into())],
        };
        Self {
            _dir: dir,
            state: AppState::new(store, config, live).with_dns_lookups(dns_table.clone()),
            dns_table,
            key: key.expose().to_string(),
        }
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("Authorization", format!("Bearer {}", self.key))
            .header("Ngrok-Version", "2");
        let body = match body {
            Some(b) => {
                req = req.header("Content-Type", "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let request = req.body(body).expect("request");
        let (status, _, bytes) = answer(router(self.state.clone()), request).await;
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON")
        };
        (status, json)
    }

    /// Check Status's lookup of `name` for `kind` answers `answer` from now on.
    pub(crate) fn dns(&self, name: &str, kind: Kind, answer: Answer) {
        self.dns_table
            .0
            .lock()
            .expect("table")
            .insert((name.to_string(), kind), answer);
    }
}

/// `app`'s answer to `req`, in process: the status, the headers and the whole body.
pub(crate) async fn answer(app: Router, req: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
    let response = app.oneshot(req).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("body");
    (parts.status, parts.headers, bytes)
}

/// A lookup that finds the records `v`.
pub(crate) fn found(v: &[&str]) -> Answer {
    Answer::Found(v.iter().map(|s| s.to_string()).collect())
}

/// A fresh certificate for "app.example.test" and its key; a CA's when `ca`.
pub(crate) fn self_signed(ca: bool) -> rcgen::CertifiedKey {
    let mut params =
        rcgen::CertificateParams::new(vec!["app.example.test".to_owned()]).expect("params");
    if ca {
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    }
    let key_pair = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key_pair).expect("sign");
    rcgen::CertifiedKey { cert, key_pair }
}
