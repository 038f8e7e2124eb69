//! One of every entity of the API, made through the API with the app's full-access key:
//! the fixtures of the tests generated from the route table (scopes, cross-organization
//! isolation), and the body that makes each route's request valid.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::{TestApp, unique_slug};

/// The ids of the seeded entities, by the route table's placeholder names.
#[derive(Debug)]
pub struct Seeded {
    ids: BTreeMap<&'static str, String>,
}

impl Seeded {
    /// The id seeded for `placeholder` (`pageId`, `monitorId`, …).
    pub fn id(&self, placeholder: &str) -> &str {
        self.ids.get(placeholder).map(String::as_str).unwrap_or_else(|| panic!("nothing seeded for {{{placeholder}}}"))
    }

    /// `path` with each `{placeholder}` replaced by its seeded id.
    pub fn fill(&self, path: &str) -> String {
        self.ids.iter().fold(path.to_owned(), |p, (name, id)| p.replace(&format!("{{{name}}}"), id))
    }
}

impl TestApp {
    /// Seeds a page with a service, an incident, a maintenance window, a monitor and a
    /// webhook subscriber; and a key, a webhook and a delivery when `for_path` names
    /// them (or always, without a path): the plan limits keys and webhooks, and some
    /// tests seed once per route.
    pub async fn seed(&self, for_path: Option<&str>) -> Seeded {
        let wants = |placeholder: &str| for_path.is_none_or(|p| p.contains(placeholder));
        let id = |r: crate::TestResponse| r.json["data"]["id"].as_str().expect("a created id").to_owned();
        let mut ids = BTreeMap::new();
        let page = self.page().await;
        if for_path.is_some_and(|p| p.contains("/domain/")) {
            let domain = format!("{}.localhost", &Uuid::new_v4().simple().to_string()[..12]);
            self.call("PATCH", &format!("/api/v1/pages/{page}"), Some(json!({ "domain": domain }))).await.expect(200);
        }
        ids.insert("serviceId", self.service(&page, "svc").await);
        let incident =
            self.call("POST", &format!("/api/v1/pages/{page}/incidents"), valid_body("POST", "/incidents")).await;
        ids.insert("incidentId", id(incident));
        if wants("{keyId}") {
            let key = self.call("POST", "/api/v1/keys", Some(json!({"name": "target"}))).await;
            ids.insert("keyId", id(key));
        }
        if wants("{webhookId}") || wants("{deliveryId}") {
            let webhook = id(self.call("POST", "/api/v1/webhooks", valid_body("POST", "/api/v1/webhooks")).await);
            let delivery = self.call("POST", &format!("/api/v1/webhooks/{webhook}/test"), None).await;
            ids.insert("deliveryId", id(delivery));
            ids.insert("webhookId", webhook);
        }
        let maintenance =
            self.call("POST", &format!("/api/v1/pages/{page}/maintenances"), valid_body("POST", "/maintenances")).await;
        ids.insert("maintenanceId", id(maintenance));
        ids.insert(
            "monitorId",
            id(self.call("POST", "/api/v1/monitors", valid_body("POST", "/api/v1/monitors")).await),
        );
        if wants("{integrationId}") {
            let integration = self
                .call("POST", &format!("/api/v1/pages/{page}/integrations"), valid_body("POST", "/integrations"))
                .await;
            ids.insert("integrationId", id(integration));
        }
        let subscriber =
            self.call("POST", &format!("/api/v1/pages/{page}/subscribers"), valid_body("POST", "/subscribers")).await;
        ids.insert("subscriberId", id(subscriber));
        ids.insert("pageId", page);
        Seeded { ids }
    }
}

/// A body that makes a request to `method path` (a route of the route table) valid;
/// `None` for those without one.
pub fn valid_body(method: &str, path: &str) -> Option<Value> {
    match (method, path) {
        ("POST", "/api/v1/pages") => Some(json!({"name": "n", "slug": unique_slug("scope")})),
        ("POST", "/api/v1/keys") => Some(json!({"name": "n", "scopes": ["keys:write"]})),
        ("POST", "/api/v1/webhooks") => Some(json!({"url": "http://127.0.0.1:9/hook"})),
        ("PATCH", p) if p.starts_with("/api/v1/webhooks/") => Some(json!({"description": "x"})),
        ("POST", p) if p.ends_with("/services") => Some(json!({"name": "x"})),
        ("POST", p) if p.ends_with("/maintenances") => Some(
            json!({"title": "t", "body": "b", "scheduledFor": "2099-01-10T02:00:00Z", "scheduledUntil": "2099-01-10T04:00:00Z"}),
        ),
        ("PUT", p) if p.ends_with("/postmortem") => Some(json!({"body": "What happened."})),
        ("POST", "/api/v1/monitors") => Some(json!({"name": "m", "url": "http://127.0.0.1:9/m"})),
        ("PATCH", p) if p.starts_with("/api/v1/monitors/") => Some(json!({"name": "x"})),
        ("POST", p) if p.ends_with("/integrations") => Some(json!({"type": "generic", "name": "n"})),
        ("PATCH", p) if p.starts_with("/api/v1/integrations/") => Some(json!({"name": "x"})),
        ("POST", p) if p.starts_with("/api/v1/hooks/") => {
            Some(json!({"key": "k", "status": "firing", "title": "An alert"}))
        }
        ("POST", p) if p.ends_with("/subscribers") => {
            Some(json!({"type": "webhook", "url": "http://127.0.0.1:9/hook"}))
        }
        ("POST", p) if p.ends_with("/incidents") => {
            Some(json!({"title": "t", "impact": "minor", "status": "investigating", "body": "b"}))
        }
        ("POST", p) if p.ends_with("/updates") => Some(json!({"body": "b"})),
        ("PATCH", p) if p.starts_with("/api/v1/pages/") => Some(json!({"name": "x"})),
        ("PATCH", p) if p.starts_with("/api/v1/services/") => Some(json!({"currentStatus": "outage"})),
        ("PATCH", _) => Some(json!({"title": "x"})),
        _ => None,
    }
}
