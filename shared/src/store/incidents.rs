//! Incidents and their updates. Updates sort right after their incident in the org
//! partition (`INCIDENT#<id>#UPDATE#<v7>`), so one query reads an incident whole; a
//! page's incidents are listed newest first through GSI1, an organization's through GSI2.

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::StoreError;
use super::events::{Event, EventType};
use super::idempotency::Outcome;
use super::listing::Listing;
use super::write::Write;
use super::{Changes, Store, Tx, TxError, cursor, failed_at, from_item, get_s, key, s, schema, sdk_error, to_item};
use crate::domain::{Impact, IncidentStatus};

/// Most services one incident may name.
pub const MAX_AFFECTED_SERVICES: usize = 50;

/// One update of an incident.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncidentUpdate {
    /// Update id (UUID v7).
    pub id: Uuid,
    /// Text.
    pub body: String,
    /// The incident's status as of this update.
    pub status: IncidentStatus,
    /// Creation time.
    pub created_at: String,
}

/// An incident as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Incident {
    /// Incident id (UUID v7).
    pub id: Uuid,
    /// The page it is on.
    pub page_id: Uuid,
    /// Title.
    pub title: String,
    /// Impact.
    pub impact: Impact,
    /// Current status (that of the latest update).
    pub status: IncidentStatus,
    /// Services of the same page it affects.
    pub affected_service_ids: Vec<Uuid>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
    /// When it was resolved; cleared when it reopens.
    pub resolved_at: Option<String>,
    /// Updates, oldest first; absent in lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updates: Option<Vec<IncidentUpdate>>,
    /// Its postmortem, once written (shown publicly only once published).
    #[serde(default)]
    pub postmortem: Option<Postmortem>,
}

/// What went wrong and what changes, written after an incident: Markdown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Postmortem {
    /// Markdown, headings allowed.
    pub body: String,
    /// When it was first published; `None` while a draft.
    pub published_at: Option<String>,
    /// Last change.
    pub updated_at: String,
}

/// A postmortem as written through the API.
#[derive(Debug)]
pub struct NewPostmortem {
    /// Markdown.
    pub body: String,
    /// Shown on the public page (and published now, if it was not).
    pub published: bool,
    /// Tell subscribers when this write publishes it.
    pub notify_subscribers: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IncidentItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    // Absent on incidents written before GSI2; `ensure_table` and the admin's `migrate` fill it.
    #[serde(default)]
    gsi2pk: String,
    #[serde(default)]
    gsi2sk: String,
    entity: String,
    org_id: Uuid,
    /// Set when a delete began: the incident is gone for readers and writers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deleting: Option<String>,
    /// Sort keys of the idempotency records that created it or its updates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    idempotency_keys: Vec<String>,
    #[serde(flatten)]
    incident: Incident,
}

/// Condition on an incident item that exists and is not being deleted.
const LIVE: &str = "attribute_exists(pk) AND attribute_not_exists(deleting)";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateItem {
    pk: String,
    sk: String,
    // Absent on updates written before the public page; `migrate` fills them.
    #[serde(default)]
    gsi1pk: String,
    #[serde(default)]
    gsi1sk: String,
    entity: String,
    page_id: Uuid,
    incident_id: Uuid,
    #[serde(flatten)]
    update: IncidentUpdate,
}

/// A validated new incident.
#[derive(Debug)]
pub struct NewIncident {
    /// Its id: a fresh UUID v7 from the API.
    pub id: Uuid,
    /// Title, 1–200 characters.
    pub title: String,
    /// Impact.
    pub impact: Impact,
    /// Opening status.
    pub status: IncidentStatus,
    /// Opening text: the first update.
    pub body: String,
    /// Affected services, without duplicates.
    pub affected_service_ids: Vec<Uuid>,
    /// Whether subscribers hear of it (integrations always do).
    pub notify_subscribers: bool,
}

/// A validated new update.
#[derive(Debug)]
pub struct NewUpdate {
    /// Text, 1–10000 characters.
    pub body: String,
    /// New status; `None` keeps the incident's.
    pub status: Option<IncidentStatus>,
    /// Whether subscribers hear of it (integrations always do).
    pub notify_subscribers: bool,
}

/// A validated change.
#[derive(Debug, Default)]
pub struct IncidentPatch {
    /// New title.
    pub title: Option<String>,
    /// New impact.
    pub impact: Option<Impact>,
    /// New set of affected services.
    pub affected_service_ids: Option<Vec<Uuid>>,
    /// Whether subscribers hear of the change (integrations always do).
    pub notify_subscribers: bool,
}

/// Filters of the incident lists.
#[derive(Debug, Default)]
pub struct IncidentFilter {
    /// Only this status.
    pub status: Option<IncidentStatus>,
    /// Only unresolved (`true`) or only resolved (`false`).
    pub open: Option<bool>,
    /// Only this page (the organization-wide list).
    pub page: Option<Uuid>,
}

impl Store {
    /// Opens an incident on a live page: the incident, its first update, the checks that
    /// every affected service is on the same page, and the idempotency record, in one
    /// transaction.
    pub async fn create_incident(
        &self,
        w: &Write<'_>,
        page: Uuid,
        new: NewIncident,
    ) -> Result<Outcome<Incident>, StoreError> {
        let (org, actor, idem, now, now_epoch) = (w.org, &w.actor, w.idem, w.now.text(), w.now.epoch());
        let id = new.id;
        let first =
            IncidentUpdate { id: Uuid::now_v7(), body: new.body, status: new.status, created_at: now.to_owned() };
        let incident = Incident {
            id,
            page_id: page,
            title: new.title,
            impact: new.impact,
            status: new.status,
            affected_service_ids: new.affected_service_ids,
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
            resolved_at: (new.status == IncidentStatus::Resolved).then(|| now.to_owned()),
            updates: None,
            postmortem: None,
        };
        let item = IncidentItem {
            pk: schema::org_pk(org),
            sk: schema::incident_sk(id),
            gsi1pk: schema::incidents_gsi1pk(org, page),
            gsi1sk: id.to_string(),
            gsi2pk: schema::org_incidents_gsi2pk(org),
            gsi2sk: id.to_string(),
            entity: "incident".into(),
            org_id: org,
            deleting: None,
            idempotency_keys: idem.map(|i| vec![i.record_sk()]).unwrap_or_default(),
            incident,
        };
        let mut tx = Tx::new();
        let page_live = tx.push(self.page_is_live(org, page)?);
        let guard = w.guard.clone().map(|g| tx.push(g));
        tx.push(self.put_new(to_item(&item)?)?);
        tx.push(self.put_new(to_item(&update_item(org, page, id, first.clone()))?)?);
        let services = &item.incident.affected_service_ids;
        let on_page =
            tx.extend(services.iter().map(|s| self.service_on_page(org, page, *s)).collect::<Result<Vec<_>, _>>()?);
        let mut incident = item.incident;
        incident.updates = Some(vec![first]);
        let data = serde_json::json!({ "incident": &incident, "notifySubscribers": new.notify_subscribers });
        tx.push(self.event_put(org, Event::new(EventType::IncidentCreated, Some(page), actor, now, data))?);
        let mut replay = None;
        if let Some(idem) = idem {
            replay = Some(tx.push(self.idempotency_put(
                org,
                idem,
                page,
                id,
                201,
                super::idempotency::data_body(&incident),
                now_epoch,
            )?));
        }
        match self.transact(tx).await {
            Ok(()) => Ok(Outcome::Created(incident)),
            Err(TxError::Cancelled(reasons)) => {
                if failed_at(&reasons, page_live).is_some() {
                    return Err(StoreError::not_found("Page"));
                }
                if guard.is_some_and(|g| failed_at(&reasons, g).is_some()) {
                    return Err(StoreError::Raced);
                }
                if let Some(i) = on_page.first_failed(&reasons) {
                    return Err(not_on_page(incident.affected_service_ids[i]));
                }
                match (idem, replay) {
                    (Some(idem), Some(r)) if failed_at(&reasons, r).is_some() => {
                        self.replay(org, idem, now_epoch).await
                    }
                    _ => Err(TxError::Cancelled(reasons).into_error()),
                }
            }
            Err(e) => Err(e.into_error()),
        }
    }

    /// Reads an incident of `org` with all its updates, oldest first.
    pub async fn get_incident(&self, org: Uuid, id: Uuid) -> Result<Option<Incident>, StoreError> {
        let query = self
            .client()
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(schema::org_pk(org)))
            .expression_attribute_values(":prefix", s(schema::incident_sk(id)))
            .consistent_read(true);
        let mut items = self.query_all(query).await?.into_iter();
        let Some(head) = items.next().filter(|i| get_s(i, schema::SK) == Some(schema::incident_sk(id).as_str())) else {
            return Ok(None);
        };
        let head = from_item::<IncidentItem>(head)?;
        if head.deleting.is_some() {
            return Ok(None);
        }
        let mut incident = head.incident;
        incident.updates = Some(items.map(|i| from_item::<UpdateItem>(i).map(|u| u.update)).collect::<Result<_, _>>()?);
        Ok(Some(incident))
    }

    /// Lists a page's incidents, newest first (without their updates). The page must exist.
    pub async fn list_incidents(
        &self,
        org: Uuid,
        page: Uuid,
        filter: &IncidentFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Listing<Incident>, StoreError> {
        self.get_page(org, page).await?.ok_or_else(|| StoreError::not_found("Page"))?;
        let pk = schema::incidents_gsi1pk(org, page);
        self.list_incidents_in((schema::GSI1, schema::GSI1PK, schema::GSI1SK), pk, filter, limit, cursor).await
    }

    /// Lists the organization's incidents across its pages, newest first, in one query of
    /// GSI2; with `filter.page`, that page's list instead.
    pub async fn list_org_incidents(
        &self,
        org: Uuid,
        filter: &IncidentFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Listing<Incident>, StoreError> {
        match filter.page {
            Some(page) => self.list_incidents(org, page, filter, limit, cursor).await,
            None => {
                let gsi2pk = schema::org_incidents_gsi2pk(org);
                self.list_incidents_in((schema::GSI2, schema::GSI2PK, schema::GSI2SK), gsi2pk, filter, limit, cursor)
                    .await
            }
        }
    }

    /// One page of an index partition of incidents, newest first, filtered; the index is
    /// given as (name, partition key, sort key). Sort keys start at the first incident, so
    /// the updates that share GSI1's partition are never read.
    async fn list_incidents_in(
        &self,
        (index, pk_attr, sk_attr): (&str, &'static str, &'static str),
        pk: String,
        filter: &IncidentFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Listing<Incident>, StoreError> {
        let start = cursor.map(|c| cursor::decode(c, pk_attr, &pk)).transpose()?;
        let mut query = self
            .client()
            .query()
            .index_name(index)
            .key_condition_expression("#pk = :pk AND #sk >= :first")
            .expression_attribute_names("#pk", pk_attr)
            .expression_attribute_names("#sk", sk_attr)
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":first", s(schema::FIRST_ENTITY_SK))
            .scan_index_forward(false);
        let mut conditions = vec!["attribute_not_exists(deleting)"];
        if let Some(status) = filter.status {
            conditions.push("#status = :status");
            query = query.expression_attribute_values(":status", s(status.as_str()));
        }
        match filter.open {
            Some(true) => conditions.push("#status <> :resolved"),
            Some(false) => conditions.push("#status = :resolved"),
            None => {}
        }
        if filter.open.is_some() {
            query = query.expression_attribute_values(":resolved", s(IncidentStatus::Resolved.as_str()));
        }
        if filter.status.is_some() || filter.open.is_some() {
            query = query.expression_attribute_names("#status", "status");
        }
        self.list(query.filter_expression(conditions.join(" AND ")), limit, start, |row: IncidentItem| row.incident)
            .await
    }

    /// Every incident of a page, newest first, without updates: one query of the page's
    /// GSI1 incident list (more only past 1 MB, some thousands of incidents).
    pub async fn page_incidents(&self, org: Uuid, page: Uuid) -> Result<Vec<Incident>, StoreError> {
        let query = self
            .client()
            .query()
            .index_name(schema::GSI1)
            .key_condition_expression("gsi1pk = :pk AND gsi1sk >= :first")
            .filter_expression("attribute_not_exists(deleting)")
            .expression_attribute_values(":pk", s(schema::incidents_gsi1pk(org, page)))
            .expression_attribute_values(":first", s(schema::FIRST_ENTITY_SK))
            .scan_index_forward(false);
        self.query_all(query).await?.into_iter().map(|i| from_item::<IncidentItem>(i).map(|i| i.incident)).collect()
    }

    /// The updates of a page's incidents whose ids lie in `oldest..=newest`, by incident,
    /// oldest first: one query of the page's GSI1 partition, where updates sort by
    /// incident id.
    pub async fn page_incident_updates(
        &self,
        org: Uuid,
        page: Uuid,
        oldest: Uuid,
        newest: Uuid,
    ) -> Result<std::collections::HashMap<Uuid, Vec<IncidentUpdate>>, StoreError> {
        let query = self
            .client()
            .query()
            .index_name(schema::GSI1)
            .key_condition_expression("gsi1pk = :pk AND gsi1sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(schema::incidents_gsi1pk(org, page)))
            .expression_attribute_values(":from", s(format!("{}{oldest}", schema::UPDATE_GSI1_PREFIX)))
            .expression_attribute_values(":to", s(format!("{}{newest}#~", schema::UPDATE_GSI1_PREFIX)));
        let mut updates: std::collections::HashMap<Uuid, Vec<IncidentUpdate>> = std::collections::HashMap::new();
        for item in self.query_all(query).await? {
            let item = from_item::<UpdateItem>(item)?;
            updates.entry(item.incident_id).or_default().push(item.update);
        }
        Ok(updates)
    }

    /// Changes an incident's title, impact or affected services.
    pub async fn update_incident(&self, w: &Write<'_>, id: Uuid, patch: IncidentPatch) -> Result<Incident, StoreError> {
        let (org, actor, now) = (w.org, &w.actor, w.now.text());
        let mut incident = self.get_incident(org, id).await?.ok_or_else(|| StoreError::not_found("Incident"))?;
        let mut changes = Changes::default();
        changes.set("updatedAt", s(now));
        if let Some(title) = &patch.title {
            changes.set("title", s(title));
            incident.title.clone_from(title);
        }
        if let Some(impact) = patch.impact {
            changes.set("impact", serde_dynamo::to_attribute_value(impact).map_err(StoreError::internal)?);
            incident.impact = impact;
        }
        if let Some(ids) = &patch.affected_service_ids {
            changes.set("affectedServiceIds", serde_dynamo::to_attribute_value(ids).map_err(StoreError::internal)?);
        }
        let services = patch.affected_service_ids.as_deref().unwrap_or_default();
        let update = changes
            .apply_tx(
                Update::builder()
                    .table_name(self.table())
                    .set_key(Some(key(schema::org_pk(org), schema::incident_sk(id)))),
            )
            .condition_expression(LIVE)
            .build()
            .map_err(StoreError::internal)?;
        let mut tx = Tx::new();
        let incident_update = tx.push(TransactWriteItem::builder().update(update).build());
        let on_page = tx.extend(
            services.iter().map(|s| self.service_on_page(org, incident.page_id, *s)).collect::<Result<Vec<_>, _>>()?,
        );
        let mut after = incident.clone();
        if let Some(ids) = &patch.affected_service_ids {
            after.affected_service_ids.clone_from(ids);
        }
        after.updated_at = now.to_owned();
        after.updates = None;
        let data = serde_json::json!({ "incident": &after, "notifySubscribers": patch.notify_subscribers });
        tx.push(self.event_put(org, Event::new(EventType::IncidentUpdated, Some(after.page_id), actor, now, data))?);
        match self.transact(tx).await {
            Ok(()) => {}
            Err(TxError::Cancelled(reasons)) if failed_at(&reasons, incident_update).is_some() => {
                return Err(StoreError::not_found("Incident"));
            }
            Err(TxError::Cancelled(reasons)) => {
                if let Some(i) = on_page.first_failed(&reasons) {
                    return Err(not_on_page(services[i]));
                }
                return Err(TxError::Cancelled(reasons).into_error());
            }
            Err(e) => return Err(e.into_error()),
        }
        if let Some(ids) = patch.affected_service_ids {
            incident.affected_service_ids = ids;
        }
        incident.updated_at = now.to_owned();
        Ok(incident)
    }

    /// Writes, or with `None` removes, an incident's postmortem. Publishing it (it was a
    /// draft or absent) stamps `publishedAt` and records `incident.postmortem_published`,
    /// which tells subscribers unless `notifySubscribers` is false; any other change
    /// records `incident.updated`, which tells nobody. Unpublishing makes it a draft.
    pub async fn set_postmortem(
        &self,
        w: &Write<'_>,
        id: Uuid,
        new: Option<NewPostmortem>,
    ) -> Result<Incident, StoreError> {
        let (org, actor, now) = (w.org, &w.actor, w.now.text());
        let current = self.get_incident(org, id).await?.ok_or_else(|| StoreError::not_found("Incident"))?;
        let was_published = current.postmortem.as_ref().is_some_and(|p| p.published_at.is_some());
        let postmortem = new.as_ref().map(|n| Postmortem {
            body: n.body.clone(),
            published_at: match (&current.postmortem, n.published) {
                (_, false) => None,
                (Some(Postmortem { published_at: Some(at), .. }), true) => Some(at.clone()),
                (_, true) => Some(now.to_owned()),
            },
            updated_at: now.to_owned(),
        });
        let mut changes = Changes::default();
        changes.set("updatedAt", s(now));
        match &postmortem {
            Some(p) => {
                changes.set("postmortem", serde_dynamo::to_attribute_value(p).map_err(StoreError::internal)?);
            }
            None => {
                changes.remove("postmortem");
            }
        }
        let update = changes
            .apply_tx(
                Update::builder()
                    .table_name(self.table())
                    .set_key(Some(key(schema::org_pk(org), schema::incident_sk(id)))),
            )
            .condition_expression(LIVE)
            .build()
            .map_err(StoreError::internal)?;
        let mut tx = Tx::new();
        let incident_update = tx.push(TransactWriteItem::builder().update(update).build());
        let mut after = current.clone();
        after.postmortem = postmortem;
        after.updated_at = now.to_owned();
        after.updates = None;
        let publishes = !was_published && after.postmortem.as_ref().is_some_and(|p| p.published_at.is_some());
        let (kind, notify) = if publishes {
            (EventType::IncidentPostmortemPublished, new.as_ref().is_some_and(|n| n.notify_subscribers))
        } else {
            (EventType::IncidentUpdated, false)
        };
        let data = serde_json::json!({ "incident": &after, "notifySubscribers": notify });
        tx.push(self.event_put(org, Event::new(kind, Some(after.page_id), actor, now, data))?);
        match self.transact(tx).await {
            Ok(()) => {}
            Err(TxError::Cancelled(reasons)) if failed_at(&reasons, incident_update).is_some() => {
                return Err(StoreError::not_found("Incident"));
            }
            Err(e) => return Err(e.into_error()),
        }
        after.updates = current.updates;
        Ok(after)
    }

    /// Appends an update. Without a status the incident keeps its own; `resolved` closes
    /// it and stamps `resolvedAt`, any other status reopens it and clears `resolvedAt`.
    pub async fn add_incident_update(
        &self,
        w: &Write<'_>,
        id: Uuid,
        new: NewUpdate,
    ) -> Result<Outcome<IncidentUpdate>, StoreError> {
        let (org, actor, idem, now, now_epoch) = (w.org, &w.actor, w.idem, w.now.text(), w.now.epoch());
        let NewUpdate { body, status, notify_subscribers } = new;
        // Optimistic: the incident's status is read, then changed only if still the same.
        for _ in 0..5 {
            let current = self
                .get(&key(schema::org_pk(org), schema::incident_sk(id)), true)
                .await?
                .map(from_item::<IncidentItem>)
                .transpose()?
                .filter(|i| i.deleting.is_none())
                .ok_or_else(|| StoreError::not_found("Incident"))?
                .incident;
            let new_status = status.unwrap_or(current.status);
            let update = IncidentUpdate {
                id: Uuid::now_v7(),
                body: body.clone(),
                status: new_status,
                created_at: now.to_owned(),
            };
            let resolved_at: Option<String> = match (new_status, &current.resolved_at) {
                (IncidentStatus::Resolved, Some(at)) => Some(at.clone()),
                (IncidentStatus::Resolved, None) => Some(now.to_owned()),
                _ => None,
            };
            let mut changes = Changes::default();
            changes
                .set("status", s(new_status.as_str()))
                .set("updatedAt", s(now))
                .set("resolvedAt", resolved_at.clone().map_or(AttributeValue::Null(true), s))
                .value(":current", s(current.status.as_str()));
            if let Some(idem) = idem {
                changes.append("idempotencyKeys", AttributeValue::L(vec![s(idem.record_sk())]));
            }
            let incident_update = changes
                .apply_tx(
                    Update::builder()
                        .table_name(self.table())
                        .set_key(Some(key(schema::org_pk(org), schema::incident_sk(id)))),
                )
                .condition_expression(format!("{LIVE} AND #status = :current"))
                .build()
                .map_err(StoreError::internal)?;
            let mut tx = Tx::new();
            let page_live = tx.push(self.page_is_live(org, current.page_id)?);
            let status_unchanged = tx.push(TransactWriteItem::builder().update(incident_update).build());
            let guard = w.guard.clone().map(|g| tx.push(g));
            tx.push(self.put_new(to_item(&update_item(org, current.page_id, id, update.clone()))?)?);
            let mut replay = None;
            if let Some(idem) = idem {
                replay = Some(tx.push(self.idempotency_put(
                    org,
                    idem,
                    current.page_id,
                    id,
                    201,
                    super::idempotency::data_body(&update),
                    now_epoch,
                )?));
            }
            let mut after = current.clone();
            after.status = new_status;
            after.updated_at = now.to_owned();
            after.resolved_at = resolved_at.clone();
            after.updates = None;
            let kind = if new_status == IncidentStatus::Resolved && current.status != IncidentStatus::Resolved {
                EventType::IncidentResolved
            } else {
                EventType::IncidentUpdated
            };
            let data = serde_json::json!({
                "incident": &after,
                "update": &update,
                "notifySubscribers": notify_subscribers,
            });
            tx.push(self.event_put(org, Event::new(kind, Some(after.page_id), actor, now, data))?);
            match self.transact(tx).await {
                Ok(()) => return Ok(Outcome::Created(update)),
                Err(TxError::Cancelled(reasons)) if failed_at(&reasons, page_live).is_some() => {
                    return Err(StoreError::not_found("Incident"));
                }
                Err(TxError::Cancelled(reasons)) if guard.is_some_and(|g| failed_at(&reasons, g).is_some()) => {
                    return Err(StoreError::Raced);
                }
                Err(TxError::Cancelled(reasons)) if replay.is_some_and(|r| failed_at(&reasons, r).is_some()) => {
                    return self.replay(org, idem.expect("checked"), now_epoch).await;
                }
                // Another update changed the status since we read it: read again.
                Err(TxError::Cancelled(reasons)) if failed_at(&reasons, status_unchanged).is_some() => continue,
                Err(e) => return Err(e.into_error()),
            }
        }
        Err(StoreError::Unavailable("incident kept changing during the update".into()))
    }

    /// Deletes an incident with its updates and the idempotency records that created them.
    /// The incident is first marked as deleting (it disappears for readers and accepts no
    /// more writes), then its updates and records go, then the incident itself: a delete
    /// interrupted at any point leaves a marked incident that the next delete finishes.
    pub async fn delete_incident(&self, w: &Write<'_>, id: Uuid) -> Result<(), StoreError> {
        let (org, actor, now) = (w.org, &w.actor, w.now.text());
        let incident_key = key(schema::org_pk(org), schema::incident_sk(id));
        let marked =
            self.mark_deleting(incident_key.clone(), now).await?.ok_or_else(|| StoreError::not_found("Incident"))?;
        let item = from_item::<IncidentItem>(marked)?;

        // Strongly consistent, after the mark: every update committed before it is seen,
        // and none can commit after it.
        let updates = self
            .client()
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .projection_expression("pk, sk")
            .expression_attribute_values(":pk", s(schema::org_pk(org)))
            .expression_attribute_values(":prefix", s(format!("{}#", schema::incident_sk(id))))
            .consistent_read(true);
        let updates = self.query_all(updates).await?;
        self.delete_keys(updates).await?;
        for record in &item.idempotency_keys {
            // Only a record that still answers for this incident (an expired key may
            // since have been reused for another request).
            let deleted = self
                .client()
                .delete_item()
                .table_name(self.table())
                .set_key(Some(key(schema::org_pk(org), record)))
                .condition_expression("ownerId = :id")
                .expression_attribute_values(":id", s(id.to_string()))
                .send()
                .await;
            match deleted {
                Ok(_) => {}
                Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(sdk_error(e)),
            }
        }

        let delete = Delete::builder()
            .table_name(self.table())
            .set_key(Some(incident_key))
            .condition_expression("attribute_exists(deleting)")
            .build()
            .map_err(StoreError::internal)?;
        let data = serde_json::json!({ "incident": { "id": id, "title": item.incident.title } });
        let event = Event::new(EventType::IncidentDeleted, Some(item.incident.page_id), actor, now, data);
        let mut tx = Tx::new();
        let incident_delete = tx.push(TransactWriteItem::builder().delete(delete).build());
        tx.push(self.event_put(org, event)?);
        match self.transact(tx).await {
            Ok(()) => Ok(()),
            // A concurrent delete of the same incident finished first (and wrote the event).
            Err(TxError::Cancelled(reasons)) if failed_at(&reasons, incident_delete).is_some() => Ok(()),
            Err(e) => Err(e.into_error()),
        }
    }

    /// Fills index keys on items written before their index or partition existed: GSI2's
    /// on incidents, GSI1's on updates, the due index's on monitors. An operator's migration (it scans the table), run
    /// by `ensure_table` on a table kept from an earlier version and by
    /// `livestatus-admin migrate`. Returns how many items it changed.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let mut changed = self.migrate_monitors().await?;
        let mut start = None;
        loop {
            let out = self
                .client()
                .scan()
                .table_name(self.table())
                .filter_expression(
                    "(entity = :incident AND attribute_not_exists(gsi2pk)) \
                     OR (entity = :update AND attribute_not_exists(gsi1pk))",
                )
                .projection_expression("pk, sk, entity, id, pageId, incidentId")
                .expression_attribute_values(":incident", s("incident"))
                .expression_attribute_values(":update", s("incidentUpdate"))
                .set_exclusive_start_key(start)
                .consistent_read(true)
                .send()
                .await
                .map_err(sdk_error)?;
            for item in out.items.unwrap_or_default() {
                let (Some(pk), Some(sk), Some(id)) = (get_s(&item, "pk"), get_s(&item, "sk"), get_s(&item, "id"))
                else {
                    continue;
                };
                let Some(org) = pk.strip_prefix("ORG#").and_then(|o| Uuid::parse_str(o).ok()) else { continue };
                let (expression, index_pk, index_sk) = if get_s(&item, "entity") == Some("incident") {
                    ("SET gsi2pk = :pk, gsi2sk = :sk", schema::org_incidents_gsi2pk(org), id.to_owned())
                } else {
                    let parse = |attr| get_s(&item, attr).and_then(|v| Uuid::parse_str(v).ok());
                    let (Some(page), Some(incident), Ok(update)) =
                        (parse("pageId"), parse("incidentId"), Uuid::parse_str(id))
                    else {
                        continue;
                    };
                    (
                        "SET gsi1pk = :pk, gsi1sk = :sk",
                        schema::incidents_gsi1pk(org, page),
                        schema::update_gsi1sk(incident, update),
                    )
                };
                let updated = self
                    .client()
                    .update_item()
                    .table_name(self.table())
                    .set_key(Some(key(pk, sk)))
                    .condition_expression("attribute_exists(pk)")
                    .update_expression(expression)
                    .expression_attribute_values(":pk", s(index_pk))
                    .expression_attribute_values(":sk", s(index_sk))
                    .send()
                    .await;
                match updated {
                    Ok(_) => changed += 1,
                    Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                    Err(e) => return Err(sdk_error(e)),
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(changed);
            }
        }
    }

    /// A condition that a service exists in `org` and is on `page`.
    pub(crate) fn service_on_page(
        &self,
        org: Uuid,
        page: Uuid,
        service: Uuid,
    ) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), schema::service_sk(service))))
            .condition_expression("attribute_exists(pk) AND pageId = :page")
            .expression_attribute_values(":page", s(page.to_string()))
            .build()
            .map_err(StoreError::internal)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }
}

fn update_item(org: Uuid, page: Uuid, incident: Uuid, update: IncidentUpdate) -> UpdateItem {
    UpdateItem {
        pk: schema::org_pk(org),
        sk: schema::update_sk(incident, update.id),
        gsi1pk: schema::incidents_gsi1pk(org, page),
        gsi1sk: schema::update_gsi1sk(incident, update.id),
        entity: "incidentUpdate".into(),
        page_id: page,
        incident_id: incident,
        update,
    }
}

fn not_on_page(service: Uuid) -> StoreError {
    StoreError::invalid_field("affectedServiceIds", format_args!("{service} is not a service of this page"))
}
