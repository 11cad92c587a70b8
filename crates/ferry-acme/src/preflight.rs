//! The pre-flight before an ACME order: the customer's records that the validation will
//! follow are looked up through `--dns-check-resolver` first, with Check Status's own
//! judgement, so that no CA validation (Let's Encrypt allows five failures per name per
//! hour) is spent on a record that is not there yet. While they are missing the job shows
//! `DNS_ERROR` and the record's verdict, and looks again soon.

use std::net::SocketAddr;

use ferry_dnscheck::{Expectation, HickoryLookups, Verdict};

use crate::schedule::Attempt;

/// Looks the expected records up.
pub struct Preflight {
    lookups: HickoryLookups,
}

impl Preflight {
    /// Asks `resolver`, or the system's resolver with `None`.
    pub fn new(resolver: Option<SocketAddr>) -> Self {
        Self {
            lookups: HickoryLookups::new(resolver),
        }
    }

    /// `Ok` when every record is as expected, else [`Attempt::DnsMissing`] naming each one
    /// that is not.
    pub async fn check(&self, expected: Vec<Expectation>) -> Result<(), Attempt> {
        let verdicts = ferry_dnscheck::check(&self.lookups, expected).await;
        let wrong: Vec<String> = verdicts
            .iter()
            .filter(|v| !v.ok())
            .map(Verdict::msg)
            .collect();
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(Attempt::DnsMissing {
                msg: wrong.join("; "),
            })
        }
    }
}

/// What a reserved domain's validation follows: a wildcard is validated by DNS-01 through
/// the `_acme-challenge` CNAME, a single name by HTTP-01 or TLS-ALPN-01 at the address its
/// CNAME leads to. A name without a target (under Ferry's own base domain) needs nothing.
pub fn reserved_domain(domain: &str, cname_target: &str, acme_target: &str) -> Vec<Expectation> {
    if domain.starts_with("*.") {
        if acme_target.is_empty() {
            return Vec::new();
        }
        vec![Expectation::acme_cname(domain, acme_target)]
    } else if cname_target.is_empty() {
        Vec::new()
    } else {
        vec![Expectation::domain_cname(domain, cname_target)]
    }
}

/// What an agent ingress's validation follows: its zone's delegation to Ferry.
pub fn agent_ingress(domain: &str, ns_targets: &[String]) -> Vec<Expectation> {
    vec![Expectation::ns(domain, ns_targets)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_need_the_acme_cname_single_names_the_domain_cname() {
        let w = reserved_domain("*.c1.example.com", "t.cname.ferry", "t.acme.ferry");
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].name, "_acme-challenge.c1.example.com");
        let s = reserved_domain("app.example.com", "t.cname.ferry", "t.acme.ferry");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].name, "app.example.com");
        assert!(reserved_domain("app.ferry.example", "", "").is_empty());
    }
}
