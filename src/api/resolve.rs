//! `GET /v1/resolve` (one point) and `POST /v1/resolve` (a FeatureCollection of points):
//! which grid, community, street and district own a location.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::error::Problem;
use super::{ApiError, ApiJson, ApiQuery, AppState};
use crate::domain::spatial::coords::LonLat;
use crate::domain::spatial::datum::Datum;
use crate::domain::spatial::resolver::{Jurisdiction, Placement, Resolution};
use crate::domain::spatial::units::{UnitLevel, UnitRef};
use crate::service;

/// Most points one `POST /v1/resolve` takes.
pub const MAX_POINTS: usize = 10_000;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/resolve", get(resolve_one).post(resolve_many))
}

/// The point to resolve.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ResolveQuery {
    /// Longitude in the given datum.
    #[param(minimum = -180.0, maximum = 180.0, example = 122.07)]
    lon: f64,
    /// Latitude in the given datum.
    #[param(minimum = -90.0, maximum = 90.0, example = 41.12)]
    lat: f64,
    /// `wgs84` (GPS), `gcj02` (AMap, Tencent, WeChat) or `bd09` (Baidu).
    #[serde(default)]
    #[param(inline)]
    datum: Datum,
}

/// A location as given by a client, checked and converted to WGS-84.
#[derive(Debug, Clone, Copy)]
pub struct InputLocation {
    pub input: LonLat,
    pub datum: Datum,
    pub wgs84: LonLat,
}

impl InputLocation {
    pub fn parse(lon: f64, lat: f64, datum: Datum) -> Result<Self, service::Error> {
        let invalid = |e: crate::domain::spatial::coords::CoordError| {
            service::Error::InvalidCoordinates(e.to_string())
        };
        let input = LonLat::parse(lon, lat).map_err(invalid)?;
        let (x, y) = datum.to_wgs84(input.lon, input.lat);
        let wgs84 = LonLat::parse(x, y).map_err(invalid)?;
        Ok(Self {
            input,
            datum,
            wgs84,
        })
    }
}

/// Resolves or refuses with `out_of_area`.
pub fn place(j: &Jurisdiction, at: LonLat) -> Result<Placement, service::Error> {
    match j.resolve(at.coord()) {
        Resolution::Inside(p) => Ok(p),
        Resolution::OutOfArea {
            nearest,
            distance_m,
        } => Err(service::Error::OutOfArea {
            service_area: j.service_area().to_owned(),
            nearest_unit: UnitRef::from(j.unit(nearest)),
            distance_m,
            distance_km: distance_m / 1000.0,
        }),
    }
}

/// The unit chain of a point, one member per level the deployment has, coarsest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UnitChain {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<UnitRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street: Option<UnitRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community: Option<UnitRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<UnitRef>,
}

impl UnitChain {
    /// The chain of `unit` in `j`.
    pub fn of(j: &Jurisdiction, unit: crate::domain::spatial::resolver::UnitId) -> Self {
        let mut chain = UnitChain::default();
        for id in j.chain(unit) {
            let u = j.unit(id);
            let r = Some(UnitRef::from(u));
            match u.level {
                UnitLevel::District => chain.district = r,
                UnitLevel::Street => chain.street = r,
                UnitLevel::Community => chain.community = r,
                UnitLevel::Grid => chain.grid = r,
            }
        }
        chain
    }
}

/// A point within 5 m of another unit: that unit, its chain, and where the chains differ.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NearBoundary {
    pub unit: UnitRef,
    pub units: UnitChain,
    /// Distance to the other unit in metres, one decimal.
    #[schema(minimum = 0.0)]
    pub distance_m: f64,
    /// The coarsest level at which the two chains differ.
    pub differs_at: UnitLevel,
}

/// The `near_boundary` member: the other candidate unit and its chain.
pub fn near_boundary(j: &Jurisdiction, p: &Placement) -> Option<NearBoundary> {
    p.near_boundary.as_ref().map(|n| {
        let u = j.unit(n.unit);
        NearBoundary {
            unit: UnitRef::from(u),
            units: UnitChain::of(j, n.unit),
            distance_m: round1(n.distance_m),
            differs_at: n.differs_at,
        }
    })
}

/// [`near_boundary`] as the JSON the store keeps with a report.
pub fn near_boundary_json(j: &Jurisdiction, p: &Placement) -> Option<Value> {
    near_boundary(j, p).and_then(|n| serde_json::to_value(n).ok())
}

pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// RFC 7946 §11.2: six decimals (about 0.1 m) is the precision GeoJSON output carries.
pub fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// A WGS-84 position, six decimals (RFC 7946 §11.2).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Position {
    #[schema(minimum = -180.0, maximum = 180.0, example = 122.07)]
    pub lon: f64,
    #[schema(minimum = -90.0, maximum = 90.0, example = 41.12)]
    pub lat: f64,
}

/// The position as sent, in its datum.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct InputPosition {
    pub lon: f64,
    pub lat: f64,
    pub datum: Datum,
}

/// Where a point lies: `GET /v1/resolve`, and the members `POST /v1/resolve` adds to each
/// feature's properties.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Resolved {
    /// The point in WGS-84.
    pub location: Position,
    pub input: InputPosition,
    pub units: UnitChain,
    /// Whether the point lay just outside the area and was moved to the nearest unit.
    pub snapped: bool,
    /// How far it was moved, metres.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapped_m: Option<f64>,
    pub near_boundary: Option<NearBoundary>,
}

impl Resolved {
    fn of(j: &Jurisdiction, loc: &InputLocation, p: &Placement) -> Self {
        Resolved {
            location: Position {
                lon: round6(loc.wgs84.lon),
                lat: round6(loc.wgs84.lat),
            },
            input: InputPosition {
                lon: loc.input.lon,
                lat: loc.input.lat,
                datum: loc.datum,
            },
            units: UnitChain::of(j, p.unit),
            snapped: p.snapped_m.is_some(),
            snapped_m: p.snapped_m.map(round1),
            near_boundary: near_boundary(j, p),
        }
    }
}

/// `GET /v1/resolve`: the unit chain of one point.
#[utoipa::path(get, path = "/v1/resolve", tag = "resolve", params(ResolveQuery),
    responses(
        (status = 200, description = "The point's units", body = Resolved),
        (status = 400, description = "`invalid_query`: lon or lat missing or not a number, an unknown parameter",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_coordinates` (out of range), `out_of_area` (with `service_area`, `nearest_unit`, `distance_m`)",
            body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`no_boundaries`", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip(state))]
pub(super) async fn resolve_one(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ResolveQuery>,
) -> Result<Json<Resolved>, ApiError> {
    let loc = InputLocation::parse(q.lon, q.lat, q.datum)?;
    let j = state.jurisdiction()?;
    let p = place(&j, loc.wgs84)?;
    Ok(Json(Resolved::of(&j, &loc, &p)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct BatchQuery {
    /// The datum of the features' coordinates.
    #[serde(default)]
    #[param(inline)]
    datum: Datum,
}

/// `"FeatureCollection"`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum FeatureCollectionType {
    FeatureCollection,
}

/// `"Feature"`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum FeatureType {
    Feature,
}

/// `"Point"`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum PointType {
    Point,
}

/// A GeoJSON Point (RFC 7946 §3.1.2): `[lon, lat]` in WGS-84.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PointGeometry {
    #[serde(rename = "type")]
    pub kind: PointType,
    #[schema(min_items = 2, max_items = 3, example = json!([122.07, 41.12]))]
    pub coordinates: Vec<f64>,
}

/// A GeoJSON FeatureCollection of Point features (RFC 7946 §3.3), as `POST /v1/resolve`
/// takes it: at most 10,000 features; `id` and `properties` are kept.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PointFeatureCollection {
    #[serde(rename = "type")]
    pub kind: FeatureCollectionType,
    #[schema(max_items = 10000)]
    pub features: Vec<PointFeature>,
}

/// A Point feature (RFC 7946 §3.2).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PointFeature {
    #[serde(rename = "type")]
    pub kind: FeatureType,
    /// Kept as sent (a string or a number, RFC 7946 §3.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<FeatureId>)]
    pub id: Option<Value>,
    pub geometry: PointGeometry,
    #[schema(value_type = Option<Object>)]
    pub properties: Option<Map<String, Value>>,
}

/// A feature's `id`: a string or a number (RFC 7946 §3.2). Only its schema is used: the
/// value is kept as sent.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum FeatureId {
    Text(String),
    Number(f64),
}

/// The answer of `POST /v1/resolve`: every feature of the request in order, its geometry
/// the WGS-84 point, its properties those sent plus the members of [`Resolved`], or, for a
/// point outside the area, `out_of_area` (`nearest_unit`, `distance_m`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResolvedFeatureCollection {
    #[serde(rename = "type")]
    pub kind: FeatureCollectionType,
    pub features: Vec<PointFeature>,
}

/// The member a feature of `POST /v1/resolve` outside the area gets instead of its units.
#[derive(Debug, Clone, Serialize)]
struct OutOfAreaMember {
    out_of_area: OutOfArea,
}

/// `out_of_area` of a feature of `POST /v1/resolve`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutOfArea {
    pub nearest_unit: UnitRef,
    /// Metres, one decimal.
    pub distance_m: f64,
}

/// `POST /v1/resolve`: annotates every point of a FeatureCollection. Points outside the
/// area are not an error here: each such feature carries `out_of_area` instead of `units`.
#[utoipa::path(post, path = "/v1/resolve", tag = "resolve", params(BatchQuery),
    request_body(content = PointFeatureCollection, content_type = "application/json",
        description = "Up to 10,000 Point features (`application/geo+json` is not a JSON content type axum accepts; send `application/json`)"),
    responses(
        (status = 200, description = "The features, annotated", body = ResolvedFeatureCollection,
            content_type = "application/geo+json"),
        (status = 400, description = "`malformed_json`, `invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_content_type`: not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_body`, `invalid_geojson` (not a FeatureCollection of Points, coordinates out of range), `too_many_items` (over 10,000)",
            body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`no_boundaries`", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub(super) async fn resolve_many(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<BatchQuery>,
    ApiJson(body): ApiJson<Value>,
) -> Result<impl IntoResponse, ApiError> {
    let points = points(body)?;
    let j = state.jurisdiction()?;
    let mut out = Vec::with_capacity(points.len());
    for (i, point) in points.into_iter().enumerate() {
        let loc = InputLocation::parse(point.lon, point.lat, q.datum)
            .map_err(|e| ApiError::InvalidGeoJson(format!("feature {i}: {e}")))?;
        let mut props = point.properties;
        let annotation = match place(&j, loc.wgs84) {
            Ok(p) => serde_json::to_value(Resolved::of(&j, &loc, &p)),
            Err(service::Error::OutOfArea {
                nearest_unit,
                distance_m,
                ..
            }) => serde_json::to_value(OutOfAreaMember {
                out_of_area: OutOfArea {
                    nearest_unit,
                    distance_m: round1(distance_m),
                },
            }),
            Err(e) => return Err(e.into()),
        }
        .map_err(|e| ApiError::Internal(e.to_string()))?;
        if let Value::Object(m) = annotation {
            props.extend(m);
        }
        out.push(PointFeature {
            kind: FeatureType::Feature,
            id: point.id,
            geometry: PointGeometry {
                kind: PointType::Point,
                coordinates: vec![round6(loc.wgs84.lon), round6(loc.wgs84.lat)],
            },
            properties: Some(props),
        });
    }
    Ok((
        [(header::CONTENT_TYPE, "application/geo+json")],
        Json(ResolvedFeatureCollection {
            kind: FeatureCollectionType::FeatureCollection,
            features: out,
        }),
    ))
}

/// A Point feature of a batch: its position as sent, its `id` and `properties` kept.
struct BatchPoint {
    lon: f64,
    lat: f64,
    id: Option<Value>,
    properties: Map<String, Value>,
}

/// Parses `body` as a GeoJSON FeatureCollection (RFC 7946 §3.3, through the `geojson`
/// crate) of at most [`MAX_POINTS`] features whose geometries are Points (§3.1.2).
fn points(body: Value) -> Result<Vec<BatchPoint>, ApiError> {
    let collection = geojson::FeatureCollection::deserialize(body).map_err(|e| {
        ApiError::InvalidGeoJson(format!("not a FeatureCollection of Features: {e}"))
    })?;
    if collection.features.len() > MAX_POINTS {
        return Err(ApiError::TooMany(format!(
            "{} features; at most {MAX_POINTS} per request",
            collection.features.len()
        )));
    }
    collection
        .features
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            let bad = |why: &str| ApiError::InvalidGeoJson(format!("feature {i}: {why}"));
            let Some(geometry) = f.geometry else {
                return Err(bad("no geometry"));
            };
            let geojson::GeometryValue::Point { coordinates } = geometry.value else {
                return Err(bad("geometry must be a Point"));
            };
            let (&[lon, lat] | &[lon, lat, _]) = coordinates.as_slice() else {
                return Err(bad(
                    "a Point's position is [lon, lat] or [lon, lat, height]",
                ));
            };
            Ok(BatchPoint {
                lon,
                lat,
                id: f.id.map(|id| match id {
                    geojson::feature::Id::String(s) => Value::String(s),
                    geojson::feature::Id::Number(n) => Value::Number(n),
                }),
                properties: f.properties.unwrap_or_default(),
            })
        })
        .collect()
}
