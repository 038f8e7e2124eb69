//! Custom domains: a page served at the root of `status.<company>`. The rules: what a
//! domain may be ([`Hostname`]), where it stands ([`DomainStatus`]), the DNS record that
//! proves it is the customer's ([`DomainVerification`]), and the URL of a page at its
//! domain ([`page_root`]).

use serde::{Deserialize, Serialize};

use super::Invalid;

/// The most a domain may be, in characters (RFC 1035).
pub const DOMAIN_MAX: usize = 253;
/// The label the TXT proof is put under: `_livestatus.<domain>`.
pub const TXT_LABEL: &str = "_livestatus";
/// What the TXT proof's value starts with: `livestatus-verify=<token>`.
pub const TXT_PREFIX: &str = "livestatus-verify=";

/// A host name a page may be served at: lowercase, IDNA (written as its ASCII
/// `xn--` form), no scheme, port, path or trailing dot, not an IP address, at least two
/// labels, each 1–63 letters, digits and inner hyphens, at most 253 characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Hostname(String);

impl Hostname {
    /// Parses a domain as a person writes it (any case, Unicode or `xn--`).
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let bad = |problem: &str| Err(Invalid::field("domain", problem));
        if raw.is_empty() || raw.len() > DOMAIN_MAX * 4 {
            return bad("must be a host name of at most 253 characters");
        }
        if raw.contains(['/', ':', '@', '?', '#', '[', ']', '\\']) || raw.chars().any(char::is_whitespace) {
            return bad("must be a host name alone, without scheme, port or path (`status.example.com`)");
        }
        let name = match url::Host::parse(raw) {
            Ok(url::Host::Domain(name)) => name,
            Ok(_) => return bad("must be a host name, not an IP address"),
            Err(_) => return bad("is not a valid host name"),
        };
        if name.len() > DOMAIN_MAX {
            return bad("must be at most 253 characters");
        }
        let labels: Vec<&str> = name.split('.').collect();
        if labels.len() < 2 {
            return bad("must have at least two labels (`status.example.com`)");
        }
        for label in &labels {
            let ok_chars = label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if label.is_empty() || label.len() > 63 || !ok_chars || label.starts_with('-') || label.ends_with('-') {
                return bad("must be labels of 1 to 63 letters, digits and inner hyphens, joined by dots");
            }
        }
        if labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
            return bad("must be a host name, not an IP address");
        }
        Ok(Self(name))
    }

    /// The name, lowercase ASCII.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A `.localhost` name (RFC 6761): it can only ever point at the machine it is
    /// resolved on, so the local run verifies it at once.
    pub fn is_localhost(&self) -> bool {
        self.0.ends_with(".localhost")
    }

    /// Where the TXT proof goes: `_livestatus.<domain>`.
    pub fn txt_name(&self) -> String {
        format!("{TXT_LABEL}.{}", self.0)
    }
}

impl std::fmt::Display for Hostname {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a page's domain stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DomainStatus {
    /// Waiting for its TXT record; not served.
    Pending,
    /// Proven; served.
    Verified,
    /// Not proven within 72 hours; not served, no longer looked up by the scheduler
    /// (`POST …/domain/verify` still looks, and verifies it when the record is there).
    Failed,
}

impl DomainStatus {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Verified => "verified",
            Self::Failed => "failed",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Pending, Self::Verified, Self::Failed].into_iter().find(|s| s.as_str() == raw)
    }
}

/// The DNS records a customer creates: the TXT proof, and the CNAME that sends readers
/// to the deployment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainVerification {
    /// Always `TXT`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `_livestatus.<domain>`.
    pub name: String,
    /// `livestatus-verify=<token>`.
    pub value: String,
    /// The host the domain's CNAME points at.
    pub cname: String,
}

impl DomainVerification {
    /// The records for `domain`, proven by `token`, pointed at `cname`.
    pub fn new(domain: &Hostname, token: &str, cname: &str) -> Self {
        Self {
            kind: "TXT".to_owned(),
            name: domain.txt_name(),
            value: format!("{TXT_PREFIX}{token}"),
            cname: cname.to_owned(),
        }
    }
}

/// The URL of a page served at its domain: `https://<domain>`; a `.localhost` domain of
/// the local run is plain `http` on the local server's port (from `base`, the
/// deployment's or the request's own base URL).
pub fn page_root(domain: &str, base: &str) -> String {
    if domain.ends_with(".localhost") {
        let port = url::Url::parse(base).ok().and_then(|u| u.port()).map(|p| format!(":{p}")).unwrap_or_default();
        format!("http://{domain}{port}")
    } else {
        format!("https://{domain}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_is_a_lowercase_ascii_host_name_of_two_labels_or_more() {
        for (raw, parsed) in [
            ("status.example.com", "status.example.com"),
            ("Status.Example.COM", "status.example.com"),
            ("status.bücher.de", "status.xn--bcher-kva.de"),
            ("acme.localhost", "acme.localhost"),
            ("a-b.c1.io", "a-b.c1.io"),
        ] {
            assert_eq!(Hostname::parse(raw).unwrap().as_str(), parsed, "{raw}");
        }
        for raw in [
            "",
            "localhost",
            "https://status.example.com",
            "status.example.com:8443",
            "status.example.com/path",
            "1.2.3.4",
            "[::1]",
            "status..example.com",
            "-status.example.com",
            "status-.example.com",
            "status.example.123",
            "st atus.example.com",
            "under_score.example.com",
        ] {
            assert!(Hostname::parse(raw).is_err(), "{raw} must be refused");
        }
        let long = format!("{}.com", vec!["a".repeat(63); 4].join("."));
        assert!(Hostname::parse(&long).is_err(), "over 253 characters");
    }

    #[test]
    fn a_page_at_its_domain_is_https_and_a_localhost_one_keeps_the_local_port() {
        assert_eq!(page_root("status.acme.com", "http://localhost:3000"), "https://status.acme.com");
        assert_eq!(page_root("acme.localhost", "http://localhost:3000"), "http://acme.localhost:3000");
        assert_eq!(page_root("acme.localhost", "http://localhost"), "http://acme.localhost");
    }
}
