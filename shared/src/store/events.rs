//! Events: one item per write, put in the same transaction as the write itself (a
//! transactional outbox). They are the organization's audit log (`GET /api/v1/events`),
//! kept 90 days, and the notifier's input through the table's stream.

use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::StoreError;
use super::listing::Listing;
use super::{Store, cursor, s, schema, to_item};

/// How long events are kept.
pub const RETENTION_SECS: i64 = 90 * 24 * 60 * 60;

/// Who made a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    /// A request with an API key.
    Key,
    /// A monitor changing state.
    Monitor,
    /// The scheduler (maintenance transitions, retries that give up).
    Schedule,
    /// A subscriber acting through a public link (confirm, unsubscribe).
    Subscriber,
    /// An operator with the admin command.
    Operator,
    /// An on-call tool through an alert integration.
    Integration,
}

/// The actor of an event: `{type, id, prefix}` (the key's id and display prefix for keys).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// What kind of actor.
    #[serde(rename = "type")]
    pub kind: ActorKind,
    /// Its id: the key, monitor or subscriber id; `null` for the scheduler and operators.
    pub id: Option<String>,
    /// The key's display prefix (`ls_live_xxxx`); `null` for other actors.
    pub prefix: Option<String>,
}

impl Actor {
    /// An API key.
    pub fn key(id: Uuid, prefix: &str) -> Self {
        Self { kind: ActorKind::Key, id: Some(id.to_string()), prefix: Some(prefix.to_owned()) }
    }

    /// An operator at the admin command.
    pub fn operator() -> Self {
        Self { kind: ActorKind::Operator, id: None, prefix: None }
    }

    /// The scheduler.
    pub fn schedule() -> Self {
        Self { kind: ActorKind::Schedule, id: None, prefix: None }
    }

    /// A monitor changing state.
    pub fn monitor(id: Uuid) -> Self {
        Self { kind: ActorKind::Monitor, id: Some(id.to_string()), prefix: None }
    }

    /// An alert integration (the tool calling its hook).
    pub fn integration(id: Uuid) -> Self {
        Self { kind: ActorKind::Integration, id: Some(id.to_string()), prefix: None }
    }

    /// A subscriber through a public link.
    pub fn subscriber(id: Uuid) -> Self {
        Self { kind: ActorKind::Subscriber, id: Some(id.to_string()), prefix: None }
    }
}

macro_rules! event_types {
    ($($variant:ident => $name:literal, $notifies:literal;)*) => {
        /// The type of an event.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum EventType {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl EventType {
            /// Every type.
            pub const ALL: &[EventType] = &[$(EventType::$variant),*];

            /// The wire name, e.g. `incident.created`.
            pub const fn as_str(self) -> &'static str {
                match self { $(EventType::$variant => $name),* }
            }

            /// Whether the type is delivered to subscribers and webhooks (the others are
            /// audit-only, though webhooks that ask for them by name get them too).
            pub const fn notifies(self) -> bool {
                match self { $(EventType::$variant => $notifies),* }
            }
        }
    };
}

event_types! {
    PageCreated => "page.created", false;
    PageUpdated => "page.updated", false;
    PageDeleted => "page.deleted", false;
    ServiceCreated => "service.created", false;
    ServiceUpdated => "service.updated", true;
    ServiceDeleted => "service.deleted", false;
    IncidentCreated => "incident.created", true;
    IncidentUpdated => "incident.updated", true;
    IncidentResolved => "incident.resolved", true;
    IncidentDeleted => "incident.deleted", false;
    IncidentPostmortemPublished => "incident.postmortem_published", true;
    KeyCreated => "key.created", false;
    KeyRevoked => "key.revoked", false;
    SubscriberCreated => "subscriber.created", false;
    SubscriberConfirmationRequested => "subscriber.confirmation_requested", false;
    SubscriberConfirmed => "subscriber.confirmed", false;
    SubscriberUnsubscribed => "subscriber.unsubscribed", false;
    SubscriberQuarantined => "subscriber.quarantined", false;
    WebhookCreated => "webhook.created", false;
    WebhookUpdated => "webhook.updated", false;
    WebhookDeleted => "webhook.deleted", false;
    WebhookSecretRotated => "webhook.secret_rotated", false;
    WebhookDisabled => "webhook.disabled", false;
    MaintenanceScheduled => "maintenance.scheduled", true;
    MaintenanceStarted => "maintenance.started", true;
    MaintenanceUpdated => "maintenance.updated", true;
    MaintenanceCompleted => "maintenance.completed", true;
    MaintenanceReminder => "maintenance.reminder", true;
    MonitorCreated => "monitor.created", false;
    MonitorUpdated => "monitor.updated", false;
    MonitorDeleted => "monitor.deleted", false;
    MonitorDown => "monitor.down", true;
    MonitorDegraded => "monitor.degraded", true;
    MonitorUp => "monitor.up", true;
    MonitorFlapping => "monitor.flapping", true;
    IntegrationCreated => "integration.created", false;
    IntegrationUpdated => "integration.updated", false;
    IntegrationDeleted => "integration.deleted", false;
    IntegrationTokenRotated => "integration.token_rotated", false;
    IntegrationFlapping => "integration.flapping", false;
}

impl EventType {
    /// Parses a wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|t| t.as_str() == raw)
    }
}

impl Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).ok_or_else(|| serde::de::Error::custom(format!("unknown event type `{raw}`")))
    }
}

/// An event as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Event id (UUID v7: ordered by time).
    pub id: Uuid,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The page it concerns, if any.
    pub page_id: Option<Uuid>,
    /// When.
    pub occurred_at: String,
    /// Who.
    pub actor: Actor,
    /// The resource as the change left it, and what the type adds (`oldStatus`, ...).
    pub data: serde_json::Value,
}

impl Event {
    /// Blanks what `scopes` may not read through the audit log: subscribers' addresses
    /// without `subscribers:read`, webhook URLs without `webhooks:read`, monitor URLs
    /// without `monitors:read` (`events:read` alone never reads through another scope).
    pub fn redact_for(&mut self, scopes: &crate::domain::Scopes) {
        use crate::domain::Scope;
        let hidden: [(bool, &str, &[&str]); 4] = [
            (!scopes.allows(Scope::SubscribersRead), "subscriber", &["email", "url"]),
            (!scopes.allows(Scope::WebhooksRead), "webhook", &["url"]),
            (!scopes.allows(Scope::MonitorsRead), "monitor", &["url"]),
            (!scopes.allows(Scope::MonitorsRead), "service", &["monitorUrl"]),
        ];
        for (hide, object, fields) in hidden {
            if let Some(map) = self.data.get_mut(object).and_then(serde_json::Value::as_object_mut).filter(|_| hide) {
                for field in fields {
                    if let Some(value) = map.get_mut(*field).filter(|v| !v.is_null()) {
                        *value = serde_json::Value::String("[hidden: needs another scope]".into());
                    }
                }
            }
        }
    }

    /// A new event happening now.
    pub fn new(kind: EventType, page_id: Option<Uuid>, actor: &Actor, now: &str, data: serde_json::Value) -> Self {
        Self { id: Uuid::now_v7(), kind, page_id, occurred_at: now.to_owned(), actor: actor.clone(), data }
    }
}

/// The event item: in the org partition, so the audit log is one query.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventItem {
    pub(crate) pk: String,
    pub(crate) sk: String,
    pub(crate) entity: String,
    pub(crate) org_id: Uuid,
    pub(crate) ttl: i64,
    #[serde(flatten)]
    pub(crate) event: Event,
}

/// Filters of the audit log.
#[derive(Debug, Default)]
pub struct EventFilter {
    /// Only types with this name, or with this prefix when it ends in `.*` (`incident.*`).
    pub kind: Option<String>,
    /// Only events of this page.
    pub page: Option<Uuid>,
}

/// Serializes a resource into an event's data, under `name`.
pub fn data_of(name: &str, value: &impl Serialize) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    map.insert(name.to_owned(), serde_json::to_value(value).unwrap_or(serde_json::Value::Null));
    serde_json::Value::Object(map)
}

impl Store {
    /// The `Put` of an event, for the transaction of the change it records. The event
    /// expires 90 days after it happened.
    pub(crate) fn event_put(&self, org: Uuid, event: Event) -> Result<TransactWriteItem, StoreError> {
        let at = chrono::DateTime::parse_from_rfc3339(&event.occurred_at).map_err(StoreError::internal)?;
        let item = EventItem {
            pk: schema::org_pk(org),
            sk: schema::event_sk(event.id),
            entity: "event".into(),
            org_id: org,
            ttl: at.timestamp() + RETENTION_SECS,
            event,
        };
        self.put_new(to_item(&item)?)
    }

    /// Writes one event on its own (an event with no other write to go with).
    pub async fn put_event(&self, org: Uuid, event: Event) -> Result<(), StoreError> {
        self.transact(vec![self.event_put(org, event)?]).await.map_err(super::TxError::into_error)
    }

    /// The organization's events, newest first.
    pub async fn list_events(
        &self,
        org: Uuid,
        filter: &EventFilter,
        now_epoch: i64,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Listing<Event>, StoreError> {
        let pk = schema::org_pk(org);
        let start = cursor.map(|c| cursor::decode(c, schema::PK, &pk)).transpose()?;
        let mut conditions = vec!["#ttl > :now".to_owned()];
        let mut query = self
            .client()
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":prefix", s(schema::EVENT_PREFIX))
            .expression_attribute_names("#ttl", schema::TTL)
            .expression_attribute_values(":now", super::n(now_epoch))
            .scan_index_forward(false);
        if let Some(kind) = &filter.kind {
            query = query.expression_attribute_names("#type", "type");
            if let Some(prefix) = kind.strip_suffix('*') {
                conditions.push("begins_with(#type, :type)".into());
                query = query.expression_attribute_values(":type", s(prefix));
            } else {
                conditions.push("#type = :type".into());
                query = query.expression_attribute_values(":type", s(kind));
            }
        }
        if let Some(page) = filter.page {
            conditions.push("pageId = :page".into());
            query = query.expression_attribute_values(":page", s(page.to_string()));
        }
        let query = query.filter_expression(conditions.join(" AND "));
        self.list(query, limit, start, |row: EventItem| row.event).await
    }
}
