//! Reports aggregated for heat-maps (issue 4): one row per H3 cell at resolution 12, local
//! day and category, updated in the same transaction as each report insert. Coarser
//! resolutions are H3 parents of these cells, so a heat-map over millions of reports reads
//! thousands of rows.

use async_trait::async_trait;
use chrono::NaiveDate;
use h3o::{CellIndex, LatLng, Resolution};

use super::{NewReport, PgStore, SqliteStore, StoreError, StoreResult};
use crate::domain::categories::CategoryCode;

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

/// Which aggregate rows to read. Days are inclusive, in the deployment's time zone.
#[derive(Debug, Clone)]
pub struct CellCountQuery {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// A category code or the code of a major category (every code it prefixes).
    pub category: Option<CategoryCode>,
    /// Rows whose resolution-12 cell centre lies in this box.
    pub bbox: Option<Bbox>,
}

/// Reports in one resolution-12 cell and category, summed over the days asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellCount {
    pub cell: CellIndex,
    pub category: String,
    pub n: i64,
}

/// Reads of the report aggregate, on both backends.
#[async_trait]
pub trait AnalyticsStore: Send + Sync {
    /// Counts per resolution-12 cell and category matching `q`, in no particular order.
    async fn cell_counts(&self, q: &CellCountQuery) -> StoreResult<Vec<CellCount>>;
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
        let corrupt = |what: String| StoreError::Corrupt(format!("report aggregate: {what}"));
        let cell = CellIndex::try_from(report.h3_r15)
            .map_err(|e| corrupt(e.to_string()))?
            .parent(AGGREGATE_RESOLUTION)
            .ok_or_else(|| corrupt("H3 cell is coarser than resolution 12".into()))?;
        // The case day is the report's calendar day in the deployment's zone (`YYYYMMDD`).
        let day = NaiveDate::parse_from_str(&report.case_day, "%Y%m%d")
            .map_err(|e| corrupt(format!("case day {:?}: {e}", report.case_day)))?;
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

/// Sums the aggregate over days; absent filters are bound as their widest value so that
/// both backends share one statement. Category codes are alphanumeric
/// ([`CategoryCode::parse`]), so the prefix needs no `like` escaping.
const SELECT_CELL_COUNTS: &str = "select cell, category, cast(sum(n) as bigint) as n
     from report_cells
     where day >= $1 and day <= $2 and category like $3
       and lon >= $4 and lon <= $5 and lat >= $6 and lat <= $7
     group by cell, category";

macro_rules! select_cell_counts {
    ($pool:expr, $q:expr) => {{
        let q: &CellCountQuery = $q;
        let bbox = q.bbox.unwrap_or(Bbox::WORLD);
        let first = NaiveDate::from_ymd_opt(1, 1, 1).expect("valid date");
        let last = NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date");
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(SELECT_CELL_COUNTS)
            .bind(q.from.unwrap_or(first))
            .bind(q.to.unwrap_or(last))
            .bind(format!(
                "{}%",
                q.category.as_ref().map_or("", |c| c.as_str())
            ))
            .bind(bbox.min_lon)
            .bind(bbox.max_lon)
            .bind(bbox.min_lat)
            .bind(bbox.max_lat)
            .fetch_all($pool)
            .await?;
        rows.into_iter()
            .map(|(cell, category, n)| {
                let cell = CellIndex::try_from(cell as u64)
                    .map_err(|e| StoreError::Corrupt(format!("report_cells.cell {cell}: {e}")))?;
                Ok(CellCount { cell, category, n })
            })
            .collect()
    }};
}

#[async_trait]
impl AnalyticsStore for PgStore {
    async fn cell_counts(&self, q: &CellCountQuery) -> StoreResult<Vec<CellCount>> {
        select_cell_counts!(self.pool(), q)
    }
}

#[async_trait]
impl AnalyticsStore for SqliteStore {
    async fn cell_counts(&self, q: &CellCountQuery) -> StoreResult<Vec<CellCount>> {
        select_cell_counts!(self.pool(), q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
