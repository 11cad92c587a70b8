//! From a tunnel definition (a config file entry or an agent API body) to a [`TunnelSpec`].

use std::path::PathBuf;

use super::raw::{RawTunnel, UNENFORCED_TUNNEL_KEYS, UNSUPPORTED_TUNNEL_KEYS};
use crate::tunnel::{HostHeader, TerminateAt, TunnelProto, TunnelSpec};
use crate::upstream::Upstream;

/// Converts one definition. Returns the spec and warnings for keys Ferry ignores; an error
/// message names the key at fault.
pub fn tunnel_spec(name: &str, raw: &RawTunnel) -> Result<(TunnelSpec, Vec<String>), String> {
    let proto = match raw.proto.as_deref().map(str::trim) {
        Some("http") => TunnelProto::Http,
        Some("tls") => TunnelProto::Tls,
        Some("tcp") => TunnelProto::Tcp,
        Some(other) => return Err(format!("proto {other:?} is not one of http, tcp or tls")),
        None if raw.labels.is_some() => {
            return Err("labeled tunnels (labels, no proto) are not supported by Ferry; give the tunnel a proto and a domain".into())
        }
        None => return Err("proto is required: http, tcp or tls".into()),
    };
    let addr_text = raw
        .addr
        .as_ref()
        .map(|a| a.text())
        .ok_or("addr is required: a port (3000), host:port, or a URL")?;
    let addr = Upstream::parse(&addr_text).map_err(|e| e.to_string())?;
    let unenforced = raw.keys_set(UNENFORCED_TUNNEL_KEYS);
    if let Some(key) = unenforced.first() {
        return Err(format!(
            "{key}: Ferry does not enforce this protection yet, so it refuses the tunnel rather than expose it without"
        ));
    }
    let mut warnings: Vec<String> = raw
        .keys_set(UNSUPPORTED_TUNNEL_KEYS)
        .into_iter()
        .map(|k| {
            format!("tunnel {name:?}: {k}: ngrok's agent knows this key; Ferry ignores it for now")
        })
        .collect();
    let only = |key: &str, allowed: &[TunnelProto]| -> Result<(), String> {
        if allowed.contains(&proto) {
            Ok(())
        } else {
            Err(format!(
                "{key} does not apply to proto {}",
                raw.proto.as_deref().unwrap_or("")
            ))
        }
    };
    if raw.remote_addr.is_some() {
        only("remote_addr", &[TunnelProto::Tcp])?;
    }
    if raw.domain.is_some() || raw.hostname.is_some() || raw.subdomain.is_some() {
        only("domain", &[TunnelProto::Http, TunnelProto::Tls])?;
    }
    if raw.crt.is_some() || raw.key.is_some() || raw.terminate_at.is_some() {
        only("crt/key/terminate_at", &[TunnelProto::Tls])?;
    }
    if raw.basic_auth.is_some() || raw.auth.is_some() || raw.host_header.is_some() {
        only("basic_auth/host_header", &[TunnelProto::Http])?;
    }
    let proxy_proto = match raw.proxy_proto.as_ref().map(|v| v.text()) {
        None => 0,
        Some(v) => match v.trim().trim_start_matches(['v', 'V']) {
            "" | "0" => 0,
            "1" => 1,
            "2" => 2,
            _ => {
                return Err(format!(
                    "proxy_proto {v:?} is not a PROXY protocol version: 1 or 2"
                ))
            }
        },
    };
    if proxy_proto != 0 {
        only("proxy_proto", &[TunnelProto::Tcp, TunnelProto::Tls])?;
    }
    let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    let has_cas = set(&raw.mutual_tls_cas);
    let terminate_at = match raw.terminate_at.as_deref().map(str::trim) {
        None | Some("") => TerminateAt::default_for(set(&raw.crt) || set(&raw.key) || has_cas),
        Some("upstream") => TerminateAt::Upstream,
        Some("agent") => TerminateAt::Agent,
        Some("edge") => TerminateAt::Edge,
        Some(other) => {
            return Err(format!(
                "terminate_at {other:?} is not one of agent, upstream or edge"
            ))
        }
    };
    // Client certificates are checked by the edge for http, and for TLS wherever it ends;
    // TLS passed through to the upstream is checked by nothing, so such a tunnel is refused
    // rather than left open to clients without one.
    if has_cas {
        match proto {
            TunnelProto::Http => {}
            TunnelProto::Tls if terminate_at != TerminateAt::Upstream => {}
            TunnelProto::Tls => {
                return Err("mutual_tls_cas on a tls tunnel needs TLS to end at the edge or the agent: with terminate_at: upstream the client's TLS passes through untouched, so nothing could check its certificate; drop terminate_at (edge is the default with mutual_tls_cas) or say agent".into())
            }
            _ => {
                return Err(format!(
                    "mutual_tls_cas does not apply to proto {}: only http and tls check client certificates",
                    raw.proto.as_deref().unwrap_or("")
                ))
            }
        }
    }
    if proxy_proto != 0 && terminate_at == TerminateAt::Agent {
        return Err("proxy_proto with terminate_at: agent: the header would come before the TLS the agent terminates, and the agent does not read it off; let TLS end at the edge (terminate_at: edge) or at the upstream".into());
    }
    let http_scheme = match raw.schemes.as_deref() {
        None => false,
        Some(s) if s.iter().all(|x| x == "http") && !s.is_empty() => true,
        Some(s) if s.iter().all(|x| x == "https") && !s.is_empty() => false,
        Some(s) if s.iter().all(|x| x == "http" || x == "https") => {
            warnings.push(format!(
                "tunnel {name:?}: schemes {s:?}: Ferry binds one scheme per tunnel; using https"
            ));
            false
        }
        Some(s) => return Err(format!("schemes {s:?}: each must be http or https")),
    };
    let host_header = match raw.host_header.as_deref().map(str::trim) {
        None | Some("") | Some("preserve") => HostHeader::Preserve,
        Some("rewrite") => HostHeader::Rewrite,
        Some(literal) => HostHeader::Literal(literal.to_string()),
    };
    let mut basic_auth = Vec::new();
    for cred in raw.basic_auth.iter().flatten().chain(raw.auth.iter()) {
        let (user, pass) = cred
            .split_once(':')
            .ok_or_else(|| format!("basic_auth {cred:?} must be \"user:password\""))?;
        if user.is_empty() {
            return Err(format!("basic_auth {cred:?}: the user name is empty"));
        }
        if pass.chars().count() < 8 {
            return Err(format!(
                "basic_auth for user {user:?}: the password must have at least 8 characters"
            ));
        }
        basic_auth.push((user.to_string(), pass.to_string()));
    }
    let nonempty = |s: &Option<String>| {
        s.as_ref()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let spec = TunnelSpec {
        name: name.to_string(),
        proto,
        addr,
        domain: nonempty(&raw.domain).or_else(|| nonempty(&raw.hostname)),
        subdomain: nonempty(&raw.subdomain),
        remote_addr: nonempty(&raw.remote_addr),
        terminate_at,
        crt: nonempty(&raw.crt).map(PathBuf::from),
        key: nonempty(&raw.key).map(PathBuf::from),
        mutual_tls_cas: nonempty(&raw.mutual_tls_cas).map(PathBuf::from),
        alpn: raw.alpn.clone().unwrap_or_default(),
        http_scheme,
        metadata: raw.metadata.clone().unwrap_or_default(),
        inspect: raw.inspect.unwrap_or(proto == TunnelProto::Http),
        host_header,
        basic_auth,
        proxy_proto,
    };
    Ok((spec, warnings))
}
