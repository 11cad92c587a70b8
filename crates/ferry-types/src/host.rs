use std::fmt;

/// A validated, lower-cased DNS host name such as `app.customer1.example.test`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hostname(String);

/// A name an endpoint binds: an exact host, or a wildcard that covers every name below its
/// base, however deep (`*.example.test` covers `a.example.test` and `a.b.example.test`), as
/// ngrok's wildcard domains do.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostPattern {
    /// Matches this one name only.
    Exact(Hostname),
    /// The base without the `*.`: `example.test` for `*.example.test`.
    Wildcard(Hostname),
}

/// Why a text is not a host name or pattern; each message quotes the text, lower-cased.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HostError {
    /// Nothing left once a trailing dot is removed.
    #[error("host name is empty")]
    Empty,
    /// Over DNS's 253-character limit for a whole name.
    #[error("host name {0:?} is longer than 253 characters")]
    TooLong(String),
    /// An empty label (`a..b`), one over 63 characters, one starting or ending with `-`, or
    /// a character other than a letter, digit, `-` or `_`.
    #[error("host name {name:?} has an invalid label {label:?} (1 to 63 letters, digits, '-' and '_', not starting or ending with '-')")]
    BadLabel {
        /// The whole name, lower-cased.
        name: String,
        /// The first offending label.
        label: String,
    },
    /// A `*` anywhere but as the whole first label, or a bare `*`.
    #[error("host name {0:?} may only use '*' as its whole first label, as in '*.example.com'")]
    MisplacedWildcard(String),
}

impl Hostname {
    /// Accepts any case and one trailing dot (`App.Example.TEST.`), both normalised away so
    /// that equal names compare equal. Underscores are allowed, as in `_acme-challenge`
    /// names; `*` is not (use [`HostPattern::parse`]).
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

    /// The lower-case name, without a trailing dot.
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
    /// `*.base` gives a wildcard, anything else an exact name; both parse as
    /// [`Hostname::parse`] does.
    pub fn parse(s: &str) -> Result<Self, HostError> {
        match s.strip_prefix("*.") {
            Some(base) => Ok(Self::Wildcard(Hostname::parse(base)?)),
            None if s == "*" => Err(HostError::MisplacedWildcard(s.to_string())),
            None => Ok(Self::Exact(Hostname::parse(s)?)),
        }
    }

    /// A wildcard never matches its own base: `*.example.test` does not cover `example.test`.
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

    /// True for `*.base` patterns.
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
        assert_eq!(
            h("_acme-challenge.a_b.test").as_str(),
            "_acme-challenge.a_b.test"
        );
        let bad = Hostname::parse("a b.test").unwrap_err().to_string();
        assert!(bad.contains("'-' and '_'"), "{bad}");
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
