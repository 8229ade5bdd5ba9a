//! `GET /v1/resolve` (one point) and `POST /v1/resolve` (a FeatureCollection of points):
//! which grid, community, street and district own a location.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{ApiError, ApiJson, ApiQuery, AppState};
use crate::domain::coords::LonLat;
use crate::domain::datum::Datum;
use crate::domain::resolver::{Jurisdiction, Placement, Resolution};
use crate::domain::units::UnitRef;

/// Most points one `POST /v1/resolve` takes.
pub const MAX_POINTS: usize = 10_000;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/resolve", get(resolve_one).post(resolve_many))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveQuery {
    lon: f64,
    lat: f64,
    #[serde(default)]
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
    pub fn parse(lon: f64, lat: f64, datum: Datum) -> Result<Self, ApiError> {
        let input =
            LonLat::parse(lon, lat).map_err(|e| ApiError::InvalidCoordinates(e.to_string()))?;
        let (x, y) = datum.to_wgs84(input.lon, input.lat);
        let wgs84 = LonLat::parse(x, y).map_err(|e| ApiError::InvalidCoordinates(e.to_string()))?;
        Ok(Self {
            input,
            datum,
            wgs84,
        })
    }
}

/// Resolves or refuses with `out_of_area`.
pub fn place(j: &Jurisdiction, at: LonLat) -> Result<Placement, ApiError> {
    match j.resolve(at.coord()) {
        Resolution::Inside(p) => Ok(p),
        Resolution::OutOfArea {
            nearest,
            distance_m,
        } => Err(ApiError::OutOfArea {
            service_area: j.service_area().to_owned(),
            nearest_unit: UnitRef::from(j.unit(nearest)),
            distance_m,
            distance_km: distance_m / 1000.0,
        }),
    }
}

/// `{"district": {code, name}, "street": …}` for a placement's chain.
pub fn units_json(j: &Jurisdiction, p: &Placement) -> Value {
    Value::Object(
        j.chain(p.unit)
            .into_iter()
            .map(|id| {
                let u = j.unit(id);
                (u.level.to_string(), json!(UnitRef::from(u)))
            })
            .collect(),
    )
}

/// The `near_boundary` member: the other candidate unit and its chain.
pub fn near_boundary_json(j: &Jurisdiction, p: &Placement) -> Option<Value> {
    p.near_boundary.as_ref().map(|n| {
        let u = j.unit(n.unit);
        json!({
            "unit": {"code": u.code, "name": u.name, "level": u.level},
            "units": units_json(j, &Placement { unit: n.unit, snapped_m: None, near_boundary: None }),
            "distance_m": round1(n.distance_m),
            "differs_at": n.differs_at,
        })
    })
}

pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// RFC 7946 §11.2: six decimals (about 0.1 m) is the precision GeoJSON output carries.
pub fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn placement_json(j: &Jurisdiction, loc: &InputLocation, p: &Placement) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "location".into(),
        json!({"lon": round6(loc.wgs84.lon), "lat": round6(loc.wgs84.lat)}),
    );
    m.insert(
        "input".into(),
        json!({"lon": loc.input.lon, "lat": loc.input.lat, "datum": loc.datum}),
    );
    m.insert("units".into(), units_json(j, p));
    m.insert("snapped".into(), json!(p.snapped_m.is_some()));
    if let Some(d) = p.snapped_m {
        m.insert("snapped_m".into(), json!(round1(d)));
    }
    m.insert(
        "near_boundary".into(),
        near_boundary_json(j, p).unwrap_or(Value::Null),
    );
    m
}

#[tracing::instrument(skip(state))]
async fn resolve_one(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ResolveQuery>,
) -> Result<Json<Value>, ApiError> {
    let loc = InputLocation::parse(q.lon, q.lat, q.datum)?;
    let j = state.jurisdiction()?;
    let p = place(&j, loc.wgs84)?;
    Ok(Json(Value::Object(placement_json(&j, &loc, &p))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchQuery {
    #[serde(default)]
    datum: Datum,
}

/// Annotates every point of a FeatureCollection. Points outside the area are not an error
/// here: each such feature carries `out_of_area` instead of `units`.
#[tracing::instrument(skip_all)]
async fn resolve_many(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<BatchQuery>,
    ApiJson(body): ApiJson<Value>,
) -> Result<impl IntoResponse, ApiError> {
    let features = point_features(&body)?;
    let j = state.jurisdiction()?;
    let mut out = Vec::with_capacity(features.len());
    for (i, (feature, lon, lat)) in features.into_iter().enumerate() {
        let loc = InputLocation::parse(lon, lat, q.datum)
            .map_err(|e| ApiError::InvalidGeoJson(format!("feature {i}: {e}")))?;
        let mut props = match feature.get("properties") {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        match place(&j, loc.wgs84) {
            Ok(p) => props.extend(placement_json(&j, &loc, &p)),
            Err(ApiError::OutOfArea {
                nearest_unit,
                distance_m,
                ..
            }) => {
                props.insert(
                    "out_of_area".into(),
                    json!({"nearest_unit": nearest_unit, "distance_m": round1(distance_m)}),
                );
            }
            Err(e) => return Err(e),
        }
        let mut f = Map::new();
        f.insert("type".into(), json!("Feature"));
        if let Some(id) = feature.get("id") {
            f.insert("id".into(), id.clone());
        }
        f.insert(
            "geometry".into(),
            json!({"type": "Point", "coordinates": [round6(loc.wgs84.lon), round6(loc.wgs84.lat)]}),
        );
        f.insert("properties".into(), Value::Object(props));
        out.push(Value::Object(f));
    }
    Ok((
        [(header::CONTENT_TYPE, "application/geo+json")],
        Json(json!({"type": "FeatureCollection", "features": out})),
    ))
}

/// Checks that `body` is a FeatureCollection of at most [`MAX_POINTS`] Point features
/// (RFC 7946 §3.3, §3.1.2) and returns each with its position.
fn point_features(body: &Value) -> Result<Vec<(&Map<String, Value>, f64, f64)>, ApiError> {
    if body.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(ApiError::InvalidGeoJson(
            "expected a GeoJSON FeatureCollection".into(),
        ));
    }
    let Some(features) = body.get("features").and_then(Value::as_array) else {
        return Err(ApiError::InvalidGeoJson(
            "a FeatureCollection needs a `features` array".into(),
        ));
    };
    if features.len() > MAX_POINTS {
        return Err(ApiError::TooMany(format!(
            "{} features; at most {MAX_POINTS} per request",
            features.len()
        )));
    }
    features
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let bad = |why: &str| ApiError::InvalidGeoJson(format!("feature {i}: {why}"));
            let f = f.as_object().ok_or_else(|| bad("not an object"))?;
            if f.get("type").and_then(Value::as_str) != Some("Feature") {
                return Err(bad("type must be Feature"));
            }
            let g = f
                .get("geometry")
                .and_then(Value::as_object)
                .ok_or_else(|| bad("no geometry"))?;
            if g.get("type").and_then(Value::as_str) != Some("Point") {
                return Err(bad("geometry must be a Point"));
            }
            let c = g
                .get("coordinates")
                .and_then(Value::as_array)
                .filter(|c| (2..=3).contains(&c.len()))
                .ok_or_else(|| bad("a Point needs [lon, lat]"))?;
            let lon = c[0].as_f64().ok_or_else(|| bad("lon is not a number"))?;
            let lat = c[1].as_f64().ok_or_else(|| bad("lat is not a number"))?;
            Ok((f, lon, lat))
        })
        .collect()
}
