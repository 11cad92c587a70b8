//! ngrok's authtoken ACL: a list of `bind:` rules. An empty list allows everything; otherwise a
//! bind passes when any one rule allows it.

use crate::host::HostPattern;

#[cfg(any(test, feature = "proptest"))]
pub mod strategies;

/// What a bind asks for, as the ACL sees it.
#[derive(Clone, Debug)]
pub enum BindTarget<'a> {
    /// An HTTP or TLS endpoint's host, exact or wildcard.
    Host(&'a HostPattern),
    /// A TCP endpoint's `host:port`.
    Addr(&'a str),
    /// A name the edge chose at random: restricted tokens may not have one.
    Random,
}

/// Why a rule is refused when a credential is written; the rule is quoted as given.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AclRuleError {
    /// Neither `*` nor a `bind:` rule: ngrok defines no other verb.
    #[error("ACL rule {0:?} must be '*' or start with 'bind:'")]
    UnknownVerb(String),
    /// `bind:` with nothing after it, which would match no bind at all.
    #[error("ACL rule {0:?} has an empty value after 'bind:'")]
    Empty(String),
}

/// Checks the grammar of one rule, for the control plane to refuse bad rules on write.
pub fn validate_rule(rule: &str) -> Result<(), AclRuleError> {
    if rule == "*" {
        return Ok(());
    }
    match rule.strip_prefix("bind:") {
        Some("") => Err(AclRuleError::Empty(rule.to_string())),
        Some(_) => Ok(()),
        None => Err(AclRuleError::UnknownVerb(rule.to_string())),
    }
}

/// True when `acl` allows `target`.
pub fn allows(acl: &[String], target: &BindTarget<'_>) -> bool {
    acl.is_empty() || acl.iter().any(|rule| rule_allows(rule, target))
}

fn rule_allows(rule: &str, target: &BindTarget<'_>) -> bool {
    let value = match rule {
        "*" => return true,
        r => match r.strip_prefix("bind:") {
            Some(v) => v.trim().to_ascii_lowercase(),
            None => return false,
        },
    };
    if value == "*" {
        return true;
    }
    match target {
        BindTarget::Random => false,
        BindTarget::Addr(addr) => value == addr.to_ascii_lowercase(),
        BindTarget::Host(pattern) => match HostPattern::parse(&value) {
            Ok(HostPattern::Exact(h)) => matches!(pattern, HostPattern::Exact(p) if *p == h),
            Ok(HostPattern::Wildcard(base)) => match pattern {
                HostPattern::Exact(h) => h.is_below(&base),
                // `bind:*.example.com` allows the wildcard itself and any wildcard below it.
                HostPattern::Wildcard(b) => *b == base || b.is_below(&base),
            },
            Err(_) => false,
        },
    }
}

/// The host a rule would allow, for error messages.
pub fn describe(acl: &[String]) -> String {
    if acl.is_empty() {
        "(no rules: everything allowed)".into()
    } else {
        acl.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(s: &str) -> HostPattern {
        HostPattern::parse(s).unwrap()
    }

    fn acl(rules: &[&str]) -> Vec<String> {
        rules.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn empty_acl_allows_all() {
        assert!(allows(&[], &BindTarget::Host(&host("a.b"))));
        assert!(allows(&[], &BindTarget::Random));
    }

    #[test]
    fn wildcard_rule_allows_names_below_and_itself() {
        let a = acl(&["bind:*.customer1.example.test"]);
        assert!(allows(
            &a,
            &BindTarget::Host(&host("api.customer1.example.test"))
        ));
        assert!(allows(
            &a,
            &BindTarget::Host(&host("x.y.customer1.example.test"))
        ));
        assert!(allows(
            &a,
            &BindTarget::Host(&host("*.customer1.example.test"))
        ));
        assert!(!allows(
            &a,
            &BindTarget::Host(&host("customer1.example.test"))
        ));
        assert!(!allows(
            &a,
            &BindTarget::Host(&host("api.customer2.example.test"))
        ));
        assert!(!allows(&a, &BindTarget::Host(&host("*.example.test"))));
        assert!(!allows(&a, &BindTarget::Random));
    }

    #[test]
    fn exact_and_addr_rules() {
        let a = acl(&["bind:App.Example.test", "bind:1.tcp.example.test:20002"]);
        assert!(allows(&a, &BindTarget::Host(&host("app.example.test"))));
        assert!(!allows(&a, &BindTarget::Host(&host("x.app.example.test"))));
        assert!(allows(&a, &BindTarget::Addr("1.tcp.example.test:20002")));
        assert!(!allows(&a, &BindTarget::Addr("1.tcp.example.test:20003")));
    }

    #[test]
    fn star_rules_allow_everything() {
        assert!(allows(&acl(&["*"]), &BindTarget::Random));
        assert!(allows(&acl(&["bind:*"]), &BindTarget::Addr("x:1")));
    }

    #[test]
    fn rule_grammar() {
        assert!(validate_rule("bind:a.b").is_ok());
        assert!(validate_rule("*").is_ok());
        assert_eq!(
            validate_rule("bind:"),
            Err(AclRuleError::Empty("bind:".into()))
        );
        assert!(matches!(
            validate_rule("connect:x"),
            Err(AclRuleError::UnknownVerb(_))
        ));
    }

    mod property {
        use super::*;
        use crate::acl::strategies::{host_rule, name, oracle_allows};
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn allowed_iff_some_rule_matches(
                rules in prop::collection::vec(host_rule(), 0..4),
                host in name(),
                wildcard in any::<bool>(),
            ) {
                let text = if wildcard { format!("*.{host}") } else { host.clone() };
                let pattern = HostPattern::parse(&text).unwrap();
                let expected = oracle_allows(&rules, Some(&text));
                prop_assert_eq!(allows(&rules, &BindTarget::Host(&pattern)), expected);
            }
        }
    }
}
