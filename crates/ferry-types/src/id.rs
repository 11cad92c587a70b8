use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;

/// The resource prefixes ngrok uses; Ferry's IDs carry the same ones so that ngrok's API
/// clients and users' scripts that switch on the prefix keep working.
pub const ID_PREFIXES: &[&str] = &[
    "ak", "agin", "rd", "ra", "bot", "cr", "ca", "cert", "ts", "tn", "ep", "usr", "op", "cj",
];

const BODY_LEN: usize = 27;
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A prefixed, time-sortable ID such as `tn_2esRkfoq4frGvOVUmfhytlr2zS3`.
///
/// The body is 27 base62 characters that begin with the creation time, so IDs sort in creation
/// order; that is what ngrok's newest-first `before_id` paging relies on.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId(String);

/// Why a text is not an ID of the expected kind; every variant quotes the text as given.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    /// The part before `_` is none of [`ID_PREFIXES`].
    #[error("ID {0:?} has no known prefix (expected one of {prefixes})", prefixes = ID_PREFIXES.join("_, ") + "_")]
    UnknownPrefix(String),
    /// A valid ID of another kind, such as a `cr_` ID where a `tn_` one was expected.
    #[error("ID {id:?} should start with {expected}_")]
    WrongPrefix {
        /// The ID as given.
        id: String,
        /// The prefix the caller asked for, without the `_`.
        expected: &'static str,
    },
    /// No `_`, or a body that is not exactly 27 ASCII letters and digits.
    #[error("ID {0:?} should be a prefix and 27 base62 characters")]
    Malformed(String),
}

impl ResourceId {
    /// A fresh ID for `prefix`, which must be one of [`ID_PREFIXES`].
    pub fn generate(prefix: &'static str) -> Self {
        debug_assert!(ID_PREFIXES.contains(&prefix));
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let mut body = Vec::with_capacity(BODY_LEN);
        // 12 base62 digits of nanoseconds keep order for the next few thousand years.
        let mut t = nanos;
        let mut time_digits = [b'0'; 12];
        for slot in time_digits.iter_mut().rev() {
            *slot = BASE62[(t % 62) as usize];
            t /= 62;
        }
        body.extend_from_slice(&time_digits);
        let mut rng = rand::thread_rng();
        while body.len() < BODY_LEN {
            body.push(BASE62[rng.gen_range(0..62)]);
        }
        let body = String::from_utf8(body).unwrap_or_default();
        Self(format!("{prefix}_{body}"))
    }

    /// Parses `s` and checks that it carries `expected` as its prefix.
    pub fn parse(s: &str, expected: &'static str) -> Result<Self, IdError> {
        let Some((prefix, body)) = s.split_once('_') else {
            return Err(IdError::Malformed(s.to_string()));
        };
        if !ID_PREFIXES.contains(&prefix) {
            return Err(IdError::UnknownPrefix(s.to_string()));
        }
        if prefix != expected {
            return Err(IdError::WrongPrefix {
                id: s.to_string(),
                expected,
            });
        }
        if body.len() != BODY_LEN || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(IdError::Malformed(s.to_string()));
        }
        Ok(Self(s.to_string()))
    }

    /// The whole ID, prefix included, as it appears in URLs and JSON.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ID without its prefix: the first half of a `FIRSTPART_SECONDPART` token.
    pub fn body(&self) -> &str {
        self.0.split_once('_').map(|(_, b)| b).unwrap_or(&self.0)
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_and_sort_by_time() {
        let a = ResourceId::generate("tn");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = ResourceId::generate("tn");
        assert!(a < b);
        assert_eq!(ResourceId::parse(a.as_str(), "tn").unwrap(), a);
        assert_eq!(a.body().len(), 27);
    }

    #[test]
    fn rejects_bad_ids() {
        assert!(matches!(
            ResourceId::parse("tn_short", "tn"),
            Err(IdError::Malformed(_))
        ));
        let ep = ResourceId::generate("ep");
        assert!(matches!(
            ResourceId::parse(ep.as_str(), "tn"),
            Err(IdError::WrongPrefix { .. })
        ));
        assert!(matches!(
            ResourceId::parse("zz_abc", "tn"),
            Err(IdError::UnknownPrefix(_))
        ));
        assert!(matches!(
            ResourceId::parse("nounderscore", "tn"),
            Err(IdError::Malformed(_))
        ));
    }
}
