//! Deciding a bind: which name or port the tunnel gets, whether the authtoken may have it,
//! and what the agent is told. The agent stores the reply's `Opts` and `Token` and sends them
//! back unchanged on every re-bind, so the chosen name goes into `Opts` and the tunnel ID is
//! kept for as long as the bind token proves the agent owns it.

use std::sync::Arc;
use std::time::Instant;

use ferry_proto::msg::{Bind, BindOptsView, BindResp, BindRespExtra};
use ferry_types::acl::{self, BindTarget};
use ferry_types::{ErrorCode, HostPattern, ResourceId};
use rand::Rng;
use serde_json::Value;

use crate::protect::Protection;
use crate::registry::{AgentSession, ClaimError, Proto, Tunnel};
use crate::{client_auth, tcp, Shared};

/// A refused bind: the code and a message for the agent's user.
#[derive(Debug)]
pub struct BindRefusal {
    pub code: ErrorCode,
    pub msg: String,
}

fn refuse(code: ErrorCode, msg: impl Into<String>) -> BindRefusal {
    BindRefusal {
        code,
        msg: msg.into(),
    }
}

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
    (
        "mutualtlsatedge",
        "mutual_tls_cas on a TLS endpoint terminated at the edge",
    ),
    (
        "tlstermination",
        "TLS termination at the edge (crt/key without terminate_at: agent)",
    ),
    ("useragentfilter", "user_agent_filter"),
    ("trafficpolicy", "traffic_policy"),
];

pub async fn bind(
    shared: &Arc<Shared>,
    session: &Arc<AgentSession>,
    acl_rules: &[String],
    req: Bind,
) -> Result<BindResp, BindRefusal> {
    let proto = match req.proto.as_str() {
        "http" | "https" => Proto::Http,
        "tls" => Proto::Tls,
        "tcp" => Proto::Tcp,
        other => {
            return Err(refuse(
                ErrorCode::ProtoUnknown,
                format!("unknown protocol {other:?}; expected http, https, tls or tcp"),
            ))
        }
    };
    let view = BindOptsView::from_opts(&req.opts)
        .map_err(|e| refuse(ErrorCode::BindPayloadInvalid, format!("bind options: {e}")))?;
    check_unenforced(&req.opts)?;

    let id = tunnel_id(shared, &req)?;
    if shared.registry.session_tunnel_count(&session.id) >= shared.config.max_tunnels_per_session
        && shared.registry.tunnel(&id).is_none()
    {
        return Err(refuse(
            ErrorCode::TunnelLimit,
            format!(
                "this session already has {} tunnels, the most one session may hold",
                shared.config.max_tunnels_per_session
            ),
        ));
    }

    let mut opts = if req.opts.is_object() {
        req.opts.clone()
    } else {
        Value::Object(Default::default())
    };
    let (host, port, url) = match proto {
        Proto::Http | Proto::Tls => {
            let (pattern, random) = choose_host(shared, &view)?;
            if !random {
                check_reserved(shared, &pattern).await?;
            }
            let target = if random {
                BindTarget::Random
            } else {
                BindTarget::Host(&pattern)
            };
            check_acl(acl_rules, &target, &pattern.to_string())?;
            shared
                .registry
                .check_host(&pattern, &id)
                .map_err(|e| refuse(ErrorCode::EndpointTaken, e.to_string()))?;
            set_opt(&mut opts, "Hostname", &pattern.to_string());
            let required: &[(&str, Value)] = match proto {
                Proto::Http => &[
                    ("Auth", Value::String(String::new())),
                    ("Subdomain", Value::String(String::new())),
                    ("HostHeaderRewrite", Value::Bool(false)),
                    ("ProxyProto", Value::from(0)),
                ],
                _ => &[
                    ("Subdomain", Value::String(String::new())),
                    ("ProxyProto", Value::from(0)),
                    ("MutualTLSAtAgent", Value::Bool(false)),
                ],
            };
            for (key, value) in required {
                default_opt(&mut opts, key, value);
            }
            let url = match (proto, req.proto.as_str()) {
                (Proto::Tls, _) => {
                    format!("tls://{pattern}{}", port_suffix(shared.https_port, 443))
                }
                (_, "http") => format!("http://{pattern}{}", port_suffix(shared.http_port, 80)),
                _ => format!("https://{pattern}{}", port_suffix(shared.https_port, 443)),
            };
            (Some(pattern), None, url)
        }
        Proto::Tcp => {
            let wanted = parse_tcp_addr(shared, &view.addr)?;
            let addr_text = wanted.map(|p| format!("{}:{p}", shared.config.tcp_public_host));
            let target = match &addr_text {
                Some(a) => BindTarget::Addr(a),
                None => BindTarget::Random,
            };
            check_acl(
                acl_rules,
                &target,
                addr_text.as_deref().unwrap_or("a random port"),
            )?;
            if let Some(a) = &addr_text {
                check_reserved_addr(shared, a).await?;
            }
            let port = tcp::claim(shared, wanted, &id).map_err(|e| match e {
                ClaimError::NoFreePort(..) | ClaimError::PortInUse(_) | ClaimError::Taken(_) => {
                    refuse(ErrorCode::TcpAddrUnavailable, e.to_string())
                }
            })?;
            let addr = format!("{}:{port}", shared.config.tcp_public_host);
            set_opt(&mut opts, "Addr", &addr);
            default_opt(&mut opts, "ProxyProto", &Value::from(0));
            (None, Some(port), format!("tcp://{addr}"))
        }
    };

    let client_tls = match proto {
        Proto::Http => client_auth::config_for(shared, view.mutualtlsca.as_ref()).await?,
        _ => None,
    };
    if client_tls.is_some() && req.proto == "http" {
        return Err(refuse(
            ErrorCode::MutualTlsCaInvalid,
            "mutual_tls_cas needs an https endpoint: a plain-http client presents no certificate",
        ));
    }
    let settle = if session.client.is_ferry() {
        std::time::Duration::ZERO
    } else {
        shared.config.sdk_bind_settle
    };
    let protection = if proto == Proto::Http {
        Protection::from_opts(&view).map_err(|msg| refuse(ErrorCode::BindPayloadInvalid, msg))?
    } else {
        Protection::default()
    };
    let tunnel = Arc::new(Tunnel {
        id: id.clone(),
        proto,
        bind_proto: req.proto.clone(),
        host,
        port,
        public_url: url.clone(),
        session: session.clone(),
        ready_at: Instant::now() + settle,
        protection,
        metadata: req.extra.metadata.clone(),
        forwards_to: req.forwards_to.clone(),
        started_at: std::time::SystemTime::now(),
        client_tls,
    });
    // Only a host can be taken here; a TCP port was claimed above and nothing fails after.
    if let Err(e) = shared.registry.insert(tunnel) {
        return Err(refuse(ErrorCode::EndpointTaken, e.to_string()));
    }
    tracing::info!(session = %session.id, tunnel = %id, url = %url, "tunnel bound");
    Ok(BindResp {
        id: id.clone(),
        url,
        proto: req.proto,
        opts,
        extra: BindRespExtra {
            token: shared.signer.sign(&id),
        },
    })
}

fn check_unenforced(opts: &Value) -> Result<(), BindRefusal> {
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
            return Err(refuse(
                ErrorCode::BindPayloadInvalid,
                format!("this Ferry edge does not enforce {name} yet, so it refuses the bind rather than expose the endpoint without it"),
            ));
        }
    }
    let proxy_proto = map.get("proxyproto").and_then(Value::as_u64).unwrap_or(0);
    if proxy_proto != 0 {
        return Err(refuse(
            ErrorCode::BindPayloadInvalid,
            format!("proxy_proto {proxy_proto}: this Ferry edge does not send PROXY protocol headers yet"),
        ));
    }
    Ok(())
}

/// The tunnel's ID: a fresh one, or the one the agent held before a reconnect, if its bind
/// token proves it was issued to this agent.
fn tunnel_id(shared: &Shared, req: &Bind) -> Result<String, BindRefusal> {
    if req.id.is_empty() {
        return Ok(ResourceId::generate("tn").to_string());
    }
    if ResourceId::parse(&req.id, "tn").is_err() || !shared.signer.verify(&req.id, &req.extra.token)
    {
        return Err(refuse(
            ErrorCode::BindTokenInvalid,
            format!(
                "the re-bind of tunnel {:?} carries no valid bind token for it; start the tunnel anew",
                req.id
            ),
        ));
    }
    Ok(req.id.clone())
}

/// The host asked for, or `<subdomain>.<base>`, or a random name under the base domain. The
/// flag says whether the name was random.
fn choose_host(shared: &Shared, view: &BindOptsView) -> Result<(HostPattern, bool), BindRefusal> {
    let (text, random) = match view.requested_host() {
        Some(h) => (h.to_string(), false),
        None if !view.subdomain.trim().is_empty() => (
            format!("{}.{}", view.subdomain.trim(), shared.config.base_domain),
            false,
        ),
        None => {
            let label: String = (0..8)
                .map(|_| char::from(b"0123456789abcdef"[rand::thread_rng().gen_range(0..16)]))
                .collect();
            (format!("{label}.{}", shared.config.base_domain), true)
        }
    };
    let pattern = HostPattern::parse(&text)
        .map_err(|e| refuse(ErrorCode::DomainMalformed, format!("domain {text:?}: {e}")))?;
    Ok((pattern, random))
}

/// Outside dev mode a name binds only when it is reserved exactly or lies under a reserved
/// wildcard (`*.customer1.example.test` covers `api.customer1.example.test` and deeper names);
/// a wildcard binds only when that wildcard itself is reserved, as in ngrok.
async fn check_reserved(shared: &Shared, pattern: &HostPattern) -> Result<(), BindRefusal> {
    if shared.config.dev {
        return Ok(());
    }
    let mut candidates = vec![pattern.to_string()];
    if let HostPattern::Exact(h) = pattern {
        let name = h.as_str();
        candidates.extend(
            name.match_indices('.')
                .map(|(i, _)| format!("*{}", &name[i..])),
        );
    }
    match shared.store.domain_is_reserved(&candidates).await {
        Ok(true) => Ok(()),
        Ok(false) => {
            let code = if pattern.is_wildcard() {
                ErrorCode::WildcardNotReserved
            } else {
                ErrorCode::DomainNotReserved
            };
            Err(refuse(
                code,
                format!("refused by this edge's reserved domains: {pattern} is not reserved (checked {}); reserve it with POST /reserved_domains first", candidates.join(", ")),
            ))
        }
        Err(e) => Err(refuse(
            ErrorCode::ReservationCheckFailed,
            format!("cannot check reserved domains right now ({e}); retry"),
        )),
    }
}

/// Outside dev mode a TCP endpoint that asks for an address gets it only when the address is
/// reserved; a random port needs no reservation.
async fn check_reserved_addr(shared: &Shared, addr: &str) -> Result<(), BindRefusal> {
    if shared.config.dev {
        return Ok(());
    }
    match shared.store.addr_is_reserved(addr).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(refuse(
            ErrorCode::AddrNotReserved,
            format!("refused by this edge's reserved addresses: {addr} is not reserved; reserve one with POST /reserved_addrs first"),
        )),
        Err(e) => Err(refuse(
            ErrorCode::ReservationCheckFailed,
            format!("cannot check reserved addresses right now ({e}); retry"),
        )),
    }
}

fn check_acl(rules: &[String], target: &BindTarget<'_>, what: &str) -> Result<(), BindRefusal> {
    if acl::allows(rules, target) {
        return Ok(());
    }
    Err(refuse(
        ErrorCode::AclDenied,
        format!(
            "the authtoken's ACL does not allow binding {what}; its rules are: {}",
            acl::describe(rules)
        ),
    ))
}

fn parse_tcp_addr(shared: &Shared, addr: &str) -> Result<Option<u16>, BindRefusal> {
    let addr = addr.trim();
    if addr.is_empty() {
        return Ok(None);
    }
    let port_text = addr.rsplit_once(':').map(|(_, p)| p).unwrap_or(addr);
    let port: u16 = port_text.parse().map_err(|_| {
        refuse(
            ErrorCode::TcpAddrUnavailable,
            format!("remote_addr {addr:?} is not host:port"),
        )
    })?;
    let (lo, hi) = shared.config.tcp_ports;
    if port < lo || port > hi {
        return Err(refuse(
            ErrorCode::TcpAddrUnavailable,
            format!("remote_addr {addr:?}: port {port} is outside this edge's TCP range {lo}-{hi}"),
        ));
    }
    Ok(Some(port))
}

/// Sets `key` in the echoed options, replacing any other spelling of it so the agent does
/// not see two.
fn set_opt(opts: &mut Value, key: &str, value: &str) {
    if let Value::Object(map) = opts {
        let folded = key.to_ascii_lowercase();
        map.retain(|k, _| k.replace('_', "").to_ascii_lowercase() != folded);
        map.insert(key.to_string(), Value::String(value.to_string()));
    }
}

/// ngrok's SDKs fail to decode a bind reply whose options lack a required key, and Go agents
/// omit some of them, so any spelling already there is kept and a missing key gets `value`.
fn default_opt(opts: &mut Value, key: &str, value: &Value) {
    if let Value::Object(map) = opts {
        let folded = key.to_ascii_lowercase();
        if !map
            .keys()
            .any(|k| k.replace('_', "").to_ascii_lowercase() == folded)
        {
            map.insert(key.to_string(), value.clone());
        }
    }
}

pub fn port_suffix(port: u16, default: u16) -> String {
    if port == default {
        String::new()
    } else {
        format!(":{port}")
    }
}
