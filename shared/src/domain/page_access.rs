//! Protected pages: the rules of a page's password (8–128 characters, kept only as an
//! Argon2id hash in the PHC string format) and of the sign-in limit. The cookie and the
//! access token that prove a reader may read the page are signed by the sealer
//! (`outbound::sealing`), which holds the key.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use super::Invalid;

/// Shortest password.
pub const PASSWORD_MIN: usize = 8;
/// Longest password.
pub const PASSWORD_MAX: usize = 128;
/// Wrong passwords one address may try on one page within [`SIGN_IN_WINDOW_SECS`].
pub const SIGN_IN_TRIES: u32 = 10;
/// The window of the sign-in limit, from the first wrong try.
pub const SIGN_IN_WINDOW_SECS: i64 = 15 * 60;
/// How long a reader stays signed in.
pub const SESSION_SECS: i64 = 30 * 24 * 3600;
/// The name of the cookie that proves a reader signed in (one per page and path).
pub const COOKIE: &str = "livestatus_page";

/// A page password as set through the API, not yet hashed.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

impl Password {
    /// A password of 8–128 characters, any of them (spaces too: pass phrases welcome),
    /// but no control characters, which no form can type.
    pub fn parse(field: &str, raw: String) -> Result<Self, Invalid> {
        let chars = raw.chars().count();
        if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&chars) {
            return Err(Invalid::field(field, format_args!("must be {PASSWORD_MIN} to {PASSWORD_MAX} characters")));
        }
        if raw.chars().any(char::is_control) {
            return Err(Invalid::field(field, "must not contain control characters"));
        }
        Ok(Self(raw))
    }

    /// The password's Argon2id hash with a fresh salt, as a PHC string
    /// (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`). A new salt every time, so setting
    /// the same password again still signs everyone out.
    pub fn hash(&self) -> String {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).expect("the system's random source");
        let salt = SaltString::encode_b64(&salt).expect("16 bytes make a salt");
        hasher().hash_password(self.0.as_bytes(), &salt).expect("Argon2id takes any password").to_string()
    }
}

/// OWASP's first choice for Argon2id: 19 MiB, two passes, one lane (some 20 ms on a
/// Lambda core; a guesser pays the same per try).
fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(19 * 1024, 2, 1, None).expect("valid parameters"))
}

/// Whether `attempt` is the password hashed in `phc`; `false` for a malformed hash.
/// The parameters are the hash's own, so hashes made with other costs still verify.
pub fn verify(phc: &str, attempt: &str) -> bool {
    if attempt.len() > PASSWORD_MAX * 4 {
        return false;
    }
    PasswordHash::new(phc).is_ok_and(|hash| hasher().verify_password(attempt.as_bytes(), &hash).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_stored_only_as_an_argon2id_hash_that_verifies_it_alone() {
        let password = Password::parse("password", "correct horse".into()).unwrap();
        let hash = password.hash();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert!(verify(&hash, "correct horse"));
        assert!(!verify(&hash, "correct horsE"));
        assert!(!verify("not a hash", "correct horse"));
        assert_ne!(hash, password.hash(), "a fresh salt each time");
    }

    #[test]
    fn a_password_has_8_to_128_characters_and_no_control_characters() {
        assert!(Password::parse("password", "short".into()).is_err());
        assert!(Password::parse("password", "x".repeat(129)).is_err());
        assert!(Password::parse("password", "tab\there!".into()).is_err());
        assert!(Password::parse("password", "ünïcødé!".into()).is_ok());
        assert!(Password::parse("password", "x".repeat(128)).is_ok());
    }
}
