//! Bind tokens let an agent take back its tunnel IDs after a reconnect, even to a restarted
//! edge: the token is an HMAC of the tunnel ID under a node secret kept in the store, so only
//! the agent that was given the ID can present it again.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ferry_types::TunnelId;
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Clone)]
pub struct BindSigner {
    key: Vec<u8>,
}

impl BindSigner {
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    #[allow(clippy::expect_used, reason = "HMAC accepts keys of any length")]
    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.key).expect("hmac takes any key length")
    }

    pub fn sign(&self, tunnel_id: &TunnelId) -> String {
        let mut mac = self.mac();
        mac.update(tunnel_id.as_str().as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }

    /// Constant-time check of a token the agent sent back.
    pub fn verify(&self, tunnel_id: &TunnelId, token: &str) -> bool {
        let Ok(raw) = STANDARD.decode(token.trim()) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(tunnel_id.as_str().as_bytes());
        mac.verify_slice(&raw).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_for_their_id_and_key() {
        let (a, b) = (
            TunnelId::parse("tn_a").unwrap(),
            TunnelId::parse("tn_b").unwrap(),
        );
        let s = BindSigner::new(b"node secret".to_vec());
        let t = s.sign(&a);
        assert!(s.verify(&a, &t));
        assert!(!s.verify(&b, &t));
        assert!(!BindSigner::new(b"other".to_vec()).verify(&a, &t));
        assert!(!s.verify(&a, "not base64!"));
    }
}
