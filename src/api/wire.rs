//! Wire types of the report, case and auth endpoints, as the OpenAPI document describes
//! them. Their handlers still shape some bodies with `json!` while other work on those
//! files lands; the schemathesis run in `scripts/test` checks every answer against these
//! schemas, so they cannot drift unseen. (Moving each next to its handler, and building the
//! bodies from them, is the next step of issue 9.)

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::resolve::NearBoundary;
use crate::domain::spatial::units::UnitRef;
use crate::domain::workflow::case::Role;
use crate::domain::workflow::categories::CategoryKind;

/// A report's category as the public sees it (`name` and `kind` unless the category was
/// removed from the store).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportCategory {
    #[schema(example = "0302")]
    code: String,
    name: Option<String>,
    kind: Option<CategoryKind>,
}

/// Where a report was made, in WGS-84 (six decimals).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportLocation {
    lon: f64,
    lat: f64,
    accuracy_m: Option<f64>,
    address: Option<String>,
}

/// A medium of a report (its bytes are not served here).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportMedium {
    seq: i32,
    /// `photo`, `voice` or `video`.
    kind: String,
    media_type: String,
    bytes: i64,
}

/// A report as anyone who may see it sees it: never the reporter's contact, never the
/// location found in a photo's metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportBody {
    #[schema(example = "XL-20261201-000001")]
    case_id: String,
    /// `submitted`, kept for clients of the first intake API; `state` is the case's state.
    status: String,
    /// The case's state after intake's auto-dispatch (intake answers only).
    state: Option<String>,
    created_at: DateTime<Utc>,
    description: String,
    category: ReportCategory,
    location: ReportLocation,
    /// The report's units, `district` to `grid`.
    #[schema(value_type = Object)]
    units: std::collections::BTreeMap<String, UnitRef>,
    snapped: bool,
    snapped_m: Option<f64>,
    near_boundary: Option<NearBoundary>,
    media: Vec<ReportMedium>,
}

/// A report as `multipart/form-data`.
#[derive(Debug, ToSchema)]
pub struct MultipartReport {
    /// The report's JSON (as `application/json` takes it).
    report: String,
    /// Up to 9 photos (JPEG, PNG, WebP, HEIC), judged by their bytes.
    #[schema(value_type = Vec<String>, format = Binary)]
    photo: Vec<Vec<u8>>,
    /// One voice recording.
    #[schema(value_type = Option<String>, format = Binary)]
    voice: Option<Vec<u8>>,
    /// One video.
    #[schema(value_type = Option<String>, format = Binary)]
    video: Option<Vec<u8>>,
}

/// A Mapbox Vector Tile (protobuf, MVT 2.1).
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct MvtBytes(Vec<u8>);

/// A photo's bytes.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct PhotoBytes(Vec<u8>);

/// An uploaded photo: its `key`, which `after_photos` and `photos` of actions name.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadedMedium {
    #[schema(example = "media/3f…e1.jpg")]
    key: String,
    media_type: String,
    bytes: i64,
}

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

/// A principal: who a token belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrincipalBody {
    id: String,
    role: Role,
    /// The unit or department a unit-bound role works for.
    unit: Option<String>,
    name: Option<String>,
}

/// A new principal and its token, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedToken {
    principal: PrincipalBody,
    /// `cs_…`: send as `Authorization: Bearer cs_…`.
    token: String,
}

/// A resident's registration.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationBody {
    /// A mainland mobile number (11 digits starting with 1, `+86` allowed).
    #[schema(example = "13800138000")]
    phone: String,
    name: Option<String>,
}

/// The answer to a registration: a code is on its way to the phone.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationPending {
    /// The registration's id, sent back with the code.
    registration: String,
    /// When the code stops working (ten minutes).
    expires_at: chrono::DateTime<chrono::Utc>,
    /// Where to send the code: `/v1/residents/confirm`.
    #[schema(example = "/v1/residents/confirm")]
    confirm: String,
}

/// The code a registration sent to the phone.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfirmationBody {
    /// The `registration` of `POST /v1/residents`.
    registration: String,
    /// The six digits of the text message.
    #[schema(example = "042817")]
    code: String,
}

/// A staff principal to create.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenRequestBody {
    /// Any role but `resident` (residents register) and `system`.
    #[schema(example = "dispatcher")]
    role: String,
    /// The unit (or, for handlers, department) a grid worker or handler works for.
    unit: Option<String>,
    name: Option<String>,
}

/// Tokens revoked.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    principal: String,
    /// How many tokens were revoked.
    revoked: u64,
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
