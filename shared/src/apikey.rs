//! API key material: generation from the OS CSPRNG, SHA-256 hashing, display prefix,
//! and reading the key from request headers.

use std::fmt;

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// Every key starts with this.
pub const KEY_PREFIX: &str = "ls_live_";
/// Base62 characters after the prefix.
pub const KEY_RANDOM_LEN: usize = 32;
/// Characters kept for display (`ls_live_xxxx`).
pub const DISPLAY_PREFIX_LEN: usize = 12;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A plaintext key. It is shown once at creation; `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct PlaintextKey(String);

impl fmt::Debug for PlaintextKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PlaintextKey({}…)", self.prefix())
    }
}

impl PlaintextKey {
    /// A new key: `ls_live_` and 32 base62 characters drawn from the OS CSPRNG, without
    /// modulo bias (bytes ≥ 248 are redrawn).
    pub fn generate() -> Self {
        let mut key = String::with_capacity(KEY_PREFIX.len() + KEY_RANDOM_LEN);
        key.push_str(KEY_PREFIX);
        let mut buf = [0u8; 64];
        while key.len() < KEY_PREFIX.len() + KEY_RANDOM_LEN {
            getrandom::fill(&mut buf).expect("the OS random number generator failed");
            for &b in &buf {
                if b < 248 && key.len() < KEY_PREFIX.len() + KEY_RANDOM_LEN {
                    key.push(BASE62[usize::from(b % 62)] as char);
                }
            }
        }
        Self(key)
    }

    /// Parses a presented key; anything not shaped like a key is `invalid_api_key`.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let rest = raw.strip_prefix(KEY_PREFIX).ok_or(ApiError::InvalidApiKey)?;
        if rest.len() != KEY_RANDOM_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ApiError::InvalidApiKey);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The plaintext, for the one response that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Lowercase hex SHA-256 of the key: the only form that is stored.
    pub fn hash(&self) -> KeyHash {
        KeyHash(crate::hex::lower(&Sha256::digest(self.0.as_bytes())))
    }

    /// The display prefix, `ls_live_` and the first four random characters.
    pub fn prefix(&self) -> &str {
        &self.0[..DISPLAY_PREFIX_LEN]
    }
}

/// An alert integration's token: `ls_hook_` and 32 base62 characters from the OS CSPRNG,
/// shown once; only its SHA-256 is stored. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct HookToken(String);

/// Every integration token starts with this.
pub const HOOK_TOKEN_PREFIX: &str = "ls_hook_";

impl fmt::Debug for HookToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HookToken({}…)", self.prefix())
    }
}

impl HookToken {
    /// A new token.
    pub fn generate() -> Self {
        let key = PlaintextKey::generate();
        Self(format!("{HOOK_TOKEN_PREFIX}{}", &key.expose()[KEY_PREFIX.len()..]))
    }

    /// The plaintext, for the one response that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Lowercase hex SHA-256: the only form that is stored.
    pub fn hash(&self) -> String {
        crate::hex::lower(&Sha256::digest(self.0.as_bytes()))
    }

    /// `ls_hook_` and the first four random characters, to tell tokens apart.
    pub fn prefix(&self) -> &str {
        &self.0[..HOOK_TOKEN_PREFIX.len() + 4]
    }

    /// Whether a presented token is the one whose hash is stored (hashes compared, so
    /// the comparison's timing says nothing about the token).
    pub fn matches(presented: &str, stored_hash: &str) -> bool {
        crate::hex::lower(&Sha256::digest(presented.as_bytes())) == stored_hash
    }
}

/// The SHA-256 of a key in lowercase hex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyHash(pub String);

/// Reads the key from `Authorization: Bearer …` (preferred) or `X-API-Key`.
pub fn from_headers(headers: &HeaderMap) -> Result<PlaintextKey, ApiError> {
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ApiError::InvalidApiKey)?.trim();
        let (scheme, token) = value.split_once(' ').ok_or(ApiError::InvalidApiKey)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::InvalidApiKey);
        }
        return PlaintextKey::parse(token.trim());
    }
    if let Some(value) = headers.get("x-api-key") {
        return PlaintextKey::parse(value.to_str().map_err(|_| ApiError::InvalidApiKey)?.trim());
    }
    Err(ApiError::MissingApiKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_documented_shape_and_differ() {
        let a = PlaintextKey::generate();
        let b = PlaintextKey::generate();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 40);
        assert!(PlaintextKey::parse(a.expose()).is_ok());
        assert_eq!(a.prefix().len(), 12);
        assert!(a.expose().starts_with(a.prefix()));
    }

    #[test]
    fn hook_tokens_have_their_own_prefix_and_match_only_their_hash() {
        let token = HookToken::generate();
        assert!(token.expose().starts_with("ls_hook_") && token.expose().len() == 40);
        assert!(HookToken::matches(token.expose(), &token.hash()));
        assert!(!HookToken::matches(HookToken::generate().expose(), &token.hash()));
        assert!(!format!("{token:?}").contains(&token.expose()[12..]));
    }

    #[test]
    fn hash_is_sha256_hex() {
        let k = PlaintextKey::parse("ls_live_abcdefghijklmnopqrstuvwxyz012345").unwrap();
        // echo -n ls_live_abcdefghijklmnopqrstuvwxyz012345 | sha256sum
        assert_eq!(k.hash().0, "549e3e0f0dd7a8fe45a0834ee06e5ea8017da8bc92417464abc7a2ce78b1fc81");
        assert!(!format!("{k:?}").contains("abcdefghijklmnop"));
    }

    #[test]
    fn malformed_keys_are_invalid() {
        for bad in
            ["ls_live_short", "ls_test_abcdefghijklmnopqrstuvwxyz012345", "ls_live_abcdefghijklmnopqrstuvwxyz01234!"]
        {
            assert!(matches!(PlaintextKey::parse(bad), Err(ApiError::InvalidApiKey)));
        }
    }
}
