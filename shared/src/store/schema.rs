//! The single-table key schema, entity by entity, and the table definition itself.
//!
//! | entity        | pk                 | sk                   | gsi1pk                | gsi1sk   |
//! |---------------|--------------------|----------------------|-----------------------|----------|
//! | organization  | `ORG#<org>`        | `ORG`                |                       |          |
//! | page          | `ORG#<org>`        | `PAGE#<page>`        |                       |          |
//! | slug claim    | `SLUG#<slug>`      | `SLUG`               |                       |          |
//! | API key       | `APIKEY#<sha256>`  | `APIKEY`             | `ORG#<org>#APIKEYS`   | `<key>`  |
//! | key reference | `ORG#<org>`        | `APIKEY#<key>`       |                       |          |
//! | service       | `ORG#<org>`        | `SERVICE#<svc>`      | `ORG#<org>#PAGE#<page>#SERVICES` | `<order:05>#<svc>` |
//! | incident      | `ORG#<org>`        | `INCIDENT#<inc>`     | `ORG#<org>#PAGE#<page>#INCIDENTS` | `<inc>` |
//!
//! Incidents also carry `gsi2pk = ORG#<org>#INCIDENTS`, `gsi2sk = <inc>`: GSI2 lists an
//! organization's incidents across its pages, newest first, in one query.
//!
//! | update        | `ORG#<org>`        | `INCIDENT#<inc>#UPDATE#<upd>` | `ORG#<org>#PAGE#<page>#INCIDENTS` | `!U#<inc>#<upd>` |
//! | status change | `ORG#<org>`        | `SERVICE#<svc>#STATUS#<at>#<id>` | `ORG#<org>#PAGE#<page>#SERVICES` | `!LOG#<at>#<svc>` |
//! | idempotency   | `ORG#<org>`        | `IDEMPOTENCY#<sha256(key)>` |               |          |
//! | event         | `ORG#<org>`        | `EVENT#<event>`      |                       |          |
//! | webhook       | `ORG#<org>`        | `WEBHOOK#<id>`       |                       |          |
//! | delivery      | `ORG#<org>`        | `DELIVERY#<id>`      | `ORG#<org>#ENDPOINT#<endpoint>#DELIVERIES` | `<id>` |
//! | subscriber    | `ORG#<org>`        | `SUBSCRIBER#<id>`    | `ORG#<org>#PAGE#<page>#SUBSCRIBERS` | `<id>` |
//! | email claim   | `ORG#<org>`        | `SUBEMAIL#<page>#<sha256(email)>` |          |          |
//! | maintenance   | `ORG#<org>`        | `MAINTENANCE#<id>`   | `ORG#<org>#PAGE#<page>#MAINTENANCES` | `<id>` |
//! | maint. update | `ORG#<org>`        | `MAINTENANCE#<id>#UPDATE#<upd>` | `ORG#<org>#PAGE#<page>#MAINTENANCES` | `!U#<id>#<upd>` |
//! | monitor       | `ORG#<org>`        | `MONITOR#<id>`       | `ORG#<org>#MONITORS`  | `<id>`   |
//! | check record  | `ORG#<org>`        | `MONITOR#<id>#CHECK#<at>` (7-day TTL) |      |          |
//! | day rollup    | `ORG#<org>`        | `MONITOR#<id>#DAY#<date>` |                  |          |
//! | monitor state | `ORG#<org>`        | `MONITORSTATE#<group 0-31>` (last checks, the day's counters) | | |
//! | monitor tick  | `SCHEDULER`        | `MONITORS` (the last window claimed) |       |          |
//! | integration   | `ORG#<org>`        | `INTEGRATION#<id>`   | `ORG#<org>#PAGE#<page>#INTEGRATIONS` | `<id>` |
//! | hook pointer  | `HOOK#<id>`        | `HOOK` (the integration's organization) |    |          |
//! | domain claim  | `DOMAIN#<domain>`  | `DOMAIN` (org, page, slug, status) |         |          |
//! | hook request  | `ORG#<org>`        | `INTEGRATION#<id>#REQUEST#<v7>` (7-day TTL) |  |          |
//! | alert group   | `ORG#<org>`        | `ALERTGROUP#<integration>#<sha256(group key)>` (90-day TTL) | | |
//! | set-aside stream record (local run) | `STREAM#SETASIDE` | `<shard>#<sequence>` |  |  |
//! | CDN tombstone | `CDN#<domain>` | `DETACH` | `DUE#CDN` | `<when>#detach#<domain>` |
//! | sign-up counter | `SIGNUPS#<page>` | `<hour>` or `<hour>#<sha256(address)>` |  |  |
//! | wrong passwords of a protected page | `SIGNUPS#<page>` | `SIGNIN#<sha256(address)>` (TTL: the window's end) |  |  |
//!
//! A maintenance window with a transition ahead (reminder, start, completion) also
//! carries `gsi2pk = DUE#MAINTENANCE`, `gsi2sk = <when>#<org>#<id>`, removed once nothing
//! is left for the scheduler to do: the tick reads the due windows in one query. One
//! partition: a window makes at most three transitions in its life.
//!
//! An active monitor also carries `gsi2pk = DUE#MONITOR#<interval>#<bucket>#<shard>`
//! (`DUE#MONITOR#NEW#<shard>` until its first check), `gsi2sk = <org>#<id>`: time is cut
//! into 30-second windows, and a monitor of interval `i` is due in the windows whose number
//! is its bucket modulo `i / 30`, so a tick reads only the partitions due in its windows
//! (an hourly monitor is read once an hour). Paused monitors carry neither.
//!
//! A pending custom domain's claim (`DOMAIN#<domain>`, deployment-wide: one page per
//! domain) carries `gsi2pk = DUE#DOMAIN`, `gsi2sk = <next check>#<domain>`, removed once
//! the domain is verified: the tick reads the domains due for a DNS check in one query.
//! A verified domain's claim then carries `gsi2pk = DUE#CDN`, `gsi2sk =
//! <when>#attach#<domain>` until the scheduler has made its CDN tenant, and a removed
//! verified domain leaves a tombstone (`CDN#<domain>`, `DETACH`) under `DUE#CDN`,
//! `<when>#detach#<domain>` until the tenant is gone.
//!
//! Subscribers also carry `gsi2pk = ORG#<org>#PAGE#<page>#SUBSCRIBERS#<state>`, `gsi2sk =
//! <id>`: the notifier reads a page's active subscribers, and `?state=` lists, in one
//! query. The email claim makes an address unique per page (under concurrent sign-ups).
//!
//! GSI2 is overloaded: a delivery waiting for its next attempt also carries
//! `gsi2pk = DUE#<shard>` and `gsi2sk = <nextAttemptAt>#<org>#<id>`, removed once it is
//! delivered or failed, so the scheduler's tick reads exactly the due work (a sparse
//! index, sharded so no partition runs hot).
//!
//! Updates and status changes share their page's GSI1 partitions with incidents and
//! services but sort before them (`!` < `0`): the API's lists read only from `0` on, while
//! the public page reads incidents with the recent updates, and services with the last
//! 90 days of status changes, in one query each (`>= !U#<id>`, `>= !LOG#<time>`).
//!
//! Everything an organization owns lives in its partition (`ORG#<org>`), keyed by the
//! id in the URL and the org of the caller's key: a foreign id can only ever miss.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use uuid::Uuid;

/// Partition key attribute.
pub const PK: &str = "pk";
/// Sort key attribute.
pub const SK: &str = "sk";
/// GSI1 partition key attribute.
pub const GSI1PK: &str = "gsi1pk";
/// GSI1 sort key attribute.
pub const GSI1SK: &str = "gsi1sk";
/// The first global secondary index: a page's children, an organization's keys.
pub const GSI1: &str = "gsi1";
/// GSI2 partition key attribute.
pub const GSI2PK: &str = "gsi2pk";
/// GSI2 sort key attribute.
pub const GSI2SK: &str = "gsi2sk";
/// The second global secondary index: an organization's incidents across its pages.
pub const GSI2: &str = "gsi2";
/// TTL attribute (epoch seconds). DynamoDB deletes lazily, so readers filter on it too.
pub const TTL: &str = "ttl";

/// `ORG#<org>`: the organization's partition.
pub fn org_pk(org: Uuid) -> String {
    format!("ORG#{org}")
}
/// Sort key of the organization item.
pub const ORG_SK: &str = "ORG";

/// `SIGNUPS#<page>`: a page's counters of public sign-ups.
pub fn sign_ups_pk(page: Uuid) -> String {
    format!("SIGNUPS#{page}")
}
/// `<hour>` (the page's count in that hour) or `<hour>#<sha256(address)>` (one client's).
pub fn sign_ups_sk(hour: i64, address: Option<&str>) -> String {
    match address {
        Some(address) => format!("{hour}#{address}"),
        None => hour.to_string(),
    }
}

/// `SIGNIN#<sha256(address)>`: one client's wrong passwords on a protected page (in the
/// page's `SIGNUPS#` partition: the status function writes only there and under `ORG#`).
pub fn sign_in_failures_sk(address: &str) -> String {
    format!("SIGNIN#{address}")
}

/// Partition of the stream records the local poller gave up on (its on-failure queue).
pub const SET_ASIDE_PK: &str = "STREAM#SETASIDE";
/// `<shard>#<sequence>`: a set-aside record, in stream order per shard.
pub fn set_aside_sk(shard: &str, sequence: &str) -> String {
    format!("{shard}#{sequence}")
}

/// Sort key prefix of pages in the org partition.
pub const PAGE_PREFIX: &str = "PAGE#";
/// `PAGE#<page>`.
pub fn page_sk(page: Uuid) -> String {
    format!("{PAGE_PREFIX}{page}")
}

/// `SLUG#<slug>`: the global uniqueness claim of a slug.
pub fn slug_pk(slug: &str) -> String {
    format!("SLUG#{slug}")
}
/// Sort key of slug claims.
pub const SLUG_SK: &str = "SLUG";

/// `DOMAIN#<host>`: a custom domain's claim, deployment-wide (one page per domain), with
/// the page it serves and whether it is verified: the one read of host routing.
pub fn domain_pk(domain: &str) -> String {
    format!("DOMAIN#{domain}")
}
/// Sort key of domain claims.
pub const DOMAIN_SK: &str = "DOMAIN";
/// GSI2 partition of the pending domains' next checks (`gsi2sk = <when>#<domain>`; the
/// attributes go once the domain is verified).
pub const DOMAIN_CHECKS_GSI2PK: &str = "DUE#DOMAIN";
/// GSI2 partition of the CDN's pending work on custom domains (`gsi2sk =
/// <when>#attach#<domain>` on a verified domain's claim until its tenant exists,
/// `<when>#detach#<domain>` on the tombstone of a removed one until its tenant is gone).
pub const CDN_WORK_GSI2PK: &str = "DUE#CDN";
/// `CDN#<host>`: the tombstone of a verified domain that was removed, until the CDN has
/// let it go.
pub fn cdn_tombstone_pk(domain: &str) -> String {
    format!("CDN#{domain}")
}
/// Sort key of CDN tombstones.
pub const CDN_TOMBSTONE_SK: &str = "DETACH";

/// `APIKEY#<sha256 hex>`: the key item that authentication updates.
pub fn api_key_pk(hash: &str) -> String {
    format!("APIKEY#{hash}")
}
/// Sort key of key items.
pub const API_KEY_SK: &str = "APIKEY";
/// `ORG#<org>#APIKEYS`: GSI1 partition listing an organization's keys.
pub fn api_keys_gsi1pk(org: Uuid) -> String {
    format!("ORG#{org}#APIKEYS")
}
/// Sort key prefix of key references in the org partition.
pub const API_KEY_REF_PREFIX: &str = "APIKEY#";
/// `APIKEY#<key id>`: the reference from the org partition to a key item by its id.
pub fn api_key_ref_sk(key: Uuid) -> String {
    format!("{API_KEY_REF_PREFIX}{key}")
}

/// `SERVICE#<svc>`.
pub fn service_sk(service: Uuid) -> String {
    format!("SERVICE#{service}")
}
/// GSI1 partition of a page's services.
pub fn services_gsi1pk(org: Uuid, page: Uuid) -> String {
    format!("ORG#{org}#PAGE#{page}#SERVICES")
}
/// GSI1 sort key of a service: display order, then creation (ids are UUID v7).
pub fn service_gsi1sk(display_order: u32, service: Uuid) -> String {
    format!("{display_order:05}#{service}")
}

/// `INCIDENT#<inc>`; also the prefix of the incident's updates, so one query reads both.
pub fn incident_sk(incident: Uuid) -> String {
    format!("INCIDENT#{incident}")
}
/// `INCIDENT#<inc>#UPDATE#<upd>`: updates sort after their incident, oldest first.
pub fn update_sk(incident: Uuid, update: Uuid) -> String {
    format!("INCIDENT#{incident}#UPDATE#{update}")
}
/// GSI1 partition of a page's incidents, read newest first.
pub fn incidents_gsi1pk(org: Uuid, page: Uuid) -> String {
    format!("ORG#{org}#PAGE#{page}#INCIDENTS")
}

/// Sort key prefix of events in the org partition.
pub const EVENT_PREFIX: &str = "EVENT#";
/// `EVENT#<event>`: events sort by time (UUID v7), read newest first.
pub fn event_sk(event: Uuid) -> String {
    format!("{EVENT_PREFIX}{event}")
}

/// Sort key prefix of webhooks in the org partition: `WEBHOOK#<id>`.
pub const WEBHOOK_PREFIX: &str = "WEBHOOK#";

/// `INTEGRATION#<id>`: an alert integration in the org partition.
pub fn integration_sk(id: Uuid) -> String {
    format!("INTEGRATION#{id}")
}
/// `ORG#<org>#PAGE#<page>#INTEGRATIONS`: GSI1 partition listing a page's integrations.
pub fn integrations_gsi1pk(org: Uuid, page: Uuid) -> String {
    format!("ORG#{org}#PAGE#{page}#INTEGRATIONS")
}
/// `HOOK#<id>`: the pointer from a hook URL to the integration's organization.
pub fn hook_pk(id: Uuid) -> String {
    format!("HOOK#{id}")
}
/// Sort key of hook pointers.
pub const HOOK_SK: &str = "HOOK";
/// `INTEGRATION#<id>#REQUEST#`: the prefix of an integration's request log.
pub fn hook_request_prefix(integration: Uuid) -> String {
    format!("INTEGRATION#{integration}#REQUEST#")
}
/// `INTEGRATION#<id>#REQUEST#<v7>`: one request of the log, in arrival order.
pub fn hook_request_sk(integration: Uuid, request: Uuid) -> String {
    format!("INTEGRATION#{integration}#REQUEST#{request}")
}
/// `ALERTGROUP#<integration>#<sha256(key)>`: an alert group (keys are the tool's and may
/// be long, so they are hashed).
pub fn alert_group_sk(integration: Uuid, group_key: &str) -> String {
    use sha2::{Digest, Sha256};
    format!("ALERTGROUP#{integration}#{}", crate::hex::lower(&Sha256::digest(group_key.as_bytes())))
}

/// Sort key prefix of deliveries in the org partition: `DELIVERY#<id>`.
pub const DELIVERY_PREFIX: &str = "DELIVERY#";
/// `DELIVERY#<id>`.
pub fn delivery_sk(delivery: Uuid) -> String {
    format!("{DELIVERY_PREFIX}{delivery}")
}
/// GSI1 partition of an endpoint's deliveries (a webhook's or a subscriber's), read
/// newest first.
pub fn endpoint_deliveries_gsi1pk(org: Uuid, endpoint: Uuid) -> String {
    format!("ORG#{org}#ENDPOINT#{endpoint}#DELIVERIES")
}
/// Shards of the due index: due work is spread over this many GSI2 partitions.
pub const DUE_SHARDS: u8 = 4;
/// `DUE#<shard>`: a GSI2 partition of due work (deliveries to retry), sorted by time.
pub fn due_gsi2pk(shard: u8) -> String {
    format!("DUE#{shard}")
}
/// GSI2 sort key of due work: `<due time>#<org>#<id>` (fixed-width times sort in order).
pub fn due_gsi2sk(at: &str, org: Uuid, id: Uuid) -> String {
    format!("{at}#{org}#{id}")
}

/// Width of a window of the monitors' due index, in seconds: the shortest interval.
pub const MONITOR_WINDOW_SECS: i64 = 30;
/// Shards of each partition of the monitors' due index.
pub const MONITOR_DUE_SHARDS: u8 = 2;
/// `MONITOR#<id>`: a monitor; also the prefix of its checks and rollups.
pub fn monitor_sk(id: Uuid) -> String {
    format!("MONITOR#{id}")
}
/// `MONITOR#<id>#CHECK#<at>`: a check record, newest last.
pub fn check_sk(id: Uuid, at: &str) -> String {
    format!("MONITOR#{id}#CHECK#{at}")
}
/// `MONITOR#<id>#DAY#<date>`: a day's rollup.
pub fn day_sk(id: Uuid, date: &str) -> String {
    format!("MONITOR#{id}#DAY#{date}")
}
/// `ORG#<org>#MONITORS`: GSI1 partition of an organization's monitors.
pub fn monitors_gsi1pk(org: Uuid) -> String {
    format!("ORG#{org}#MONITORS")
}
/// `DUE#MONITOR#<interval>#<bucket>#<shard>`: GSI2 partition of the active monitors of
/// one interval due in the windows whose number is `bucket` modulo `interval / 30`.
pub fn monitor_due_gsi2pk(interval: u32, bucket: u32, shard: u8) -> String {
    format!("DUE#MONITOR#{interval}#{bucket}#{shard}")
}
/// `DUE#MONITOR#NEW#<shard>`: GSI2 partition of the monitors never judged (due at once).
pub fn monitor_new_gsi2pk(shard: u8) -> String {
    format!("DUE#MONITOR#NEW#{shard}")
}
/// GSI2 sort key of a monitor in the due index: `<org>#<id>`.
pub fn monitor_due_gsi2sk(org: Uuid, id: Uuid) -> String {
    format!("{org}#{id}")
}
/// Items of an organization's monitor state. An entry takes about 190 bytes, so the
/// largest plan's 1,000 monitors put some 31 entries (6 KB) in each; a batch of checks
/// takes whole groups, so it writes each item it touches once, and an update (billed by
/// the item's whole size) costs about as much as the entries it sets.
pub const MONITOR_STATE_GROUPS: u8 = 32;
/// The state items before 2026-12-06: a monitor of group `g` kept its entries in
/// `g % 4` (the same `MONITORSTATE#<g>` key for groups 0-3). Read when a monitor has no
/// entry of its own yet, until every such entry is a week old and gone.
pub const LEGACY_MONITOR_STATE_GROUPS: u8 = 4;
/// `MONITORSTATE#<group>`: one of an organization's items of its monitors' last checks
/// and counters of the day (in its own partition, so no tenant fills another's).
pub fn monitor_state_sk(group: u8) -> String {
    format!("MONITORSTATE#{group}")
}
/// `SCHEDULER`: partition of the scheduler's own state.
pub const SCHEDULER_PK: &str = "SCHEDULER";
/// `MONITORS`: the last window of the due index a tick claimed.
pub const MONITOR_TICK_SK: &str = "MONITORS";

/// Sort key prefix of subscribers in the org partition: `SUBSCRIBER#<id>`.
pub const SUBSCRIBER_PREFIX: &str = "SUBSCRIBER#";
/// `SUBSCRIBER#<id>`.
pub fn subscriber_sk(subscriber: Uuid) -> String {
    format!("{SUBSCRIBER_PREFIX}{subscriber}")
}
/// GSI1 partition of a page's subscribers, oldest first.
pub fn subscribers_gsi1pk(org: Uuid, page: Uuid) -> String {
    format!("ORG#{org}#PAGE#{page}#SUBSCRIBERS")
}
/// GSI2 partition of a page's subscribers in one state (`active`, `pending`, ...).
pub fn subscribers_gsi2pk(org: Uuid, page: Uuid, state: &str) -> String {
    format!("ORG#{org}#PAGE#{page}#SUBSCRIBERS#{state}")
}
/// `SUBEMAIL#<page>#<sha256 of the lower-cased address>`: an address's claim on a page.
pub fn subscriber_email_sk(page: Uuid, email_hash: &str) -> String {
    format!("SUBEMAIL#{page}#{email_hash}")
}

/// `MAINTENANCE#<id>`; also the prefix of its updates, so one query reads it whole.
pub fn maintenance_sk(maintenance: Uuid) -> String {
    format!("MAINTENANCE#{maintenance}")
}
/// `MAINTENANCE#<id>#UPDATE#<upd>`: updates sort after their window, oldest first.
pub fn maintenance_update_sk(maintenance: Uuid, update: Uuid) -> String {
    format!("MAINTENANCE#{maintenance}#UPDATE#{update}")
}
/// GSI1 partition of a page's maintenance windows and their updates.
pub fn maintenances_gsi1pk(org: Uuid, page: Uuid) -> String {
    format!("ORG#{org}#PAGE#{page}#MAINTENANCES")
}
/// GSI2 partition of the maintenance windows with a transition ahead.
pub const MAINTENANCE_DUE_GSI2PK: &str = "DUE#MAINTENANCE";

/// The lowest GSI1 sort key of incidents and services (UUIDs and zero-padded orders
/// start with a digit or `a`–`f`): lists start here and so skip updates and status changes.
pub const FIRST_ENTITY_SK: &str = "0";

/// GSI1 sort key of an update: `!U#<inc>#<upd>`, before every incident of the partition.
pub fn update_gsi1sk(incident: Uuid, update: Uuid) -> String {
    format!("{UPDATE_GSI1_PREFIX}{incident}#{update}")
}
/// Prefix of updates' GSI1 sort keys.
pub const UPDATE_GSI1_PREFIX: &str = "!U#";

/// `SERVICE#<svc>#STATUS#`: prefix of a service's status changes, oldest first.
pub fn status_changes_prefix(service: Uuid) -> String {
    format!("SERVICE#{service}#STATUS#")
}
/// `SERVICE#<svc>#STATUS#<at>#<id>`.
pub fn status_change_sk(service: Uuid, at: &str, id: Uuid) -> String {
    format!("{}{at}#{id}", status_changes_prefix(service))
}
/// Prefix of status changes' GSI1 sort keys in the page's services partition.
pub const STATUS_CHANGE_GSI1_PREFIX: &str = "!LOG#";
/// GSI1 sort key of a status change: `!LOG#<at>#<svc>`, before every service.
pub fn status_change_gsi1sk(at: &str, service: Uuid) -> String {
    format!("{STATUS_CHANGE_GSI1_PREFIX}{at}#{service}")
}

/// GSI2 partition of an organization's incidents across pages, read newest first.
pub fn org_incidents_gsi2pk(org: Uuid) -> String {
    format!("ORG#{org}#INCIDENTS")
}

/// `IDEMPOTENCY#<sha256 of the key>`.
pub fn idempotency_sk(key_hash: &str) -> String {
    format!("IDEMPOTENCY#{key_hash}")
}

fn attr(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("attribute definition is complete")
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(kind).build().expect("key element is complete")
}

fn index(name: &str, pk: &str, sk: &str) -> GlobalSecondaryIndex {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(pk, KeyType::Hash))
        .key_schema(key(sk, KeyType::Range))
        .projection(Projection::builder().projection_type(ProjectionType::All).build())
        .build()
        .expect("index is complete")
}

/// Creates the table with exactly the key schema, GSIs and TTL of `template.yaml`.
/// Returns `false` when it already existed.
pub async fn create_table(client: &Client, table: &str) -> Result<bool, aws_sdk_dynamodb::Error> {
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr(PK))
        .attribute_definitions(attr(SK))
        .attribute_definitions(attr(GSI1PK))
        .attribute_definitions(attr(GSI1SK))
        .attribute_definitions(attr(GSI2PK))
        .attribute_definitions(attr(GSI2SK))
        .key_schema(key(PK, KeyType::Hash))
        .key_schema(key(SK, KeyType::Range))
        .global_secondary_indexes(index(GSI1, GSI1PK, GSI1SK))
        .global_secondary_indexes(index(GSI2, GSI2PK, GSI2SK))
        .stream_specification(stream_specification())
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder().attribute_name(TTL).enabled(true).build().expect("ttl spec is complete"),
        )
        .send()
        .await?;
    Ok(true)
}

/// The table's stream: new images, which the notifier reads (event items only).
fn stream_specification() -> aws_sdk_dynamodb::types::StreamSpecification {
    aws_sdk_dynamodb::types::StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::NewImage)
        .build()
        .expect("stream specification is complete")
}

/// Turns the stream on for a table created before it was needed. Returns `true` when
/// it was off.
pub async fn enable_stream(client: &Client, table: &str) -> Result<bool, aws_sdk_dynamodb::Error> {
    let described = client.describe_table().table_name(table).send().await?;
    let on = described.table().and_then(|t| t.stream_specification()).is_some_and(|s| s.stream_enabled());
    if on {
        return Ok(false);
    }
    client.update_table().table_name(table).stream_specification(stream_specification()).send().await?;
    Ok(true)
}

/// Adds GSI2 to a table created before it existed (a local table kept from an earlier
/// version). Returns `true` when the index was added, so its items need a backfill.
pub async fn add_missing_indexes(client: &Client, table: &str) -> Result<bool, aws_sdk_dynamodb::Error> {
    let described = client.describe_table().table_name(table).send().await?;
    let has_gsi2 = described
        .table()
        .map(|t| t.global_secondary_indexes().iter().any(|i| i.index_name() == Some(GSI2)))
        .unwrap_or(false);
    if has_gsi2 {
        return Ok(false);
    }
    let gsi2 = index(GSI2, GSI2PK, GSI2SK);
    client
        .update_table()
        .table_name(table)
        .attribute_definitions(attr(GSI2PK))
        .attribute_definitions(attr(GSI2SK))
        .global_secondary_index_updates(
            aws_sdk_dynamodb::types::GlobalSecondaryIndexUpdate::builder()
                .create(
                    aws_sdk_dynamodb::types::CreateGlobalSecondaryIndexAction::builder()
                        .index_name(GSI2)
                        .set_key_schema(Some(gsi2.key_schema().to_vec()))
                        .set_projection(gsi2.projection().cloned())
                        .build()
                        .expect("index action is complete"),
                )
                .build(),
        )
        .send()
        .await?;
    Ok(true)
}
