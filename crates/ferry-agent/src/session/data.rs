//! Data connections (`ferry_proto::data_conn`): TLS connections to the edge that carried the
//! session, each left idle there until the edge sends one proxy stream on it. A stream on one
//! has its own TLS and TCP flow control and no muxado in the way: in BENCHMARKS.md, bulk moves
//! faster and at less CPU per byte than on the session, and HTTP at less CPU per request (the
//! edge moves a busy keep-alive connection to one). While its tunnels carry traffic the
//! agent keeps `data_connections` of them idle, dialling a new one shortly after one is taken;
//! an agent that has carried nothing for a minute keeps none (a fleet of quiet devices costs
//! the edge one connection each), and the edge falls back to the session when none is idle.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_proto::StreamType;
use ferry_transport::{read_type, KillSwitch};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Notify;

use super::{handshake, serve_proxy, SessionError, TlsStream};
use crate::Inner;

/// The longest wait before dialling again after a data connection failed or was refused.
const MAX_RETRY: Duration = Duration::from_secs(30);

/// How long each of the agent's data connection slots waits, once the edge has taken its
/// connection, before dialling the next. A data connection costs a TLS handshake, more CPU
/// than a short stream itself: without the pause, a burst of short connections made 20-35 %
/// fewer new connections per second than on the session alone (BENCHMARKS.md). With it,
/// `data_connections` slots refill at most four times a second each, so a burst rides the
/// session while a few long streams at a time get connections of their own.
const REFILL_PAUSE: Duration = Duration::from_millis(250);

/// How long after the last proxy stream the agent still keeps data connections idle.
const DEMAND_WINDOW: Duration = Duration::from_secs(60);

/// An idle data connection closed after this long was let go of at the edge's
/// `IDLE_LIFETIME` and is replaced at once; one closed sooner was refused, and the next dial
/// waits.
const EXPIRED_AFTER: Duration = Duration::from_secs(10);

/// When the agent last carried a proxy stream, on the session or on a data connection.
#[derive(Default)]
pub(crate) struct Demand {
    last: Mutex<Option<Instant>>,
    wake: Notify,
}

impl Demand {
    /// A proxy stream arrived.
    pub(crate) fn seen(&self) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_none_or(|t| t.elapsed() > Duration::from_secs(1)) {
            self.wake.notify_waiters();
        }
        *last = Some(Instant::now());
    }

    /// Returns once a proxy stream has arrived within [`DEMAND_WINDOW`].
    async fn recent(&self) {
        loop {
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let last = *self.last.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < DEMAND_WINDOW) {
                return;
            }
            woken.await;
        }
    }
}

/// Keeps the configured number of data connections idle at the edge at `edge` (the address
/// the session reached, so every one lands on the node that holds the session), named `host`,
/// until `kill` ends the session.
pub(super) fn keep(
    inner: Arc<Inner>,
    edge: SocketAddr,
    host: String,
    key: String,
    kill: KillSwitch,
) {
    let hello: Arc<[u8]> = ferry_proto::data_conn::hello(&key).into();
    for _ in 0..inner.config.data_connections {
        let worker = Worker {
            inner: inner.clone(),
            edge,
            host: host.clone(),
            hello: hello.clone(),
        };
        let kill = kill.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = worker.run(kill.clone()) => {}
                _ = kill.killed() => {}
            }
        });
    }
}

struct Worker {
    inner: Arc<Inner>,
    edge: SocketAddr,
    host: String,
    hello: Arc<[u8]>,
}

impl Worker {
    /// One idle data connection at a time while there is demand: dialled, handed its stream
    /// by the edge, and replaced at once.
    async fn run(self, kill: KillSwitch) {
        let mut failures = 0u32;
        loop {
            self.inner.data_demand.recent().await;
            let why = match self.dial().await {
                Ok(mut conn) => {
                    let idle_since = Instant::now();
                    match read_type(&mut conn).await {
                        Ok(StreamType::PROXY) => {
                            failures = 0;
                            let (inner, kill) = (self.inner.clone(), kill.clone());
                            // A stream on a data connection ends with its session, as one on
                            // muxado does.
                            tokio::spawn(async move {
                                tokio::select! {
                                    () = serve_proxy(&inner, conn) => {}
                                    _ = kill.killed() => {}
                                }
                            });
                            tokio::time::sleep(REFILL_PAUSE).await;
                            continue;
                        }
                        // The edge let an idle one go at its lifetime's end.
                        Err(_) if idle_since.elapsed() >= EXPIRED_AFTER => {
                            failures = 0;
                            continue;
                        }
                        Ok(other) => format!("the edge sent a stream of type {other:?}"),
                        // Closed at once: the session ended, or the edge holds enough.
                        Err(e) => format!("closed by the edge before use: {e}"),
                    }
                }
                Err(why) => why,
            };
            failures += 1;
            let wait = super::backoff(failures, MAX_RETRY);
            tracing::debug!(edge = %self.edge, "data connection: {why}; dialling again in {wait:?}");
            tokio::time::sleep(wait).await;
        }
    }

    /// A data connection that has sent its hello.
    async fn dial(&self) -> Result<TlsStream, String> {
        let cfg = &self.inner.config;
        let tcp = tokio::time::timeout(cfg.connect_timeout, TcpStream::connect(self.edge))
            .await
            .map_err(|_| "connecting timed out".to_string())?
            .map_err(|e| e.to_string())?;
        let addr = self.edge.to_string();
        let mut tls = handshake(&self.inner, tcp, &addr, self.host.clone())
            .await
            .map_err(|e: SessionError| e.to_string())?;
        tls.write_all(&self.hello)
            .await
            .map_err(|e| e.to_string())?;
        tls.flush().await.map_err(|e| e.to_string())?;
        Ok(tls)
    }
}
