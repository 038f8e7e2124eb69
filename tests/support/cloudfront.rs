//! CloudFront's distribution-tenant API as the tests need it (no local CloudFront exists):
//! `CreateDistributionTenant`, `GetDistributionTenantByDomain`, `UpdateDistributionTenant`
//! and `DeleteDistributionTenant` over HTTP with CloudFront's REST-XML, `ETag`/`If-Match`
//! and error codes, as the real SDK client sends and parses them. A disabled tenant is
//! "deploying" until it has been read once more (a delete before that is refused with
//! `ResourceNotDisabled`, as CloudFront refuses it). Each call is recorded as the
//! permission it needs (`scheduler cloudfront:<Operation> <resource>`) in the AWS call
//! log, for the least-privilege check. One server for the whole test process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};

/// A tenant as the emulator keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The multi-tenant distribution.
    pub distribution: String,
    /// The connection group.
    pub connection_group: String,
    /// How the managed certificate's token is served (`cloudfront`).
    pub validation_token_host: String,
    /// Enabled or not.
    pub enabled: bool,
    etag: u32,
    deploying: bool,
}

#[derive(Default)]
struct World {
    tenants: HashMap<String, Tenant>,
    next: u32,
    /// Calls about a domain that fail next, by domain.
    failing: HashMap<String, u32>,
}

/// The emulator.
pub struct CloudFront {
    /// Its endpoint.
    pub url: String,
    world: Arc<Mutex<World>>,
}

impl CloudFront {
    /// The tenant serving `domain`, if any.
    pub fn tenant(&self, domain: &str) -> Option<Tenant> {
        self.world.lock().unwrap().tenants.get(domain).cloned()
    }

    /// The next `n` calls about `domain` fail with `503 ServiceUnavailable` (per domain:
    /// the tests run at once against one emulator).
    pub fn fail_next(&self, domain: &str, n: u32) {
        self.world.lock().unwrap().failing.insert(domain.to_owned(), n);
    }
}

/// The distribution id the tests' CDN uses.
pub const DISTRIBUTION: &str = "E1TESTDOMAINS";
/// The connection group id the tests' CDN uses.
pub const CONNECTION_GROUP: &str = "cg_2testgroup";

/// The process's emulator, started on first use (on its own thread and runtime: each
/// test has its own runtime).
pub fn cloudfront() -> &'static CloudFront {
    static SERVER: OnceLock<CloudFront> = OnceLock::new();
    SERVER.get_or_init(|| {
        let world: Arc<Mutex<World>> = Arc::default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/2020-05-31/distribution-tenant", get(by_domain).post(create))
            .route("/2020-05-31/distribution-tenant/{id}", put(update).delete(delete))
            .with_state(world.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        CloudFront { url, world }
    })
}

type Shared = State<Arc<Mutex<World>>>;

fn record(operation: &str, resources: &[&str]) {
    let uses = resources.iter().map(|r| (format!("cloudfront:{operation}"), (*r).to_owned())).collect();
    crate::policy::record("scheduler", uses);
}

/// The text of the first `<name>` element of `xml`.
fn tag<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))?;
    Some(&xml[start..start + end])
}

fn error(status: StatusCode, code: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\"?><ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{code}</Message></Error><RequestId>emulated</RequestId></ErrorResponse>"
    );
    (status, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

fn failing(world: &mut World, domain: &str) -> Option<Response> {
    let left = world.failing.get_mut(domain).filter(|n| **n > 0)?;
    *left -= 1;
    Some(error(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable"))
}

fn tenant_xml(status: StatusCode, domain: &str, t: &Tenant) -> Response {
    let body = format!(
        "<?xml version=\"1.0\"?><DistributionTenant xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\"><Id>{id}</Id><DistributionId>{d}</DistributionId><Name>{n}</Name><Arn>arn:aws:cloudfront::123456789012:distribution-tenant/{id}</Arn><Domains><member><Domain>{domain}</Domain><Status>active</Status></member></Domains><ConnectionGroupId>{g}</ConnectionGroupId><Enabled>{e}</Enabled><Status>{s}</Status></DistributionTenant>",
        id = t.id,
        d = t.distribution,
        n = t.name,
        g = t.connection_group,
        e = t.enabled,
        s = if t.deploying { "InProgress" } else { "Deployed" },
    );
    (status, [(header::CONTENT_TYPE, "text/xml".to_owned()), (header::ETAG, format!("E{}", t.etag))], body)
        .into_response()
}

async fn create(State(world): Shared, body: Bytes) -> Response {
    record("CreateDistributionTenant", &["DomainsDistribution", "DistributionTenants"]);
    let mut world = world.lock().unwrap();
    let xml = String::from_utf8_lossy(&body);
    let (Some(domain), Some(distribution), Some(name)) =
        (tag(&xml, "Domain"), tag(&xml, "DistributionId"), tag(&xml, "Name"))
    else {
        return error(StatusCode::BAD_REQUEST, "InvalidArgument");
    };
    if let Some(failed) = failing(&mut world, domain) {
        return failed;
    }
    if world.tenants.contains_key(domain) || world.tenants.values().any(|t| t.name == name) {
        return error(StatusCode::CONFLICT, "EntityAlreadyExists");
    }
    world.next += 1;
    let tenant = Tenant {
        id: format!("dt_{}", world.next),
        name: name.to_owned(),
        distribution: distribution.to_owned(),
        connection_group: tag(&xml, "ConnectionGroupId").unwrap_or_default().to_owned(),
        validation_token_host: tag(&xml, "ValidationTokenHost").unwrap_or_default().to_owned(),
        enabled: tag(&xml, "Enabled") != Some("false"),
        etag: 1,
        deploying: true,
    };
    world.tenants.insert(domain.to_owned(), tenant.clone());
    tenant_xml(StatusCode::CREATED, domain, &tenant)
}

async fn by_domain(State(world): Shared, Query(q): Query<HashMap<String, String>>) -> Response {
    record("GetDistributionTenantByDomain", &["DistributionTenants"]);
    let mut world = world.lock().unwrap();
    let domain = q.get("domain").cloned().unwrap_or_default();
    if let Some(failed) = failing(&mut world, &domain) {
        return failed;
    }
    let Some(tenant) = world.tenants.get_mut(&domain) else { return error(StatusCode::NOT_FOUND, "EntityNotFound") };
    let answer = tenant_xml(StatusCode::OK, &domain, tenant);
    // Read once more: whatever was deploying has deployed.
    tenant.deploying = false;
    answer
}

fn domain_of(world: &World, id: &str) -> Option<String> {
    world.tenants.iter().find(|(_, t)| t.id == id).map(|(d, _)| d.clone())
}

fn find<'a>(world: &'a mut World, id: &str) -> Option<(String, &'a mut Tenant)> {
    world.tenants.iter_mut().find(|(_, t)| t.id == id).map(|(d, t)| (d.clone(), t))
}

async fn update(State(world): Shared, Path(id): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    record("UpdateDistributionTenant", &["DistributionTenants"]);
    let mut world = world.lock().unwrap();
    let xml = String::from_utf8_lossy(&body).into_owned();
    if let Some(failed) = domain_of(&world, &id).and_then(|d| failing(&mut world, &d)) {
        return failed;
    }
    let Some((domain, tenant)) = find(&mut world, &id) else { return error(StatusCode::NOT_FOUND, "EntityNotFound") };
    if headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) != Some(&format!("E{}", tenant.etag)) {
        return error(StatusCode::PRECONDITION_FAILED, "PreconditionFailed");
    }
    if let Some(enabled) = tag(&xml, "Enabled") {
        tenant.enabled = enabled == "true";
    }
    tenant.etag += 1;
    tenant.deploying = true;
    tenant_xml(StatusCode::OK, &domain, tenant)
}

async fn delete(State(world): Shared, Path(id): Path<String>, headers: HeaderMap) -> Response {
    record("DeleteDistributionTenant", &["DistributionTenants"]);
    let mut world = world.lock().unwrap();
    if let Some(failed) = domain_of(&world, &id).and_then(|d| failing(&mut world, &d)) {
        return failed;
    }
    let Some((domain, tenant)) = find(&mut world, &id) else { return error(StatusCode::NOT_FOUND, "EntityNotFound") };
    if headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) != Some(&format!("E{}", tenant.etag)) {
        return error(StatusCode::PRECONDITION_FAILED, "PreconditionFailed");
    }
    if tenant.enabled || tenant.deploying {
        return error(StatusCode::CONFLICT, "ResourceNotDisabled");
    }
    world.tenants.remove(&domain);
    StatusCode::NO_CONTENT.into_response()
}
