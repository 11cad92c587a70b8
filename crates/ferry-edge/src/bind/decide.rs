//! The bind decision as a function. Given a well-formed request, what the edge found out about
//! it beforehand (the authtoken's ACL, the reservation of the name, whether the tunnel ID is the
//! agent's) and a read-only view of the registry, it says which endpoint the tunnel gets and
//! what the agent is told, or why not. It reads no store, changes no registry and reads no
//! clock, so every rule can be tested alone; `bind.rs` looks things up before and claims after.

use std::time::Duration;

use ferry_proto::{BindProto, ClientKind};
use ferry_store::StoreError;
use ferry_types::acl::{self, BindTarget};
use ferry_types::{HostPattern, TunnelId};
use serde_json::Value;

use super::echo;
use super::refusal::BindRefusal;
use super::request::{BindRequest, Wanted};
use crate::protect::Protection;
use crate::registry::ClaimError;
use crate::terminate::Termination;

/// What the edge knows about the agent that binds and the name it asks for.
pub struct Policy<'a> {
    /// Dev mode: names bind without a reservation. The ACL applies all the same.
    pub dev: bool,
    /// The authtoken's `bind:` rules; empty allows everything.
    pub acl: &'a [String],
    /// What the store said about the reservation of the name or address asked for.
    pub reservation: Reservation,
    /// Whether the tunnel ID is the agent's to use.
    pub id: IdCheck,
    pub client: &'a ClientKind,
    /// Tunnels one session may hold.
    pub max_tunnels: usize,
    /// How long proxy streams wait after the bind reply for agents that drop streams arriving
    /// before they have registered the tunnel (ngrok's SDKs).
    pub sdk_bind_settle: Duration,
}

/// The store's answer about the name or address a bind asks for
/// (`BindRequest::reservation_candidates`).
#[derive(Debug)]
pub enum Reservation {
    /// Reserved, exactly or under a reserved wildcard.
    Held,
    /// Not reserved.
    Missing,
    /// Not looked up: dev mode, or a random name or port. Outside dev mode a name that needs a
    /// reservation is refused on this answer, as on `Missing`.
    Unchecked,
    /// The store could not answer.
    Unavailable(StoreError),
}

/// The tunnel ID a bind is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdCheck {
    /// A new tunnel, with the ID the edge generated for it.
    Fresh(TunnelId),
    /// A re-bind whose bind token proves the ID was issued to this agent.
    Proven(TunnelId),
    /// A re-bind whose ID or token does not check out.
    Unproven(TunnelId),
}

/// What the registry holds, as a bind needs to see it.
pub trait RegistryView {
    /// Tunnels the binding session holds now.
    fn session_tunnels(&self) -> usize;
    /// True when tunnel `id` is live, so a bind of it replaces it rather than adding one.
    fn is_live(&self, id: &TunnelId) -> bool;
    /// The ID of the tunnel that serves `host` now.
    fn host_holder(&self, host: &HostPattern) -> Option<TunnelId>;
}

/// A bind the edge accepts: what to claim and what to tell the agent.
#[derive(Debug)]
pub struct Decision {
    pub id: TunnelId,
    /// Echoed in the reply and in proxy headers.
    pub proto: BindProto,
    pub endpoint: Endpoint,
    /// The agent's options with the chosen name and the keys ngrok's SDKs require. A TCP
    /// endpoint's address is added once its port is claimed (`echo::tcp`).
    pub opts: Value,
    /// Basic auth the edge requires.
    pub protection: Protection,
    /// Client CAs the edge requires (base64 `MutualTLSCA` or `MutualTLSAtEdge`), to be read
    /// and checked.
    pub client_ca: Option<String>,
    /// A TLS endpoint the edge terminates, its certificate and key still to be checked.
    pub termination: Option<Termination>,
    /// How long proxy streams wait after the reply.
    pub settle: Duration,
    pub metadata: String,
    pub forwards_to: String,
    /// The PROXY protocol header the endpoint's connections start with.
    pub proxy_proto: Option<ferry_proto::ProxyVersion>,
}

/// Where a tunnel is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Host(HostPattern),
    /// A TCP port: the one asked for, or any free one in the range.
    Port(Option<u16>),
}

/// Decides `req`. The refusal, if any, is the first rule broken in this order: the tunnel ID,
/// the session's tunnel limit, then for a host the reservation, the ACL and whether another
/// tunnel holds the name; for a TCP port the ACL, then the reservation.
pub fn decide(
    req: BindRequest,
    policy: Policy<'_>,
    registry: &impl RegistryView,
) -> Result<Decision, BindRefusal> {
    let id = match policy.id {
        IdCheck::Fresh(id) | IdCheck::Proven(id) => id,
        IdCheck::Unproven(id) => return Err(BindRefusal::BindToken(id.to_string())),
    };
    if registry.session_tunnels() >= policy.max_tunnels && !registry.is_live(&id) {
        return Err(BindRefusal::TunnelLimit(policy.max_tunnels));
    }
    let candidates = req.reservation_candidates();
    let mut opts = req.opts;
    let endpoint = match req.wanted {
        Wanted::Host(pattern) => {
            if !policy.dev {
                check_reserved_host(policy.reservation, &pattern, candidates)?;
            }
            check_acl(
                policy.acl,
                &BindTarget::Host(&pattern),
                &pattern.to_string(),
            )?;
            claimable(registry, &pattern, &id)?;
            Endpoint::Host(pattern)
        }
        Wanted::RandomHost(pattern) => {
            check_acl(policy.acl, &BindTarget::Random, &pattern.to_string())?;
            claimable(registry, &pattern, &id)?;
            Endpoint::Host(pattern)
        }
        Wanted::Port { port, addr } => {
            check_acl(policy.acl, &BindTarget::Addr(&addr), &addr)?;
            if !policy.dev {
                check_reserved_addr(policy.reservation, addr)?;
            }
            Endpoint::Port(Some(port))
        }
        Wanted::AnyPort => {
            check_acl(policy.acl, &BindTarget::Random, "a random port")?;
            Endpoint::Port(None)
        }
    };
    if let Endpoint::Host(pattern) = &endpoint {
        echo::host(&mut opts, req.proto, pattern);
    }
    let settle = if policy.client.is_ferry() {
        Duration::ZERO
    } else {
        policy.sdk_bind_settle
    };
    Ok(Decision {
        id,
        proto: req.proto,
        endpoint,
        opts,
        protection: req.protection,
        client_ca: req.client_ca,
        termination: req.termination,
        settle,
        metadata: req.metadata,
        forwards_to: req.forwards_to,
        proxy_proto: req.proxy_proto,
    })
}

/// Outside dev mode a name binds only when one of `candidates` is reserved.
fn check_reserved_host(
    reservation: Reservation,
    pattern: &HostPattern,
    candidates: Vec<String>,
) -> Result<(), BindRefusal> {
    match reservation {
        Reservation::Held => Ok(()),
        Reservation::Missing | Reservation::Unchecked => Err(BindRefusal::DomainNotReserved {
            pattern: pattern.clone(),
            checked: candidates,
        }),
        Reservation::Unavailable(source) => Err(BindRefusal::ReservationUnavailable {
            what: "domains",
            source,
        }),
    }
}

/// Outside dev mode a TCP endpoint that asks for an address gets it only when the address is
/// reserved; a random port needs no reservation.
fn check_reserved_addr(reservation: Reservation, addr: String) -> Result<(), BindRefusal> {
    match reservation {
        Reservation::Held => Ok(()),
        Reservation::Missing | Reservation::Unchecked => Err(BindRefusal::AddrNotReserved(addr)),
        Reservation::Unavailable(source) => Err(BindRefusal::ReservationUnavailable {
            what: "addresses",
            source,
        }),
    }
}

fn check_acl(rules: &[String], target: &BindTarget<'_>, what: &str) -> Result<(), BindRefusal> {
    if acl::allows(rules, target) {
        return Ok(());
    }
    Err(BindRefusal::AclDenied {
        what: what.to_string(),
        rules: acl::describe(rules),
    })
}

/// A name is free for tunnel `id` unless another tunnel holds it (a re-bind of the same ID
/// takes its name over).
fn claimable(
    registry: &impl RegistryView,
    pattern: &HostPattern,
    id: &TunnelId,
) -> Result<(), BindRefusal> {
    match registry.host_holder(pattern) {
        Some(holder) if holder != *id => {
            Err(BindRefusal::Taken(ClaimError::Taken(pattern.to_string())))
        }
        _ => Ok(()),
    }
}
