//! Heat-maps (issue 4): `GET /v1/analytics/hexbins` answers report counts per H3 hexagon as
//! a GeoJSON FeatureCollection, read from the aggregate the store keeps as reports arrive:
//! at every resolution a hexagon counts the reports whose point lies in it (issue 10,
//! [`crate::store::analytics::cells_of`]).
//!
//! The public sees the hexagons of at least k reports only, and in `by=category` the
//! categories of at least k; planners and staff see all ([`crate::domain::analytics::disclosure`]).
//! Reading the aggregate takes a slot of the analytics gate ([`crate::api::limits`]).

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;
use h3o::{CellIndex, LatLng, Resolution};
use serde::{Deserialize, Serialize};

use utoipa::IntoParams;

use super::auth::Caller;
use super::error::Problem;
use super::resolve::round6;
use super::{ApiError, ApiQuery, AppState};
use crate::domain::analytics::day::Day;
use crate::domain::analytics::disclosure::Viewer;
use crate::domain::spatial::units::UnitCode;
use crate::domain::workflow::case::State as CaseState;
use crate::domain::workflow::categories::CategoryCode;
use crate::service::analytics::{self, Split};
use crate::store::analytics::{AGGREGATE_RESOLUTION, Bbox, CellCount, CellCountQuery};

// For the `hotspots` tile layer, which runs the same computation.
#[allow(unused_imports)]
pub(crate) use hotspots::{
    HotspotOutput, HotspotParams, HotspotProperties, blocking, cached_hotspots, compute_hotspots,
    parse_k, parse_permutations,
};

/// The analytics view of a caller: the role of its token, or the public's.
pub(crate) fn viewer_of(caller: &Caller) -> Viewer {
    Viewer::of(caller.0.as_ref().map(|p| p.role))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/analytics/hexbins", get(hexbins))
        .merge(hotspots::router())
}

/// The query string as sent; every field is parsed into [`HexbinRequest`] so that each bad
/// value gets its own problem code.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HexbinQuery {
    /// H3 resolution of the cells.
    #[param(required = true, value_type = u8, minimum = 5, maximum = 12)]
    res: Option<String>,
    /// `min_lon,min_lat,max_lon,max_lat` (WGS-84): hexagons whose centre lies in it.
    #[param(value_type = Option<String>, example = "122.0,41.1,122.1,41.2")]
    bbox: Option<String>,
    /// First local day, `YYYY-MM-DD`.
    #[param(value_type = Option<String>, format = Date)]
    from: Option<String>,
    /// Last local day, inclusive.
    #[param(value_type = Option<String>, format = Date)]
    to: Option<String>,
    /// A category or major category code.
    #[param(value_type = Option<String>, pattern = "^[A-Za-z0-9]{2,16}$")]
    category: Option<String>,
    /// A unit code of any level (district, street, community, grid).
    #[param(value_type = Option<String>, pattern = "^[0-9]{6,15}$")]
    unit: Option<String>,
    /// Case states, comma-separated, e.g. `dispatched,accepted`.
    #[param(value_type = Option<String>, example = "dispatched,accepted")]
    status: Option<String>,
    /// `category`: also split each hexagon's count per category (`counts`).
    #[param(value_type = Option<String>, pattern = "^category$")]
    by: Option<String>,
}

/// A heat-map request, parsed.
#[derive(Debug, Clone)]
pub struct HexbinRequest {
    pub res: Resolution,
    pub bbox: Option<Bbox>,
    pub filter: CountFilter,
    /// `by=category`: split each hexagon's count per category.
    pub by_category: bool,
}

/// Resolutions a heat-map may ask for: 5 (about 250 km² per hexagon, a whole district) to
/// 12, the aggregate's own resolution (H3 resolution table).
const MIN_RES: u8 = 5;

pub(super) fn invalid(code: &'static str, detail: String) -> ApiError {
    ApiError::InvalidField { code, detail }
}

/// A query's day parameter `name` (`from`, `to`), refused with the field's name and form.
pub(super) fn day(name: &str, v: &str) -> Result<NaiveDate, ApiError> {
    Day::parse(v)
        .map(Day::date)
        .map_err(|e| invalid("invalid_date", format!("{name} {e}, got {v:?}")))
}

fn parse_day(name: &str, value: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    value.map(|v| day(name, v)).transpose()
}

/// The filters every analytics read shares, as sent: `from`, `to`, `category`, `unit`,
/// `status`.
pub(crate) struct RawFilter<'a> {
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub category: Option<&'a str>,
    pub unit: Option<&'a str>,
    pub status: Option<&'a str>,
}

/// The [`CountFilter`] of a query struct with the fields `from`, `to`, `category`, `unit`
/// and `status` (`Option<String>` each).
macro_rules! count_filter {
    ($q:expr) => {
        CountFilter::parse(RawFilter {
            from: $q.from.as_deref(),
            to: $q.to.as_deref(),
            category: $q.category.as_deref(),
            unit: $q.unit.as_deref(),
            status: $q.status.as_deref(),
        })
    };
}

pub(super) mod hotspots;

/// The filters every analytics read shares, parsed.
#[derive(Debug, Clone, Default)]
pub struct CountFilter {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub category: Option<CategoryCode>,
    /// A unit code of any level (district, street, community, grid).
    pub unit: Option<UnitCode>,
    /// Case states, any of which counts (`status=dispatched,accepted`).
    pub states: Vec<CaseState>,
}

/// `status`: a comma-separated list of case states.
fn parse_states(raw: Option<&str>) -> Result<Vec<CaseState>, ApiError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(|s| {
            s.trim().parse::<CaseState>().map_err(|e| {
                invalid(
                    "invalid_status",
                    format!("status must be case states separated by commas: {e}"),
                )
            })
        })
        .collect()
}

impl CountFilter {
    pub(crate) fn parse(raw: RawFilter<'_>) -> Result<Self, ApiError> {
        let RawFilter {
            from,
            to,
            category,
            unit,
            status,
        } = raw;
        let from = parse_day("from", from)?;
        let to = parse_day("to", to)?;
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(invalid(
                "invalid_date_range",
                format!("from {f} is after to {t}"),
            ));
        }
        let category = category
            .map(CategoryCode::parse)
            .transpose()
            .map_err(|e| invalid("invalid_category", e.to_string()))?;
        let unit = unit
            .map(UnitCode::parse)
            .transpose()
            .map_err(|e| invalid("invalid_unit", e.to_string()))?;
        let states = parse_states(status)?;
        Ok(Self {
            from,
            to,
            category,
            unit,
            states,
        })
    }

    /// The store query for these filters within `bbox`, counting in cells at `res`.
    pub(crate) fn query(&self, res: Resolution, bbox: Option<Bbox>) -> CellCountQuery {
        CellCountQuery {
            res,
            from: self.from,
            to: self.to,
            category: self.category.clone(),
            bbox,
            unit: self.unit.clone(),
            states: self.states.clone(),
        }
    }
}

/// `res`: an H3 resolution from [`MIN_RES`] to the aggregate's.
pub(crate) fn parse_res(raw: Option<&str>) -> Result<Resolution, ApiError> {
    let max_res = u8::from(AGGREGATE_RESOLUTION);
    raw.and_then(|r| r.parse::<u8>().ok())
        .filter(|r| (MIN_RES..=max_res).contains(r))
        .and_then(|r| Resolution::try_from(r).ok())
        .ok_or_else(|| {
            invalid(
                "invalid_resolution",
                format!(
                    "res must be an H3 resolution from {MIN_RES} to {max_res}, got {:?}",
                    raw.unwrap_or("")
                ),
            )
        })
}

/// An optional `res` (tiles choose one from the zoom when it is absent).
pub(super) fn parse_resolution(raw: Option<&str>) -> Result<Option<Resolution>, ApiError> {
    raw.map(|r| parse_res(Some(r))).transpose()
}

/// `from` and `to` (local days, inclusive), refused when `from` is after `to`.
pub(super) fn parse_days(
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(Option<NaiveDate>, Option<NaiveDate>), ApiError> {
    let f = CountFilter::parse(RawFilter {
        from,
        to,
        category: None,
        unit: None,
        status: None,
    })?;
    Ok((f.from, f.to))
}

/// An optional category code (or major category code).
pub(super) fn parse_category(raw: Option<&str>) -> Result<Option<CategoryCode>, ApiError> {
    raw.map(CategoryCode::parse)
        .transpose()
        .map_err(|e| invalid("invalid_category", e.to_string()))
}

impl HexbinRequest {
    pub fn parse(q: &HexbinQuery) -> Result<Self, ApiError> {
        let res = parse_res(q.res.as_deref())?;
        let bbox = q
            .bbox
            .as_deref()
            .map(Bbox::parse)
            .transpose()
            .map_err(|e| invalid("invalid_bbox", e.to_string()))?;
        let filter = count_filter!(q)?;
        let by_category = match q.by.as_deref() {
            None => false,
            Some("category") => true,
            Some(other) => {
                return Err(invalid(
                    "invalid_group_by",
                    format!("by must be \"category\", got {other:?}"),
                ));
            }
        };
        Ok(HexbinRequest {
            res,
            bbox,
            filter,
            by_category,
        })
    }
}

/// Counts of one hexagon: the total and the split per category.
#[derive(Debug, Default)]
struct Hexbin {
    count: u64,
    by_category: BTreeMap<String, u64>,
}

/// Rolls aggregate rows up to their parents at `res`; with a `bbox`, keeps the hexagons
/// whose centre lies in it, so that every hexagon shown carries its whole count.
fn roll_up(
    rows: Vec<CellCount>,
    res: Resolution,
    bbox: Option<&Bbox>,
) -> BTreeMap<CellIndex, Hexbin> {
    let mut bins: BTreeMap<CellIndex, Hexbin> = BTreeMap::new();
    for row in rows {
        let Some(cell) = row.cell.parent(res) else {
            continue;
        };
        let n = row.n.max(0) as u64;
        let bin = bins.entry(cell).or_default();
        bin.count += n;
        *bin.by_category.entry(row.category).or_default() += n;
    }
    if let Some(b) = bbox {
        bins.retain(|cell, _| {
            let c = LatLng::from(*cell);
            b.contains(c.lng(), c.lat())
        });
    }
    bins.retain(|_, bin| bin.count > 0);
    bins
}

/// A hexagon as a GeoJSON Polygon: lon/lat, 6 decimals, first vertex repeated at the end
/// (RFC 7946 §3.1.6: a closed linear ring) and counter-clockwise (§3.1.6: exterior rings
/// follow the right-hand rule).
#[derive(Debug, Clone, Serialize)]
pub struct HexPolygon {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub coordinates: [Vec<[f64; 2]>; 1],
}

impl HexPolygon {
    pub fn of(cell: CellIndex) -> Self {
        let mut ring: Vec<[f64; 2]> = cell
            .boundary()
            .iter()
            .map(|ll| [round6(ll.lng()), round6(ll.lat())])
            .collect();
        if signed_area(&ring) < 0.0 {
            ring.reverse();
        }
        if let Some(&first) = ring.first() {
            ring.push(first);
        }
        Self {
            kind: "Polygon",
            coordinates: [ring],
        }
    }
}

/// A GeoJSON Feature of one hexagon.
#[derive(Debug, Clone, Serialize)]
pub struct HexFeature<P> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub geometry: HexPolygon,
    pub properties: P,
}

impl<P> HexFeature<P> {
    pub fn new(cell: CellIndex, properties: P) -> Self {
        Self {
            kind: "Feature",
            geometry: HexPolygon::of(cell),
            properties,
        }
    }
}

/// A GeoJSON FeatureCollection of hexagons with foreign members `M` (RFC 7946 §6.1) at the
/// top level.
#[derive(Debug, Clone, Serialize)]
pub struct HexCollection<P, M> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub features: Vec<HexFeature<P>>,
    #[serde(flatten)]
    pub members: M,
}

impl<P, M> HexCollection<P, M> {
    pub fn new(features: Vec<HexFeature<P>>, members: M) -> Self {
        Self {
            kind: "FeatureCollection",
            features,
            members,
        }
    }
}

/// No foreign members.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NoMembers {}

/// A body as `application/geo+json`, serialised by the caller (on a blocking thread for
/// large answers).
pub(crate) fn geojson_response(body: &impl Serialize) -> Result<Response, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/geo+json"),
        )],
        bytes,
    )
        .into_response())
}

/// The hexagon as a GeoJSON Polygon (for tiles), the ring of [`HexPolygon::of`].
pub fn hexagon_geometry(cell: CellIndex) -> geojson::GeometryValue {
    let [ring] = HexPolygon::of(cell).coordinates;
    geojson::GeometryValue::Polygon {
        coordinates: vec![ring.into_iter().map(geojson::Position::from).collect()],
    }
}

/// Twice the signed area of an open ring (shoelace formula): positive when counter-clockwise.
fn signed_area(ring: &[[f64; 2]]) -> f64 {
    ring.iter()
        .zip(ring.iter().cycle().skip(1))
        .map(|(a, b)| a[0] * b[1] - b[0] * a[1])
        .sum()
}

/// The H3 index as clients know it: lowercase hexadecimal.
pub fn cell_hex(cell: CellIndex) -> String {
    format!("{:x}", u64::from(cell))
}

/// A hexagon of a heat-map.
#[derive(Debug, Clone, Serialize)]
pub struct HexbinProperties {
    /// The H3 index, lowercase hexadecimal.
    pub cell: String,
    pub count: u64,
    /// With `by=category`: reports per category code (for the public, the categories of
    /// at least k reports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<BTreeMap<String, u64>>,
}

/// `GET /v1/analytics/hexbins`.
pub type HexbinBody = HexCollection<HexbinProperties, NoMembers>;

/// `GET /v1/analytics/hexbins`: report counts per H3 hexagon.
#[utoipa::path(get, path = "/v1/analytics/hexbins", tag = "analytics", params(HexbinQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Hexagons with `cell` and `count` (and `counts` per category with `by=category`); the public sees hexagons of at least k reports",
            body = super::wire::HexagonCollection, content_type = "application/geo+json"),
        (status = 400, description = "`invalid_query`: an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_resolution`, `invalid_bbox`, `invalid_date`, `invalid_date_range`, `invalid_category`, `invalid_unit`, `invalid_status`, `invalid_group_by`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`analytics_busy` (with `retry_after`)", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip(state, caller))]
async fn hexbins(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<HexbinQuery>,
) -> Result<Response, ApiError> {
    let viewer = viewer_of(&caller);
    let req = HexbinRequest::parse(&q)?;
    // The rows are the hexagons themselves (exact cells at `res`), read by their centres;
    // reports of the per-case model are read by their points, which lie within an edge
    // length of their hexagon's centre, so the box is grown by that much.
    let margin_km = req.res.edge_length_km();
    let _slot = state.analytics_gate.admit().await?;
    let split = if req.by_category {
        Split::Category
    } else {
        Split::Total
    };
    let rows = analytics::cell_counts(
        &state.analytics,
        state.store.as_ref(),
        &req.filter
            .query(req.res, req.bbox.map(|b| b.grown_by_km(margin_km))),
        split,
    )
    .await?;
    let k_anon = state.settings.tile_min_count;
    blocking(move || {
        let features = roll_up(rows, req.res, req.bbox.as_ref())
            .into_iter()
            .filter(|(_, bin)| viewer.shows_count(k_anon, bin.count))
            .map(|(cell, bin)| {
                let counts = req.by_category.then(|| {
                    bin.by_category
                        .into_iter()
                        .filter(|(_, n)| viewer.shows_count(k_anon, *n))
                        .collect()
                });
                let properties = HexbinProperties {
                    cell: cell_hex(cell),
                    count: bin.count,
                    counts,
                };
                HexFeature::new(cell, properties)
            })
            .collect();
        geojson_response(&HexbinBody::new(features, NoMembers {}))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell_at(lon: f64, lat: f64, res: Resolution) -> CellIndex {
        LatLng::new(lat, lon).expect("valid").to_cell(res)
    }

    #[test]
    fn a_hexagon_is_a_closed_counter_clockwise_lon_lat_ring() {
        let cell = cell_at(122.07, 41.12, Resolution::Nine);
        let ring = HexPolygon::of(cell).coordinates[0].clone();
        assert_eq!(ring.len(), 7, "six vertices and the closing one");
        assert_eq!(ring.first(), ring.last());
        assert!(signed_area(&ring[..6]) > 0.0);
        assert!(
            ring.iter()
                .all(|p| (122.0..122.2).contains(&p[0]) && (41.0..41.2).contains(&p[1]))
        );
    }

    #[test]
    fn rows_roll_up_to_their_parent_with_a_split_per_category() {
        let fine = |lon, lat| cell_at(lon, lat, AGGREGATE_RESOLUTION);
        let a = fine(122.07, 41.12);
        let b = fine(122.0702, 41.1201);
        let rows = vec![
            CellCount {
                cell: a,
                category: "0301".into(),
                n: 2,
            },
            CellCount {
                cell: b,
                category: "0102".into(),
                n: 1,
            },
        ];
        let parent = a.parent(Resolution::Seven).expect("parent");
        assert_eq!(b.parent(Resolution::Seven), Some(parent));
        let bins = roll_up(rows, Resolution::Seven, None);
        assert_eq!(bins.len(), 1);
        assert_eq!(bins[&parent].count, 3);
        assert_eq!(bins[&parent].by_category["0301"], 2);
        assert_eq!(bins[&parent].by_category["0102"], 1);
    }

    #[test]
    fn a_cell_is_named_by_its_hex_index() {
        // The H3 documentation's example: resolution-9 cell 8928308280fffff.
        let cell = CellIndex::try_from(0x8928308280fffff_u64).expect("cell");
        assert_eq!(cell_hex(cell), "8928308280fffff");
    }
}
