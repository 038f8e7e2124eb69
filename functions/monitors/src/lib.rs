//! The monitors endpoint group: `/api/v1/monitors`, `/api/v1/monitors/{monitorId}` and
//! its `/checks` and `/uptime`. The scheduler (in the notifications function) makes the checks; these
//! are the requests.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use livestatus_shared::auth::Principal;
use livestatus_shared::domain;
use livestatus_shared::domain::monitor::{ExpectedStatus, INTERVALS, MAX_TIMEOUT_SECS, MonitorStatus};
use livestatus_shared::http::{IdempotentJson, JsonBody, ListParams, created, data, list, nullable, path_id};
use livestatus_shared::store::monitors::{DayCounters, LINKED_FOLLOWS_SERVICE, MonitorPatch, NewMonitor};
use livestatus_shared::{ApiError, AppState};
use serde::Deserialize;
use uuid::Uuid;

/// This group's routes, unfinished, for merging into the local server.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/monitors", get(list_monitors).post(create_monitor))
        .route("/api/v1/monitors/{monitorId}", get(get_monitor).patch(update_monitor).delete(delete_monitor))
        .route("/api/v1/monitors/{monitorId}/checks", get(list_checks))
        .route("/api/v1/monitors/{monitorId}/uptime", get(get_uptime))
}

/// The function's complete router.
pub fn router(state: AppState) -> Router {
    livestatus_shared::finish_router(routes(), state)
}

const NAME_MAX: usize = 200;
const KEYWORD_MAX: usize = 200;
const THRESHOLD_MAX: u32 = 10;
const DEGRADED_MAX_MS: u32 = 60_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateMonitor {
    name: String,
    url: String,
    #[serde(default)]
    service_id: Option<String>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    interval_seconds: Option<u32>,
    #[serde(default)]
    timeout_seconds: Option<u32>,
    #[serde(default)]
    expected_status: Option<String>,
    #[serde(default)]
    keyword: Option<String>,
    #[serde(default)]
    degraded_after_ms: Option<u32>,
    #[serde(default)]
    failure_threshold: Option<u32>,
    #[serde(default)]
    success_threshold: Option<u32>,
    #[serde(default)]
    paused: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateMonitor {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    interval_seconds: Option<u32>,
    #[serde(default)]
    timeout_seconds: Option<u32>,
    #[serde(default)]
    expected_status: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    keyword: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    degraded_after_ms: Option<Option<u32>>,
    #[serde(default)]
    failure_threshold: Option<u32>,
    #[serde(default)]
    success_threshold: Option<u32>,
    #[serde(default)]
    paused: Option<bool>,
}

async fn url(state: &AppState, raw: String) -> Result<String, ApiError> {
    let field = "url";
    let raw =
        domain::monitor_url(raw).map_err(|_| ApiError::invalid_field(field, "must be an absolute http(s) URL"))?;
    state.sender.check_monitor_url(&raw).await.map_err(|refusal| ApiError::invalid_field(field, refusal))?;
    Ok(raw)
}

fn method(raw: String) -> Result<String, ApiError> {
    match raw.as_str() {
        "GET" | "HEAD" => Ok(raw),
        _ => Err(ApiError::invalid_field("method", "must be GET or HEAD")),
    }
}

fn interval(seconds: u32) -> Result<u32, ApiError> {
    if INTERVALS.contains(&seconds) {
        Ok(seconds)
    } else {
        Err(ApiError::invalid_field("intervalSeconds", "must be one of 30, 60, 300, 600, 1800, 3600"))
    }
}

/// A timeout of 1–30 s, below the interval.
fn timeout(seconds: u32, interval: u32) -> Result<u32, ApiError> {
    if (1..=MAX_TIMEOUT_SECS).contains(&seconds) && seconds < interval {
        Ok(seconds)
    } else {
        Err(ApiError::invalid_field(
            "timeoutSeconds",
            format_args!("must be 1 to {MAX_TIMEOUT_SECS} and below intervalSeconds"),
        ))
    }
}

fn threshold(field: &str, n: u32) -> Result<u32, ApiError> {
    if (1..=THRESHOLD_MAX).contains(&n) {
        Ok(n)
    } else {
        Err(ApiError::invalid_field(field, format_args!("must be 1 to {THRESHOLD_MAX}")))
    }
}

fn keyword(raw: String) -> Result<String, ApiError> {
    if raw.trim().is_empty() {
        return Err(ApiError::invalid_field("keyword", "must not be empty"));
    }
    Ok(domain::text("keyword", raw, 1, KEYWORD_MAX)?)
}

fn degraded_after(ms: u32) -> Result<u32, ApiError> {
    if (1..=DEGRADED_MAX_MS).contains(&ms) {
        Ok(ms)
    } else {
        Err(ApiError::invalid_field("degradedAfterMs", format_args!("must be 1 to {DEGRADED_MAX_MS}")))
    }
}

fn expected(raw: &str) -> Result<String, ApiError> {
    Ok(ExpectedStatus::parse(raw).map(|e| e.to_string())?)
}

async fn list_monitors(
    State(state): State<AppState>,
    who: Principal,
    params: ListParams,
) -> Result<Response, ApiError> {
    params.only(&["status", "pageId"])?;
    let status = params
        .get("status")
        .map(|s| {
            MonitorStatus::parse(s)
                .ok_or_else(|| ApiError::invalid_field("status", "must be one of pending, up, down, degraded, paused"))
        })
        .transpose()?;
    let page = params
        .get("pageId")
        .map(|p| Uuid::parse_str(p).map_err(|_| ApiError::invalid_field("pageId", "must be a page id (a UUID)")))
        .transpose()?;
    let listing = state.store.list_monitors(who.org_id, status, page, params.limit, params.cursor.as_deref()).await?;
    Ok(list(listing.items, listing.next_cursor))
}

async fn create_monitor(
    State(state): State<AppState>,
    who: Principal,
    request: IdempotentJson<CreateMonitor>,
) -> Result<Response, ApiError> {
    let body = request.body;
    let interval_seconds = interval(body.interval_seconds.unwrap_or(60))?;
    let new = NewMonitor {
        id: Uuid::now_v7(),
        name: domain::name("name", body.name, NAME_MAX)?,
        url: url(&state, body.url).await?,
        service_id: body
            .service_id
            .map(|s| Uuid::parse_str(&s).map_err(|_| ApiError::invalid_field("serviceId", "must be a service id")))
            .transpose()?,
        method: method(body.method.unwrap_or_else(|| "GET".into()))?,
        interval_seconds,
        timeout_seconds: timeout(body.timeout_seconds.unwrap_or(10.min(interval_seconds - 1)), interval_seconds)?,
        expected_status: expected(body.expected_status.as_deref().unwrap_or("200-299"))?,
        keyword: body.keyword.map(keyword).transpose()?,
        degraded_after_ms: body.degraded_after_ms.map(degraded_after).transpose()?,
        failure_threshold: threshold("failureThreshold", body.failure_threshold.unwrap_or(3))?,
        success_threshold: threshold("successThreshold", body.success_threshold.unwrap_or(2))?,
        paused: body.paused.unwrap_or(false),
    };
    let outcome = state.store.create_monitor(&state.write(&who, request.key.as_ref()), new).await?;
    Ok(created(outcome))
}

async fn get_monitor(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "Monitor")?;
    let monitor = state.store.get_monitor(who.org_id, id).await?.ok_or_else(|| ApiError::not_found("Monitor"))?;
    Ok(data(StatusCode::OK, monitor))
}

async fn update_monitor(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateMonitor>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "Monitor")?;
    let current = state.store.get_monitor(who.org_id, id).await?.ok_or_else(|| ApiError::not_found("Monitor"))?;
    let interval_seconds = body.interval_seconds.map(interval).transpose()?;
    let checked_interval = interval_seconds.unwrap_or(current.interval_seconds);
    let timeout_seconds = match body.timeout_seconds {
        Some(t) => Some(timeout(t, checked_interval)?),
        None if current.timeout_seconds >= checked_interval => {
            return Err(ApiError::invalid_field("intervalSeconds", "must be above the monitor's timeoutSeconds"));
        }
        None => None,
    };
    let url = match body.url {
        Some(_) if current.service_id == Some(current.id) => {
            return Err(ApiError::InvalidRequest(LINKED_FOLLOWS_SERVICE.into()));
        }
        Some(raw) => Some(url(&state, raw).await?),
        None => None,
    };
    let patch = MonitorPatch {
        name: body.name.map(|n| domain::name("name", n, NAME_MAX)).transpose()?,
        url,
        method: body.method.map(method).transpose()?,
        interval_seconds,
        timeout_seconds,
        expected_status: body.expected_status.as_deref().map(expected).transpose()?,
        keyword: body.keyword.map(|k| k.map(keyword).transpose()).transpose()?,
        degraded_after_ms: body.degraded_after_ms.map(|d| d.map(degraded_after).transpose()).transpose()?,
        failure_threshold: body.failure_threshold.map(|n| threshold("failureThreshold", n)).transpose()?,
        success_threshold: body.success_threshold.map(|n| threshold("successThreshold", n)).transpose()?,
        paused: body.paused,
    };
    let monitor = state.store.update_monitor(&state.write(&who, None), id, patch).await?;
    Ok(data(StatusCode::OK, monitor))
}

async fn delete_monitor(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id, "Monitor")?;
    state.store.delete_monitor(&state.write(&who, None), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_checks(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    params: ListParams,
) -> Result<Response, ApiError> {
    params.only(&[])?;
    let id = path_id(&id, "Monitor")?;
    let listing =
        state.store.list_checks(who.org_id, id, state.now_epoch(), params.limit, params.cursor.as_deref()).await?;
    Ok(list(listing.items, listing.next_cursor))
}

/// Longest uptime range, in days.
const UPTIME_MAX_DAYS: i64 = 366;
/// Default uptime range, in days, ending today.
const UPTIME_DEFAULT_DAYS: i64 = 30;

/// Checks over some days: how many, how many passed, the uptime and mean latency.
#[derive(serde::Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct CheckTotals {
    checks: u64,
    passed: u64,
    degraded: u64,
    /// Passed over made, floored to 3 decimals; `null` without checks.
    uptime_percentage: Option<f64>,
    /// Mean time to the response headers of the checks that got one.
    average_latency_ms: Option<u64>,
}

impl CheckTotals {
    fn of<'a>(days: impl IntoIterator<Item = &'a DayCounters>) -> Self {
        let (mut checks, mut passed, mut degraded, mut latency, mut answered) = (0u64, 0u64, 0u64, 0u64, 0u64);
        for d in days {
            checks += u64::from(d.checks);
            passed += u64::from(d.passed);
            degraded += u64::from(d.degraded);
            latency += d.latency_sum_ms;
            answered += u64::from(d.answered);
        }
        let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        CheckTotals {
            checks,
            passed,
            degraded,
            uptime_percentage: livestatus_shared::domain::uptime::percentage(
                as_i64(checks),
                as_i64(checks - passed.min(checks)),
            ),
            average_latency_ms: latency.checked_div(answered),
        }
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct UptimeDay {
    date: chrono::NaiveDate,
    #[serde(flatten)]
    totals: CheckTotals,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Uptime {
    monitor_id: Uuid,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    #[serde(flatten)]
    totals: CheckTotals,
    days: Vec<UptimeDay>,
}

/// `GET /api/v1/monitors/{monitorId}/uptime?from=&to=`: the monitor's own record, from
/// its daily rollups (every day of the range, `checks: 0` where it made none).
async fn get_uptime(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    params: ListParams,
) -> Result<Response, ApiError> {
    params.only(&["from", "to"])?;
    let id = path_id(&id, "Monitor")?;
    let (from, to) = params.date_range(state.clock.now().date_naive(), UPTIME_DEFAULT_DAYS, UPTIME_MAX_DAYS)?;
    let counted =
        state.store.monitor_days(who.org_id, id, from, to).await?.ok_or_else(|| ApiError::not_found("Monitor"))?;
    let days: Vec<UptimeDay> = from
        .iter_days()
        .take_while(|d| *d <= to)
        .map(|date| {
            let day = date.to_string();
            UptimeDay { date, totals: CheckTotals::of(counted.iter().filter(|c| c.date == day)) }
        })
        .collect();
    Ok(data(StatusCode::OK, Uptime { monitor_id: id, from, to, totals: CheckTotals::of(&counted), days }))
}
