//! Turning the names a user gives into subjectAltName entries.
//!
//! TLS clients match a host only against subjectAltName, and an IP address only against an IP
//! entry (a "127.0.0.1" DNS entry never matches), so each name is sorted into the right kind
//! here, and a name no client could match is refused instead of being baked into a certificate.

use std::net::IpAddr;

use rcgen::{Ia5String, SanType};
use rustls::pki_types::DnsName;

use crate::error::PkiError;

/// subjectAltName entries for `names`, in order, without duplicates; at least one.
pub(crate) fn sans(names: &[String]) -> Result<Vec<SanType>, PkiError> {
    let mut out: Vec<SanType> = Vec::new();
    for name in names {
        let san = san(name)?;
        if !out.contains(&san) {
            out.push(san);
        }
    }
    if out.is_empty() {
        return Err(PkiError::NoNames);
    }
    Ok(out)
}

/// One name: an IP literal ("127.0.0.1", "::1", "[::1]") or a DNS name, possibly a wildcard
/// ("*.example.test").
pub(crate) fn san(name: &str) -> Result<SanType, PkiError> {
    let trimmed = name.trim();
    let unbracketed = trimmed
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(trimmed);
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let invalid = |reason: &str| PkiError::InvalidName {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    let dns = trimmed.trim_end_matches('.').to_ascii_lowercase();
    let base = dns.strip_prefix("*.").unwrap_or(&dns);
    if base.contains('*') {
        return Err(invalid(
            "a wildcard may only be the whole leftmost label, as in \"*.example.test\"",
        ));
    }
    if DnsName::try_from(base).is_err() {
        return Err(invalid(
            "expected a DNS name (letters, digits, '-' and '.') or an IP address",
        ));
    }
    let ia5 = Ia5String::try_from(dns.clone()).map_err(|_| invalid("not ASCII"))?;
    Ok(SanType::DnsName(ia5))
}

/// The bare name a wildcard stands beside: "*.a.test" covers "x.a.test" but not "a.test".
pub(crate) fn wildcard_base(name: &str) -> Option<&str> {
    name.trim().strip_prefix("*.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ips_become_ip_entries_and_names_dns_entries() {
        assert!(matches!(san("127.0.0.1"), Ok(SanType::IpAddress(ip)) if ip.is_loopback()));
        assert!(matches!(san("[::1]"), Ok(SanType::IpAddress(ip)) if ip.is_loopback()));
        assert!(matches!(san("::1"), Ok(SanType::IpAddress(_))));
        match san("*.Customer1.example.test.") {
            Ok(SanType::DnsName(n)) => assert_eq!(n.as_str(), "*.customer1.example.test"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(san("localhost"), Ok(SanType::DnsName(_))));
    }

    #[test]
    fn bad_names_are_refused_with_the_name() {
        for bad in ["a.*.test", "exa mple.test", "", "foo_bar!.test", "*.*.test"] {
            let err = san(bad).expect_err(bad);
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        assert!(matches!(sans(&[]), Err(PkiError::NoNames)));
    }

    #[test]
    fn duplicates_are_dropped() {
        let names = ["a.test".to_owned(), "A.test".to_owned(), "::1".to_owned()];
        assert_eq!(sans(&names).expect("valid").len(), 2);
    }
}
