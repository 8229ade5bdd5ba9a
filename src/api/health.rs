//! Liveness and readiness.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::Problem;
use super::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process serves.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    status: &'static str,
}

/// The store answers and boundaries are loaded.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// Always `ready`.
    #[schema(example = "ready")]
    status: &'static str,
    /// The store's backend: `sqlite` (embedded) or `postgres` (PostGIS).
    #[schema(example = "sqlite")]
    store: &'static str,
    /// Units of the jurisdiction in memory (districts, streets, communities, grids).
    units: usize,
    /// The name of the service area.
    service_area: String,
    /// How far the working calendar's holidays reach.
    calendar: CalendarCoverage,
}

/// The period the working calendar knows the holidays of (issue 8): deadlines past
/// `covers_until` are provisional until the next year's notice is loaded.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarCoverage {
    /// The first day the calendar covers.
    #[schema(value_type = String, format = Date)]
    covers_from: NaiveDate,
    /// The last day whose holidays and swapped working days it knows.
    #[schema(value_type = String, format = Date)]
    covers_until: NaiveDate,
    /// Days from today to `covers_until` (negative once past).
    days_left: i64,
    /// Set when coverage ends within 60 days: what to load, and by when.
    warning: Option<String>,
}

/// Answers as soon as the process serves.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The process serves", body = Health)))]
pub(super) async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Ready when the store answers and boundaries are loaded. Also says how far the working
/// calendar reaches, so that a console can warn before deadlines turn provisional.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready to take reports", body = Readiness),
        (status = 503, description = "`no_boundaries`: nothing can be resolved yet",
            body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    state.store.ping().await?;
    let j = state.jurisdiction()?;
    let calendar = &state.settings.calendar;
    let today = calendar.local(Utc::now()).date();
    let (from, until) = calendar.covers();
    Ok(Json(Readiness {
        status: "ready",
        store: state.store.backend(),
        units: j.units().len(),
        service_area: j.service_area().to_owned(),
        calendar: CalendarCoverage {
            covers_from: from,
            covers_until: until,
            days_left: calendar.days_covered_after(today),
            warning: calendar.coverage_warning(today, COVERAGE_WARNING_DAYS),
        },
    }))
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
