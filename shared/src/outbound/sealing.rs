//! Secrets at rest: webhook signing secrets are kept sealed with AES-256-GCM under a key
//! that is not in the table (`SECRETS_KEY`: from Secrets Manager on AWS, from a file in
//! the data directory in the local run), so a copy of the table reveals none of them.
//! A key of its own (`LINK_TOKEN_KEY`; derived from `SECRETS_KEY` where it is unset)
//! signs the subscribers' confirm and unsubscribe links, so those links need nothing
//! stored to be checked, and the function that checks them holds no sealing key.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Seals and opens secrets. Cheap to clone: the state holding it is cloned per request.
#[derive(Clone)]
pub struct Sealer(std::sync::Arc<Keys>);

struct Keys {
    cipher: Aes256Gcm,
    token_key: [u8; 32],
}

/// What a subscriber's link may do; part of what its token signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenPurpose {
    /// Confirm a pending subscription (double opt-in).
    Confirm = 1,
    /// Unsubscribe.
    Unsubscribe = 2,
}

/// Bytes of a token: purpose, subscriber id, issue time (unix seconds), MAC.
const TOKEN_LEN: usize = 1 + 16 + 8 + 16;

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

const VERSION: &str = "v1:";
/// Sealed for one owner: the owner is the associated data.
const BOUND: &str = "v2:";

/// The record a sealed secret belongs to. Sealed for one owner, a secret opens only for
/// that owner (it is AES-GCM's associated data), so a sealed value copied into another
/// row, or another organization's, opens nowhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// An organization's webhook.
    Webhook {
        /// The organization.
        org: Uuid,
        /// The webhook.
        id: Uuid,
    },
    /// A webhook subscriber.
    Subscriber {
        /// The organization.
        org: Uuid,
        /// The subscriber.
        id: Uuid,
    },
    /// An alert integration (Grafana's signing secret).
    Integration {
        /// The organization.
        org: Uuid,
        /// The integration.
        id: Uuid,
    },
}

impl Owner {
    fn associated_data(self) -> Vec<u8> {
        let (kind, org, id): (&[u8], Uuid, Uuid) = match self {
            Owner::Webhook { org, id } => (b"webhook", org, id),
            Owner::Subscriber { org, id } => (b"subscriber", org, id),
            Owner::Integration { org, id } => (b"integration", org, id),
        };
        [kind, b"\0", org.as_bytes(), id.as_bytes()].concat()
    }
}

impl Sealer {
    /// A sealer whose key is the SHA-256 of `material` (any string with enough entropy),
    /// and whose link tokens use a key derived from the same material.
    pub fn new(material: &str) -> Self {
        Self::with_link_key(material, None)
    }

    /// A sealer whose link tokens use a key of their own (`link_material`), so a function
    /// that only checks links (the keyless status function) never holds the key that
    /// opens webhook secrets; `None`: a key derived from `material`, as [`Sealer::new`].
    pub fn with_link_key(material: &str, link_material: Option<&str>) -> Self {
        let key = Sha256::digest(material.as_bytes());
        // A separate key for link tokens, so neither use can be turned against the other.
        let token_key = Sha256::new()
            .chain_update(b"livestatus link tokens v1\0")
            .chain_update(link_material.unwrap_or(material))
            .finalize();
        Self(std::sync::Arc::new(Keys {
            cipher: Aes256Gcm::new_from_slice(&key).expect("a 32-byte key"),
            token_key: token_key.into(),
        }))
    }

    /// From `SECRETS_KEY` (sealing) and `LINK_TOKEN_KEY` (link tokens; derived from
    /// `SECRETS_KEY` when unset, as in the local run). A missing key is a random one that
    /// lives as long as the process: what is sealed or signed with it means nothing after
    /// a restart, so the local run and the template always set what a function uses (the
    /// status function gets only `LINK_TOKEN_KEY`).
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let (secrets, links) = (var("SECRETS_KEY"), var("LINK_TOKEN_KEY"));
        if secrets.is_none() && links.is_none() {
            tracing::warn!("neither SECRETS_KEY nor LINK_TOKEN_KEY is set: secrets and links die with this process");
        }
        let secrets = secrets.unwrap_or_else(crate::outbound::signing::new_secret);
        Self::with_link_key(&secrets, links.as_deref())
    }

    /// Seals a secret: `v1:` and the base64 of a random nonce and the ciphertext.
    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).expect("the OS random source works");
        let sealed = self.0.cipher.encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes()).expect("AES-GCM seals");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        format!("{VERSION}{}", STANDARD.encode(out))
    }

    /// Seals a secret for its owner: `v2:` and the base64 of a random nonce and the
    /// ciphertext, whose tag covers the owner.
    pub fn seal_for(&self, plaintext: &str, owner: Owner) -> String {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).expect("the OS random source works");
        let aad = owner.associated_data();
        let payload = Payload { msg: plaintext.as_bytes(), aad: &aad };
        let sealed = self.0.cipher.encrypt(Nonce::from_slice(&nonce), payload).expect("AES-GCM seals");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        format!("{BOUND}{}", STANDARD.encode(out))
    }

    /// Opens a sealed secret; an error if it was sealed under another key or altered.
    pub fn open(&self, sealed: &str) -> Result<String, Unsealable> {
        self.open_with(sealed, VERSION, &[])
    }

    /// Opens a secret sealed for `owner`; one sealed before secrets were bound to their
    /// owner (`v1:`) still opens. An error if it was sealed for another owner, under
    /// another key, or altered.
    pub fn open_for(&self, sealed: &str, owner: Owner) -> Result<String, Unsealable> {
        if sealed.starts_with(VERSION) {
            return self.open(sealed);
        }
        self.open_with(sealed, BOUND, &owner.associated_data())
    }

    fn open_with(&self, sealed: &str, version: &str, aad: &[u8]) -> Result<String, Unsealable> {
        let raw = sealed
            .strip_prefix(version)
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|r| r.len() > 12)
            .ok_or(Unsealable("is malformed"))?;
        let (nonce, body) = raw.split_at(12);
        let plain = self
            .0
            .cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad })
            .map_err(|_| Unsealable("does not open with SECRETS_KEY for its owner"))?;
        String::from_utf8(plain).map_err(|_| Unsealable("is not UTF-8 text"))
    }
}

impl Sealer {
    fn token_mac(&self, signed: &[u8], org: Uuid) -> [u8; 16] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0.token_key).expect("HMAC takes keys of any length");
        mac.update(signed);
        mac.update(org.as_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    /// A link token for one subscriber of `org`, for one purpose, issued at `issued`
    /// (unix seconds): 55 URL-safe characters.
    pub fn token(&self, purpose: TokenPurpose, org: Uuid, subscriber: Uuid, issued: i64) -> String {
        let mut bytes = Vec::with_capacity(TOKEN_LEN);
        bytes.push(purpose as u8);
        bytes.extend_from_slice(subscriber.as_bytes());
        bytes.extend_from_slice(&issued.to_be_bytes());
        let mac = self.token_mac(&bytes, org);
        bytes.extend_from_slice(&mac);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The subscriber and issue time of a token made by [`Sealer::token`] for this
    /// purpose and organization; `None` for anything else (altered, another purpose,
    /// another organization, another key).
    pub fn verify_token(&self, purpose: TokenPurpose, org: Uuid, raw: &str) -> Option<(Uuid, i64)> {
        let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).ok().filter(|b| b.len() == TOKEN_LEN)?;
        let (signed, mac) = bytes.split_at(TOKEN_LEN - 16);
        let mut check =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0.token_key).expect("HMAC takes keys of any length");
        check.update(signed);
        check.update(org.as_bytes());
        // Constant-time comparison of the truncated MAC.
        check.verify_truncated_left(mac).ok()?;
        if signed[0] != purpose as u8 {
            return None;
        }
        let subscriber = Uuid::from_slice(&signed[1..17]).ok()?;
        let issued = i64::from_be_bytes(signed[17..25].try_into().ok()?);
        Some((subscriber, issued))
    }
}

impl Sealer {
    fn page_mac(&self, purpose: &[u8], page: Uuid, parts: &[&[u8]]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0.token_key).expect("HMAC takes keys of any length");
        mac.update(purpose);
        mac.update(b"\0");
        mac.update(page.as_bytes());
        for part in parts {
            // Length-prefixed, so no two lists of parts sign the same bytes.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac
    }

    /// A protected page's access token for its machine routes (`?token=`): derived from
    /// the page and its `nonce` under the link key, so nothing secret is stored, and a new
    /// nonce (a rotation) makes a new token and voids the old. 32 URL-safe characters.
    pub fn page_access_token(&self, page: Uuid, nonce: &str) -> String {
        let mac = self.page_mac(b"livestatus page access token v1", page, &[nonce.as_bytes()]).finalize();
        URL_SAFE_NO_PAD.encode(&mac.into_bytes()[..24])
    }

    /// Whether `raw` is the page's access token (constant time).
    pub fn verify_page_access_token(&self, page: Uuid, nonce: &str, raw: &str) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(raw.trim()) else { return false };
        bytes.len() == 24
            && self
                .page_mac(b"livestatus page access token v1", page, &[nonce.as_bytes()])
                .verify_truncated_left(&bytes)
                .is_ok()
    }

    /// The value of a signed-in reader's cookie for a protected page: its expiry (unix
    /// seconds) and a MAC over the page, the password's hash and the expiry. A new
    /// password (a new hash: a new salt) voids every cookie of the old one.
    pub fn page_cookie(&self, page: Uuid, password_hash: &str, expires: i64) -> String {
        let mac = self
            .page_mac(b"livestatus page cookie v1", page, &[password_hash.as_bytes(), &expires.to_be_bytes()])
            .finalize();
        format!("{expires}.{}", URL_SAFE_NO_PAD.encode(&mac.into_bytes()[..24]))
    }

    /// Whether `raw` is a cookie of [`Sealer::page_cookie`] for this page and password
    /// that has not expired at `now`.
    pub fn verify_page_cookie(&self, page: Uuid, password_hash: &str, raw: &str, now: i64) -> bool {
        let Some((expires, mac)) = raw.split_once('.') else { return false };
        let (Ok(expires), Ok(mac)) = (expires.parse::<i64>(), URL_SAFE_NO_PAD.decode(mac)) else { return false };
        expires > now
            && mac.len() == 24
            && self
                .page_mac(b"livestatus page cookie v1", page, &[password_hash.as_bytes(), &expires.to_be_bytes()])
                .verify_truncated_left(&mac)
                .is_ok()
    }
}

/// A sealed secret that does not open: malformed, altered, or sealed under another key or
/// for another owner. Always an internal fault, never the caller's.
#[derive(Clone, Copy, Debug, thiserror::Error)]
#[error("a sealed secret {0}")]
pub struct Unsealable(&'static str);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_cookie_holds_for_its_page_and_password_until_it_expires() {
        let sealer = Sealer::new("key one");
        let page = Uuid::now_v7();
        let cookie = sealer.page_cookie(page, "$argon2id$one", 2_000);
        assert!(sealer.verify_page_cookie(page, "$argon2id$one", &cookie, 1_999));
        assert!(!sealer.verify_page_cookie(page, "$argon2id$one", &cookie, 2_000), "expired");
        assert!(!sealer.verify_page_cookie(page, "$argon2id$two", &cookie, 1_000), "a new password");
        assert!(!sealer.verify_page_cookie(Uuid::now_v7(), "$argon2id$one", &cookie, 1_000), "another page");
        assert!(!Sealer::new("key two").verify_page_cookie(page, "$argon2id$one", &cookie, 1_000), "another key");
        let later = cookie.replacen("2000.", "9000.", 1);
        assert!(!sealer.verify_page_cookie(page, "$argon2id$one", &later, 1_000), "a longer life is forged");
    }

    #[test]
    fn a_page_access_token_changes_with_its_nonce() {
        let sealer = Sealer::new("key one");
        let page = Uuid::now_v7();
        let token = sealer.page_access_token(page, "");
        assert_eq!(token.len(), 32);
        assert!(sealer.verify_page_access_token(page, "", &token));
        assert!(!sealer.verify_page_access_token(page, "rotated", &token));
        assert!(!sealer.verify_page_access_token(Uuid::now_v7(), "", &token));
        assert!(!sealer.verify_page_access_token(page, "", "x"));
    }

    #[test]
    fn a_link_token_names_its_subscriber_and_nothing_else_verifies() {
        let sealer = Sealer::new("key one");
        let (org, sub) = (Uuid::now_v7(), Uuid::now_v7());
        let token = sealer.token(TokenPurpose::Unsubscribe, org, sub, 1_700_000_000);
        assert_eq!(token.len(), 55);
        assert_eq!(sealer.verify_token(TokenPurpose::Unsubscribe, org, &token), Some((sub, 1_700_000_000)));
        assert_eq!(sealer.verify_token(TokenPurpose::Confirm, org, &token), None, "another purpose");
        assert_eq!(sealer.verify_token(TokenPurpose::Unsubscribe, Uuid::now_v7(), &token), None, "another org");
        assert_eq!(Sealer::new("key two").verify_token(TokenPurpose::Unsubscribe, org, &token), None);
        let mut altered = URL_SAFE_NO_PAD.decode(&token).unwrap();
        altered[5] ^= 1;
        assert_eq!(sealer.verify_token(TokenPurpose::Unsubscribe, org, &URL_SAFE_NO_PAD.encode(altered)), None);
        assert_eq!(sealer.verify_token(TokenPurpose::Unsubscribe, org, "not a token"), None);
    }

    #[test]
    fn links_signed_under_their_own_key_verify_without_the_sealing_key() {
        let (org, sub) = (Uuid::now_v7(), Uuid::now_v7());
        let notifier = Sealer::with_link_key("sealing key", Some("link key"));
        let status = Sealer::with_link_key("another or no sealing key", Some("link key"));
        let token = notifier.token(TokenPurpose::Unsubscribe, org, sub, 1_700_000_000);
        assert_eq!(status.verify_token(TokenPurpose::Unsubscribe, org, &token), Some((sub, 1_700_000_000)));
        assert_eq!(Sealer::new("sealing key").verify_token(TokenPurpose::Unsubscribe, org, &token), None);
        assert!(status.open(&notifier.seal("whsec_x")).is_err(), "the link key opens no secret");
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_never_shows_the_plaintext() {
        let sealer = Sealer::new("key one");
        let sealed = sealer.seal("whsec_abc");
        assert!(!sealed.contains("whsec_abc"));
        assert_ne!(sealed, sealer.seal("whsec_abc"), "a fresh nonce each time");
        assert_eq!(sealer.open(&sealed).unwrap(), "whsec_abc");
        assert!(Sealer::new("key two").open(&sealed).is_err());
    }

    #[test]
    fn a_secret_sealed_for_one_record_opens_for_that_record_only_and_old_ones_still_open() {
        let sealer = Sealer::new("key one");
        let (org, id) = (Uuid::now_v7(), Uuid::now_v7());
        let owner = Owner::Webhook { org, id };
        let sealed = sealer.seal_for("whsec_abc", owner);
        assert!(sealed.starts_with("v2:") && !sealed.contains("whsec_abc"));
        assert_eq!(sealer.open_for(&sealed, owner).unwrap(), "whsec_abc");
        for other in [
            Owner::Webhook { org, id: Uuid::now_v7() },
            Owner::Webhook { org: Uuid::now_v7(), id },
            Owner::Subscriber { org, id },
        ] {
            assert!(sealer.open_for(&sealed, other).is_err(), "{other:?}");
        }
        assert!(sealer.open(&sealed).is_err(), "a bound secret does not open unbound");
        assert!(Sealer::new("key two").open_for(&sealed, owner).is_err());
        // Sealed before secrets were bound: opens for whoever holds it, as before.
        assert_eq!(sealer.open_for(&sealer.seal("whsec_old"), owner).unwrap(), "whsec_old");
    }
}
