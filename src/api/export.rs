//! `GET /v1/export/reports.parquet` and `GET /v1/export/reports.arrow` (issue 12): the
//! reports the caller may see, with the analytics filters, as GeoParquet 1.1 or an Arrow IPC
//! stream, streamed from the store page by page ([`crate::service::export`]).
//!
//! Who sees what is the rule of the OGC `reports` collection: staff (dispatchers, leaders,
//! admins; handlers and grid workers within their units) get the cases with ids and exact
//! points; everybody else (the public, residents, planners) gets category, state, day, grid
//! and community with the point coarsened to its resolution-10 cell centre and no id. An
//! export takes a slot of the analytics gate while it runs.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tokio_stream::StreamExt;
use utoipa::IntoParams;

use super::analytics::{CountFilter, RawFilter};
use super::auth::Caller;
use super::error::Problem;
use super::ogc::report_scope;
use super::{ApiError, ApiQuery, AppState};
use crate::domain::analytics::export::ExportFormat;
use crate::service::export::{ExportQuery, stream};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/export/reports.parquet", get(parquet))
        .route("/v1/export/reports.arrow", get(arrow))
}

/// The analytics filters, as sent.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// First local day, `YYYY-MM-DD`.
    #[param(value_type = Option<String>, format = Date)]
    from: Option<String>,
    /// Last local day, inclusive.
    #[param(value_type = Option<String>, format = Date)]
    to: Option<String>,
    /// A category or major category code.
    #[param(value_type = Option<String>, pattern = "^[A-Za-z0-9]{2,16}$")]
    category: Option<String>,
    /// A unit code of any level: reports located in it (or, for staff, with it).
    #[param(value_type = Option<String>, pattern = "^[0-9]{6,15}$")]
    unit: Option<String>,
    /// Case states, comma-separated, e.g. `dispatched,accepted`.
    #[param(value_type = Option<String>, example = "closed")]
    status: Option<String>,
}

/// The export query of parsed analytics filters, seen with `scope` (`None`: the public).
/// `citysnap export` builds its query here too.
pub(crate) fn export_query(
    f: CountFilter,
    scope: Option<crate::store::CaseScope>,
    timezone: chrono::FixedOffset,
) -> ExportQuery {
    ExportQuery {
        scope,
        from: f.from,
        to: f.to,
        category: f.category.map(|c| c.as_str().to_owned()),
        unit: f.unit.map(|u| u.as_str().to_owned()),
        states: f.states.iter().map(|s| s.as_str().to_owned()).collect(),
        timezone,
    }
}

async fn export(
    state: AppState,
    caller: Caller,
    q: ExportParams,
    format: ExportFormat,
) -> Result<Response, ApiError> {
    let filter = CountFilter::parse(RawFilter {
        from: q.from.as_deref(),
        to: q.to.as_deref(),
        category: q.category.as_deref(),
        unit: q.unit.as_deref(),
        status: q.status.as_deref(),
    })?;
    let query = export_query(filter, report_scope(&caller), state.settings.timezone);
    let slot = state.analytics_gate.admit().await?;
    let body = stream(state.store.clone(), query, format).map(move |chunk| {
        let _held = &slot; // the gate's slot lasts as long as the stream
        chunk
    });
    let mut r = Body::from_stream(body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.media_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"reports.{}\"",
        format.extension()
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// `GET /v1/export/reports.parquet`: GeoParquet 1.1.
#[utoipa::path(get, path = "/v1/export/reports.parquet", tag = "export", params(ExportParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "GeoParquet 1.1: a WKB `geometry` column (OGC:CRS84) and the `geo` file metadata with its bbox; staff columns `case_id`, `submitted_at`, `district`, `street`, `target`, `deadline_at`, `warning` only for staff", content_type = "application/vnd.apache.parquet", body = Vec<u8>),
        (status = 400, description = "`invalid_query`: an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_date`, `invalid_date_range`, `invalid_category`, `invalid_unit`, `invalid_status`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`analytics_busy` (with `retry_after`)", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip(state, caller))]
async fn parquet(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ExportParams>,
) -> Result<Response, ApiError> {
    export(state, caller, q, ExportFormat::GeoParquet).await
}

/// `GET /v1/export/reports.arrow`: an Arrow IPC stream.
#[utoipa::path(get, path = "/v1/export/reports.arrow", tag = "export", params(ExportParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "An Arrow IPC stream with the columns of the Parquet export; `geometry` is WKB with the GeoArrow extension name `geoarrow.wkb`", content_type = "application/vnd.apache.arrow.stream", body = Vec<u8>),
        (status = 400, description = "`invalid_query`: an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_date`, `invalid_date_range`, `invalid_category`, `invalid_unit`, `invalid_status`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`analytics_busy` (with `retry_after`)", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip(state, caller))]
async fn arrow(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ExportParams>,
) -> Result<Response, ApiError> {
    export(state, caller, q, ExportFormat::ArrowStream).await
}
