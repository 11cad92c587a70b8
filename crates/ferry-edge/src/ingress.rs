//! The agent ingress: one muxado session per agent connection, in which the agent opens the
//! heartbeat, Auth, Bind and Unbind streams and the edge opens one proxy stream per public
//! connection. Streams are dispatched on their own tasks so that one slow stream never holds
//! up the session's accept loop.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ferry_proto::msg::{error_reply, Auth, AuthResp, AuthRespExtra, Bind, Unbind};
use ferry_proto::rpc::from_value_folded;
use ferry_proto::{negotiate_version, ClientKind, StreamType};
use ferry_transport::{
    beat_until_dead, echo_beats, read_json, read_json_limited, read_type, write_and_finish, Accept,
    BeatClock, KillSwitch, SessionBuilder, Stream,
};
use ferry_types::{ErrorCode, ResourceId, TunnelId};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::auth_limit::Verdict;
use crate::auth_refusal::AuthRefusal;
use crate::pre_auth::Ticket;
use crate::registry::AgentSession;
use crate::{bind, Shared};

const RPC_TIMEOUT: Duration = Duration::from_secs(15);

/// Streams an agent may open before it has authenticated: the heartbeat, Auth, and two
/// more for retries. ngrok's SDKs and Ferry's agent open two.
const MAX_STREAMS_BEFORE_AUTH: usize = 4;

/// Stream window and largest frame until Auth succeeds. An Auth message is a few hundred
/// bytes; anything an unauthenticated peer sends beyond these is refused (a frame over the
/// limit ends the session, data beyond the window resets its stream), so such a connection
/// holds at most a few windows of buffers however it misbehaves.
const WINDOW_BEFORE_AUTH: usize = 16 * 1024;
const MAX_FRAME_BEFORE_AUTH: usize = 16 * 1024;

/// Streams the agent has open at once (heartbeat, binds, unbinds in flight). Each may hold
/// a window of data, so this, not muxado's stream limit (which also counts the edge's proxy
/// streams), bounds what an authenticated agent's own streams can make the edge buffer.
const MAX_AGENT_STREAMS: usize = 64;

/// The largest Auth message read.
const MAX_AUTH_BYTES: usize = 16 * 1024;

/// Stream window and largest frame once authenticated: muxado's default window, which ngrok's
/// SDKs assume (muxado does not negotiate it), and no data frame can be longer.
const WINDOW_AFTER_AUTH: usize = 256 * 1024;
const MAX_FRAME_AFTER_AUTH: usize = 256 * 1024;

/// muxado's own bound on live streams in a session (its default is 512). The per-session
/// semaphores below keep each agent under what it can take.
const MUXADO_STREAM_LIMIT: usize = 8192;

/// What a session knows once Auth has succeeded.
struct Authed {
    session: Arc<AgentSession>,
    acl: Vec<String>,
}

/// Serves one agent connection. `ticket` is its place among the connections waiting to
/// authenticate, given back when Auth succeeds or the connection ends.
pub async fn serve_agent<IO>(shared: Arc<Shared>, io: IO, remote: SocketAddr, ticket: Ticket)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let kill = KillSwitch::default();
    let mux = SessionBuilder::new(kill.wrap(io))
        .server()
        .stream_limit(MUXADO_STREAM_LIMIT)
        .window_size(WINDOW_BEFORE_AUTH)
        .max_frame_size(MAX_FRAME_BEFORE_AUTH)
        .start();
    let (open, mut accept) = ferry_transport::Session::split(mux);
    let authed: Arc<OnceLock<Authed>> = Arc::new(OnceLock::new());
    let ticket = Arc::new(Mutex::new(Some(ticket)));
    let clock = BeatClock::default();
    let authenticated = CancellationToken::new();
    {
        let (kill, authenticated) = (kill.clone(), authenticated.clone());
        let deadline = shared.config.auth_deadline;
        tokio::spawn(async move {
            if enforce_auth_deadline(deadline, authenticated, kill).await {
                tracing::info!(%remote, "closing an agent connection that did not authenticate in time");
            }
        });
    }
    let mut before_auth = 0usize;
    let rpc_streams = Arc::new(Semaphore::new(MAX_AGENT_STREAMS));
    loop {
        let stream = tokio::select! {
            s = accept.accept() => s,
            _ = kill.killed() => None,
        };
        let Some(stream) = stream else { break };
        if authed.get().is_none() {
            before_auth += 1;
            if before_auth > MAX_STREAMS_BEFORE_AUTH {
                tracing::info!(%remote, "closing an agent connection that opened too many streams before authenticating");
                break;
            }
        }
        let Ok(permit) = rpc_streams.clone().try_acquire_owned() else {
            // Dropping the stream FINs it; the agent sees its call fail and retries.
            tracing::debug!(%remote, "refusing a stream: too many calls in flight");
            continue;
        };
        let ctx = StreamCtx {
            shared: shared.clone(),
            open: open.clone(),
            kill: kill.clone(),
            authed: authed.clone(),
            ticket: ticket.clone(),
            authenticated: authenticated.clone(),
            clock: clock.clone(),
            remote,
        };
        tokio::spawn(async move {
            ctx.dispatch(stream).await;
            drop(permit);
        });
    }
    if let Some(v) = accept.protocol_violation() {
        tracing::warn!(%remote, code = %ErrorCode::MuxProtocolViolation, error = %v, "closed an agent connection that broke the muxado protocol");
    }
    kill.kill();
    if let Some(a) = authed.get() {
        let gone = shared
            .registry
            .remove_session(&a.session.id, shared.config.offline_grace);
        shared.forget_session(&a.session.id);
        a.session.data.close();
        crate::held::session_ended(&shared, &a.session, &gone).await;
        tracing::info!(session = %a.session.id, remote = %a.session.remote, credential = %a.session.credential, tunnels = gone.len(), "agent session ended");
    }
}

/// Kills the connection unless `authenticated` is cancelled within `deadline`, so
/// unauthenticated clients cannot hold sessions (and their streams' buffers) open. True when
/// it killed the connection.
async fn enforce_auth_deadline(
    deadline: Duration,
    authenticated: CancellationToken,
    kill: KillSwitch,
) -> bool {
    tokio::select! {
        // An agent that authenticates just as the deadline passes keeps its session.
        biased;
        _ = authenticated.cancelled() => false,
        _ = kill.killed() => false,
        _ = tokio::time::sleep(deadline) => {
            kill.kill();
            true
        }
    }
}

struct StreamCtx {
    shared: Arc<Shared>,
    open: ferry_transport::MuxadoOpen,
    kill: KillSwitch,
    authed: Arc<OnceLock<Authed>>,
    ticket: Arc<Mutex<Option<Ticket>>>,
    /// Cancelled when Auth succeeds, which lifts the auth deadline.
    authenticated: CancellationToken,
    clock: BeatClock,
    remote: SocketAddr,
}

impl StreamCtx {
    async fn dispatch(self, mut stream: Stream) {
        let typ = match tokio::time::timeout(RPC_TIMEOUT, read_type(&mut stream)).await {
            Ok(Ok(t)) => t,
            _ => return,
        };
        match typ {
            StreamType::HEARTBEAT => echo_beats(stream, self.clock.clone()).await,
            StreamType::AUTH => self.auth(stream).await,
            StreamType::BIND => self.bind(stream).await,
            StreamType::UNBIND => self.unbind(stream).await,
            StreamType::BIND_LABELED => {
                let msg = ErrorCode::LabeledUnsupported
                    .wire_error("labeled tunnels (edges) are not supported by Ferry; bind an endpoint with a domain instead");
                let _ = write_and_finish(&mut stream, &error_reply(&msg)).await;
            }
            StreamType::SRV_INFO => {
                let region = self.shared.config.region();
                let _ =
                    write_and_finish(&mut stream, &serde_json::json!({ "Region": region })).await;
            }
            other => {
                tracing::debug!(remote = %self.remote, ?other, "ignoring a stream of unknown type")
            }
        }
    }

    async fn auth(self, mut stream: Stream) {
        let reply = match self.try_auth(&mut stream).await {
            Ok(resp) => serde_json::to_value(resp).unwrap_or_default(),
            Err(refusal) => {
                let code = refusal.code();
                ferry_metrics::edge::edge()
                    .auth_failures
                    .with_label_values(&[&code.to_string()])
                    .inc();
                tracing::info!(remote = %self.remote, %code, "agent authentication refused: {refusal}");
                let reply = error_reply(&code.wire_error(&refusal.to_string()));
                let _ = write_and_finish(&mut stream, &reply).await;
                // Let the reply reach the agent before the connection goes.
                let kill = self.kill.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    kill.kill();
                });
                return;
            }
        };
        let _ = write_and_finish(&mut stream, &reply).await;
    }

    async fn try_auth(&self, stream: &mut Stream) -> Result<AuthResp, AuthRefusal> {
        let ip = self.remote.ip();
        let value = read_json_limited(stream, RPC_TIMEOUT, MAX_AUTH_BYTES)
            .await
            .map_err(AuthRefusal::Read)?;
        let auth: Auth = from_value_folded(&value).map_err(AuthRefusal::Shape)?;
        let Some(version) = negotiate_version(&auth.version) else {
            return Err(AuthRefusal::Version {
                offered: auth.version.clone(),
                ours: ferry_proto::PROTOCOL_VERSIONS,
            });
        };
        if self.authed.get().is_some() {
            return Err(AuthRefusal::AlreadyAuthenticated);
        }
        let token = auth.extra.auth_token.trim();
        if token.is_empty() {
            self.shared.auth_limiter.record_failure(ip, token);
            return Err(AuthRefusal::Missing);
        }
        match self.shared.auth_limiter.verdict(ip, token) {
            Verdict::Lookup => {}
            Verdict::LookupAfter(wait) => tokio::time::sleep(wait).await,
            Verdict::RefusedRecently { ago } => {
                return Err(AuthRefusal::RefusedRecently(ago.as_secs()))
            }
        }
        let credential = match self.shared.store.verify_authtoken(token).await {
            Ok(Ok(Some(c))) => c,
            Ok(Ok(None)) => {
                self.shared.auth_limiter.record_failure(ip, token);
                return Err(AuthRefusal::Refused);
            }
            Ok(Err(e)) => {
                self.shared.auth_limiter.record_failure(ip, token);
                return Err(AuthRefusal::Malformed(e));
            }
            Err(e) => {
                tracing::error!(error = %e, "store unavailable during authentication");
                return Err(AuthRefusal::StoreUnavailable(e));
            }
        };
        let client = ClientKind::from_auth(&auth);
        let max_streams = if client.is_ferry() {
            self.shared.config.max_streams_per_ferry_session
        } else {
            self.shared.config.max_streams_per_session
        };
        let id = ResourceId::generate("ts");
        let session = Arc::new(AgentSession {
            data: crate::data_conn::DataPool::new(&id, client.is_ferry()),
            id,
            open: self.open.clone(),
            kill: self.kill.clone(),
            streams: Arc::new(Semaphore::new(max_streams)),
            remote: self.remote,
            client,
            credential: credential.id.clone(),
            os: auth.extra.os.clone(),
            agent_version: auth.extra.version.clone(),
            metadata: auth.extra.metadata.clone(),
            started_at: std::time::SystemTime::now(),
            restart_unsupported: auth.extra.restart_unsupported_error.clone(),
            stop_unsupported: auth.extra.stop_unsupported_error.clone(),
            update_unsupported: auth.extra.update_unsupported_error.clone(),
        });
        let id = session.id.clone();
        if self
            .authed
            .set(Authed {
                session: session.clone(),
                acl: credential.acl,
            })
            .is_err()
        {
            return Err(AuthRefusal::AlreadyAuthenticated);
        }
        self.shared.remember_session(session.clone()).await;
        // The agent has proved who it is: full windows for the streams it opens from now on,
        // and its place among the unauthenticated connections goes back.
        self.open
            .set_limits(WINDOW_AFTER_AUTH, MAX_FRAME_AFTER_AUTH);
        self.ticket.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.authenticated.cancel();
        self.start_heartbeat();
        tracing::info!(
            session = %id,
            remote = %self.remote,
            credential = %credential.id,
            client = %auth.extra.user_agent,
            "agent authenticated"
        );
        Ok(AuthResp {
            version: version.to_string(),
            client_id: id.to_string(),
            extra: AuthRespExtra {
                version: Some(env!("CARGO_PKG_VERSION").to_string()),
                region: Some(self.shared.config.region().to_string()),
                cookie: Some(String::new()),
                account_name: Some(String::new()),
                session_duration: Some(0),
                plan_name: Some(String::new()),
                banner: Some(String::new()),
                data_key: session.data.key().map(str::to_string),
            },
        })
    }

    /// The edge beats too, so it notices a dead agent even when the agent's own beats would
    /// take longer to be missed (ngrok's SDKs beat every 10 s).
    fn start_heartbeat(&self) {
        let open = self.open.clone();
        let kill = self.kill.clone();
        let clock = self.clock.clone();
        let (interval, tolerance) = (
            self.shared.config.heartbeat_interval,
            self.shared.config.heartbeat_tolerance,
        );
        let remote = self.remote;
        tokio::spawn(async move {
            let why = tokio::select! {
                e = beat_until_dead(&open, interval, tolerance, clock) => e,
                _ = kill.killed() => return,
            };
            tracing::info!(%remote, code = %ErrorCode::HeartbeatTimeout, "closing agent session: {why}");
            kill.kill();
        });
    }

    async fn bind(self, mut stream: Stream) {
        let Some(authed) = self.authed.get() else {
            let msg = ErrorCode::NotAuthenticated.wire_error("bind before authentication");
            let _ = write_and_finish(&mut stream, &error_reply(&msg)).await;
            return;
        };
        let req = match read_json(&mut stream, RPC_TIMEOUT).await {
            Ok(v) => Bind::from_wire(&v),
            Err(e) => {
                tracing::debug!(error = %e, "bind not read");
                return;
            }
        };
        let metrics = ferry_metrics::edge::edge();
        let refused = |code: ErrorCode, msg: &str| {
            metrics
                .bind_refusals
                .with_label_values(&[&code.to_string()])
                .inc();
            error_reply(&code.wire_error(msg))
        };
        let reply = match req {
            Err(e) => refused(ErrorCode::BindPayloadInvalid, &format!("bind message: {e}")),
            Ok(req) => match self.current_acl(authed).await {
                Err(refusal) => {
                    tracing::info!(session = %authed.session.id, code = %refusal.code(), "bind refused: {refusal}");
                    refused(refusal.code(), &refusal.to_string())
                }
                Ok(acl) => match bind::bind(&self.shared, &authed.session, &acl, req).await {
                    Ok(resp) => {
                        metrics.binds.with_label_values(&[&resp.proto]).inc();
                        serde_json::to_value(resp).unwrap_or_default()
                    }
                    Err(refusal) => {
                        tracing::info!(session = %authed.session.id, code = %refusal.code(), "bind refused: {refusal}");
                        refused(refusal.code(), &refusal.to_string())
                    }
                },
            },
        };
        let _ = write_and_finish(&mut stream, &reply).await;
    }

    /// The authtoken's ACL as the store has it now, so that a PATCH of the ACL applies to the
    /// next bind of a live session; the one read at Auth serves while the store is down.
    async fn current_acl(&self, authed: &Authed) -> Result<Vec<String>, AuthRefusal> {
        match self
            .shared
            .store
            .get::<ferry_store::Credential>(authed.session.credential.as_str())
            .await
        {
            Ok(Some(c)) => Ok(c.acl),
            Ok(None) => Err(AuthRefusal::Revoked),
            Err(e) => {
                tracing::warn!(error = %e, "store unavailable: binding with the ACL read at authentication");
                Ok(authed.acl.clone())
            }
        }
    }

    async fn unbind(self, mut stream: Stream) {
        let Some(authed) = self.authed.get() else {
            let msg = ErrorCode::NotAuthenticated.wire_error("unbind before authentication");
            let _ = write_and_finish(&mut stream, &error_reply(&msg)).await;
            return;
        };
        if let Ok(v) = read_json(&mut stream, RPC_TIMEOUT).await {
            // An ID no tunnel can have names none of this session's.
            let id = from_value_folded::<Unbind>(&v)
                .ok()
                .and_then(|req| TunnelId::parse(&req.id).ok());
            if let Some(id) = id {
                if let Some(t) = self.shared.registry.remove_tunnel(&id, &authed.session.id) {
                    crate::held::release(&self.shared, &t).await;
                    tracing::info!(session = %authed.session.id, tunnel = %t.id, url = %t.public_url, "tunnel unbound");
                }
            }
        }
        // ngrok's SDKs may unbind a tunnel the edge already stopped: always answer `{}`.
        let _ = write_and_finish(&mut stream, &serde_json::json!({})).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEADLINE: Duration = Duration::from_secs(10);

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_does_not_authenticate_is_killed_at_the_deadline() {
        let kill = KillSwitch::default();
        let start = tokio::time::Instant::now();
        assert!(enforce_auth_deadline(DEADLINE, CancellationToken::new(), kill.clone()).await);
        assert_eq!(start.elapsed(), DEADLINE);
        assert!(kill.is_killed());
    }

    #[tokio::test(start_paused = true)]
    async fn authenticating_in_time_lifts_the_deadline() {
        let (kill, authenticated) = (KillSwitch::default(), CancellationToken::new());
        let deadline = tokio::spawn(enforce_auth_deadline(
            DEADLINE,
            authenticated.clone(),
            kill.clone(),
        ));
        tokio::time::sleep(DEADLINE - Duration::from_millis(1)).await;
        authenticated.cancel();
        assert!(!deadline.await.unwrap());
        tokio::time::sleep(DEADLINE).await;
        assert!(!kill.is_killed());
    }
}
