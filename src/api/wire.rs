//! Wire types shared by several endpoints: binary bodies (tiles, photos), the hexagon
//! GeoJSON of the analytics and tile endpoints, the schemas of the bodies read field by field
//! (an action, a rating), and the time formats of the API. Each endpoint's own bodies live
//! next to its handler.

#![allow(dead_code)]

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::ApiError;

/// A Mapbox Vector Tile (protobuf, MVT 2.1).
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct MvtBytes(Vec<u8>);

/// A photo's bytes.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct PhotoBytes(Vec<u8>);

/// The reporter's rating of a closed case (评价).
#[derive(Debug, Serialize, ToSchema)]
pub struct RatingBody {
    /// 1 (unsatisfied) to 5 (very satisfied).
    #[schema(minimum = 1, maximum = 5)]
    score: u8,
    /// At most 2,000 characters, no control characters.
    comment: Option<String>,
    /// Whether the problem is really fixed.
    fixed: Option<bool>,
}

/// An action on a case: its name, an optional reason, and the action's own fields
/// (`target` and `assignee`, `time_limit` of `dispatch`; `note` and `after_photos` of
/// `resolve`; `score` of `rate`; `into` of `merge`; …).
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionBody {
    /// `verify`, `invalidate`, `dispatch`, `accept`, `return`, `progress`, `resolve`,
    /// `reinspect`, `close`, `rework`, `rate`, `reopen`, `merge`, `park`, `cancel`,
    /// `supervise`, `reply`, `acknowledge`, `answer`.
    #[schema(example = "accept")]
    action: String,
    /// Why (some actions need one: `return`, `invalidate`, `rework` …), at most 2,000
    /// characters.
    reason: Option<String>,
}

/// `"Polygon"`.
#[derive(Debug, Serialize, ToSchema)]
pub enum PolygonType {
    Polygon,
}

/// A hexagon as a GeoJSON Polygon (RFC 7946 §3.1.6): one closed counter-clockwise ring of
/// seven `[lon, lat]` positions.
#[derive(Debug, Serialize, ToSchema)]
pub struct HexagonGeometry {
    #[serde(rename = "type")]
    kind: PolygonType,
    #[schema(value_type = Vec<Vec<Vec<f64>>>)]
    coordinates: Vec<Vec<[f64; 2]>>,
}

/// A hexagon feature: the cell (`cell`, lowercase hexadecimal H3 index) and its figures in
/// `properties`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HexagonFeature {
    #[serde(rename = "type")]
    kind: super::resolve::FeatureType,
    geometry: HexagonGeometry,
    #[schema(value_type = Object)]
    properties: serde_json::Value,
}

/// A GeoJSON FeatureCollection of hexagons (RFC 7946 §3.3) (`api::analytics::HexCollection`);
/// analyses add foreign members (`summary`, `periods`, §6.1).
#[derive(Debug, Serialize, ToSchema)]
pub struct HexagonCollection {
    #[serde(rename = "type")]
    kind: super::resolve::FeatureCollectionType,
    features: Vec<HexagonFeature>,
}

/// A serde module writing `DateTime<Utc>` (and, in `option`, `Option<DateTime<Utc>>`) as
/// RFC 3339 in UTC to the given precision.
macro_rules! rfc3339_module {
    ($(#[$doc:meta])* $name:ident, $format:ident) => {
        $(#[$doc])*
        pub mod $name {
            use chrono::{DateTime, SecondsFormat, Utc};
            use serde::Serializer;

            pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::$format, true))
            }

            pub mod option {
                use super::*;

                pub fn serialize<S: Serializer>(
                    t: &Option<DateTime<Utc>>,
                    s: S,
                ) -> Result<S::Ok, S::Error> {
                    match t {
                        Some(t) => super::serialize(t, s),
                        None => s.serialize_none(),
                    }
                }
            }
        }
    };
}

rfc3339_module!(
    /// RFC 3339 times in UTC to the millisecond, the form of the case API's times
    /// (`2026-12-01T08:30:00.000Z`).
    millis,
    Millis
);
rfc3339_module!(
    /// RFC 3339 times in UTC to the second (`2026-12-01T08:30:00Z`).
    secs,
    Secs
);

/// A GeoJSON Feature (RFC 7946 §3.2) of the `geojson` crate, its properties from a typed
/// struct.
pub fn geojson_feature(
    id: Option<String>,
    geometry: geojson::GeometryValue,
    properties: &impl Serialize,
) -> Result<geojson::Feature, ApiError> {
    let properties = match serde_json::to_value(properties) {
        Ok(Value::Object(m)) => m,
        Ok(other) => return Err(ApiError::Internal(format!("feature properties: {other}"))),
        Err(e) => return Err(ApiError::Internal(format!("feature properties: {e}"))),
    };
    Ok(geojson::Feature {
        bbox: None,
        geometry: Some(geojson::Geometry::new(geometry)),
        id: id.map(geojson::feature::Id::String),
        properties: Some(properties),
        foreign_members: None,
    })
}
