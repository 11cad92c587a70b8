//! The options echoed in a bind reply. The agent stores them and sends them back unchanged on
//! every re-bind, so they carry the name or address the edge chose, and ngrok's SDKs fail to
//! decode a reply whose options lack a key they require.

use ferry_proto::BindProto;
use ferry_types::HostPattern;
use serde_json::Value;

/// Sets the chosen host and the keys an HTTP or TLS reply must have.
pub fn host(opts: &mut Value, proto: BindProto, pattern: &HostPattern) {
    set(opts, "Hostname", &pattern.to_string());
    let required: &[(&str, Value)] = match proto {
        BindProto::Http | BindProto::Https => &[
            ("Auth", Value::String(String::new())),
            ("Subdomain", Value::String(String::new())),
            ("HostHeaderRewrite", Value::Bool(false)),
            ("ProxyProto", Value::from(0)),
        ],
        BindProto::Tls | BindProto::Tcp => &[
            ("Subdomain", Value::String(String::new())),
            ("ProxyProto", Value::from(0)),
            ("MutualTLSAtAgent", Value::Bool(false)),
        ],
    };
    for (key, value) in required {
        default(opts, key, value);
    }
}

/// Sets the claimed `host:port` and the keys a TCP reply must have.
pub fn tcp(opts: &mut Value, addr: &str) {
    set(opts, "Addr", addr);
    default(opts, "ProxyProto", &Value::from(0));
}

/// Sets `key`, replacing any other spelling of it so the agent does not see two.
fn set(opts: &mut Value, key: &str, value: &str) {
    if let Value::Object(map) = opts {
        let folded = key.to_ascii_lowercase();
        map.retain(|k, _| k.replace('_', "").to_ascii_lowercase() != folded);
        map.insert(key.to_string(), Value::String(value.to_string()));
    }
}

/// Go agents omit some required keys: any spelling already there is kept and a missing key
/// gets `value`.
fn default(opts: &mut Value, key: &str, value: &Value) {
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
