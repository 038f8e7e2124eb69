//! Alerts from on-call tools. Each tool's webhook payload (Alertmanager, Grafana, Datadog,
//! PagerDuty, and a generic one) is read into one [`Notice`]: which alert group it is
//! about, which alerts of it fire now, and whether the whole group has resolved. What an
//! integration then does with a notice (open, update, resolve) is in
//! [`crate::store::alert_groups`] and the hook handler; the rules that pick services and
//! severities are here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Impact, Invalid, ServiceStatus};

/// The tools an integration can receive from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntegrationType {
    /// Prometheus Alertmanager's `webhook_config` (payload version 4).
    Alertmanager,
    /// Grafana unified alerting's webhook contact point.
    Grafana,
    /// Datadog's webhook integration, with `$ALERT_CYCLE_KEY` as `aggreg_key`.
    Datadog,
    /// PagerDuty v3 webhook subscriptions (`incident.*`).
    Pagerduty,
    /// `{key, status, title, body?, service?, severity?}`.
    Generic,
}

impl IntegrationType {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Alertmanager => "alertmanager",
            Self::Grafana => "grafana",
            Self::Datadog => "datadog",
            Self::Pagerduty => "pagerduty",
            Self::Generic => "generic",
        }
    }
}

/// One firing alert of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    /// What tells it from the group's other alerts (Alertmanager's fingerprint, …).
    pub id: String,
    /// A one-line name for people: its summary, or its alert name.
    pub title: String,
    /// Its labels (tags, for Datadog), where the service and severity are read from.
    pub labels: BTreeMap<String, String>,
}

/// Where a group stands according to one delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupState {
    /// Some alerts fire (those in [`Notice::firing`]).
    Firing,
    /// A person took it (PagerDuty's `incident.acknowledged`).
    Acknowledged,
    /// Every alert of the group resolved.
    Resolved,
}

/// What one delivery says about one alert group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The group's key in the tool (Alertmanager's `groupKey`, …).
    pub group: String,
    /// The group's state.
    pub state: GroupState,
    /// A title for the incident the group opens.
    pub title: String,
    /// The alerts firing now, sorted by id, without duplicates.
    pub firing: Vec<Alert>,
}

/// Most alerts of one delivery taken into account (Alertmanager sends at most what its
/// `max_alerts` allows; the rest are summarized by count).
pub const MAX_ALERTS: usize = 100;
/// Longest group key kept (longer ones are hashed into the key of the group's item anyway).
const MAX_KEY: usize = 1_000;

/// What a severity means on the page: the services' status and the incident's impact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeverityEffect {
    /// The status its services take.
    pub status: ServiceStatus,
    /// The impact of the incident it opens.
    pub impact: Impact,
}

/// The default `severityMap`: `critical` is an outage of major impact, `warning` a
/// degradation of minor impact. An alert with another severity, or none, counts as a
/// warning: what a tool calls an alert is not yet an outage we announce.
pub fn default_severity_map() -> BTreeMap<String, SeverityEffect> {
    BTreeMap::from([
        ("critical".to_owned(), SeverityEffect { status: ServiceStatus::Outage, impact: Impact::Major }),
        ("warning".to_owned(), SeverityEffect { status: ServiceStatus::Degraded, impact: Impact::Minor }),
    ])
}

/// The effect of an alert's severity under `map`, the `warning` one (or degraded and
/// minor) when its severity is missing or not in the map.
pub fn effect_of(alert: &Alert, map: &BTreeMap<String, SeverityEffect>) -> SeverityEffect {
    let fallback = || {
        map.get("warning").copied().unwrap_or(SeverityEffect { status: ServiceStatus::Degraded, impact: Impact::Minor })
    };
    alert.labels.get("severity").and_then(|s| map.get(&s.to_lowercase())).copied().unwrap_or_else(fallback)
}

/// How bad a status is, to take the worst of several.
pub fn status_rank(status: ServiceStatus) -> u8 {
    match status {
        ServiceStatus::Operational => 0,
        ServiceStatus::Maintenance => 1,
        ServiceStatus::Degraded => 2,
        ServiceStatus::Outage => 3,
    }
}

/// How bad an impact is.
pub fn impact_rank(impact: Impact) -> u8 {
    match impact {
        Impact::Minor => 0,
        Impact::Major => 1,
        Impact::Critical => 2,
    }
}

/// Reads a delivery of `kind`. A body that does not parse, or lacks what the format
/// requires, is refused with the field at fault (`alerts[0].labels`, `groupKey`).
pub fn parse(kind: IntegrationType, body: &[u8]) -> Result<Notice, Invalid> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| Invalid::Request(format!("The body is not JSON: {e}.")))?;
    if !value.is_object() {
        return Err(Invalid::Request("The body must be a JSON object.".into()));
    }
    let mut notice = match kind {
        IntegrationType::Alertmanager | IntegrationType::Grafana => alertmanager(&value, kind)?,
        IntegrationType::Datadog => datadog(&value)?,
        IntegrationType::Pagerduty => pagerduty(&value)?,
        IntegrationType::Generic => generic(&value)?,
    };
    notice.firing.sort_by(|a, b| a.id.cmp(&b.id));
    notice.firing.dedup_by(|a, b| a.id == b.id);
    notice.firing.truncate(MAX_ALERTS);
    if notice.group.chars().count() > MAX_KEY {
        notice.group = notice.group.chars().take(MAX_KEY).collect();
    }
    notice.title = one_line(&notice.title, 200);
    if notice.title.is_empty() {
        notice.title = "Alert".into();
    }
    Ok(notice)
}

/// `field` of `v` as a string, or the error naming `path`.
fn str_at<'a>(v: &'a Value, field: &str, path: &str) -> Result<&'a str, Invalid> {
    match v.get(field) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(Invalid::field(path, "must be a string")),
        None => Err(Invalid::field(path, "is required")),
    }
}

fn opt_str<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    v.get(field).and_then(Value::as_str).filter(|s| !s.trim().is_empty())
}

/// A label set (`{"name": "value"}`), refusing other shapes.
fn labels_at(v: &Value, field: &str, path: &str) -> Result<BTreeMap<String, String>, Invalid> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(Invalid::field(&format!("{path}.{k}"), "must be a string")),
            })
            .collect(),
        Some(_) => Err(Invalid::field(path, "must be an object of strings")),
    }
}

/// Alertmanager's payload (version 4), which Grafana's webhook extends.
fn alertmanager(v: &Value, kind: IntegrationType) -> Result<Notice, Invalid> {
    if kind == IntegrationType::Alertmanager {
        let version = str_at(v, "version", "version")?;
        if version != "4" {
            return Err(Invalid::field("version", format!("must be \"4\", not \"{version}\"")));
        }
    }
    let group = str_at(v, "groupKey", "groupKey")?.to_owned();
    let status = str_at(v, "status", "status")?;
    let alerts = match v.get("alerts") {
        Some(Value::Array(a)) => a,
        Some(_) => return Err(Invalid::field("alerts", "must be an array")),
        None => return Err(Invalid::field("alerts", "is required")),
    };
    let common = labels_at(v, "commonAnnotations", "commonAnnotations")?;
    let group_labels = labels_at(v, "groupLabels", "groupLabels")?;
    let mut firing = Vec::new();
    for (i, alert) in alerts.iter().enumerate() {
        let path = |f: &str| format!("alerts[{i}].{f}");
        if !alert.is_object() {
            return Err(Invalid::field(&format!("alerts[{i}]"), "must be an object"));
        }
        let labels = labels_at(alert, "labels", &path("labels"))?;
        let annotations = labels_at(alert, "annotations", &path("annotations"))?;
        let alert_status = str_at(alert, "status", &path("status"))?;
        match alert_status {
            "firing" => {}
            "resolved" => continue,
            _ => return Err(Invalid::field(&path("status"), "must be firing or resolved")),
        }
        let id = match opt_str(alert, "fingerprint") {
            Some(f) => f.to_owned(),
            // Without a fingerprint (older senders): the label set identifies the alert.
            None => labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        };
        let title =
            annotations.get("summary").or_else(|| labels.get("alertname")).cloned().unwrap_or_else(|| id.clone());
        firing.push(Alert { id, title: one_line(&title, 200), labels });
    }
    if !matches!(status, "firing" | "resolved") {
        return Err(Invalid::field("status", "must be firing or resolved"));
    }
    // The group's state is its alerts': firing while any fires, whatever `status` says.
    let state = if firing.is_empty() { GroupState::Resolved } else { GroupState::Firing };
    let title = opt_str(v, "title")
        .filter(|_| kind == IntegrationType::Grafana)
        .map(strip_grafana_state)
        .or_else(|| common.get("summary").cloned())
        .or_else(|| (firing.len() == 1).then(|| firing[0].title.clone()))
        .or_else(|| group_labels.get("alertname").cloned())
        .unwrap_or_else(|| format!("{} alerts firing", firing.len()));
    Ok(Notice { group, state, title, firing })
}

/// Grafana's title starts with `[FIRING:1] `: the state is ours to show.
fn strip_grafana_state(title: &str) -> String {
    match title.strip_prefix('[').and_then(|rest| rest.split_once("] ")) {
        Some((_, rest)) => rest.to_owned(),
        None => title.to_owned(),
    }
}

/// Datadog's webhook: the default payload with `aggreg_key` (`$ALERT_CYCLE_KEY`) and the
/// transition (`alert_transition`, `$ALERT_TRANSITION`; else the `[Triggered]` /
/// `[Recovered]` prefix of the title).
fn datadog(v: &Value) -> Result<Notice, Invalid> {
    let group = str_at(v, "aggreg_key", "aggreg_key")?.to_owned();
    if group.trim().is_empty() {
        return Err(Invalid::field("aggreg_key", "must not be empty"));
    }
    let raw_title = str_at(v, "title", "title")?;
    let transition = opt_str(v, "alert_transition")
        .map(str::to_owned)
        .or_else(|| raw_title.strip_prefix('[').and_then(|r| r.split_once(']')).map(|(t, _)| t.to_owned()));
    let transition = transition.ok_or_else(|| Invalid::field("alert_transition", "is required"))?;
    let title = match raw_title.strip_prefix('[').and_then(|r| r.split_once("] ")) {
        Some((_, rest)) => rest.to_owned(),
        None => raw_title.to_owned(),
    };
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    // `$TAGS` arrives as one string, `env:prod,service:api`, or as a list.
    let tags: Vec<String> = match v.get("tags") {
        Some(Value::String(s)) => s.split(',').map(|t| t.trim().to_owned()).collect(),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    for tag in tags {
        if let Some((k, v)) = tag.split_once(':') {
            labels.insert(k.to_owned(), v.to_owned());
        }
    }
    let state = match transition.to_lowercase().as_str() {
        "triggered" | "re-triggered" | "renotify" | "no data" | "re-no data" => {
            labels.entry("severity".into()).or_insert_with(|| "critical".into());
            GroupState::Firing
        }
        "warn" | "re-warn" => {
            labels.entry("severity".into()).or_insert_with(|| "warning".into());
            GroupState::Firing
        }
        "recovered" => GroupState::Resolved,
        other => return Err(Invalid::field("alert_transition", format!("`{other}` is not a transition we know"))),
    };
    let firing = match state {
        GroupState::Firing => vec![Alert { id: group.clone(), title: title.clone(), labels }],
        _ => Vec::new(),
    };
    Ok(Notice { group, state, title, firing })
}

/// PagerDuty's v3 webhook: `{event: {event_type, data: {id, title, service, urgency}}}`.
fn pagerduty(v: &Value) -> Result<Notice, Invalid> {
    let event = v.get("event").filter(|e| e.is_object()).ok_or_else(|| Invalid::field("event", "is required"))?;
    let kind = str_at(event, "event_type", "event.event_type")?;
    let data =
        event.get("data").filter(|d| d.is_object()).ok_or_else(|| Invalid::field("event.data", "is required"))?;
    let group = str_at(data, "id", "event.data.id")?.to_owned();
    let title = opt_str(data, "title").unwrap_or("PagerDuty incident").to_owned();
    let mut labels = BTreeMap::new();
    if let Some(service) = data.get("service").and_then(|s| opt_str(s, "summary")) {
        labels.insert("service".to_owned(), service.to_owned());
    }
    let severity = match opt_str(data, "urgency") {
        Some("low") => "warning",
        _ => "critical",
    };
    labels.insert("severity".to_owned(), severity.to_owned());
    let alert = || vec![Alert { id: group.clone(), title: title.clone(), labels: labels.clone() }];
    let (state, firing) = match kind {
        "incident.triggered"
        | "incident.reopened"
        | "incident.unacknowledged"
        | "incident.escalated"
        | "incident.priority_updated" => (GroupState::Firing, alert()),
        "incident.acknowledged" => (GroupState::Acknowledged, alert()),
        "incident.resolved" => (GroupState::Resolved, Vec::new()),
        other if other.starts_with("incident.") => (GroupState::Firing, alert()),
        other => return Err(Invalid::field("event.event_type", format!("`{other}` is not an incident event"))),
    };
    Ok(Notice { group, state, title, firing })
}

/// The generic payload: `{key, status: firing|resolved, title, body?, service?, severity?}`.
fn generic(v: &Value) -> Result<Notice, Invalid> {
    let group = str_at(v, "key", "key")?.to_owned();
    if group.trim().is_empty() {
        return Err(Invalid::field("key", "must not be empty"));
    }
    let status = str_at(v, "status", "status")?;
    let title = str_at(v, "title", "title")?.to_owned();
    let mut labels = BTreeMap::new();
    for field in ["service", "severity"] {
        match v.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                labels.insert(field.to_owned(), s.clone());
            }
            Some(_) => return Err(Invalid::field(field, "must be a string")),
        }
    }
    if let Some(body) = v.get("body").filter(|b| !b.is_null()) {
        if !body.is_string() {
            return Err(Invalid::field("body", "must be a string"));
        }
    }
    let (state, firing) = match status {
        "firing" => (GroupState::Firing, vec![Alert { id: group.clone(), title: one_line(&title, 200), labels }]),
        "resolved" => (GroupState::Resolved, Vec::new()),
        _ => return Err(Invalid::field("status", "must be firing or resolved")),
    };
    Ok(Notice { group, state, title, firing })
}

/// The text on one line, at most `max` characters (with an ellipsis when cut).
fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alertmanager_group_with_one_resolved_alert_keeps_only_the_firing_ones() {
        let body = serde_json::json!({
            "version": "4", "groupKey": "{}:{alertname=\"Down\"}", "status": "firing",
            "groupLabels": {"alertname": "Down"}, "commonAnnotations": {},
            "alerts": [
                {"status": "firing", "labels": {"alertname": "Down", "service": "api", "severity": "critical"},
                 "annotations": {"summary": "API down"}, "fingerprint": "b"},
                {"status": "resolved", "labels": {"alertname": "Down", "service": "web"}, "annotations": {}, "fingerprint": "a"}
            ]
        });
        let notice = parse(IntegrationType::Alertmanager, body.to_string().as_bytes()).unwrap();
        assert_eq!(notice.state, GroupState::Firing);
        assert_eq!(notice.firing.len(), 1);
        assert_eq!(notice.firing[0].title, "API down");
        assert_eq!(notice.title, "API down");
    }

    #[test]
    fn a_malformed_payload_names_the_field_at_fault() {
        let body = br#"{"version": "4", "groupKey": "g", "status": "firing", "alerts": [{"status": "firing", "labels": {"a": 1}}]}"#;
        let err = parse(IntegrationType::Alertmanager, body).unwrap_err();
        assert_eq!(err.to_string(), "`alerts[0].labels.a`: must be a string");
        let err = parse(IntegrationType::Generic, br#"{"status": "firing", "title": "t"}"#).unwrap_err();
        assert_eq!(err.to_string(), "`key`: is required");
    }

    #[test]
    fn severities_map_to_status_and_impact_and_unknown_ones_count_as_warnings() {
        let map = default_severity_map();
        let alert = |s: Option<&str>| Alert {
            id: "x".into(),
            title: "x".into(),
            labels: s.map(|s| BTreeMap::from([("severity".to_owned(), s.to_owned())])).unwrap_or_default(),
        };
        assert_eq!(effect_of(&alert(Some("CRITICAL")), &map).status, ServiceStatus::Outage);
        assert_eq!(effect_of(&alert(Some("info")), &map).status, ServiceStatus::Degraded);
        assert_eq!(effect_of(&alert(None), &map).impact, Impact::Minor);
    }
}
