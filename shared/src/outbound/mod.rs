//! The address guard of outbound HTTP (webhook deliveries, monitor checks): a target URL
//! is refused when it is, or resolves to, an address that is not on the public internet
//! (loopback, RFC 1918, link-local, shared 100.64/10, reserved, multicast, IPv6 ULA and
//! link-local, and those written as IPv4-mapped IPv6, NAT64 or in numeric forms such as
//! `0x7f000001` and `2130706433`). Cloud metadata addresses are refused even where a
//! deployment allows private targets. The caller connects to exactly the addresses
//! checked here, so a second lookup cannot rebind the name.
//!
//! Beside it, what the notifier and the monitors send with: the guarded HTTP [`sender`],
//! subscriber [`mail`] and [`chat`] messages drawn from one [`summary`], the [`sealing`] of secrets and links, and Standard Webhooks
//! [`signing`].

#[cfg(feature = "store")]
pub mod cdn;
#[cfg(feature = "store")]
pub mod chat;
#[cfg(feature = "store")]
pub mod dns;
#[cfg(feature = "store")]
pub mod mail;
#[cfg(feature = "store")]
pub mod sealing;
#[cfg(feature = "store")]
pub mod sender;
#[cfg(feature = "store")]
pub mod signing;
#[cfg(feature = "store")]
pub mod summary;

#[cfg(feature = "store")]
use std::net::SocketAddr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What a deployment allows beyond public `https` targets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Private, loopback and other non-public addresses (the local run only).
    pub allow_private: bool,
    /// Plain `http` where `https` is required (the local run only).
    pub allow_http: bool,
}

impl Policy {
    /// From `OUTBOUND_ALLOW_PRIVATE` (`1`/`true`): the local run sets it so a receiver on
    /// 127.0.0.1 works; a SAM deployment never does. It allows plain `http` too.
    pub fn from_env() -> Self {
        let on = std::env::var("OUTBOUND_ALLOW_PRIVATE").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
        Self { allow_private: on, allow_http: on }
    }
}

/// Why a target is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not an absolute URL with a host.
    #[error("must be an absolute URL with a host")]
    NotAUrl,
    /// A scheme other than the allowed ones.
    #[error("must use {0}")]
    Scheme(&'static str),
    /// `user:password@` in the URL.
    #[error("must not carry credentials")]
    Credentials,
    /// The address is not on the public internet.
    #[error("{0} is not a public address")]
    NotPublic(IpAddr),
    /// A cloud metadata address: never allowed.
    #[error("{0} is a cloud metadata address")]
    Metadata(IpAddr),
    /// The name resolves to nothing.
    #[error("{0} does not resolve")]
    Unresolvable(String),
}

/// A parsed target: where to connect and what to send as `Host`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The URL, normalised (numeric IPv4 forms written out).
    pub url: url::Url,
    /// The host name, or the address as text.
    pub host: String,
    /// The port, the scheme's default when absent.
    pub port: u16,
    /// The address when the host is one.
    pub ip: Option<IpAddr>,
}

/// The kind of an address, for the guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Routable on the internet.
    Public,
    /// Cloud instance metadata (169.254.169.254, fd00:ec2::254).
    Metadata,
    /// Anything else: loopback, private, link-local, shared, reserved, multicast…
    NonPublic,
}

/// Classifies an address, looking through IPv4-mapped, IPv4-compatible, NAT64 and 6to4
/// IPv6 forms to the IPv4 address they carry.
pub fn classify(ip: IpAddr) -> Class {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => {
            if v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
                return Class::Metadata;
            }
            if let Some(v4) = embedded_v4(v6) {
                return classify_v4(v4);
            }
            let s = v6.segments();
            let non_public = v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x2001 && s[1] < 0x0200) // IETF protocol assignments, Teredo
                || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // local-use NAT64 64:ff9b:1::/48 (RFC 8215)
                || s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0; // discard-only 100::/64
            if non_public { Class::NonPublic } else { Class::Public }
        }
    }
}

fn classify_v4(v4: Ipv4Addr) -> Class {
    if v4 == Ipv4Addr::new(169, 254, 169, 254) || v4 == Ipv4Addr::new(169, 254, 170, 2) {
        return Class::Metadata;
    }
    let [a, b, c, _] = v4.octets();
    let non_public = v4.is_unspecified()
        || v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_multicast()
        || v4.is_broadcast()
        || v4.is_documentation()
        || a == 0 // "this network" 0/8
        || (a == 100 && (64..128).contains(&b)) // shared address space 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments 192.0.0/24
        || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18/15
        || a >= 240; // reserved 240/4
    if non_public { Class::NonPublic } else { Class::Public }
}

/// The IPv4 address an IPv6 address carries: mapped `::ffff:a.b.c.d`, translated
/// `::ffff:0:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4
/// `2002:aabb:ccdd::`.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),
        // IPv4-translated `::ffff:0:a.b.c.d` (SIIT, RFC 2765).
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some(tail),
        [0, 0, 0, 0, 0, 0, _, _] if !v6.is_loopback() && !v6.is_unspecified() => Some(tail),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)),
        _ => None,
    }
}

/// Checks one address against the policy.
pub fn check_ip(ip: IpAddr, policy: &Policy) -> Result<(), Refusal> {
    match classify(ip) {
        Class::Public => Ok(()),
        Class::Metadata => Err(Refusal::Metadata(ip)),
        Class::NonPublic if policy.allow_private => Ok(()),
        Class::NonPublic => Err(Refusal::NotPublic(ip)),
    }
}

/// Parses and checks a target URL as far as can be done without DNS: the scheme
/// (`https`, or `http` too when `http_ok` or the policy allows it), no credentials, and a
/// literal address in any of its written forms. Run at create time and again at send.
pub fn check_url(raw: &str, http_ok: bool, policy: &Policy) -> Result<Target, Refusal> {
    let url = url::Url::parse(raw).map_err(|_| Refusal::NotAUrl)?;
    match url.scheme() {
        "https" => {}
        "http" if http_ok || policy.allow_http => {}
        _ => return Err(Refusal::Scheme(if http_ok { "http or https" } else { "https" })),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refusal::Credentials);
    }
    let (host, ip) = match url.host() {
        Some(url::Host::Ipv4(v4)) => (v4.to_string(), Some(IpAddr::V4(v4))),
        Some(url::Host::Ipv6(v6)) => (v6.to_string(), Some(IpAddr::V6(v6))),
        Some(url::Host::Domain(d)) => (d.trim_end_matches('.').to_ascii_lowercase(), None),
        None => return Err(Refusal::NotAUrl),
    };
    if let Some(ip) = ip {
        check_ip(ip, policy)?;
    }
    let port = url.port_or_known_default().ok_or(Refusal::NotAUrl)?;
    Ok(Target { url, host, port, ip })
}

#[cfg(feature = "store")]
/// Resolves a checked target and checks every address it resolves to: one non-public
/// answer refuses the target (a name must not mix public and private answers). Returns
/// the addresses to connect to, and only those.
pub async fn resolve(target: &Target, policy: &Policy) -> Result<Vec<SocketAddr>, Refusal> {
    if let Some(ip) = target.ip {
        check_ip(ip, policy)?;
        return Ok(vec![SocketAddr::new(ip, target.port)]);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .map_err(|_| Refusal::Unresolvable(target.host.clone()))?
        .collect();
    if addrs.is_empty() {
        return Err(Refusal::Unresolvable(target.host.clone()));
    }
    for addr in &addrs {
        check_ip(addr.ip(), policy)?;
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: Policy = Policy { allow_private: false, allow_http: false };
    const LOCAL: Policy = Policy { allow_private: true, allow_http: true };

    #[test]
    fn every_written_form_of_a_non_public_address_is_refused() {
        for url in [
            "https://127.0.0.1/",
            "https://127.1/",
            "https://0x7f000001/",
            "https://2130706433/",
            "https://017700000001/",
            "https://0.0.0.0/",
            "https://10.1.2.3/",
            "https://172.16.0.1/",
            "https://192.168.1.1/",
            "https://169.254.1.1/",
            "https://100.64.0.1/",
            "https://100.127.255.255/",
            "https://198.18.0.1/",
            "https://240.0.0.1/",
            "https://224.0.0.1/",
            "https://[::1]/",
            "https://[::]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:7f00:1]/",
            "https://[::127.0.0.1]/",
            "https://[64:ff9b::10.0.0.1]/",
            "https://[::ffff:0:127.0.0.1]/",
            "https://[::ffff:0:a00:1]/",
            "https://[64:ff9b:1::8.8.8.8]/",
            "https://[64:ff9b:1:abcd::1]/",
            "https://[2002:c0a8:0101::]/",
            "https://[fc00::1]/",
            "https://[fd12:3456::1]/",
            "https://[fe80::1]/",
            "https://[ff02::1]/",
        ] {
            let refusal = check_url(url, false, &STRICT).expect_err(url);
            assert!(matches!(refusal, Refusal::NotPublic(_)), "{url}: {refusal:?}");
            assert!(check_url(url, false, &LOCAL).is_ok(), "{url} is allowed when private targets are");
        }
    }

    #[test]
    fn metadata_addresses_are_refused_even_where_private_targets_are_allowed() {
        for url in
            ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://[::ffff:169.254.169.254]/"]
        {
            assert!(matches!(check_url(url, true, &LOCAL), Err(Refusal::Metadata(_))), "{url}");
        }
    }

    #[test]
    fn public_https_targets_pass_and_http_only_where_allowed() {
        let target = check_url("https://hooks.example.com:8443/in?x=1", false, &STRICT).unwrap();
        assert_eq!((target.host.as_str(), target.port, target.ip), ("hooks.example.com", 8443, None));
        assert!(check_url("https://93.184.215.14/", false, &STRICT).is_ok());
        assert!(check_url("https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/", false, &STRICT).is_ok());
        assert_eq!(check_url("http://example.com/", false, &STRICT), Err(Refusal::Scheme("https")));
        assert!(check_url("http://example.com/", true, &STRICT).is_ok(), "monitors may use http");
        assert!(check_url("http://example.com/", false, &LOCAL).is_ok());
        assert_eq!(check_url("ftp://example.com/", true, &STRICT), Err(Refusal::Scheme("http or https")));
        assert_eq!(check_url("https://user:pw@example.com/", false, &STRICT), Err(Refusal::Credentials));
        assert_eq!(check_url("/relative", false, &STRICT), Err(Refusal::NotAUrl));
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused_at_resolution() {
        let target = check_url("https://localhost:9/", false, &STRICT).expect("a name passes before DNS");
        let refusal = resolve(&target, &STRICT).await.expect_err("localhost resolves to loopback");
        assert!(matches!(refusal, Refusal::NotPublic(ip) if ip.is_loopback()), "{refusal:?}");
        let addrs = resolve(&target, &LOCAL).await.unwrap();
        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 9));
    }
}
