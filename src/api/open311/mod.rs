//! Open311 GeoReport v2 under `/open311/v2` (issue 12; <http://wiki.open311.org/GeoReport_v2>):
//! the categories as services, the cases as service requests, and intake for Open311
//! clients (FixMyStreet, 311 apps), in JSON and XML.
//!
//! An adapter over the same services as `/v1` and `/ogc`: requests are created by the
//! intake service ([`crate::service::intake`]), listed from the case index, and shown as the
//! caller may see them by the rule of the OGC `reports` collection: staff with a case scope
//! get exact points, descriptions and addresses within their scope; everybody else (the
//! public, residents, API keys) gets the point coarsened to the centre of its resolution-10
//! H3 cell ([`super::ogc::coarsened`]), no description and no address, and a `lat`/`long`/
//! `radius` search applies to the coarsened point. Contacts are never shown.
//!
//! Errors have the spec's shape (GeoReport v2 "Errors"): `[{"code": 400, "description":
//! "…"}]` or `<errors><error><code>400</code><description>…</description></error></errors>`
//! with the same HTTP status; checks that `/v1` answers with 422 are 400 here, as the spec
//! has it ("400 - service_code or service_request_id missing or invalid").

pub mod keys;
mod wire;
mod xml;

use std::sync::OnceLock;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::IntoParams;

use super::auth::{Caller, sees};
use super::error::InternalCause;
use super::ogc::{PUBLIC_BBOX_MARGIN, coarsened, origin, report_scope};
use super::{ApiError, AppState};
use crate::api::reports::{LocationRequest, ReportRequest};
use crate::domain::access::{is_api_key_shaped, is_follow_up_shaped, token_digest};
use crate::domain::case::{ActionKind, State as CaseState, may};
use crate::domain::categories::Category;
use crate::domain::departments::{SHIPPED_DEPARTMENTS, parse_department_file};
use crate::domain::resolver::Jurisdiction;
use crate::domain::units::UnitCode;
use crate::service::intake::{self, CheckedReport, Submission};
use crate::store::analytics::Bbox;
use crate::store::{ApiKey, CaseQuery, CaseScope, Contact, IdempotencyKey, IndexedCase};
pub use wire::*;

const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";
const XML: &str = "application/xml";
/// Most requests one `GET requests` answers (the spec's default: "1000 requests or 90 days,
/// whichever is smaller"); narrow the dates to see more.
const REQUESTS_MAX: i64 = 1000;
/// Most ids one `service_request_id` list names.
const IDS_MAX: usize = 100;
/// The window `GET requests` searches when no dates are given, and the longest it takes.
const WINDOW_DAYS: i64 = 90;
/// `radius` when `lat`/`long` come without one, and the largest taken, metres.
const RADIUS_DEFAULT_M: f64 = 1_000.0;
const RADIUS_MAX_M: f64 = 50_000.0;
const METRES_PER_DEGREE: f64 = 111_320.0;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/open311/v2/discovery.json", get(discovery_json))
        .route("/open311/v2/discovery.xml", get(discovery_xml))
        .route("/open311/v2/services.json", get(services_json))
        .route("/open311/v2/services.xml", get(services_xml))
        .route(
            "/open311/v2/services/{service_code}",
            get(service_definition),
        )
        .route(
            "/open311/v2/requests.json",
            get(requests_json).post(create_json),
        )
        .route(
            "/open311/v2/requests.xml",
            get(requests_xml).post(create_xml),
        )
        .route(
            "/open311/v2/requests/{service_request_id}",
            get(service_request),
        )
        .route("/open311/v2/tokens/{token}", get(token))
        .merge(keys::router())
}

/// The format a path asks for: its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// `0302.json` → `("0302", Json)`; `None` without a known extension.
    fn split(file: &str) -> Option<(&str, Format)> {
        if let Some(stem) = file.strip_suffix(".json") {
            Some((stem, Format::Json))
        } else {
            file.strip_suffix(".xml").map(|stem| (stem, Format::Xml))
        }
    }

    /// A document in this format; `root` names the XML root element.
    fn answer<T: Serialize>(self, status: StatusCode, root: &str, body: &T) -> Response {
        match self {
            Format::Json => (status, Json(body)).into_response(),
            Format::Xml => match xml::document(root, body) {
                Ok(doc) => (
                    status,
                    [(header::CONTENT_TYPE, HeaderValue::from_static(XML))],
                    doc,
                )
                    .into_response(),
                Err(e) => Open311Error::new(self, ApiError::Internal(format!("{root}: {e}")))
                    .into_response(),
            },
        }
    }
}

/// An error as Open311 clients read it, in the format the request asked for.
#[derive(Debug)]
pub struct Open311Error {
    format: Format,
    error: ApiError,
}

impl Open311Error {
    pub fn new(format: Format, error: ApiError) -> Self {
        Self { format, error }
    }

    /// The HTTP status: the API's own, but 400 where `/v1` says 422 (the spec knows 400,
    /// 403 and 404 for the client's mistakes).
    fn status(&self) -> StatusCode {
        match self.error.status() {
            StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
            s => s,
        }
    }
}

impl IntoResponse for Open311Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let internal = matches!(self.error, ApiError::Internal(_));
        let description = if internal {
            "internal error".to_owned()
        } else {
            self.error.to_string()
        };
        let body = [Open311ErrorBody {
            code: status.as_u16(),
            description,
        }];
        let mut response = self.format.answer(status, "errors", &body);
        if let ApiError::Internal(cause) = self.error {
            // Logged with the request id by the logging middleware, never sent.
            response.extensions_mut().insert(InternalCause(cause));
        }
        response
    }
}

type Answer = Result<Response, Open311Error>;

fn bad_request(format: Format, detail: impl Into<String>) -> Open311Error {
    Open311Error::new(format, ApiError::InvalidQuery(detail.into()))
}

fn not_found(format: Format, what: impl Into<String>) -> Open311Error {
    Open311Error::new(format, ApiError::RouteNotFound(what.into()))
}

/// ISO 8601 with the deployment's offset, as the spec's examples (`2010-04-14T06:37:38-08:00`).
fn datetime(t: DateTime<Utc>, tz: &FixedOffset) -> String {
    t.with_timezone(tz)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

// --- Service discovery ---------------------------------------------------------------------

/// `GET /open311/v2/discovery.json`.
#[utoipa::path(get, path = "/open311/v2/discovery.json", tag = "open311",
    responses(
        (status = 200, description = "The endpoint, its formats and how to get an API key", body = Discovery),
        (status = 500, description = "Internal error", body = [Open311ErrorBody]),
    ))]
pub(crate) async fn discovery_json(State(state): State<AppState>, headers: HeaderMap) -> Response {
    discovery(&state, &headers, Format::Json)
}

/// `GET /open311/v2/discovery.xml`.
#[utoipa::path(get, path = "/open311/v2/discovery.xml", tag = "open311",
    responses(
        (status = 200, description = "`<discovery>`", body = String, content_type = "application/xml"),
        (status = 500, description = "`<errors>`", body = String, content_type = "application/xml"),
    ))]
pub(crate) async fn discovery_xml(State(state): State<AppState>, headers: HeaderMap) -> Response {
    discovery(&state, &headers, Format::Xml)
}

fn discovery(state: &AppState, headers: &HeaderMap, format: Format) -> Response {
    let area = state
        .jurisdiction()
        .map(|j| j.service_area().to_owned())
        .unwrap_or_default();
    let body = Discovery {
        changeset: CHANGESET,
        contact: format!("The city management command centre of {area}"),
        key_service: "API keys are issued by the deployment's admins \
                      (`citysnap open311-key create --name …`, or POST /v1/open311-keys)"
            .into(),
        endpoints: vec![Endpoint {
            specification: SPECIFICATION,
            url: format!("{}/open311/v2", origin(headers)),
            changeset: CHANGESET,
            kind: "production",
            formats: vec!["application/json", "text/xml"],
        }],
    };
    format.answer(StatusCode::OK, "discovery", &body)
}

// --- Services -----------------------------------------------------------------------------

/// The categories a request can be filed in: those not retired that have no category
/// below them that is not retired (majors with minors are their groups).
fn services_of(categories: &[Category]) -> Vec<Service> {
    let live: Vec<&Category> = categories.iter().filter(|c| !c.retired).collect();
    live.iter()
        .filter(|c| !live.iter().any(|d| d.parent.as_ref() == Some(&c.code)))
        .map(|c| {
            let major = c
                .parent
                .as_ref()
                .and_then(|p| categories.iter().find(|m| &m.code == p))
                .unwrap_or(c);
            Service {
                service_code: c.code.to_string(),
                service_name: c.name.clone(),
                description: c.name_en.clone().unwrap_or_else(|| c.name.clone()),
                metadata: false,
                kind: "realtime",
                keywords: [Some(c.kind.as_str().to_owned()), c.name_en.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(","),
                group: major.name.clone(),
            }
        })
        .collect()
}

/// What a request of this category can expect (GeoReport v2 `service_notice`): its handling
/// time limit, where it has one.
fn service_notice(category: &Category) -> Option<String> {
    let limit = category.time_limit?;
    let calendar = serde_json::to_value(category.calendar)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    Some(format!(
        "handled within {limit} ({})",
        calendar.replace('_', " ")
    ))
}

/// `GET /open311/v2/services.json`.
#[utoipa::path(get, path = "/open311/v2/services.json", tag = "open311",
    params(JurisdictionQuery),
    responses(
        (status = 200, description = "The categories as services", body = [Service]),
        (status = 500, description = "Internal error", body = [Open311ErrorBody]),
    ))]
pub(crate) async fn services_json(State(state): State<AppState>) -> Answer {
    services(&state, Format::Json).await
}

/// `GET /open311/v2/services.xml`.
#[utoipa::path(get, path = "/open311/v2/services.xml", tag = "open311",
    params(JurisdictionQuery),
    responses(
        (status = 200, description = "`<services>`", body = String, content_type = "application/xml"),
        (status = 500, description = "`<errors>`", body = String, content_type = "application/xml"),
    ))]
pub(crate) async fn services_xml(State(state): State<AppState>) -> Answer {
    services(&state, Format::Xml).await
}

async fn services(state: &AppState, format: Format) -> Answer {
    let categories = state
        .store
        .categories()
        .await
        .map_err(|e| Open311Error::new(format, e.into()))?;
    Ok(format.answer(StatusCode::OK, "services", &services_of(&categories)))
}

/// The parameter every GeoReport v2 call may carry; one jurisdiction is served, so it is
/// taken and not checked.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct JurisdictionQuery {
    /// Ignored: this endpoint serves one jurisdiction.
    jurisdiction_id: Option<String>,
}

/// `GET /open311/v2/services/{service_code}.{format}`.
#[utoipa::path(get, path = "/open311/v2/services/{service_code}", tag = "open311",
    params(("service_code" = String, Path, description = "The service code and the format, `0302.json` or `0302.xml`",
        pattern = r"^[A-Za-z0-9]{2,16}\.(json|xml)$", example = "0302.json"), JurisdictionQuery),
    responses(
        (status = 200, description = "The service definition", content(
            (ServiceDefinition = "application/json"), (String = "application/xml"))),
        (status = 404, description = "No such service", content(
            ([Open311ErrorBody] = "application/json"), (String = "application/xml"))),
        (status = 500, description = "Internal error", content(
            ([Open311ErrorBody] = "application/json"), (String = "application/xml"))),
    ))]
pub(crate) async fn service_definition(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Answer {
    let (code, format) = Format::split(&file)
        .ok_or_else(|| not_found(Format::Json, format!("/open311/v2/services/{file}")))?;
    let categories = state
        .store
        .categories()
        .await
        .map_err(|e| Open311Error::new(format, e.into()))?;
    let service = services_of(&categories)
        .into_iter()
        .find(|s| s.service_code == code)
        .ok_or_else(|| {
            not_found(
                format,
                format!("service_code {code} is not a service of this endpoint"),
            )
        })?;
    let body = ServiceDefinition {
        service_code: service.service_code,
        attributes: Vec::new(),
    };
    Ok(format.answer(StatusCode::OK, "service_definition", &body))
}

// --- Service requests ----------------------------------------------------------------------

/// The filters of `GET requests` (GeoReport v2 "GET Service Requests"), plus
/// `lat`/`long`/`radius` as many clients send. Parameters of other calls are ignored.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RequestsQuery {
    /// Comma-separated ids (at most 100); overrides every other parameter.
    #[param(example = "XL-20261201-000001")]
    service_request_id: Option<String>,
    /// A service code (a major category's code takes its minors).
    #[param(pattern = "^[A-Za-z0-9]{1,16}$", example = "0302")]
    service_code: Option<String>,
    /// Earliest `requested_datetime`, ISO 8601 with an offset (default: `end_date` less 90
    /// days).
    #[param(example = "2026-12-01T00:00:00+08:00")]
    start_date: Option<String>,
    /// Latest `requested_datetime` (default: now); at most 90 days after `start_date`.
    #[param(example = "2026-12-31T00:00:00+08:00")]
    end_date: Option<String>,
    /// `open`, `closed` or both, comma-separated.
    #[param(pattern = "^(open|closed)(,(open|closed))*$")]
    status: Option<String>,
    /// With `long`: requests within `radius` metres of this point (WGS-84).
    #[param(value_type = Option<f64>, minimum = -90.0, maximum = 90.0)]
    lat: Option<String>,
    #[param(value_type = Option<f64>, minimum = -180.0, maximum = 180.0)]
    long: Option<String>,
    /// Metres, default 1000, at most 50,000.
    #[param(value_type = Option<f64>, minimum = 0.0, maximum = 50000.0)]
    radius: Option<String>,
}

/// The query, checked.
struct Search {
    ids: Option<Vec<String>>,
    category: Option<String>,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    states: Vec<String>,
    near: Option<(f64, f64, f64)>,
}

fn number(
    name: &str,
    v: Option<&str>,
    range: std::ops::RangeInclusive<f64>,
) -> Result<Option<f64>, String> {
    let Some(v) = v else { return Ok(None) };
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && range.contains(x))
        .map(Some)
        .ok_or_else(|| {
            format!(
                "{name} must be a number from {} to {}",
                range.start(),
                range.end()
            )
        })
}

fn instant(name: &str, v: Option<&str>) -> Result<Option<DateTime<Utc>>, String> {
    v.map(|s| {
        DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                format!("{name} must be ISO 8601 with an offset, e.g. 2026-12-01T00:00:00+08:00")
            })
    })
    .transpose()
}

impl Search {
    fn parse(q: &RequestsQuery, now: DateTime<Utc>) -> Result<Self, String> {
        let ids = match q.service_request_id.as_deref() {
            None => None,
            Some(list) => {
                let ids: Vec<String> = list
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect();
                if ids.is_empty() || ids.len() > IDS_MAX || ids.iter().any(|i| i.len() > 40) {
                    return Err(format!(
                        "service_request_id must be 1 to {IDS_MAX} comma-separated ids"
                    ));
                }
                Some(ids)
            }
        };
        if let Some(c) = &q.service_code
            && !(1..=16).contains(&c.len())
        {
            return Err("service_code must be a service code of services.json".into());
        }
        let category = q.service_code.clone();
        if category
            .as_deref()
            .is_some_and(|c| !c.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err("service_code must be a service code of services.json".into());
        }
        let window = TimeDelta::days(WINDOW_DAYS);
        let (from, until) = match (
            instant("start_date", q.start_date.as_deref())?,
            instant("end_date", q.end_date.as_deref())?,
        ) {
            (Some(f), Some(u)) => (f, u),
            (Some(f), None) => (f, now),
            (None, Some(u)) => (u - window, u),
            (None, None) => (now - window, now),
        };
        if from > until {
            return Err("start_date is after end_date".into());
        }
        if until - from > window {
            return Err(format!(
                "start_date to end_date may not span more than {WINDOW_DAYS} days"
            ));
        }
        let mut states = Vec::new();
        if let Some(list) = q.status.as_deref() {
            for s in list.split(',') {
                let status = Status::parse(s.trim())
                    .ok_or_else(|| format!("status {s:?}: open or closed"))?;
                states.extend(status.states());
            }
        }
        let lat = number("lat", q.lat.as_deref(), -90.0..=90.0)?;
        let lon = number("long", q.long.as_deref(), -180.0..=180.0)?;
        let radius = number("radius", q.radius.as_deref(), 0.0..=RADIUS_MAX_M)?;
        let near = match (lat, lon) {
            (Some(lat), Some(lon)) => Some((lon, lat, radius.unwrap_or(RADIUS_DEFAULT_M))),
            (None, None) if radius.is_none() => None,
            _ => return Err("lat, long and radius go together: give lat and long".into()),
        };
        Ok(Self {
            ids,
            category,
            from,
            until,
            states,
            near,
        })
    }
}

/// Great-circle distance in metres (haversine, mean Earth radius).
fn distance_m((lon1, lat1): (f64, f64), (lon2, lat2): (f64, f64)) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * a.sqrt().asin()
}

/// The box around a circle, widened for the public by the coarsening margin (their circle
/// is applied to the coarsened points).
fn circle_box((lon, lat, radius): (f64, f64, f64), exact: bool) -> Bbox {
    let margin = if exact { 0.0 } else { PUBLIC_BBOX_MARGIN };
    let dlat = radius / METRES_PER_DEGREE + margin;
    let dlon = radius / (METRES_PER_DEGREE * lat.to_radians().cos().max(0.01)) + margin;
    Bbox {
        min_lon: (lon - dlon).max(-180.0),
        min_lat: (lat - dlat).max(-90.0),
        max_lon: (lon + dlon).min(180.0),
        max_lat: (lat + dlat).min(90.0),
    }
}

/// `GET /open311/v2/requests.json`.
#[utoipa::path(get, path = "/open311/v2/requests.json", tag = "open311", security((), ("bearer" = [])),
    params(RequestsQuery, JurisdictionQuery),
    responses(
        (status = 200, description = "Requests as the caller may see them, oldest first, at most 1000", body = [ServiceRequest]),
        (status = 400, description = "A parameter that does not parse", body = [Open311ErrorBody]),
        (status = 500, description = "Internal error", body = [Open311ErrorBody]),
        (status = 503, description = "No boundaries loaded", body = [Open311ErrorBody]),
    ))]
pub(crate) async fn requests_json(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<RequestsQuery>, QueryRejection>,
) -> Answer {
    requests(&state, &caller, q, Format::Json).await
}

/// `GET /open311/v2/requests.xml`.
#[utoipa::path(get, path = "/open311/v2/requests.xml", tag = "open311", security((), ("bearer" = [])),
    params(RequestsQuery, JurisdictionQuery),
    responses(
        (status = 200, description = "`<service_requests>`", body = String, content_type = "application/xml"),
        (status = 400, description = "`<errors>`", body = String, content_type = "application/xml"),
        (status = 500, description = "`<errors>`", body = String, content_type = "application/xml"),
        (status = 503, description = "`<errors>`", body = String, content_type = "application/xml"),
    ))]
pub(crate) async fn requests_xml(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<RequestsQuery>, QueryRejection>,
) -> Answer {
    requests(&state, &caller, q, Format::Xml).await
}

async fn requests(
    state: &AppState,
    caller: &Caller,
    q: Result<Query<RequestsQuery>, QueryRejection>,
    format: Format,
) -> Answer {
    let Query(q) = q.map_err(|e| bad_request(format, e.body_text()))?;
    let now = Utc::now();
    let search = Search::parse(&q, now).map_err(|e| bad_request(format, e))?;
    let found = matching(state, caller, &search, now)
        .await
        .map_err(|e| Open311Error::new(format, e))?;
    Ok(format.answer(StatusCode::OK, "service_requests", &found))
}

/// The requests `search` finds, as the caller may see them.
async fn matching(
    state: &AppState,
    caller: &Caller,
    search: &Search,
    now: DateTime<Utc>,
) -> Result<Vec<ServiceRequest>, ApiError> {
    let scope = report_scope(caller);
    let view = View::new(state, scope.is_some()).await?;
    let rows = match &search.ids {
        Some(ids) => {
            let mut rows = Vec::new();
            for id in ids {
                if let Some(r) = state.store.indexed_case(id).await?
                    && view.may_see(caller, &r)
                {
                    rows.push(r);
                }
            }
            rows
        }
        None => {
            state
                .store
                .list_cases(&CaseQuery {
                    scope: scope.unwrap_or(CaseScope::All),
                    states: search.states.clone(),
                    warning: None,
                    unit: None,
                    category: search.category.clone(),
                    bbox: search.near.map(|c| circle_box(c, view.exact)),
                    supervision_queue: false,
                    now,
                    limit: REQUESTS_MAX,
                    after: None,
                    submitted_from: Some(search.from),
                    submitted_until: Some(search.until),
                })
                .await?
        }
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let request = view.request(state, &r).await?;
        let inside = search.near.is_none_or(|(lon, lat, radius)| {
            search.ids.is_some() || distance_m((lon, lat), (request.long, request.lat)) <= radius
        });
        if inside {
            out.push(request);
        }
    }
    Ok(out)
}

/// How the caller sees requests: the categories and jurisdiction to name things, and
/// whether the caller gets exact points (staff within their scope) or the public's view.
struct View {
    exact: bool,
    categories: Vec<Category>,
    jurisdiction: std::sync::Arc<Jurisdiction>,
    timezone: FixedOffset,
}

impl View {
    async fn new(state: &AppState, exact: bool) -> Result<Self, ApiError> {
        Ok(Self {
            exact,
            categories: state.store.categories().await?,
            jurisdiction: state.jurisdiction()?,
            timezone: state.settings.timezone,
        })
    }

    /// Staff see the cases of their scope; the public sees every case, coarsened.
    fn may_see(&self, caller: &Caller, r: &IndexedCase) -> bool {
        match (&caller.0, self.exact) {
            (Some(p), true) => sees(p, r),
            _ => true,
        }
    }

    /// A case as a service request for this viewer.
    async fn request(&self, state: &AppState, r: &IndexedCase) -> Result<ServiceRequest, ApiError> {
        let category = self
            .categories
            .iter()
            .find(|c| c.code.as_str() == r.category);
        let events = state.store.case_events(&r.case_id).await?;
        let status_notes = events.last().map(|e| {
            format!(
                "{} by the {} at {}",
                e.event.action.kind(),
                e.event.role,
                datetime(e.event.at, &self.timezone)
            )
        });
        let case_state: CaseState = r
            .state
            .parse()
            .map_err(|e| ApiError::Internal(format!("case {}: {e}", r.case_id)))?;
        let (lon, lat, description, address) = if self.exact {
            let report = state.store.get_report(&r.case_id).await?;
            let (description, address) = report
                .map(|rep| (Some(rep.description), rep.address))
                .unwrap_or_default();
            (r.lon, r.lat, description, address)
        } else {
            let (lon, lat) = coarsened(r.lon, r.lat).ok_or_else(|| {
                ApiError::Internal(format!("case {} has no valid point", r.case_id))
            })?;
            (lon, lat, None, None)
        };
        Ok(ServiceRequest {
            service_request_id: r.case_id.clone(),
            status: Status::of(case_state),
            status_notes,
            service_name: category.map(|c| c.name.clone()),
            service_code: r.category.clone(),
            description,
            agency_responsible: r
                .target
                .as_deref()
                .and_then(|t| agency(&self.jurisdiction, t)),
            service_notice: category.and_then(service_notice),
            requested_datetime: datetime(r.submitted_at, &self.timezone),
            updated_datetime: datetime(r.updated_at, &self.timezone),
            expected_datetime: r.deadline_at.map(|d| datetime(d, &self.timezone)),
            address,
            address_id: None,
            zipcode: None,
            lat,
            long: lon,
            media_url: None,
        })
    }
}

/// The name of the unit or department a case is targeted at.
fn agency(j: &Jurisdiction, target: &str) -> Option<String> {
    if let Some(id) = UnitCode::parse(target).ok().and_then(|c| j.by_code(&c)) {
        return Some(j.unit(id).name.clone());
    }
    static DEPARTMENTS: OnceLock<Vec<(String, String)>> = OnceLock::new();
    DEPARTMENTS
        .get_or_init(|| {
            parse_department_file(SHIPPED_DEPARTMENTS)
                .map(|ds| {
                    ds.into_iter()
                        .map(|d| (d.code.as_str().to_owned(), d.name))
                        .collect()
                })
                .unwrap_or_default()
        })
        .iter()
        .find(|(code, _)| code == target)
        .map(|(_, name)| name.clone())
}

/// `GET /open311/v2/requests/{service_request_id}.{format}`.
#[utoipa::path(get, path = "/open311/v2/requests/{service_request_id}", tag = "open311", security((), ("bearer" = [])),
    params(("service_request_id" = String, Path, description = "The id and the format, e.g. `XL-20261201-000001.json` or `….xml`",
        pattern = r"^[A-Za-z0-9-]{1,40}\.(json|xml)$", example = "XL-20261201-000001.json"), JurisdictionQuery),
    responses(
        (status = 200, description = "The request, as a list of one", content(
            ([ServiceRequest] = "application/json"), (String = "application/xml"))),
        (status = 404, description = "No such request (or not in the caller's scope)", content(
            ([Open311ErrorBody] = "application/json"), (String = "application/xml"))),
        (status = 500, description = "Internal error", content(
            ([Open311ErrorBody] = "application/json"), (String = "application/xml"))),
        (status = 503, description = "No boundaries loaded", content(
            ([Open311ErrorBody] = "application/json"), (String = "application/xml"))),
    ))]
pub(crate) async fn service_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(file): Path<String>,
) -> Answer {
    let (id, format) = Format::split(&file)
        .ok_or_else(|| not_found(Format::Json, format!("/open311/v2/requests/{file}")))?;
    let missing = || not_found(format, format!("service_request_id {id} is not known"));
    if id.is_empty() || id.len() > 40 {
        return Err(missing());
    }
    let search = Search {
        ids: Some(vec![id.to_owned()]),
        category: None,
        from: DateTime::<Utc>::MIN_UTC,
        until: DateTime::<Utc>::MAX_UTC,
        states: Vec::new(),
        near: None,
    };
    let found = matching(&state, &caller, &search, Utc::now())
        .await
        .map_err(|e| Open311Error::new(format, e))?;
    if found.is_empty() {
        return Err(missing());
    }
    Ok(format.answer(StatusCode::OK, "service_requests", &found))
}

/// `GET /open311/v2/tokens/{token}.{format}`: the request a token stands for. The token is
/// the reporter's follow-up secret that `POST requests` answered with.
#[utoipa::path(get, path = "/open311/v2/tokens/{token}", tag = "open311",
    params(("token" = String, Path, description = "The token and the format, `fu_….json` or `fu_….xml`",
        pattern = r"^fu_[0-9a-f]{64}\.(json|xml)$"), JurisdictionQuery),
    responses(
        (status = 200, description = "The request id, as a list of one", content(
            ([TokenRequest] = "application/json"), (String = "application/xml"))),
        (status = 404, description = "No such token", content(
            ([Open311ErrorBody] = "application/json"), (String = "application/xml"))),
        (status = 500, description = "Internal error", content(
            ([Open311ErrorBody] = "application/json"), (String = "application/xml"))),
    ))]
pub(crate) async fn token(State(state): State<AppState>, Path(file): Path<String>) -> Answer {
    let (token, format) = Format::split(&file)
        .ok_or_else(|| not_found(Format::Json, format!("/open311/v2/tokens/{file}")))?;
    let missing = || not_found(format, "no request has this token");
    if !is_follow_up_shaped(token) {
        return Err(missing());
    }
    let case_id = state
        .store
        .followed_case(&token_digest(token))
        .await
        .map_err(|e| Open311Error::new(format, e.into()))?
        .ok_or_else(missing)?;
    let body = [TokenRequest {
        service_request_id: case_id,
        token: token.to_owned(),
    }];
    Ok(format.answer(StatusCode::OK, "service_requests", &body))
}

// --- POST Service Request ------------------------------------------------------------------

/// The form of `POST requests` (GeoReport v2 "POST Service Request"), as the schema shows
/// it; the handler reads the pairs itself to take `attribute[…]`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct CreateForm {
    /// Required: an API key issued by the deployment's admins.
    api_key: String,
    #[schema(example = "0302")]
    service_code: String,
    /// WGS-84; required (this service locates requests by coordinates).
    #[schema(example = 41.12, minimum = -90.0, maximum = 90.0)]
    lat: f64,
    #[schema(example = 122.07, minimum = -180.0, maximum = 180.0)]
    long: f64,
    /// Required, 1 to 2,000 characters.
    #[schema(example = "井盖缺失")]
    description: String,
    address_string: Option<String>,
    /// Not kept: reporters are called back by phone.
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
    /// With the report, the idempotency key where no `Idempotency-Key` header is sent.
    device_id: Option<String>,
    account_id: Option<String>,
    /// Not fetched: this service does not download media from other hosts.
    media_url: Option<String>,
    address_id: Option<String>,
    jurisdiction_id: Option<String>,
}

/// The form, read.
#[derive(Debug, Default)]
struct Posted {
    api_key: Option<String>,
    service_code: Option<String>,
    lat: Option<String>,
    long: Option<String>,
    description: Option<String>,
    address_string: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
    device_id: Option<String>,
}

impl Posted {
    fn read(pairs: Vec<(String, String)>) -> Result<Self, String> {
        let mut f = Posted::default();
        for (k, v) in pairs {
            let slot = match k.as_str() {
                "api_key" => &mut f.api_key,
                "service_code" => &mut f.service_code,
                "lat" => &mut f.lat,
                "long" => &mut f.long,
                "description" => &mut f.description,
                "address_string" => &mut f.address_string,
                "first_name" => &mut f.first_name,
                "last_name" => &mut f.last_name,
                "phone" => &mut f.phone,
                "device_id" => &mut f.device_id,
                // Taken and not kept (see `CreateForm`).
                "email" | "account_id" | "media_url" | "address_id" | "jurisdiction_id" => {
                    continue;
                }
                a if a.starts_with("attribute[") && a.ends_with(']') => {
                    return Err(format!(
                        "{a}: the services of this endpoint have no attributes"
                    ));
                }
                other => return Err(format!("unknown field {other:?}")),
            };
            if slot.is_some() {
                return Err(format!("{k} is given twice"));
            }
            let v = v.trim();
            if !v.is_empty() {
                *slot = Some(v.to_owned());
            }
        }
        Ok(f)
    }

    /// The report the form describes, as `/v1/reports` takes it.
    fn report(&self) -> Result<ReportRequest, String> {
        let required =
            |v: &Option<String>, name: &str| v.clone().ok_or_else(|| format!("{name} is required"));
        let coordinate = |v: &Option<String>, name: &str| -> Result<f64, String> {
            required(v, name)?
                .parse::<f64>()
                .map_err(|_| format!("{name} must be a number"))
        };
        let name = [&self.first_name, &self.last_name]
            .into_iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
        let contact = (!name.is_empty() || self.phone.is_some()).then(|| Contact {
            name: (!name.is_empty()).then_some(name),
            phone: self.phone.clone(),
        });
        Ok(ReportRequest {
            description: required(&self.description, "description")?,
            category: required(&self.service_code, "service_code")?,
            location: LocationRequest {
                lon: coordinate(&self.long, "long")?,
                lat: coordinate(&self.lat, "lat")?,
                datum: Default::default(),
                accuracy_m: None,
                address: self.address_string.clone(),
            },
            contact,
        })
    }
}

/// `POST /open311/v2/requests.json`.
#[utoipa::path(post, path = "/open311/v2/requests.json", tag = "open311", security((), ("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header,
        description = "1 to 255 visible ASCII characters: a retry with the same key and form answers the first request")),
    request_body(content = CreateForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 201, description = "A case was opened (or, on a retry, found)", body = [CreatedRequest]),
        (status = 400, description = "A field missing or refused, a location outside the service area", body = [Open311ErrorBody]),
        (status = 403, description = "No valid api_key", body = [Open311ErrorBody]),
        (status = 413, description = "Body too large", body = [Open311ErrorBody]),
        (status = 415, description = "Not form-encoded", body = [Open311ErrorBody]),
        (status = 500, description = "Internal error", body = [Open311ErrorBody]),
        (status = 503, description = "No boundaries loaded", body = [Open311ErrorBody]),
    ))]
pub(crate) async fn create_json(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Answer {
    create(&state, &caller, &headers, form, Format::Json).await
}

/// `POST /open311/v2/requests.xml`.
#[utoipa::path(post, path = "/open311/v2/requests.xml", tag = "open311", security((), ("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header,
        description = "1 to 255 visible ASCII characters: a retry with the same key and form answers the first request")),
    request_body(content = CreateForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 201, description = "`<service_requests>`", body = String, content_type = "application/xml"),
        (status = 400, description = "`<errors>`", body = String, content_type = "application/xml"),
        (status = 403, description = "`<errors>`: no valid api_key", body = String, content_type = "application/xml"),
        (status = 413, description = "`<errors>`", body = String, content_type = "application/xml"),
        (status = 415, description = "`<errors>`", body = String, content_type = "application/xml"),
        (status = 500, description = "`<errors>`", body = String, content_type = "application/xml"),
        (status = 503, description = "`<errors>`", body = String, content_type = "application/xml"),
    ))]
pub(crate) async fn create_xml(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Answer {
    create(&state, &caller, &headers, form, Format::Xml).await
}

#[tracing::instrument(skip_all)]
async fn create(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
    format: Format,
) -> Answer {
    let fail = |e: ApiError| Open311Error::new(format, e);
    let Form(pairs) = form.map_err(|e| {
        fail(match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedContentType(
                "send the request as application/x-www-form-urlencoded".into(),
            ),
            _ => ApiError::InvalidBody(e.body_text()),
        })
    })?;
    let form = Posted::read(pairs).map_err(|e| fail(ApiError::InvalidBody(e)))?;
    // GeoReport v2: "api_key … required" for POST Service Request; 403 without a valid one.
    let key = api_key(state, form.api_key.as_deref())
        .await
        .map_err(fail)?;
    // A signed-in caller reports as themselves, if their role reports at all.
    if let Some(p) = &caller.0
        && !may(p.role, ActionKind::Submit)
    {
        return Err(fail(ApiError::Forbidden(format!(
            "a {} may not submit reports",
            p.role
        ))));
    }
    let request = form.report().map_err(|e| fail(ApiError::InvalidBody(e)))?;
    let idempotency = idempotency_key(headers, &key, &form, &request).map_err(fail)?;
    let report = CheckedReport::parse(request).map_err(fail)?;
    let accepted = intake::submit(
        state,
        Submission {
            reporter: caller.0.as_ref(),
            report,
            media: Vec::new(),
            key: idempotency,
        },
    )
    .await
    .map_err(fail)?;
    let body = [CreatedRequest {
        service_request_id: accepted.case_id,
        token: accepted.follow_up_secret,
        service_notice: service_notice(&accepted.category),
        account_id: None,
    }];
    Ok(format.answer(StatusCode::CREATED, "service_requests", &body))
}

/// The live API key the form names, or 403.
async fn api_key(state: &AppState, key: Option<&str>) -> Result<ApiKey, ApiError> {
    let key = key.ok_or_else(|| {
        ApiError::Forbidden("api_key is required to post service requests".into())
    })?;
    let invalid = || ApiError::Forbidden("api_key is not valid (unknown or revoked)".into());
    if !is_api_key_shaped(key) {
        return Err(invalid());
    }
    state
        .store
        .api_key_by_digest(&token_digest(key))
        .await?
        .ok_or_else(invalid)
}

/// The idempotency key of a request, in the API key's own namespace, with the digest of the
/// report: the `Idempotency-Key` header if sent, else one derived from the `device_id` and
/// the report (Open311 clients cannot always send headers; the same report sent twice from
/// one device is one request, another report from it is another).
fn idempotency_key(
    headers: &HeaderMap,
    key: &ApiKey,
    form: &Posted,
    request: &ReportRequest,
) -> Result<Option<IdempotencyKey>, ApiError> {
    let request_hash = intake::request_hash(request, &[])?;
    let given = match headers.get("idempotency-key") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
                .ok_or_else(|| {
                    ApiError::InvalidIdempotencyKey(
                        "Idempotency-Key must be 1 to 255 visible ASCII characters".into(),
                    )
                })?
                .to_owned(),
        ),
        None => form.device_id.as_ref().map(|d| {
            let digest = Sha256::digest(format!("{d}\n{request_hash}").as_bytes());
            format!("device:{}", hex::encode(digest))
        }),
    };
    let Some(given) = given else { return Ok(None) };
    Ok(Some(IdempotencyKey {
        scope: format!("api_key:{}", key.id),
        key: given,
        request_hash,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_form_becomes_the_report_intake_takes() {
        let form = Posted::read(pairs(&[
            ("api_key", "k"),
            ("service_code", "0302"),
            ("lat", "41.12"),
            ("long", "122.07"),
            ("description", "井盖缺失"),
            ("first_name", "三"),
            ("last_name", "张"),
            ("email", "z@example.org"),
            ("jurisdiction_id", "panjin"),
        ]))
        .unwrap();
        let r = form.report().unwrap();
        assert_eq!((r.location.lon, r.location.lat), (122.07, 41.12));
        assert_eq!(r.category, "0302");
        assert_eq!(r.contact.unwrap().name.as_deref(), Some("三 张"));
    }

    #[test]
    fn forms_missing_or_repeating_fields_are_refused() {
        let no_lat = Posted::read(pairs(&[("service_code", "0302"), ("description", "x")]))
            .unwrap()
            .report()
            .unwrap_err();
        assert_eq!(no_lat, "long is required");
        assert!(Posted::read(pairs(&[("lat", "1"), ("lat", "2")])).is_err());
        assert!(Posted::read(pairs(&[("attribute[WHISPAWN]", "1")])).is_err());
        assert!(Posted::read(pairs(&[("colour", "red")])).is_err());
    }

    #[test]
    fn the_window_defaults_to_ninety_days_and_no_longer() {
        let now = Utc::now();
        let s = Search::parse(&RequestsQuery::default(), now).unwrap();
        assert_eq!((s.until - s.from).num_days(), 90);
        let long = RequestsQuery {
            start_date: Some("2026-01-01T00:00:00+08:00".into()),
            end_date: Some("2026-06-01T00:00:00+08:00".into()),
            ..Default::default()
        };
        assert!(Search::parse(&long, now).is_err());
        let open = RequestsQuery {
            status: Some("open".into()),
            ..Default::default()
        };
        assert!(
            Search::parse(&open, now)
                .unwrap()
                .states
                .contains(&"dispatched".to_owned())
        );
    }

    #[test]
    fn dates_carry_the_deployment_offset() {
        let tz = FixedOffset::east_opt(8 * 3600).unwrap();
        let t = DateTime::parse_from_rfc3339("2026-12-01T02:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(datetime(t, &tz), "2026-12-01T10:00:00+08:00");
    }

    #[test]
    fn a_kilometre_is_about_a_hundredth_of_a_degree_of_latitude() {
        let d = distance_m((122.07, 41.12), (122.07, 41.129));
        assert!((d - 1000.0).abs() < 5.0, "{d}");
    }
}
