//! `livestatus-admin`: operators create organizations and keys, and revoke keys, directly
//! in the table. Each command prints one JSON object on stdout.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use livestatus_shared::clock::{Clock, SystemClock, timestamp};
use livestatus_shared::domain::{self, Plan, Scope};
use livestatus_shared::store::Store;
use livestatus_shared::store::api_keys::NewKey;
use livestatus_shared::store::write::Write;
use serde_json::json;
use uuid::Uuid;

/// Operator commands against the LiveStatus table (DynamoDB Local when
/// `DYNAMODB_ENDPOINT` is set; AWS otherwise, with `TABLE_NAME`).
#[derive(Parser)]
#[command(name = "livestatus-admin", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Organizations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// API keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// The stream records the local server's poller set aside (the local twin of the
    /// notifier's on-failure queue on AWS).
    Stream {
        #[command(subcommand)]
        command: StreamCommand,
    },
    /// Brings a table up to this version's schema: fills GSI2's keys on incidents
    /// written before it existed. Run once after a deploy that added the index; safe to
    /// run again (it scans the table).
    Migrate,
    /// Seeds the demo organization, key, page, service and incident that the sample
    /// events in `events/` use. DynamoDB Local only: its key is published.
    Demo,
    /// Seeds a showcase page (`/status/acme`): eight services with 90 days of status
    /// history, past incidents and one open incident, written through the store as if
    /// they had happened at their times. DynamoDB Local only; for screenshots, Lighthouse
    /// and trying the public page.
    Showcase,
}

/// The demo data of the sample events (`events/`), with fixed ids.
mod demo {
    pub const ORG: &str = "0190a000-0000-7000-8000-000000000001";
    pub const PAGE: &str = "0190a000-0000-7000-8000-000000000002";
    pub const SERVICE: &str = "0190a000-0000-7000-8000-000000000003";
    pub const INCIDENT: &str = "0190a000-0000-7000-8000-000000000004";
    pub const KEY: &str = "ls_live_DEMOdemoDEMOdemoDEMOdemoDEMOdemo";
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Creates an organization.
    Create {
        /// Display name (1-100 characters).
        #[arg(long)]
        name: String,
        /// free, pro or business.
        #[arg(long)]
        plan: String,
    },
}

#[derive(Subcommand)]
enum StreamCommand {
    /// Lists the set-aside records: shard, sequence, attempts, the last error.
    SetAside,
    /// Fans each set-aside record out again, as the notifier would, and forgets those that
    /// now go through (those that fail again stay, with the new error).
    Replay,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Creates a key and prints its plaintext, this once.
    Create {
        /// Organization id.
        #[arg(long)]
        org: String,
        /// Key name (1-120 characters).
        #[arg(long)]
        name: String,
        /// Comma-separated scopes; omitted means full access.
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
        /// Requests per minute; defaults to the organization's plan.
        #[arg(long = "rate-limit")]
        rate_limit: Option<u32>,
    },
    /// Revokes a key at once.
    Revoke {
        /// Organization id.
        #[arg(long)]
        org: String,
        /// Key id.
        #[arg(long = "key-id")]
        key_id: String,
    },
}

#[tokio::main]
async fn main() {
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let now = timestamp(SystemClock.now());
    // Validate everything before touching the store.
    let output = match cli.command {
        Command::Migrate => {
            let store = store().await?;
            let changed = store.migrate().await.map_err(api)?;
            json!({ "backfilledIncidents": changed })
        }
        Command::Stream { command: StreamCommand::SetAside } => {
            let records = store().await?.set_aside_records().await.map_err(api)?;
            json!({ "setAside": records })
        }
        Command::Stream { command: StreamCommand::Replay } => {
            let state = livestatus_shared::AppState::new(store().await?);
            let state = livestatus_notifications::with_mailer_from_env(state).await;
            let replay = livestatus_notifications::stream::replay_set_aside(&state).await.map_err(api)?;
            serde_json::to_value(replay)?
        }
        Command::Org { command: OrgCommand::Create { name, plan } } => {
            let name = domain::name("name", name, 100).map_err(|e| anyhow::anyhow!("{e}"))?;
            let Some(plan) = Plan::parse(&plan) else { bail!("--plan must be free, pro or business (got `{plan}`)") };
            let store = store().await?;
            let org = store.create_org(name, plan, &now).await.map_err(api)?;
            json!({ "id": org.id, "name": org.name, "plan": org.plan })
        }
        Command::Key { command: KeyCommand::Create { org, name, scopes, rate_limit } } => {
            let org = parse_id("--org", &org)?;
            let name = domain::name("name", name, 120).map_err(|e| anyhow::anyhow!("{e}"))?;
            let scopes = Scope::parse_list("scopes", &scopes).map_err(|e| anyhow::anyhow!("{e}"))?;
            let store = store().await?;
            let plan = store
                .get_org(org)
                .await
                .map_err(api)?
                .with_context(|| format!("organization {org} does not exist"))?
                .plan;
            let limit = rate_limit.unwrap_or(plan.limits().requests_per_minute);
            if limit == 0 {
                bail!("--rate-limit must be at least 1");
            }
            let (key, plaintext) = store
                .create_key(
                    &Write::new(org, livestatus_shared::store::events::Actor::operator(), SystemClock.now()),
                    NewKey { name, scopes: &scopes, expires_at: None, rate_limit: limit },
                )
                .await
                .map_err(api)?;
            json!({ "id": key.id, "key": plaintext.expose(), "prefix": key.prefix, "scopes": key.scopes })
        }
        Command::Demo => {
            if std::env::var_os("DYNAMODB_ENDPOINT").is_none() {
                bail!("`demo` seeds a published key: it only runs against DynamoDB Local (set DYNAMODB_ENDPOINT)");
            }
            seed_demo(&store().await?, &now).await?
        }
        Command::Showcase => {
            if std::env::var_os("DYNAMODB_ENDPOINT").is_none() {
                bail!("`showcase` writes made-up history: it only runs against DynamoDB Local (set DYNAMODB_ENDPOINT)");
            }
            showcase::seed(&store().await?).await?
        }
        Command::Key { command: KeyCommand::Revoke { org, key_id } } => {
            let org = parse_id("--org", &org)?;
            let key_id = parse_id("--key-id", &key_id)?;
            store()
                .await?
                .revoke_key(
                    &Write::new(org, livestatus_shared::store::events::Actor::operator(), SystemClock.now()),
                    key_id,
                )
                .await
                .map_err(api)?;
            json!({ "id": key_id, "revoked": true })
        }
    };
    println!("{output}");
    Ok(())
}

async fn seed_demo(store: &Store, now: &str) -> anyhow::Result<serde_json::Value> {
    use livestatus_shared::apikey::PlaintextKey;
    use livestatus_shared::domain::{Impact, IncidentStatus, ServiceStatus, Slug};
    use livestatus_shared::store::{incidents::NewIncident, pages::NewPage, services::NewService};
    let id = |s: &str| Uuid::parse_str(s).expect("demo ids are UUIDs");
    let at = chrono::DateTime::parse_from_rfc3339(now)?.to_utc();
    let out = json!({ "org": demo::ORG, "key": demo::KEY, "page": demo::PAGE, "service": demo::SERVICE, "incident": demo::INCIDENT });
    if store.get_org(id(demo::ORG)).await.map_err(api)?.is_some() {
        return Ok(out);
    }
    let org = store.create_org_with_id(id(demo::ORG), "Demo".into(), Plan::Business, now).await.map_err(api)?.id;
    let key = PlaintextKey::parse(demo::KEY).map_err(api)?;
    let demo_key =
        NewKey { name: "Demo key (published; local only)".into(), scopes: &[], expires_at: None, rate_limit: 600 };
    store
        .store_key(&Write::new(org, livestatus_shared::store::events::Actor::operator(), at), key, demo_key)
        .await
        .map_err(api)?;
    let page = NewPage {
        id: id(demo::PAGE),
        name: "Demo Status".into(),
        slug: Slug::parse("demo").map_err(api)?,
        description: Some("The page the sample events use.".into()),
        brand_color: None,
        is_public: true,
        auto_incidents: false,
    };
    store
        .create_page(&Write::new(org, livestatus_shared::store::events::Actor::operator(), at), page)
        .await
        .map_err(api)?;
    let service = NewService {
        id: id(demo::SERVICE),
        name: "API".into(),
        monitor_url: Some("https://example.com/health".into()),
        current_status: ServiceStatus::Operational,
        display_order: 0,
    };
    store
        .create_service(
            &Write::new(org, livestatus_shared::store::events::Actor::operator(), at),
            id(demo::PAGE),
            service,
        )
        .await
        .map_err(api)?;
    let incident = NewIncident {
        id: id(demo::INCIDENT),
        title: "Elevated error rates".into(),
        impact: Impact::Minor,
        status: IncidentStatus::Investigating,
        body: "We are looking into it.".into(),
        affected_service_ids: vec![id(demo::SERVICE)],
        notify_subscribers: true,
    };
    store
        .create_incident(
            &Write::new(org, livestatus_shared::store::events::Actor::operator(), at),
            id(demo::PAGE),
            incident,
        )
        .await
        .map_err(api)?;
    Ok(out)
}

mod showcase;

async fn store() -> anyhow::Result<Store> {
    let store = Store::from_env().await;
    if std::env::var_os("DYNAMODB_ENDPOINT").is_some() {
        store.ensure_table().await.context("could not reach DynamoDB Local")?;
    }
    Ok(store)
}

fn parse_id(flag: &str, raw: &str) -> anyhow::Result<Uuid> {
    Uuid::parse_str(raw).with_context(|| format!("{flag} must be a UUID (got `{raw}`)"))
}

/// A store or domain error with its whole chain of causes, for the operator.
fn api(e: impl std::error::Error) -> anyhow::Error {
    anyhow::anyhow!("{}", livestatus_shared::telemetry::error_chain(&e))
}
