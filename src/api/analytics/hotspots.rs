//! Hotspots (issue 4). `GET /v1/analytics/hotspots` runs Getis-Ord Gi* with FDR correction
//! over the deployment area; `GET /v1/analytics/hotspots/emerging` runs Gi* per week or
//! month and a Mann–Kendall trend test per cell, and names each cell's space-time pattern.
//! Both answer GeoJSON FeatureCollections of H3 hexagons with a `summary` foreign member
//! (RFC 7946 §6.1).
//!
//! The study area is every cell at the requested resolution whose centre lies inside the
//! deployment area (the outlines of the jurisdiction's top level, the districts), zero-count
//! cells included. A cell counts the reports whose point lies in it (issue 10).
//!
//! Cost (issue 8, item 16): a request over the caps ([`MAX_CELLS`], [`MAX_NEIGHBOURS`],
//! [`MAX_WORK`], [`MAX_CELL_PERIODS`]) is refused from an estimate of its cells before any
//! work; an admitted one waits for a slot of the analytics gate ([`crate::api::limits`]) and
//! computes on a blocking thread. What each caller sees: [`crate::domain::analytics::disclosure`].

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use chrono::{Datelike, Days, Months, NaiveDate, Utc};
use geo::{BoundingRect, Centroid, ChamberlainDuquetteArea, MultiPolygon};
use h3o::{LatLng, Resolution};
use serde::{Deserialize, Serialize};

use super::{
    CountFilter, HexCollection, HexFeature, RawFilter, cell_hex, geojson_response, invalid,
    parse_res, viewer_of,
};
use utoipa::IntoParams;

use crate::api::auth::Caller;
use crate::api::error::Problem;
use crate::api::{ApiError, ApiQuery, AppState};
use crate::domain::analytics::disclosure::Viewer;
use crate::domain::analytics::hotspots::{
    CellHotspot, DEFAULT_TREND_ALPHA, HotspotError, HotspotReport, KRing, MannKendall,
    Permutations, Significance, SpaceTimePattern, StudyArea, analyse, emerging_hotspots,
};
use crate::service::analytics::{self, Split};
use crate::store::analytics::Bbox;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/analytics/hotspots", get(hotspots))
        .route("/v1/analytics/hotspots/emerging", get(emerging))
}

/// Largest study area analysed: at resolution 10 the demo district (兴隆台区) holds about
/// 80,000 cells, at 11 about 560,000 (too many: ask for a coarser resolution).
pub const MAX_CELLS: u64 = 200_000;

/// Largest cells × k-ring neighbourhood (the cell and its 3k(k + 1) neighbours): the
/// neighbour lists take 4 bytes an entry, so this bounds them to 80 MB.
pub const MAX_NEIGHBOURS: u64 = 20_000_000;

/// Largest cells × neighbourhood × (permutations + 1): the additions of the permutation
/// test (Σwᵢ per permutation, [`crate::domain::analytics::hotspots::gi_star`]), about a second of one
/// core; 200 parallel requests of 9,999 permutations at resolution 8 fit, 80,000
/// resolution-10 cells with k = 10 and 250 permutations (24 s) do not.
pub const MAX_WORK: u64 = 1_000_000_000;

/// Largest cells × periods of an emerging-hotspot analysis (one Gi* pass per period, and a
/// count per cell and period held in memory: 80 MB).
pub const MAX_CELL_PERIODS: u64 = 10_000_000;

/// Most periods an emerging-hotspot analysis spans: five years of weeks.
pub const MAX_PERIODS: usize = 260;

/// Periods analysed when `from` is not given: ten, as ESRI recommends for the trend test.
const DEFAULT_PERIODS: u32 = 10;

/// Seed of the permutation test when none is given, so that answers are reproducible.
pub const DEFAULT_SEED: u64 = 0;

/// The query string of `/v1/analytics/hotspots`, as sent.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HotspotQuery {
    /// H3 resolution of the cells.
    #[param(required = true, value_type = u8, minimum = 5, maximum = 12)]
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
    /// A unit code of any level (district, street, community, grid).
    #[param(value_type = Option<String>, pattern = "^[0-9]{6,15}$")]
    unit: Option<String>,
    /// Case states, comma-separated, e.g. `dispatched,accepted`.
    #[param(value_type = Option<String>, example = "dispatched,accepted")]
    status: Option<String>,
    /// Neighbourhood radius in rings (default 1).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 10)]
    k: Option<String>,
    /// Conditional permutations for `p_sim` (default 0: none).
    #[param(value_type = Option<u32>, minimum = 0, maximum = 9999)]
    permutations: Option<String>,
    /// Seed of the permutations (only with permutations; default 0).
    #[param(value_type = Option<u64>, minimum = 0)]
    seed: Option<String>,
    /// Only the significant cells (default false: every cell, zeros included).
    #[param(value_type = Option<bool>)]
    significant: Option<String>,
}

/// A hotspot computation, parsed: what [`compute_hotspots`] needs (the `hotspots` tile
/// layer builds one too).
#[derive(Debug, Clone)]
pub(crate) struct HotspotParams {
    pub res: Resolution,
    pub filter: CountFilter,
    pub k: KRing,
    /// Conditional permutation inference; `None` for the analytical p-values only.
    pub permutations: Option<Permutations>,
}

/// Per-cell Gi* and the summary, with the parameters they were computed at.
#[derive(Debug, Clone)]
pub(crate) struct HotspotOutput {
    pub res: Resolution,
    pub k: KRing,
    pub report: HotspotReport,
}

pub(crate) fn parse_k(raw: Option<&str>) -> Result<KRing, ApiError> {
    let Some(raw) = raw else {
        return Ok(KRing::new(1).expect("1 is a valid radius"));
    };
    raw.parse::<u32>()
        .ok()
        .and_then(|k| KRing::new(k).ok())
        .ok_or_else(|| {
            invalid(
                "invalid_k",
                format!(
                    "k must be a whole number from 1 to {}, got {raw:?}",
                    KRing::MAX
                ),
            )
        })
}

/// `permutations` (0 or absent: none) and `seed` (only with permutations).
pub(crate) fn parse_permutations(
    count: Option<&str>,
    seed: Option<&str>,
) -> Result<Option<Permutations>, ApiError> {
    let seed = seed
        .map(|s| {
            s.parse::<u64>().map_err(|_| {
                invalid(
                    "invalid_seed",
                    format!(
                        "seed must be a whole number from 0 to {}, got {s:?}",
                        u64::MAX
                    ),
                )
            })
        })
        .transpose()?;
    let count = match count {
        None => 0,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|&n| n <= Permutations::MAX)
            .ok_or_else(|| {
                invalid(
                    "invalid_permutations",
                    format!(
                        "permutations must be a whole number from 0 (none) to {}, got {raw:?}",
                        Permutations::MAX
                    ),
                )
            })?,
    };
    if count == 0 {
        return match seed {
            Some(_) => Err(invalid(
                "invalid_seed",
                "seed only applies with permutations=1 or more".into(),
            )),
            None => Ok(None),
        };
    }
    Permutations::new(count, seed.unwrap_or(DEFAULT_SEED))
        .map(Some)
        .map_err(|e| invalid("invalid_permutations", e.to_string()))
}

/// `significant=true|false` (default false: every cell, zeros included).
fn parse_significant(raw: Option<&str>) -> Result<bool, ApiError> {
    match raw {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(invalid(
            "invalid_significant",
            format!("significant must be true or false, got {other:?}"),
        )),
    }
}

impl HotspotParams {
    /// The parameters and whether only significant cells are wanted.
    pub fn parse(q: &HotspotQuery) -> Result<(Self, bool), ApiError> {
        let res = parse_res(q.res.as_deref())?;
        let filter = count_filter!(q)?;
        let k = parse_k(q.k.as_deref())?;
        let permutations = parse_permutations(q.permutations.as_deref(), q.seed.as_deref())?;
        let significant = parse_significant(q.significant.as_deref())?;
        Ok((
            Self {
                res,
                filter,
                k,
                permutations,
            },
            significant,
        ))
    }
}

/// The deployment area: the outlines of the jurisdiction's top level (the districts).
fn deployment_area(state: &AppState) -> Result<MultiPolygon<f64>, ApiError> {
    let j = state.jurisdiction()?;
    let top = j.levels().next().ok_or(ApiError::NoBoundaries)?;
    Ok(MultiPolygon(
        j.units()
            .iter()
            .filter(|u| u.level == top)
            .flat_map(|u| u.geometry.0.iter().cloned())
            .collect(),
    ))
}

/// The work an analysis of `cells` cells would do, checked against the caps before it is
/// done: `repeats` is 1 + permutations for hotspots, the number of periods for emerging ones.
#[derive(Debug, Clone, Copy)]
struct Budget {
    res: Resolution,
    k: KRing,
    repeats: u64,
    /// Cells × repeats allowed (periods are capped on their own: their counts stay in
    /// memory).
    max_cell_repeats: u64,
}

impl Budget {
    fn hotspots(p: &HotspotParams) -> Self {
        Self {
            res: p.res,
            k: p.k,
            repeats: 1 + p.permutations.map_or(0, |x| u64::from(x.count())),
            max_cell_repeats: u64::MAX,
        }
    }

    fn emerging(res: Resolution, k: KRing, periods: usize) -> Self {
        Self {
            res,
            k,
            repeats: periods as u64,
            max_cell_repeats: MAX_CELL_PERIODS,
        }
    }

    /// Cells of a k-ring neighbourhood, the cell included.
    fn neighbourhood(&self) -> u64 {
        let k = u64::from(self.k.get());
        3 * k * (k + 1) + 1
    }

    /// Refuses `cells` cells (`about`: an estimate) beyond a cap, naming the cap.
    fn check(&self, cells: u64, about: bool) -> Result<(), ApiError> {
        let neighbours = cells.saturating_mul(self.neighbourhood());
        let work = neighbours.saturating_mul(self.repeats);
        let over = if cells > MAX_CELLS {
            Some(format!("at most {MAX_CELLS} cells"))
        } else if neighbours > MAX_NEIGHBOURS {
            Some(format!(
                "at most {MAX_NEIGHBOURS} cells × k-ring cells (here k = {} gives {})",
                self.k.get(),
                self.neighbourhood()
            ))
        } else if cells.saturating_mul(self.repeats) > self.max_cell_repeats {
            Some(format!(
                "at most {} cells × periods (here {} periods)",
                self.max_cell_repeats, self.repeats
            ))
        } else if work > MAX_WORK {
            Some(format!(
                "at most {MAX_WORK} cells × k-ring cells × (permutations + 1) (here {} × {} × {})",
                cells,
                self.neighbourhood(),
                self.repeats
            ))
        } else {
            None
        };
        match over {
            None => Ok(()),
            Some(cap) => Err(invalid(
                "too_many_cells",
                format!(
                    "the deployment area holds {}{cells} cells at resolution {}; an analysis \
                     takes {cap}: ask for a coarser resolution, a smaller k or fewer \
                     permutations or periods",
                    if about { "about " } else { "" },
                    self.res
                ),
            )),
        }
    }
}

/// What an analysis reads: the area, and the box of aggregate rows whose parents at `res`
/// may lie in it.
struct Area {
    outline: MultiPolygon<f64>,
    bbox: Bbox,
}

/// The deployment area, refused before any work when an estimate of its cells at the
/// budget's resolution (its area on the sphere over the area of the cell at its centroid,
/// within a few per cent in a city) is beyond the caps; the exact count is checked again
/// once the area is tiled.
fn area_for(state: &AppState, budget: &Budget) -> Result<Area, ApiError> {
    let outline = deployment_area(state)?;
    let res = budget.res;
    let rect = outline
        .bounding_rect()
        .ok_or_else(|| ApiError::Internal("the deployment area has no outline".into()))?;
    let centre = outline.centroid().unwrap_or_else(|| rect.center().into());
    let cell_km2 = LatLng::new(centre.y(), centre.x())
        .map(|c| c.to_cell(res).area_km2())
        .unwrap_or_else(|_| res.area_km2());
    let estimate = (outline.chamberlain_duquette_unsigned_area() / 1e6 / cell_km2).ceil() as u64;
    // Refuse only what is clearly over: the estimate less its error.
    budget.check(estimate - estimate / 10, true)?;
    // The aggregate's rows are read by their cell centres, the per-case model's by points,
    // which lie within an edge length of their cell's centre.
    let bbox = Bbox {
        min_lon: rect.min().x,
        min_lat: rect.min().y,
        max_lon: rect.max().x,
        max_lat: rect.max().y,
    }
    .grown_by_km(2.0 * res.edge_length_km());
    Ok(Area { outline, bbox })
}

fn hotspot_error(e: HotspotError) -> ApiError {
    match e {
        HotspotError::EmptyArea(res) => invalid(
            "empty_study_area",
            format!(
                "no cell centre at resolution {res} lies inside the deployment area; ask for a finer resolution"
            ),
        ),
        other => ApiError::Internal(other.to_string()),
    }
}

/// The study area of `area`, within the caps.
fn study_area(area: &Area, budget: &Budget) -> Result<StudyArea, ApiError> {
    // Tiling costs about as much as the analysis: count the cells first (polygon-to-cells
    // without the neighbours), then build the neighbour lists.
    let cells = crate::domain::analytics::hotspots::study_area_cells(&area.outline, budget.res)
        .map_err(hotspot_error)?;
    budget.check(cells.len() as u64, false)?;
    if cells.is_empty() {
        return Err(hotspot_error(HotspotError::EmptyArea(budget.res)));
    }
    StudyArea::new(cells, budget.k).map_err(hotspot_error)
}

/// Runs CPU-bound work off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("analytics computation: {e}")))?
}

/// Gi* with FDR over the deployment area at `p.res`, and the summary: refused up front
/// when over budget, then computed in one of the analytics gate's slots.
pub(crate) async fn compute_hotspots(
    state: &AppState,
    p: &HotspotParams,
) -> Result<HotspotOutput, ApiError> {
    let budget = Budget::hotspots(p);
    let area = area_for(state, &budget)?;
    let _slot = state.analytics_gate.admit().await?;
    let rows = analytics::cell_counts(
        &state.analytics,
        state.store.as_ref(),
        &p.filter.query(p.res, Some(area.bbox)),
        Split::Total,
    )
    .await?;
    let (res, k, permutations) = (p.res, p.k, p.permutations);
    let report = blocking(move || {
        let study = study_area(&area, &budget)?;
        let counts = study.counts(
            rows.iter()
                .filter_map(|r| Some((r.cell.parent(res)?, r.n.max(0) as u64))),
        );
        drop(rows);
        analyse(&study, &counts, permutations).map_err(hotspot_error)
    })
    .await?;
    Ok(HotspotOutput { res, k, report })
}

/// [`compute_hotspots`] shared for a minute by every reader of the same map: the hotspot
/// tiles of a view and the pages of the OGC `hotspots` collection.
pub(crate) async fn cached_hotspots(
    state: &AppState,
    p: &HotspotParams,
) -> Result<std::sync::Arc<HotspotOutput>, ApiError> {
    let key = format!(
        "{}|{}|{:?}|{:?}",
        p.res,
        p.k.get(),
        p.permutations,
        p.filter
    );
    if let Some(hit) = state.hotspot_cache.get(&key) {
        return Ok(hit);
    }
    let out = std::sync::Arc::new(compute_hotspots(state, p).await?);
    state.hotspot_cache.put(key, out.clone());
    Ok(out)
}

/// A hotspot cell as the caller may see it ([`crate::domain::analytics::disclosure`]).
#[derive(Debug, Clone, Serialize)]
pub struct HotspotProperties {
    /// The H3 index, lowercase hexadecimal.
    pub cell: String,
    /// Reports in the cell; `null` for the public when fewer than k.
    pub count: Option<u64>,
    /// Gi* z-score (planners and staff only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub z: Option<f64>,
    /// Two-sided p-value of `z` (planners and staff only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p: Option<f64>,
    /// Pseudo p-value of the permutation test (planners and staff only, with permutations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_sim: Option<f64>,
    /// Benjamini–Hochberg adjusted p-value (planners and staff only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_fdr: Option<f64>,
    /// −3…3: cold or hot at 99, 95 or 90 % confidence after FDR; 0 not significant.
    pub significance: i8,
}

impl HotspotProperties {
    pub(crate) fn of(c: &CellHotspot, viewer: Viewer, k: u32) -> Self {
        let count = c.count.max(0.0) as u64;
        let stats = viewer.sees_statistics();
        Self {
            cell: cell_hex(c.cell),
            count: viewer.shows_count(k, count).then_some(count),
            z: stats.then_some(c.z),
            p: stats.then_some(c.p),
            p_sim: c.p_sim.filter(|_| stats),
            p_fdr: stats.then_some(c.p_fdr),
            significance: c.significance.get(),
        }
    }
}

/// The study-wide figures of a hotspot answer.
#[derive(Debug, Clone, Serialize)]
pub struct HotspotSummaryBody {
    pub cells: usize,
    pub hot: usize,
    pub cold: usize,
    pub moran_i: Option<f64>,
    pub moran_z: Option<f64>,
    pub moran_p: Option<f64>,
    pub res: u8,
    pub k: u32,
    pub permutations: Option<u32>,
    pub seed: Option<u64>,
}

/// The foreign members of a hotspot answer (RFC 7946 §6.1).
#[derive(Debug, Clone, Serialize)]
pub struct HotspotMembers {
    pub summary: HotspotSummaryBody,
}

/// `GET /v1/analytics/hotspots`.
pub type HotspotBody = HexCollection<HotspotProperties, HotspotMembers>;

/// `GET /v1/analytics/hotspots`: Getis-Ord Gi* over the deployment area.
#[utoipa::path(get, path = "/v1/analytics/hotspots", tag = "analytics", params(HotspotQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Cells with `cell` and `count` (staff and planners also `z`, `p`, `p_fdr`, `significance`, `p_sim`); foreign member `summary`",
            body = crate::api::wire::HexagonCollection, content_type = "application/geo+json"),
        (status = 400, description = "`invalid_query`: an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_resolution`, `invalid_date`, `invalid_date_range`, `invalid_category`, `invalid_unit`, `invalid_status`, `invalid_k`, `invalid_permutations`, `invalid_seed`, `invalid_significant`, `too_many_cells`, `empty_study_area`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`no_boundaries`, `analytics_busy` (with `retry_after`)", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip(state, caller))]
async fn hotspots(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<HotspotQuery>,
) -> Result<Response, ApiError> {
    let viewer = viewer_of(&caller);
    let (params, significant_only) = HotspotParams::parse(&q)?;
    let out = compute_hotspots(&state, &params).await?;
    let k_anon = state.settings.tile_min_count;
    // Shaping and serialising a large answer (80,000 cells at resolution 10) is work too.
    blocking(move || {
        let features = out
            .report
            .cells
            .iter()
            .filter(|c| !significant_only || c.significance.get() != 0)
            .map(|c| HexFeature::new(c.cell, HotspotProperties::of(c, viewer, k_anon)))
            .collect();
        let s = &out.report.summary;
        let summary = HotspotSummaryBody {
            cells: s.cells,
            hot: s.hot,
            cold: s.cold,
            moran_i: s.moran.map(|m| m.i),
            moran_z: s.moran.map(|m| m.z),
            moran_p: s.moran.map(|m| m.p),
            res: u8::from(out.res),
            k: out.k.get(),
            permutations: params.permutations.map(|p| p.count()),
            seed: params.permutations.map(|p| p.seed()),
        };
        geojson_response(&HotspotBody::new(features, HotspotMembers { summary }))
    })
    .await
}

/// The length of one period of an emerging-hotspot analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// ISO weeks, Monday to Sunday.
    Week,
    /// Calendar months.
    Month,
}

impl Period {
    fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        match raw {
            None | Some("week") => Ok(Self::Week),
            Some("month") => Ok(Self::Month),
            Some(other) => Err(invalid(
                "invalid_period",
                format!("period must be week or month, got {other:?}"),
            )),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    /// The first day of the period holding `day`: the Monday of its week, or the 1st of
    /// its month (or the earliest date there is, for a week that starts before it).
    fn start(self, day: NaiveDate) -> NaiveDate {
        match self {
            Self::Week => day
                .checked_sub_days(Days::new(day.weekday().num_days_from_monday().into()))
                .unwrap_or(NaiveDate::MIN),
            Self::Month => day.with_day(1).expect("every month has a 1st"),
        }
    }

    /// The start `n` periods after (or before, `back`) the period starting on `start`.
    fn step(self, start: NaiveDate, n: u32, back: bool) -> Option<NaiveDate> {
        match (self, back) {
            (Self::Week, false) => start.checked_add_days(Days::new(7 * u64::from(n))),
            (Self::Week, true) => start.checked_sub_days(Days::new(7 * u64::from(n))),
            (Self::Month, false) => start.checked_add_months(Months::new(n)),
            (Self::Month, true) => start.checked_sub_months(Months::new(n)),
        }
    }
}

/// The periods meeting `from..=to`, oldest first, the first and last clipped to the range;
/// at most `limit + 1` of them, so that a refusal need not list them all.
fn periods(
    period: Period,
    from: NaiveDate,
    to: NaiveDate,
    limit: usize,
) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let mut start = period.start(from);
    while start <= to && out.len() <= limit {
        let next = period.step(start, 1, false);
        let end = next.and_then(|n| n.pred_opt()).unwrap_or(NaiveDate::MAX);
        out.push((start.max(from), end.min(to)));
        match next {
            Some(n) => start = n,
            None => break,
        }
    }
    out
}

/// The query string of `/v1/analytics/hotspots/emerging`, as sent.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EmergingQuery {
    /// H3 resolution of the cells.
    #[param(required = true, value_type = u8, minimum = 5, maximum = 12)]
    res: Option<String>,
    /// First local day (default: the start of the 10 periods ending today).
    #[param(value_type = Option<String>, format = Date)]
    from: Option<String>,
    /// Last local day, inclusive (default today).
    #[param(value_type = Option<String>, format = Date)]
    to: Option<String>,
    /// `week` (ISO weeks, the default) or `month`.
    #[param(value_type = Option<String>, pattern = "^(week|month)$")]
    period: Option<String>,
    /// A category or major category code.
    #[param(value_type = Option<String>, pattern = "^[A-Za-z0-9]{2,16}$")]
    category: Option<String>,
    /// A unit code of any level.
    #[param(value_type = Option<String>, pattern = "^[0-9]{6,15}$")]
    unit: Option<String>,
    /// Case states, comma-separated.
    #[param(value_type = Option<String>)]
    status: Option<String>,
    /// Neighbourhood radius in rings (default 1).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 10)]
    k: Option<String>,
    /// Only cells with a pattern (default false).
    #[param(value_type = Option<bool>)]
    significant: Option<String>,
}

/// An emerging-hotspot request, parsed, with its periods laid out.
#[derive(Debug, Clone)]
struct EmergingParams {
    res: Resolution,
    filter: CountFilter,
    k: KRing,
    period: Period,
    /// Inclusive day ranges, oldest first.
    periods: Vec<(NaiveDate, NaiveDate)>,
    significant_only: bool,
}

impl EmergingParams {
    /// `today` is the deployment's current day: the default end of the range.
    fn parse(q: &EmergingQuery, today: NaiveDate) -> Result<Self, ApiError> {
        let res = parse_res(q.res.as_deref())?;
        let period = Period::parse(q.period.as_deref())?;
        let mut filter = count_filter!(q)?;
        let to = filter.to.unwrap_or(today);
        let from = match filter.from {
            Some(from) => from,
            None => period
                .step(period.start(to), DEFAULT_PERIODS - 1, true)
                .ok_or_else(|| {
                    invalid(
                        "invalid_date_range",
                        format!("no {DEFAULT_PERIODS} periods end at {to}"),
                    )
                })?,
        };
        if from > to {
            return Err(invalid(
                "invalid_date_range",
                format!("from {from} is after to {to}"),
            ));
        }
        (filter.from, filter.to) = (Some(from), Some(to));
        let periods = periods(period, from, to, MAX_PERIODS);
        if periods.len() < 2 {
            return Err(invalid(
                "too_few_periods",
                format!(
                    "{from} to {to} spans {} {}; a trend needs at least 2",
                    periods.len(),
                    period.as_str()
                ),
            ));
        }
        if periods.len() > MAX_PERIODS {
            return Err(invalid(
                "too_many_periods",
                format!(
                    "{from} to {to} spans more than {MAX_PERIODS} {}s",
                    period.as_str()
                ),
            ));
        }
        Ok(Self {
            res,
            filter,
            k: parse_k(q.k.as_deref())?,
            period,
            periods,
            significant_only: parse_significant(q.significant.as_deref())?,
        })
    }
}

/// An emerging-hotspot cell as the caller may see it ([`crate::domain::analytics::disclosure`]).
#[derive(Debug, Clone, Serialize)]
pub struct EmergingProperties {
    /// The H3 index, lowercase hexadecimal.
    pub cell: String,
    pub pattern: SpaceTimePattern,
    /// Mann–Kendall trend of the cell's Gi* z-scores over the periods.
    pub trend: MannKendall,
    /// The Gi* bin in each period, oldest first.
    pub bins: Vec<Significance>,
    /// Reports in each period, oldest first; `null` for the public when fewer than k.
    pub counts: Vec<Option<u64>>,
    /// Reports over all periods; `null` for the public when fewer than k.
    pub total: Option<u64>,
}

/// One period of an emerging-hotspot analysis: local days, inclusive.
#[derive(Debug, Clone, Serialize)]
pub struct PeriodBody {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The study-wide figures of an emerging-hotspot answer.
#[derive(Debug, Clone, Serialize)]
pub struct EmergingSummaryBody {
    pub cells: usize,
    pub periods: usize,
    pub period: &'static str,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub res: u8,
    pub k: u32,
    /// Cells per pattern.
    pub patterns: BTreeMap<&'static str, usize>,
}

/// The foreign members of an emerging-hotspot answer (RFC 7946 §6.1).
#[derive(Debug, Clone, Serialize)]
pub struct EmergingMembers {
    pub periods: Vec<PeriodBody>,
    pub summary: EmergingSummaryBody,
}

/// `GET /v1/analytics/hotspots/emerging`.
pub type EmergingBody = HexCollection<EmergingProperties, EmergingMembers>;

/// `GET /v1/analytics/hotspots/emerging`: Gi* per period and a Mann–Kendall trend per cell.
#[utoipa::path(get, path = "/v1/analytics/hotspots/emerging", tag = "analytics", params(EmergingQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Cells with `cell`, `pattern`, `trend`, `counts`, `bins`, `total`; foreign members `periods` and `summary`",
            body = crate::api::wire::HexagonCollection, content_type = "application/geo+json"),
        (status = 400, description = "`invalid_query`: an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_resolution`, `invalid_date`, `invalid_date_range`, `invalid_period`, `too_few_periods`, `too_many_periods`, `invalid_category`, `invalid_unit`, `invalid_status`, `invalid_k`, `invalid_significant`, `too_many_cells`, `empty_study_area`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`no_boundaries`, `analytics_busy` (with `retry_after`)", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip(state, caller))]
async fn emerging(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<EmergingQuery>,
) -> Result<Response, ApiError> {
    let viewer = viewer_of(&caller);
    let today = Utc::now()
        .with_timezone(&state.settings.timezone)
        .date_naive();
    let p = EmergingParams::parse(&q, today)?;
    let t = p.periods.len();
    let budget = Budget::emerging(p.res, p.k, t);
    let area = area_for(&state, &budget)?;
    let _slot = state.analytics_gate.admit().await?;
    let rows = analytics::day_counts(
        &state.analytics,
        state.store.as_ref(),
        &p.filter.query(p.res, Some(area.bbox)),
    )
    .await?;
    let k_anon = state.settings.tile_min_count;
    blocking(move || {
        let study = study_area(&area, &budget)?;
        let starts: Vec<NaiveDate> = p.periods.iter().map(|(s, _)| *s).collect();
        let mut counts = vec![vec![0.0; study.len()]; t];
        for row in &rows {
            let period = starts.partition_point(|s| *s <= row.day);
            let i = row.cell.parent(p.res).and_then(|c| study.position(c));
            if let (Some(period), Some(i)) = (period.checked_sub(1), i) {
                counts[period][i] += row.n.max(0) as f64;
            }
        }
        drop(rows);
        let cells =
            emerging_hotspots(&study, &counts, DEFAULT_TREND_ALPHA).map_err(hotspot_error)?;
        let shown = |n: u64| viewer.shows_count(k_anon, n).then_some(n);
        let mut patterns: BTreeMap<&'static str, usize> = BTreeMap::new();
        let mut features = Vec::new();
        for (i, cell) in cells.into_iter().enumerate() {
            *patterns.entry(cell.pattern.as_str()).or_default() += 1;
            if p.significant_only && cell.pattern == SpaceTimePattern::NoPattern {
                continue;
            }
            let series: Vec<u64> = counts.iter().map(|period| period[i] as u64).collect();
            let properties = EmergingProperties {
                cell: cell_hex(cell.cell),
                pattern: cell.pattern,
                trend: cell.trend,
                total: shown(series.iter().sum()),
                counts: series.into_iter().map(shown).collect(),
                bins: cell.bins,
            };
            features.push(HexFeature::new(cell.cell, properties));
        }
        let members = EmergingMembers {
            periods: p
                .periods
                .iter()
                .map(|&(from, to)| PeriodBody { from, to })
                .collect(),
            summary: EmergingSummaryBody {
                cells: study.len(),
                periods: t,
                period: p.period.as_str(),
                from: p.periods[0].0,
                to: p.periods[t - 1].1,
                res: u8::from(p.res),
                k: p.k.get(),
                patterns,
            },
        };
        geojson_response(&EmergingBody::new(features, members))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn weeks_run_monday_to_sunday_and_the_ends_are_clipped() {
        // 2026-03-04 is a Wednesday.
        let p = periods(Period::Week, day("2026-03-04"), day("2026-03-17"), 100);
        assert_eq!(
            p,
            vec![
                (day("2026-03-04"), day("2026-03-08")),
                (day("2026-03-09"), day("2026-03-15")),
                (day("2026-03-16"), day("2026-03-17")),
            ]
        );
    }

    #[test]
    fn months_are_calendar_months() {
        let p = periods(Period::Month, day("2026-01-31"), day("2026-03-01"), 100);
        assert_eq!(
            p,
            vec![
                (day("2026-01-31"), day("2026-01-31")),
                (day("2026-02-01"), day("2026-02-28")),
                (day("2026-03-01"), day("2026-03-01")),
            ]
        );
    }

    #[test]
    fn a_huge_range_stops_one_past_the_limit() {
        let p = periods(Period::Week, NaiveDate::MIN, NaiveDate::MAX, 5);
        assert_eq!(p.len(), 6);
    }

    #[test]
    fn ten_periods_end_today_by_default() {
        let q = EmergingQuery {
            res: Some("8".into()),
            from: None,
            to: None,
            period: Some("month".into()),
            category: None,
            unit: None,
            status: None,
            k: None,
            significant: None,
        };
        let p = EmergingParams::parse(&q, day("2026-11-28")).expect("valid");
        assert_eq!(p.periods.len(), 10);
        assert_eq!(p.periods[0], (day("2026-02-01"), day("2026-02-28")));
        assert_eq!(p.periods[9], (day("2026-11-01"), day("2026-11-28")));
    }

    #[test]
    fn a_seed_without_permutations_is_refused() {
        assert!(parse_permutations(None, Some("3")).is_err());
        assert_eq!(parse_permutations(Some("0"), None).ok(), Some(None));
        let p = parse_permutations(Some("99"), None)
            .expect("valid")
            .expect("some");
        assert_eq!((p.count(), p.seed()), (99, DEFAULT_SEED));
        assert!(parse_permutations(Some("10000"), None).is_err());
    }
}
