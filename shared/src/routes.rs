//! The route table: every route of the API, the function that serves it and the scope it
//! needs. Authentication reads scopes from here; tests and the SAM template check
//! themselves against it.

use crate::domain::Scope;

/// The Lambda function (endpoint group) that serves a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// `functions/pages`.
    Pages,
    /// `functions/services`.
    Services,
    /// `functions/incidents`.
    Incidents,
    /// `functions/keys`.
    Keys,
    /// `functions/og-ad`.
    OgAd,
    /// `functions/status`.
    Status,
    /// `functions/notifications`.
    Notifications,
    /// `functions/maintenances`.
    Maintenances,
    /// `functions/monitors`.
    Monitors,
}

impl Group {
    /// The function's binary: its `BuildProperties: Binary:` in `template.yaml`.
    pub const fn binary(self) -> &'static str {
        match self {
            Self::Pages => "pages",
            Self::Services => "services",
            Self::Incidents => "incidents",
            Self::Keys => "keys",
            Self::OgAd => "og-ad",
            Self::Status => "status",
            Self::Notifications => "notifications",
            Self::Maintenances => "maintenances",
            Self::Monitors => "monitors",
        }
    }
}

/// One route.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    /// Serving function.
    pub group: Group,
    /// HTTP method.
    pub method: &'static str,
    /// Path in axum's syntax, e.g. `/api/v1/pages/{pageId}`.
    pub path: &'static str,
    /// Scope required; `None` for public routes.
    pub scope: Option<Scope>,
    /// A second scope that also admits the request, for a route whose handler then asks
    /// for the one that fits what it touches (a delivery's retry: `webhooks:write` for a
    /// webhook's, `subscribers:write` for a subscriber's).
    pub or: Option<Scope>,
}

const fn public(group: Group, method: &'static str, path: &'static str) -> Route {
    Route { group, method, path, scope: None, or: None }
}

const fn route(group: Group, method: &'static str, path: &'static str, scope: Scope) -> Route {
    Route { group, method, path, scope: Some(scope), or: None }
}

const fn route_either(group: Group, method: &'static str, path: &'static str, scope: Scope, or: Scope) -> Route {
    Route { group, method, path, scope: Some(scope), or: Some(or) }
}

/// Every route of the API.
pub const ROUTES: &[Route] = &[
    route(Group::Pages, "GET", "/api/v1/pages", Scope::PagesRead),
    route(Group::Pages, "POST", "/api/v1/pages", Scope::PagesWrite),
    route(Group::Pages, "GET", "/api/v1/pages/{pageId}", Scope::PagesRead),
    route(Group::Pages, "PATCH", "/api/v1/pages/{pageId}", Scope::PagesWrite),
    route(Group::Pages, "DELETE", "/api/v1/pages/{pageId}", Scope::PagesWrite),
    route(Group::Pages, "POST", "/api/v1/pages/{pageId}/domain/verify", Scope::PagesWrite),
    route(Group::Pages, "POST", "/api/v1/pages/{pageId}/access-token", Scope::PagesWrite),
    route(Group::Services, "GET", "/api/v1/pages/{pageId}/services", Scope::ServicesRead),
    route(Group::Services, "POST", "/api/v1/pages/{pageId}/services", Scope::ServicesWrite),
    route(Group::Services, "GET", "/api/v1/services/{serviceId}", Scope::ServicesRead),
    route(Group::Services, "PATCH", "/api/v1/services/{serviceId}", Scope::ServicesWrite),
    route(Group::Services, "DELETE", "/api/v1/services/{serviceId}", Scope::ServicesWrite),
    route(Group::Services, "GET", "/api/v1/services/{serviceId}/uptime", Scope::AnalyticsRead),
    route(Group::Incidents, "GET", "/api/v1/pages/{pageId}/incidents", Scope::IncidentsRead),
    route(Group::Incidents, "POST", "/api/v1/pages/{pageId}/incidents", Scope::IncidentsWrite),
    route(Group::Incidents, "GET", "/api/v1/incidents/{incidentId}", Scope::IncidentsRead),
    route(Group::Incidents, "PATCH", "/api/v1/incidents/{incidentId}", Scope::IncidentsWrite),
    route(Group::Incidents, "DELETE", "/api/v1/incidents/{incidentId}", Scope::IncidentsWrite),
    route(Group::Incidents, "GET", "/api/v1/incidents", Scope::IncidentsRead),
    route(Group::Incidents, "POST", "/api/v1/incidents/{incidentId}/updates", Scope::IncidentsWrite),
    route(Group::Incidents, "PUT", "/api/v1/incidents/{incidentId}/postmortem", Scope::IncidentsWrite),
    route(Group::Incidents, "DELETE", "/api/v1/incidents/{incidentId}/postmortem", Scope::IncidentsWrite),
    route(Group::Incidents, "GET", "/api/v1/pages/{pageId}/integrations", Scope::IntegrationsRead),
    route(Group::Incidents, "POST", "/api/v1/pages/{pageId}/integrations", Scope::IntegrationsWrite),
    route(Group::Incidents, "GET", "/api/v1/integrations/{integrationId}", Scope::IntegrationsRead),
    route(Group::Incidents, "PATCH", "/api/v1/integrations/{integrationId}", Scope::IntegrationsWrite),
    route(Group::Incidents, "DELETE", "/api/v1/integrations/{integrationId}", Scope::IntegrationsWrite),
    route(Group::Incidents, "POST", "/api/v1/integrations/{integrationId}/rotate-token", Scope::IntegrationsWrite),
    route(Group::Incidents, "GET", "/api/v1/integrations/{integrationId}/requests", Scope::IntegrationsRead),
    // The tools' endpoint: no API key, the integration's own token (checked by the handler).
    public(Group::Incidents, "POST", "/api/v1/hooks/{integrationId}"),
    route(Group::Keys, "GET", "/api/v1/keys", Scope::KeysRead),
    route(Group::Keys, "POST", "/api/v1/keys", Scope::KeysWrite),
    route(Group::Keys, "DELETE", "/api/v1/keys/{keyId}", Scope::KeysWrite),
    route(Group::Keys, "GET", "/api/v1/keys/{keyId}/usage", Scope::KeysRead),
    route(Group::Notifications, "GET", "/api/v1/events", Scope::EventsRead),
    route(Group::Notifications, "GET", "/api/v1/webhooks", Scope::WebhooksRead),
    route(Group::Notifications, "POST", "/api/v1/webhooks", Scope::WebhooksWrite),
    route(Group::Notifications, "GET", "/api/v1/webhooks/{webhookId}", Scope::WebhooksRead),
    route(Group::Notifications, "PATCH", "/api/v1/webhooks/{webhookId}", Scope::WebhooksWrite),
    route(Group::Notifications, "DELETE", "/api/v1/webhooks/{webhookId}", Scope::WebhooksWrite),
    route(Group::Notifications, "POST", "/api/v1/webhooks/{webhookId}/rotate-secret", Scope::WebhooksWrite),
    route(Group::Notifications, "POST", "/api/v1/webhooks/{webhookId}/test", Scope::WebhooksWrite),
    route(Group::Notifications, "GET", "/api/v1/webhooks/{webhookId}/deliveries", Scope::WebhooksRead),
    route_either(
        Group::Notifications,
        "POST",
        "/api/v1/deliveries/{deliveryId}/retry",
        Scope::WebhooksWrite,
        Scope::SubscribersWrite,
    ),
    route(Group::Notifications, "GET", "/api/v1/pages/{pageId}/subscribers", Scope::SubscribersRead),
    route(Group::Notifications, "POST", "/api/v1/pages/{pageId}/subscribers", Scope::SubscribersWrite),
    route(Group::Notifications, "GET", "/api/v1/subscribers/{subscriberId}", Scope::SubscribersRead),
    route(Group::Notifications, "DELETE", "/api/v1/subscribers/{subscriberId}", Scope::SubscribersWrite),
    route(Group::Notifications, "POST", "/api/v1/subscribers/{subscriberId}/test", Scope::SubscribersWrite),
    route(Group::Notifications, "GET", "/api/v1/subscribers/{subscriberId}/deliveries", Scope::SubscribersRead),
    route(Group::Maintenances, "GET", "/api/v1/pages/{pageId}/maintenances", Scope::MaintenancesRead),
    route(Group::Maintenances, "POST", "/api/v1/pages/{pageId}/maintenances", Scope::MaintenancesWrite),
    route(Group::Maintenances, "GET", "/api/v1/maintenances/{maintenanceId}", Scope::MaintenancesRead),
    route(Group::Maintenances, "PATCH", "/api/v1/maintenances/{maintenanceId}", Scope::MaintenancesWrite),
    route(Group::Maintenances, "DELETE", "/api/v1/maintenances/{maintenanceId}", Scope::MaintenancesWrite),
    route(Group::Maintenances, "POST", "/api/v1/maintenances/{maintenanceId}/updates", Scope::MaintenancesWrite),
    route(Group::Monitors, "GET", "/api/v1/monitors", Scope::MonitorsRead),
    route(Group::Monitors, "POST", "/api/v1/monitors", Scope::MonitorsWrite),
    route(Group::Monitors, "GET", "/api/v1/monitors/{monitorId}", Scope::MonitorsRead),
    route(Group::Monitors, "PATCH", "/api/v1/monitors/{monitorId}", Scope::MonitorsWrite),
    route(Group::Monitors, "DELETE", "/api/v1/monitors/{monitorId}", Scope::MonitorsWrite),
    route(Group::Monitors, "GET", "/api/v1/monitors/{monitorId}/checks", Scope::MonitorsRead),
    route(Group::Monitors, "GET", "/api/v1/monitors/{monitorId}/uptime", Scope::MonitorsRead),
    public(Group::Pages, "GET", "/api/v1/openapi.json"),
    public(Group::OgAd, "GET", "/api/og/ad"),
    public(Group::Status, "GET", "/status/{slug}"),
    public(Group::Status, "GET", "/status/{slug}/incidents/{incidentId}"),
    public(Group::Status, "GET", "/status/{slug}/history"),
    public(Group::Status, "GET", "/status/{slug}/api/v2/summary.json"),
    public(Group::Status, "GET", "/status/{slug}/api/v2/status.json"),
    public(Group::Status, "GET", "/status/{slug}/api/v2/components.json"),
    public(Group::Status, "GET", "/status/{slug}/api/v2/incidents.json"),
    public(Group::Status, "GET", "/status/{slug}/api/v2/incidents/unresolved.json"),
    public(Group::Status, "GET", "/status/{slug}/api/v2/scheduled-maintenances.json"),
    public(Group::Status, "GET", "/status/{slug}/api/v2/scheduled-maintenances/upcoming.json"),
    public(Group::Status, "GET", "/status/{slug}/api/v2/scheduled-maintenances/active.json"),
    public(Group::Status, "GET", "/status/{slug}/history.atom"),
    public(Group::Status, "GET", "/status/{slug}/history.rss"),
    public(Group::Status, "GET", "/status/{slug}/maintenance.ics"),
    public(Group::Status, "GET", "/status/{slug}/badge.svg"),
    public(Group::Status, "GET", "/status/{slug}/services/{serviceId}/badge.svg"),
    public(Group::Status, "GET", "/status/{slug}/badge.json"),
    public(Group::Status, "GET", "/status/{slug}/og.png"),
    public(Group::Status, "GET", "/status/{slug}/health"),
    public(Group::Status, "GET", "/status/{slug}/embed"),
    public(Group::Status, "POST", "/status/{slug}/login"),
    public(Group::Status, "POST", "/status/{slug}/subscribe"),
    public(Group::Status, "GET", "/status/{slug}/subscriptions/confirm"),
    public(Group::Status, "GET", "/status/{slug}/unsubscribe"),
    public(Group::Status, "POST", "/status/{slug}/unsubscribe"),
    public(Group::Status, "GET", "/robots.txt"),
];

/// Every query parameter a `/status/*` route reads (history's `cursor`, the feeds'
/// `service`, the badges' `style`, `theme`, `label`, `metric`, `window`, the links'
/// `token`): the CDN's cache key for those routes, and all the origin gets of a query
/// (`PublicCachePolicy` in `template.yaml`, checked against this list by a test).
pub const STATUS_QUERY_PARAMS: &[&str] = &["cursor", "service", "style", "theme", "label", "metric", "window", "token"];

/// Every query parameter of the card generator (`/api/og/*`; `CardCachePolicy`).
pub const CARD_QUERY_PARAMS: &[&str] = &["headline", "subhead", "cta", "variant", "theme", "accent"];

/// The route for a method and a matched path pattern; `HEAD` is served as `GET`.
pub fn find(method: &str, path: &str) -> Option<&'static Route> {
    let method = if method == "HEAD" { "GET" } else { method };
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}

/// The one route of the template that is not in [`ROUTES`]: API Gateway answers `OPTIONS`
/// only on routes that name it, so every preflight goes to the generator (the function
/// without the AWS SDK, the quickest to start), whose CORS middleware answers it from
/// this table like every other function's.
pub const PREFLIGHT_ROUTE: (Group, &str, &str) = (Group::OgAd, "OPTIONS", "/{proxy+}");

/// The path pattern of [`ROUTES`] that a concrete request path matches, for any method.
pub fn pattern_of(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    ROUTES.iter().map(|r| r.path).find(|pattern| matches(pattern, &segments))
}

/// Whether a path pattern serves only public (keyless) routes.
pub fn is_public(pattern: &str) -> bool {
    ROUTES.iter().filter(|r| r.path == pattern).all(|r| r.scope.is_none())
}

fn matches(pattern: &str, segments: &[&str]) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    pattern.len() == segments.len() && pattern.iter().zip(segments).all(|(p, s)| p.starts_with('{') || p == s)
}

/// The route a concrete request path (no query) matches, `{param}` segments matching any
/// one segment; `HEAD` is served as `GET`.
pub fn resolve(method: &str, path: &str) -> Option<&'static Route> {
    let method = if method == "HEAD" { "GET" } else { method };
    let segments: Vec<&str> = path.split('/').collect();
    ROUTES.iter().find(|r| r.method == method && matches(r.path, &segments))
}

/// The methods the table lists for a path pattern (`HEAD` wherever `GET` is).
pub fn methods(path: &str) -> Vec<&'static str> {
    let mut methods: Vec<_> = ROUTES.iter().filter(|r| r.path == path).map(|r| r.method).collect();
    if methods.contains(&"GET") {
        methods.push("HEAD");
    }
    methods
}
