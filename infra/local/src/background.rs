//! The work that runs beside the routes on AWS, run in-process locally: a poller of the
//! table's stream on DynamoDB Local that calls the notifier's handler with each new
//! event, and the scheduler's tick every few seconds.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use livestatus_shared::AppState;
use livestatus_shared::notify;

/// Polls the stream for ever. Starts each shard at its oldest record: replays are
/// harmless (deliveries have deterministic ids, and webhooks ignore events older than
/// themselves), and nothing written while the server was down is missed.
pub async fn poll_stream(state: AppState, client: Client, every: Duration) {
    let stream = loop {
        match stream_arn(&state).await {
            Ok(Some(arn)) => break arn,
            Ok(None) => tracing::warn!("the table has no stream; webhooks are not delivered locally"),
            Err(e) => tracing::warn!(error = format!("{e:#}"), "cannot describe the table"),
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    };
    let mut iterators: HashMap<String, String> = HashMap::new();
    let mut finished: HashSet<String> = HashSet::new();
    let mut rounds = 0u64;
    loop {
        if rounds % 20 == 0 {
            if let Err(e) = discover(&client, &stream, &mut iterators, &finished).await {
                tracing::warn!(error = format!("{e:#}"), "cannot describe the stream");
            }
        }
        rounds += 1;
        let shards: Vec<(String, String)> = iterators.iter().map(|(s, i)| (s.clone(), i.clone())).collect();
        for (shard, iterator) in shards {
            match client.get_records().shard_iterator(&iterator).limit(1000).send().await {
                Ok(out) => {
                    for record in out.records() {
                        let Some(image) = record.dynamodb().and_then(|d| d.new_image()) else { continue };
                        let Some((org, event)) = notify::event_of_image(image.clone()) else { continue };
                        if let Err(e) = notify::handle_event(&state, org, &event).await {
                            // The scheduler retries what was made; what was not stays in the stream
                            // only until the shard iterator moves on, so say so loudly.
                            tracing::error!(error = ?e, event = %event.id, "local fan-out failed");
                        }
                    }
                    match out.next_shard_iterator() {
                        Some(next) => {
                            iterators.insert(shard, next.to_owned());
                        }
                        None => {
                            iterators.remove(&shard);
                            finished.insert(shard);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e), shard, "get records");
                    iterators.remove(&shard);
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}

async fn stream_arn(state: &AppState) -> anyhow::Result<Option<String>> {
    let described = state.store.client().describe_table().table_name(state.store.table()).send().await?;
    Ok(described.table().and_then(|t| t.latest_stream_arn()).map(str::to_owned))
}

/// Adds an iterator for every shard not yet read whose parent is done.
async fn discover(
    client: &Client,
    stream: &str,
    iterators: &mut HashMap<String, String>,
    finished: &HashSet<String>,
) -> anyhow::Result<()> {
    let described = client.describe_stream().stream_arn(stream).send().await?;
    let shards = described.stream_description().map(|d| d.shards().to_vec()).unwrap_or_default();
    let known: HashSet<&str> = shards.iter().filter_map(|s| s.shard_id()).collect();
    for shard in &shards {
        let Some(id) = shard.shard_id() else { continue };
        if iterators.contains_key(id) || finished.contains(id) {
            continue;
        }
        // Read a child only after its parent, so events keep their order.
        if shard.parent_shard_id().is_some_and(|p| known.contains(p) && !finished.contains(p)) {
            continue;
        }
        let out = client
            .get_shard_iterator()
            .stream_arn(stream)
            .shard_id(id)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await?;
        if let Some(iterator) = out.shard_iterator() {
            iterators.insert(id.to_owned(), iterator.to_owned());
        }
    }
    Ok(())
}

/// Runs the scheduler's tick every `every`.
pub async fn tick_forever(state: AppState, every: Duration) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        match notify::tick(&state).await {
            Ok(outcome) if outcome.deliveries > 0 || outcome.transitions > 0 => {
                tracing::info!(
                    deliveries = outcome.deliveries,
                    delivered = outcome.delivered,
                    transitions = outcome.transitions,
                    "scheduler tick"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = ?e, "scheduler tick failed"),
        }
    }
}

/// A client of DynamoDB Local's stream API, configured like the table's client.
pub async fn streams_client() -> Client {
    let shared = aws_config::load_from_env().await;
    let mut config = aws_sdk_dynamodbstreams::config::Builder::from(&shared);
    if let Ok(endpoint) = std::env::var("DYNAMODB_ENDPOINT") {
        config = config.endpoint_url(endpoint);
        if shared.credentials_provider().is_none() || std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            config = config.credentials_provider(aws_sdk_dynamodbstreams::config::Credentials::new(
                "local", "local", None, None, "local",
            ));
        }
        if shared.region().is_none() {
            config = config.region(aws_sdk_dynamodbstreams::config::Region::new("us-east-1"));
        }
    }
    Client::from_conf(config.build())
}
