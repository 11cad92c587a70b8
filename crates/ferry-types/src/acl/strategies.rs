//! proptest strategies for ACL rules and the names they match, and ngrok's ACL written as
//! plainly as possible. This crate's property test and the edge's bind tests both use them,
//! so both check the matcher against the same grammar and the same reading of the rules.
//! Built for this crate's tests and, for other crates' tests, under the `proptest` feature
//! (which ferry-edge enables from its dev-dependencies only).

use proptest::prelude::*;

/// One label from a small alphabet, so that generated names and rules often meet.
pub fn label() -> impl Strategy<Value = String> {
    prop_oneof![Just("a"), Just("b"), Just("api"), Just("c1")].prop_map(String::from)
}

/// A host name of one to three labels from [`label`].
pub fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(label(), 1..4).prop_map(|l| l.join("."))
}

/// A rule about host names: exact, a wildcard, an exact one in upper case (rules match
/// without regard to case), or one of the two that allow everything (`*`, `bind:*`).
pub fn host_rule() -> impl Strategy<Value = String> {
    prop_oneof![
        name().prop_map(|n| format!("bind:{n}")),
        name().prop_map(|n| format!("bind:*.{n}")),
        name().prop_map(|n| format!("bind:{}", n.to_uppercase())),
        Just("*".to_string()),
        Just("bind:*".to_string()),
    ]
}

/// ngrok's ACL on plain strings, the oracle the matcher is checked against: `target` is a
/// host name (`*.x` for a wildcard), a `host:port`, or `None` for a name or port the edge
/// picks, which only a rule allowing everything allows.
pub fn oracle_allows(rules: &[String], target: Option<&str>) -> bool {
    rules.is_empty()
        || rules.iter().any(|rule| {
            let Some(v) = rule.strip_prefix("bind:") else {
                return rule == "*";
            };
            let v = v.to_ascii_lowercase();
            let Some(t) = target else { return v == "*" };
            v == "*"
                || v == t
                || v.strip_prefix("*.")
                    .is_some_and(|base| !t.contains(':') && t.ends_with(&format!(".{base}")))
        })
}
