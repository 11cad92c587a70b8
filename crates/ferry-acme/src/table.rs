//! Which certificate a name is served: a pure function of the names Ferry holds
//! certificates for, so the precedence rules are tested without a handshake.
//!
//! A name is served, most specific first, the certificate held for the name itself, then the
//! one held for the wildcard one label up (`*.b.c` for `a.b.c`: a TLS wildcard covers one
//! label only). For one name, an uploaded certificate attached to it wins over the managed
//! one, so that an operator's own certificate is never shadowed by Ferry's.

use std::collections::HashMap;

/// Where a certificate came from, in the order of precedence for one name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// Obtained and renewed by Ferry (ACME, or the dev CA in dev mode).
    Managed,
    /// Uploaded through `/tls_certificates` and attached to a reserved domain.
    Uploaded,
}

/// The certificates held, by the name (`a.b.c` or `*.b.c`, lower-case) each serves.
#[derive(Debug)]
pub struct CertTable<K> {
    by_name: HashMap<String, (Source, K)>,
}

impl<K> Default for CertTable<K> {
    fn default() -> Self {
        Self {
            by_name: HashMap::new(),
        }
    }
}

impl<K: Clone> CertTable<K> {
    /// Holds `cert` for `name`, unless a certificate of higher precedence already is.
    pub fn insert(&mut self, name: &str, source: Source, cert: K) {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        match self.by_name.get(&name) {
            Some((held, _)) if *held > source => {}
            _ => {
                self.by_name.insert(name, (source, cert));
            }
        }
    }

    /// The certificate for a client's SNI name, if Ferry holds one.
    pub fn choose(&self, sni: &str) -> Option<K> {
        let name = sni.trim_end_matches('.').to_ascii_lowercase();
        if let Some((_, k)) = self.by_name.get(&name) {
            return Some(k.clone());
        }
        let (_, parent) = name.split_once('.')?;
        if parent.contains('.') {
            let wildcard = format!("*.{parent}");
            return self.by_name.get(&wildcard).map(|(_, k)| k.clone());
        }
        None
    }

    /// How many names are held.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when no name is held.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(entries: &[(&str, Source, &'static str)]) -> CertTable<&'static str> {
        let mut t = CertTable::default();
        for (name, source, cert) in entries {
            t.insert(name, *source, *cert);
        }
        t
    }

    #[test]
    fn the_exact_name_wins_over_the_wildcard() {
        let t = table(&[
            ("*.customer1.example.com", Source::Managed, "wild"),
            ("api.customer1.example.com", Source::Managed, "exact"),
        ]);
        assert_eq!(t.choose("api.customer1.example.com"), Some("exact"));
        assert_eq!(t.choose("other.customer1.example.com"), Some("wild"));
        assert_eq!(t.choose("API.Customer1.Example.COM."), Some("exact"));
    }

    #[test]
    fn a_wildcard_covers_one_label_only() {
        let t = table(&[("*.customer1.example.com", Source::Managed, "wild")]);
        assert_eq!(t.choose("a.b.customer1.example.com"), None);
        assert_eq!(t.choose("customer1.example.com"), None);
        assert_eq!(t.choose("example.com"), None);
        assert_eq!(t.choose("com"), None);
        assert_eq!(t.choose(""), None);
    }

    #[test]
    fn an_uploaded_certificate_wins_over_the_managed_one_for_the_same_name() {
        for order in [[0, 1], [1, 0]] {
            let entries = [
                ("app.example.com", Source::Managed, "managed"),
                ("app.example.com", Source::Uploaded, "uploaded"),
            ];
            let t = table(&[entries[order[0]], entries[order[1]]]);
            assert_eq!(t.choose("app.example.com"), Some("uploaded"));
            assert_eq!(t.len(), 1);
        }
    }

    #[test]
    fn an_unknown_name_gets_nothing() {
        let t = table(&[("app.example.com", Source::Uploaded, "a")]);
        assert_eq!(t.choose("app.example.org"), None);
        assert!(!t.is_empty());
        assert!(CertTable::<&str>::default().is_empty());
    }
}
