//! API keys: creation, revocation, and authentication combined with the rate limit in one
//! conditional `UpdateItem` (see the README's "Auth and rate limit in one round trip").

use aws_sdk_dynamodb::types::{Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::StoreError;
use super::events::{Event, EventType, data_of};
use super::quotas::{Quota, returned_item};
use super::write::Write;
use super::{Item, Store, Tx, TxError, failed_at, from_item, get_n, get_s, key, n, s, schema, to_item, wire};
use crate::apikey::{KeyHash, PlaintextKey};
use crate::clock::timestamp;
use crate::domain::{MissingScope, Scope, Scopes};

/// Length of a rate-limit window in seconds; windows are aligned to the minute.
pub const WINDOW_SECS: i64 = 60;

/// An API key's public record (never its plaintext or hash).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    /// Key id.
    pub id: Uuid,
    /// Owning organization.
    pub org_id: Uuid,
    /// Name given at creation.
    pub name: String,
    /// Display prefix, `ls_live_xxxx`.
    pub prefix: String,
    /// Scope names; empty means full access.
    pub scopes: Vec<String>,
    /// Creation time.
    pub created_at: String,
    /// Last successful authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    /// Revocation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// Expiry time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiKeyItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    entity: String,
    #[serde(flatten)]
    key: ApiKey,
    rate_limit: u32,
    rl_window: i64,
    rl_count: u32,
}

/// A validated new key.
#[derive(Debug)]
pub struct NewKey<'a> {
    /// Name, 1–120 characters.
    pub name: String,
    /// Scopes; empty is full access.
    pub scopes: &'a [Scope],
    /// Expiry, in the API's timestamp format.
    pub expires_at: Option<String>,
    /// Requests per window.
    pub rate_limit: u32,
}

/// Who is calling: the organization and scopes of an authenticated key.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The key's organization; every lookup is scoped to it.
    pub org_id: Uuid,
    /// The key's id.
    pub key_id: Uuid,
    /// The key's display prefix (`ls_live_xxxx`), for the audit log.
    pub key_prefix: String,
    /// The key's scopes.
    pub scopes: Scopes,
}

impl Principal {
    /// The key as the actor of the events its requests cause.
    pub fn actor(&self) -> super::events::Actor {
        super::events::Actor::key(self.key_id, &self.key_prefix)
    }

    /// `403 insufficient_scope` unless the key holds `scope`: for what a route's own scope
    /// does not cover (a service's linked monitor needs `monitors:write` too).
    pub fn require(&self, scope: Scope) -> Result<(), MissingScope> {
        if self.scopes.allows(scope) { Ok(()) } else { Err(MissingScope(scope)) }
    }
}

/// The state of a key's rate-limit window, for the `X-RateLimit-*` headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub limit: u32,
    /// Requests left in this window.
    pub remaining: u32,
    /// Unix seconds when the window ends.
    pub reset: i64,
}

/// Why authentication did not admit a request; `rate` is set when the key was valid.
#[derive(Debug)]
pub struct AuthRejection {
    /// The error to answer with.
    pub error: StoreError,
    /// The window state, for the headers of a 429.
    pub rate: Option<RateLimit>,
}

impl From<StoreError> for AuthRejection {
    fn from(error: StoreError) -> Self {
        Self { error, rate: None }
    }
}

const VALID_KEY: &str = "attribute_exists(pk) AND attribute_not_exists(revokedAt) AND (attribute_not_exists(expiresAt) OR expiresAt > :now)";

/// Days of per-key usage the API reports and the key item keeps.
pub const USAGE_DAYS: i64 = 30;
const ADMITTED_PREFIX: &str = "usageAdmitted#";
const LIMITED_PREFIX: &str = "usageLimited#";

/// One UTC day of a key's requests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageDay {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Requests the key's rate limit admitted (whatever their status).
    pub admitted: u64,
    /// Requests refused with `429 rate_limited`.
    pub rate_limited: u64,
}

/// A key's requests per UTC day, oldest first.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyUsage {
    /// The key.
    pub key_id: Uuid,
    /// First day reported.
    pub from: String,
    /// Last day reported (today).
    pub to: String,
    /// Sum of `admitted` over the days.
    pub admitted: u64,
    /// Sum of `rateLimited` over the days.
    pub rate_limited: u64,
    /// Every day from `from` to `to`, zeros included.
    pub days: Vec<UsageDay>,
}

fn day_of(epoch: i64) -> String {
    DateTime::<Utc>::from_timestamp(epoch, 0).unwrap_or_default().format("%Y-%m-%d").to_string()
}

impl Store {
    /// Authenticates a key and counts the request against its window, in one conditional
    /// update (two at a window boundary). Revocation and expiry take effect at once.
    ///
    /// Every request of a valid key adds one to the window's counter; the first
    /// `rateLimit` are admitted, the rest answered 429. At a window boundary the closed
    /// window's count is folded into per-day totals on the same item (admitted up to the
    /// limit, the rest rate-limited) and days past the reported range are removed, so
    /// usage costs no extra call and the item stays bounded.
    pub async fn authenticate(
        &self,
        hash: &KeyHash,
        now: DateTime<Utc>,
    ) -> Result<(Principal, RateLimit), AuthRejection> {
        let now_s = timestamp(now);
        let mut window = now.timestamp() - now.timestamp().rem_euclid(WINDOW_SECS);
        let item_key = key(schema::api_key_pk(&hash.0), schema::API_KEY_SK);
        let condition = format!("{VALID_KEY} AND rlWindow = :w");
        // A lost race at a window boundary costs one more round.
        for _ in 0..6 {
            let values: Item = [(":now", s(&now_s)), (":w", n(window)), (":one", n(1))]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            let counted = self
                .update_returning(&wire::UpdateIn {
                    table_name: self.table(),
                    key: wire::ItemRef(&item_key),
                    update_expression: "SET lastUsedAt = :now ADD rlCount :one",
                    condition_expression: Some(&condition),
                    expression_attribute_names: None,
                    expression_attribute_values: Some(wire::ItemRef(&values)),
                    return_values: Some("ALL_NEW"),
                    return_values_on_condition_check_failure: Some("ALL_OLD"),
                })
                .await;
            let old = match counted {
                Ok(new) => return counted_in_window(new, now),
                Err(e) => condition_failed(e)?,
            };
            let Some(old) = old else { return Err(StoreError::KeyRefused.into()) };
            if get_s(&old, "revokedAt").is_some() || get_s(&old, "expiresAt").is_some_and(|e| e <= now_s.as_str()) {
                return Err(StoreError::KeyRefused.into());
            }
            let old_window = get_n(&old, "rlWindow").unwrap_or(0);
            if old_window >= window {
                // Another instance's clock is ahead, or the window opened meanwhile:
                // count in that window.
                window = old_window;
                continue;
            }
            let old_count = get_n(&old, "rlCount").unwrap_or(0);
            let limit = get_n(&old, "rateLimit").unwrap_or(0);
            let mut values: Item = [
                (":now", s(&now_s)),
                (":w", n(window)),
                (":oldW", n(old_window)),
                (":oldCount", n(old_count)),
                (":one", n(1)),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            let mut names = std::collections::HashMap::new();
            let mut adds = Vec::new();
            if old_count > 0 {
                let day = day_of(old_window);
                let admitted = old_count.min(limit);
                for (prefix, count, tag) in
                    [(ADMITTED_PREFIX, admitted, "A"), (LIMITED_PREFIX, old_count - admitted, "L")]
                {
                    if count > 0 {
                        adds.push(format!("#add{tag} :add{tag}"));
                        names.insert(format!("#add{tag}"), format!("{prefix}{day}"));
                        values.insert(format!(":add{tag}"), n(count));
                    }
                }
            }
            let oldest = day_of(now.timestamp() - (USAGE_DAYS - 1) * 86_400);
            let stale: Vec<&String> = old
                .keys()
                .filter(|name| {
                    [ADMITTED_PREFIX, LIMITED_PREFIX]
                        .iter()
                        .any(|p| name.strip_prefix(p).is_some_and(|day| day < oldest.as_str()))
                })
                .collect();
            let mut removes = Vec::new();
            for (i, name) in stale.into_iter().enumerate() {
                removes.push(format!("#old{i}"));
                names.insert(format!("#old{i}"), name.clone());
            }
            let mut expression = "SET lastUsedAt = :now, rlWindow = :w, rlCount = :one".to_owned();
            if !adds.is_empty() {
                expression.push_str(&format!(" ADD {}", adds.join(", ")));
            }
            if !removes.is_empty() {
                expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
            }
            // The count folded must be the window's last: nobody counted since we read it.
            let condition = format!("{VALID_KEY} AND rlWindow = :oldW AND rlCount = :oldCount");
            let rolled = self
                .update_returning(&wire::UpdateIn {
                    table_name: self.table(),
                    key: wire::ItemRef(&item_key),
                    update_expression: &expression,
                    condition_expression: Some(&condition),
                    expression_attribute_names: Some(&names).filter(|n| !n.is_empty()),
                    expression_attribute_values: Some(wire::ItemRef(&values)),
                    return_values: Some("ALL_NEW"),
                    return_values_on_condition_check_failure: Some("ALL_OLD"),
                })
                .await;
            match rolled {
                Ok(new) => return counted_in_window(new, now),
                // Someone else opened the window or counted in the old one (or the key
                // was revoked): decide again.
                Err(e) => {
                    condition_failed(e)?;
                }
            }
        }
        Err(StoreError::Unavailable("rate-limit window kept moving".into()).into())
    }

    /// A key's requests per UTC day for the last [`USAGE_DAYS`] days up to `now`'s day:
    /// the folded totals of closed windows plus the open window's count. Two strongly
    /// consistent reads (the reference in the org partition, then the key item).
    pub async fn key_usage(&self, org: Uuid, key_id: Uuid, now: DateTime<Utc>) -> Result<KeyUsage, StoreError> {
        let item = self.key_item_by_id(org, key_id).await?;
        let mut days: Vec<UsageDay> = (0..USAGE_DAYS)
            .rev()
            .map(|ago| UsageDay { date: day_of(now.timestamp() - ago * 86_400), admitted: 0, rate_limited: 0 })
            .collect();
        let mut add = |date: &str, admitted: u64, limited: u64| {
            if let Some(day) = days.iter_mut().find(|d| d.date == date) {
                day.admitted += admitted;
                day.rate_limited += limited;
            }
        };
        for (name, value) in &item {
            let count = value.as_n().ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            if let Some(date) = name.strip_prefix(ADMITTED_PREFIX) {
                add(date, count, 0);
            } else if let Some(date) = name.strip_prefix(LIMITED_PREFIX) {
                add(date, 0, count);
            }
        }
        let open_count = get_n(&item, "rlCount").unwrap_or(0).max(0) as u64;
        let limit = get_n(&item, "rateLimit").unwrap_or(0).max(0) as u64;
        if let Some(window) = get_n(&item, "rlWindow").filter(|w| *w > 0) {
            add(&day_of(window), open_count.min(limit), open_count.saturating_sub(limit));
        }
        Ok(KeyUsage {
            key_id,
            from: days[0].date.clone(),
            to: days[days.len() - 1].date.clone(),
            admitted: days.iter().map(|d| d.admitted).sum(),
            rate_limited: days.iter().map(|d| d.rate_limited).sum(),
            days,
        })
    }

    /// The hash of `org`'s key `key_id`, from its reference in the org partition.
    async fn key_hash_by_id(&self, org: Uuid, key_id: Uuid) -> Result<String, StoreError> {
        let reference = self
            .get(&key(schema::org_pk(org), schema::api_key_ref_sk(key_id)), true)
            .await?
            .ok_or_else(|| StoreError::not_found("API key"))?;
        get_s(&reference, "keyHash")
            .map(str::to_owned)
            .ok_or_else(|| StoreError::internal("key reference without keyHash"))
    }

    /// The key item of `org`'s key `key_id`, through its reference in the org partition.
    async fn key_item_by_id(&self, org: Uuid, key_id: Uuid) -> Result<Item, StoreError> {
        let hash = self.key_hash_by_id(org, key_id).await?;
        self.get(&key(schema::api_key_pk(&hash), schema::API_KEY_SK), true)
            .await?
            .filter(|i| get_s(i, "orgId") == Some(org.to_string().as_str()))
            .ok_or_else(|| StoreError::not_found("API key"))
    }

    /// Creates a key for an organization and returns it with its plaintext, which is not
    /// kept anywhere.
    pub async fn create_key(&self, w: &Write<'_>, new: NewKey<'_>) -> Result<(ApiKey, PlaintextKey), StoreError> {
        self.store_key(w, PlaintextKey::generate(), new).await
    }

    /// Stores a key whose plaintext the caller chose: only for the published demo key of
    /// the sample events, on DynamoDB Local.
    pub async fn store_key(
        &self,
        w: &Write<'_>,
        plaintext: PlaintextKey,
        new: NewKey<'_>,
    ) -> Result<(ApiKey, PlaintextKey), StoreError> {
        let (org, actor, now) = (w.org, &w.actor, w.now.text());
        let NewKey { name, scopes, expires_at, rate_limit } = new;
        let hash = plaintext.hash();
        let key_id = Uuid::now_v7();
        let record = ApiKey {
            id: key_id,
            org_id: org,
            name,
            prefix: plaintext.prefix().to_owned(),
            scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            created_at: now.to_owned(),
            last_used_at: None,
            revoked_at: None,
            expires_at,
        };
        let item = ApiKeyItem {
            pk: schema::api_key_pk(&hash.0),
            sk: schema::API_KEY_SK.to_owned(),
            gsi1pk: schema::api_keys_gsi1pk(org),
            gsi1sk: key_id.to_string(),
            entity: "apikey".into(),
            key: record,
            rate_limit,
            rl_window: 0,
            rl_count: 0,
        };
        let mut reference = key(schema::org_pk(org), schema::api_key_ref_sk(key_id));
        reference.insert("entity".into(), s("apikeyref"));
        reference.insert("keyHash".into(), s(&hash.0));
        let put = |item: Item| {
            Put::builder()
                .table_name(self.table())
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(StoreError::internal)
        };
        // An operator's key takes its place in the count without being limited by it.
        let counted = if actor.kind == super::events::ActorKind::Operator {
            self.count_org_quota(org, Quota::Keys)?
        } else {
            self.take_org_quota(org, Quota::Keys)?
        };
        let mut tx = Tx::new();
        tx.push(TransactWriteItem::builder().put(put(to_item(&item)?)?).build());
        tx.push(TransactWriteItem::builder().put(put(reference)?).build());
        let quota = tx.push(counted);
        tx.push(self.event_put(org, Event::new(EventType::KeyCreated, None, actor, now, data_of("key", &item.key)))?);
        match self.transact(tx).await {
            Ok(()) => Ok((item.key, plaintext)),
            Err(TxError::Cancelled(reasons)) if failed_at(&reasons, quota).is_some() => {
                match returned_item(&reasons, quota) {
                    Some(org_item) if !org_item.is_empty() => Err(Quota::Keys.exceeded_on(Some(org_item))),
                    _ => Err(StoreError::not_found("Organization")),
                }
            }
            Err(e) => Err(e.into_error()),
        }
    }

    /// Revokes a key of `org` by id, with its `key.revoked` event. Revoking a revoked key
    /// changes nothing.
    pub async fn revoke_key(&self, w: &Write<'_>, key_id: Uuid) -> Result<(), StoreError> {
        let (org, actor, now) = (w.org, &w.actor, w.now.text());
        let hash = self.key_hash_by_id(org, key_id).await?;
        let hash = hash.as_str();
        let revoke = Update::builder()
            .table_name(self.table())
            .set_key(Some(key(schema::api_key_pk(hash), schema::API_KEY_SK)))
            .condition_expression("attribute_exists(pk) AND orgId = :org AND attribute_not_exists(revokedAt)")
            .update_expression("SET revokedAt = :now")
            .expression_attribute_values(":org", s(org.to_string()))
            .expression_attribute_values(":now", s(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(StoreError::internal)?;
        let data = serde_json::json!({ "key": { "id": key_id, "revokedAt": now } });
        let mut tx = Tx::new();
        let revoked = tx.push(TransactWriteItem::builder().update(revoke).build());
        tx.push(self.event_put(org, Event::new(EventType::KeyRevoked, None, actor, now, data))?);
        tx.push(self.give_org_quota(org, Quota::Keys, 1)?);
        match self.transact(tx).await {
            Ok(()) => Ok(()),
            // Already revoked: revoking again changes nothing and succeeds.
            Err(TxError::Cancelled(reasons)) => match failed_at(&reasons, revoked).and_then(|r| r.item()) {
                Some(old) if get_s(old, "orgId") == Some(org.to_string().as_str()) => Ok(()),
                _ => Err(StoreError::not_found("API key")),
            },
            Err(e) => Err(e.into_error()),
        }
    }
}

impl Store {
    /// Lists the keys of `org`, revoked and expired ones included, oldest first. Reads the
    /// references in the org partition, then the key items, both strongly consistent.
    pub async fn list_keys(
        &self,
        org: Uuid,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<super::listing::Listing<ApiKey>, StoreError> {
        let pk = schema::org_pk(org);
        let start = cursor.map(|c| super::cursor::decode(c, schema::PK, &pk)).transpose()?;
        let query = self
            .client()
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":prefix", s(schema::API_KEY_REF_PREFIX))
            .consistent_read(true);
        let (refs, last) = self.query_up_to(query, limit, start).await?;
        let hashes: Vec<String> = refs.iter().filter_map(|r| get_s(r, "keyHash").map(str::to_owned)).collect();
        let wanted: Vec<Item> = hashes.iter().map(|h| key(schema::api_key_pk(h), schema::API_KEY_SK)).collect();
        let mut keys = self
            .batch_get(wanted)
            .await?
            .into_iter()
            .map(|i| Ok(from_item::<ApiKeyItem>(i)?.key))
            .collect::<Result<Vec<_>, StoreError>>()?;
        // BatchGetItem answers in any order; ids are UUID v7, so this is creation order.
        keys.sort_by_key(|k| k.id);
        Ok(super::listing::Listing { items: keys, next_cursor: last.as_ref().map(super::cursor::encode) })
    }
}

/// The principal and window state from the key item a request was counted on, or 429
/// when the count went past the key's limit.
fn counted_in_window(item: Item, now: DateTime<Utc>) -> Result<(Principal, RateLimit), AuthRejection> {
    fn number<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, StoreError> {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| StoreError::internal(format!("a key item's {name} is missing or out of range")))
    }
    let (limit, window, count): (u32, i64, u32) =
        (number(&item, "rateLimit")?, number(&item, "rlWindow")?, number(&item, "rlCount")?);
    let reset = window + WINDOW_SECS;
    if count > limit {
        return Err(AuthRejection {
            error: StoreError::RateLimited { retry_after: (reset - now.timestamp()).max(1) as u64 },
            rate: Some(RateLimit { limit, remaining: 0, reset }),
        });
    }
    // Straight into `ApiKey`, the counters read above: `ApiKeyItem`'s `flatten` would
    // buffer every attribute first, on every request.
    let key: ApiKey = from_item(item)?;
    let rate = RateLimit { limit, remaining: limit.saturating_sub(count), reset };
    let mut names: Vec<Scope> = Vec::with_capacity(key.scopes.len());
    for name in &key.scopes {
        match Scope::parse(name) {
            Some(scope) => names.push(scope),
            // Fail closed: dropping it could leave no scope, which means every scope.
            None => {
                tracing::error!(key = %key.id, scope = %name, "a stored key holds an unknown scope; refusing the key");
                return Err(AuthRejection { error: StoreError::KeyRefused, rate: Some(rate) });
            }
        }
    }
    Ok((Principal { org_id: key.org_id, key_id: key.id, key_prefix: key.prefix, scopes: Scopes(names) }, rate))
}

/// For a failed condition: `Ok(old item)` (absent when there was no item); any other
/// failure is translated.
/// The key as it was when the condition failed (`None`: no such key); other failures
/// as errors.
fn condition_failed(e: wire::Failure) -> Result<Option<Item>, StoreError> {
    if e.is_condition_failed() {
        let wire::Failure::Refused { item, .. } = e else { unreachable!("a refusal") };
        return Ok(item);
    }
    Err(e.into_error())
}
