//! ngrok.yml version "2" exactly as written: every key ngrok knows, each optional, and
//! nothing else (an unknown key is an error with its position). The same tunnel shape is the
//! body of the agent API's `POST /api/tunnels`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A number or a string, as YAML and JSON users write ports and versions.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Scalar {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
}

impl Scalar {
    pub fn text(&self) -> String {
        match self {
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Str(s) => s.clone(),
        }
    }
}

/// Any YAML value, for keys Ferry only names in a warning.
pub type Any = serde_json::Value;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub version: Option<Scalar>,
    pub authtoken: Option<String>,
    pub api_key: Option<String>,
    pub server_addr: Option<String>,
    pub root_cas: Option<String>,
    pub connect_timeout: Option<Scalar>,
    pub connect_interface: Option<Any>,
    pub heartbeat_interval: Option<Scalar>,
    pub heartbeat_tolerance: Option<Scalar>,
    pub metadata: Option<String>,
    pub proxy_url: Option<Any>,
    pub region: Option<Any>,
    pub remote_management: Option<Any>,
    pub web_addr: Option<Scalar>,
    pub web_allow_hosts: Option<Vec<String>>,
    pub inspect_db_size: Option<Scalar>,
    pub console_ui: Option<Scalar>,
    pub console_ui_color: Option<Any>,
    pub log: Option<Scalar>,
    pub log_level: Option<String>,
    pub log_format: Option<String>,
    pub crl_noverify: Option<Any>,
    pub dns_resolver_ips: Option<Vec<String>>,
    pub update_channel: Option<Any>,
    pub update_check: Option<Any>,
    /// Ferry's own: tunnels started through the agent API survive an agent restart.
    pub persist_api_tunnels: Option<bool>,
    pub tunnels: Option<BTreeMap<String, serde_saphyr::Spanned<RawTunnel>>>,
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawTunnel {
    /// Only in agent API bodies; in a file the name is the map key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub proto: Option<String>,
    pub addr: Option<ScalarOut>,
    pub domain: Option<String>,
    pub hostname: Option<String>,
    pub subdomain: Option<String>,
    pub remote_addr: Option<String>,
    pub inspect: Option<bool>,
    pub crt: Option<String>,
    pub key: Option<String>,
    pub mutual_tls_cas: Option<String>,
    pub terminate_at: Option<String>,
    pub host_header: Option<String>,
    pub basic_auth: Option<Vec<String>>,
    pub auth: Option<String>,
    pub schemes: Option<Vec<String>>,
    pub bind_tls: Option<Any>,
    pub metadata: Option<String>,
    /// Ferry's own: ALPN protocols to offer when the agent terminates TLS.
    pub alpn: Option<Vec<String>>,
    pub labels: Option<Any>,
    pub circuit_breaker: Option<Any>,
    pub compression: Option<Any>,
    pub websocket_tcp_converter: Option<Any>,
    pub request_header: Option<Any>,
    pub response_header: Option<Any>,
    pub ip_restriction: Option<Any>,
    pub oauth: Option<Any>,
    pub oidc: Option<Any>,
    pub verify_webhook: Option<Any>,
    pub user_agent_filter: Option<Any>,
    pub proxy_proto: Option<Any>,
    pub traffic_policy: Option<Any>,
    pub policy: Option<Any>,
}

/// `addr` as given, kept printable for the agent API's `config.addr`.
#[derive(Clone, Debug, Deserialize, serde::Serialize, PartialEq)]
#[serde(untagged)]
pub enum ScalarOut {
    Int(i64),
    Str(String),
}

impl ScalarOut {
    pub fn text(&self) -> String {
        match self {
            ScalarOut::Int(i) => i.to_string(),
            ScalarOut::Str(s) => s.clone(),
        }
    }
}

/// Keys ngrok defines that this agent reads but does not act on yet: named in a warning.
pub const UNSUPPORTED_AGENT_KEYS: &[&str] = &[
    "connect_interface",
    "proxy_url",
    "region",
    "remote_management",
    "console_ui_color",
    "crl_noverify",
    "dns_resolver_ips",
    "update_channel",
    "update_check",
];

/// Tunnel keys that change traffic without protecting it: warned about and ignored.
pub const UNSUPPORTED_TUNNEL_KEYS: &[&str] = &[
    "bind_tls",
    "labels",
    "circuit_breaker",
    "compression",
    "websocket_tcp_converter",
    "request_header",
    "response_header",
    "proxy_proto",
];

/// Tunnel keys that would protect an endpoint. Ignoring one would expose what the user meant
/// to guard, so a tunnel that sets one is refused until Ferry enforces it.
pub const UNENFORCED_TUNNEL_KEYS: &[&str] = &[
    "ip_restriction",
    "oauth",
    "oidc",
    "verify_webhook",
    "user_agent_filter",
    "traffic_policy",
    "policy",
];

pub const AGENT_KEYS: &[&str] = &[
    "version",
    "authtoken",
    "api_key",
    "server_addr",
    "root_cas",
    "connect_timeout",
    "connect_interface",
    "heartbeat_interval",
    "heartbeat_tolerance",
    "metadata",
    "proxy_url",
    "region",
    "remote_management",
    "web_addr",
    "web_allow_hosts",
    "inspect_db_size",
    "console_ui",
    "console_ui_color",
    "log",
    "log_level",
    "log_format",
    "crl_noverify",
    "dns_resolver_ips",
    "update_channel",
    "update_check",
    "persist_api_tunnels",
    "tunnels",
];

pub const TUNNEL_KEYS: &[&str] = &[
    "name",
    "proto",
    "addr",
    "domain",
    "hostname",
    "subdomain",
    "remote_addr",
    "inspect",
    "crt",
    "key",
    "mutual_tls_cas",
    "terminate_at",
    "host_header",
    "basic_auth",
    "auth",
    "schemes",
    "bind_tls",
    "metadata",
    "alpn",
    "labels",
    "circuit_breaker",
    "compression",
    "websocket_tcp_converter",
    "request_header",
    "response_header",
    "ip_restriction",
    "oauth",
    "oidc",
    "verify_webhook",
    "user_agent_filter",
    "proxy_proto",
    "traffic_policy",
    "policy",
];

impl RawTunnel {
    /// The names of the keys this tunnel sets from `list`.
    pub fn keys_set(&self, list: &[&'static str]) -> Vec<&'static str> {
        let v = serde_json::to_value(self).unwrap_or_default();
        list.iter()
            .copied()
            .filter(|k| v.get(*k).is_some_and(|x| !x.is_null()))
            .collect()
    }
}
