//! Secrets shaped as ngrok's: `FIRSTPART_SECONDPART`, where the first part is the resource
//! ID's body and the second a random secret. The ID lets the store find the row; only a hash
//! of the secret is kept and it is compared in constant time.

use ferry_types::{ResourceId, Secret};
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const SECRET_LEN: usize = 32;
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A freshly made secret: the plaintext token to show once, and the hash to store.
pub struct IssuedSecret {
    pub token: Secret,
    pub(crate) hash: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token is empty")]
    Empty,
    #[error("the token is not of the form FIRSTPART_SECONDPART")]
    Malformed,
}

pub(crate) fn issue(id: &ResourceId) -> IssuedSecret {
    let mut rng = rand::thread_rng();
    let secret: String = (0..SECRET_LEN)
        .map(|_| BASE62[rng.gen_range(0..62)] as char)
        .collect();
    IssuedSecret {
        hash: hash(&secret),
        token: Secret::new(format!("{}_{}", id.body(), secret)),
    }
}

/// Splits a token into the ID body and the secret.
pub(crate) fn split(token: &str) -> Result<(&str, &str), TokenError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(TokenError::Empty);
    }
    match token.split_once('_') {
        Some((id, secret))
            if id.len() == 27
                && !secret.is_empty()
                && id.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            Ok((id, secret))
        }
        _ => Err(TokenError::Malformed),
    }
}

pub(crate) fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

pub(crate) fn matches(secret: &str, stored: &[u8]) -> bool {
    hash(secret).ct_eq(stored).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_split_and_match() {
        let id = ResourceId::generate("cr");
        let s = issue(&id);
        let (body, secret) = split(s.token.expose()).unwrap();
        assert_eq!(body, id.body());
        assert!(matches(secret, &s.hash));
        assert!(!matches("wrong", &s.hash));
    }

    #[test]
    fn malformed_tokens() {
        assert_eq!(split(""), Err(TokenError::Empty));
        assert_eq!(split("nounderscore"), Err(TokenError::Malformed));
        assert_eq!(split("short_x"), Err(TokenError::Malformed));
    }
}
