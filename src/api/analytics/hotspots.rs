//! Hotspots (issue 4). `GET /v1/analytics/hotspots` runs Getis-Ord Gi* with FDR correction
//! over the deployment area; `GET /v1/analytics/hotspots/emerging` runs Gi* per week or
//! month and a Mann–Kendall trend test per cell, and names each cell's space-time pattern.
//! Both answer GeoJSON FeatureCollections of H3 hexagons with a `summary` foreign member
//! (RFC 7946 §6.1).
//!
//! The study area is every cell at the requested resolution whose centre lies inside the
//! deployment area (the outlines of the jurisdiction's top level, the districts), zero-count
//! cells included. Counts are the H3 parents of the resolution-12 aggregate. Nothing is
//! cached yet: each request tiles the area and reads the aggregate afresh.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Datelike, Days, Months, NaiveDate, Utc};
use geo::{BoundingRect, ChamberlainDuquetteArea, MultiPolygon};
use h3o::Resolution;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{CountFilter, RawFilter, hex_feature, invalid, parse_res};
use crate::api::{ApiError, ApiQuery, AppState};
use crate::domain::hotspots::{
    DEFAULT_TREND_ALPHA, HotspotError, HotspotReport, KRing, Permutations, StudyArea, analyse,
    emerging_hotspots,
};
use crate::store::analytics::Bbox;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/analytics/hotspots", get(hotspots))
        .route("/v1/analytics/hotspots/emerging", get(emerging))
}

/// Largest study area analysed: at resolution 10 the demo district (兴隆台区) holds about
/// 80,000 cells, at 11 about 560,000 (too many: ask for a coarser resolution).
pub const MAX_CELLS: u64 = 200_000;

/// Largest cells × permutations: the permutation test costs a k-ring sum per cell and
/// permutation (999 permutations over 20,000 cells is about 0.1 s on one core).
pub const MAX_CELL_PERMUTATIONS: u64 = 20_000_000;

/// Largest cells × periods of an emerging-hotspot analysis (one Gi* pass per period).
pub const MAX_CELL_PERIODS: u64 = 10_000_000;

/// Most periods an emerging-hotspot analysis spans: five years of weeks.
pub const MAX_PERIODS: usize = 260;

/// Periods analysed when `from` is not given: ten, as ESRI recommends for the trend test.
const DEFAULT_PERIODS: u32 = 10;

/// Seed of the permutation test when none is given, so that answers are reproducible.
pub const DEFAULT_SEED: u64 = 0;

/// The query string of `/v1/analytics/hotspots`, as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HotspotQuery {
    res: Option<String>,
    from: Option<String>,
    to: Option<String>,
    category: Option<String>,
    unit: Option<String>,
    status: Option<String>,
    k: Option<String>,
    permutations: Option<String>,
    seed: Option<String>,
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

fn too_many_cells(cells: u64, res: Resolution, factor: u64, max_work: u64) -> ApiError {
    invalid(
        "too_many_cells",
        format!(
            "the deployment area holds about {cells} cells at resolution {res}; an analysis \
             takes at most {MAX_CELLS} cells and {max_work} cells × {} \
             (here {factor}): ask for a coarser resolution{}",
            if max_work == MAX_CELL_PERIODS {
                "periods"
            } else {
                "permutations"
            },
            if max_work == MAX_CELL_PERIODS {
                " or fewer periods"
            } else {
                " or fewer permutations"
            }
        ),
    )
}

/// Refuses an analysis of `cells` cells whose work is `cells × factor` beyond the caps.
fn check_size(cells: u64, res: Resolution, factor: u64, max_work: u64) -> Result<(), ApiError> {
    if cells > MAX_CELLS || cells.saturating_mul(factor) > max_work {
        return Err(too_many_cells(cells, res, factor, max_work));
    }
    Ok(())
}

/// What an analysis reads: the area, and the box of aggregate rows whose parents at `res`
/// may lie in it.
struct Area {
    outline: MultiPolygon<f64>,
    bbox: Bbox,
}

/// The deployment area, refused early when even an estimate of its cells at `res` (its
/// area on the sphere over H3's mean cell area) is far beyond the caps, before tiling it.
fn area_for(
    state: &AppState,
    res: Resolution,
    factor: u64,
    max_work: u64,
) -> Result<Area, ApiError> {
    let outline = deployment_area(state)?;
    let estimate =
        (outline.chamberlain_duquette_unsigned_area() / 1e6 / res.area_km2()).ceil() as u64;
    // Cell areas vary by about a factor of two over the globe: refuse only the clear cases
    // here; the exact count is checked once the area is tiled.
    if estimate / 2 > MAX_CELLS || (estimate / 2).saturating_mul(factor) > max_work {
        return Err(too_many_cells(estimate, res, factor, max_work));
    }
    let rect = outline
        .bounding_rect()
        .ok_or_else(|| ApiError::Internal("the deployment area has no outline".into()))?;
    // Resolution-12 children of a cell whose centre is inside lie within about two edge
    // lengths of that centre (as for heat-maps with a bbox).
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

/// The study area of `area` at `res`, within the caps.
fn study_area(
    area: &Area,
    res: Resolution,
    k: KRing,
    factor: u64,
    max_work: u64,
) -> Result<StudyArea, ApiError> {
    let study = StudyArea::from_area(&area.outline, res, k).map_err(hotspot_error)?;
    check_size(study.len() as u64, res, factor, max_work)?;
    Ok(study)
}

/// Runs CPU-bound statistics off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("hotspot computation: {e}")))?
}

/// Gi* with FDR over the deployment area at `p.res`, and the summary.
pub(crate) async fn compute_hotspots(
    state: &AppState,
    p: &HotspotParams,
) -> Result<HotspotOutput, ApiError> {
    let factor = p.permutations.map_or(1, |x| u64::from(x.count()));
    let area = area_for(state, p.res, factor, MAX_CELL_PERMUTATIONS)?;
    let rows = state
        .store
        .cell_counts(&p.filter.query(Some(area.bbox)))
        .await?;
    let (res, k, permutations) = (p.res, p.k, p.permutations);
    let report = blocking(move || {
        let study = study_area(&area, res, k, factor, MAX_CELL_PERMUTATIONS)?;
        let counts = study.counts(
            rows.iter()
                .filter_map(|r| Some((r.cell.parent(res)?, r.n.max(0) as u64))),
        );
        analyse(&study, &counts, permutations).map_err(hotspot_error)
    })
    .await?;
    Ok(HotspotOutput { res, k, report })
}

fn geojson(fc: Value) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/geo+json")], Json(fc))
}

fn to_json(value: &impl serde::Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::Internal(e.to_string()))
}

#[tracing::instrument(skip(state))]
async fn hotspots(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<HotspotQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let (params, significant_only) = HotspotParams::parse(&q)?;
    let out = compute_hotspots(&state, &params).await?;
    let features = out
        .report
        .cells
        .iter()
        .filter(|c| !significant_only || c.significance.get() != 0)
        .map(|c| {
            let mut properties = to_json(c)?;
            // Counts are whole numbers of reports.
            properties["count"] = json!(c.count as i64);
            Ok(hex_feature(c.cell, properties))
        })
        .collect::<Result<Vec<Value>, ApiError>>()?;
    let s = &out.report.summary;
    let summary = json!({
        "cells": s.cells,
        "hot": s.hot,
        "cold": s.cold,
        "moran_i": s.moran.map(|m| m.i),
        "moran_z": s.moran.map(|m| m.z),
        "moran_p": s.moran.map(|m| m.p),
        "res": u8::from(out.res),
        "k": out.k.get(),
        "permutations": params.permutations.map(|p| p.count()),
        "seed": params.permutations.map(|p| p.seed()),
    });
    Ok(geojson(json!({
        "type": "FeatureCollection",
        "features": features,
        "summary": summary,
    })))
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmergingQuery {
    res: Option<String>,
    from: Option<String>,
    to: Option<String>,
    period: Option<String>,
    category: Option<String>,
    unit: Option<String>,
    status: Option<String>,
    k: Option<String>,
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

#[tracing::instrument(skip(state))]
async fn emerging(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<EmergingQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let today = Utc::now()
        .with_timezone(&state.settings.timezone)
        .date_naive();
    let p = EmergingParams::parse(&q, today)?;
    let t = p.periods.len();
    let area = area_for(&state, p.res, t as u64, MAX_CELL_PERIODS)?;
    let rows = state
        .store
        .day_counts(&p.filter.query(Some(area.bbox)))
        .await?;
    let starts: Vec<NaiveDate> = p.periods.iter().map(|(s, _)| *s).collect();
    let (res, k) = (p.res, p.k);
    let (study, counts, cells) = blocking(move || {
        let study = study_area(&area, res, k, t as u64, MAX_CELL_PERIODS)?;
        let mut counts = vec![vec![0.0; study.len()]; t];
        for row in &rows {
            let period = starts.partition_point(|s| *s <= row.day);
            let i = row.cell.parent(res).and_then(|c| study.position(c));
            if let (Some(period), Some(i)) = (period.checked_sub(1), i) {
                counts[period][i] += row.n.max(0) as f64;
            }
        }
        let cells =
            emerging_hotspots(&study, &counts, DEFAULT_TREND_ALPHA).map_err(hotspot_error)?;
        Ok((study, counts, cells))
    })
    .await?;

    let mut patterns: BTreeMap<&str, usize> = BTreeMap::new();
    let mut features = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        *patterns.entry(cell.pattern.as_str()).or_default() += 1;
        if p.significant_only && cell.pattern.as_str() == "no_pattern" {
            continue;
        }
        let series: Vec<i64> = counts.iter().map(|period| period[i] as i64).collect();
        let mut properties = to_json(cell)?;
        properties["total"] = json!(series.iter().sum::<i64>());
        properties["counts"] = json!(series);
        features.push(hex_feature(cell.cell, properties));
    }
    let periods: Vec<Value> = p
        .periods
        .iter()
        .map(|(from, to)| json!({"from": from, "to": to}))
        .collect();
    Ok(geojson(json!({
        "type": "FeatureCollection",
        "features": features,
        "periods": periods,
        "summary": {
            "cells": study.len(),
            "periods": t,
            "period": p.period.as_str(),
            "from": p.periods[0].0,
            "to": p.periods[t - 1].1,
            "res": u8::from(res),
            "k": k.get(),
            "patterns": patterns,
        },
    })))
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
