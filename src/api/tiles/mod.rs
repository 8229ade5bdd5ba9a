//! Map tiles (issue 4): `GET /tiles/{layer}/{z}/{x}/{y}.geojson` and `.mvt` (alias `.pbf`)
//! in the Web Mercator XYZ scheme, and `GET /tiles/{layer}.json` (TileJSON 3.0.0).
//!
//! Layers: `hexbins` (report counts per H3 hexagon, resolution from zoom, see
//! [`hexbin_resolution`]), `reports` (points, public fields only, staff only) and the
//! boundary layers `districts`, `streets`, `communities`, `grids` (from the in-memory
//! jurisdiction). In GeoJSON tiles a hexagon or point appears in the one tile holding its
//! centre, so adjacent tiles never count it twice; a boundary appears, whole, in every tile it
//! touches. MVT tiles are clipped to the tile plus a buffer ([`crate::domain::spatial::tiles`]).
//!
//! Answers: an empty tile is 204; a zoom outside the layer's range 404 `zoom_out_of_range`;
//! an unknown layer 404 `unknown_layer`; coordinates that are no tile 400 `invalid_tile`.
//! Every tile carries a weak ETag (a hash of its body; `If-None-Match` → 304) and
//! `Cache-Control`, and is gzipped when `Accept-Encoding` asks. Rendered tiles are kept,
//! and evicted only by the reports that land in them ([`cache`]).
//!
//! Privacy ([`crate::domain::analytics::disclosure`]): public tiles leave out hexagons with fewer than
//! `ApiSettings::tile_min_count` reports (k-anonymity, default 3) and show hotspot bins
//! without z or p; planners see every aggregate; only dispatchers, leaders and admins read
//! the `reports` layer (case ids and points).

pub mod cache;
mod render;

pub use cache::TileCache;
use cache::{CachedTile, TileKey};
use render::reach;
pub(crate) use render::{HotspotCache, hotspot_cache};
pub use render::{Rendered, render};

use std::collections::{BTreeMap, HashSet};
use std::ops::RangeInclusive;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, NaiveDate, Utc};
use geo::{BoundingRect, Coord, Intersects, MultiPolygon, Polygon, Rect, Simplify};
use geozero::mvt::TileValue;
use h3o::geom::{ContainmentMode, TilerBuilder};
use h3o::{CellIndex, LatLng, Resolution};
use serde::{Deserialize, Serialize};
use tower_http::compression::CompressionLayer;
use utoipa::{IntoParams, ToSchema};

use super::analytics::{
    CountFilter, HotspotOutput, HotspotParams, HotspotProperties, cached_hotspots, cell_hex,
    hexagon_geometry, invalid, parse_category, parse_days, parse_k, parse_resolution, viewer_of,
};
use super::auth::Caller;
use super::error::Problem;
use super::limits::{ByteLru, HeapSize};
use super::resolve::round6;
use super::wire::geojson_feature;
use super::{ApiError, ApiQuery, ApiSettings, AppState};
use crate::domain::spatial::resolver::Jurisdiction;
use crate::domain::spatial::tiles::{
    BUFFER, LonLatBox, MvtLayer, TileId, encode_tile, hexbin_resolution,
};
use crate::domain::spatial::units::UnitLevel;
use crate::domain::workflow::categories::CategoryCode;
use crate::store::analytics::{Bbox, HexCountQuery, ReportPointQuery};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tiles/{tilejson}", get(tilejson))
        .route("/tiles/{layer}/{z}/{x}/{y}", get(tile))
        .layer(CompressionLayer::new())
}

/// A tile layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    Hexbins,
    Reports,
    Districts,
    Streets,
    Communities,
    Grids,
    Hotspots,
}

impl Layer {
    pub const ALL: [Layer; 7] = [
        Layer::Hexbins,
        Layer::Hotspots,
        Layer::Reports,
        Layer::Districts,
        Layer::Streets,
        Layer::Communities,
        Layer::Grids,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Layer::Hexbins => "hexbins",
            Layer::Reports => "reports",
            Layer::Districts => "districts",
            Layer::Streets => "streets",
            Layer::Communities => "communities",
            Layer::Grids => "grids",
            Layer::Hotspots => "hotspots",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ApiError> {
        Self::ALL
            .into_iter()
            .find(|l| l.id() == s)
            .ok_or_else(|| ApiError::TileNotFound {
                code: "unknown_layer",
                detail: format!(
                    "no tile layer {s:?}; layers: {}",
                    Self::ALL.map(Layer::id).join(", ")
                ),
            })
    }

    /// Zooms the layer is served at; map clients over-zoom the last one. Hexagons follow
    /// [`hexbin_resolution`]; grids (about 100 m) start where they are a few pixels wide.
    pub fn zooms(self) -> RangeInclusive<u8> {
        match self {
            Layer::Hexbins => 7..=17,
            Layer::Reports => 12..=18,
            Layer::Districts => 5..=16,
            Layer::Streets => 8..=16,
            Layer::Communities => 10..=16,
            Layer::Grids => 13..=18,
            // Gi* runs over every cell of the area at the zoom's resolution: up to res 10
            // (about 80,000 cells for a district).
            Layer::Hotspots => 7..=14,
        }
    }

    fn level(self) -> Option<UnitLevel> {
        match self {
            Layer::Districts => Some(UnitLevel::District),
            Layer::Streets => Some(UnitLevel::Street),
            Layer::Communities => Some(UnitLevel::Community),
            Layer::Grids => Some(UnitLevel::Grid),
            Layer::Hexbins | Layer::Reports | Layer::Hotspots => None,
        }
    }

    fn staff_only(self) -> bool {
        self == Layer::Reports
    }

    /// Feature properties and their TileJSON types.
    fn fields(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Layer::Hexbins => &[("cell", "String"), ("count", "Number")],
            Layer::Hotspots => &[
                ("cell", "String"),
                ("count", "Number"),
                ("z", "Number"),
                ("p", "Number"),
                ("p_fdr", "Number"),
                ("significance", "Number"),
            ],
            Layer::Reports => &[
                ("case_id", "String"),
                ("category", "String"),
                ("status", "String"),
                ("day", "String"),
            ],
            _ => &[
                ("code", "String"),
                ("name", "String"),
                ("level", "String"),
                ("parent", "String"),
            ],
        }
    }

    fn description(self) -> &'static str {
        match self {
            Layer::Hexbins => "Reports per H3 hexagon (resolution from zoom, ?res= overrides)",
            Layer::Hotspots => {
                "Significant Getis-Ord Gi* hot and cold spots (k = 1, FDR-corrected), resolution from zoom"
            }
            Layer::Reports => "Reports as points, public fields only (staff only)",
            Layer::Districts => "District outlines",
            Layer::Streets => "Street (街道) outlines",
            Layer::Communities => "Community (社区) outlines",
            Layer::Grids => "Grid (网格) outlines",
        }
    }

    /// How long clients and caches may keep a tile: data layers change with every report.
    fn max_age(self) -> u32 {
        if self.level().is_some() { 300 } else { 60 }
    }
}

/// The encoding asked for by the tile's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    GeoJson,
    Mvt,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::GeoJson => "application/geo+json",
            Format::Mvt => "application/vnd.mapbox-vector-tile",
        }
    }
}

/// Who is asking ([`crate::domain::analytics::disclosure`]): the public sees k-anonymous hexagons and
/// hotspot bins, planners every aggregate, staff the report points too.
pub use crate::domain::analytics::disclosure::Viewer;

/// The query string of a tile or TileJSON request (data layers; boundary layers ignore
/// the filters).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TileQuery {
    /// `hexbins` only: the hexagons' H3 resolution instead of the zoom's (at most 2 finer).
    #[param(value_type = Option<u8>, minimum = 5, maximum = 12)]
    res: Option<String>,
    /// First local day, `YYYY-MM-DD`.
    #[param(value_type = Option<String>, format = Date)]
    from: Option<String>,
    /// Last local day, inclusive.
    #[param(value_type = Option<String>, format = Date)]
    to: Option<String>,
    /// A category or major category code.
    #[param(value_type = Option<String>, pattern = "^[A-Za-z0-9]{2,16}$")]
    category: Option<String>,
}

/// A vector layer of a TileJSON document.
#[derive(Debug, Serialize, ToSchema)]
pub struct VectorLayer {
    id: &'static str,
    description: &'static str,
    minzoom: u8,
    maxzoom: u8,
    /// Feature property names and their types (`String`, `Number`).
    #[schema(value_type = Object)]
    fields: BTreeMap<&'static str, &'static str>,
}

/// TileJSON 3.0.0 of one layer.
#[derive(Debug, Serialize, ToSchema)]
pub struct TileJson {
    /// `3.0.0`.
    tilejson: &'static str,
    name: String,
    description: &'static str,
    version: &'static str,
    /// `xyz`.
    scheme: &'static str,
    /// The MVT URL template, the request's query string kept.
    tiles: Vec<String>,
    minzoom: u8,
    maxzoom: u8,
    /// The deployment's bounds: west, south, east, north.
    #[schema(min_items = 4, max_items = 4)]
    bounds: [f64; 4],
    /// Longitude, latitude and zoom of the centre.
    #[schema(value_type = Vec<f64>, min_items = 3, max_items = 3)]
    center: (f64, f64, u8),
    vector_layers: Vec<VectorLayer>,
}

/// Filters of the data layers (boundary layers take none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TileFilters {
    /// Hexagon resolution instead of the zoom's.
    pub res: Option<Resolution>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub category: Option<CategoryCode>,
}

impl TileFilters {
    pub fn parse(q: &TileQuery) -> Result<Self, ApiError> {
        let (from, to) = parse_days(q.from.as_deref(), q.to.as_deref())?;
        Ok(TileFilters {
            res: parse_resolution(q.res.as_deref())?,
            from,
            to,
            category: parse_category(q.category.as_deref())?,
        })
    }
}

/// One tile to draw.
#[derive(Debug, Clone)]
pub struct TileRequest {
    pub layer: Layer,
    pub tile: TileId,
    pub format: Format,
    pub filters: TileFilters,
}

/// A `?res=` may ask for hexagons at most this many resolutions finer than the zoom's
/// (each step is 7 times as many hexagons).
const MAX_FINER_RES: u8 = 2;

/// Most report points in one tile (in case-id order).
const MAX_POINTS: u32 = 10_000;

impl TileRequest {
    /// Checks the request against its layer: zoom range, staff-only layers, `res`.
    fn check(&self, viewer: Viewer) -> Result<(), ApiError> {
        let zooms = self.layer.zooms();
        if !zooms.contains(&self.tile.z) {
            return Err(ApiError::TileNotFound {
                code: "zoom_out_of_range",
                detail: format!(
                    "layer {} is served at zooms {} to {}, not {}",
                    self.layer.id(),
                    zooms.start(),
                    zooms.end(),
                    self.tile.z
                ),
            });
        }
        check_layer_access(self.layer, viewer)?;
        if let Some(res) = self.filters.res {
            if self.layer != Layer::Hexbins {
                return Err(invalid(
                    "invalid_resolution",
                    format!("res applies to hexagon layers, not {}", self.layer.id()),
                ));
            }
            let zoom_res = self.hexbin_res();
            if u8::from(res) > u8::from(zoom_res) + MAX_FINER_RES {
                return Err(invalid(
                    "invalid_resolution",
                    format!(
                        "res {res} is too fine for zoom {}: at most {} (the zoom's {zoom_res} + {MAX_FINER_RES})",
                        self.tile.z,
                        u8::from(zoom_res) + MAX_FINER_RES
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The resolution the zoom asks for (hexbins zooms always have one).
    fn hexbin_res(&self) -> Resolution {
        hexbin_resolution(self.tile.z).unwrap_or(Resolution::Five)
    }
}

fn check_layer_access(layer: Layer, viewer: Viewer) -> Result<(), ApiError> {
    if layer.staff_only() && !viewer.sees_reports() {
        return Err(ApiError::StaffOnly(format!(
            "the {} layer is for dispatchers, leaders and admins only (planners and the \
             public see aggregates only)",
            layer.id()
        )));
    }
    Ok(())
}

/// Splits `{y}.{ext}`.
fn parse_tile_path(
    layer: &str,
    z: &str,
    x: &str,
    y_ext: &str,
) -> Result<(Layer, TileId, Format), ApiError> {
    let layer = Layer::parse(layer)?;
    let (y, ext) = y_ext
        .rsplit_once('.')
        .ok_or_else(|| ApiError::TileNotFound {
            code: "unknown_tile_format",
            detail: format!("a tile is {{y}}.mvt, {{y}}.pbf or {{y}}.geojson, got {y_ext:?}"),
        })?;
    let format = match ext {
        "mvt" | "pbf" => Format::Mvt,
        "geojson" => Format::GeoJson,
        other => {
            return Err(ApiError::TileNotFound {
                code: "unknown_tile_format",
                detail: format!("tiles come as .mvt, .pbf or .geojson, not .{other}"),
            });
        }
    };
    let number = |name: &str, v: &str| {
        // Plain decimal digits only: no sign, no spaces.
        v.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| v.parse::<u32>().ok())
            .flatten()
            .ok_or_else(|| {
                ApiError::InvalidTile(format!("{name} must be a whole number, got {v:?}"))
            })
    };
    let (z, x, y) = (number("z", z)?, number("x", x)?, number("y", y)?);
    let z = u8::try_from(z).map_err(|_| ApiError::InvalidTile(format!("zoom {z} is too deep")))?;
    let tile = TileId::new(z, x, y).map_err(|e| ApiError::InvalidTile(e.to_string()))?;
    Ok((layer, tile, format))
}

/// `GET /tiles/{layer}/{z}/{x}/{y}.{mvt|pbf|geojson}`.
#[utoipa::path(get, path = "/tiles/{layer}/{z}/{x}/{y}", tag = "tiles",
    security((), ("bearer" = [])),
    params(
        ("layer" = String, Path, description = "`hexbins`, `hotspots`, `reports` (staff only), `districts`, `streets`, `communities`, `grids`",
            pattern = "^(hexbins|hotspots|reports|districts|streets|communities|grids)$"),
        ("z" = u8, Path, description = "Zoom (the layer's range: see TileJSON)", minimum = 0, maximum = 24),
        ("x" = u32, Path, description = "Column, 0 to 2^z - 1", minimum = 0),
        ("y" = String, Path, description = "Row and format: `{y}.mvt`, `{y}.pbf` (MVT) or `{y}.geojson`",
            pattern = "^[0-9]+\\.(mvt|pbf|geojson)$", example = "1533.mvt"),
        TileQuery,
        ("If-None-Match" = Option<String>, Header, description = "An ETag of an earlier answer: 304 if unchanged"),
    ),
    responses(
        (status = 200, description = "The tile (weak `ETag`, `Cache-Control`; gzip on `Accept-Encoding`)",
            content(
                (super::wire::MvtBytes = "application/vnd.mapbox-vector-tile"),
                (super::wire::HexagonCollection = "application/geo+json"),
            )),
        (status = 204, description = "The tile holds nothing"),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        (status = 400, description = "`invalid_tile`, `invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`staff_only`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_layer`, `unknown_tile_format`, `zoom_out_of_range`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_resolution`, `invalid_date`, `invalid_date_range`, `invalid_category`", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip(state, headers))]
async fn tile(
    State(state): State<AppState>,
    path: Result<Path<(String, String, String, String)>, PathRejection>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TileQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path((layer, z, x, y)) = path.map_err(|e| ApiError::InvalidTile(e.body_text()))?;
    let (layer, tile, format) = parse_tile_path(&layer, &z, &x, &y)?;
    let req = TileRequest {
        layer,
        tile,
        format,
        filters: TileFilters::parse(&q)?,
    };
    let viewer = viewer_of(&caller);
    let tile = cached_or_drawn(&state, &req, viewer).await?;
    Ok(respond(&headers, &tile, cache_control(layer, viewer)))
}

/// The tile from the cache, or drawn now and kept (hotspot and report-point tiles are
/// drawn every time, see [`cache`]).
async fn cached_or_drawn(
    state: &AppState,
    req: &TileRequest,
    viewer: Viewer,
) -> Result<Arc<CachedTile>, ApiError> {
    let key = TileKey::of(req, viewer);
    // A key holds the layer, zoom, filters and viewer that `render` checks, so a kept tile
    // passed those checks for this very request.
    if let Some(hit) = key.as_ref().and_then(|k| state.tile_cache.get(k)) {
        return Ok(hit);
    }
    let generation = state.tile_cache.generation();
    let tile = Arc::new(match render(state, req, viewer).await? {
        Some(r) => CachedTile::new(r.content_type, Some(r.body)),
        None => CachedTile::new(req.format.content_type(), None),
    });
    if let Some(key) = key {
        state
            .tile_cache
            .put(key, tile.clone(), reach(req), generation);
    }
    Ok(tile)
}

fn cache_control(layer: Layer, viewer: Viewer) -> HeaderValue {
    let scope = if viewer.is_public() {
        "public"
    } else {
        "private"
    };
    HeaderValue::from_str(&format!("{scope}, max-age={}", layer.max_age()))
        .unwrap_or_else(|_| HeaderValue::from_static("no-cache"))
}

/// Whether `If-None-Match` already holds `etag` (weak comparison, RFC 9110 §13.1.2).
fn not_modified(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let etag = etag.to_str().unwrap_or_default().trim_start_matches("W/");
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// Whether `Accept-Encoding` takes gzip (not refused with `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

/// A tile's answer: 204 when empty, 304 when `If-None-Match` holds its ETag, else 200 with
/// the body, gzipped from the kept copy when the client takes gzip.
fn respond(headers: &HeaderMap, tile: &CachedTile, cache_control: HeaderValue) -> Response {
    let vary = (header::VARY, HeaderValue::from_static("Authorization"));
    let Some(body) = tile.body() else {
        return (
            StatusCode::NO_CONTENT,
            [(header::CACHE_CONTROL, cache_control), vary],
        )
            .into_response();
    };
    let common = [
        (header::ETAG, tile.etag().clone()),
        (header::CACHE_CONTROL, cache_control),
    ];
    if not_modified(headers, tile.etag()) {
        return (StatusCode::NOT_MODIFIED, common, [vary]).into_response();
    }
    let content_type = (
        header::CONTENT_TYPE,
        HeaderValue::from_static(tile.content_type),
    );
    match accepts_gzip(headers).then(|| tile.gzip()).flatten() {
        // The compression layer leaves an answer with a Content-Encoding as it is.
        Some(gz) => (
            common,
            [
                content_type,
                (header::CONTENT_ENCODING, HeaderValue::from_static("gzip")),
                (
                    header::VARY,
                    HeaderValue::from_static("Authorization, Accept-Encoding"),
                ),
            ],
            gz.clone(),
        )
            .into_response(),
        None => (common, [content_type, vary], body.clone()).into_response(),
    }
}

/// The deployment's bounds (its top-level units), or the whole Web Mercator world.
fn deployment_bounds(state: &AppState) -> [f64; 4] {
    let world = [
        -180.0,
        -crate::domain::spatial::tiles::MAX_LAT,
        180.0,
        crate::domain::spatial::tiles::MAX_LAT,
    ];
    let Ok(j) = state.jurisdiction() else {
        return world;
    };
    let Some(top) = j.levels().next() else {
        return world;
    };
    let rects: Vec<Rect<f64>> = j
        .units()
        .iter()
        .filter(|u| u.level == top)
        .filter_map(|u| u.geometry.bounding_rect())
        .collect();
    if rects.is_empty() {
        return world;
    }
    let fold = |f: fn(&Rect<f64>) -> f64, pick: fn(f64, f64) -> f64| {
        rects.iter().map(f).reduce(pick).unwrap_or(0.0)
    };
    [
        round6(fold(|r| r.min().x, f64::min)),
        round6(fold(|r| r.min().y, f64::min)),
        round6(fold(|r| r.max().x, f64::max)),
        round6(fold(|r| r.max().y, f64::max)),
    ]
}

/// `GET /tiles/{layer}.json`: TileJSON 3.0.0.
#[utoipa::path(get, path = "/tiles/{tilejson}", tag = "tiles",
    security((), ("bearer" = [])),
    params(
        ("tilejson" = String, Path, description = "`{layer}.json`",
            pattern = "^(hexbins|hotspots|reports|districts|streets|communities|grids)\\.json$", example = "hexbins.json"),
        TileQuery,
        ("If-None-Match" = Option<String>, Header, description = "An ETag of an earlier answer: 304 if unchanged"),
    ),
    responses(
        (status = 200, description = "TileJSON of the layer", body = TileJson),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`staff_only`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_layer`, `unknown_tile_format`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_resolution`, `invalid_date`, `invalid_date_range`, `invalid_category`", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip(state, headers))]
async fn tilejson(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawQuery(raw_query): RawQuery,
    caller: Caller,
    ApiQuery(q): ApiQuery<TileQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let name = file
        .strip_suffix(".json")
        .ok_or_else(|| ApiError::TileNotFound {
            code: "unknown_tile_format",
            detail: format!("TileJSON is at /tiles/{{layer}}.json, got {file:?}"),
        })?;
    let layer = Layer::parse(name)?;
    let viewer = viewer_of(&caller);
    check_layer_access(layer, viewer)?;
    let filters = TileFilters::parse(&q)?;
    if filters.res.is_some() && layer != Layer::Hexbins {
        return Err(invalid(
            "invalid_resolution",
            format!("res applies to hexagon layers, not {}", layer.id()),
        ));
    }
    // Absolute tile URLs as the client reached us (behind a proxy: its Host and scheme).
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|s| *s == "https" || *s == "http")
        .unwrap_or("http");
    let query = raw_query.map(|q| format!("?{q}")).unwrap_or_default();
    let zooms = layer.zooms();
    let bounds = deployment_bounds(&state);
    let center_zoom = 12.clamp(*zooms.start(), *zooms.end());
    let doc = TileJson {
        tilejson: "3.0.0",
        name: format!("citysnap {}", layer.id()),
        description: layer.description(),
        version: "1.0.0",
        scheme: "xyz",
        tiles: vec![format!(
            "{scheme}://{host}/tiles/{}/{{z}}/{{x}}/{{y}}.mvt{query}",
            layer.id()
        )],
        minzoom: *zooms.start(),
        maxzoom: *zooms.end(),
        bounds,
        center: (
            round6((bounds[0] + bounds[2]) / 2.0),
            round6((bounds[1] + bounds[3]) / 2.0),
            center_zoom,
        ),
        vector_layers: vec![VectorLayer {
            id: layer.id(),
            description: layer.description(),
            minzoom: *zooms.start(),
            maxzoom: *zooms.end(),
            fields: layer.fields().iter().copied().collect(),
        }],
    };
    let body =
        serde_json::to_vec(&doc).map_err(|e| ApiError::Internal(format!("TileJSON: {e}")))?;
    let tile = CachedTile::new("application/json", Some(body));
    Ok(respond(&headers, &tile, cache_control(layer, viewer)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths_parse_with_their_format() {
        let (layer, tile, format) =
            parse_tile_path("hexbins", "12", "3436", "1533.pbf").expect("path");
        assert_eq!(layer, Layer::Hexbins);
        assert_eq!(tile, TileId::new(12, 3436, 1533).expect("tile"));
        assert_eq!(format, Format::Mvt);
        let (_, _, format) = parse_tile_path("grids", "14", "0", "0.geojson").expect("path");
        assert_eq!(format, Format::GeoJson);
    }

    #[test]
    fn bad_tile_paths_get_their_own_codes() {
        for ([layer, z, x, y], code) in [
            (["heat", "1", "0", "0.mvt"], "unknown_layer"),
            (["hexbins", "1", "0", "0.png"], "unknown_tile_format"),
            (["hexbins", "1", "0", "0"], "unknown_tile_format"),
            (["hexbins", "1", "2", "0.mvt"], "invalid_tile"),
            (["hexbins", "1", "-1", "0.mvt"], "invalid_tile"),
            (["hexbins", "x", "0", "0.mvt"], "invalid_tile"),
            (["hexbins", "300", "0", "0.mvt"], "invalid_tile"),
        ] {
            let got = parse_tile_path(layer, z, x, y).err().map(|e| e.code());
            assert_eq!(got, Some(code), "{layer}/{z}/{x}/{y}");
        }
    }

    #[test]
    fn only_staff_read_the_reports_layer() {
        assert!(check_layer_access(Layer::Reports, Viewer::Public).is_err());
        assert!(check_layer_access(Layer::Reports, Viewer::Planner).is_err());
        assert!(check_layer_access(Layer::Reports, Viewer::Staff).is_ok());
    }
}
