//! Services: items in the org partition keyed by their id, listed per page through GSI1
//! in display order.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::idempotency::{IdempotencyKey, Outcome};
use super::pages::Listing;
use super::{Changes, Store, TxError, cursor, failed_at, from_item, key, n, s, schema, sdk_error, to_item};
use crate::domain::ServiceStatus;
use crate::error::ApiError;

/// A service as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// Service id (UUID v7).
    pub id: Uuid,
    /// The page it is on.
    pub page_id: Uuid,
    /// Display name.
    pub name: String,
    /// Optional URL monitored for it.
    pub monitor_url: Option<String>,
    /// Current status.
    pub current_status: ServiceStatus,
    /// Sort position on the page (0–10000).
    pub display_order: u32,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    entity: String,
    org_id: Uuid,
    #[serde(flatten)]
    service: Service,
}

/// A validated new service.
#[derive(Debug)]
pub struct NewService {
    /// Its id: a fresh UUID v7 from the API.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Monitor URL.
    pub monitor_url: Option<String>,
    /// Initial status.
    pub current_status: ServiceStatus,
    /// Display order.
    pub display_order: u32,
}

/// A validated change; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ServicePatch {
    /// New name.
    pub name: Option<String>,
    /// New or cleared monitor URL.
    pub monitor_url: Option<Option<String>>,
    /// New status.
    pub current_status: Option<ServiceStatus>,
    /// New display order.
    pub display_order: Option<u32>,
}

impl Store {
    /// Creates a service on a live page of `org`, with its idempotency record when given.
    pub async fn create_service(
        &self,
        org: Uuid,
        page: Uuid,
        new: NewService,
        idem: Option<&IdempotencyKey>,
        now: &str,
        now_epoch: i64,
    ) -> Result<Outcome<Service>, ApiError> {
        let service = Service {
            id: new.id,
            page_id: page,
            name: new.name,
            monitor_url: new.monitor_url,
            current_status: new.current_status,
            display_order: new.display_order,
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
        };
        let item = ServiceItem {
            pk: schema::org_pk(org),
            sk: schema::service_sk(service.id),
            gsi1pk: schema::services_gsi1pk(org, page),
            gsi1sk: schema::service_gsi1sk(service.display_order, service.id),
            entity: "service".into(),
            org_id: org,
            service,
        };
        let mut items = vec![self.page_is_live(org, page)?, self.put_new(to_item(&item)?)?];
        if let Some(idem) = idem {
            items.push(self.idempotency_put(
                org,
                idem,
                page,
                item.service.id,
                201,
                crate::http::data_body(&item.service),
                now_epoch,
            )?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(Outcome::Created(item.service)),
            Err(TxError::Cancelled(reasons)) if failed_at(&reasons, 0).is_some() => Err(ApiError::not_found("Page")),
            Err(TxError::Cancelled(reasons)) if idem.is_some() && failed_at(&reasons, 2).is_some() => {
                self.replay(org, idem.expect("checked"), now_epoch).await
            }
            Err(e) => Err(e.into_api_error()),
        }
    }

    /// Reads a service of `org`.
    pub async fn get_service(&self, org: Uuid, id: Uuid) -> Result<Option<Service>, ApiError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), schema::service_sk(id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.item.map(|i| from_item::<ServiceItem>(i).map(|i| i.service)).transpose()
    }

    /// Lists a page's services by display order, then creation. The page must exist.
    pub async fn list_services(
        &self,
        org: Uuid,
        page: Uuid,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Listing<Service>, ApiError> {
        self.get_page(org, page).await?.ok_or_else(|| ApiError::not_found("Page"))?;
        let gsi1pk = schema::services_gsi1pk(org, page);
        let start = cursor.map(|c| cursor::decode(c, schema::GSI1PK, &gsi1pk)).transpose()?;
        let query = self
            .client()
            .query()
            .index_name(schema::GSI1)
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", s(&gsi1pk));
        let (items, last) = self.query_up_to(query, limit, start).await?;
        Ok(Listing {
            items: items
                .into_iter()
                .map(|i| from_item::<ServiceItem>(i).map(|i| i.service))
                .collect::<Result<_, _>>()?,
            next_cursor: last.as_ref().map(cursor::encode),
        })
    }

    /// Changes a service of `org`.
    pub async fn update_service(
        &self,
        org: Uuid,
        id: Uuid,
        patch: ServicePatch,
        now: &str,
    ) -> Result<Service, ApiError> {
        let mut changes = Changes::default();
        changes.set("updatedAt", s(now));
        if let Some(name) = &patch.name {
            changes.set("name", s(name));
        }
        if let Some(url) = &patch.monitor_url {
            changes.set("monitorUrl", url.as_ref().map_or(AttributeValue::Null(true), s));
        }
        if let Some(status) = patch.current_status {
            changes.set("currentStatus", serde_dynamo::to_attribute_value(status).map_err(ApiError::internal)?);
        }
        if let Some(order) = patch.display_order {
            changes.set("displayOrder", n(order));
            changes.set(schema::GSI1SK, s(schema::service_gsi1sk(order, id)));
        }
        let call = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), schema::service_sk(id))))
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllNew);
        match changes.apply(call).send().await {
            Ok(out) => Ok(from_item::<ServiceItem>(out.attributes.unwrap_or_default())?.service),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(ApiError::not_found("Service"))
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// Deletes a service of `org`.
    pub async fn delete_service(&self, org: Uuid, id: Uuid) -> Result<(), ApiError> {
        let deleted = self
            .client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), schema::service_sk(id))))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(ApiError::not_found("Service"))
            }
            Err(e) => Err(sdk_error(e)),
        }
    }
}
