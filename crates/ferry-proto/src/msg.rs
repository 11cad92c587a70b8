//! ngrok's RPC messages. Each struct serialises with the exact keys ngrok's agents expect and
//! deserialises from the folded keys that [`crate::rpc::from_value_folded`] produces, so one
//! type serves the edge (which reads what any SDK spelled) and Ferry's agent (which writes what
//! ngrok's edge would read).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::rpc::{fold_keys, from_value_folded, DecodeError};

#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Auth {
    #[serde(rename(serialize = "Version", deserialize = "version"), default)]
    pub version: Vec<String>,
    #[serde(rename(serialize = "ClientId", deserialize = "clientid"), default)]
    pub client_id: String,
    #[serde(rename(serialize = "Extra", deserialize = "extra"), default)]
    pub extra: AuthExtra,
}

#[derive(Clone, Default, Serialize, Deserialize)]
pub struct AuthExtra {
    #[serde(rename(serialize = "OS", deserialize = "os"), default)]
    pub os: String,
    #[serde(rename(serialize = "Arch", deserialize = "arch"), default)]
    pub arch: String,
    #[serde(rename(serialize = "AuthToken", deserialize = "authtoken"), default)]
    pub auth_token: String,
    #[serde(rename(serialize = "Version", deserialize = "version"), default)]
    pub version: String,
    #[serde(rename(serialize = "Hostname", deserialize = "hostname"), default)]
    pub hostname: String,
    #[serde(rename(serialize = "UserAgent", deserialize = "useragent"), default)]
    pub user_agent: String,
    #[serde(rename(serialize = "Metadata", deserialize = "metadata"), default)]
    pub metadata: String,
    #[serde(rename(serialize = "Cookie", deserialize = "cookie"), default)]
    pub cookie: String,
    /// Nanoseconds.
    #[serde(
        rename(serialize = "HeartbeatInterval", deserialize = "heartbeatinterval"),
        default
    )]
    pub heartbeat_interval: i64,
    /// Nanoseconds.
    #[serde(
        rename(serialize = "HeartbeatTolerance", deserialize = "heartbeattolerance"),
        default
    )]
    pub heartbeat_tolerance: i64,
    #[serde(rename(serialize = "ClientType", deserialize = "clienttype"), default)]
    pub client_type: String,
    #[serde(
        rename(
            serialize = "RestartUnsupportedError",
            deserialize = "restartunsupportederror"
        ),
        default
    )]
    pub restart_unsupported_error: Option<String>,
    #[serde(
        rename(
            serialize = "StopUnsupportedError",
            deserialize = "stopunsupportederror"
        ),
        default
    )]
    pub stop_unsupported_error: Option<String>,
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

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AuthResp {
    /// Required by ngrok's SDKs: without it the reply fails to decode.
    #[serde(rename(serialize = "Version", deserialize = "version"), default)]
    pub version: String,
    #[serde(rename(serialize = "ClientId", deserialize = "clientid"), default)]
    pub client_id: String,
    #[serde(rename(serialize = "Extra", deserialize = "extra"), default)]
    pub extra: AuthRespExtra,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AuthRespExtra {
    #[serde(rename(serialize = "Version", deserialize = "version"), default)]
    pub version: Option<String>,
    #[serde(rename(serialize = "Region", deserialize = "region"), default)]
    pub region: Option<String>,
    #[serde(rename(serialize = "Cookie", deserialize = "cookie"), default)]
    pub cookie: Option<String>,
    #[serde(
        rename(serialize = "AccountName", deserialize = "accountname"),
        default
    )]
    pub account_name: Option<String>,
    #[serde(
        rename(serialize = "SessionDuration", deserialize = "sessionduration"),
        default
    )]
    pub session_duration: Option<i64>,
    #[serde(rename(serialize = "PlanName", deserialize = "planname"), default)]
    pub plan_name: Option<String>,
    #[serde(rename(serialize = "Banner", deserialize = "banner"), default)]
    pub banner: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Bind {
    /// Empty for a new tunnel; the old ID on a re-bind, which the edge must keep.
    #[serde(rename(serialize = "Id", deserialize = "id"), default)]
    pub id: String,
    #[serde(rename(serialize = "Proto", deserialize = "proto"), default)]
    pub proto: String,
    #[serde(rename(serialize = "ForwardsTo", deserialize = "forwardsto"), default)]
    pub forwards_to: String,
    #[serde(
        rename(serialize = "ForwardsProto", deserialize = "forwardsproto"),
        default
    )]
    pub forwards_proto: String,
    /// Kept as sent: the edge echoes it back, and agents resend it unchanged on re-bind.
    #[serde(rename(serialize = "Opts", deserialize = "opts"), default)]
    pub opts: Value,
    #[serde(rename(serialize = "Extra", deserialize = "extra"), default)]
    pub extra: BindExtra,
}

#[derive(Clone, Default, Serialize, Deserialize)]
pub struct BindExtra {
    #[serde(rename(serialize = "Token", deserialize = "token"), default)]
    pub token: String,
    #[serde(
        rename(serialize = "IPPolicyRef", deserialize = "ippolicyref"),
        default
    )]
    pub ip_policy_ref: String,
    #[serde(rename(serialize = "Metadata", deserialize = "metadata"), default)]
    pub metadata: String,
    #[serde(rename(serialize = "Bindings", deserialize = "bindings"), default)]
    pub bindings: Vec<String>,
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

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BindResp {
    #[serde(rename(serialize = "Id", deserialize = "id"), default)]
    pub id: String,
    #[serde(rename(serialize = "URL", deserialize = "url"), default)]
    pub url: String,
    #[serde(rename(serialize = "Proto", deserialize = "proto"), default)]
    pub proto: String,
    /// Required by ngrok's SDKs and must decode as the same endpoint kind as the bind.
    #[serde(rename(serialize = "Opts", deserialize = "opts"), default)]
    pub opts: Value,
    #[serde(rename(serialize = "Extra", deserialize = "extra"), default)]
    pub extra: BindRespExtra,
}

#[derive(Clone, Default, Serialize, Deserialize)]
pub struct BindRespExtra {
    #[serde(rename(serialize = "Token", deserialize = "token"), default)]
    pub token: String,
}

impl fmt::Debug for BindRespExtra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BindRespExtra { .. }")
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Unbind {
    #[serde(rename(serialize = "Id", deserialize = "id"), default)]
    pub id: String,
}

/// `{"Id", "Message", "ErrorCode"}`: the edge closes one tunnel of an agent.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StopTunnel {
    #[serde(rename(serialize = "Id", deserialize = "id"), default)]
    pub id: String,
    #[serde(rename(serialize = "Message", deserialize = "message"), default)]
    pub message: String,
    #[serde(rename(serialize = "ErrorCode", deserialize = "errorcode"), default)]
    pub error_code: Option<String>,
}

/// The reply to a server command (restart, stop, update); `Error` absent on success.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CommandResp {
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
    pub domain: String,
    pub hostname: String,
    pub subdomain: String,
    /// TCP: the `host:port` asked for, or empty.
    pub addr: String,
    pub proxyproto: Value,
    pub mutualtlsatagent: bool,
    /// TLS: when present the edge terminates TLS with this certificate.
    pub tlstermination: Option<Value>,
    /// HTTP: client CAs the edge requires (base64 PEM in `mutual_tls_ca`).
    pub mutualtlsca: Option<Value>,
    /// TLS: client CAs the edge requires when it terminates.
    pub mutualtlsatedge: Option<Value>,
    pub basicauth: Option<Value>,
    pub hostheaderrewrite: bool,
}

impl BindOptsView {
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
