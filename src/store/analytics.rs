//! Reports aggregated for heat-maps (issue 4): one row per H3 cell, local day and category at
//! every served resolution (5 to 12), updated in the same transaction as each report insert.
//!
//! Exact counts (issue 10): H3 cells do not nest, so the parent of a fine cell is not always
//! the coarse cell holding the point. Each report therefore counts in
//! `latLngToCell(point, res)` at each resolution on its own ([`cells_of`]), and a count at
//! resolution r is the number of reports whose point lies in that cell, as h3, DuckDB or
//! kepler.gl bin the exported reports. Rows of every resolution share the table: the
//! resolution is part of the H3 index (bits 52–55), so the cells of one resolution are one
//! key range ([`res_range`]).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use h3o::{CellIndex, LatLng, Resolution};

use super::{NewReport, PgStore, SqliteStore, StoreError, StoreResult};
use crate::domain::spatial::units::UnitCode;
use crate::domain::workflow::case::State;
use crate::domain::workflow::categories::CategoryCode;

use crate::domain::analytics::cube::CubeRow;
pub use crate::domain::analytics::cube::{
    AGGREGATE_RESOLUTION, COARSEST_RESOLUTION, cells_of, served_resolutions,
};

/// The aggregate rows of one report (one per served resolution): its cells, day, category.
pub fn aggregate_rows_of(
    lon: f64,
    lat: f64,
    day: NaiveDate,
    category: &str,
) -> Result<Vec<AggregateRow>, h3o::error::InvalidLatLng> {
    Ok(cells_of(lon, lat)?
        .into_iter()
        .map(|cell| AggregateRow {
            cell,
            day,
            category: category.to_owned(),
            n: 1,
        })
        .collect())
}

/// The keys of every cell at `res`, as an inclusive range of the H3 index: mode 1 (cell) and
/// the resolution field fixed, base cell and digits anything (H3 index bit layout).
pub fn res_range(res: Resolution) -> (i64, i64) {
    let fixed = (1_i64 << 59) | (i64::from(u8::from(res)) << 52);
    (fixed, fixed | ((1_i64 << 52) - 1))
}

/// A bounding box in WGS-84: west, south, east, north (the order of RFC 7946 §5). Boxes
/// crossing the antimeridian are not supported (no deployment does).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    pub min_lon: f64,
    pub min_lat: f64,
    pub max_lon: f64,
    pub max_lat: f64,
}

/// Why a bounding box was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadBbox {
    /// Not four comma-separated numbers.
    #[error("bbox must be four comma-separated numbers minLon,minLat,maxLon,maxLat")]
    Shape,
    /// A coordinate is not finite or outside [-180, 180] × [-90, 90].
    #[error("bbox coordinates must be longitudes in [-180, 180] and latitudes in [-90, 90]")]
    OutOfRange,
    /// A minimum exceeds its maximum (a swapped pair, or a box across the antimeridian).
    #[error("bbox minimum exceeds maximum (expected minLon,minLat,maxLon,maxLat)")]
    Inverted,
}

impl Bbox {
    /// The whole globe.
    pub const WORLD: Bbox = Bbox {
        min_lon: -180.0,
        min_lat: -90.0,
        max_lon: 180.0,
        max_lat: 90.0,
    };

    /// Parses `minLon,minLat,maxLon,maxLat`.
    pub fn parse(s: &str) -> Result<Self, BadBbox> {
        let parts: Vec<f64> = s
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| BadBbox::Shape)?;
        let [min_lon, min_lat, max_lon, max_lat] = parts[..] else {
            return Err(BadBbox::Shape);
        };
        let lon_ok = |x: f64| x.is_finite() && (-180.0..=180.0).contains(&x);
        let lat_ok = |y: f64| y.is_finite() && (-90.0..=90.0).contains(&y);
        if !(lon_ok(min_lon) && lon_ok(max_lon) && lat_ok(min_lat) && lat_ok(max_lat)) {
            return Err(BadBbox::OutOfRange);
        }
        if min_lon > max_lon || min_lat > max_lat {
            return Err(BadBbox::Inverted);
        }
        Ok(Bbox {
            min_lon,
            min_lat,
            max_lon,
            max_lat,
        })
    }

    pub fn contains(&self, lon: f64, lat: f64) -> bool {
        (self.min_lon..=self.max_lon).contains(&lon) && (self.min_lat..=self.max_lat).contains(&lat)
    }

    /// This box grown by `km` on every side (clamped to the globe), using the local length
    /// of a degree of longitude at the box's most poleward latitude.
    pub fn grown_by_km(&self, km: f64) -> Bbox {
        const KM_PER_DEG_LAT: f64 = 111.32;
        let dlat = km / KM_PER_DEG_LAT;
        let poleward = self.min_lat.abs().max(self.max_lat.abs()) + dlat;
        // Near the poles a degree of longitude shrinks to nothing: take the whole circle.
        let cos = poleward.min(90.0).to_radians().cos();
        let dlon = if cos < 1e-3 {
            360.0
        } else {
            km / (KM_PER_DEG_LAT * cos)
        };
        Bbox {
            min_lon: (self.min_lon - dlon).max(-180.0),
            min_lat: (self.min_lat - dlat).max(-90.0),
            max_lon: (self.max_lon + dlon).min(180.0),
            max_lat: (self.max_lat + dlat).min(90.0),
        }
    }
}

/// Which reports to count, in cells of which resolution. Days are inclusive, in the
/// deployment's time zone.
///
/// Without `unit` and `states` the counts come from the aggregate `report_cells`; with
/// either, from the per-case read model `case_index` (one row per case, indexed, binned
/// here by [`cells_of`]'s rule), since the aggregate knows neither units nor states.
#[derive(Debug, Clone)]
pub struct CellCountQuery {
    /// The resolution of the cells counted in.
    pub res: Resolution,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// A category code or the code of a major category (every code it prefixes).
    pub category: Option<CategoryCode>,
    /// Rows whose cell centre (for `case_index`: whose report) lies in this box.
    pub bbox: Option<Bbox>,
    /// Only cases in this unit, at whatever level its code is (district, street,
    /// community or grid).
    pub unit: Option<UnitCode>,
    /// Only cases in one of these states (none: any state).
    pub states: Vec<State>,
}

impl CellCountQuery {
    /// Whether the query needs the per-case read model.
    fn by_case(&self) -> bool {
        self.unit.is_some() || !self.states.is_empty()
    }
}

/// Reports in one cell (at the query's resolution) and category, summed over the days asked
/// for. A cell may come in several rows; they add up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellCount {
    pub cell: CellIndex,
    pub category: String,
    pub n: i64,
}

/// Reports in one cell (at the query's resolution) on one local day, summed over the
/// categories asked for. A cell may come in several rows; they add up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    pub cell: CellIndex,
    pub day: NaiveDate,
    pub n: i64,
}

/// Which hexagons to count: the reports in the cells at `res` whose index lies below
/// `cells` (of `res` or coarser), per cell at `res`. The caller keeps the cells it asked for.
#[derive(Debug, Clone)]
pub struct HexCountQuery {
    pub res: Resolution,
    pub cells: Vec<CellIndex>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// A category code or the code of a major category (every code it prefixes).
    pub category: Option<CategoryCode>,
}

/// Aggregate rows to add in bulk: `n` reports in a cell of a served resolution, on a day, in
/// a category. A report needs one row per served resolution ([`aggregate_rows_of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateRow {
    pub cell: CellIndex,
    pub day: NaiveDate,
    pub category: String,
    pub n: i64,
}

/// Which reports to list as points: those in `bbox`, created in `[created_from,
/// created_before)`, of the category.
#[derive(Debug, Clone)]
pub struct ReportPointQuery {
    pub bbox: Bbox,
    pub created_from: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub category: Option<CategoryCode>,
    /// At most this many, in case-id order.
    pub limit: u32,
}

/// A report's public fields and location: never its description, contact or media.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ReportPoint {
    pub case_id: String,
    pub category: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub lon: f64,
    pub lat: f64,
}

#[async_trait]
pub trait AnalyticsStore: Send + Sync {
    /// Counts per cell at `q.res` and category matching `q`, in no particular order.
    async fn cell_counts(&self, q: &CellCountQuery) -> StoreResult<Vec<CellCount>>;

    /// Counts per cell at `q.res` and day matching `q`, in no particular order: the input of
    /// space-time (emerging hotspot) analyses.
    async fn day_counts(&self, q: &CellCountQuery) -> StoreResult<Vec<DayCount>>;

    /// Whether an aggregate (fine or coarse) counts fewer reports than the `reports` table
    /// holds, as in a store whose reports predate migration 0003 (or 0009), or whose
    /// aggregate migration 0015 emptied to recount it exactly. An aggregate holding more
    /// (bulk-loaded statistics without report rows, as the benchmarks load) is left alone.
    async fn report_cells_behind(&self) -> StoreResult<bool>;

    /// Rebuilds `report_cells` from `reports` in one transaction (new reports wait for it)
    /// and returns the number of reports counted. Idempotent: a second run finds the same
    /// reports and writes the same rows.
    async fn rebuild_report_cells(&self) -> StoreResult<u64>;

    /// Reports per hexagon at `q.res` below `q.cells`, read as key ranges of the aggregate
    /// (what a heat-map tile needs).
    async fn hex_counts(&self, q: &HexCountQuery) -> StoreResult<Vec<(CellIndex, i64)>>;

    /// Adds rows to the aggregate in one transaction (rows of the same key are summed), as
    /// a bulk load or a rebuild does; intake keeps it current one report at a time.
    async fn add_to_aggregate(&self, rows: &[AggregateRow]) -> StoreResult<()>;

    /// Reports as points with their public fields only.
    async fn report_points(&self, q: &ReportPointQuery) -> StoreResult<Vec<ReportPoint>>;

    /// At most `limit` cases as the report cube counts them, in case-id order after
    /// `after` (empty: from the first): the analytics service pages through them at start.
    async fn cube_rows(&self, after: &str, limit: u32) -> StoreResult<Vec<CubeRow>>;
}

/// The columns of a [`CubeRow`] in `case_index`.
const SELECT_CUBE_ROWS: &str = "select case_id, lon, lat, day, category, state,
        district, street, community, grid, updated_at
     from case_index where case_id > $1 order by case_id limit $2";

/// A `case_index` row as [`SELECT_CUBE_ROWS`] reads it.
type CubeColumns = (
    String,
    f64,
    f64,
    NaiveDate,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    DateTime<Utc>,
);

fn cube_row(
    (case_id, lon, lat, day, category, state, district, street, community, grid, updated_at): CubeColumns,
) -> StoreResult<CubeRow> {
    let state = state
        .parse::<State>()
        .map_err(|e| StoreError::Corrupt(format!("case_index.state of {case_id}: {e}")))?;
    Ok(CubeRow {
        case_id,
        lon,
        lat,
        day,
        category,
        state,
        place: [district, street, community, grid],
        updated_at,
    })
}

/// One aggregate row for a new report: its cell at one served resolution, local day and the
/// cell's centre.
pub(super) struct CellRow {
    pub cell: i64,
    pub day: NaiveDate,
    pub lon: f64,
    pub lat: f64,
}

impl CellRow {
    /// The rows of a new report, one per served resolution.
    pub(super) fn all_of(report: &NewReport) -> StoreResult<Vec<Self>> {
        Self::all(report.lon, report.lat, &report.case_day)
    }

    /// The rows of a report at `(lon, lat)` on case day `case_day` (`YYYYMMDD`).
    fn all(lon: f64, lat: f64, case_day: &str) -> StoreResult<Vec<Self>> {
        let corrupt = |what: String| StoreError::Corrupt(format!("report aggregate: {what}"));
        // The case day is the report's calendar day in the deployment's zone (`YYYYMMDD`).
        let day = NaiveDate::parse_from_str(case_day, "%Y%m%d")
            .map_err(|e| corrupt(format!("case day {case_day:?}: {e}")))?;
        Ok(cells_of(lon, lat)
            .map_err(|e| corrupt(e.to_string()))?
            .into_iter()
            .map(|cell| {
                let centre = LatLng::from(cell);
                CellRow {
                    cell: cell_to_i64(cell),
                    day,
                    lon: centre.lng(),
                    lat: centre.lat(),
                }
            })
            .collect())
    }
}

/// The day of a report's rows (they all share it).
pub(super) fn report_day(rows: &[CellRow]) -> StoreResult<NaiveDate> {
    rows.first()
        .map(|r| r.day)
        .ok_or_else(|| StoreError::Corrupt("report aggregate: a report without cells".into()))
}

/// H3 indexes keep their top bit zero (H3 index bit layout), so they fit a signed 64-bit
/// column unchanged.
fn cell_to_i64(cell: CellIndex) -> i64 {
    u64::from(cell) as i64
}

/// Adds `rows` one-report rows to the aggregate in one statement (`$1` the day, `$2` the
/// category, then cell, lon, lat per row); the same statement on both backends. The rows of
/// one report are at different resolutions, so their keys differ.
pub(super) fn upsert_report_cells_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|i| {
            format!(
                "(${}, $1, $2, ${}, ${}, 1)",
                3 * i + 3,
                3 * i + 4,
                3 * i + 5
            )
        })
        .collect();
    format!(
        "insert into report_cells (cell, day, category, lon, lat, n) values {}
         on conflict (cell, day, category) do update set n = report_cells.n + 1",
        values.join(", ")
    )
}

/// The filters of [`CellCountQuery`] as a `where` clause: absent filters are bound as their
/// widest value so that both backends share one statement. Category codes are alphanumeric
/// ([`CategoryCode::parse`]), so the prefix needs no `like` escaping.
///
/// `filtered!(cases …)` reads `case_index` instead of the aggregate, with the unit (`$8`,
/// empty for any) and the states (`$9`, `,a,b,`, empty for any) as well. The unit code is
/// compared with every level's column: codes of different levels differ in length, so at
/// most one can match.
macro_rules! filtered {
    ($select:literal, $group:literal) => {
        filtered!(@ $select, "report_cells", "and cell >= $8 and cell <= $9", $group)
    };
    (cases $select:literal, $group:literal) => {
        filtered!(@ $select, "case_index",
            "and ($8 = '' or district = $8 or street = $8 or community = $8 or grid = $8)
       and ($9 = '' or $9 like ('%,' || state || ',%'))",
            $group)
    };
    (@ $select:literal, $table:literal, $more:literal, $group:literal) => {
        concat!(
            $select,
            " from ",
            $table,
            " where day >= $1 and day <= $2 and category like $3
       and lon >= $4 and lon <= $5 and lat >= $6 and lat <= $7 ",
            $more,
            " group by ",
            $group
        )
    };
}

/// Sums the aggregate over days, per cell and category.
const SELECT_CELL_COUNTS: &str = filtered!(
    "select cell, category, cast(sum(n) as bigint) as n",
    "cell, category"
);

/// Sums the aggregate over categories, per cell and day.
const SELECT_DAY_COUNTS: &str =
    filtered!("select cell, day, cast(sum(n) as bigint) as n", "cell, day");

/// Counts cases per point and category (binned into cells by the caller).
const SELECT_CASE_CELL_COUNTS: &str =
    filtered!(cases "select lon, lat, category, count(*)", "lon, lat, category");

/// Counts cases per point and day (binned into cells by the caller).
const SELECT_CASE_DAY_COUNTS: &str =
    filtered!(cases "select lon, lat, day, count(*)", "lon, lat, day");

/// Runs one of the filtered selects with `q`'s binds, giving `(cell at q.res, $T, n)`:
/// `$sql` over the aggregate (rows of `q.res` only), or `$case_sql` over the per-case read
/// model when `q` filters by unit or state, whose points are binned here.
macro_rules! select_filtered {
    ($pool:expr, $sql:expr, $case_sql:expr, $t:ty, $q:expr) => {{
        let q: &CellCountQuery = $q;
        let bbox = q.bbox.unwrap_or(Bbox::WORLD);
        let (first, last) = day_bounds(q.from, q.to);
        macro_rules! bind_filters {
            ($query:expr) => {
                $query
                    .bind(first)
                    .bind(last)
                    .bind(category_prefix(q.category.as_ref()))
                    .bind(bbox.min_lon)
                    .bind(bbox.max_lon)
                    .bind(bbox.min_lat)
                    .bind(bbox.max_lat)
            };
        }
        if q.by_case() {
            let states = if q.states.is_empty() {
                String::new()
            } else {
                let names: Vec<&str> = q.states.iter().map(|s| s.as_str()).collect();
                format!(",{},", names.join(","))
            };
            let rows: Vec<(f64, f64, $t, i64)> = bind_filters!(sqlx::query_as($case_sql))
                .bind(q.unit.as_ref().map_or("", |u| u.as_str()).to_owned())
                .bind(states)
                .fetch_all($pool)
                .await?;
            rows.into_iter()
                .map(|(lon, lat, key, n)| {
                    let cell = LatLng::new(lat, lon)
                        .map_err(|e| StoreError::Corrupt(format!("case_index point: {e}")))?
                        .to_cell(q.res);
                    Ok((cell, key, n))
                })
                .collect::<StoreResult<Vec<_>>>()
        } else {
            let (lo, hi) = res_range(q.res);
            let rows: Vec<(i64, $t, i64)> = bind_filters!(sqlx::query_as($sql))
                .bind(lo)
                .bind(hi)
                .fetch_all($pool)
                .await?;
            rows.into_iter()
                .map(|(cell, key, n)| Ok((cell_from_i64(cell)?, key, n)))
                .collect::<StoreResult<Vec<_>>>()
        }
    }};
}

fn cell_from_i64(cell: i64) -> StoreResult<CellIndex> {
    CellIndex::try_from(cell as u64)
        .map_err(|e| StoreError::Corrupt(format!("report_cells.cell {cell}: {e}")))
}

/// The reports, and what the finest rows of each aggregate count (`$1`/`$2` the keys of
/// resolution 12, `$3`/`$4` those of resolution 8).
const SELECT_TOTALS: &str = "select (select count(*) from reports),
            (select cast(coalesce(sum(n), 0) as bigint) from report_cells
             where cell >= $1 and cell <= $2),
            (select cast(coalesce(sum(n), 0) as bigint) from report_cells_coarse
             where cell >= $3 and cell <= $4)";

/// Rows per multi-row insert while rebuilding: 6 binds a row stays below SQLite's limit of
/// 32,766 parameters.
const REBUILD_CHUNK: usize = 1000;

/// The local day of a case id `PREFIX-YYYYMMDD-NNNNNN` (the prefix may hold dashes).
fn case_day_of(case_id: &str) -> StoreResult<&str> {
    case_id
        .rsplit('-')
        .nth(1)
        .ok_or_else(|| StoreError::Corrupt(format!("case id {case_id:?} has no day")))
}

/// Aggregate rows keyed like the table's primary key (cell, day, category), with the row
/// and its count.
type Aggregate = HashMap<(i64, NaiveDate, String), (CellRow, i64)>;

/// Aggregate rows of `reports` (case id, category, point), one per served resolution and
/// report, keyed like the table's primary key.
fn aggregate(reports: Vec<(String, String, f64, f64)>) -> StoreResult<Aggregate> {
    let mut rows = Aggregate::new();
    for (case_id, category, lon, lat) in reports {
        for row in CellRow::all(lon, lat, case_day_of(&case_id)?)? {
            rows.entry((row.cell, row.day, category.clone()))
                .or_insert((row, 0))
                .1 += 1;
        }
    }
    Ok(rows)
}

/// The whole of `rebuild_report_cells`: `$lock` (a statement or `None`) first keeps new
/// reports out until the transaction ends; on SQLite the delete takes the write lock.
macro_rules! rebuild_report_cells {
    ($store:expr, $db:ty, $lock:expr) => {{
        let mut tx = $store.pool().begin().await?;
        let lock: Option<&str> = $lock;
        if let Some(lock) = lock {
            sqlx::query(lock).execute(&mut *tx).await?;
        }
        sqlx::query("delete from report_cells")
            .execute(&mut *tx)
            .await?;
        sqlx::query("delete from report_cells_coarse")
            .execute(&mut *tx)
            .await?;
        let reports: Vec<(String, String, f64, f64)> =
            sqlx::query_as("select case_id, category, lon, lat from reports")
                .fetch_all(&mut *tx)
                .await?;
        let counted = reports.len() as u64;
        let rows: Vec<_> = aggregate(reports)?.into_iter().collect();
        for chunk in rows.chunks(REBUILD_CHUNK) {
            let mut insert = sqlx::QueryBuilder::<$db>::new(
                "insert into report_cells (cell, day, category, lon, lat, n) ",
            );
            insert.push_values(chunk, |mut b, ((cell, day, category), (row, n))| {
                b.push_bind(*cell)
                    .push_bind(*day)
                    .push_bind(category.clone())
                    .push_bind(row.lon)
                    .push_bind(row.lat)
                    .push_bind(*n);
            });
            insert.build().execute(&mut *tx).await?;
        }
        let coarse = coarse_rows(
            rows.iter()
                .map(|((cell, day, category), (_, n))| (*cell, *day, category.as_str(), *n)),
        );
        upsert_coarse_rows!(tx, &coarse);
        tx.commit().await?;
        Ok(counted)
    }};
}

/// Bits 52–55 of an H3 index: its resolution.
const RES_BITS: i64 = 0xF << 52;

/// The index digits finer than `res` (3 bits each, 15 digits), all set in a cell at `res`.
fn finer_digits(res: u8) -> i64 {
    (1_i64 << (3 * (15 - i64::from(res)))) - 1
}

/// `(cell & clear) | set` is the parent at `res` of a finer cell (H3 index bit layout: set
/// the resolution field, set the digits below it to 7).
#[cfg(test)]
fn parent_masks(res: Resolution) -> (i64, i64) {
    let r = u8::from(res);
    (!RES_BITS, (i64::from(r) << 52) | finer_digits(r))
}

/// The keys at resolution `at` (12 for the aggregate, 8 for the coarse one) below `cell`,
/// as an inclusive range: digits down to `at` from all 0 to all 7, finer digits always 7.
fn descendant_range_at(cell: CellIndex, at: u8) -> (i64, i64) {
    let r = u8::from(cell.resolution());
    let at_bits = i64::from(at) << 52;
    let base = cell_to_i64(cell) & !RES_BITS;
    let lo = (base & !finer_digits(r)) | at_bits | finer_digits(at);
    let hi = base | at_bits;
    (lo, hi)
}

/// [`descendant_range_at`] the aggregate's resolution.
#[cfg(test)]
fn descendant_range(cell: CellIndex) -> (i64, i64) {
    descendant_range_at(cell, u8::from(AGGREGATE_RESOLUTION))
}

/// Most key ranges one hexagon query reads; beyond it the cells are replaced by their
/// parents (reading a few more rows than needed, all filtered out by the caller).
const MAX_RANGES: usize = 256;

/// The key ranges holding the descendants of `cells`, merged where adjacent, coarsened to
/// at most [`MAX_RANGES`]. Digits 13–15 are 7 in every key, so ranges are compared
/// without them: then the ranges of sibling cells follow each other.
#[cfg(test)]
fn key_ranges(cells: &[CellIndex]) -> Vec<(i64, i64)> {
    key_ranges_at(cells, u8::from(AGGREGATE_RESOLUTION))
}

/// [`key_ranges`] over keys at resolution `at`.
fn key_ranges_at(cells: &[CellIndex], at: u8) -> Vec<(i64, i64)> {
    let shift = 3 * (15 - u32::from(at));
    let fill = finer_digits(at);
    let mut cells: Vec<CellIndex> = cells.to_vec();
    loop {
        let mut ranges: Vec<(i64, i64)> = cells
            .iter()
            .map(|&c| {
                let (lo, hi) = descendant_range_at(c, at);
                (lo >> shift, hi >> shift)
            })
            .collect();
        ranges.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            match merged.last_mut() {
                Some(last) if lo <= last.1 + 1 => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        let coarser = cells
            .first()
            .and_then(|c| c.resolution().pred())
            .filter(|_| merged.len() > MAX_RANGES);
        match coarser {
            Some(res) => {
                cells = cells.iter().filter_map(|c| c.parent(res)).collect();
                cells.sort_unstable();
                cells.dedup();
            }
            None => {
                return merged
                    .into_iter()
                    .map(|(lo, hi)| ((lo << shift) | fill, (hi << shift) | fill))
                    .collect();
            }
        }
    }
}

/// The statement of [`AnalyticsStore::hex_counts`] for `ranges` key ranges: `$1`/`$2` the
/// parent masks, `$3`/`$4` the days, `$5` the category prefix, then the ranges. The ranges
/// are a table joined to the aggregate, so that each is one range scan of its primary key
/// (an `or` of `between`s makes SQLite scan the whole table); `coalesce` keeps SQLite from
/// reading by the day index instead, which would scan the days once per range.
fn hex_counts_sql(ranges: usize) -> String {
    ranges_sql(
        ranges,
        "report_cells",
        "coalesce(c.day, c.day) between $3 and $4 and c.category like $5",
    )
}

/// The same over the coarse aggregate: `$3`/`$4` months (`YYYY-MM`), `$5` the major
/// category (or `%`).
fn coarse_counts_sql(ranges: usize) -> String {
    ranges_sql(
        ranges,
        "report_cells_coarse",
        "c.month between $3 and $4 and c.major like $5",
    )
}

fn ranges_sql(ranges: usize, table: &str, filter: &str) -> String {
    let ranges: Vec<String> = (0..ranges)
        .map(|i| {
            format!(
                "(cast(${} as bigint), cast(${} as bigint))",
                6 + 2 * i,
                7 + 2 * i
            )
        })
        .collect();
    format!(
        "with ranges (lo, hi) as (values {})
         select (c.cell & $1) | $2 as hex, cast(sum(c.n) as bigint) as n
         from ranges r cross join {table} c
         where c.cell between r.lo and r.hi and {filter}
         group by hex",
        ranges.join(", ")
    )
}

/// Finest resolution of the coarse aggregate (it keeps resolutions 5 to 8).
pub const COARSE_RESOLUTION: Resolution = Resolution::Eight;

/// The coarse aggregate's key of an aggregate row of resolution 8 or coarser (`None` for a
/// finer one): the same cell, the month and the major category.
pub(super) fn coarse_key(
    cell: i64,
    day: NaiveDate,
    category: &str,
) -> Option<(i64, String, String)> {
    let res = ((cell & RES_BITS) >> 52) as u8;
    (res <= u8::from(COARSE_RESOLUTION)).then(|| {
        (
            cell,
            day.format("%Y-%m").to_string(),
            category.chars().take(2).collect(),
        )
    })
}

/// Adds `n` reports to one coarse row; the same statement on both backends.
pub(super) const UPSERT_COARSE_CELL: &str =
    "insert into report_cells_coarse (cell, month, major, n) values ($1, $2, $3, $4)
     on conflict (cell, month, major) do update set n = report_cells_coarse.n + excluded.n";

/// The coarse aggregate answers a hexagon query when its hexagons are no finer than
/// resolution 8, its days are whole months and its category a major one: the month and
/// category bounds to read it with.
fn coarse_bounds(q: &HexCountQuery) -> Option<(String, String, String)> {
    use chrono::Datelike;
    if q.res > COARSE_RESOLUTION || q.cells.iter().any(|c| c.resolution() > COARSE_RESOLUTION) {
        return None;
    }
    let from = match q.from {
        None => "0000-00".to_owned(),
        Some(d) if d.day() == 1 => d.format("%Y-%m").to_string(),
        Some(_) => return None,
    };
    let to = match q.to {
        None => "9999-99".to_owned(),
        Some(d) if d.succ_opt().is_some_and(|n| n.day() == 1) => d.format("%Y-%m").to_string(),
        Some(_) => return None,
    };
    let major = match &q.category {
        None => "%".to_owned(),
        Some(c) if c.as_str().len() == 2 => c.as_str().to_owned(),
        Some(_) => return None,
    };
    Some((from, to, major))
}

/// Folds aggregate rows into coarse rows.
fn coarse_rows<'a>(
    rows: impl IntoIterator<Item = (i64, NaiveDate, &'a str, i64)>,
) -> Vec<((i64, String, String), i64)> {
    let mut coarse: std::collections::BTreeMap<(i64, String, String), i64> =
        std::collections::BTreeMap::new();
    for (cell, day, category, n) in rows {
        if let Some(key) = coarse_key(cell, day, category) {
            *coarse.entry(key).or_default() += n;
        }
    }
    coarse.into_iter().collect()
}

/// Adds coarse rows in multi-row upserts inside the caller's transaction.
macro_rules! upsert_coarse_rows {
    ($conn:expr, $rows:expr) => {{
        let rows: &[((i64, String, String), i64)] = $rows;
        for chunk in rows.chunks(AGGREGATE_CHUNK) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${}, ${}, ${}, ${})", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4))
                .collect();
            let sql = format!(
                "insert into report_cells_coarse (cell, month, major, n) values {}
                 on conflict (cell, month, major) do update set n = report_cells_coarse.n + excluded.n",
                values.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for ((cell, month, major), n) in chunk {
                query = query.bind(*cell).bind(month.clone()).bind(major.clone()).bind(*n);
            }
            query.execute(&mut *$conn).await?;
        }
    }};
}

macro_rules! select_hex_counts {
    ($pool:expr, $q:expr) => {{
        let q: &HexCountQuery = $q;
        if q.cells.is_empty() {
            return Ok(Vec::new());
        }
        if q.cells
            .iter()
            .any(|c| c.resolution() > AGGREGATE_RESOLUTION)
            || q.res > AGGREGATE_RESOLUTION
        {
            return Err(StoreError::Corrupt(
                "hexagon counts are kept down to resolution 12".into(),
            ));
        }
        // The rows are at `q.res` already: the "parent" is the cell itself.
        let (clear, set) = (-1_i64, 0_i64);
        let at = u8::from(q.res);
        // Months and the major category are text on both backends; days are dates on
        // PostGIS, so each branch binds its own types.
        let (ranges, query) = match coarse_bounds(q) {
            Some((first, last, major)) => {
                let ranges = key_ranges_at(&q.cells, at);
                let query = sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(
                    coarse_counts_sql(ranges.len()),
                ))
                .bind(clear)
                .bind(set)
                .bind(first)
                .bind(last)
                .bind(major);
                (ranges, query)
            }
            None => {
                let ranges = key_ranges_at(&q.cells, at);
                let (first, last) = day_bounds(q.from, q.to);
                let query = sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(hex_counts_sql(
                    ranges.len(),
                )))
                .bind(clear)
                .bind(set)
                .bind(first)
                .bind(last)
                .bind(category_prefix(q.category.as_ref()));
                (ranges, query)
            }
        };
        let mut query = query;
        for (lo, hi) in ranges {
            query = query.bind(lo).bind(hi);
        }
        let rows = query.fetch_all($pool).await?;
        rows.into_iter()
            .map(|(hex, n)| {
                let cell = CellIndex::try_from(hex as u64)
                    .map_err(|e| StoreError::Corrupt(format!("report_cells parent {hex}: {e}")))?;
                Ok((cell, n))
            })
            .collect()
    }};
}

/// Rows per bulk statement: 6 parameters each, well under SQLite's 32,766.
const AGGREGATE_CHUNK: usize = 1000;

macro_rules! add_to_aggregate {
    ($pool:expr, $rows:expr) => {{
        let rows: &[AggregateRow] = $rows;
        // PostgreSQL refuses to upsert one key twice in a statement: sum duplicates first.
        let mut summed: std::collections::BTreeMap<(i64, NaiveDate, &str), (f64, f64, i64)> =
            std::collections::BTreeMap::new();
        for r in rows {
            if !(COARSEST_RESOLUTION..=AGGREGATE_RESOLUTION).contains(&r.cell.resolution()) {
                return Err(StoreError::Corrupt(format!(
                    "aggregate cell {} is not at a served resolution (5 to 12)",
                    r.cell
                )));
            }
            let centre = LatLng::from(r.cell);
            summed
                .entry((cell_to_i64(r.cell), r.day, r.category.as_str()))
                .or_insert((centre.lng(), centre.lat(), 0))
                .2 += r.n;
        }
        let summed: Vec<_> = summed.into_iter().collect();
        let mut tx = $pool.begin().await?;
        for chunk in summed.chunks(AGGREGATE_CHUNK) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let p = 6 * i;
                    format!(
                        "(${}, ${}, ${}, ${}, ${}, ${})",
                        p + 1,
                        p + 2,
                        p + 3,
                        p + 4,
                        p + 5,
                        p + 6
                    )
                })
                .collect();
            let sql = format!(
                "insert into report_cells (cell, day, category, lon, lat, n) values {}
                 on conflict (cell, day, category) do update set n = report_cells.n + excluded.n",
                values.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for ((cell, day, category), (lon, lat, n)) in chunk {
                query = query
                    .bind(*cell)
                    .bind(*day)
                    .bind(*category)
                    .bind(*lon)
                    .bind(*lat)
                    .bind(*n);
            }
            query.execute(&mut *tx).await?;
        }
        let coarse = coarse_rows(
            summed
                .iter()
                .map(|((cell, day, category), (_, _, n))| (*cell, *day, *category, *n)),
        );
        upsert_coarse_rows!(tx, &coarse);
        tx.commit().await?;
        Ok(())
    }};
}

/// `status` is the case's current state from the read model: `reports.status` is the
/// intake API's constant `submitted` and would show every case as new (issue 8, item 4).
const SELECT_REPORT_POINTS: &str = "select r.case_id, r.category, i.state as status,
        r.created_at, r.lon, r.lat
     from reports r join case_index i on i.case_id = r.case_id
     where r.lon >= $1 and r.lon <= $2 and r.lat >= $3 and r.lat <= $4
       and r.created_at >= $5 and r.created_at < $6 and r.category like $7
     order by r.case_id
     limit $8";

macro_rules! select_report_points {
    ($pool:expr, $q:expr) => {{
        let q: &ReportPointQuery = $q;
        // The widest instants both backends store and compare (SQLite compares text).
        let (first, last) = day_bounds(None, None);
        let first = first.and_time(chrono::NaiveTime::MIN).and_utc();
        let last = last.and_time(chrono::NaiveTime::MIN).and_utc();
        Ok(sqlx::query_as::<_, ReportPoint>(SELECT_REPORT_POINTS)
            .bind(q.bbox.min_lon)
            .bind(q.bbox.max_lon)
            .bind(q.bbox.min_lat)
            .bind(q.bbox.max_lat)
            .bind(q.created_from.unwrap_or(first))
            .bind(q.created_before.unwrap_or(last))
            .bind(category_prefix(q.category.as_ref()))
            .bind(i64::from(q.limit))
            .fetch_all($pool)
            .await?)
    }};
}

/// Absent day filters as the widest days both backends store.
fn day_bounds(from: Option<NaiveDate>, to: Option<NaiveDate>) -> (NaiveDate, NaiveDate) {
    let first = NaiveDate::from_ymd_opt(1, 1, 1).expect("valid date");
    let last = NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date");
    (from.unwrap_or(first), to.unwrap_or(last))
}

/// The `like` pattern of a category filter. Category codes are alphanumeric
/// ([`CategoryCode::parse`]), so the prefix needs no escaping.
fn category_prefix(category: Option<&CategoryCode>) -> String {
    format!("{}%", category.map_or("", |c| c.as_str()))
}

/// The trait on one backend; `$lock` as in [`rebuild_report_cells!`].
macro_rules! impl_analytics_store {
    ($store:ty, $db:ty, $lock:expr) => {
        #[async_trait]
        impl AnalyticsStore for $store {
            async fn cell_counts(&self, q: &CellCountQuery) -> StoreResult<Vec<CellCount>> {
                let rows = select_filtered!(
                    self.pool(),
                    SELECT_CELL_COUNTS,
                    SELECT_CASE_CELL_COUNTS,
                    String,
                    q
                )?;
                Ok(rows
                    .into_iter()
                    .map(|(cell, category, n)| CellCount { cell, category, n })
                    .collect())
            }

            async fn day_counts(&self, q: &CellCountQuery) -> StoreResult<Vec<DayCount>> {
                let rows = select_filtered!(
                    self.pool(),
                    SELECT_DAY_COUNTS,
                    SELECT_CASE_DAY_COUNTS,
                    NaiveDate,
                    q
                )?;
                Ok(rows
                    .into_iter()
                    .map(|(cell, day, n)| DayCount { cell, day, n })
                    .collect())
            }

            async fn report_cells_behind(&self) -> StoreResult<bool> {
                let (fine_lo, fine_hi) = res_range(AGGREGATE_RESOLUTION);
                let (coarse_lo, coarse_hi) = res_range(COARSE_RESOLUTION);
                let (reports, counted, coarse): (i64, i64, i64) = sqlx::query_as(SELECT_TOTALS)
                    .bind(fine_lo)
                    .bind(fine_hi)
                    .bind(coarse_lo)
                    .bind(coarse_hi)
                    .fetch_one(self.pool())
                    .await?;
                Ok(reports > counted || reports > coarse)
            }

            async fn rebuild_report_cells(&self) -> StoreResult<u64> {
                rebuild_report_cells!(self, $db, $lock)
            }

            async fn hex_counts(&self, q: &HexCountQuery) -> StoreResult<Vec<(CellIndex, i64)>> {
                select_hex_counts!(self.pool(), q)
            }

            async fn add_to_aggregate(&self, rows: &[AggregateRow]) -> StoreResult<()> {
                add_to_aggregate!(self.pool(), rows)
            }

            async fn report_points(&self, q: &ReportPointQuery) -> StoreResult<Vec<ReportPoint>> {
                select_report_points!(self.pool(), q)
            }

            async fn cube_rows(&self, after: &str, limit: u32) -> StoreResult<Vec<CubeRow>> {
                let rows: Vec<CubeColumns> = sqlx::query_as(SELECT_CUBE_ROWS)
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(self.pool())
                    .await?;
                rows.into_iter().map(cube_row).collect()
            }
        }
    };
}

// PostgreSQL: `share` mode conflicts with the `row exclusive` lock inserts take.
impl_analytics_store!(
    PgStore,
    sqlx::Postgres,
    Some("lock table reports in share mode")
);
impl_analytics_store!(SqliteStore, sqlx::Sqlite, None);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_of_a_case_id_is_its_middle_part() {
        assert_eq!(case_day_of("XL-20260315-000123").unwrap(), "20260315");
        assert_eq!(case_day_of("X-L-20260315-000123").unwrap(), "20260315");
        assert!(case_day_of("nonsense").is_err());
    }

    #[test]
    fn a_bbox_parses_in_rfc7946_order() {
        assert_eq!(
            Bbox::parse("121.9,41.0,122.2,41.3"),
            Ok(Bbox {
                min_lon: 121.9,
                min_lat: 41.0,
                max_lon: 122.2,
                max_lat: 41.3
            })
        );
    }

    #[test]
    fn bad_bboxes_are_refused_with_their_reason() {
        assert_eq!(Bbox::parse("1,2,3"), Err(BadBbox::Shape));
        assert_eq!(Bbox::parse("1,2,3,x"), Err(BadBbox::Shape));
        assert_eq!(Bbox::parse("1,2,3,4,5"), Err(BadBbox::Shape));
        assert_eq!(Bbox::parse("1,2,3,NaN"), Err(BadBbox::OutOfRange));
        assert_eq!(Bbox::parse("41,121,41.3,122"), Err(BadBbox::OutOfRange));
        assert_eq!(Bbox::parse("122.2,41.0,121.9,41.3"), Err(BadBbox::Inverted));
    }

    fn cell_at(lon: f64, lat: f64, res: Resolution) -> CellIndex {
        LatLng::new(lat, lon).expect("valid").to_cell(res)
    }

    #[test]
    fn the_parent_masks_give_h3_parents() {
        let fine = cell_at(122.07, 41.12, AGGREGATE_RESOLUTION);
        for r in 0..=12u8 {
            let res = Resolution::try_from(r).expect("resolution");
            let (clear, set) = parent_masks(res);
            let parent = (cell_to_i64(fine) & clear) | set;
            assert_eq!(
                parent as u64,
                u64::from(fine.parent(res).expect("parent")),
                "r{r}"
            );
        }
    }

    #[test]
    fn descendant_ranges_hold_exactly_the_descendants() {
        let fine = cell_at(122.07, 41.12, AGGREGATE_RESOLUTION);
        let parent = fine.parent(Resolution::Ten).expect("parent");
        let (lo, hi) = descendant_range(parent);
        let children: Vec<i64> = parent
            .children(AGGREGATE_RESOLUTION)
            .map(cell_to_i64)
            .collect();
        assert_eq!(children.len(), 49);
        assert!(children.iter().all(|c| (lo..=hi).contains(c)));
        assert_eq!(children.iter().min(), Some(&lo));
        // Its neighbours' descendants lie outside the range.
        for n in parent.grid_disk::<Vec<_>>(1) {
            if n != parent {
                assert!(
                    n.children(AGGREGATE_RESOLUTION)
                        .map(cell_to_i64)
                        .all(|c| !(lo..=hi).contains(&c))
                );
            }
        }
    }

    #[test]
    fn the_ranges_of_all_siblings_merge_into_one() {
        let parent = cell_at(122.07, 41.12, Resolution::Nine);
        let children: Vec<CellIndex> = parent.children(Resolution::Ten).collect();
        let ranges = key_ranges(&children);
        assert_eq!(ranges.len(), 1, "{ranges:?}");
        let (lo, hi) = ranges[0];
        assert!(
            parent
                .children(AGGREGATE_RESOLUTION)
                .map(cell_to_i64)
                .all(|c| (lo..=hi).contains(&c))
        );
        // Many scattered cells are coarsened to at most MAX_RANGES ranges.
        let many: Vec<CellIndex> = cell_at(122.07, 41.12, Resolution::Twelve)
            .grid_disk::<Vec<_>>(30)
            .into_iter()
            .step_by(2)
            .collect();
        let coarse = key_ranges(&many);
        assert!(coarse.len() <= MAX_RANGES, "{}", coarse.len());
        for c in many {
            let k = cell_to_i64(c);
            assert!(coarse.iter().any(|(lo, hi)| (*lo..=*hi).contains(&k)));
        }
    }

    #[test]
    fn a_grown_bbox_gains_the_distance_on_each_side() {
        let b = Bbox::parse("0,0,1,1").expect("bbox").grown_by_km(111.32);
        assert!((b.min_lat + 1.0).abs() < 1e-9 && (b.max_lat - 2.0).abs() < 1e-9);
        // At 2° latitude a degree of longitude is cos(2°) of a degree of latitude.
        let dlon = 1.0 / 2f64.to_radians().cos();
        assert!((b.min_lon + dlon).abs() < 1e-9, "{b:?}");
    }
}
