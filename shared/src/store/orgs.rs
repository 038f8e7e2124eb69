//! Organizations: created by operators, never through the public API.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::StoreError;
use super::{Store, from_item, key, schema, sdk_error, to_item};
use crate::domain::Plan;

/// An organization as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Org {
    /// Organization id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Plan; its limits come from [`Plan::limits`].
    pub plan: Plan,
    /// Pages the organization has now; kept by the page transactions.
    pub page_count: u32,
    /// Creation time.
    pub created_at: String,
}

#[derive(Serialize, Deserialize)]
struct OrgItem {
    pk: String,
    sk: String,
    entity: String,
    #[serde(flatten)]
    org: Org,
}

impl Store {
    /// Creates an organization.
    pub async fn create_org(&self, name: String, plan: Plan, now: &str) -> Result<Org, StoreError> {
        self.create_org_with_id(Uuid::now_v7(), name, plan, now).await
    }

    /// Creates an organization with a given id (the demo data of the sample events).
    pub async fn create_org_with_id(&self, id: Uuid, name: String, plan: Plan, now: &str) -> Result<Org, StoreError> {
        let org = Org { id, name, plan, page_count: 0, created_at: now.to_owned() };
        let item = OrgItem { pk: schema::org_pk(org.id), sk: schema::ORG_SK.to_owned(), entity: "org".into(), org };
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(to_item(&item)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(item.org)
    }

    /// Reads an organization.
    pub async fn get_org(&self, org: Uuid) -> Result<Option<Org>, StoreError> {
        let out = self.get(&key(schema::org_pk(org), schema::ORG_SK), true).await?;
        out.map(|item| from_item::<OrgItem>(item).map(|i| i.org)).transpose()
    }
}
