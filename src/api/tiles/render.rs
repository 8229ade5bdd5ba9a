//! Drawing a tile: the features of each layer (hexbins, hotspots, reports, boundaries) as
//! GeoJSON (`geojson` crate types) or into an MVT layer, with the hotspot computations kept
//! for reuse.

use super::*;
/// A drawn tile.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// Draws a tile for `viewer`; `None` when it holds nothing.
pub async fn render(
    state: &AppState,
    req: &TileRequest,
    viewer: Viewer,
) -> Result<Option<Rendered>, ApiError> {
    req.check(viewer)?;
    let features = match req.layer {
        Layer::Hexbins => hexbin_features(state, req, viewer).await?,
        Layer::Reports => report_features(state, req).await?,
        Layer::Hotspots => hotspot_features(state, req, viewer).await?,
        _ => boundary_features(state.jurisdiction()?.as_ref(), req)?,
    };
    let body = match features {
        Features::GeoJson(f) if f.is_empty() => return Ok(None),
        Features::Mvt(l) if l.is_empty() => return Ok(None),
        Features::GeoJson(features) => serde_json::to_vec(&geojson::FeatureCollection {
            bbox: None,
            features,
            foreign_members: None,
        })
        .map_err(|e| ApiError::Internal(format!("tile JSON: {e}")))?,
        Features::Mvt(l) => encode_tile(vec![*l]),
    };
    Ok(Some(Rendered {
        content_type: req.format.content_type(),
        body,
    }))
}

/// A tile's features as they are collected.
enum Features {
    GeoJson(Vec<geojson::Feature>),
    Mvt(Box<MvtLayer>),
}

impl Features {
    fn new(req: &TileRequest) -> Self {
        match req.format {
            Format::GeoJson => Features::GeoJson(Vec::new()),
            Format::Mvt => Features::Mvt(Box::new(MvtLayer::new(req.layer.id(), req.tile))),
        }
    }
}

/// The tile's square in WGS-84: exact for GeoJSON (whose features are picked by centre),
/// with the MVT buffer otherwise.
fn query_box(req: &TileRequest) -> LonLatBox {
    match req.format {
        Format::GeoJson => req.tile.bounds(0.0),
        Format::Mvt => req.tile.bounds(f64::from(BUFFER)),
    }
}

/// Where a report changes the tile's body ([`cache::Reach`]). A hexagon is drawn in every
/// tile it touches (MVT) or in the tile holding its centre (GeoJSON), so a report counts in
/// a tile when it lies within a hexagon's width of the tile's box: the box grown by two
/// hexagons each way also holds reports whose counted cell is a coarser cell's ancestor
/// (H3 cells do not nest, so the cell counting a point may lie a little off it).
pub(super) fn reach(req: &TileRequest) -> cache::Reach {
    let b = query_box(req);
    match req.layer {
        Layer::Hexbins => {
            let res = req.filters.res.unwrap_or_else(|| req.hexbin_res());
            let (lon, lat) = ((b.west + b.east) / 2.0, (b.south + b.north) / 2.0);
            let (w, h) = LatLng::new(lat, lon).map_or((180.0, 90.0), |ll| {
                let corners = ll.to_cell(res).boundary();
                let span = |f: fn(LatLng) -> f64| {
                    let (lo, hi) = corners
                        .iter()
                        .map(|&c| f(c))
                        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
                    hi - lo
                };
                (span(LatLng::lng), span(LatLng::lat))
            });
            cache::Reach::Reports(LonLatBox {
                west: b.west - 2.0 * w,
                south: b.south - 2.0 * h,
                east: b.east + 2.0 * w,
                north: b.north + 2.0 * h,
            })
        }
        // Not kept ([`cache`]): any report moves the Gi* statistics of every cell, and any
        // action the state of a point.
        Layer::Hotspots | Layer::Reports => {
            cache::Reach::Reports(TileId { z: 0, x: 0, y: 0 }.bounds(0.0))
        }
        Layer::Districts | Layer::Streets | Layer::Communities | Layer::Grids => {
            cache::Reach::Boundaries
        }
    }
}

fn rect_of(b: &LonLatBox) -> Rect<f64> {
    Rect::new(
        Coord {
            x: b.west,
            y: b.south,
        },
        Coord {
            x: b.east,
            y: b.north,
        },
    )
}

/// Hexagons at `res` touching the box (H3 polygon-to-cells, "covers" mode, which also
/// returns the hexagon around a box smaller than one).
fn hexagons_touching(b: &LonLatBox, res: Resolution) -> Result<Vec<CellIndex>, ApiError> {
    let mut tiler = TilerBuilder::new(res)
        .containment_mode(ContainmentMode::Covers)
        .disable_transmeridian_heuristic()
        .build();
    tiler
        .add(rect_of(b).to_polygon())
        .map_err(|e| ApiError::Internal(format!("tile outline: {e}")))?;
    Ok(tiler.into_coverage().collect())
}

async fn hexbin_features(
    state: &AppState,
    req: &TileRequest,
    viewer: Viewer,
) -> Result<Features, ApiError> {
    let res = req.filters.res.unwrap_or_else(|| req.hexbin_res());
    let mut wanted = hexagons_touching(&query_box(req), res)?;
    if req.format == Format::GeoJson {
        // Each hexagon in the one tile holding its centre.
        wanted.retain(|&c| {
            let centre = LatLng::from(c);
            TileId::containing(centre.lng(), centre.lat(), req.tile.z) == req.tile
        });
    }
    let counts = state
        .store
        .hex_counts(&HexCountQuery {
            res,
            cells: wanted.clone(),
            from: req.filters.from,
            to: req.filters.to,
            category: req.filters.category.clone(),
        })
        .await?;
    let wanted: HashSet<CellIndex> = wanted.into_iter().collect();
    let k_anon = state.settings.tile_min_count;
    let bins: BTreeMap<CellIndex, i64> = counts
        .into_iter()
        .filter(|(cell, n)| viewer.shows_count(k_anon, (*n).max(0) as u64) && wanted.contains(cell))
        .collect();
    let mut features = Features::new(req);
    for (cell, count) in bins {
        match &mut features {
            Features::GeoJson(f) => f.push(geojson_feature(
                None,
                hexagon_geometry(cell),
                &HexbinProperties {
                    cell: cell_hex(cell),
                    count,
                },
            )?),
            Features::Mvt(layer) => {
                let hexagon = hexagon_outline(cell);
                layer.add_polygon(
                    Some(u64::from(cell)),
                    &hexagon,
                    0.0,
                    &[
                        ("cell", TileValue::Str(cell_hex(cell))),
                        ("count", TileValue::Uint(count.max(0) as u64)),
                    ],
                );
            }
        }
    }
    Ok(features)
}

/// Recent hotspot computations, by resolution and filters, bounded in bytes (least
/// recently used out first).
pub(crate) type HotspotCache = ByteLru<String, HotspotOutput>;

/// Bytes of hotspot computations kept: a resolution-10 map of 兴隆台区 (80,000 cells) takes
/// about 7 MB, so this keeps several maps.
const HOTSPOT_CACHE_BYTES: usize = 64 << 20;

/// The hotspot cache of a new service.
pub(crate) fn hotspot_cache() -> HotspotCache {
    ByteLru::new(HOTSPOT_CACHE_BYTES, HOTSPOT_TTL)
}

impl HeapSize for HotspotOutput {
    fn heap_bytes(&self) -> usize {
        self.report.cells.capacity()
            * std::mem::size_of::<crate::domain::analytics::hotspots::CellHotspot>()
    }
}

/// How long a hotspot computation serves tiles before it is redone with new reports.
const HOTSPOT_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// Gi* over the whole area for the tile's resolution and filters, computed once per minute
/// and shared by every tile of that map (one computation reads the whole aggregate).
async fn hotspots_for(
    state: &AppState,
    res: Resolution,
    f: &TileFilters,
) -> Result<std::sync::Arc<HotspotOutput>, ApiError> {
    let params = HotspotParams {
        res,
        filter: CountFilter {
            from: f.from,
            to: f.to,
            category: f.category.clone(),
            ..CountFilter::default()
        },
        k: parse_k(None)?,
        permutations: None,
    };
    cached_hotspots(state, &params).await
}

/// The significant cells (hot or cold, after FDR) of the tile, as
/// [`HotspotProperties::of`] shows them to the viewer: the public sees the bins, and the
/// counts of at least k reports; planners and staff every count, z and p.
async fn hotspot_features(
    state: &AppState,
    req: &TileRequest,
    viewer: Viewer,
) -> Result<Features, ApiError> {
    let res = req.filters.res.unwrap_or_else(|| req.hexbin_res());
    let out = hotspots_for(state, res, &req.filters).await?;
    let b = query_box(req);
    let mut features = Features::new(req);
    for c in out
        .report
        .cells
        .iter()
        .filter(|c| c.significance.is_hot() || c.significance.is_cold())
    {
        let centre = LatLng::from(c.cell);
        let inside = match req.format {
            // Each hexagon in the one tile holding its centre.
            Format::GeoJson => {
                TileId::containing(centre.lng(), centre.lat(), req.tile.z) == req.tile
            }
            Format::Mvt => {
                c.cell.boundary().iter().any(|ll| {
                    (b.west..=b.east).contains(&ll.lng()) && (b.south..=b.north).contains(&ll.lat())
                }) || (b.west..=b.east).contains(&centre.lng())
                    && (b.south..=b.north).contains(&centre.lat())
            }
        };
        if !inside {
            continue;
        }
        let props = HotspotProperties::of(c, viewer, state.settings.tile_min_count);
        match &mut features {
            Features::GeoJson(f) => {
                f.push(geojson_feature(None, hexagon_geometry(c.cell), &props)?)
            }
            Features::Mvt(layer) => {
                let hexagon = hexagon_outline(c.cell);
                let mut values = vec![("cell", TileValue::Str(props.cell))];
                for (name, v) in [("z", props.z), ("p", props.p), ("p_fdr", props.p_fdr)] {
                    if let Some(v) = v {
                        values.push((name, TileValue::Double(v)));
                    }
                }
                values.push((
                    "significance",
                    TileValue::Sint(i64::from(props.significance)),
                ));
                if let Some(n) = props.count {
                    values.push(("count", TileValue::Uint(n)));
                }
                layer.add_polygon(Some(u64::from(c.cell)), &hexagon, 0.0, &values);
            }
        }
    }
    Ok(features)
}

/// A hexagon's outline in WGS-84, for the MVT encoder.
fn hexagon_outline(cell: CellIndex) -> MultiPolygon<f64> {
    let ring: Vec<Coord<f64>> = cell
        .boundary()
        .iter()
        .map(|ll| Coord {
            x: ll.lng(),
            y: ll.lat(),
        })
        .collect();
    MultiPolygon(vec![Polygon::new(ring.into(), vec![])])
}

/// The first instant of a local day, in UTC.
fn local_midnight(day: NaiveDate, settings: &ApiSettings) -> Option<DateTime<Utc>> {
    day.and_hms_opt(0, 0, 0)?
        .and_local_timezone(settings.timezone)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

async fn report_features(state: &AppState, req: &TileRequest) -> Result<Features, ApiError> {
    let b = query_box(req);
    let settings = &state.settings;
    let points = state
        .store
        .report_points(&ReportPointQuery {
            bbox: Bbox {
                min_lon: b.west,
                min_lat: b.south,
                max_lon: b.east,
                max_lat: b.north,
            },
            created_from: req.filters.from.and_then(|d| local_midnight(d, settings)),
            created_before: req
                .filters
                .to
                .and_then(|d| d.succ_opt())
                .and_then(|d| local_midnight(d, settings)),
            category: req.filters.category.clone(),
            limit: MAX_POINTS,
        })
        .await?;
    let mut features = Features::new(req);
    for p in points {
        let day = p
            .created_at
            .with_timezone(&settings.timezone)
            .date_naive()
            .to_string();
        match &mut features {
            Features::GeoJson(f) => {
                if TileId::containing(p.lon, p.lat, req.tile.z) != req.tile {
                    continue;
                }
                f.push(geojson_feature(
                    Some(p.case_id.clone()),
                    geojson::GeometryValue::new_point([round6(p.lon), round6(p.lat)]),
                    &ReportProperties {
                        case_id: p.case_id,
                        category: p.category,
                        status: p.status,
                        day,
                    },
                )?);
            }
            Features::Mvt(layer) => {
                layer.add_point(
                    None,
                    p.lon,
                    p.lat,
                    &[
                        ("case_id", TileValue::Str(p.case_id)),
                        ("category", TileValue::Str(p.category)),
                        ("status", TileValue::Str(p.status)),
                        ("day", TileValue::Str(day)),
                    ],
                );
            }
        }
    }
    Ok(features)
}

/// MVT outlines are simplified to this many tile units (1/8 of a pixel on a 256-px tile).
const MVT_TOLERANCE: f64 = 2.0;

fn boundary_features(j: &Jurisdiction, req: &TileRequest) -> Result<Features, ApiError> {
    let level = req.layer.level().unwrap_or(UnitLevel::District);
    let rect = rect_of(&query_box(req));
    let mut features = Features::new(req);
    for id in j.units_in(level, rect) {
        let unit = j.unit(id);
        let parent = unit.parent.as_ref().map(|p| p.as_str().to_owned());
        match &mut features {
            Features::GeoJson(f) => {
                if !unit.geometry.intersects(&rect) {
                    continue;
                }
                // A quarter of a pixel, in degrees.
                let outline = unit.geometry.simplify(req.tile.pixel_degrees() / 4.0);
                f.push(geojson_feature(
                    Some(unit.code.as_str().to_owned()),
                    multipolygon_geometry(&outline),
                    &UnitProperties {
                        code: unit.code.as_str(),
                        name: &unit.name,
                        level: unit.level,
                        parent,
                    },
                )?);
            }
            Features::Mvt(layer) => {
                let mut properties = vec![
                    ("code", TileValue::Str(unit.code.as_str().to_owned())),
                    ("name", TileValue::Str(unit.name.clone())),
                    ("level", TileValue::Str(unit.level.as_str().to_owned())),
                ];
                if let Some(p) = parent {
                    properties.push(("parent", TileValue::Str(p)));
                }
                layer.add_polygon(None, &unit.geometry, MVT_TOLERANCE, &properties);
            }
        }
    }
    Ok(features)
}

/// A (multi)polygon as RFC 7946 GeoJSON: exterior rings counter-clockwise, holes clockwise
/// (§3.1.6), 6 decimals, rings that simplification collapsed left out.
fn multipolygon_geometry(mp: &MultiPolygon<f64>) -> geojson::GeometryValue {
    use geo::orient::{Direction, Orient};
    let ring = |r: &geo::LineString<f64>| -> Vec<geojson::Position> {
        r.0.iter()
            .map(|c| [round6(c.x), round6(c.y)].into())
            .collect()
    };
    let coordinates: Vec<Vec<Vec<geojson::Position>>> = mp
        .orient(Direction::Default)
        .0
        .iter()
        .filter(|p| p.exterior().0.len() >= 4)
        .map(|p| {
            std::iter::once(ring(p.exterior()))
                .chain(p.interiors().iter().filter(|r| r.0.len() >= 4).map(ring))
                .collect()
        })
        .collect();
    geojson::GeometryValue::MultiPolygon { coordinates }
}

/// A hexbin tile's feature properties: the cell and its count of reports.
#[derive(Serialize)]
struct HexbinProperties {
    cell: String,
    count: i64,
}

/// A report tile's feature properties (never the reporter, never the description).
#[derive(Serialize)]
struct ReportProperties {
    case_id: String,
    category: String,
    status: String,
    /// The local day of the report.
    day: String,
}

/// A boundary tile's feature properties.
#[derive(Serialize)]
struct UnitProperties<'a> {
    code: &'a str,
    name: &'a str,
    level: UnitLevel,
    /// The enclosing unit's code.
    parent: Option<String>,
}
