//! Standard Webhooks signatures: `whsec_` secrets, and `v1,<base64 HMAC-SHA256>` of
//! `"<webhook-id>.<webhook-timestamp>.<body>"`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of every secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A new secret: `whsec_` and the base64 of 32 random bytes from the OS.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The `v1,<signature>` of one message with one secret.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = STANDARD.decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret)).unwrap_or_default();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Whether `signature` is the lowercase or uppercase hex HMAC-SHA256 of `body` (of
/// `<timestamp>:<body>` when the sender sent a timestamp) under `secret`: Grafana's
/// `X-Grafana-Alerting-Signature`. Checked in constant time.
pub fn hmac_sha256_hex_matches(secret: &str, timestamp: Option<&str>, body: &[u8], signature: &str) -> bool {
    let Some(given) = decode_hex(signature.trim()) else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    if let Some(timestamp) = timestamp {
        mac.update(timestamp.as_bytes());
        mac.update(b":");
    }
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grafana_signature_matches_its_body_and_secret_only() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"sixteen-chars-secret").unwrap();
        mac.update(b"{\"a\":1}");
        let hex = crate::hex::lower(&mac.finalize().into_bytes());
        assert!(hmac_sha256_hex_matches("sixteen-chars-secret", None, b"{\"a\":1}", &hex));
        assert!(hmac_sha256_hex_matches("sixteen-chars-secret", None, b"{\"a\":1}", &hex.to_uppercase()));
        assert!(!hmac_sha256_hex_matches("sixteen-chars-secret", None, b"{\"a\":2}", &hex));
        assert!(!hmac_sha256_hex_matches("another-secret-xxxx", None, b"{\"a\":1}", &hex));
        assert!(!hmac_sha256_hex_matches("sixteen-chars-secret", Some("1700000000"), b"{\"a\":1}", &hex));
        assert!(!hmac_sha256_hex_matches("sixteen-chars-secret", None, b"{\"a\":1}", "zz"));
    }

    #[test]
    fn the_standard_webhooks_reference_vector_signs_as_the_spec_says() {
        // The example of the Standard Webhooks specification (and its reference libraries).
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_prefixed_base64_of_thirty_two_random_bytes() {
        let a = new_secret();
        assert!(a.starts_with(SECRET_PREFIX));
        assert_eq!(STANDARD.decode(&a[SECRET_PREFIX.len()..]).unwrap().len(), 32);
        assert_ne!(a, new_secret());
    }
}
