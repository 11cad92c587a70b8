//! Private keys at rest. A certificate's key must be readable to be served, so unlike a token
//! it cannot be kept as a hash; it is kept encrypted (AES-256-GCM) under a key that is not in
//! the database, so a copy of the database (a backup, a dump) does not give away the keys.
//! The sealing key lives in the data folder (`secret.key`, mode 0600) or comes from
//! `FERRY_SECRET_KEY`, which nodes sharing one PostgreSQL database must all be given.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};

use crate::record::{Cell, Column, Fields};
use crate::{Store, StoreError};

/// What a sealed value starts with; the version lets a later format sit beside this one.
const PREFIX: &str = "sealed-v1:";

/// The file in the data folder that holds the sealing key as 64 hex digits.
pub const KEY_FILE: &str = "secret.key";

/// Why the sealing key cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum SealingKeyError {
    /// The key file or `FERRY_SECRET_KEY` is not 64 hex digits.
    #[error("{origin}: expected 64 hexadecimal digits (32 bytes), such as `openssl rand -hex 32` prints")]
    Malformed {
        /// The file's path, or `FERRY_SECRET_KEY`.
        origin: String,
    },
    /// The key file cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The key file.
        path: PathBuf,
        /// The system's reason.
        #[source]
        source: std::io::Error,
    },
}

/// The key private keys are sealed with. Cheap to clone.
#[derive(Clone)]
pub struct SealingKey(Arc<LessSafeKey>);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(..)")
    }
}

impl SealingKey {
    /// A key from 64 hex digits; `origin` names where they came from for the error.
    pub fn from_hex(hex: &str, origin: &str) -> Result<Self, SealingKeyError> {
        let malformed = || SealingKeyError::Malformed {
            origin: origin.to_string(),
        };
        let hex = hex.trim();
        if hex.len() != 64 || !hex.is_ascii() {
            return Err(malformed());
        }
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| malformed())?;
        }
        Ok(Self::from_bytes(&bytes))
    }

    fn from_bytes(bytes: &[u8; 32]) -> Self {
        // A 32-byte key is always valid for AES-256-GCM.
        let unbound = match UnboundKey::new(&AES_256_GCM, bytes) {
            Ok(k) => k,
            Err(_) => unreachable_key(),
        };
        Self(Arc::new(LessSafeKey::new(unbound)))
    }

    /// A new random key, for tests and for a data folder's first start.
    pub fn generate() -> Self {
        Self::from_bytes(&rand::random())
    }

    /// `FERRY_SECRET_KEY` when set (`env` is its value), else the key file in `dir`, created
    /// with a new random key on first start.
    pub fn load(env: Option<&str>, dir: &Path) -> Result<Self, SealingKeyError> {
        if let Some(hex) = env {
            return Self::from_hex(hex, "FERRY_SECRET_KEY");
        }
        let path = dir.join(KEY_FILE);
        let io = |source| SealingKeyError::Io {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => return Self::from_hex(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        let bytes: [u8; 32] = rand::random();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        // create_new: two processes starting on one folder cannot each write their own key.
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path);
        match created {
            Ok(mut f) => {
                f.write_all(format!("{hex}\n").as_bytes())
                    .and_then(|()| f.sync_all())
                    .map_err(io)?;
                Ok(Self::from_bytes(&bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(&path).map_err(io)?;
                Self::from_hex(&text, &path.display().to_string())
            }
            Err(e) => Err(io(e)),
        }
    }

    fn seal(&self, plain: &str) -> String {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let mut data = plain.as_bytes().to_vec();
        // Sealing in place cannot fail for inputs under AES-GCM's 64 GiB limit.
        if self
            .0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::empty(),
                &mut data,
            )
            .is_err()
        {
            data.clear();
        }
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&data);
        format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(out)
        )
    }

    fn open(&self, sealed: &str) -> Option<String> {
        let body = sealed.strip_prefix(PREFIX)?;
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let mut data = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).ok()?;
        let plain = self.0.open_in_place(nonce, Aad::empty(), &mut data).ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

fn unreachable_key() -> ! {
    panic!("AES-256-GCM refused a 32-byte key")
}

/// A private key as stored: sealed under the store's [`SealingKey`]. Only
/// [`Store::unseal`] reads it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Sealed(String);

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealed(..)")
    }
}

impl Sealed {
    pub(crate) fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub(crate) fn stored(&self) -> &str {
        &self.0
    }

    /// True when the stored text is a plaintext PEM from a build that did not seal keys.
    fn is_plaintext(&self) -> bool {
        !self.0.starts_with(PREFIX)
    }
}

impl Column for Sealed {
    fn cell(&self) -> Cell {
        Cell::Text(self.0.clone())
    }

    fn read(fields: &Fields<'_>, column: &str) -> Result<Self, StoreError> {
        String::read(fields, column).map(Sealed)
    }
}

impl Store {
    /// The store, sealing and unsealing private keys with `key` from now on.
    pub fn with_sealing_key(mut self, key: SealingKey) -> Self {
        self.sealing = Some(key);
        self
    }

    fn sealing_key(&self) -> Result<&SealingKey, StoreError> {
        self.sealing.as_ref().ok_or(StoreError::NoSealingKey)
    }

    /// `plain` sealed for storing.
    pub fn seal(&self, plain: &str) -> Result<Sealed, StoreError> {
        Ok(Sealed(self.sealing_key()?.seal(plain)))
    }

    /// The plaintext of `sealed`, kept by the row `id`. A key that does not open it (another
    /// data folder's `secret.key`, a changed `FERRY_SECRET_KEY`) is
    /// [`StoreError::Unsealing`], naming the row.
    pub fn unseal(&self, id: &str, sealed: &Sealed) -> Result<String, StoreError> {
        if sealed.is_plaintext() {
            return Ok(sealed.0.clone());
        }
        self.sealing_key()?
            .open(&sealed.0)
            .ok_or_else(|| StoreError::Unsealing { id: id.to_string() })
    }

    /// Seals the private keys an earlier build stored in plaintext; returns how many. Run at
    /// start-up, once the sealing key is set.
    pub async fn seal_plaintext_keys(&self) -> Result<usize, StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, private_key_pem FROM tls_certificates")
                .fetch_all(&self.pool)
                .await?;
        let mut sealed = 0;
        for (id, pem) in rows {
            if !Sealed(pem.clone()).is_plaintext() {
                continue;
            }
            let s = self.seal(&pem)?;
            sqlx::query("UPDATE tls_certificates SET private_key_pem = $1 WHERE id = $2 AND private_key_pem = $3")
                .bind(s.0)
                .bind(id)
                .bind(pem)
                .execute(&self.pool)
                .await?;
            sealed += 1;
        }
        Ok(sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_with_its_key_only() {
        let key = SealingKey::generate();
        let sealed = key.seal("-----BEGIN PRIVATE KEY-----\nabc\n");
        assert!(sealed.starts_with(PREFIX));
        assert!(!sealed.contains("abc"));
        assert_eq!(
            key.open(&sealed).as_deref(),
            Some("-----BEGIN PRIVATE KEY-----\nabc\n")
        );
        assert_eq!(SealingKey::generate().open(&sealed), None);
        // One bit of the ciphertext flipped: the tag no longer matches.
        let body = sealed.strip_prefix(PREFIX).unwrap();
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        bytes[NONCE_LEN] ^= 1;
        let tampered = format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        );
        assert_eq!(key.open(&tampered), None);
        assert_eq!(key.open("sealed-v1:"), None);
        assert_eq!(key.open("sealed-v1:!!"), None);
    }

    #[test]
    fn the_key_file_is_made_once_and_read_back() {
        let dir = crate::testing::ScratchDir::new();
        let a = SealingKey::load(None, &dir.path).unwrap();
        let b = SealingKey::load(None, &dir.path).unwrap();
        assert_eq!(b.open(&a.seal("x")).as_deref(), Some("x"));
        let mode = std::fs::metadata(dir.path.join(KEY_FILE))
            .unwrap()
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
    }

    #[test]
    fn a_malformed_key_names_where_it_came_from() {
        let e = SealingKey::load(Some("abc"), Path::new("/nonexistent")).unwrap_err();
        assert!(e.to_string().starts_with("FERRY_SECRET_KEY:"), "{e}");
        let dir = crate::testing::ScratchDir::new();
        std::fs::write(dir.path.join(KEY_FILE), "zz".repeat(32)).unwrap();
        let e = SealingKey::load(None, &dir.path).unwrap_err();
        assert!(e.to_string().contains("secret.key"), "{e}");
        let hex = "0f".repeat(32);
        assert!(SealingKey::load(Some(&hex), Path::new("/nonexistent")).is_ok());
    }

    #[tokio::test]
    async fn keys_are_stored_sealed_and_plaintext_ones_are_sealed_at_start() {
        let (_dir, stores) = crate::testing::both().await;
        for store in stores {
            let pem = "-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n";
            let cert = store
                .create::<crate::TlsCertificate>(crate::NewTlsCertificate {
                    private_key_pem: store.seal(pem).unwrap(),
                    parsed: serde_json::json!({}),
                    ..Default::default()
                })
                .await
                .unwrap();
            let raw: String =
                sqlx::query_scalar("SELECT private_key_pem FROM tls_certificates WHERE id = $1")
                    .bind(cert.id.to_string())
                    .fetch_one(&store.pool)
                    .await
                    .unwrap();
            assert!(!raw.contains("secret"), "{raw}");
            let read = store
                .get::<crate::TlsCertificate>(cert.id.as_str())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(store.unseal("x", &read.private_key_pem).unwrap(), pem);

            sqlx::query("UPDATE tls_certificates SET private_key_pem = $1")
                .bind(pem)
                .execute(&store.pool)
                .await
                .unwrap();
            assert_eq!(store.seal_plaintext_keys().await.unwrap(), 1);
            assert_eq!(store.seal_plaintext_keys().await.unwrap(), 0);
            let read = store
                .get::<crate::TlsCertificate>(cert.id.as_str())
                .await
                .unwrap()
                .unwrap();
            assert!(!read.private_key_pem.is_plaintext());
            assert_eq!(store.unseal("x", &read.private_key_pem).unwrap(), pem);
            let other = store.clone().with_sealing_key(SealingKey::generate());
            assert!(matches!(
                other.unseal(cert.id.as_str(), &read.private_key_pem),
                Err(StoreError::Unsealing { .. })
            ));
        }
    }
}
