//! The pure half of Check Status: given what the lookups returned for one expected record,
//! whether it is right and, when it is not, which mistake it is, named in words the customer
//! can act on. No I/O here, so every mistake is unit-tested without a DNS server.

use ferry_types::ErrorCode;

use crate::lookup::Answer;

/// Why a CNAME is expected: the two records the guides have a customer create, each with its
/// own ngrok codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The domain itself (or, for a wildcard, every name under it) points at the edge:
    /// the reserved domain's `cname_target`.
    Domain,
    /// `_acme-challenge.<domain>` points at the TXT records Ferry answers during a DNS-01
    /// validation: the reserved domain's `acme_challenge_cname_target`.
    AcmeChallenge,
}

/// What one record should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Want {
    /// A CNAME to this target.
    Cname {
        /// The target, lower case, without the final dot.
        target: String,
        /// Which of the customer's records this is.
        purpose: Purpose,
    },
    /// A delegation to exactly these name servers (in any order).
    Ns {
        /// The name servers, lower case, without the final dot.
        targets: Vec<String>,
    },
}

/// One record Check Status looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    /// The record as the customer creates it, `*.customer1.example.com` for a wildcard: what
    /// the answer shows as `name`.
    pub name: String,
    /// The name looked up: the same, except that a wildcard is looked up at a random label
    /// under it (a resolver answers a wildcard only through a concrete name).
    pub query: String,
    /// What the record should be.
    pub want: Want,
}

impl Expectation {
    /// The CNAME of a reserved domain (`app.example.com` or `*.customer1.example.com`).
    pub fn domain_cname(domain: &str, target: &str) -> Self {
        let name = normalize(domain);
        let query = match name.strip_prefix("*.") {
            Some(parent) => format!("{}.{parent}", crate::random_label()),
            None => name.clone(),
        };
        Self {
            name,
            query,
            want: Want::Cname {
                target: normalize(target),
                purpose: Purpose::Domain,
            },
        }
    }

    /// The CNAME of `_acme-challenge.` and the domain without its `*.`, which DNS-01
    /// validates for both `*.x.y` and `x.y`.
    pub fn acme_cname(domain: &str, target: &str) -> Self {
        let domain = normalize(domain);
        let name = format!(
            "_acme-challenge.{}",
            domain.strip_prefix("*.").unwrap_or(&domain)
        );
        Self {
            query: name.clone(),
            name,
            want: Want::Cname {
                target: normalize(target),
                purpose: Purpose::AcmeChallenge,
            },
        }
    }

    /// The NS delegation of an agent ingress domain.
    pub fn ns(domain: &str, targets: &[String]) -> Self {
        let name = normalize(domain);
        let mut targets: Vec<String> = targets.iter().map(|t| normalize(t)).collect();
        targets.sort();
        targets.dedup();
        Self {
            query: name.clone(),
            name,
            want: Want::Ns { targets },
        }
    }

    /// `CNAME` or `NS`, the answer's `type`.
    pub fn record_type(&self) -> &'static str {
        match self.want {
            Want::Cname { .. } => "CNAME",
            Want::Ns { .. } => "NS",
        }
    }

    /// The zones the customer's DNS provider may have appended a full name to: every proper
    /// suffix of the looked-up name of two labels or more (`customer1.example.com` and
    /// `example.com` for `x.customer1.example.com`).
    pub fn zones(&self) -> Vec<String> {
        let labels: Vec<&str> = self.query.split('.').collect();
        (1..labels.len().saturating_sub(1))
            .map(|i| labels[i..].join("."))
            .collect()
    }
}

/// Everything looked up for one expected record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// The record type wanted, at the name looked up.
    pub answer: Answer,
    /// The A and AAAA addresses at that name, looked up when no CNAME was there.
    pub addresses: Vec<String>,
    /// A zone the record was found under twice (`x.example.com.example.com`): the zone and
    /// the CNAME targets found there.
    pub doubled: Option<(String, Vec<String>)>,
}

impl Observation {
    /// Only the answer for the name itself.
    pub fn answer(answer: Answer) -> Self {
        Self {
            answer,
            addresses: Vec::new(),
            doubled: None,
        }
    }
}

/// The mistake a record shows, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// Nothing of the wanted type at the name: `nxdomain` when the name does not exist at
    /// all, else it exists with other types (NODATA).
    Missing {
        /// The resolver answered NXDOMAIN.
        nxdomain: bool,
    },
    /// A or AAAA records where the CNAME belongs.
    Address,
    /// A CNAME to another target.
    Elsewhere,
    /// Nothing at the name, but the record exists under this zone appended once more.
    SuffixDoubled {
        /// The zone found doubled (`example.com`).
        zone: String,
        /// The CNAME targets at the doubled name.
        targets: Vec<String>,
    },
    /// NS records, but not the expected set.
    NsDiffers {
        /// Expected servers the delegation lacks.
        missing: Vec<String>,
        /// Servers the delegation has that were not expected.
        extra: Vec<String>,
    },
    /// The resolver failed (no answer in time, unreachable, SERVFAIL, REFUSED): nothing is
    /// known about the record.
    Resolver(String),
}

/// The judgement on one record: what was expected, what was found, and the mistake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The record checked, with the name looked up and what it should be.
    pub expectation: Expectation,
    /// What the name has: the CNAME targets or NS names, or the A/AAAA addresses when those
    /// stand where a CNAME belongs; empty when nothing is there.
    pub found: Vec<String>,
    /// `None` when the record is right.
    pub problem: Option<Problem>,
}

/// Judges one record from what the lookups returned.
pub fn judge(expectation: Expectation, seen: Observation) -> Verdict {
    let (found, problem) = match (&expectation.want, seen.answer) {
        (_, Answer::Failed(why)) => (Vec::new(), Some(Problem::Resolver(why))),
        (Want::Cname { target, .. }, Answer::Found(found)) => {
            let problem = (!found.iter().all(|f| f == target)).then_some(Problem::Elsewhere);
            (found, problem)
        }
        (Want::Cname { .. }, absent) => {
            if !seen.addresses.is_empty() {
                (seen.addresses, Some(Problem::Address))
            } else if let Some((zone, targets)) = seen.doubled {
                (Vec::new(), Some(Problem::SuffixDoubled { zone, targets }))
            } else {
                let nxdomain = absent == Answer::NoName;
                (Vec::new(), Some(Problem::Missing { nxdomain }))
            }
        }
        (Want::Ns { targets }, Answer::Found(mut found)) => {
            found.sort();
            found.dedup();
            let missing: Vec<String> = targets
                .iter()
                .filter(|t| !found.contains(t))
                .cloned()
                .collect();
            let extra: Vec<String> = found
                .iter()
                .filter(|f| !targets.contains(f))
                .cloned()
                .collect();
            let problem = (!missing.is_empty() || !extra.is_empty())
                .then_some(Problem::NsDiffers { missing, extra });
            (found, problem)
        }
        (Want::Ns { .. }, absent) => {
            let nxdomain = absent == Answer::NoName;
            (Vec::new(), Some(Problem::Missing { nxdomain }))
        }
    };
    Verdict {
        expectation,
        found,
        problem,
    }
}

impl Verdict {
    /// The record is as expected.
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }

    /// The catalogue code of the mistake; its ngrok twin is [`ErrorCode::ngrok`].
    pub fn code(&self) -> Option<ErrorCode> {
        let acme = matches!(
            self.expectation.want,
            Want::Cname {
                purpose: Purpose::AcmeChallenge,
                ..
            }
        );
        let ns = matches!(self.expectation.want, Want::Ns { .. });
        let code = match (self.problem.as_ref()?, ns, acme) {
            (Problem::Resolver(_), _, _) => ErrorCode::DnsResolverFailed,
            (Problem::Missing { .. }, true, _) => ErrorCode::DnsNsMissing,
            (Problem::NsDiffers { .. }, _, _) => ErrorCode::DnsNsDiffers,
            (Problem::Missing { .. }, false, false) => ErrorCode::DnsCnameMissing,
            (Problem::Missing { .. }, false, true) => ErrorCode::DnsAcmeCnameMissing,
            (Problem::Address, _, false) => ErrorCode::DnsCnameIsAddress,
            (Problem::Address, _, true) => ErrorCode::DnsAcmeCnameIsAddress,
            (Problem::Elsewhere, _, false) => ErrorCode::DnsCnameElsewhere,
            (Problem::Elsewhere, _, true) => ErrorCode::DnsAcmeCnameElsewhere,
            (Problem::SuffixDoubled { .. }, _, false) => ErrorCode::DnsCnameSuffixDoubled,
            (Problem::SuffixDoubled { .. }, _, true) => ErrorCode::DnsAcmeCnameSuffixDoubled,
        };
        Some(code)
    }

    /// What is right or wrong, and for a mistake what to change, naming the record, what was
    /// expected and what was found.
    pub fn msg(&self) -> String {
        let e = &self.expectation;
        let name = &e.name;
        let looked_up = if e.query != e.name {
            format!(" (looked up as {})", e.query)
        } else {
            String::new()
        };
        let found = self.found.join(", ");
        match &e.want {
            Want::Cname { target, purpose } => {
                let what = match purpose {
                    Purpose::Domain => "CNAME record",
                    Purpose::AcmeChallenge => "ACME challenge CNAME record",
                };
                let create = format!("create a CNAME record named {name} with the value {target}");
                match &self.problem {
                    None => format!("The {what} {name} points at {target}{looked_up}."),
                    Some(Problem::Missing { nxdomain: true }) => format!(
                        "No {what} at {name}{looked_up}: the name does not exist (NXDOMAIN); {create}."
                    ),
                    Some(Problem::Missing { nxdomain: false }) => format!(
                        "No {what} at {name}{looked_up}: the name exists but has no CNAME (NODATA); {create}."
                    ),
                    Some(Problem::Address) => format!(
                        "{name}{looked_up} has an A/AAAA record ({found}) where the {what} belongs: delete it and {create}."
                    ),
                    Some(Problem::Elsewhere) => format!(
                        "The {what} {name}{looked_up} points at {found}, expected {target}: change its value to {target}."
                    ),
                    Some(Problem::SuffixDoubled { zone, targets }) => {
                        let relative = name.strip_suffix(&format!(".{zone}")).unwrap_or(name);
                        format!(
                            "No {what} at {name}{looked_up}, but there is one at {name}.{zone} (pointing at {}): \
                             the DNS provider appended the zone {zone} to the full name. Delete that record and \
                             create it again named {relative} (the name relative to the zone), or as {name}. with a final dot.",
                            targets.join(", ")
                        )
                    }
                    Some(Problem::Resolver(why)) => resolver_msg(&e.query, "CNAME", why),
                    Some(Problem::NsDiffers { .. }) => String::new(),
                }
            }
            Want::Ns { targets } => {
                let expected = targets.join(", ");
                match &self.problem {
                    None => format!("{name} is delegated to {expected}."),
                    Some(Problem::Missing { nxdomain }) => format!(
                        "No NS records for {name} ({}): at the DNS provider of its parent zone, create NS records named {name} for each of {expected}.",
                        if *nxdomain { "NXDOMAIN" } else { "NODATA" }
                    ),
                    Some(Problem::NsDiffers { missing, extra }) => {
                        let mut parts = Vec::new();
                        if !missing.is_empty() {
                            parts.push(format!("add {}", missing.join(", ")));
                        }
                        if !extra.is_empty() {
                            parts.push(format!("remove {}", extra.join(", ")));
                        }
                        format!(
                            "The NS records of {name} are {found}, expected {expected}: {}.",
                            parts.join(" and ")
                        )
                    }
                    Some(Problem::Resolver(why)) => resolver_msg(&e.query, "NS", why),
                    Some(_) => String::new(),
                }
            }
        }
    }
}

fn resolver_msg(query: &str, kind: &str, why: &str) -> String {
    format!(
        "The DNS resolver gave no usable answer for {query} {kind} ({why}), so the record could not be checked; \
         check the edge's --dns-check-resolver and try again."
    )
}

/// A name as compared: lower case, without the final dot.
pub fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGET: &str = "abc.def.cname.ferry.test";

    fn cname() -> Expectation {
        Expectation::domain_cname("app.example.com", TARGET)
    }

    fn found(v: &[&str]) -> Answer {
        Answer::Found(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn a_wildcard_is_looked_up_at_a_random_label_and_shown_as_created() {
        let e = Expectation::domain_cname("*.Customer1.Example.com.", TARGET);
        assert_eq!(e.name, "*.customer1.example.com");
        let (label, parent) = e.query.split_once('.').unwrap();
        assert_eq!(parent, "customer1.example.com");
        assert!(!label.contains('*') && label.len() >= 8, "{}", e.query);
        let acme = Expectation::acme_cname("*.customer1.example.com", "x.acme.ferry.test");
        assert_eq!(acme.name, "_acme-challenge.customer1.example.com");
        assert_eq!(acme.query, acme.name);
        assert_eq!(
            acme.zones(),
            ["customer1.example.com".to_string(), "example.com".into()]
        );
    }

    #[test]
    fn the_right_cname_is_ok() {
        let v = judge(cname(), Observation::answer(found(&[TARGET])));
        assert!(v.ok());
        assert_eq!(v.code(), None);
        assert_eq!(v.found, [TARGET]);
        assert!(v.msg().contains("points at"), "{}", v.msg());
    }

    #[test]
    fn a_missing_cname_says_nxdomain_or_nodata() {
        let v = judge(cname(), Observation::answer(Answer::NoName));
        assert_eq!(v.code(), Some(ErrorCode::DnsCnameMissing));
        assert_eq!(v.code().unwrap().ngrok(), Some("ERR_NGROK_425"));
        assert!(v.msg().contains("NXDOMAIN"), "{}", v.msg());
        assert!(v.msg().contains(TARGET), "{}", v.msg());
        let v = judge(cname(), Observation::answer(Answer::NoData));
        assert!(v.msg().contains("NODATA"), "{}", v.msg());
        assert!(v.found.is_empty());
    }

    #[test]
    fn a_cname_elsewhere_names_both_targets() {
        let v = judge(cname(), Observation::answer(found(&["old.example.net"])));
        assert_eq!(v.code(), Some(ErrorCode::DnsCnameElsewhere));
        assert_eq!(v.found, ["old.example.net"]);
        let msg = v.msg();
        assert!(
            msg.contains("old.example.net") && msg.contains(TARGET),
            "{msg}"
        );
    }

    #[test]
    fn an_address_where_the_cname_belongs() {
        let seen = Observation {
            answer: Answer::NoData,
            addresses: vec!["192.0.2.7".into()],
            doubled: None,
        };
        let v = judge(cname(), seen);
        assert_eq!(v.code(), Some(ErrorCode::DnsCnameIsAddress));
        assert_eq!(v.code().unwrap().ngrok(), Some("ERR_NGROK_426"));
        assert_eq!(v.found, ["192.0.2.7"]);
        assert!(v.msg().contains("A/AAAA record (192.0.2.7)"), "{}", v.msg());
    }

    #[test]
    fn a_doubled_suffix_names_the_record_to_fix() {
        let e = Expectation::domain_cname("*.customer1.example.com", TARGET);
        let seen = Observation {
            answer: Answer::NoName,
            addresses: vec![],
            doubled: Some(("example.com".into(), vec![TARGET.into()])),
        };
        let v = judge(e, seen);
        assert_eq!(v.code(), Some(ErrorCode::DnsCnameSuffixDoubled));
        let msg = v.msg();
        assert!(msg.contains("*.customer1.example.com.example.com"), "{msg}");
        assert!(msg.contains("named *.customer1 "), "{msg}");
    }

    #[test]
    fn acme_records_take_the_acme_codes() {
        let e = Expectation::acme_cname("*.c.example.com", "t.acme.ferry.test");
        let v = judge(e.clone(), Observation::answer(Answer::NoName));
        assert_eq!(v.code().unwrap().ngrok(), Some("ERR_NGROK_442"));
        assert!(v.msg().contains("ACME challenge CNAME"), "{}", v.msg());
        let v = judge(e.clone(), Observation::answer(found(&["x.example.net"])));
        assert_eq!(v.code().unwrap().ngrok(), Some("ERR_NGROK_444"));
        let seen = Observation {
            answer: Answer::NoData,
            addresses: vec!["::1".into()],
            doubled: None,
        };
        assert_eq!(
            judge(e, seen).code().unwrap().ngrok(),
            Some("ERR_NGROK_443")
        );
    }

    #[test]
    fn ns_sets_compare_without_order_case_or_final_dot() {
        let e = Expectation::ns(
            "connect.example.com",
            &["ns1.ferry.test".into(), "ns2.ferry.test".into()],
        );
        let v = judge(
            e.clone(),
            Observation::answer(found(&["ns2.ferry.test", "ns1.ferry.test"])),
        );
        assert!(v.ok(), "{}", v.msg());
        let v = judge(
            e.clone(),
            Observation::answer(found(&["ns1.ferry.test", "ns9.other.test"])),
        );
        assert_eq!(v.code(), Some(ErrorCode::DnsNsDiffers));
        assert_eq!(v.code().unwrap().ngrok(), Some("ERR_NGROK_6703"));
        let msg = v.msg();
        assert!(
            msg.contains("add ns2.ferry.test") && msg.contains("remove ns9.other.test"),
            "{msg}"
        );
        let v = judge(e, Observation::answer(Answer::NoName));
        assert_eq!(v.code().unwrap().ngrok(), Some("ERR_NGROK_6702"));
    }

    #[test]
    fn a_resolver_failure_is_its_own_code_and_never_ok() {
        let v = judge(
            cname(),
            Observation::answer(Answer::Failed("no answer within 3 s".into())),
        );
        assert!(!v.ok());
        assert_eq!(v.code(), Some(ErrorCode::DnsResolverFailed));
        assert_eq!(v.code().unwrap().ngrok(), None);
        assert!(v.msg().contains("--dns-check-resolver"), "{}", v.msg());
    }
}
