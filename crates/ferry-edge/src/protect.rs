//! Basic authentication an HTTP endpoint's agent asks the edge to enforce (`basic_auth` in
//! ngrok.yml), checked before any byte reaches the agent. Client certificates are
//! `client_auth.rs`.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ferry_proto::msg::BindOptsView;
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a bind's `BasicAuth` cannot be enforced.
#[derive(Debug, thiserror::Error)]
pub enum ProtectionError {
    #[error("BasicAuth credentials need a username and a cleartext_password (hashed passwords are not supported)")]
    Incomplete,
    #[error("BasicAuth has no credentials list")]
    NoCredentials,
}

/// The basic-auth users of one endpoint.
#[derive(Default)]
pub struct Protection {
    /// Users and SHA-256 digests of their passwords.
    basic_auth: Vec<(String, [u8; 32])>,
}

impl Protection {
    /// Reads `BasicAuth` from a bind's options.
    pub fn from_opts(view: &BindOptsView) -> Result<Self, ProtectionError> {
        let mut p = Protection::default();
        if let Some(Value::Object(ba)) = &view.basicauth {
            let creds = ba
                .get("credentials")
                .and_then(Value::as_array)
                .ok_or(ProtectionError::NoCredentials)?;
            for c in creds {
                let user = c
                    .get("username")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let pass = c
                    .get("cleartextpassword")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if user.is_empty() || pass.is_empty() {
                    return Err(ProtectionError::Incomplete);
                }
                p.basic_auth
                    .push((user.to_string(), Sha256::digest(pass.as_bytes()).into()));
            }
        }
        Ok(p)
    }

    pub fn requires_basic_auth(&self) -> bool {
        !self.basic_auth.is_empty()
    }

    /// Checks an `Authorization` header value; every user's digest is compared so that timing
    /// says nothing about which names exist.
    pub fn basic_auth_ok(&self, header: Option<&str>) -> bool {
        let Some(encoded) = header.and_then(|h| h.strip_prefix("Basic ")) else {
            return false;
        };
        let Ok(decoded) = STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Ok(text) = String::from_utf8(decoded) else {
            return false;
        };
        let Some((user, pass)) = text.split_once(':') else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(pass.as_bytes()).into();
        let mut ok = false;
        for (u, d) in &self.basic_auth {
            let same: bool = (u.as_bytes().ct_eq(user.as_bytes()) & d.ct_eq(&digest)).into();
            ok |= same;
        }
        ok
    }
}

/// Printing a protection names its users, never their password digests.
impl fmt::Debug for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let users: Vec<&str> = self.basic_auth.iter().map(|(u, _)| u.as_str()).collect();
        f.debug_struct("Protection")
            .field("basic_auth", &users)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_checks_user_and_password() {
        let p = Protection {
            basic_auth: vec![("ops".into(), Sha256::digest(b"longpassword").into())],
        };
        let header = |u: &str, pw: &str| format!("Basic {}", STANDARD.encode(format!("{u}:{pw}")));
        assert!(p.basic_auth_ok(Some(&header("ops", "longpassword"))));
        assert!(!p.basic_auth_ok(Some(&header("ops", "wrong"))));
        assert!(!p.basic_auth_ok(Some(&header("other", "longpassword"))));
        assert!(!p.basic_auth_ok(Some("Bearer x")));
        assert!(!p.basic_auth_ok(None));
    }
}
