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

/// The local server's whole app: every function's routes, finished as each function
/// finishes its own, with custom domains routed to their pages (as the status function
/// does on AWS), so `http://acme.localhost:3000/` is a page at its domain.
pub fn app(state: AppState) -> Router {
    let routes = livestatus_shared::finish_router(routes(), state.clone());
    livestatus_status::domains::with_custom_domains(state, routes)
}
