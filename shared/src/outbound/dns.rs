//! DNS lookups of the domain checks: a custom domain's TXT proof, read through a real
//! stub resolver (hickory) with a timeout: the system's resolver configuration, or one
//! name server given by `DNS_SERVER` (`ip:port`, for a test's server or a deployment
//! that must ask a particular one).

use std::net::SocketAddr;
use std::time::Duration;

/// How long one lookup may take, retries included.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Where lookups go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dns {
    /// One name server; `None`: the system's configuration (`/etc/resolv.conf`).
    server: Option<SocketAddr>,
}

impl Dns {
    /// From `DNS_SERVER` (`ip:port`); the system's resolver without it.
    pub fn from_env() -> Self {
        Self { server: std::env::var("DNS_SERVER").ok().and_then(|s| s.parse().ok()) }
    }

    /// Lookups sent to `server` only.
    pub fn at(server: SocketAddr) -> Self {
        Self { server: Some(server) }
    }

    /// The TXT records of `name`, each record's strings joined (a long value is split
    /// into strings of 255 bytes); empty when the name has none. `Err` with a reason when
    /// the lookup failed or timed out.
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, String> {
        use hickory_resolver::Resolver;
        use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
        use hickory_resolver::name_server::TokioConnectionProvider;

        let mut opts = ResolverOpts::default();
        opts.timeout = LOOKUP_TIMEOUT / 3;
        opts.attempts = 2;
        // Each check must see the record as it is now, not a cached miss.
        opts.cache_size = 0;
        let builder = match self.server {
            Some(server) => {
                let servers = NameServerConfigGroup::from_ips_clear(&[server.ip()], server.port(), true);
                Resolver::builder_with_config(
                    ResolverConfig::from_parts(None, Vec::new(), servers),
                    TokioConnectionProvider::default(),
                )
            }
            None => Resolver::builder_tokio().map_err(|e| format!("no resolver configuration: {e}"))?,
        };
        let resolver = builder.with_options(opts).build();
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match tokio::time::timeout(LOOKUP_TIMEOUT, resolver.txt_lookup(fqdn)).await {
            Err(_) => Err("the DNS lookup timed out".to_owned()),
            Ok(Ok(lookup)) => Ok(lookup
                .iter()
                .map(|txt| txt.txt_data().iter().map(|part| String::from_utf8_lossy(part)).collect::<String>())
                .collect()),
            // The name, or its TXT records, do not exist (yet): no proof, not a failure.
            Ok(Err(e)) if e.is_no_records_found() => Ok(Vec::new()),
            Ok(Err(e)) => Err(format!("the DNS lookup failed: {e}")),
        }
    }
}
