//! The routes of every function merged into one router, as the local server serves them.

pub mod background;

use axum::Router;
use livestatus_shared::AppState;

/// Every function's routes, merged.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(livestatus_pages::routes())
        .merge(livestatus_services::routes())
        .merge(livestatus_incidents::routes())
        .merge(livestatus_keys::routes())
        .merge(livestatus_og_ad::routes())
        .merge(livestatus_status::routes())
        .merge(livestatus_notifications::routes())
        .merge(livestatus_maintenances::routes())
        .merge(livestatus_monitors::routes())
}
