//! Secrets shaped as ngrok's: `FIRSTPART_SECONDPART`, where the first part is the resource
//! ID's body and the second a random secret. The ID lets the store find the row; only a hash
//! of the secret is kept and it is compared in constant time.

use ferry_types::{ResourceId, Secret};
use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::Row;
use subtle::ConstantTimeEq;

use crate::record::{self, Cell, Record};
use crate::{now_rfc3339, Store, StoreError};

const SECRET_LEN: usize = 32;
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A freshly made secret: the plaintext token to show once, and the hash to store.
pub struct IssuedSecret {
    /// `FIRSTPART_SECONDPART`, for the create response; nothing can recover it later.
    pub token: Secret,
    pub(crate) hash: Vec<u8>,
}

/// Why a presented authtoken or API key was refused before any lookup: the agent or client
/// sent something that cannot be a token, as opposed to a token that is unknown or wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Nothing but white space: an agent started without an authtoken, or `Bearer ` alone.
    #[error("the token is empty")]
    Empty,
    /// Not a 27-character alphanumeric ID body, `_` and a secret: often a token pasted in
    /// part, or one from another service.
    #[error("the token is not of the form FIRSTPART_SECONDPART")]
    Malformed,
}

impl Store {
    /// Creates a record with a new secret and returns the plaintext token, which exists only
    /// here; the store keeps its hash.
    pub(crate) async fn create_with_secret<R: Record>(
        &self,
        new: R::New,
    ) -> Result<(R, Secret), StoreError> {
        let record = R::build(ResourceId::generate(R::TABLE.prefix), now_rfc3339(), new);
        let issued = issue(record.id());
        self.insert(&record, &[("secret_hash", Cell::Blob(issued.hash))])
            .await?;
        Ok((record, issued.token))
    }

    /// The record a token belongs to, its secret compared in constant time. `Ok(Err(_))` when
    /// the token is not even shaped like one; `Ok(Ok(None))` when it is shaped right but
    /// unknown or wrong.
    pub(crate) async fn verify_secret<R: Record>(
        &self,
        token: &str,
    ) -> Result<Result<Option<R>, TokenError>, StoreError> {
        let (body, secret) = match split(token) {
            Ok(parts) => parts,
            Err(e) => return Ok(Err(e)),
        };
        let sql = format!(
            "SELECT secret_hash, {} FROM {} WHERE id = $1",
            R::TABLE.columns.join(", "),
            R::TABLE.name
        );
        let row = sqlx::query(&sql)
            .bind(format!("{}_{body}", R::TABLE.prefix))
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            // Hash anyway so that unknown IDs cost the same time as wrong secrets.
            let _ = matches(secret, &[0u8; 32]);
            return Ok(Ok(None));
        };
        let stored: Vec<u8> = row.try_get("secret_hash")?;
        if !matches(secret, &stored) {
            return Ok(Ok(None));
        }
        Ok(Ok(Some(record::decode(&row)?)))
    }
}

fn issue(id: &ResourceId) -> IssuedSecret {
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
fn split(token: &str) -> Result<(&str, &str), TokenError> {
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

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn matches(secret: &str, stored: &[u8]) -> bool {
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
