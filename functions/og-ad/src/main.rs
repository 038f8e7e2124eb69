//! Lambda entry point of the ad creative generator.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    livestatus_shared::telemetry::init();
    lambda_http::run(livestatus_og_ad::router()).await
}
