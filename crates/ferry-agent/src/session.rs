//! The agent's side of a session: dial, authenticate, bind every tunnel (re-binding with the
//! IDs and tokens the edge gave before), accept proxy streams, and start over with capped,
//! jittered back-off whenever the connection is lost.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_proto::msg::{
    Auth, AuthExtra, AuthResp, Bind, BindExtra, BindResp, CommandResp, StopTunnel,
};
use ferry_proto::rpc::from_value_folded;
use ferry_proto::{ClientKind, ProxyHeader, StreamType};
use ferry_transport::{
    beat_until_dead, call, echo_beats, read_json, read_type, write_and_finish, Accept, BeatClock,
    KillSwitch, MuxadoOpen, Session, SessionBuilder, Stream,
};
use ferry_types::{ErrorCode, TunnelId};
use rand::Rng;
use rustls::pki_types::ServerName;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_util::sync::CancellationToken;

pub use self::error::{EdgeRefusal, SessionError};
use crate::{forward, AgentEvent, Inner};

mod data;
mod error;

pub(crate) use data::Demand;

const RPC_TIMEOUT: Duration = Duration::from_secs(20);

/// The wait before reconnect attempt `n`: exponential from 500 ms, capped at `cap`, with
/// jitter so that a fleet of agents does not come back in lockstep.
pub fn backoff(n: u32, cap: Duration) -> Duration {
    let base = Duration::from_millis(500).saturating_mul(1u32 << n.min(16));
    let capped = base.min(cap);
    capped.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
}

pub async fn run_once(inner: &Arc<Inner>) -> Result<(), SessionError> {
    let tls = connect_any(inner).await?;
    let edge = tls.get_ref().0.get_ref().peer_addr().ok();

    let kill = KillSwitch::default();
    let mux = SessionBuilder::new(kill.wrap(tls))
        .client()
        .stream_limit(8192)
        .start();
    let (open, accept) = mux.split();
    let clock = BeatClock::observing(|took| {
        ferry_metrics::agent::agent()
            .heartbeat
            .observe(took.as_secs_f64())
    });
    let moving = CancellationToken::new();
    let mut accept_task = tokio::spawn(accept_loop(
        inner.clone(),
        accept,
        clock.clone(),
        kill.clone(),
        moving.clone(),
    ));
    let result = async {
        let data_key = authenticate(inner, &open).await?;
        if let (Some(key), Some(edge)) = (data_key, edge) {
            let addrs: Vec<&str> = inner.config.server_addrs().collect();
            let addr = addrs[inner.server_index.load(Ordering::Relaxed) % addrs.len()];
            data::keep(inner.clone(), edge, host_of(addr), key, kill.clone());
        }
        bind_all(inner, &open).await?;
        {
            let beat_open = open.clone();
            let beat_kill = kill.clone();
            let (interval, tolerance) = (
                inner.config.heartbeat_interval,
                inner.config.heartbeat_tolerance,
            );
            let events = inner.events.clone();
            let clock = clock.clone();
            let moved = moving.clone();
            tokio::spawn(async move {
                let why = tokio::select! {
                    e = beat_until_dead(&beat_open, interval, tolerance, clock) => e,
                    _ = beat_kill.killed() => return,
                };
                if moved.is_cancelled() {
                    // A session left behind by a move: the agent is online elsewhere.
                    beat_kill.kill();
                    return;
                }
                let _ = events.send(AgentEvent::Offline {
                    reason: format!("heartbeat: {why}"),
                });
                beat_kill.kill();
            });
        }
        *inner.current.lock().await = Some((open.clone(), clock.clone()));
        let metrics = ferry_metrics::agent::agent();
        if inner
            .online_once
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            metrics.reconnects.inc();
        }
        metrics.session_up.set(1);
        let _ = inner.events.send(AgentEvent::Online);
        Ok::<(), SessionError>(())
    }
    .await;
    if let Err(e) = result {
        kill.kill();
        accept_task.abort();
        return Err(e);
    }
    tokio::select! {
        _ = &mut accept_task => {}
        _ = moving.cancelled() => {
            // The old session serves its streams until its node closes it; the next one is
            // dialled at once.
            *inner.current.lock().await = None;
            return Err(SessionError::Moved);
        }
    }
    kill.kill();
    *inner.current.lock().await = None;
    ferry_metrics::agent::agent().session_up.set(0);
    Err(SessionError::Lost)
}

/// Authenticates the session; the key for data connections when the edge offers them.
async fn authenticate(
    inner: &Arc<Inner>,
    open: &MuxadoOpen,
) -> Result<Option<String>, SessionError> {
    let cfg = &inner.config;
    let client_id = inner.client_id.lock().await.clone();
    let unsupported = Some("the ferry agent does not take this command".to_string());
    let auth = Auth {
        version: ferry_proto::PROTOCOL_VERSIONS
            .iter()
            .map(|v| v.to_string())
            .collect(),
        client_id,
        extra: AuthExtra {
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
            auth_token: cfg.authtoken.expose().to_string(),
            version: env!("CARGO_PKG_VERSION").into(),
            hostname: String::new(),
            user_agent: format!("ferry/{}", env!("CARGO_PKG_VERSION")),
            metadata: cfg.metadata.clone(),
            cookie: String::new(),
            heartbeat_interval: cfg.heartbeat_interval.as_nanos() as i64,
            heartbeat_tolerance: cfg.heartbeat_tolerance.as_nanos() as i64,
            client_type: ClientKind::Ferry.to_string(),
            restart_unsupported_error: unsupported.clone(),
            stop_unsupported_error: unsupported.clone(),
            update_unsupported_error: unsupported,
        },
    };
    let reply = call(open, StreamType::AUTH, &auth, RPC_TIMEOUT)
        .await
        .map_err(SessionError::from_rpc)?;
    let resp: AuthResp = from_value_folded(&reply).map_err(SessionError::AuthReply)?;
    *inner.client_id.lock().await = resp.client_id;
    Ok(resp.extra.data_key.filter(|k| !k.is_empty()))
}

/// Binds every tunnel. Before the agent was ever online a refusal is fatal (the user's
/// command is wrong); after that, one refused re-bind must not take the other tunnels down,
/// so it is logged and the rest carry on.
async fn bind_all(inner: &Arc<Inner>, open: &MuxadoOpen) -> Result<(), SessionError> {
    let fatal = !inner.online_once.load(std::sync::atomic::Ordering::SeqCst);
    let names: Vec<String> = inner.tunnels.lock().await.keys().cloned().collect();
    for name in names {
        let mut result = bind_one(inner, open, &name).await;
        if matches!(&result, Err(e) if e.code() == Some(ErrorCode::BindTokenInvalid)) {
            // The edge no longer recognises this tunnel's ID (its secret or data changed):
            // start the tunnel anew under a fresh ID.
            inner.forget_binding(&name).await;
            result = bind_one(inner, open, &name).await;
        }
        match result {
            Ok(_) => {}
            Err(e) if e.is_refusal() && !fatal => {
                tracing::error!(tunnel = %name, "the edge refused to re-bind this tunnel: {e}");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Binds (or re-binds) tunnel `name` on the live session.
pub async fn bind_one(
    inner: &Arc<Inner>,
    open: &MuxadoOpen,
    name: &str,
) -> Result<String, SessionError> {
    let req = {
        let tunnels = inner.tunnels.lock().await;
        let Some(t) = tunnels.get(name) else {
            return Err(SessionError::NoSuchTunnel(name.to_string()));
        };
        Bind {
            id: t.id.as_ref().map(TunnelId::to_string).unwrap_or_default(),
            proto: t.fwd.spec.bind_proto().to_string(),
            forwards_to: t.fwd.spec.addr.to_string(),
            forwards_proto: String::new(),
            opts: t.opts.clone().unwrap_or_else(|| t.first_opts.clone()),
            extra: BindExtra {
                token: t.token.clone(),
                metadata: t.fwd.spec.metadata.clone(),
                ..Default::default()
            },
        }
    };
    let reply = call(open, StreamType::BIND, &req, RPC_TIMEOUT)
        .await
        .map_err(|e| match SessionError::from_rpc(e) {
            SessionError::Refused(refusal) | SessionError::AuthtokenRefused(refusal) => {
                SessionError::BindRefused {
                    name: name.to_string(),
                    refusal,
                }
            }
            other => other,
        })?;
    let resp = BindResp::from_wire(&reply).map_err(SessionError::BindReply)?;
    let id = TunnelId::parse(&resp.id).map_err(SessionError::BindReplyId)?;
    let proto = {
        let mut tunnels = inner.tunnels.lock().await;
        let Some(t) = tunnels.get_mut(name) else {
            return Err(SessionError::RemovedWhileBinding(name.to_string()));
        };
        t.id = Some(id);
        t.opts = Some(resp.opts.clone());
        t.token = resp.extra.token.clone();
        t.public_url = Some(resp.url.clone());
        t.fwd.spec.bind_proto()
    };
    inner.bound.notify_waiters();
    let _ = inner.events.send(AgentEvent::TunnelStarted {
        name: name.to_string(),
        proto,
        public_url: resp.url.clone(),
    });
    Ok(resp.url)
}

async fn accept_loop(
    inner: Arc<Inner>,
    mut accept: ferry_transport::MuxadoAccept,
    clock: BeatClock,
    kill: KillSwitch,
    moving: CancellationToken,
) {
    loop {
        let stream = tokio::select! {
            s = accept.accept() => s,
            _ = kill.killed() => None,
        };
        let Some(stream) = stream else { break };
        tokio::spawn(dispatch(
            inner.clone(),
            stream,
            clock.clone(),
            moving.clone(),
        ));
    }
}

async fn dispatch(
    inner: Arc<Inner>,
    mut stream: Stream,
    clock: BeatClock,
    moving: CancellationToken,
) {
    let Ok(Ok(typ)) = tokio::time::timeout(RPC_TIMEOUT, read_type(&mut stream)).await else {
        return;
    };
    match typ {
        StreamType::PROXY => serve_proxy(&inner, stream).await,
        StreamType::HEARTBEAT => echo_beats(stream, clock).await,
        StreamType::MOVE => {
            tracing::info!(
                "the edge is draining; moving this agent's tunnels to the next server_addr"
            );
            moving.cancel();
        }
        StreamType::STOP_TUNNEL => {
            if let Ok(v) = read_json(&mut stream, RPC_TIMEOUT).await {
                if let Ok(stop) = from_value_folded::<StopTunnel>(&v) {
                    let name = match TunnelId::parse(&stop.id) {
                        Ok(id) => inner.remove_by_id(&id).await,
                        Err(_) => None,
                    };
                    tracing::warn!(tunnel = ?name, "the edge stopped a tunnel: {}", stop.message);
                }
            }
        }
        StreamType::RESTART | StreamType::STOP | StreamType::UPDATE => {
            let resp = CommandResp {
                error: Some("the ferry agent does not take remote commands".into()),
            };
            let _ = write_and_finish(&mut stream, &resp).await;
        }
        other => tracing::debug!(?other, "ignoring a stream of unknown type"),
    }
}

/// Serves a proxy stream whose type has been read: on the session, or on a data connection.
async fn serve_proxy(inner: &Inner, mut stream: impl forward::Conn) {
    inner.data_demand.seen();
    let header = match read_proxy_header(&mut stream).await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!("bad proxy stream header: {e}");
            return;
        }
    };
    // An ID no tunnel can have waits for no bind.
    let id = TunnelId::parse(&header.id).ok();
    let fwd = match &id {
        Some(id) => forwarder_when_bound(inner, id).await,
        None => None,
    };
    let Some(fwd) = fwd else {
        tracing::warn!(tunnel = %header.id, "proxy stream for a tunnel this agent does not hold");
        return;
    };
    let client = header
        .client_addr
        .parse()
        .unwrap_or_else(|_| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
    forward::serve(fwd, stream, client).await;
}

/// How long a proxy stream for an unknown tunnel waits for a bind reply to name it.
const BIND_WAIT: Duration = Duration::from_secs(2);

/// The edge may open a proxy stream the moment it has sent a bind reply, before this agent
/// has recorded the new tunnel's ID; such a stream waits for the next bind reply, up to
/// `BIND_WAIT`, instead of being dropped.
async fn forwarder_when_bound(inner: &Inner, id: &TunnelId) -> Option<Arc<forward::Forwarder>> {
    let deadline = tokio::time::Instant::now() + BIND_WAIT;
    loop {
        // Registered before the lookup, so a bind recorded in between still wakes this.
        let bound = inner.bound.notified();
        tokio::pin!(bound);
        bound.as_mut().enable();
        if let Some(f) = inner.forwarder_by_id(id).await {
            return Some(f);
        }
        if tokio::time::timeout_at(deadline, bound).await.is_err() {
            return None;
        }
    }
}

async fn read_proxy_header(stream: &mut impl forward::Conn) -> Result<ProxyHeader, String> {
    let mut len = [0u8; 8];
    stream
        .read_exact(&mut len)
        .await
        .map_err(|e| e.to_string())?;
    let n = i64::from_le_bytes(len);
    if !(0..=ferry_proto::proxy_header::MAX_PROXY_HEADER as i64).contains(&n) {
        return Err(format!("header length {n} out of range"));
    }
    let mut buf = len.to_vec();
    buf.resize(8 + n as usize, 0);
    stream
        .read_exact(&mut buf[8..])
        .await
        .map_err(|e| e.to_string())?;
    match ProxyHeader::decode(&buf) {
        Ok(Some((h, _))) => Ok(h),
        Ok(None) => Err("truncated header".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// A TLS connection to the first of the configured agent ingresses that completes one,
/// starting from the one the last session reached; the error of the last one tried when
/// none does.
async fn connect_any(inner: &Arc<Inner>) -> Result<TlsStream, SessionError> {
    let addrs: Vec<&str> = inner.config.server_addrs().collect();
    let start = inner.server_index.load(Ordering::Relaxed) % addrs.len().max(1);
    let mut last = None;
    for i in (0..addrs.len()).map(|k| (start + k) % addrs.len()) {
        match connect(inner, addrs[i]).await {
            Ok(tls) => {
                inner.server_index.store(i, Ordering::Relaxed);
                return Ok(tls);
            }
            Err(e) => {
                if addrs.len() > 1 {
                    tracing::info!(
                        "cannot reach {}: {e}; trying the next server_addr",
                        addrs[i]
                    );
                }
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| SessionError::ConnectTimeout(inner.config.server_addr.clone())))
}

type TlsStream = tokio_rustls::client::TlsStream<tokio::io::BufReader<TcpStream>>;

/// A TLS connection to the agent ingress at `server_addr`.
async fn connect(inner: &Inner, server_addr: &str) -> Result<TlsStream, SessionError> {
    let cfg = &inner.config;
    let tcp = tokio::time::timeout(cfg.connect_timeout, dial(server_addr, &cfg.dns_resolvers))
        .await
        .map_err(|_| SessionError::ConnectTimeout(server_addr.to_string()))?
        .map_err(|source| SessionError::Connect {
            addr: server_addr.to_string(),
            source,
        })?;
    handshake(inner, tcp, server_addr, host_of(server_addr)).await
}

/// The TLS handshake with the agent ingress over `tcp`, which reached `server_addr`, for the
/// server name `host`.
async fn handshake(
    inner: &Inner,
    tcp: TcpStream,
    server_addr: &str,
    host: String,
) -> Result<TlsStream, SessionError> {
    let cfg = &inner.config;
    let server_name = ServerName::try_from(host).map_err(|source| SessionError::ServerName {
        addr: server_addr.to_string(),
        source,
    })?;
    let _ = tcp.set_nodelay(true);
    tokio::time::timeout(
        cfg.connect_timeout,
        TlsConnector::from(inner.edge_tls.clone()).connect(
            server_name,
            ferry_transport::session_io(tcp, ferry_transport::AGENT_READ_BUFFER),
        ),
    )
    .await
    .map_err(|_| SessionError::TlsTimeout)?
    .map_err(|source| SessionError::Tls {
        addr: server_addr.to_string(),
        source,
    })
}

/// A TCP connection to the first of `server_addr`'s addresses that accepts one.
async fn dial(server_addr: &str, resolvers: &[std::net::SocketAddr]) -> std::io::Result<TcpStream> {
    let mut last = None;
    for addr in crate::resolve::addresses(server_addr, resolvers).await? {
        match TcpStream::connect(addr).await {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "the name has no address")
    }))
}

fn host_of(server_addr: &str) -> String {
    let host = match server_addr.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => server_addr,
    };
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

/// How long the last session stayed up; a long one resets the back-off.
pub fn was_stable(started: Instant) -> bool {
    started.elapsed() > Duration::from_secs(30)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped_with_jitter() {
        let cap = Duration::from_secs(60);
        assert!(backoff(0, cap) <= Duration::from_millis(500));
        assert!(backoff(3, cap) >= Duration::from_secs(2));
        for n in [10, 20, 31, 100] {
            let b = backoff(n, cap);
            assert!(b <= cap && b >= cap / 2, "{n}: {b:?}");
        }
    }

    #[test]
    fn server_addr_host() {
        assert_eq!(host_of("connect.example.test:443"), "connect.example.test");
        assert_eq!(host_of("127.0.0.1:4443"), "127.0.0.1");
        assert_eq!(host_of("[::1]:4443"), "::1");
    }
}
