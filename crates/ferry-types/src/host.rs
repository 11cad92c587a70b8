use std::fmt;

/// A validated, lower-cased DNS host name such as `app.customer1.example.test`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hostname(String);

/// A name an endpoint binds: an exact host, or a wildcard that covers every name below its
/// base, however deep (`*.example.test` covers `a.example.test` and `a.b.example.test`), as
/// ngrok's wildcard domains do.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostPattern {
    Exact(Hostname),
    /// The base without the `*.`: `example.test` for `*.example.test`.
    Wildcard(Hostname),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HostError {
    #[error("host name is empty")]
    Empty,
    #[error("host name {0:?} is longer than 253 characters")]
    TooLong(String),
    #[error("host name {name:?} has an invalid label {label:?} (letters, digits and '-', 1 to 63 characters, not starting or ending with '-')")]
    BadLabel { name: String, label: String },
    #[error("host name {0:?} may only use '*' as its whole first label, as in '*.example.com'")]
    MisplacedWildcard(String),
}

impl Hostname {
    pub fn parse(s: &str) -> Result<Self, HostError> {
        let name = s.trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty() {
            return Err(HostError::Empty);
        }
        if name.len() > 253 {
            return Err(HostError::TooLong(name));
        }
        for label in name.split('.') {
            if label.contains('*') {
                return Err(HostError::MisplacedWildcard(name.clone()));
            }
            let ok = !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(HostError::BadLabel {
                    name: name.clone(),
                    label: label.to_string(),
                });
            }
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when `self` lies strictly below `base` (`a.b.example.test` below `example.test`).
    pub fn is_below(&self, base: &Hostname) -> bool {
        self.0.len() > base.0.len() + 1
            && self.0.ends_with(base.0.as_str())
            && self.0.as_bytes()[self.0.len() - base.0.len() - 1] == b'.'
    }
}

impl HostPattern {
    pub fn parse(s: &str) -> Result<Self, HostError> {
        match s.strip_prefix("*.") {
            Some(base) => Ok(Self::Wildcard(Hostname::parse(base)?)),
            None if s == "*" => Err(HostError::MisplacedWildcard(s.to_string())),
            None => Ok(Self::Exact(Hostname::parse(s)?)),
        }
    }

    pub fn matches(&self, host: &Hostname) -> bool {
        match self {
            Self::Exact(h) => h == host,
            Self::Wildcard(base) => host.is_below(base),
        }
    }

    /// Higher is more specific. An exact name beats every wildcard; among wildcards the one
    /// with the longer base wins (`*.a.example.test` over `*.example.test`).
    pub fn specificity(&self) -> usize {
        match self {
            Self::Exact(_) => usize::MAX,
            Self::Wildcard(base) => base.as_str().len(),
        }
    }

    pub fn is_wildcard(&self) -> bool {
        matches!(self, Self::Wildcard(_))
    }
}

impl fmt::Display for Hostname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Hostname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(h) => write!(f, "{h}"),
            Self::Wildcard(base) => write!(f, "*.{base}"),
        }
    }
}

impl fmt::Debug for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Hostname {
        Hostname::parse(s).unwrap()
    }

    #[test]
    fn wildcard_covers_deeper_names_but_not_its_base() {
        let p = HostPattern::parse("*.example.test").unwrap();
        assert!(p.matches(&h("a.example.test")));
        assert!(p.matches(&h("a.b.example.test")));
        assert!(!p.matches(&h("example.test")));
        assert!(!p.matches(&h("badexample.test")));
    }

    #[test]
    fn more_specific_wildcard_wins() {
        let broad = HostPattern::parse("*.example.test").unwrap();
        let narrow = HostPattern::parse("*.a.example.test").unwrap();
        let exact = HostPattern::parse("x.a.example.test").unwrap();
        assert!(narrow.specificity() > broad.specificity());
        assert!(exact.specificity() > narrow.specificity());
    }

    #[test]
    fn names_are_normalised_and_validated() {
        assert_eq!(h("App.Example.TEST.").as_str(), "app.example.test");
        assert!(matches!(Hostname::parse(""), Err(HostError::Empty)));
        assert!(matches!(
            Hostname::parse("a..b"),
            Err(HostError::BadLabel { .. })
        ));
        assert!(matches!(
            Hostname::parse("-a.b"),
            Err(HostError::BadLabel { .. })
        ));
        assert!(matches!(
            HostPattern::parse("a.*.b"),
            Err(HostError::MisplacedWildcard(_))
        ));
        assert!(matches!(
            HostPattern::parse("*"),
            Err(HostError::MisplacedWildcard(_))
        ));
    }
}
