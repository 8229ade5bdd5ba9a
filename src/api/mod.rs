//! HTTP: axum handlers, one module per feature, merged in [`router`]. Handlers parse and
//! shape; the domain decides; the store keeps.

pub mod analytics;
pub mod auth;
pub(crate) mod cases;
pub mod categories;
pub mod console;
pub mod deadlines;
pub mod demo;
pub mod error;
pub mod events;
pub mod export;
mod follow_up;
pub mod health;
pub mod limits;
pub mod ogc;
pub mod open311;
pub mod openapi;
mod photos;
pub mod plan;
pub(crate) mod reports;
pub(crate) mod resolve;
mod rewards;
mod stats;
pub mod tiles;
mod wire;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use chrono::FixedOffset;
use serde::de::DeserializeOwned;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::domain::spatial::resolver::Jurisdiction;
use crate::media::{MediaLimits, MediaStorage};
use crate::store::Store;
pub use error::ApiError;

/// Per-deployment settings the handlers need.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Prefix of case ids (`XL` in `XL-20260315-000123`).
    pub case_prefix: String,
    /// The deployment's time zone, for case-id dates (China: +08:00).
    pub timezone: FixedOffset,
    /// Largest request body accepted, bytes (media included).
    pub max_body_bytes: usize,
    /// How many media of each kind a report may carry, and how large.
    pub media_limits: MediaLimits,
    /// Working days, hours and holidays that deadlines are counted on.
    pub calendar: crate::domain::workflow::calendar::WorkingCalendar,
    /// How long past its deadline a case turns red; `None`: one more time limit.
    pub red_margin: Option<crate::domain::workflow::calendar::IsoDuration>,
    /// k of the public k-anonymity of every aggregate (tiles, heat-maps, hotspots):
    /// counts of fewer reports are not shown to the public ([`crate::domain::analytics::disclosure`]).
    pub tile_min_count: u32,
    /// Whether `/v1/demo/…` hands out tokens for the demo's synthetic principals.
    pub demo_sign_in: demo::DemoSignIn,
    /// How many heavy analytics computations run and wait at once.
    pub analytics_gate: limits::GateSettings,
    /// The raster basemap the web console draws under its maps, if any.
    pub basemap: Option<console::Basemap>,
    /// Whether heat-maps and hotspots count from the in-memory report cube (loaded at
    /// start) rather than read the store for every request.
    pub analytics_cube: bool,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            case_prefix: "XL".into(),
            timezone: FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset"),
            max_body_bytes: 128 * 1024 * 1024,
            media_limits: MediaLimits::default(),
            calendar: crate::domain::workflow::calendar::WorkingCalendar::china(),
            red_margin: None,
            tile_min_count: 3,
            demo_sign_in: demo::DemoSignIn::Off,
            analytics_gate: limits::GateSettings::default(),
            basemap: None,
            analytics_cube: true,
        }
    }
}

/// Shared state of the service. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// Where photos, voice recordings and videos are kept (stripped of location metadata).
    pub media: Arc<dyn MediaStorage>,
    /// The in-memory jurisdiction, swapped whole when boundaries change.
    jurisdiction: Arc<RwLock<Option<Arc<Jurisdiction>>>>,
    pub settings: Arc<ApiSettings>,
    /// Case events as they happen, for `GET /v1/events/stream`.
    pub notices: tokio::sync::broadcast::Sender<events::Notice>,
    /// Hotspot computations shared by the tiles of one map.
    pub(crate) hotspot_cache: Arc<tiles::HotspotCache>,
    /// Rendered tiles, evicted per tile by the reports that land in them.
    pub tile_cache: Arc<tiles::TileCache>,
    /// Admission of heavy analytics computations.
    pub analytics_gate: Arc<limits::AnalyticsGate>,
    /// Where residents' registration codes are sent.
    pub sms: Arc<dyn crate::sms::SmsGateway>,
    /// The category tree, read by intake without a query.
    pub categories: Arc<crate::service::categories::CategoryCache>,
    /// The plan rules and staffed departments, read by auto-dispatch without a query.
    pub dispatch_inputs: Arc<crate::service::dispatch_inputs::DispatchInputs>,
    /// The report cube that heat-maps and hotspots count from.
    pub analytics: Arc<crate::service::analytics::Analytics>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        media: Arc<dyn MediaStorage>,
        jurisdiction: Option<Jurisdiction>,
        settings: ApiSettings,
    ) -> Self {
        Self {
            store,
            media,
            jurisdiction: Arc::new(RwLock::new(jurisdiction.map(Arc::new))),
            analytics_gate: Arc::new(limits::AnalyticsGate::new(settings.analytics_gate)),
            settings: Arc::new(settings),
            notices: tokio::sync::broadcast::channel(1024).0,
            hotspot_cache: Arc::new(tiles::hotspot_cache()),
            tile_cache: Arc::default(),
            sms: Arc::new(crate::sms::Unconfigured),
            categories: Arc::default(),
            dispatch_inputs: Arc::default(),
            analytics: Arc::default(),
        }
    }

    /// The current jurisdiction, or `no_boundaries`.
    pub fn jurisdiction(&self) -> Result<Arc<Jurisdiction>, crate::service::Error> {
        self.jurisdiction
            .read()
            .map_err(|_| crate::service::Error::Internal("jurisdiction lock poisoned".into()))?
            .clone()
            .ok_or(crate::service::Error::NoBoundaries)
    }

    /// Replaces the jurisdiction after boundaries changed (and the tiles drawn from it).
    pub fn set_jurisdiction(&self, j: Jurisdiction) {
        if let Ok(mut guard) = self.jurisdiction.write() {
            *guard = Some(Arc::new(j));
        }
        self.tile_cache.clear();
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP surface, for `serve` and for tests.
pub fn router(state: AppState) -> Router {
    let max_body = state.settings.max_body_bytes;
    let authenticate = middleware::from_fn_with_state(state.clone(), auth::authenticate);
    Router::new()
        .merge(health::router())
        .merge(analytics::router())
        .merge(resolve::router())
        .merge(categories::router())
        .merge(reports::router())
        .merge(cases::router())
        .merge(auth::router())
        .merge(events::router())
        .merge(follow_up::router())
        .merge(rewards::router())
        .merge(stats::router())
        .merge(plan::router())
        .merge(tiles::router())
        .merge(demo::router())
        .merge(photos::router())
        .merge(ogc::router())
        .merge(export::router())
        .merge(open311::router())
        .merge(console::router())
        .merge(openapi::router())
        .fallback(
            |uri: axum::http::Uri| async move { ApiError::RouteNotFound(uri.path().to_owned()) },
        )
        .with_state(state)
        // Who calls is known before any route parses its query or body.
        .layer(authenticate)
        .layer(middleware::from_fn(run_to_completion))
        .layer(middleware::from_fn(log_failures))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        // Every body extractor (JSON, bytes, multipart) refuses more than this with a
        // problem document rather than tower-http's plain-text 413.
        .layer(DefaultBodyLimit::max(max_body))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .layer(middleware::map_response(problems_for_bare_errors))
}

/// axum's 405 (wrong method) and the timeout layer's 408 come without a body: give them the
/// problem document every other error has, keeping their headers (`Allow` on a 405).
async fn problems_for_bare_errors(response: Response) -> Response {
    let error = match response.status() {
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::REQUEST_TIMEOUT => ApiError::Timeout,
        _ => return response,
    };
    let is_problem = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem {
        return response;
    }
    let (parts, _) = response.into_parts();
    let mut problem = axum::response::IntoResponse::into_response(error);
    for (name, value) in &parts.headers {
        if name != axum::http::header::CONTENT_LENGTH && name != axum::http::header::CONTENT_TYPE {
            problem.headers_mut().insert(name.clone(), value.clone());
        }
    }
    problem
}

/// Runs each request's handler as a task of its own, so that a client hanging up (or the
/// timeout layer answering 408) no longer cancels it half-way: the answer is dropped, the
/// work is finished. sqlx transactions are not cancel-safe: a handler dropped after its
/// `COMMIT` was sent makes sqlx queue a `ROLLBACK` (PostgreSQL: "there is no transaction in
/// progress"), and one dropped during `BEGIN` gives the connection back to the pool inside
/// an open transaction, where the next `NOTIFY` of a case event waits unsent (issue 8,
/// item 4). And an acknowledged report must be announced even if its client is gone.
async fn run_to_completion(req: Request, next: Next) -> Response {
    use tracing::Instrument;
    let handler = tokio::spawn(next.run(req).in_current_span());
    match handler.await {
        Ok(response) => response,
        Err(e) => ApiError::Internal(format!("handler failed: {e}")).into_response(),
    }
}

/// Logs the cause of every 500 with the request id; the client only sees "internal error".
async fn log_failures(req: Request, next: Next) -> Response {
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let response = next.run(req).await;
    if let Some(cause) = response.extensions().get::<error::InternalCause>() {
        tracing::error!(%request_id, %method, %path, cause = %cause.0, "request failed");
    }
    response
}

/// `axum::Json` whose rejections are problem documents.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(v) = axum::Json::<T>::from_request(req, state).await?;
        Ok(ApiJson(v))
    }
}

/// `axum::extract::Query` whose rejections are problem documents.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Query(v) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(ApiQuery(v))
    }
}
