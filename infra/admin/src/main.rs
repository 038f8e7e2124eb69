//! `livestatus-admin`: operators create organizations and keys, and revoke keys, directly
//! in the table. Each command prints one JSON object on stdout.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use livestatus_shared::clock::{Clock, SystemClock, timestamp};
use livestatus_shared::domain::{self, Plan, Scope};
use livestatus_shared::store::Store;
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
        Command::Org { command: OrgCommand::Create { name, plan } } => {
            let name = domain::name("name", name, 100).map_err(|e| anyhow::anyhow!("{e}"))?;
            let Some(plan) = Plan::parse(&plan) else { bail!("--plan must be free, pro or business (got `{plan}`)") };
            let store = store().await?;
            let org = store.create_org(name, plan, &now).await.map_err(api)?;
            json!({ "id": org.id, "name": org.name, "plan": org.plan })
        }
        Command::Key { command: KeyCommand::Create { org, name, scopes } } => {
            let org = parse_id("--org", &org)?;
            let name = domain::name("name", name, 120).map_err(|e| anyhow::anyhow!("{e}"))?;
            let scopes = Scope::parse_list("scopes", &scopes).map_err(|e| anyhow::anyhow!("{e}"))?;
            let store = store().await?;
            let plan = store.get_org(org).await.map_err(api)?.with_context(|| format!("organization {org} does not exist"))?.plan;
            let (key, plaintext) = store
                .create_key(org, name, &scopes, None, plan.limits().requests_per_minute, &now)
                .await
                .map_err(api)?;
            json!({ "id": key.id, "key": plaintext.expose(), "prefix": key.prefix, "scopes": key.scopes })
        }
        Command::Key { command: KeyCommand::Revoke { org, key_id } } => {
            let org = parse_id("--org", &org)?;
            let key_id = parse_id("--key-id", &key_id)?;
            store().await?.revoke_key(org, key_id, &now).await.map_err(api)?;
            json!({ "id": key_id, "revoked": true })
        }
    };
    println!("{output}");
    Ok(())
}

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

fn api(e: livestatus_shared::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{e}: {}", livestatus_shared::error::error_chain(&e))
}
