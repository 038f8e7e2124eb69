//! Secrets at rest: webhook signing secrets are kept sealed with AES-256-GCM under a key
//! that is not in the table (`SECRETS_KEY`: from Secrets Manager on AWS, from a file in
//! the data directory in the local run), so a copy of the table reveals none of them.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// Seals and opens secrets.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

const VERSION: &str = "v1:";

impl Sealer {
    /// A sealer whose key is the SHA-256 of `material` (any string with enough entropy).
    pub fn new(material: &str) -> Self {
        let key = Sha256::digest(material.as_bytes());
        Self { cipher: Aes256Gcm::new_from_slice(&key).expect("a 32-byte key") }
    }

    /// From `SECRETS_KEY`; without it, a random key that lives as long as the process
    /// (secrets sealed with it cannot be opened after a restart, so the local run and
    /// the template always set one).
    pub fn from_env() -> Self {
        match std::env::var("SECRETS_KEY") {
            Ok(material) if !material.is_empty() => Self::new(&material),
            _ => {
                tracing::warn!(
                    "SECRETS_KEY is not set: webhook secrets are sealed with a key that dies with this process"
                );
                Self::new(&crate::notify::signing::new_secret())
            }
        }
    }

    /// Seals a secret: `v1:` and the base64 of a random nonce and the ciphertext.
    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).expect("the OS random source works");
        let sealed = self.cipher.encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes()).expect("AES-GCM seals");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        format!("{VERSION}{}", STANDARD.encode(out))
    }

    /// Opens a sealed secret; an error if it was sealed under another key or altered.
    pub fn open(&self, sealed: &str) -> Result<String, ApiError> {
        let raw = sealed
            .strip_prefix(VERSION)
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|r| r.len() > 12)
            .ok_or_else(|| ApiError::internal("a sealed secret is malformed"))?;
        let (nonce, body) = raw.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| ApiError::internal("a sealed secret does not open with SECRETS_KEY"))?;
        String::from_utf8(plain).map_err(ApiError::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_never_shows_the_plaintext() {
        let sealer = Sealer::new("key one");
        let sealed = sealer.seal("whsec_abc");
        assert!(!sealed.contains("whsec_abc"));
        assert_ne!(sealed, sealer.seal("whsec_abc"), "a fresh nonce each time");
        assert_eq!(sealer.open(&sealed).unwrap(), "whsec_abc");
        assert!(Sealer::new("key two").open(&sealed).is_err());
    }
}
