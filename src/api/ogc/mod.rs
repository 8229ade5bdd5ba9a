//! OGC API – Features, Part 1 Core, under `/ogc` (issue 12): the jurisdiction (districts,
//! streets, communities, grids) and the reports as GeoJSON feature collections that QGIS,
//! GDAL's OAPIF driver and owslib read without custom code.
//!
//! Reports are shown as the caller may see them: staff with a case scope (dispatchers,
//! leaders, admins, handlers, grid workers) get exact points, case ids and what their scope
//! holds; everybody else (anonymous callers, residents, planners) gets category, state, day,
//! grid and community, a point coarsened to the centre of its resolution-10 H3 cell (about
//! 66 m) and no id. For them the `bbox` filter applies to the coarsened point, so that small
//! boxes cannot locate a report more finely, and `/items/{id}` is 404.
//!
//! Paging is by keyset: `next` links carry a `cursor` (a unit code; for reports, the last
//! case id encrypted with a key of the running process, so that the public learns no case
//! ids) and stay correct while reports arrive, since case ids grow in submission order.

use std::sync::OnceLock;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use geo::BoundingRect;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Caller, case_scope};
use super::error::Problem;
use super::wire::geojson_feature;
use super::{ApiError, ApiQuery, AppState};
use crate::domain::analytics::interval::Interval;
use crate::domain::spatial::units::{UnitCode, UnitLevel};
use crate::domain::workflow::case::Role;
use crate::store::analytics::Bbox;
use crate::store::{CaseQuery, CaseScope, IndexedCase};

/// The one CRS served: WGS-84 longitude, latitude.
pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
/// Conformance classes that hold: Part 1 core and GeoJSON (no HTML, no OpenAPI 3.0).
const CONFORMS_TO: [&str; 2] = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
];
const GEOJSON: &str = "application/geo+json";
const JSON: &str = "application/json";
/// Page size when `limit` is absent, and the most one page holds.
const LIMIT_DEFAULT: usize = 100;
const LIMIT_MAX: usize = 10_000;
pub use crate::domain::analytics::disclosure::{PUBLIC_RESOLUTION, coarsened};

mod hotspots;
mod reports;
mod units;

pub(crate) use reports::report_scope;
use reports::{exact_feature, report_page};
use units::{unit_feature, unit_page};
/// How far a public bbox is widened before the coarsened points are filtered (degrees):
/// more than a resolution-10 cell's radius at these latitudes.
pub(super) const PUBLIC_BBOX_MARGIN: f64 = 0.002;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ogc", get(landing))
        .route("/ogc/conformance", get(conformance))
        .route("/ogc/collections", get(collections))
        .route("/ogc/collections/{collection_id}", get(collection))
        .route("/ogc/collections/{collection_id}/items", get(items))
        .route(
            "/ogc/collections/{collection_id}/items/{feature_id}",
            get(item),
        )
}

/// A link (OGC API – Common: `href`, `rel`, `type`, `title`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Link {
    pub href: String,
    pub rel: &'static str,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

fn link(href: String, rel: &'static str, media_type: &'static str, title: &str) -> Link {
    Link {
        href,
        rel,
        media_type: Some(media_type),
        title: Some(title.to_owned()),
    }
}

/// The landing page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Landing {
    title: String,
    description: String,
    links: Vec<Link>,
}

/// The conformance declaration.
#[derive(Debug, Serialize, ToSchema)]
pub struct Conformance {
    #[serde(rename = "conformsTo")]
    conforms_to: Vec<&'static str>,
}

/// A collection's description.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollectionBody {
    id: &'static str,
    title: String,
    description: String,
    extent: Extent,
    #[serde(rename = "itemType")]
    item_type: &'static str,
    crs: Vec<&'static str>,
    links: Vec<Link>,
}

/// The collections.
#[derive(Debug, Serialize, ToSchema)]
pub struct Collections {
    collections: Vec<CollectionBody>,
    links: Vec<Link>,
}

/// A page of features (GeoJSON FeatureCollection with the OGC members).
#[derive(Debug, Serialize, ToSchema)]
pub struct FeaturePage {
    #[serde(rename = "type")]
    #[schema(example = "FeatureCollection")]
    kind: &'static str,
    #[schema(value_type = Vec<Object>)]
    features: Vec<geojson::Feature>,
    links: Vec<Link>,
    #[serde(rename = "timeStamp")]
    time_stamp: String,
    #[serde(rename = "numberReturned")]
    number_returned: usize,
    /// Given where counting is cheap (the jurisdiction), omitted for reports.
    #[serde(rename = "numberMatched", skip_serializing_if = "Option::is_none")]
    number_matched: Option<usize>,
}

/// What `/ogc/collections/{id}` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Collection {
    Units(UnitLevel),
    Reports,
    Hotspots,
}

impl Collection {
    fn parse(id: &str) -> Result<Self, ApiError> {
        Ok(match id {
            "districts" => Self::Units(UnitLevel::District),
            "streets" => Self::Units(UnitLevel::Street),
            "communities" => Self::Units(UnitLevel::Community),
            "grids" => Self::Units(UnitLevel::Grid),
            "reports" => Self::Reports,
            "hotspots" => Self::Hotspots,
            _ => return Err(ApiError::RouteNotFound(format!("/ogc/collections/{id}"))),
        })
    }

    fn id(self) -> &'static str {
        match self {
            Self::Units(UnitLevel::District) => "districts",
            Self::Units(UnitLevel::Street) => "streets",
            Self::Units(UnitLevel::Community) => "communities",
            Self::Units(UnitLevel::Grid) => "grids",
            Self::Reports => "reports",
            Self::Hotspots => "hotspots",
        }
    }
}

/// The scheme and host the caller reached, for absolute links (a `Host` that is not a
/// plain host name and port is not echoed).
pub(super) fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    let proto = match headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    format!("{proto}://{host}")
}

/// The absolute base of `/ogc` links.
fn base(headers: &HeaderMap) -> String {
    format!("{}/ogc", origin(headers))
}

fn geojson_response<T: Serialize>(body: T) -> Response {
    let mut r = Json(body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(GEOJSON));
    r.headers_mut().insert(
        "content-crs",
        HeaderValue::from_static("<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"),
    );
    r
}

/// `GET /ogc`: the landing page.
#[utoipa::path(get, path = "/ogc", tag = "ogc",
    responses((status = 200, description = "The landing page", body = Landing)))]
pub(super) async fn landing(State(state): State<AppState>, headers: HeaderMap) -> Json<Landing> {
    let b = base(&headers);
    let root = b.trim_end_matches("/ogc").to_owned();
    let area = state
        .jurisdiction()
        .map(|j| j.service_area().to_owned())
        .unwrap_or_default();
    Json(Landing {
        title: format!("citysnap {area}"),
        description: "The jurisdiction's units and the residents' reports as OGC API – Features"
            .into(),
        links: vec![
            link(b.clone(), "self", JSON, "This document"),
            link(
                format!("{root}/openapi.json"),
                "service-desc",
                "application/vnd.oai.openapi+json;version=3.1",
                "The API definition (OpenAPI 3.1)",
            ),
            link(
                format!("{root}/docs"),
                "service-doc",
                "text/html",
                "The API documentation",
            ),
            link(
                format!("{b}/conformance"),
                "conformance",
                JSON,
                "Conformance classes",
            ),
            link(format!("{b}/collections"), "data", JSON, "The collections"),
        ],
    })
}

/// `GET /ogc/conformance`.
#[utoipa::path(get, path = "/ogc/conformance", tag = "ogc",
    responses((status = 200, description = "The conformance classes that hold", body = Conformance)))]
pub(super) async fn conformance() -> Json<Conformance> {
    Json(Conformance {
        conforms_to: CONFORMS_TO.to_vec(),
    })
}

fn describe(state: &AppState, c: Collection, b: &str) -> Result<CollectionBody, ApiError> {
    let j = state.jurisdiction()?;
    let bbox = j
        .units()
        .iter()
        .filter(|u| Some(u.level) == j.levels().next())
        .filter_map(|u| u.geometry.bounding_rect())
        .reduce(|a, r| {
            geo::Rect::new(
                geo::coord! {x: a.min().x.min(r.min().x), y: a.min().y.min(r.min().y)},
                geo::coord! {x: a.max().x.max(r.max().x), y: a.max().y.max(r.max().y)},
            )
        })
        .map(|r| vec![r.min().x, r.min().y, r.max().x, r.max().y]);
    let (title, description, temporal) = match c {
        Collection::Units(level) => (
            format!("{} of {}", c.id(), j.service_area()),
            format!(
                "The {} units of the jurisdiction: code, name, level, parent, synthetic \
                 (generated rather than official). Filter: parent.",
                level.as_str()
            ),
            None,
        ),
        Collection::Reports => (
            format!("Reports in {}", j.service_area()),
            "Residents' reports: category, state, day, grid, community. The public sees each \
             at the centre of its resolution-10 H3 cell, without id; staff see exact points \
             and case ids within their scope. Filters: category (code or prefix), state, \
             unit (code), datetime (submission time)."
                .to_owned(),
            Some(TemporalExtent::OPEN),
        ),
        Collection::Hotspots => (
            format!("Hotspots in {}", j.service_area()),
            hotspots::DESCRIPTION.to_owned(),
            Some(TemporalExtent::OPEN),
        ),
    };
    let extent = Extent {
        spatial: SpatialExtent {
            bbox: vec![bbox.unwrap_or_default()],
            crs: CRS84,
        },
        temporal,
    };
    let id = c.id();
    Ok(CollectionBody {
        id,
        title,
        description,
        extent,
        item_type: "feature",
        crs: vec![CRS84],
        links: vec![
            link(
                format!("{b}/collections/{id}"),
                "self",
                JSON,
                "This collection",
            ),
            link(
                format!("{b}/collections/{id}/items"),
                "items",
                GEOJSON,
                "The features",
            ),
        ],
    })
}

/// The collections the deployment has: one per unit level loaded, and the reports.
fn present(state: &AppState) -> Result<Vec<Collection>, ApiError> {
    let j = state.jurisdiction()?;
    let mut out: Vec<Collection> = j.levels().map(Collection::Units).collect();
    out.push(Collection::Reports);
    out.push(Collection::Hotspots);
    Ok(out)
}

/// `GET /ogc/collections`.
#[utoipa::path(get, path = "/ogc/collections", tag = "ogc",
    responses(
        (status = 200, description = "The collections", body = Collections),
        (status = 503, description = "`no_boundaries`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) async fn collections(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Collections>, ApiError> {
    let b = base(&headers);
    let collections = present(&state)?
        .into_iter()
        .map(|c| describe(&state, c, &b))
        .collect::<Result<_, _>>()?;
    Ok(Json(Collections {
        collections,
        links: vec![link(
            format!("{b}/collections"),
            "self",
            JSON,
            "The collections",
        )],
    }))
}

fn existing(state: &AppState, id: &str) -> Result<Collection, ApiError> {
    let c = Collection::parse(id)?;
    if present(state)?.contains(&c) {
        Ok(c)
    } else {
        Err(ApiError::RouteNotFound(format!("/ogc/collections/{id}")))
    }
}

/// `GET /ogc/collections/{collection_id}`.
#[utoipa::path(get, path = "/ogc/collections/{collection_id}", tag = "ogc",
    params(("collection_id" = String, Path, example = "grids")),
    responses(
        (status = 200, description = "The collection", body = CollectionBody),
        (status = 404, description = "`not_found`: no such collection", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) async fn collection(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(collection_id): Path<String>,
) -> Result<Json<CollectionBody>, ApiError> {
    let c = existing(&state, &collection_id)?;
    Ok(Json(describe(&state, c, &base(&headers))?))
}

/// The items query (Part 1, §7.15): `limit`, `bbox`, `datetime`, the collection's own
/// property filters and the paging `cursor`. Anything else is refused.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ItemsQuery {
    /// Features per page.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 10000, default = 100)]
    limit: Option<String>,
    /// `minLon,minLat,maxLon,maxLat` (CRS84).
    #[param(example = "122.0,41.1,122.1,41.2")]
    bbox: Option<String>,
    /// An RFC 3339 instant or interval (`start/end`, `../end`, `start/..`): reports
    /// submitted then. The jurisdiction has no time and ignores it once it parses.
    datetime: Option<String>,
    /// Units: the code of the parent unit.
    #[param(pattern = "^[0-9]{6,15}$")]
    parent: Option<String>,
    /// Reports: a category code or prefix.
    #[param(pattern = "^[A-Za-z0-9]{1,16}$")]
    category: Option<String>,
    /// Reports: the case's state (`submitted`, `dispatched`, `closed` …).
    state: Option<String>,
    /// Reports: a unit code the report lies in.
    #[param(pattern = "^[0-9]{6,15}$")]
    unit: Option<String>,
    /// Hotspots: the H3 resolution of the hexagons, 7 to 10.
    #[param(value_type = Option<u8>, minimum = 7, maximum = 10, default = 9)]
    resolution: Option<String>,
    /// The `next` link's cursor.
    cursor: Option<String>,
    /// `json` (the only format served), as some clients send it.
    #[param(pattern = "^(json|geojson)$")]
    f: Option<String>,
}

/// The query, checked.
struct Items {
    limit: usize,
    bbox: Option<Bbox>,
    datetime: Option<Interval>,
}

fn invalid(name: &str, detail: impl std::fmt::Display) -> ApiError {
    ApiError::InvalidQuery(format!("{name}: {detail}"))
}

fn not_for(c: Collection, name: &str) -> ApiError {
    invalid(
        name,
        format!("the {} collection has no such filter", c.id()),
    )
}

impl Items {
    fn parse(q: &ItemsQuery) -> Result<Self, ApiError> {
        let limit = match q.limit.as_deref() {
            None => LIMIT_DEFAULT,
            Some(s) => s
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=LIMIT_MAX).contains(n))
                .ok_or_else(|| invalid("limit", format!("an integer from 1 to {LIMIT_MAX}")))?,
        };
        let bbox = q
            .bbox
            .as_deref()
            .map(Bbox::parse)
            .transpose()
            .map_err(|e| invalid("bbox", e))?;
        let datetime = q
            .datetime
            .as_deref()
            .map(Interval::parse)
            .transpose()
            .map_err(|e| invalid("datetime", e))?;
        if let Some(f) = q.f.as_deref()
            && !matches!(f, "json" | "geojson")
        {
            return Err(invalid("f", "only json is served"));
        }
        Ok(Self {
            limit,
            bbox,
            datetime,
        })
    }
}

fn page_links(b: &str, id: &str, q: &ItemsQuery, next: Option<String>) -> Vec<Link> {
    let mut params: Vec<(&str, &str)> = Vec::new();
    for (k, v) in [
        ("limit", &q.limit),
        ("bbox", &q.bbox),
        ("datetime", &q.datetime),
        ("parent", &q.parent),
        ("category", &q.category),
        ("state", &q.state),
        ("unit", &q.unit),
        ("resolution", &q.resolution),
    ] {
        if let Some(v) = v {
            params.push((k, v));
        }
    }
    let url = |cursor: Option<&str>| {
        let mut all = params.clone();
        if let Some(c) = cursor {
            all.push(("cursor", c));
        }
        let query = all
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encoded(v)))
            .collect::<Vec<_>>()
            .join("&");
        if query.is_empty() {
            format!("{b}/collections/{id}/items")
        } else {
            format!("{b}/collections/{id}/items?{query}")
        }
    };
    let mut links = vec![link(url(q.cursor.as_deref()), "self", GEOJSON, "This page")];
    if let Some(n) = next {
        links.push(link(url(Some(&n)), "next", GEOJSON, "The next page"));
    }
    links.push(link(
        format!("{b}/collections/{id}"),
        "collection",
        JSON,
        "The collection",
    ));
    links
}

/// `v` with every byte but RFC 3986's unreserved ones percent-encoded.
fn percent_encoded(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `GET /ogc/collections/{collection_id}/items`.
#[utoipa::path(get, path = "/ogc/collections/{collection_id}/items", tag = "ogc",
    params(("collection_id" = String, Path, example = "grids"), ItemsQuery),
    responses(
        (status = 200, description = "A page of features", body = FeaturePage, content_type = "application/geo+json"),
        (status = 400, description = "`invalid_query`: an unknown parameter, or one that does not parse", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such collection", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) async fn items(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(collection_id): Path<String>,
    ApiQuery(q): ApiQuery<ItemsQuery>,
) -> Result<Response, ApiError> {
    let c = existing(&state, &collection_id)?;
    let items = Items::parse(&q)?;
    let b = base(&headers);
    let (features, next, matched) = match c {
        Collection::Units(level) => unit_page(&state, c, level, &q, &items)?,
        Collection::Reports => report_page(&state, &caller, c, &q, &items).await?,
        Collection::Hotspots => hotspots::page(&state, &caller, &q, &items).await?,
    };
    Ok(geojson_response(FeaturePage {
        kind: "FeatureCollection",
        number_returned: features.len(),
        features,
        links: page_links(&b, c.id(), &q, next),
        time_stamp: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        number_matched: matched,
    }))
}

type Page = (Vec<geojson::Feature>, Option<String>, Option<usize>);

/// A collection's extent (OGC API – Features 1, 7.14.1).
#[derive(Debug, Serialize, ToSchema)]
pub struct Extent {
    spatial: SpatialExtent,
    #[serde(skip_serializing_if = "Option::is_none")]
    temporal: Option<TemporalExtent>,
}

/// The bounding box of the service area, in CRS84.
#[derive(Debug, Serialize, ToSchema)]
pub struct SpatialExtent {
    /// One box, `[west, south, east, north]`.
    bbox: Vec<Vec<f64>>,
    crs: &'static str,
}

/// A temporal extent: open at both ends for the collections that grow.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemporalExtent {
    /// `[[null, null]]`: no known start or end.
    #[schema(value_type = Vec<Vec<Option<String>>>)]
    interval: [[Option<&'static str>; 2]; 1],
    trs: &'static str,
}

impl TemporalExtent {
    const OPEN: TemporalExtent = TemporalExtent {
        interval: [[None, None]],
        trs: "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
    };
}

/// `GET /ogc/collections/{collection_id}/items/{feature_id}`.
#[utoipa::path(get, path = "/ogc/collections/{collection_id}/items/{feature_id}", tag = "ogc",
    params(("collection_id" = String, Path, example = "grids"), ("feature_id" = String, Path, example = "211103001")),
    responses(
        (status = 200, description = "The feature", body = Object, content_type = "application/geo+json"),
        (status = 404, description = "`not_found`: no such collection or feature (a report outside the caller's scope, or any report for the public)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) async fn item(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((collection_id, feature_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let c = existing(&state, &collection_id)?;
    let not_found = || {
        ApiError::RouteNotFound(format!(
            "/ogc/collections/{collection_id}/items/{feature_id}"
        ))
    };
    let b = base(&headers);
    let mut feature = match c {
        Collection::Units(level) => {
            let j = state.jurisdiction()?;
            let code = UnitCode::parse(&feature_id).map_err(|_| not_found())?;
            let u = j
                .by_code(&code)
                .map(|id| j.unit(id))
                .filter(|u| u.level == level);
            unit_feature(u.ok_or_else(not_found)?)?
        }
        Collection::Reports => {
            let p = caller
                .0
                .as_ref()
                .filter(|_| report_scope(&caller).is_some());
            let p = p.ok_or_else(not_found)?;
            if feature_id.len() > 40 {
                return Err(not_found());
            }
            let r = state.store.indexed_case(&feature_id).await?;
            let r = r
                .filter(|r| super::auth::sees(p, r))
                .ok_or_else(not_found)?;
            exact_feature(&r)?
        }
        Collection::Hotspots => hotspots::item(&state, &caller, &feature_id)
            .await?
            .ok_or_else(not_found)?,
    };
    let links = vec![
        link(
            format!("{b}/collections/{}/items/{feature_id}", c.id()),
            "self",
            GEOJSON,
            "This feature",
        ),
        link(
            format!("{b}/collections/{}", c.id()),
            "collection",
            JSON,
            "The collection",
        ),
    ];
    let links = serde_json::to_value(links).map_err(|e| ApiError::Internal(e.to_string()))?;
    feature
        .foreign_members
        .get_or_insert_with(Default::default)
        .insert("links".into(), links);
    Ok(geojson_response(feature))
}

#[cfg(test)]
mod tests {
    use super::reports::{open_cursor, seal_cursor};
    use super::*;

    #[test]
    fn a_sealed_cursor_opens_to_its_case_id_and_nothing_else_opens() {
        let c = seal_cursor("XL-20261201-000042");
        assert!(!c.contains("XL-2026"));
        assert_eq!(open_cursor(&c).as_deref(), Some("XL-20261201-000042"));
        assert_ne!(
            seal_cursor("XL-20261201-000042"),
            c,
            "a fresh nonce each time"
        );
        let mut tampered = c.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(open_cursor(&String::from_utf8(tampered).unwrap()), None);
        assert_eq!(open_cursor("XL-20261201-000042"), None);
        assert_eq!(open_cursor(""), None);
    }

    #[test]
    fn public_points_are_cell_centres() {
        let (lon, lat) = coarsened(122.070_123, 41.120_456).unwrap();
        let cell = h3o::LatLng::new(41.120_456, 122.070_123)
            .unwrap()
            .to_cell(PUBLIC_RESOLUTION);
        assert_eq!(
            h3o::LatLng::new(lat, lon)
                .unwrap()
                .to_cell(PUBLIC_RESOLUTION),
            cell,
            "the centre lies in the report's own cell"
        );
        assert!((lon - 122.070_123).abs() > 1e-7 || (lat - 41.120_456).abs() > 1e-7);
        assert_eq!(
            coarsened(122.070_2, 41.120_5),
            coarsened(122.070_21, 41.120_51)
        );
    }
}
