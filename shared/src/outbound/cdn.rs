//! Custom domains on the CDN: each verified domain is a tenant of the stack's
//! multi-tenant CloudFront distribution (`DomainsDistribution`), in its connection group,
//! with a CloudFront-managed TLS certificate (HTTP validation served by CloudFront once the
//! customer's CNAME points at the group's routing endpoint). The scheduler attaches and
//! detaches tenants in the background (`scheduler::cdn`); nothing here is on a request's
//! path. Without `CDN_DISTRIBUTION_ID` (the local run) there is no CDN and nothing to do.

use std::sync::Arc;

use aws_sdk_cloudfront::Client;
use aws_sdk_cloudfront::types::{DomainItem, ManagedCertificateRequest, ValidationTokenHost};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

/// The CDN the deployment serves custom domains through, if it has one.
#[derive(Clone, Default)]
pub struct Cdn(Option<Arc<CloudFront>>);

struct CloudFront {
    distribution: String,
    connection_group: String,
    endpoint: Option<String>,
    client: OnceCell<Client>,
}

impl std::fmt::Debug for Cdn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(cf) => write!(f, "Cdn(CloudFront {} / {})", cf.distribution, cf.connection_group),
            None => f.write_str("Cdn(none)"),
        }
    }
}

/// A CDN call that failed; the scheduler logs it and tries again later.
#[derive(Debug, thiserror::Error)]
#[error("CloudFront {operation}: {message}")]
pub struct CdnError {
    operation: &'static str,
    message: String,
}

impl CdnError {
    fn of<E: std::fmt::Debug>(operation: &'static str, e: E) -> Self {
        Self { operation, message: format!("{e:?}") }
    }
}

/// Where taking a domain off the CDN stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detached {
    /// The domain has no tenant (any more).
    Done,
    /// Its tenant was disabled (or is still deploying); deleted at a later try.
    Pending,
}

impl Cdn {
    /// From `CDN_DISTRIBUTION_ID` and `CDN_CONNECTION_GROUP_ID` (the template sets both on
    /// the scheduler), and `CLOUDFRONT_ENDPOINT` to talk to another endpoint; none
    /// without the distribution.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        match (var("CDN_DISTRIBUTION_ID"), var("CDN_CONNECTION_GROUP_ID")) {
            (Some(distribution), Some(group)) => Self::cloudfront(distribution, group, var("CLOUDFRONT_ENDPOINT")),
            _ => Self(None),
        }
    }

    /// A CDN on this distribution and connection group, at `endpoint` when given.
    pub fn cloudfront(distribution: String, connection_group: String, endpoint: Option<String>) -> Self {
        Self(Some(Arc::new(CloudFront { distribution, connection_group, endpoint, client: OnceCell::new() })))
    }

    /// Whether there is a CDN to put domains on.
    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    /// The tenant's name for `domain`: unique per distribution, valid whatever the
    /// domain's length (CloudFront's names take at most 128 characters).
    pub fn tenant_name(distribution: &str, domain: &str) -> String {
        let digest = Sha256::digest(domain.as_bytes());
        let hash: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
        format!("{}-{hash}", distribution.to_ascii_lowercase())
    }

    /// Puts `domain` on the CDN: a tenant with a managed certificate. Idempotent: a
    /// domain that already has a tenant keeps it. The tenant's id.
    pub async fn attach(&self, domain: &str) -> Result<Option<String>, CdnError> {
        let Some(cf) = &self.0 else { return Ok(None) };
        let client = cf.client().await;
        let certificate = ManagedCertificateRequest::builder()
            .validation_token_host(ValidationTokenHost::CloudFront)
            .primary_domain_name(domain)
            .build()
            .map_err(|e| CdnError::of("CreateDistributionTenant", e))?;
        let created = client
            .create_distribution_tenant()
            .distribution_id(&cf.distribution)
            .name(Self::tenant_name(&cf.distribution, domain))
            .domains(
                DomainItem::builder()
                    .domain(domain)
                    .build()
                    .map_err(|e| CdnError::of("CreateDistributionTenant", e))?,
            )
            .connection_group_id(&cf.connection_group)
            .managed_certificate_request(certificate)
            .enabled(true)
            .send()
            .await;
        match created {
            Ok(out) => Ok(out.distribution_tenant().and_then(|t| t.id()).map(str::to_owned)),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_entity_already_exists()) => {
                let found = client
                    .get_distribution_tenant_by_domain()
                    .domain(domain)
                    .send()
                    .await
                    .map_err(|e| CdnError::of("GetDistributionTenantByDomain", e))?;
                Ok(found.distribution_tenant().and_then(|t| t.id()).map(str::to_owned))
            }
            Err(e) => Err(CdnError::of("CreateDistributionTenant", e)),
        }
    }

    /// Takes `domain` off the CDN: its tenant is disabled, then (at a later call, once
    /// CloudFront has deployed that) deleted.
    pub async fn detach(&self, domain: &str) -> Result<Detached, CdnError> {
        let Some(cf) = &self.0 else { return Ok(Detached::Done) };
        let client = cf.client().await;
        let found = match client.get_distribution_tenant_by_domain().domain(domain).send().await {
            Ok(found) => found,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_entity_not_found()) => return Ok(Detached::Done),
            Err(e) => return Err(CdnError::of("GetDistributionTenantByDomain", e)),
        };
        let (Some(tenant), Some(etag)) = (found.distribution_tenant(), found.e_tag()) else {
            return Ok(Detached::Done);
        };
        let Some(id) = tenant.id() else { return Ok(Detached::Done) };
        if tenant.enabled().unwrap_or(true) {
            // The tenant as it is, but disabled (its domains and distribution restated).
            client
                .update_distribution_tenant()
                .id(id)
                .if_match(etag)
                .distribution_id(&cf.distribution)
                .domains(
                    DomainItem::builder()
                        .domain(domain)
                        .build()
                        .map_err(|e| CdnError::of("UpdateDistributionTenant", e))?,
                )
                .enabled(false)
                .send()
                .await
                .map_err(|e| CdnError::of("UpdateDistributionTenant", e))?;
            return Ok(Detached::Pending);
        }
        match client.delete_distribution_tenant().id(id).if_match(etag).send().await {
            Ok(_) => Ok(Detached::Done),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_entity_not_found()) => Ok(Detached::Done),
            // Disabled but not deployed yet: CloudFront refuses the delete for now.
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_disabled()) => Ok(Detached::Pending),
            Err(e) => Err(CdnError::of("DeleteDistributionTenant", e)),
        }
    }
}

impl CloudFront {
    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                // CloudFront is global: its API is signed for us-east-1.
                let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .region(aws_config::Region::new("us-east-1"))
                    .load()
                    .await;
                let mut config = aws_sdk_cloudfront::config::Builder::from(&base);
                if let Some(endpoint) = &self.endpoint {
                    config = config.endpoint_url(endpoint);
                }
                Client::from_conf(config.build())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_name_is_short_valid_and_one_per_domain() {
        let a = Cdn::tenant_name("E2ABCDEF123", &format!("{}.example.com", "x".repeat(60)));
        assert_eq!(a, Cdn::tenant_name("E2ABCDEF123", &format!("{}.example.com", "x".repeat(60))));
        assert_ne!(a, Cdn::tenant_name("E2ABCDEF123", "status.acme.com"));
        assert!(a.len() <= 128 && a.starts_with("e2abcdef123-"));
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }
}
