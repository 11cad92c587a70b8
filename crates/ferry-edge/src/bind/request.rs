//! A bind request read and checked for everything it can be refused for on its own, before
//! the edge looks at who asks and what is taken: the protocol, the options, features Ferry does
//! not enforce, the name or port asked for, the protections the endpoint wants, and whether
//! the tunnel ID a re-bind names could be one at all.

use ferry_proto::msg::{Bind, BindOptsView};
use ferry_proto::{BindProto, ProxyVersion};
use ferry_types::{HostPattern, Hostname, TunnelId};
use serde_json::Value;

use super::refusal::BindRefusal;
use crate::client_auth;
use crate::protect::Protection;
use crate::terminate::{self, Termination};

/// Features ngrok enforces at its edge that Ferry does not enforce yet. Accepting a bind that
/// asks for one and ignoring it would expose what the user meant to protect, so such a bind is
/// refused with the feature named.
const UNENFORCED: &[(&str, &str)] = &[
    (
        "auth",
        "auth (the legacy user:password form; use basic_auth)",
    ),
    ("oauth", "oauth"),
    ("oidc", "oidc"),
    ("iprestriction", "ip_restriction"),
    ("webhookverification", "verify_webhook"),
    ("useragentfilter", "user_agent_filter"),
    ("trafficpolicy", "traffic_policy"),
];

/// What the edge needs to know about itself to read a request.
pub struct Site<'a> {
    /// Random names and `Subdomain` go under it.
    pub base_domain: &'a Hostname,
    /// The first and last port TCP endpoints may take.
    pub tcp_ports: (u16, u16),
    /// The host in a TCP endpoint's `host:port`.
    pub tcp_public_host: &'a str,
}

/// A bind request that is well formed.
#[derive(Debug)]
pub struct BindRequest {
    /// The tunnel's ID on a re-bind, `None` for a new tunnel.
    pub id: Option<TunnelId>,
    /// The bind token the agent was given with `id`.
    pub token: String,
    pub proto: BindProto,
    pub wanted: Wanted,
    /// The agent's options as sent (an object), to be echoed back with the chosen name.
    pub opts: Value,
    /// Basic auth the edge must require (HTTP endpoints).
    pub protection: Protection,
    /// Client CAs the edge must require, base64: an HTTPS endpoint's `MutualTLSCA`, a TLS
    /// endpoint's `MutualTLSAtEdge`.
    pub client_ca: Option<String>,
    /// A TLS endpoint the edge terminates (`TLSTermination`, or client CAs to check); `None`
    /// passes the client's TLS through to the agent.
    pub termination: Option<Termination>,
    pub metadata: String,
    pub forwards_to: String,
    /// The PROXY protocol header a TCP or TLS endpoint's connections start with.
    pub proxy_proto: Option<ProxyVersion>,
}

/// The name or port a bind asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wanted {
    /// A name the agent asked for, through `Domain`, `Hostname` or `Subdomain`.
    Host(HostPattern),
    /// A name the edge picked at random under its base domain.
    RandomHost(HostPattern),
    /// A TCP port the agent asked for; `addr` is its `host:port` as ACLs and reservations
    /// name it.
    Port { port: u16, addr: String },
    /// Any free TCP port.
    AnyPort,
}

impl BindRequest {
    /// Reads `req`. `random_label` names the endpoint when the agent asks for no name.
    pub fn parse(req: Bind, site: &Site<'_>, random_label: &str) -> Result<Self, BindRefusal> {
        let proto: BindProto = req.proto.parse()?;
        let view = BindOptsView::from_opts(&req.opts).map_err(BindRefusal::Options)?;
        check_unenforced(proto, &req.opts)?;
        // Like the options above: an IP policy the edge would not enforce must not leave the
        // endpoint open to every address.
        if !req.extra.ip_policy_ref.trim().is_empty() {
            return Err(BindRefusal::Unenforced(
                "an IP policy (IPPolicyRef); restrict addresses in front of the edge instead",
            ));
        }
        let wanted = match proto {
            BindProto::Http | BindProto::Https | BindProto::Tls => {
                choose_host(site.base_domain, &view, random_label)?
            }
            BindProto::Tcp => tcp_addr(site, &view.addr)?,
        };
        let (protection, client_ca) = match proto {
            BindProto::Http | BindProto::Https => (
                Protection::from_opts(&view)?,
                client_auth::requested(view.mutualtlsca.as_ref()),
            ),
            BindProto::Tls => (
                Protection::default(),
                client_auth::requested(view.mutualtlsatedge.as_ref()),
            ),
            BindProto::Tcp => (Protection::default(), None),
        };
        let termination = match proto {
            BindProto::Tls => terminate::requested(
                view.tlstermination.as_ref(),
                client_ca.is_some(),
                view.mutualtlsatagent,
            )?,
            _ => None,
        };
        if client_ca.is_some() && proto == BindProto::Http {
            return Err(BindRefusal::MutualTlsOnHttp);
        }
        let proxy_proto = ProxyVersion::from_bind(view.proxy_proto());
        if let (Some(v), BindProto::Http | BindProto::Https) = (proxy_proto, proto) {
            return Err(BindRefusal::ProxyProto {
                version: v.number(),
                proto,
            });
        }
        // Last, as the tunnel ID is the first thing `decide` checks.
        let id = rebind_id(req.id)?;
        let opts = if req.opts.is_object() {
            req.opts
        } else {
            Value::Object(Default::default())
        };
        Ok(Self {
            id,
            token: req.extra.token,
            proto,
            wanted,
            opts,
            protection,
            client_ca,
            termination,
            metadata: req.extra.metadata,
            forwards_to: req.forwards_to,
            proxy_proto,
        })
    }

    /// The names whose reservation lets this bind have its name: the name itself and, for an
    /// exact name, every wildcard above it (`*.customer1.example.test` covers
    /// `api.customer1.example.test` and deeper names). A wildcard binds only when that wildcard
    /// itself is reserved, as in ngrok. Empty when no reservation is needed.
    pub fn reservation_candidates(&self) -> Vec<String> {
        match &self.wanted {
            Wanted::Host(pattern) => {
                let mut candidates = vec![pattern.to_string()];
                if let HostPattern::Exact(h) = pattern {
                    let name = h.as_str();
                    candidates.extend(
                        name.match_indices('.')
                            .map(|(i, _)| format!("*{}", &name[i..])),
                    );
                }
                candidates
            }
            Wanted::Port { addr, .. } => vec![addr.clone()],
            Wanted::RandomHost(_) | Wanted::AnyPort => Vec::new(),
        }
    }
}

/// The ID a re-bind asks to keep, `None` for a new tunnel. Text no tunnel ID can be (see
/// [`TunnelId`]) was never given out, so it is refused as an ID without its bind token is.
fn rebind_id(text: String) -> Result<Option<TunnelId>, BindRefusal> {
    if text.is_empty() {
        return Ok(None);
    }
    TunnelId::parse(&text)
        .map(Some)
        .map_err(|_| BindRefusal::BindToken(text))
}

/// Options that only a `tls` bind may carry; elsewhere the edge would ignore them.
const TLS_ONLY: &[(&str, &str)] = &[
    ("tlstermination", "TLSTermination"),
    ("mutualtlsatedge", "MutualTLSAtEdge"),
];

fn check_unenforced(proto: BindProto, opts: &Value) -> Result<(), BindRefusal> {
    let folded = ferry_proto::rpc::fold_keys(opts);
    let Some(map) = folded.as_object() else {
        return Ok(());
    };
    for (key, name) in UNENFORCED {
        let used = match map.get(*key) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Object(o)) => !o.is_empty(),
            Some(_) => true,
        };
        if used {
            return Err(BindRefusal::Unenforced(name));
        }
    }
    if proto != BindProto::Tls {
        if let Some((_, name)) = TLS_ONLY
            .iter()
            .find(|(key, _)| map.get(*key).is_some_and(|v| !v.is_null()))
        {
            return Err(BindRefusal::TlsOnly {
                option: name,
                proto,
            });
        }
    }
    Ok(())
}

/// The host asked for, or `<subdomain>.<base>`, or `<random_label>.<base>`.
fn choose_host(
    base: &Hostname,
    view: &BindOptsView,
    random_label: &str,
) -> Result<Wanted, BindRefusal> {
    let (text, random) = match view.requested_host() {
        Some(h) => (h.to_string(), false),
        None if !view.subdomain.trim().is_empty() => {
            (format!("{}.{base}", view.subdomain.trim()), false)
        }
        None => (format!("{random_label}.{base}"), true),
    };
    let pattern = match HostPattern::parse(&text) {
        Ok(p) => p,
        Err(source) => return Err(BindRefusal::Domain { text, source }),
    };
    Ok(if random {
        Wanted::RandomHost(pattern)
    } else {
        Wanted::Host(pattern)
    })
}

fn tcp_addr(site: &Site<'_>, addr: &str) -> Result<Wanted, BindRefusal> {
    let addr = addr.trim();
    if addr.is_empty() {
        return Ok(Wanted::AnyPort);
    }
    let port_text = addr.rsplit_once(':').map(|(_, p)| p).unwrap_or(addr);
    let port: u16 = port_text.parse().map_err(|source| BindRefusal::TcpAddr {
        addr: addr.to_string(),
        source,
    })?;
    let (lo, hi) = site.tcp_ports;
    if port < lo || port > hi {
        return Err(BindRefusal::TcpPortOutOfRange {
            addr: addr.to_string(),
            port,
            lo,
            hi,
        });
    }
    Ok(Wanted::Port {
        port,
        addr: format!("{}:{port}", site.tcp_public_host),
    })
}
