//! ngrok's RPC messages. Each struct serialises with the exact keys ngrok's agents expect and
//! deserialises from the folded keys that [`crate::rpc::from_value_folded`] produces, so one
//! type serves the edge (which reads what any SDK spelled) and Ferry's agent (which writes what
//! ngrok's edge would read).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::rpc::{fold_keys, from_value_folded, DecodeError};

/// Agent to edge, on stream type 0: who the agent is and the authtoken it holds. The first
/// RPC of every session, reconnects included.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Auth {
    /// Protocol versions the agent speaks, newest first: `["3", "2"]` from ngrok's Rust SDK,
    /// `["2"]` from Go. The edge answers with one ([`crate::negotiate_version`]).
    #[serde(rename(serialize = "Version", deserialize = "version"), default)]
    pub version: Vec<String>,
    /// Empty on a first connect; on a reconnect, the `ClientId` of the last [`AuthResp`].
    #[serde(rename(serialize = "ClientId", deserialize = "clientid"), default)]
    pub client_id: String,
    /// The credential, the agent's identity, its heartbeat settings and what it supports.
    #[serde(rename(serialize = "Extra", deserialize = "extra"), default)]
    pub extra: AuthExtra,
}

/// The body of an [`Auth`]. `Debug` shows only the identifying fields, so the authtoken never
/// reaches a log.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct AuthExtra {
    /// The agent's OS as Go or Rust names it (`linux`, `windows`; macOS reports `darwin`);
    /// shown as the tunnel session's `os`.
    #[serde(rename(serialize = "OS", deserialize = "os"), default)]
    pub os: String,
    /// CPU architecture as the agent's toolchain names it (`x86_64`, `amd64`, `aarch64`).
    #[serde(rename(serialize = "Arch", deserialize = "arch"), default)]
    pub arch: String,
    /// The credential the session runs as. ngrok's Go SDK spells the key `Authtoken`; key
    /// folding reads both.
    #[serde(rename(serialize = "AuthToken", deserialize = "authtoken"), default)]
    pub auth_token: String,
    /// The agent software's own version (the SDK's, for ngrok's SDKs), not the protocol's;
    /// shown as the tunnel session's `agent_version`.
    #[serde(rename(serialize = "Version", deserialize = "version"), default)]
    pub version: String,
    /// The agent machine's host name, if it chose to send one; informational.
    #[serde(rename(serialize = "Hostname", deserialize = "hostname"), default)]
    pub hostname: String,
    /// E.g. `ngrok-rust/0.19.0`, with any client-info entries first; the edge logs it and
    /// guesses the client from it when `ClientType` is absent.
    #[serde(rename(serialize = "UserAgent", deserialize = "useragent"), default)]
    pub user_agent: String,
    /// Free text the user attached to the session (`metadata` in ngrok.yml); shown as the
    /// tunnel session's `metadata`.
    #[serde(rename(serialize = "Metadata", deserialize = "metadata"), default)]
    pub metadata: String,
    /// Empty, or the `Cookie` of the last [`AuthResp`], sent back on a reconnect.
    #[serde(rename(serialize = "Cookie", deserialize = "cookie"), default)]
    pub cookie: String,
    /// How often the agent beats, in nanoseconds (10 s from ngrok's SDKs).
    #[serde(
        rename(serialize = "HeartbeatInterval", deserialize = "heartbeatinterval"),
        default
    )]
    pub heartbeat_interval: i64,
    /// How late a beat may be before the session counts as dead, in nanoseconds (15 s from
    /// ngrok's SDKs).
    #[serde(
        rename(serialize = "HeartbeatTolerance", deserialize = "heartbeattolerance"),
        default
    )]
    pub heartbeat_tolerance: i64,
    /// `ngrok-rust`, `ngrok-javascript` or `ferry`; absent from Go. The edge gives `ferry`
    /// agents their own stream limit.
    #[serde(rename(serialize = "ClientType", deserialize = "clienttype"), default)]
    pub client_type: String,
    /// Whether the agent handles a restart command: `None` for an agent too old to say, `""`
    /// for yes, any other text the reason it does not.
    #[serde(
        rename(
            serialize = "RestartUnsupportedError",
            deserialize = "restartunsupportederror"
        ),
        default
    )]
    pub restart_unsupported_error: Option<String>,
    /// As `restart_unsupported_error`, for the stop command.
    #[serde(
        rename(
            serialize = "StopUnsupportedError",
            deserialize = "stopunsupportederror"
        ),
        default
    )]
    pub stop_unsupported_error: Option<String>,
    /// As `restart_unsupported_error`, for the update command.
    #[serde(
        rename(
            serialize = "UpdateUnsupportedError",
            deserialize = "updateunsupportederror"
        ),
        default
    )]
    pub update_unsupported_error: Option<String>,
}

impl fmt::Debug for AuthExtra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthExtra")
            .field("os", &self.os)
            .field("arch", &self.arch)
            .field("version", &self.version)
            .field("hostname", &self.hostname)
            .field("user_agent", &self.user_agent)
            .field("client_type", &self.client_type)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("version", &self.version)
            .field("client_id", &self.client_id)
            .field("extra", &self.extra)
            .finish()
    }
}

/// Edge to agent: the answer to a successful [`Auth`]. A refusal is an `{"Error": ...}`
/// reply instead ([`error_reply`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AuthResp {
    /// The protocol version the edge chose from the agent's list.
    /// Required by ngrok's SDKs: without it the reply fails to decode.
    #[serde(rename(serialize = "Version", deserialize = "version"), default)]
    pub version: String,
    /// Set by the edge; ngrok's SDKs report it as the session ID and send it back in the next
    /// [`Auth`]. Ferry's edge puts the tunnel session's `ts_` ID here.
    #[serde(rename(serialize = "ClientId", deserialize = "clientid"), default)]
    pub client_id: String,
    /// Optional in ngrok's protocol, but Ferry's edge always fills it.
    #[serde(rename(serialize = "Extra", deserialize = "extra"), default)]
    pub extra: AuthRespExtra,
}

/// Details about the edge. Every member is optional, and ngrok's SDKs keep only `Cookie`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AuthRespExtra {
    /// The edge software's version, not the protocol's.
    #[serde(rename(serialize = "Version", deserialize = "version"), default)]
    pub version: Option<String>,
    /// The region that served the session; Ferry's edge says `local`.
    #[serde(rename(serialize = "Region", deserialize = "region"), default)]
    pub region: Option<String>,
    /// Opaque to the agent, which sends it back in its next [`Auth`]; Ferry's edge sends
    /// `""`.
    #[serde(rename(serialize = "Cookie", deserialize = "cookie"), default)]
    pub cookie: Option<String>,
    /// Unused by the SDKs; Ferry's edge sends `""`.
    #[serde(
        rename(serialize = "AccountName", deserialize = "accountname"),
        default
    )]
    pub account_name: Option<String>,
    /// Unused by the SDKs, and its unit is undocumented; Ferry's edge sends 0.
    #[serde(
        rename(serialize = "SessionDuration", deserialize = "sessionduration"),
        default
    )]
    pub session_duration: Option<i64>,
    /// Unused by the SDKs; Ferry's edge sends `""`.
    #[serde(rename(serialize = "PlanName", deserialize = "planname"), default)]
    pub plan_name: Option<String>,
    /// Unused by the SDKs; Ferry's edge sends `""`.
    #[serde(rename(serialize = "Banner", deserialize = "banner"), default)]
    pub banner: Option<String>,
    /// Ferry's own: the key a Ferry agent opens data connections with
    /// ([`crate::data_conn`]). Left out for every other agent; ngrok's SDKs ignore it anyway.
    #[serde(
        rename(serialize = "FerryDataKey", deserialize = "ferrydatakey"),
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub data_key: Option<String>,
}

/// Agent to edge, on stream type 1: open one tunnel, or re-open it after a reconnect.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Bind {
    /// Empty for a new tunnel; the old ID on a re-bind, which the edge must keep.
    #[serde(rename(serialize = "Id", deserialize = "id"), default)]
    pub id: String,
    /// `http`, `https`, `tcp` or `tls`, which also says how to read `Opts`. ngrok's SDKs send
    /// `https` for their default HTTP endpoint.
    #[serde(rename(serialize = "Proto", deserialize = "proto"), default)]
    pub proto: String,
    /// Where the agent forwards, for display as the tunnel's `forwards_to`: ngrok's Rust SDK
    /// sends `app://host/exe?pid=N`, Go omits it.
    #[serde(rename(serialize = "ForwardsTo", deserialize = "forwardsto"), default)]
    pub forwards_to: String,
    /// `""` or `http2`: what the agent speaks to its upstream. Absent from Go.
    #[serde(
        rename(serialize = "ForwardsProto", deserialize = "forwardsproto"),
        default
    )]
    pub forwards_proto: String,
    /// Kept as sent: the edge echoes it back, and agents resend it unchanged on re-bind.
    #[serde(rename(serialize = "Opts", deserialize = "opts"), default)]
    pub opts: Value,
    /// The re-bind token and the tunnel settings that ride outside `Opts`.
    #[serde(rename(serialize = "Extra", deserialize = "extra"), default)]
    pub extra: BindExtra,
}

/// The part of a [`Bind`] outside `Opts`. Go sends only `Token`, `IPPolicyRef` and
/// `Metadata`. `Debug` leaves out the token and the policy reference.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct BindExtra {
    /// Empty on a first bind; on a re-bind, the `Extra.Token` of the [`BindResp`] that gave
    /// out the ID. Ferry's edge signs the ID into it, so no agent can re-bind another's tunnel.
    #[serde(rename(serialize = "Token", deserialize = "token"), default)]
    pub token: String,
    /// The ID of an ngrok IP policy to enforce on the endpoint; Ferry's edge does not read it.
    #[serde(
        rename(serialize = "IPPolicyRef", deserialize = "ippolicyref"),
        default
    )]
    pub ip_policy_ref: String,
    /// Free text the user attached to the tunnel (`metadata` in ngrok.yml); shown as the
    /// tunnel's `metadata`.
    #[serde(rename(serialize = "Metadata", deserialize = "metadata"), default)]
    pub metadata: String,
    /// ngrok's endpoint bindings (`public`, `internal`...); Ferry's edge does not read them.
    #[serde(rename(serialize = "Bindings", deserialize = "bindings"), default)]
    pub bindings: Vec<String>,
    /// Asks ngrok to share the URL between agents that bind it; Ferry's edge does not read it
    /// and refuses a second bind of an online URL.
    #[serde(
        rename(serialize = "PoolingEnabled", deserialize = "poolingenabled"),
        default
    )]
    pub pooling_enabled: bool,
}

impl fmt::Debug for BindExtra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BindExtra")
            .field("metadata", &self.metadata)
            .field("bindings", &self.bindings)
            .finish_non_exhaustive()
    }
}

/// Edge to agent: the answer to a successful [`Bind`]. ngrok's agents keep its `Opts` and
/// `Extra.Token` and send both back unchanged on every re-bind.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BindResp {
    /// The tunnel ID, which every proxy stream's header names and agents route by. Agents keep
    /// the first one they get, whatever a re-bind answers, so the edge must keep it too.
    #[serde(rename(serialize = "Id", deserialize = "id"), default)]
    pub id: String,
    /// The public URL the SDK reports to the user (`https://host`, `tls://host`,
    /// `tcp://host:port`, with the port when it is not the scheme's default).
    #[serde(rename(serialize = "URL", deserialize = "url"), default)]
    pub url: String,
    /// The bind's `Proto`, echoed.
    #[serde(rename(serialize = "Proto", deserialize = "proto"), default)]
    pub proto: String,
    /// Required by ngrok's SDKs and must decode as the same endpoint kind as the bind.
    #[serde(rename(serialize = "Opts", deserialize = "opts"), default)]
    pub opts: Value,
    /// Required by ngrok's SDKs, even when the token is empty.
    #[serde(rename(serialize = "Extra", deserialize = "extra"), default)]
    pub extra: BindRespExtra,
}

/// The re-bind credential. `Debug` never shows it.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct BindRespExtra {
    /// Opaque to the agent, which returns it as [`BindExtra::token`] to keep its tunnel ID
    /// across a reconnect. Ferry's edge puts a signature of the ID here.
    #[serde(rename(serialize = "Token", deserialize = "token"), default)]
    pub token: String,
}

impl fmt::Debug for BindRespExtra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BindRespExtra { .. }")
    }
}

/// Agent to edge, on stream type 2: close one tunnel. The reply is `{}`, also for an ID the
/// edge has already stopped.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Unbind {
    /// The tunnel ID from [`BindResp::id`].
    #[serde(rename(serialize = "Id", deserialize = "id"), default)]
    pub id: String,
}

/// `{"Id", "Message", "ErrorCode"}`: the edge closes one tunnel of an agent.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StopTunnel {
    /// The tunnel ID from [`BindResp::id`].
    #[serde(rename(serialize = "Id", deserialize = "id"), default)]
    pub id: String,
    /// Why, for the user: ngrok's SDKs fail the tunnel's listener with it.
    #[serde(rename(serialize = "Message", deserialize = "message"), default)]
    pub message: String,
    /// An `ERR_NGROK_`-style code passed to the listener's error, or `null`.
    #[serde(rename(serialize = "ErrorCode", deserialize = "errorcode"), default)]
    pub error_code: Option<String>,
}

/// The reply to a server command (restart, stop, update); `Error` absent on success.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CommandResp {
    /// Why the agent did not carry out the command; ngrok's SDKs send "the agent has no
    /// defined callback for this operation" when nothing handles it.
    #[serde(
        rename(serialize = "Error", deserialize = "error"),
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub error: Option<String>,
}

/// The member `key` of a JSON object, matched the way ngrok matches keys: case-insensitively
/// and ignoring underscores.
fn raw_member<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.replace('_', "").eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

impl Bind {
    /// Decodes a bind as sent, keeping `Opts` exactly as spelled: it is echoed back to the
    /// agent, which decodes it with its own key names.
    pub fn from_wire(v: &Value) -> Result<Self, DecodeError> {
        let mut bind: Self = from_value_folded(v)?;
        bind.opts = raw_member(v, "opts").cloned().unwrap_or(Value::Null);
        Ok(bind)
    }
}

impl BindResp {
    /// Decodes a bind reply, keeping `Opts` as the edge spelled it for the next re-bind.
    pub fn from_wire(v: &Value) -> Result<Self, DecodeError> {
        let mut resp: Self = from_value_folded(v)?;
        resp.opts = raw_member(v, "opts").cloned().unwrap_or(Value::Null);
        Ok(resp)
    }
}

/// The failure shape every RPC shares: `{"Error": "..."}`.
pub fn error_reply(text: &str) -> Value {
    serde_json::json!({ "Error": text })
}

/// An RPC reply is a failure when it carries a non-empty `Error`, whatever else it has.
pub fn reply_error(v: &Value) -> Option<String> {
    match fold_keys(v).get("error") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// The fields of a bind's `Opts` the edge acts on, read from any spelling.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct BindOptsView {
    /// HTTP and TLS: the host asked for, as ngrok's current SDKs send it.
    pub domain: String,
    /// HTTP and TLS: the older spelling of `domain`, still sent by some agents; the edge
    /// writes the chosen host back here in the reply.
    pub hostname: String,
    /// HTTP and TLS: a label to put under the edge's base domain, used when no host is asked
    /// for.
    pub subdomain: String,
    /// TCP: the `host:port` asked for, or empty.
    pub addr: String,
    /// 0, 1 or 2: the PROXY protocol version the edge must put before each connection's
    /// bytes. An integer on ngrok's wire, kept raw so that a string such as `"2"` reads too.
    pub proxyproto: Value,
    /// TLS: the agent terminates and checks client certificates itself (`terminate_at:
    /// agent` with `mutual_tls_cas`); the edge passes the TLS through.
    pub mutualtlsatagent: bool,
    /// TLS: when present the edge terminates TLS with this certificate.
    pub tlstermination: Option<Value>,
    /// HTTP: client CAs the edge requires (base64 PEM in `mutual_tls_ca`).
    pub mutualtlsca: Option<Value>,
    /// TLS: client CAs the edge requires when it terminates.
    pub mutualtlsatedge: Option<Value>,
    /// HTTP: `{"credentials": [{"username", "cleartext_password" | "hashed_password"}]}`,
    /// users the edge must ask for before any request reaches the agent.
    pub basicauth: Option<Value>,
    /// HTTP: set for ngrok.yml's `host_header: rewrite`. Ferry's agent rewrites `Host`
    /// itself; the edge does not read it.
    pub hostheaderrewrite: bool,
}

impl BindOptsView {
    /// Reads `Opts` whatever the spelling of its keys; a missing `Opts` (`null`) reads as all
    /// defaults.
    pub fn from_opts(opts: &Value) -> Result<Self, DecodeError> {
        if opts.is_null() {
            return Ok(Self::default());
        }
        from_value_folded(opts)
    }

    /// The host the agent asked for, `Domain` first, then the legacy `Hostname`.
    pub fn requested_host(&self) -> Option<&str> {
        [&self.domain, &self.hostname]
            .into_iter()
            .map(|s| s.trim())
            .find(|s| !s.is_empty())
    }

    /// The PROXY protocol version asked for, clamped to 0..=2; anything unreadable is 0
    /// (none).
    pub fn proxy_proto(&self) -> u8 {
        match &self.proxyproto {
            Value::Number(n) => n.as_u64().unwrap_or(0).min(2) as u8,
            Value::String(s) => s.parse::<u8>().unwrap_or(0).min(2),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_from_rust_and_go_spellings() {
        let rust = serde_json::json!({"Version":["3","2"],"ClientId":"","Extra":{"OS":"linux","AuthToken":"tok","HeartbeatInterval":10000000000i64,"ClientType":"ngrok-rust"}});
        let go = serde_json::json!({"Version":["2"],"ClientId":"","Extra":{"OS":"linux","Authtoken":"tok"}});
        let a: Auth = from_value_folded(&rust).unwrap();
        let b: Auth = from_value_folded(&go).unwrap();
        assert_eq!(a.extra.auth_token, "tok");
        assert_eq!(b.extra.auth_token, "tok");
        assert_eq!(a.extra.heartbeat_interval, 10_000_000_000);
        assert!(!format!("{a:?}").contains("tok\""));
    }

    #[test]
    fn bind_resp_serialises_with_ngrok_keys() {
        let r = BindResp {
            id: "tn_1".into(),
            url: "https://a.example.test".into(),
            proto: "https".into(),
            opts: serde_json::json!({"Hostname":"a.example.test"}),
            extra: BindRespExtra { token: "t".into() },
        };
        let v = serde_json::to_value(&r).unwrap();
        for k in ["Id", "URL", "Proto", "Opts", "Extra"] {
            assert!(v.get(k).is_some(), "{k}");
        }
        assert_eq!(v["Extra"]["Token"], "t");
    }

    #[test]
    fn bind_keeps_opts_as_spelled() {
        let v = serde_json::json!({"Id":"","Proto":"https","Opts":{"Hostname":"a","Auth":""},"Extra":{"Token":"t"}});
        let b = Bind::from_wire(&v).unwrap();
        assert_eq!(b.proto, "https");
        assert_eq!(b.extra.token, "t");
        assert_eq!(b.opts, serde_json::json!({"Hostname":"a","Auth":""}));
    }

    #[test]
    fn error_reply_is_detected() {
        assert_eq!(reply_error(&error_reply("no")), Some("no".into()));
        assert_eq!(reply_error(&serde_json::json!({"Error":"","Id":"x"})), None);
    }

    #[test]
    fn opts_view_reads_any_spelling() {
        let v = BindOptsView::from_opts(&serde_json::json!({"Domain":"","Hostname":"h.example.test","ProxyProto":2,"MutualTLSAtAgent":true})).unwrap();
        assert_eq!(v.requested_host(), Some("h.example.test"));
        assert_eq!(v.proxy_proto(), 2);
        assert!(v.mutualtlsatagent);
    }
}
