//! GeoReport v2 "GET Service Requests" and "GET Service Request": the cases as the caller
//! may see them (see the module above for the rule), searched by id, service, dates,
//! status and place.

use std::sync::OnceLock;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{
    Answer, Format, JurisdictionQuery, Open311Error, Open311ErrorBody, ServiceRequest, Status,
    bad_request, datetime, not_found, service_notice,
};
use crate::api::auth::{Caller, sees};
use crate::api::ogc::{PUBLIC_BBOX_MARGIN, coarsened, report_scope};
use crate::api::{ApiError, AppState};
use crate::domain::spatial::resolver::Jurisdiction;
use crate::domain::spatial::units::UnitCode;
use crate::domain::workflow::case::State as CaseState;
use crate::domain::workflow::categories::Category;
use crate::domain::workflow::departments::{SHIPPED_DEPARTMENTS, parse_department_file};
use crate::store::analytics::Bbox;
use crate::store::{CaseQuery, CaseScope, IndexedCase};

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

/// The filters of `GET requests` (GeoReport v2 "GET Service Requests"), plus
/// `lat`/`long`/`radius` as many clients send. Parameters of other calls are ignored.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestsQuery {
    /// Comma-separated ids (at most 100); overrides every other parameter.
    #[param(example = "XL-20261201-000001")]
    service_request_id: Option<String>,
    /// A service code (a major category's code takes its minors).
    #[param(pattern = "^[A-Za-z0-9]{1,16}$", example = "0302")]
    service_code: Option<String>,
    /// Earliest `requested_datetime`, ISO 8601 with an offset (default: `end_date` less 90
    /// days, or now less 90 days).
    #[param(example = "2026-12-01T00:00:00+08:00")]
    start_date: Option<String>,
    /// Latest `requested_datetime` (default: 90 days after `start_date`, or now); at most 90
    /// days after `start_date`.
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
            (Some(f), None) => (f, f + window),
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
pub async fn requests_json(
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
pub async fn requests_xml(
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
pub async fn service_request(
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let from = RequestsQuery {
            start_date: Some("2026-01-01T00:00:00+08:00".into()),
            ..Default::default()
        };
        let s = Search::parse(&from, now).unwrap();
        assert_eq!(
            (s.until - s.from).num_days(),
            90,
            "a start alone opens 90 days"
        );
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
    fn a_kilometre_is_about_a_hundredth_of_a_degree_of_latitude() {
        let d = distance_m((122.07, 41.12), (122.07, 41.129));
        assert!((d - 1000.0).abs() < 5.0, "{d}");
    }
}
