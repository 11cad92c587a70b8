//! REST request bodies as the guides' users type them into curl: `ferry_api::parse` decoding
//! into the request types of the resources the guides create, then the field checks their
//! handlers make before the store; and the
//! agent API's `POST /api/tunnels` decoding (`explain_json`, `RawTunnel`, `tunnel_spec`).
//! None of it may panic, and every error must say where: a line and a column in the body
//! (inside it), and the field when a value is wrong.
//!
//! The bodies and their decoding are ferry-api's, the very ones the control plane's handlers
//! use; driving the router instead would need a store and an API key per input.
#![no_main]

use ferry_agent::api::explain_json;
use ferry_agent::config::{tunnel_spec, RawTunnel};
use ferry_api::requests::{
    AgentIngressCreate, BotUserBody, CredentialCreate, ReservedDomainCreate,
};
use ferry_types::{acl, ErrorCode, HostPattern, Hostname, ResourceId};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;

fuzz_target!(|data: &[u8]| {
    if let Some(c) = decode::<AgentIngressCreate>(data) {
        if let Some(d) = c.domain {
            let _ = Hostname::parse(d.trim());
        }
    }
    if let Some(c) = decode::<ReservedDomainCreate>(data) {
        if let Some(d) = c.domain {
            let _ = HostPattern::parse(d.trim());
        }
        if let Some(id) = c.certificate_id {
            let _ = ResourceId::parse(&id, "cert");
        }
    }
    if let Some(c) = decode::<CredentialCreate>(data) {
        for rule in c.acl.iter().flatten() {
            if let Err(e) = acl::validate_rule(rule) {
                assert!(!e.to_string().is_empty(), "ACL rule {rule:?}: empty error");
            }
        }
        if let Some(id) = c.owner_id {
            let _ = ResourceId::parse(&id, "bot");
        }
    }
    let _ = decode::<BotUserBody>(data);

    agent_api_tunnel(data);
});

/// `ferry_api::parse`, holding its errors to their promise: a line and a column inside the body,
/// and a field for a wrong value.
fn decode<T: DeserializeOwned>(data: &[u8]) -> Option<T> {
    let e = match ferry_api::parse::<T>(data) {
        Ok(v) => return Some(v),
        Err(e) => e,
    };
    let msg = &e.msg;
    let lines = 1 + data.iter().filter(|b| **b == b'\n').count();
    let (prefix, at) = match e.code {
        ErrorCode::JsonMalformed => (
            "malformed JSON body",
            leading_position(msg, "malformed JSON body at "),
        ),
        ErrorCode::FieldUnknown => ("unknown field", trailing_position(msg)),
        ErrorCode::FieldInvalid if msg.starts_with("the body: ") => {
            ("the body: ", trailing_position(msg))
        }
        ErrorCode::FieldInvalid => ("field \"", trailing_position(msg)),
        other => panic!("unexpected error code {other:?}: {msg:?}"),
    };
    assert!(
        msg.starts_with(prefix),
        "{:?} does not start with {prefix:?}: {msg:?}",
        e.code
    );
    assert!(
        at.is_some_and(|(line, _)| (1..=lines).contains(&line)),
        "{:?} without a line and column inside the {lines}-line body: {msg:?}",
        e.code
    );
    None
}

/// `(line, column)` from a message that starts with `prefix` and `line L, column C`.
fn leading_position(msg: &str, prefix: &str) -> Option<(usize, usize)> {
    let rest = msg.strip_prefix(prefix)?.strip_prefix("line ")?;
    let (line, rest) = rest.split_once(", column ")?;
    let column = rest.split(':').next()?;
    Some((line.parse().ok()?, column.parse().ok()?))
}

/// `(line, column)` from a message that ends with `(line L, column C)`.
fn trailing_position(msg: &str) -> Option<(usize, usize)> {
    let (_, tail) = msg.strip_suffix(')')?.rsplit_once(" (line ")?;
    let (line, column) = tail.split_once(", column ")?;
    Some((line.parse().ok()?, column.parse().ok()?))
}

/// The agent API's `POST /api/tunnels` (ferry-agent/src/api/mod.rs `start_tunnel`), up to
/// starting the tunnel.
fn agent_api_tunnel(data: &[u8]) {
    let value: serde_json::Value = match serde_json::from_slice(data) {
        Ok(v) => v,
        Err(e) => {
            let msg = explain_json(data, &e);
            let lines = 1 + data.iter().filter(|b| **b == b'\n').count();
            assert!(
                leading_position(&msg, "invalid JSON at ").is_some_and(|(l, _)| l <= lines),
                "{msg:?}"
            );
            return;
        }
    };
    let Ok(raw) = serde_json::from_value::<RawTunnel>(value) else {
        return;
    };
    let Some(name) = raw.name.clone().filter(|n| !n.trim().is_empty()) else {
        return;
    };
    if let Err(msg) = tunnel_spec(&name, &raw) {
        assert!(!msg.is_empty(), "tunnel {name:?}: empty error");
    }
}
