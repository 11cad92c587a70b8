//! ngrok.yml version "2" exactly as written: every key ngrok knows, each optional, and
//! nothing else (an unknown key is an error with its position). The same tunnel shape is the
//! body of the agent API's `POST /api/tunnels`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A number or a string, as YAML and JSON users write ports and versions.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Scalar {
    /// `version: 2`, `inspect_db_size: 1000000`, `heartbeat_interval: 15` (seconds).
    Int(i64),
    /// Accepted so that `connect_timeout: 1.5` reaches Ferry's own check, whose message
    /// names the key and the units to use, instead of failing as a YAML type error.
    Float(f64),
    /// `web_addr: false`, `log: false`, `console_ui: true`.
    Bool(bool),
    /// `version: "2"`, `10s`, `iftty`, a `host:port` or a path.
    Str(String),
}

impl Scalar {
    /// The value as written, for the parsers that take text (durations, addresses, log
    /// targets) and for messages.
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

/// One file's top level. Every key is optional so that a later file can set only what it
/// changes; [`Config`](super::Config) holds the merge and the defaults live where each value
/// is read. `Option<Any>` marks the keys Ferry only names in a warning.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `version`: ngrok's agent 3 requires it; Ferry accepts a file without one but refuses
    /// any value other than `2` or `"2"`, naming the file.
    pub version: Option<Scalar>,
    /// `authtoken`: sent in Auth. `--authtoken`, `FERRY_AUTHTOKEN` and `NGROK_AUTHTOKEN` win
    /// over it; `ferry config add-authtoken` writes it.
    pub authtoken: Option<String>,
    /// `api_key`: never sent by the agent, as in ngrok; `ferry api` falls back to it for the
    /// REST API.
    pub api_key: Option<String>,
    /// `server_addr`: the edge's agent ingress, `host:port`. Ferry has no default (ngrok's
    /// `connect.ngrok-agent.com:443` is not an edge it can use), so without it or
    /// `--server-addr` the agent does not start.
    pub server_addr: Option<String>,
    /// `root_cas`: `host` and ngrok's default `trusted` both mean the operating system's
    /// store (Ferry bundles no CAs of its own); anything else is a PEM file of CA
    /// certificates, such as `ferry edge --dev`'s `ca_cert`.
    pub root_cas: Option<String>,
    /// `connect_timeout`: a Go duration (`10s`) or seconds; bounds the TCP dial to the edge and
    /// then the TLS handshake, each on its own. Default 10 s, as ngrok.
    pub connect_timeout: Option<Scalar>,
    /// `connect_interface` (ngrok: the network interface to dial from, Linux only): warned
    /// about and ignored; the OS picks the route.
    pub connect_interface: Option<Any>,
    /// `heartbeat_interval`: a Go duration or seconds between the agent's beats, also sent in
    /// Auth. Ferry's default is 5 s (ngrok's 10 s), so a dead edge is noticed sooner.
    pub heartbeat_interval: Option<Scalar>,
    /// `heartbeat_tolerance`: how long an echo may take before the session is dropped and
    /// dialed again. Ferry's default is 10 s (ngrok's 15 s).
    pub heartbeat_tolerance: Option<Scalar>,
    /// `metadata`: session metadata sent in Auth, for the edge to show with the session.
    pub metadata: Option<String>,
    /// `proxy_url` (ngrok: an HTTP or SOCKS5 proxy to reach the edge through): warned about
    /// and ignored; the agent dials the edge directly.
    pub proxy_url: Option<Any>,
    /// `region` (deprecated in ngrok): warned about and ignored, a Ferry edge has no regions.
    pub region: Option<Any>,
    /// `remote_management` (ngrok: allow stop, restart and update from the API): warned about
    /// and ignored; the agent answers every such command from the edge with a refusal.
    pub remote_management: Option<Any>,
    /// `web_addr`: where the agent API and inspection page listen, or `false` for neither.
    /// Unset means `127.0.0.1:4040`, moving on to 4041... when that is taken (an address the
    /// user wrote is never moved). Read through [`Config::web_addr`](super::Config::web_addr).
    pub web_addr: Option<Scalar>,
    /// `web_allow_hosts`: Host values the agent API answers besides localhost and its own
    /// tunnels' names (IPs, CIDRs, `example.com`, `.example.com`); the DNS-rebinding guard
    /// reads it.
    pub web_allow_hosts: Option<Vec<String>>,
    /// `inspect_db_size`: bytes of captured requests to keep; 0 means ngrok's 50 MB, a
    /// negative number turns capture off, and a value that is not a whole number (`50MB`) is
    /// refused. Read through
    /// [`Config::inspect_db_size`](super::Config::inspect_db_size).
    pub inspect_db_size: Option<Scalar>,
    /// `console_ui`: `false` keeps the status screen off; any other value (`true`, ngrok's
    /// default `iftty`) shows it when stdout is a terminal and logs do not go there.
    pub console_ui: Option<Scalar>,
    /// `console_ui_color` (ngrok: the status screen's background): warned about and ignored.
    pub console_ui_color: Option<Any>,
    /// `log`: `false`, `stdout`, `stderr` or a file path; `--log` wins. Unset, logs go to
    /// stderr, or nowhere while the status screen has the terminal.
    pub log: Option<Scalar>,
    /// `log_level`: ngrok's `crit`, `warn`, `info` (default) or `debug`, or any tracing
    /// filter; `crit` is read as `error`.
    pub log_level: Option<String>,
    /// `log_format`: `term` and `logfmt` both give plain lines, `json` one object per line;
    /// anything else stops the agent with a message.
    pub log_format: Option<String>,
    /// `crl_noverify` (ngrok: skip its CRL check of the edge's certificate): warned about and
    /// ignored; Ferry's agent does no CRL check to skip.
    pub crl_noverify: Option<Any>,
    /// `dns_resolver_ips`: the DNS servers that resolve `server_addr` (addresses, port 53, or
    /// `address:port`); the system's resolver without it.
    pub dns_resolver_ips: Option<Vec<String>>,
    /// `update_channel` (ngrok's self-update channel): warned about and ignored, Ferry does not
    /// update itself.
    pub update_channel: Option<Any>,
    /// `update_check`: warned about and ignored, like `update_channel`.
    pub update_check: Option<Any>,
    /// Ferry's own: tunnels started through the agent API survive an agent restart.
    pub persist_api_tunnels: Option<bool>,
    /// Ferry's own: data connections kept idle at the edge while tunnels carry traffic, each
    /// to carry one stream on a TLS connection of its own (0 to 16, default 4; 0 carries
    /// every stream on the session). Read through
    /// [`Config::data_connections`](super::Config::data_connections).
    pub data_connections: Option<Scalar>,
    /// `tunnels`: definitions by name, each with its position so that errors found later
    /// (by [`tunnel_spec`](super::tunnel_spec)) point into the file. Merging moves them to
    /// [`Config::tunnels`](super::Config::tunnels).
    pub tunnels: Option<BTreeMap<String, serde_saphyr::Spanned<RawTunnel>>>,
}

/// One entry of `tunnels:`, or the body of `POST /api/tunnels`.
/// [`tunnel_spec`](super::tunnel_spec) decides what each key means for Ferry; it is
/// `Serialize` so that `ferry config check` can print it and [`RawTunnel::keys_set`] can see
/// which keys a definition sets.
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawTunnel {
    /// Only in agent API bodies; in a file the name is the map key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `proto`: `http`, `tcp` or `tls`; required, as Ferry does not run ngrok's labeled
    /// tunnels (those without one).
    pub proto: Option<String>,
    /// `addr`: the local service, required. A port (`3000`, which YAML reads as a number), a
    /// `host:port`, or a URL whose `https://` or `tls://` makes the agent speak TLS to it.
    pub addr: Option<ScalarOut>,
    /// `domain` (http, tls): the public host to bind, a quoted `'*.example.com'` for a
    /// wildcard. Outside dev mode the edge binds only names reserved for the account.
    pub domain: Option<String>,
    /// `hostname`: ngrok 2's name for `domain`, used when `domain` is absent.
    pub hostname: Option<String>,
    /// `subdomain` (http, tls): a label the edge puts under its base domain.
    pub subdomain: Option<String>,
    /// `remote_addr` (tcp): the reserved `host:port` to bind; without it the edge picks a
    /// port.
    pub remote_addr: Option<String>,
    /// `inspect`: capture requests for the inspector and `/api/requests/http`. Default on for
    /// http; off (with `Host` preserved) lets the agent splice bytes without parsing HTTP.
    pub inspect: Option<bool>,
    /// `crt` (tls): PEM certificate chain presented where TLS ends (the edge, or the agent
    /// with `terminate_at: agent`).
    pub crt: Option<String>,
    /// `key` (tls): the PEM private key of `crt`.
    pub key: Option<String>,
    /// `mutual_tls_cas`: a PEM file of CAs that client certificates must chain to. For http it
    /// is sent to the edge; for tls it is checked where TLS ends.
    pub mutual_tls_cas: Option<String>,
    /// `terminate_at` (tls): `upstream` passes the client's TLS through, `agent` terminates it
    /// here with `crt`/`key`, `edge` has the edge terminate it (with `crt`/`key` if given, else
    /// the domain's own certificate). ngrok's default: `edge` when `crt`, `key` or
    /// `mutual_tls_cas` is set, else `upstream`.
    pub terminate_at: Option<String>,
    /// `host_header` (http): `preserve` (default), `rewrite` (the upstream's `host:port`, the
    /// original in `X-Forwarded-Host`), or a literal value.
    pub host_header: Option<String>,
    /// `basic_auth` (http): `"user:password"` entries the edge requires. A password under 8
    /// characters is refused, as ngrok refuses it, and so is an empty user.
    pub basic_auth: Option<Vec<String>>,
    /// `auth`: ngrok 2's single `"user:password"`; joins `basic_auth` under its rules.
    pub auth: Option<String>,
    /// `schemes` (http): `[https]` (default) or `[http]`. Ferry binds one scheme per tunnel, so
    /// `[http, https]` gets a warning and binds https only; any other value is refused.
    pub schemes: Option<Vec<String>>,
    /// `bind_tls`: ngrok 2's `schemes`; warned about and ignored, so the tunnel binds https
    /// unless `schemes` says otherwise.
    pub bind_tls: Option<Any>,
    /// `metadata`: sent with the bind as ngrok's tunnel metadata, for the edge to show.
    pub metadata: Option<String>,
    /// Ferry's own: ALPN protocols to offer when the agent terminates TLS.
    pub alpn: Option<Vec<String>>,
    /// `labels` (ngrok's labeled tunnels): refused when it replaces `proto`, else warned about
    /// and ignored.
    pub labels: Option<Any>,
    /// `circuit_breaker` (ngrok: the 5xx ratio that trips the edge's breaker): warned about
    /// and ignored.
    pub circuit_breaker: Option<Any>,
    /// `compression` (ngrok: gzip responses at the edge): warned about and ignored.
    pub compression: Option<Any>,
    /// `websocket_tcp_converter` (ngrok: carry TCP over a websocket): warned about and ignored.
    pub websocket_tcp_converter: Option<Any>,
    /// `request_header` (ngrok: `add`/`remove` headers towards the upstream): warned about
    /// and ignored.
    pub request_header: Option<Any>,
    /// `response_header` (ngrok: `add`/`remove` headers towards the client): warned about and
    /// ignored.
    pub response_header: Option<Any>,
    /// `ip_restriction` (ngrok: CIDR allow and deny lists at the edge): refuses the tunnel,
    /// since Ferry's edge does not enforce it yet.
    pub ip_restriction: Option<Any>,
    /// `oauth` (ngrok: an OAuth login at the edge): refuses the tunnel, not enforced yet.
    pub oauth: Option<Any>,
    /// `oidc` (ngrok: an OpenID Connect login at the edge): refuses the tunnel, not enforced
    /// yet.
    pub oidc: Option<Any>,
    /// `verify_webhook` (ngrok: check webhook signatures at the edge): refuses the tunnel, not
    /// enforced yet.
    pub verify_webhook: Option<Any>,
    /// `user_agent_filter` (ngrok: allow or deny by `User-Agent` at the edge): refuses the
    /// tunnel, not enforced yet.
    pub user_agent_filter: Option<Any>,
    /// `proxy_proto`: the PROXY protocol version (1 or 2) whose header a tcp or tls
    /// tunnel's connections start with; the edge writes it, the agent passes it on.
    pub proxy_proto: Option<ScalarOut>,
    /// `traffic_policy` (ngrok's rule language, out of scope for Ferry): refuses the tunnel.
    pub traffic_policy: Option<Any>,
    /// `policy`: `traffic_policy`'s name before ngrok 3.14; refuses the tunnel too.
    pub policy: Option<Any>,
}

/// `addr` as given, kept printable for the agent API's `config.addr`.
#[derive(Clone, Debug, Deserialize, serde::Serialize, PartialEq)]
#[serde(untagged)]
pub enum ScalarOut {
    /// `addr: 3000`: YAML and JSON give a bare port as a number.
    Int(i64),
    /// `addr: localhost:3000` or a URL.
    Str(String),
}

impl ScalarOut {
    /// The address as written, for [`Upstream::parse`](crate::Upstream::parse).
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
    "data_connections",
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
