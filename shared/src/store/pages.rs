//! Status pages: the page item in the org partition, its global slug claim, and the org's
//! page count, always changed together in one transaction.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::StoreError;
use super::events::{Event, EventType, data_of};
use super::listing::Listing;
use super::quotas::Quota;
use super::write::Write;
use super::{
    Changes, Item, Store, Tx, TxError, cursor, failed_at, from_item, get_n, get_s, key, n, s, schema, to_item,
};
use crate::domain::custom_domain::{DomainStatus, DomainVerification, Hostname};
use crate::domain::page_access::{SIGN_IN_TRIES, SIGN_IN_WINDOW_SECS};
use crate::domain::{HexColor, Plan, Slug};

/// A status page as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    /// Page id (UUID v7).
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Global, URL-safe slug.
    pub slug: String,
    /// Optional description.
    pub description: Option<String>,
    /// Optional `#rrggbb` brand colour.
    pub brand_color: Option<String>,
    /// Whether the page is public.
    pub is_public: bool,
    /// Whether its linked monitors open and resolve incidents.
    #[serde(default)]
    pub auto_incidents: bool,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
    /// The custom domain it is (to be) served at, if any.
    #[serde(default)]
    pub domain: Option<String>,
    /// Where the domain stands (`null` without a domain).
    #[serde(default)]
    pub domain_status: Option<DomainStatus>,
    /// The DNS records that prove and route the domain (`null` without one).
    #[serde(default)]
    pub domain_verification: Option<DomainVerification>,
    /// Whether readers need the page's password (or its access token).
    #[serde(default)]
    pub password_protected: bool,
    /// The password's Argon2id hash. Read from the item, never serialized: not in the
    /// API, not in events, written only by [`Store::update_page`].
    #[serde(default, skip_serializing)]
    pub password_hash: Option<PasswordHash>,
    /// What the page's access token is derived from (`None`: never rotated). Never
    /// serialized, as `password_hash`.
    #[serde(default, skip_serializing)]
    pub access_nonce: Option<String>,
}

/// A page password's Argon2id hash (PHC string); never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(pub String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageItem {
    pk: String,
    sk: String,
    entity: String,
    org_id: Uuid,
    #[serde(flatten)]
    page: Page,
    /// Set when a delete has begun: the page is gone for readers and takes no children.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deleting: Option<String>,
}

/// A validated new page.
#[derive(Debug)]
pub struct NewPage {
    /// Its id: a fresh UUID v7 from the API.
    pub id: Uuid,
    /// Name, 1–100 characters.
    pub name: String,
    /// Slug.
    pub slug: Slug,
    /// Description, at most 500 characters.
    pub description: Option<String>,
    /// Brand colour.
    pub brand_color: Option<HexColor>,
    /// Public or not.
    pub is_public: bool,
    /// Automatic incidents from linked monitors.
    pub auto_incidents: bool,
}

/// A validated change; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct PagePatch {
    /// New name.
    pub name: Option<String>,
    /// New slug; the old one is freed in the same transaction.
    pub slug: Option<Slug>,
    /// New or cleared description.
    pub description: Option<Option<String>>,
    /// New or cleared brand colour.
    pub brand_color: Option<Option<HexColor>>,
    /// New visibility.
    pub is_public: Option<bool>,
    /// Automatic incidents on or off.
    pub auto_incidents: Option<bool>,
    /// A new custom domain, or `None` to remove it. Setting the domain the page has
    /// changes nothing (its status stays).
    pub domain: Option<Option<NewDomain>>,
    /// A new password's hash, or `None` to remove the password.
    pub password: Option<Option<PasswordHash>>,
    /// A new access-token nonce (a rotation).
    pub access_nonce: Option<String>,
}

/// A custom domain set on a page, with its records and first status.
#[derive(Clone, Debug)]
pub struct NewDomain {
    /// The domain.
    pub host: Hostname,
    /// Its records (the TXT proof with a fresh token, and the CNAME target).
    pub verification: DomainVerification,
    /// `pending`, or `verified` at once (a `.localhost` domain of the local run).
    pub status: DomainStatus,
}

/// A domain's claim as host routing reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainClaim {
    /// The organization of the page.
    pub org_id: Uuid,
    /// The page.
    pub page_id: Uuid,
    /// The page's slug (kept in step by slug changes).
    pub slug: String,
    /// Whether it is served (only when verified).
    pub status: DomainStatus,
    /// When the page took the domain (`None` for claims older than the field).
    pub since: Option<String>,
}

impl PagePatch {
    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.slug.is_none()
            && self.description.is_none()
            && self.brand_color.is_none()
            && self.is_public.is_none()
            && self.auto_incidents.is_none()
            && self.domain.is_none()
            && self.password.is_none()
            && self.access_nonce.is_none()
    }
}

impl Store {
    /// How long `client` must wait before trying `page`'s password again: `Some(seconds)`
    /// once it has tried [`SIGN_IN_TRIES`] wrong ones within [`SIGN_IN_WINDOW_SECS`] of
    /// its first; `None` while it may try. One strongly consistent read.
    pub async fn sign_in_wait(&self, page: Uuid, client: &str, now_epoch: i64) -> Result<Option<u64>, StoreError> {
        let sk = schema::sign_in_failures_sk(&address_key(client));
        let Some(item) = self.get(&key(schema::sign_ups_pk(page), sk), true).await? else { return Ok(None) };
        let (count, since) = (get_n(&item, "count").unwrap_or(0), get_n(&item, "since").unwrap_or(0));
        let ends = since + SIGN_IN_WINDOW_SECS;
        Ok((count >= i64::from(SIGN_IN_TRIES) && ends > now_epoch)
            .then(|| u64::try_from(ends - now_epoch).unwrap_or(1).max(1)))
    }

    /// Counts one wrong password from `client` on `page`: one more in the current window,
    /// or the first of a new one when the last has ended.
    pub async fn count_wrong_password(&self, page: Uuid, client: &str, now_epoch: i64) -> Result<(), StoreError> {
        let key = key(schema::sign_ups_pk(page), schema::sign_in_failures_sk(&address_key(client)));
        let counted = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key.clone()))
            .update_expression("ADD #n :one")
            .condition_expression("#since > :cutoff")
            .expression_attribute_names("#n", "count")
            .expression_attribute_names("#since", "since")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":cutoff", n(now_epoch - SIGN_IN_WINDOW_SECS))
            .send()
            .await;
        match counted {
            Ok(_) => Ok(()),
            // No window open: this try opens one. Two first tries at once may both land
            // here; the later write wins and one try goes uncounted, which the limit bears.
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                let mut item = key;
                item.insert("count".into(), n(1));
                item.insert("since".into(), n(now_epoch));
                item.insert(schema::TTL.into(), n(now_epoch + SIGN_IN_WINDOW_SECS + 60));
                self.client()
                    .put_item()
                    .table_name(self.table())
                    .set_item(Some(item))
                    .send()
                    .await
                    .map_err(super::sdk_error)?;
                Ok(())
            }
            Err(e) => Err(super::sdk_error(e)),
        }
    }
}

/// A client address as the counters key it: hashed, so the table holds no addresses.
fn address_key(client: &str) -> String {
    use sha2::Digest as _;
    crate::hex::lower(&sha2::Sha256::digest(client.as_bytes()))
}

/// Condition on the organization item: it exists and its plan allows one more page. Built
/// from [`Plan::limits`], so the limit table stays the one place limits live.
fn plan_allows_another_page() -> (String, Vec<(String, AttributeValue)>) {
    let mut clauses = Vec::new();
    let mut values = Vec::new();
    for (i, plan) in Plan::ALL.iter().enumerate() {
        clauses.push(format!("(#plan = :plan{i} AND pageCount < :limit{i})"));
        values.push((format!(":plan{i}"), s(plan.as_str())));
        values.push((format!(":limit{i}"), n(plan.limits().pages)));
    }
    (format!("attribute_exists(pk) AND ({})", clauses.join(" OR ")), values)
}

impl Store {
    /// Creates a page, claiming its slug and counting it against the plan, atomically.
    pub async fn create_page(&self, w: &Write<'_>, new: NewPage) -> Result<Page, StoreError> {
        let (org, actor, now) = (w.org, &w.actor, w.now.text());
        let page = Page {
            id: new.id,
            name: new.name,
            slug: new.slug.as_str().to_owned(),
            description: new.description,
            brand_color: new.brand_color.map(|c| c.to_string()),
            is_public: new.is_public,
            auto_incidents: new.auto_incidents,
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
            domain: None,
            domain_status: None,
            domain_verification: None,
            password_protected: false,
            password_hash: None,
            access_nonce: None,
        };
        let item = PageItem {
            pk: schema::org_pk(org),
            sk: schema::page_sk(page.id),
            entity: "page".into(),
            org_id: org,
            page,
            deleting: None,
        };
        let (condition, values) = plan_allows_another_page();
        let mut tx = Tx::new();
        tx.push(self.put_new(to_item(&item)?)?);
        let slug = tx.push(self.put_new(slug_item(&new.slug, org, item.page.id))?);
        let page_count = tx.push(
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(self.table())
                        .set_key(Some(key(schema::org_pk(org), schema::ORG_SK)))
                        .update_expression("ADD pageCount :one")
                        .condition_expression(condition)
                        .expression_attribute_names("#plan", "plan")
                        .set_expression_attribute_values(Some(
                            values.into_iter().chain([(":one".into(), n(1))]).collect(),
                        ))
                        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                        .build()
                        .map_err(StoreError::internal)?,
                )
                .build(),
        );
        tx.push(self.event_put(
            org,
            Event::new(EventType::PageCreated, Some(item.page.id), actor, now, data_of("page", &item.page)),
        )?);
        match self.transact(tx).await {
            Ok(()) => Ok(item.page),
            Err(TxError::Cancelled(reasons)) if failed_at(&reasons, slug).is_some() => {
                Err(StoreError::SlugTaken(new.slug.to_string()))
            }
            Err(TxError::Cancelled(reasons)) if failed_at(&reasons, page_count).is_some() => {
                let org_item = failed_at(&reasons, page_count).and_then(|r| r.item().cloned()).unwrap_or_default();
                Err(plan_limit(&org_item))
            }
            Err(e) => Err(e.into_error()),
        }
    }

    /// Reads a page of `org`; a page being deleted is already gone.
    pub async fn get_page(&self, org: Uuid, page: Uuid) -> Result<Option<Page>, StoreError> {
        Ok(self.get_page_item(org, page).await?.map(|i| i.page))
    }

    async fn get_page_item(&self, org: Uuid, page: Uuid) -> Result<Option<PageItem>, StoreError> {
        let out = self.get(&key(schema::org_pk(org), schema::page_sk(page)), true).await?;
        let item = out.map(from_item::<PageItem>).transpose()?;
        Ok(item.filter(|i| i.deleting.is_none()))
    }

    /// The public page a slug names, with its organization: two reads (the slug's claim,
    /// then the page). `None` alike for a slug nobody holds, a page that is not public and
    /// a page being deleted, so nothing private can be told apart from the outside.
    pub async fn public_page(&self, slug: &str) -> Result<Option<(Uuid, Page)>, StoreError> {
        Ok(self.page_by_slug(slug).await?.filter(|(_, page)| page.is_public))
    }

    /// The page a slug names, public or not (not one being deleted), with its
    /// organization: for the subscription links, which prove themselves with a token.
    pub async fn page_by_slug(&self, slug: &str) -> Result<Option<(Uuid, Page)>, StoreError> {
        let Ok(slug) = Slug::parse(slug) else { return Ok(None) };
        let claim = self.get(&key(schema::slug_pk(slug.as_str()), schema::SLUG_SK), false).await?;
        let parse = |item: &Item, attr| get_s(item, attr).and_then(|v| Uuid::parse_str(v).ok());
        let Some((org, page)) = claim.and_then(|c| Some((parse(&c, "orgId")?, parse(&c, "pageId")?))) else {
            return Ok(None);
        };
        let out = self.get(&key(schema::org_pk(org), schema::page_sk(page)), false).await?;
        let item = out.map(from_item::<PageItem>).transpose()?;
        Ok(item.filter(|i| i.deleting.is_none() && i.page.slug == slug.as_str()).map(|i| (org, i.page)))
    }

    /// Lists the pages of `org`, oldest first.
    pub async fn list_pages(&self, org: Uuid, limit: u32, cursor: Option<&str>) -> Result<Listing<Page>, StoreError> {
        let pk = schema::org_pk(org);
        let start = cursor.map(|c| cursor::decode(c, schema::PK, &pk)).transpose()?;
        let query = self
            .client()
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .filter_expression("attribute_not_exists(deleting)")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":prefix", s(schema::PAGE_PREFIX))
            .consistent_read(true);
        // Straight into `Page` (the item's other attributes are ignored): `PageItem`'s
        // `flatten` would buffer every attribute first.
        self.list(query, limit, start, |page: Page| page).await
    }

    /// Applies a change to a page. A new slug is claimed and the old one freed in the same
    /// transaction as the page update.
    pub async fn update_page(&self, w: &Write<'_>, page_id: Uuid, patch: PagePatch) -> Result<Page, StoreError> {
        let (org, actor, now) = (w.org, &w.actor, w.now.text());
        if patch.is_empty() {
            return self.get_page(org, page_id).await?.ok_or_else(|| StoreError::not_found("Page"));
        }
        for attempt in 1..=5 {
            let current = self.get_page_item(org, page_id).await?.ok_or_else(|| StoreError::not_found("Page"))?;
            let mut patch = patch.clone();
            let same_domain =
                |d: &Option<NewDomain>| d.as_ref().map(|n| n.host.as_str()) == current.page.domain.as_deref();
            if patch.domain.as_ref().is_some_and(same_domain) {
                patch.domain = None;
            }
            let new_slug = patch.slug.as_ref().filter(|s| s.as_str() != current.page.slug);
            let updated = apply(current.page.clone(), &patch, now);
            let event = Event::new(EventType::PageUpdated, Some(page_id), actor, now, data_of("page", &updated));
            if new_slug.is_none() && patch.domain.is_none() {
                return self.update_page_in_place(org, page_id, &patch, event, updated, now).await;
            }
            // The slug's and the domain's claims change with the page, in one transaction
            // conditioned on the page as read.
            let mut changes = page_changes(&patch, now);
            changes.value(":readAt", s(&current.page.updated_at));
            let update = changes
                .apply_tx(
                    Update::builder()
                        .table_name(self.table())
                        .set_key(Some(key(schema::org_pk(org), schema::page_sk(page_id)))),
                )
                .condition_expression(
                    "attribute_exists(pk) AND attribute_not_exists(deleting) AND updatedAt = :readAt",
                );
            let mut tx = Tx::new();
            tx.push(TransactWriteItem::builder().update(update.build().map_err(StoreError::internal)?).build());
            let mut new_slug_claim = None;
            if let Some(new_slug) = new_slug {
                tx.push(self.delete_claim(key(schema::slug_pk(&current.page.slug), schema::SLUG_SK), page_id)?);
                new_slug_claim = Some(tx.push(self.put_new(slug_item(new_slug, org, page_id))?));
            }
            match (&current.page.domain, &patch.domain) {
                (Some(old), Some(_)) => {
                    tx.push(self.delete_claim(key(schema::domain_pk(old), schema::DOMAIN_SK), page_id)?);
                    if current.page.domain_status == Some(DomainStatus::Verified) {
                        tx.push(self.put(cdn_tombstone(old, page_id, now))?);
                    }
                }
                (Some(old), None) => {
                    let update = Update::builder()
                        .table_name(self.table())
                        .set_key(Some(key(schema::domain_pk(old), schema::DOMAIN_SK)))
                        .update_expression("SET slug = :slug")
                        .condition_expression("pageId = :page")
                        .expression_attribute_values(":slug", s(&updated.slug))
                        .expression_attribute_values(":page", s(page_id.to_string()))
                        .build()
                        .map_err(StoreError::internal)?;
                    tx.push(TransactWriteItem::builder().update(update).build());
                }
                (None, _) => {}
            }
            let mut new_domain_claim = None;
            if let Some(Some(new)) = &patch.domain {
                let claim = domain_claim_item(new, org, page_id, &updated.slug, now);
                new_domain_claim = Some(tx.push(self.put_new(claim)?));
            }
            tx.push(self.event_put(org, event)?);
            match self.transact(tx).await {
                Ok(()) => return Ok(updated),
                Err(TxError::Cancelled(reasons))
                    if new_slug_claim.is_some_and(|c| failed_at(&reasons, c).is_some()) =>
                {
                    return Err(StoreError::SlugTaken(updated.slug));
                }
                Err(TxError::Cancelled(reasons))
                    if new_domain_claim.is_some_and(|c| failed_at(&reasons, c).is_some()) =>
                {
                    return Err(StoreError::DomainTaken(updated.domain.unwrap_or_default()));
                }
                // The page changed or began deleting since we read it: read again.
                Err(TxError::Cancelled(_)) if attempt < 5 => continue,
                Err(e) => return Err(e.into_error()),
            }
        }
        Err(StoreError::Unavailable("page kept changing during the update".into()))
    }

    /// The CDN work due by `now`, oldest first, at most `limit`.
    pub async fn due_cdn_work(&self, now: &str, limit: u32) -> Result<Vec<(CdnWork, String)>, StoreError> {
        let query = self
            .client()
            .query()
            .index_name(schema::GSI2)
            .key_condition_expression("gsi2pk = :pk AND gsi2sk < :upto")
            .expression_attribute_values(":pk", s(schema::CDN_WORK_GSI2PK))
            .expression_attribute_values(":upto", s(format!("{now}$")))
            .projection_expression("gsi2sk");
        let (items, _) = self.query_up_to(query, limit, None).await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let (_, rest) = get_s(item, "gsi2sk")?.split_once('#')?;
                let (work, domain) = rest.split_once('#')?;
                let work = match work {
                    "attach" => CdnWork::Attach,
                    "detach" => CdnWork::Detach,
                    _ => return None,
                };
                Some((work, domain.to_owned()))
            })
            .collect())
    }

    /// Records that a verified domain is on the CDN (`tenant`: its tenant's id, `None`
    /// without a CDN): it leaves the CDN's work. Nothing when the claim changed meanwhile.
    pub async fn cdn_attached(&self, domain: &str, page: Uuid, tenant: Option<&str>) -> Result<(), StoreError> {
        let mut update = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(schema::domain_pk(domain), schema::DOMAIN_SK)))
            .condition_expression("pageId = :page AND #status = :verified")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":page", s(page.to_string()))
            .expression_attribute_values(":verified", s(DomainStatus::Verified.as_str()));
        update = match tenant {
            Some(id) => update
                .update_expression("SET cdnTenant = :tenant REMOVE gsi2pk, gsi2sk")
                .expression_attribute_values(":tenant", s(id)),
            None => update.update_expression("REMOVE gsi2pk, gsi2sk"),
        };
        match update.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(super::sdk_error(e)),
        }
    }

    /// Puts CDN work off until `at` (a failed or unfinished try).
    pub async fn reschedule_cdn_work(&self, work: CdnWork, domain: &str, at: &str) -> Result<(), StoreError> {
        let item = match work {
            CdnWork::Attach => key(schema::domain_pk(domain), schema::DOMAIN_SK),
            CdnWork::Detach => key(schema::cdn_tombstone_pk(domain), schema::CDN_TOMBSTONE_SK),
        };
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(item))
            .update_expression("SET gsi2sk = :next")
            .condition_expression("gsi2pk = :pk")
            .expression_attribute_values(":next", s(cdn_work_sk(at, work, domain)))
            .expression_attribute_values(":pk", s(schema::CDN_WORK_GSI2PK))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Done or gone meanwhile.
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(super::sdk_error(e)),
        }
    }

    /// Drops a removed domain's tombstone: the CDN has let it go.
    pub async fn cdn_detached(&self, domain: &str) -> Result<(), StoreError> {
        self.client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(key(schema::cdn_tombstone_pk(domain), schema::CDN_TOMBSTONE_SK)))
            .send()
            .await
            .map_err(super::sdk_error)?;
        Ok(())
    }

    /// Deletes a claim (slug or domain) that `page` holds.
    fn delete_claim(&self, claim: Item, page: Uuid) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(self.table())
            .set_key(Some(claim))
            .condition_expression("pageId = :page")
            .expression_attribute_values(":page", s(page.to_string()))
            .build()
            .map_err(StoreError::internal)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// The claim of a domain, read strongly consistent (removing a domain stops serving
    /// it at once): one `GetItem`, the one read host routing adds to a page view.
    pub async fn domain_claim(&self, domain: &str) -> Result<Option<DomainClaim>, StoreError> {
        let Some(item) = self.get(&key(schema::domain_pk(domain), schema::DOMAIN_SK), true).await? else {
            return Ok(None);
        };
        let id = |attr| get_s(&item, attr).and_then(|v| Uuid::parse_str(v).ok());
        let (Some(org_id), Some(page_id), Some(slug), Some(status)) =
            (id("orgId"), id("pageId"), get_s(&item, "slug"), get_s(&item, "status").and_then(DomainStatus::parse))
        else {
            return Err(StoreError::internal("a domain claim without its page"));
        };
        let since = get_s(&item, "since").map(str::to_owned);
        Ok(Some(DomainClaim { org_id, page_id, slug: slug.to_owned(), status, since }))
    }

    /// Moves a pending domain's next check to `at`.
    pub async fn reschedule_domain_check(&self, domain: &str, page: Uuid, at: &str) -> Result<(), StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(schema::domain_pk(domain), schema::DOMAIN_SK)))
            .update_expression("SET gsi2sk = :next")
            .condition_expression("pageId = :page AND #status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":next", s(format!("{at}#{domain}")))
            .expression_attribute_values(":page", s(page.to_string()))
            .expression_attribute_values(":pending", s(DomainStatus::Pending.as_str()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Removed, moved to another page or verified meanwhile: nothing to reschedule.
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(super::sdk_error(e)),
        }
    }

    /// The pending domains whose check is due at `now`, earliest first, at most `limit`.
    pub async fn due_domain_checks(&self, now: &str, limit: u32) -> Result<Vec<String>, StoreError> {
        let query = self
            .client()
            .query()
            .index_name(schema::GSI2)
            .key_condition_expression("gsi2pk = :pk AND gsi2sk < :upto")
            .expression_attribute_values(":pk", s(schema::DOMAIN_CHECKS_GSI2PK))
            .expression_attribute_values(":upto", s(format!("{now}$")))
            .projection_expression("gsi2sk");
        let (items, _) = self.query_up_to(query, limit, None).await?;
        Ok(items
            .iter()
            .filter_map(|item| get_s(item, "gsi2sk").and_then(|sk| sk.split_once('#')).map(|(_, d)| d.to_owned()))
            .collect())
    }

    /// Records the outcome of a domain's check: the page's `domainStatus` and its claim's
    /// status in one transaction, with a `page.updated` event; only while the page still
    /// has that domain (`None`: it has another, or none). Unchanged status writes nothing.
    pub async fn set_domain_status(
        &self,
        w: &Write<'_>,
        page_id: Uuid,
        domain: &str,
        status: DomainStatus,
    ) -> Result<Option<Page>, StoreError> {
        let (org, actor, now) = (w.org, &w.actor, w.now.text());
        let Some(current) = self.get_page_item(org, page_id).await? else { return Ok(None) };
        if current.page.domain.as_deref() != Some(domain) {
            return Ok(None);
        }
        if current.page.domain_status == Some(status) {
            return Ok(Some(current.page));
        }
        let mut updated = current.page.clone();
        updated.domain_status = Some(status);
        updated.updated_at = now.to_owned();
        let page_update = Update::builder()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), schema::page_sk(page_id))))
            .update_expression("SET domainStatus = :status, updatedAt = :now")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleting) AND #domain = :domain")
            .expression_attribute_names("#domain", "domain")
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":domain", s(domain))
            .build()
            .map_err(StoreError::internal)?;
        let mut claim_update = Update::builder()
            .table_name(self.table())
            .set_key(Some(key(schema::domain_pk(domain), schema::DOMAIN_SK)))
            .update_expression(match status {
                DomainStatus::Pending => "SET #status = :status",
                // Verified: the CDN's turn, to put the domain on a tenant.
                DomainStatus::Verified => "SET #status = :status, gsi2pk = :cdn, gsi2sk = :due",
                DomainStatus::Failed => "SET #status = :status REMOVE gsi2pk, gsi2sk",
            })
            .condition_expression("pageId = :page")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":page", s(page_id.to_string()));
        if status == DomainStatus::Verified {
            claim_update = claim_update
                .expression_attribute_values(":cdn", s(schema::CDN_WORK_GSI2PK))
                .expression_attribute_values(":due", s(cdn_work_sk(now, CdnWork::Attach, domain)));
        }
        let claim_update = claim_update.build().map_err(StoreError::internal)?;
        let event = Event::new(EventType::PageUpdated, Some(page_id), actor, now, data_of("page", &updated));
        let tx = vec![
            TransactWriteItem::builder().update(page_update).build(),
            TransactWriteItem::builder().update(claim_update).build(),
            self.event_put(org, event)?,
        ];
        match self.transact(tx).await {
            Ok(()) => Ok(Some(updated)),
            // The domain changed meanwhile: this check's outcome is for a domain it no longer has.
            Err(TxError::Cancelled(_)) => Ok(None),
            Err(e) => Err(e.into_error()),
        }
    }

    async fn update_page_in_place(
        &self,
        org: Uuid,
        page_id: Uuid,
        patch: &PagePatch,
        event: Event,
        page: Page,
        now: &str,
    ) -> Result<Page, StoreError> {
        let update = page_changes(patch, now)
            .apply_tx(
                Update::builder()
                    .table_name(self.table())
                    .set_key(Some(key(schema::org_pk(org), schema::page_sk(page_id)))),
            )
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleting)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(StoreError::internal)?;
        let mut tx = Tx::new();
        let page_update = tx.push(TransactWriteItem::builder().update(update).build());
        tx.push(self.event_put(org, event)?);
        match self.transact(tx).await {
            Ok(()) => Ok(page),
            Err(TxError::Cancelled(reasons)) if failed_at(&reasons, page_update).is_some() => {
                Err(StoreError::not_found("Page"))
            }
            Err(e) => Err(e.into_error()),
        }
    }

    /// Deletes a page and everything under it. The page is first marked as deleting (it
    /// disappears for readers and accepts no new children), then its children are
    /// removed, then the page, its slug claim and its place in the page count go in one
    /// transaction. A retried delete of a half-deleted page finishes the job.
    pub async fn delete_page(&self, w: &Write<'_>, page_id: Uuid) -> Result<(), StoreError> {
        let (org, actor, now) = (w.org, &w.actor, w.now.text());
        let page = self
            .mark_deleting(key(schema::org_pk(org), schema::page_sk(page_id)), now)
            .await?
            .ok_or_else(|| StoreError::not_found("Page"))?;
        let slug = get_s(&page, "slug").ok_or_else(|| StoreError::internal("page item without slug"))?.to_owned();
        let domain = get_s(&page, "domain").map(str::to_owned);

        let mut children = self.page_children(org, page_id).await?;
        // Monitors count against the organization's plan: each leaves with its place.
        let mut monitors = Vec::new();
        let mut others = Vec::with_capacity(children.len());
        for mut child in children.drain(..) {
            let entity = child.remove("entity");
            match entity.as_ref().and_then(|e| e.as_s().ok()) {
                Some(e) if e == "monitor" => monitors.push(child),
                _ => others.push(child),
            }
        }
        self.delete_counted(org, monitors, Quota::Monitors).await?;
        self.delete_keys(others).await?;

        let mut tx = Tx::new();
        let page_delete = tx.push(
            TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(self.table())
                        .set_key(Some(key(schema::org_pk(org), schema::page_sk(page_id))))
                        .condition_expression("attribute_exists(deleting)")
                        .build()
                        .map_err(StoreError::internal)?,
                )
                .build(),
        );
        if let Some(domain) = &domain {
            tx.push(self.delete_claim(key(schema::domain_pk(domain), schema::DOMAIN_SK), page_id)?);
            if get_s(&page, "domainStatus") == Some(DomainStatus::Verified.as_str()) {
                tx.push(self.put(cdn_tombstone(domain, page_id, now))?);
            }
        }
        tx.extend([
            self.delete_claim(key(schema::slug_pk(&slug), schema::SLUG_SK), page_id)?,
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(self.table())
                        .set_key(Some(key(schema::org_pk(org), schema::ORG_SK)))
                        .update_expression("ADD pageCount :minus")
                        .condition_expression("attribute_exists(pk) AND pageCount > :zero")
                        .expression_attribute_values(":minus", n(-1))
                        .expression_attribute_values(":zero", n(0))
                        .build()
                        .map_err(StoreError::internal)?,
                )
                .build(),
            self.event_put(
                org,
                Event::new(
                    EventType::PageDeleted,
                    Some(page_id),
                    actor,
                    now,
                    serde_json::json!({ "page": { "id": page_id, "slug": slug } }),
                ),
            )?,
        ]);
        match self.transact(tx).await {
            Ok(()) => Ok(()),
            // A concurrent delete of the same page finished first.
            Err(TxError::Cancelled(reasons)) if failed_at(&reasons, page_delete).is_some() => Ok(()),
            Err(e) => Err(e.into_error()),
        }
    }

    /// Deletes the items at `keys` and gives back their places in `quota`, in the same
    /// transactions (99 items and the counter each). A batch that finds one already gone
    /// (a concurrent delete gave its place back) goes one by one.
    async fn delete_counted(&self, org: Uuid, keys: Vec<Item>, quota: Quota) -> Result<(), StoreError> {
        let delete = |key: Item| -> Result<TransactWriteItem, StoreError> {
            let delete = Delete::builder()
                .table_name(self.table())
                .set_key(Some(key))
                .condition_expression("attribute_exists(pk)")
                .build()
                .map_err(StoreError::internal)?;
            Ok(TransactWriteItem::builder().delete(delete).build())
        };
        for batch in keys.chunks(99) {
            let count = u32::try_from(batch.len()).map_err(StoreError::internal)?;
            let mut items = batch.iter().cloned().map(delete).collect::<Result<Vec<_>, _>>()?;
            items.push(self.give_org_quota(org, quota, count)?);
            match self.transact(items).await {
                Ok(()) => continue,
                Err(TxError::Cancelled(_)) if batch.len() > 1 => {}
                Err(TxError::Cancelled(_)) => continue,
                Err(e) => return Err(e.into_error()),
            }
            for key in batch {
                let items = vec![delete(key.clone())?, self.give_org_quota(org, quota, 1)?];
                match self.transact(items).await {
                    Ok(()) | Err(TxError::Cancelled(_)) => {}
                    Err(e) => return Err(e.into_error()),
                }
            }
        }
        Ok(())
    }

    /// Keys (and entity) of every item in the org partition that belongs to the page. Read with a
    /// strongly consistent query of the partition (not the GSI), so nothing written
    /// before the page was marked is missed.
    async fn page_children(&self, org: Uuid, page_id: Uuid) -> Result<Vec<Item>, StoreError> {
        let query = self
            .client()
            .query()
            .key_condition_expression("pk = :pk")
            // Events stay: they are the organization's audit log, and expire on their own.
            .filter_expression("pageId = :page AND (attribute_not_exists(entity) OR entity <> :event)")
            .projection_expression("pk, sk, entity")
            .expression_attribute_values(":pk", s(schema::org_pk(org)))
            .expression_attribute_values(":page", s(page_id.to_string()))
            .expression_attribute_values(":event", s("event"))
            .consistent_read(true);
        self.query_all(query).await
    }

    /// A condition that the page exists and is not being deleted, for transactions that
    /// add children to it.
    pub(crate) fn page_is_live(&self, org: Uuid, page: Uuid) -> Result<TransactWriteItem, StoreError> {
        let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), schema::page_sk(page))))
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleting)")
            .build()
            .map_err(StoreError::internal)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }
}

/// A domain's claim: the page it serves (and its slug, so routing needs no second read of
/// a claim) and its status.
/// A pending one is due for its first check at once.
fn domain_claim_item(new: &NewDomain, org: Uuid, page: Uuid, slug: &str, now: &str) -> Item {
    let mut item = key(schema::domain_pk(new.host.as_str()), schema::DOMAIN_SK);
    if new.status == DomainStatus::Pending {
        item.insert("gsi2pk".into(), s(schema::DOMAIN_CHECKS_GSI2PK));
        item.insert("gsi2sk".into(), s(format!("{now}#{}", new.host)));
    }
    item.insert("entity".into(), s("domain"));
    item.insert("orgId".into(), s(org.to_string()));
    item.insert("pageId".into(), s(page.to_string()));
    item.insert("slug".into(), s(slug));
    item.insert("status".into(), s(new.status.as_str()));
    item.insert("since".into(), s(now));
    item
}

/// What the CDN has to do for a domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CdnWork {
    /// Put the verified domain on a tenant.
    Attach,
    /// Take the removed domain's tenant away.
    Detach,
}

impl CdnWork {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Attach => "attach",
            Self::Detach => "detach",
        }
    }
}

/// `<when>#attach|detach#<domain>`: the GSI2 sort key of CDN work.
fn cdn_work_sk(at: &str, work: CdnWork, domain: &str) -> String {
    format!("{at}#{}#{domain}", work.as_str())
}

/// The tombstone of a verified domain a page let go: the CDN's tenant goes later.
fn cdn_tombstone(domain: &str, page: Uuid, now: &str) -> Item {
    let mut item = key(schema::cdn_tombstone_pk(domain), schema::CDN_TOMBSTONE_SK);
    item.insert("entity".into(), s("cdn-detach"));
    item.insert("gsi2pk".into(), s(schema::CDN_WORK_GSI2PK));
    item.insert("gsi2sk".into(), s(cdn_work_sk(now, CdnWork::Detach, domain)));
    item.insert("pageId".into(), s(page.to_string()));
    item
}

fn slug_item(slug: &Slug, org: Uuid, page: Uuid) -> Item {
    let mut item = key(schema::slug_pk(slug.as_str()), schema::SLUG_SK);
    item.insert("entity".into(), s("slug"));
    item.insert("orgId".into(), s(org.to_string()));
    item.insert("pageId".into(), s(page.to_string()));
    item
}

fn plan_limit(org_item: &Item) -> StoreError {
    let plan = get_s(org_item, "plan").and_then(Plan::parse);
    match plan {
        Some(plan) => StoreError::PlanLimit(format!(
            "The {} plan allows {} page(s) and this organization has {}. Upgrade to add more.",
            plan.as_str(),
            plan.limits().pages,
            get_n(org_item, "pageCount").unwrap_or(0)
        )),
        None => StoreError::PlanLimit("This organization's plan does not allow more pages.".into()),
    }
}

/// The changes a patch makes to a page's own attributes.
fn page_changes(patch: &PagePatch, now: &str) -> Changes {
    let mut changes = Changes::default();
    changes.set("updatedAt", s(now));
    if let Some(name) = &patch.name {
        changes.set("name", s(name));
    }
    if let Some(slug) = &patch.slug {
        changes.set("slug", s(slug.as_str()));
    }
    if let Some(description) = &patch.description {
        changes.set("description", description.as_ref().map_or(AttributeValue::Null(true), s));
    }
    if let Some(color) = &patch.brand_color {
        changes.set("brandColor", color.map_or(AttributeValue::Null(true), |c| s(c.to_string())));
    }
    if let Some(public) = patch.is_public {
        changes.set("isPublic", AttributeValue::Bool(public));
    }
    if let Some(auto) = patch.auto_incidents {
        changes.set("autoIncidents", AttributeValue::Bool(auto));
    }
    if let Some(domain) = &patch.domain {
        let null = || AttributeValue::Null(true);
        changes.set("domain", domain.as_ref().map_or_else(null, |d| s(d.host.as_str())));
        changes.set("domainStatus", domain.as_ref().map_or_else(null, |d| s(d.status.as_str())));
        let records = domain.as_ref().and_then(|d| serde_dynamo::to_attribute_value(&d.verification).ok());
        changes.set("domainVerification", records.unwrap_or_else(null));
    }
    if let Some(password) = &patch.password {
        changes.set("passwordHash", password.as_ref().map_or(AttributeValue::Null(true), |h| s(&h.0)));
        changes.set("passwordProtected", AttributeValue::Bool(password.is_some()));
    }
    if let Some(nonce) = &patch.access_nonce {
        changes.set("accessNonce", s(nonce));
    }
    changes
}

/// The page as a patch leaves it.
fn apply(mut page: Page, patch: &PagePatch, now: &str) -> Page {
    if let Some(name) = &patch.name {
        page.name.clone_from(name);
    }
    if let Some(slug) = &patch.slug {
        page.slug = slug.to_string();
    }
    if let Some(description) = &patch.description {
        page.description.clone_from(description);
    }
    if let Some(color) = &patch.brand_color {
        page.brand_color = color.map(|c| c.to_string());
    }
    if let Some(public) = patch.is_public {
        page.is_public = public;
    }
    if let Some(auto) = patch.auto_incidents {
        page.auto_incidents = auto;
    }
    if let Some(domain) = &patch.domain {
        page.domain = domain.as_ref().map(|d| d.host.to_string());
        page.domain_status = domain.as_ref().map(|d| d.status);
        page.domain_verification = domain.as_ref().map(|d| d.verification.clone());
    }
    if let Some(password) = &patch.password {
        page.password_protected = password.is_some();
        page.password_hash.clone_from(password);
    }
    if let Some(nonce) = &patch.access_nonce {
        page.access_nonce = Some(nonce.clone());
    }
    page.updated_at = now.to_owned();
    page
}
