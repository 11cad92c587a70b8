//! DNS-rebinding protection: the API answers only a Host that is localhost-like, the public
//! name of one of the agent's own tunnels that forwards to the API, or an entry of
//! `web_allow_hosts`. A page on some other site that points its name at 127.0.0.1 therefore
//! cannot drive the API, while the guides' `agent-api` tunnel works with no extra key.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderName};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, ApiState};

pub async fn check_host(State(s): State<ApiState>, req: Request, next: Next) -> Response {
    // Read everything needed before the first await: a request body is not `Sync`, so a
    // borrow of the request must not live across one.
    let (host, origin, fetch_site, is_json, method) = {
        let header_text = |name: header::HeaderName| {
            req.headers()
                .get(name)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
        };
        let host = header_text(header::HOST)
            .or_else(|| req.uri().host().map(str::to_string))
            .unwrap_or_default();
        (
            host,
            header_text(header::ORIGIN),
            header_text(HeaderName::from_static("sec-fetch-site")),
            header_text(header::CONTENT_TYPE)
                .is_some_and(|t| t.to_ascii_lowercase().starts_with("application/json")),
            req.method().clone(),
        )
    };
    if !allowed(&s, &host).await {
        return ApiError::host_not_allowed(&host).into_response();
    }
    // A page on another site can still send a "simple" request to 127.0.0.1:4040 (its Host
    // then passes). Requests that change something must come from no browser page at all, or
    // from a page this API would itself serve, and must be JSON, which a simple request is not.
    if !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
        if let Some(origin) = origin {
            let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(&origin);
            if origin == "null" || !allowed(&s, origin_host).await {
                return ApiError::cross_site(&origin).into_response();
            }
        }
        if fetch_site.as_deref() == Some("cross-site") {
            return ApiError::cross_site("a cross-site page").into_response();
        }
        if method == Method::POST && !is_json {
            return ApiError::not_json().into_response();
        }
    }
    next.run(req).await
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

pub fn is_local_name(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    h == "localhost"
        || h.ends_with(".localhost")
        || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

async fn allowed(s: &ApiState, host: &str) -> bool {
    let name = strip_port(host).trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty() {
        return false;
    }
    if is_local_name(&name) {
        return true;
    }
    for t in s.agent.tunnels().await {
        let forwards_here = t.upstream.port == s.web_port && is_local_name(&t.upstream.host);
        let public_host = t
            .public_url
            .as_deref()
            .and_then(|u| u.split_once("://"))
            .map(|(_, rest)| {
                strip_port(rest.split('/').next().unwrap_or(rest)).to_ascii_lowercase()
            });
        if forwards_here && public_host.as_deref() == Some(name.as_str()) {
            return true;
        }
    }
    s.allow_hosts
        .iter()
        .any(|entry| entry_matches(entry, &name))
}

fn entry_matches(entry: &str, name: &str) -> bool {
    let entry = entry.trim().to_ascii_lowercase();
    if let Some(suffix) = entry.strip_prefix('.') {
        return name == suffix || name.ends_with(&format!(".{suffix}"));
    }
    if let Some((net, bits)) = entry.split_once('/') {
        let (Ok(net), Ok(bits), Ok(ip)) = (
            net.parse::<IpAddr>(),
            bits.parse::<u32>(),
            name.parse::<IpAddr>(),
        ) else {
            return false;
        };
        return match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) if bits <= 32 => {
                let mask = if bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - bits)
                };
                u32::from(n) & mask == u32::from(i) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(i)) if bits <= 128 => {
                let mask = if bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - bits)
                };
                u128::from(n) & mask == u128::from(i) & mask
            }
            _ => false,
        };
    }
    entry == name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_entries() {
        assert!(entry_matches("example.com", "example.com"));
        assert!(!entry_matches("example.com", "a.example.com"));
        assert!(entry_matches(".example.com", "a.example.com"));
        assert!(entry_matches("10.0.0.0/8", "10.1.2.3"));
        assert!(!entry_matches("10.0.0.0/8", "11.1.2.3"));
        assert!(entry_matches("192.168.1.5", "192.168.1.5"));
    }

    #[test]
    fn local_names_and_ports() {
        assert!(is_local_name("localhost") && is_local_name("127.0.0.1") && is_local_name("::1"));
        assert!(!is_local_name("evil.example"));
        assert_eq!(strip_port("[::1]:4040"), "::1");
        assert_eq!(strip_port("agent.example.test:443"), "agent.example.test");
    }
}
