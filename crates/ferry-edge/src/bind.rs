//! Serving a bind: read the request, look up what the decision needs (the reservation of the
//! name, the tunnel ID's token), decide (`decide.rs`, a pure function), then claim the name or
//! port in the registry and answer. The agent stores the reply's `Opts` and `Token` and sends
//! them back unchanged on every re-bind, so the chosen name goes into `Opts` and the tunnel ID
//! is kept for as long as the bind token proves the agent owns it.

mod decide;
mod echo;
mod refusal;
mod request;

use std::sync::Arc;
use std::time::Instant;

use ferry_proto::msg::{Bind, BindResp, BindRespExtra};
use ferry_proto::BindProto;
use ferry_types::{HostPattern, ResourceId, TunnelId};
use rand::Rng;

use self::decide::{decide, Endpoint, IdCheck, Policy, RegistryView, Reservation};
pub use self::refusal::BindRefusal;
use self::request::{BindRequest, Site, Wanted};
use crate::registry::{AgentSession, ClaimError, Registry, Tunnel};
use crate::{client_auth, tcp, terminate, Shared};

pub async fn bind(
    shared: &Arc<Shared>,
    session: &Arc<AgentSession>,
    acl: &[String],
    req: Bind,
) -> Result<BindResp, BindRefusal> {
    let config = &shared.config;
    let site = Site {
        base_domain: &config.base_domain,
        tcp_ports: config.tcp_ports,
        tcp_public_host: &config.tcp_public_host,
    };
    let req = BindRequest::parse(req, &site, &random_label())?;
    let policy = Policy {
        dev: config.dev,
        acl,
        reservation: reservation(shared, &req).await,
        id: id_check(shared, &req),
        client: &session.client,
        max_tunnels: config.max_tunnels_per_session,
        sdk_bind_settle: config.sdk_bind_settle,
    };
    let view = LiveView {
        registry: &shared.registry,
        session: &session.id,
    };
    let mut decision = decide(req, policy, &view)?;

    // A TLS endpoint's client CAs are part of its termination; an HTTPS endpoint's make a
    // configuration of their own.
    let (client_tls, tls_termination) = match (&decision.termination, &decision.client_ca) {
        (Some(t), ca) => (
            None,
            Some(terminate::config_for(shared, t, ca.as_deref()).await?),
        ),
        (None, Some(ca)) => (Some(client_auth::config_for(shared, ca).await?), None),
        (None, None) => (None, None),
    };
    let (host, port, url) = match &decision.endpoint {
        Endpoint::Host(pattern) => {
            let url = host_url(shared, decision.proto, pattern);
            (Some(pattern.clone()), None, url)
        }
        Endpoint::Port(wanted) => {
            let port =
                tcp::claim(shared, *wanted, &decision.id).map_err(BindRefusal::PortUnavailable)?;
            let addr = format!("{}:{port}", config.tcp_public_host);
            echo::tcp(&mut decision.opts, &addr);
            (None, Some(port), format!("tcp://{addr}"))
        }
    };
    let id = decision.id;
    let tunnel = Arc::new(Tunnel {
        id: id.clone(),
        proto: decision.proto,
        host,
        port,
        public_url: url.clone(),
        session: session.clone(),
        ready_at: Instant::now() + decision.settle,
        protection: decision.protection,
        metadata: decision.metadata,
        forwards_to: decision.forwards_to,
        started_at: std::time::SystemTime::now(),
        client_tls,
        tls_termination,
        proxy_proto: decision.proxy_proto,
    });
    // The cluster's claim first: another node may serve the name (or the node lost its
    // lease and may hand out nothing until it has registered again).
    let claim_key = crate::held::claim_key(&tunnel);
    match crate::held::claim(shared, &tunnel).await {
        Ok(true) => {}
        Ok(false) => {
            release_port(shared, &tunnel);
            return Err(BindRefusal::Taken(ClaimError::Taken(claim_key)));
        }
        Err(e) => {
            release_port(shared, &tunnel);
            return Err(BindRefusal::ClusterUnavailable(e));
        }
    }
    // Only a host can be taken here (by a bind that won a race since the decision); a TCP
    // port was claimed above and nothing fails after.
    if let Err(e) = shared.registry.insert(tunnel.clone()) {
        crate::held::release(shared, &tunnel).await;
        return Err(BindRefusal::Taken(e));
    }
    tracing::info!(session = %session.id, tunnel = %id, url = %url, "tunnel bound");
    Ok(BindResp {
        url,
        proto: decision.proto.to_string(),
        opts: decision.opts,
        extra: BindRespExtra {
            token: shared.signer.sign(&id),
        },
        id: id.to_string(),
    })
}

/// Frees the TCP port a refused bind had taken.
fn release_port(shared: &Shared, tunnel: &Tunnel) {
    if let Some(port) = tunnel.port {
        shared.registry.release_port(port);
    }
}

/// The registry as one session's bind sees it.
struct LiveView<'a> {
    registry: &'a Registry,
    session: &'a ResourceId,
}

impl RegistryView for LiveView<'_> {
    fn session_tunnels(&self) -> usize {
        self.registry.session_tunnel_count(self.session)
    }

    fn is_live(&self, id: &TunnelId) -> bool {
        self.registry.tunnel(id).is_some()
    }

    fn host_holder(&self, host: &HostPattern) -> Option<TunnelId> {
        self.registry.host_holder(host)
    }
}

/// Asks the store about the name or address the bind wants, when dev mode does not waive
/// reservations and the bind wants a particular one.
async fn reservation(shared: &Shared, req: &BindRequest) -> Reservation {
    if shared.config.dev {
        return Reservation::Unchecked;
    }
    let answer = match &req.wanted {
        Wanted::Host(_) => {
            shared
                .store
                .domain_is_reserved(&req.reservation_candidates())
                .await
        }
        Wanted::Port { addr, .. } => shared.store.addr_is_reserved(addr).await,
        Wanted::RandomHost(_) | Wanted::AnyPort => return Reservation::Unchecked,
    };
    match answer {
        Ok(true) => Reservation::Held,
        Ok(false) => Reservation::Missing,
        Err(e) => Reservation::Unavailable(e),
    }
}

/// The tunnel's ID: a fresh one, or the one the agent held before a reconnect, if its bind
/// token proves it was issued to this agent.
fn id_check(shared: &Shared, req: &BindRequest) -> IdCheck {
    let Some(id) = &req.id else {
        return IdCheck::Fresh(TunnelId::generate());
    };
    if ResourceId::parse(id.as_str(), "tn").is_ok() && shared.signer.verify(id, &req.token) {
        IdCheck::Proven(id.clone())
    } else {
        IdCheck::Unproven(id.clone())
    }
}

/// Eight hex digits for a name the agent did not choose.
fn random_label() -> String {
    let mut rng = rand::thread_rng();
    (0..8)
        .map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)]))
        .collect()
}

fn host_url(shared: &Shared, proto: BindProto, pattern: &HostPattern) -> String {
    match proto {
        BindProto::Tls => format!("tls://{pattern}{}", port_suffix(shared.https_port, 443)),
        BindProto::Http => format!("http://{pattern}{}", port_suffix(shared.http_port, 80)),
        BindProto::Https | BindProto::Tcp => {
            format!("https://{pattern}{}", port_suffix(shared.https_port, 443))
        }
    }
}

fn port_suffix(port: u16, default: u16) -> String {
    if port == default {
        String::new()
    } else {
        format!(":{port}")
    }
}

#[cfg(test)]
mod tests;
