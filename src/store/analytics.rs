//! Reports aggregated for heat-maps (issue 4): one row per H3 cell at resolution 12, local
//! day and category, updated in the same transaction as each report insert. Coarser
//! resolutions are H3 parents of these cells, so a heat-map over millions of reports reads
//! thousands of rows.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::NaiveDate;
use h3o::{CellIndex, LatLng, Resolution};

use super::{NewReport, PgStore, SqliteStore, StoreError, StoreResult};
use crate::domain::case::State;
use crate::domain::categories::CategoryCode;
use crate::domain::units::UnitCode;

/// The resolution the aggregate is kept at: about 307 m² per cell (H3 resolution table), fine
/// enough for street-level heat-maps; coarser cells are parents.
pub const AGGREGATE_RESOLUTION: Resolution = Resolution::Twelve;

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

/// Which reports to count. Days are inclusive, in the deployment's time zone.
///
/// Without `unit` and `states` the counts come from the aggregate `report_cells`; with
/// either, from the per-case read model `case_index` (one row per case, indexed), since
/// the aggregate knows neither units nor states.
#[derive(Debug, Clone, Default)]
pub struct CellCountQuery {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// A category code or the code of a major category (every code it prefixes).
    pub category: Option<CategoryCode>,
    /// Rows whose resolution-12 cell centre (for `case_index`: whose report) lies in this
    /// box.
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

/// Reports in one resolution-12 cell and category, summed over the days asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellCount {
    pub cell: CellIndex,
    pub category: String,
    pub n: i64,
}

/// Reports in one resolution-12 cell on one local day, summed over the categories asked
/// for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    pub cell: CellIndex,
    pub day: NaiveDate,
    pub n: i64,
}

/// Reads of the report aggregate, and its repair, on both backends.
#[async_trait]
pub trait AnalyticsStore: Send + Sync {
    /// Counts per resolution-12 cell and category matching `q`, in no particular order.
    async fn cell_counts(&self, q: &CellCountQuery) -> StoreResult<Vec<CellCount>>;

    /// Counts per resolution-12 cell and day matching `q`, in no particular order: the
    /// input of space-time (emerging hotspot) analyses.
    async fn day_counts(&self, q: &CellCountQuery) -> StoreResult<Vec<DayCount>>;

    /// Whether the aggregate counts fewer (or more) reports than the `reports` table holds,
    /// as in a store whose reports predate migration 0003.
    async fn report_cells_behind(&self) -> StoreResult<bool>;

    /// Rebuilds `report_cells` from `reports` in one transaction (new reports wait for it)
    /// and returns the number of reports counted. Idempotent: a second run finds the same
    /// reports and writes the same rows.
    async fn rebuild_report_cells(&self) -> StoreResult<u64>;
}

/// One aggregate row for a new report: its resolution-12 cell, local day and the cell's
/// centre.
pub(super) struct CellRow {
    pub cell: i64,
    pub day: NaiveDate,
    pub lon: f64,
    pub lat: f64,
}

impl CellRow {
    pub(super) fn of(report: &NewReport) -> StoreResult<Self> {
        Self::new(report.h3_r15, &report.case_day)
    }

    /// The row of a report with resolution-15 cell `h3_r15` on case day `case_day`
    /// (`YYYYMMDD`).
    fn new(h3_r15: u64, case_day: &str) -> StoreResult<Self> {
        let corrupt = |what: String| StoreError::Corrupt(format!("report aggregate: {what}"));
        let cell = CellIndex::try_from(h3_r15)
            .map_err(|e| corrupt(e.to_string()))?
            .parent(AGGREGATE_RESOLUTION)
            .ok_or_else(|| corrupt("H3 cell is coarser than resolution 12".into()))?;
        // The case day is the report's calendar day in the deployment's zone (`YYYYMMDD`).
        let day = NaiveDate::parse_from_str(case_day, "%Y%m%d")
            .map_err(|e| corrupt(format!("case day {case_day:?}: {e}")))?;
        let centre = LatLng::from(cell);
        Ok(CellRow {
            cell: cell_to_i64(cell),
            day,
            lon: centre.lng(),
            lat: centre.lat(),
        })
    }
}

/// H3 indexes keep their top bit zero (H3 index bit layout), so they fit a signed 64-bit
/// column unchanged.
fn cell_to_i64(cell: CellIndex) -> i64 {
    u64::from(cell) as i64
}

/// Adds one report to the aggregate; the same statement on both backends.
pub(super) const UPSERT_REPORT_CELL: &str =
    "insert into report_cells (cell, day, category, lon, lat, n) values ($1, $2, $3, $4, $5, 1)
     on conflict (cell, day, category) do update set n = report_cells.n + 1";

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
        filtered!(@ $select, "report_cells", "", $group)
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

/// Counts cases per cell and category.
const SELECT_CASE_CELL_COUNTS: &str =
    filtered!(cases "select h3_r12, category, count(*)", "h3_r12, category");

/// Counts cases per cell and day.
const SELECT_CASE_DAY_COUNTS: &str = filtered!(cases "select h3_r12, day, count(*)", "h3_r12, day");

/// Runs one of the filtered selects with `q`'s binds, rows of `(i64 cell, $T, i64 n)`:
/// `$sql` over the aggregate, or `$case_sql` over the per-case read model when `q` filters
/// by unit or state.
macro_rules! select_filtered {
    ($pool:expr, $sql:expr, $case_sql:expr, $t:ty, $q:expr) => {{
        let q: &CellCountQuery = $q;
        let bbox = q.bbox.unwrap_or(Bbox::WORLD);
        let first = NaiveDate::from_ymd_opt(1, 1, 1).expect("valid date");
        let last = NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date");
        let mut query = sqlx::query_as(if q.by_case() { $case_sql } else { $sql })
            .bind(q.from.unwrap_or(first))
            .bind(q.to.unwrap_or(last))
            .bind(format!(
                "{}%",
                q.category.as_ref().map_or("", |c| c.as_str())
            ))
            .bind(bbox.min_lon)
            .bind(bbox.max_lon)
            .bind(bbox.min_lat)
            .bind(bbox.max_lat);
        if q.by_case() {
            let states = if q.states.is_empty() {
                String::new()
            } else {
                let names: Vec<&str> = q.states.iter().map(|s| s.as_str()).collect();
                format!(",{},", names.join(","))
            };
            query = query
                .bind(q.unit.as_ref().map_or("", |u| u.as_str()).to_owned())
                .bind(states);
        }
        let rows: Vec<(i64, $t, i64)> = query.fetch_all($pool).await?;
        rows.into_iter()
            .map(|(cell, key, n)| Ok((cell_from_i64(cell)?, key, n)))
            .collect::<StoreResult<Vec<_>>>()
    }};
}

fn cell_from_i64(cell: i64) -> StoreResult<CellIndex> {
    CellIndex::try_from(cell as u64)
        .map_err(|e| StoreError::Corrupt(format!("report_cells.cell {cell}: {e}")))
}

/// The counts are compared in SQL, so the check reads two numbers.
const SELECT_TOTALS: &str = "select (select count(*) from reports),
            (select cast(coalesce(sum(n), 0) as bigint) from report_cells)";

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

/// Aggregate rows of `reports` (case id, category, resolution-15 cell), keyed like the
/// table's primary key.
fn aggregate(reports: Vec<(String, String, i64)>) -> StoreResult<Aggregate> {
    let mut rows = Aggregate::new();
    for (case_id, category, h3_r15) in reports {
        let row = CellRow::new(h3_r15 as u64, case_day_of(&case_id)?)?;
        rows.entry((row.cell, row.day, category))
            .or_insert((row, 0))
            .1 += 1;
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
        let reports: Vec<(String, String, i64)> =
            sqlx::query_as("select case_id, category, h3_r15 from reports")
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
        tx.commit().await?;
        Ok(counted)
    }};
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
                let (reports, counted): (i64, i64) =
                    sqlx::query_as(SELECT_TOTALS).fetch_one(self.pool()).await?;
                Ok(reports != counted)
            }

            async fn rebuild_report_cells(&self) -> StoreResult<u64> {
                rebuild_report_cells!(self, $db, $lock)
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

    #[test]
    fn a_grown_bbox_gains_the_distance_on_each_side() {
        let b = Bbox::parse("0,0,1,1").expect("bbox").grown_by_km(111.32);
        assert!((b.min_lat + 1.0).abs() < 1e-9 && (b.max_lat - 2.0).abs() < 1e-9);
        // At 2° latitude a degree of longitude is cos(2°) of a degree of latitude.
        let dlon = 1.0 / 2f64.to_radians().cos();
        assert!((b.min_lon + dlon).abs() < 1e-9, "{b:?}");
    }
}
