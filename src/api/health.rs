//! Liveness and readiness.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{Value, json};

use super::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// Answers as soon as the process serves.
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready when the store answers and boundaries are loaded. Also says how far the working
/// calendar reaches, so that a console can warn before deadlines turn provisional.
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.store.ping().await?;
    let j = state.jurisdiction()?;
    let calendar = &state.settings.calendar;
    let today = calendar.local(Utc::now()).date();
    let (from, until) = calendar.covers();
    Ok(Json(json!({
        "status": "ready",
        "store": state.store.backend(),
        "units": j.units().len(),
        "service_area": j.service_area(),
        "calendar": {
            "covers_from": from,
            "covers_until": until,
            "days_left": calendar.days_covered_after(today),
            "warning": calendar.coverage_warning(today, COVERAGE_WARNING_DAYS),
        },
    })))
}

/// How long before the working calendar runs out the service starts warning.
pub const COVERAGE_WARNING_DAYS: i64 = 60;

/// Logs a warning at start and once a day while the working calendar's coverage ends within
/// [`COVERAGE_WARNING_DAYS`] (issue 8): past it, working-time deadlines ignore holidays.
pub fn spawn_calendar_watch(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut daily = tokio::time::interval(std::time::Duration::from_secs(24 * 3600));
        loop {
            daily.tick().await;
            let calendar = &state.settings.calendar;
            let today = calendar.local(Utc::now()).date();
            if let Some(warning) = calendar.coverage_warning(today, COVERAGE_WARNING_DAYS) {
                tracing::warn!(covers_until = %calendar.covers().1, "{warning}");
            }
        }
    })
}
