use std::fmt;

/// A string that must never reach a log line: authtokens, API keys, private keys.
///
/// `Debug` and `Display` print a fixed mask, so a secret that ends up in a `tracing` field or
/// an error message by accident stays hidden.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a plaintext as soon as it is read, so it is masked from then on.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The plaintext. Callers that need it say so explicitly, which makes leaks greppable.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Lets callers test for "not set" without exposing the value.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_plaintext() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?} {s}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }
}
