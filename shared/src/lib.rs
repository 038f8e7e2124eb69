//! The shared core of every LiveStatus function: errors and their envelope, API keys,
//! authentication with the rate limit, validation types, and DynamoDB access.

pub mod apikey;
#[cfg(feature = "store")]
pub mod auth;
#[cfg(feature = "store")]
pub mod clock;
pub mod cors;
#[cfg(feature = "store")]
pub mod delivery;
pub mod domain;
pub mod envelope;
pub mod error;
pub mod hex;
pub mod http;
pub mod outbound;
pub mod routes;
#[cfg(feature = "store")]
pub mod scheduler;
#[cfg(feature = "store")]
pub mod state;
#[cfg(feature = "store")]
pub mod store;
pub mod telemetry;

pub use error::ApiError;
#[cfg(feature = "store")]
pub use state::AppState;

#[cfg(feature = "store")]
use axum::Router;

#[cfg(feature = "store")]
/// Wraps a function's router with what every function has: the authentication layer on
/// its routes, the not-found fallback, CORS (operator origins from the environment), and
/// the request-context middleware outermost.
pub fn finish_router(routes: Router<AppState>, state: AppState) -> Router {
    finish_router_with_cors(routes, state, cors::Cors::from_env())
}

#[cfg(feature = "store")]
/// [`finish_router`] with the keyed routes' allowed origins given.
pub fn finish_router_with_cors(routes: Router<AppState>, state: AppState, cors: cors::Cors) -> Router {
    routes
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::authenticate))
        .fallback(http::route_not_found)
        .layer(axum::middleware::from_fn_with_state(cors, cors::cors))
        .layer(axum::middleware::from_fn(http::request_context))
        .with_state(state)
}
