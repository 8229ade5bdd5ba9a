//! The store: PostGIS (the system of record in production) or an embedded SQLite file (the
//! default, so `cargo run` works on a fresh machine). Both implement [`Store`] and pass the
//! same conformance suite; neither is a mock.

pub mod analytics;
mod api_keys;
mod auth;
mod cases;
mod categories;
mod demo;
mod follow_up;
mod plan;
mod postgres;
mod registrations;
mod rewards;
pub mod signals;
mod sqlite;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use geo::MultiPolygon;
use serde::{Deserialize, Serialize};
use sqlx::types::Json;

use crate::domain::spatial::units::{Unit, UnitCode, UnitLevel};
use crate::domain::workflow::case::Event;
use crate::domain::workflow::categories::Category;

pub use api_keys::{ApiKey, ApiKeyStore};
pub use auth::{AuthStore, Created, NewPrincipal, Principal};
pub use cases::{
    Appended, CaseQuery, CaseScope, CaseStore, CaseSummary, IndexedCase, MergedCase, StoredEvent,
};
pub use categories::CategoryStore;
pub use demo::DemoStore;
pub use follow_up::FollowUpStore;
pub use plan::{PlanRevision, PlanStore};
pub use postgres::PgStore;
pub use registrations::{Registration, RegistrationStore};
pub use rewards::{Earning, LedgerRow, RewardStore};
pub use sqlite::SqliteStore;

/// Failures of the store. None of them carries user input back to a client: the API logs
/// them and answers 500.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed a query.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Schema migration failed at start-up.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored row does not decode into the domain (corrupt or foreign data).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The group commit of the batch a write was queued in failed as a whole (embedded
    /// store: `begin` or `commit` failed), so it was not stored.
    #[error("group commit failed: {0}")]
    GroupCommit(String),
    /// The data directory could not be created.
    #[error("data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A report's contact details: personal data, shown only to roles that need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// At most 100 characters.
    #[serde(default)]
    pub name: Option<String>,
    /// 5 to 20 digits, optionally with `+ - ( )` and spaces.
    #[serde(default)]
    pub phone: Option<String>,
}

/// One resolved level as recorded on a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainEntry {
    pub level: UnitLevel,
    pub code: String,
    pub name: String,
}

/// A media file stored with a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct MediaRow {
    pub seq: i32,
    pub kind: String,
    pub media_type: String,
    pub bytes: i64,
    pub sha256: String,
    pub storage_key: String,
    pub exif_lon: Option<f64>,
    pub exif_lat: Option<f64>,
    pub exif_taken_at: Option<String>,
}

/// A report ready to be stored: validated, resolved, its media already in media storage.
#[derive(Debug, Clone)]
pub struct NewReport {
    pub created_at: DateTime<Utc>,
    /// Case id prefix of the deployment (`XL` in `XL-20260315-000123`).
    pub case_prefix: String,
    /// The calendar day of the case id, in the deployment's time zone (`20260315`).
    pub case_day: String,
    pub description: String,
    pub category: String,
    pub lon: f64,
    pub lat: f64,
    pub h3_r15: u64,
    pub input_datum: String,
    pub input_lon: f64,
    pub input_lat: f64,
    pub accuracy_m: Option<f64>,
    pub address: Option<String>,
    pub contact: Option<Contact>,
    pub chain: Vec<ChainEntry>,
    pub snapped_m: Option<f64>,
    pub near_boundary: Option<serde_json::Value>,
    pub media: Vec<MediaRow>,
    /// The case's first events (`submit`, and `dispatch` when auto-dispatch found a
    /// target), stored in the same transaction as the report so that no acknowledged
    /// report is ever without its case.
    pub events: Vec<Event>,
    /// What `events` fold to, for the case's row of the read model.
    pub summary: CaseSummary,
    /// The SHA-256 of the reporter's follow-up secret, stored with the report.
    pub follow_up_sha256: String,
}

impl NewReport {
    /// The report as the analytics cube counts it once stored under `case_id`; `None` when
    /// its case day or state does not parse (the store would refuse it too).
    pub fn cube_row(&self, case_id: &str) -> Option<crate::domain::analytics::cube::CubeRow> {
        let place = [
            UnitLevel::District,
            UnitLevel::Street,
            UnitLevel::Community,
            UnitLevel::Grid,
        ]
        .map(|level| self.code_at(level).map(str::to_owned));
        Some(crate::domain::analytics::cube::CubeRow {
            case_id: case_id.to_owned(),
            lon: self.lon,
            lat: self.lat,
            day: chrono::NaiveDate::parse_from_str(&self.case_day, "%Y%m%d").ok()?,
            category: self.category.clone(),
            state: self.summary.state.parse().ok()?,
            place,
            updated_at: self.summary.updated_at,
        })
    }

    fn code_at(&self, level: UnitLevel) -> Option<&str> {
        self.chain
            .iter()
            .find(|c| c.level == level)
            .map(|c| c.code.as_str())
    }

    /// The report as it reads back once stored under `case_id`, without reading it back.
    pub fn stored(self, case_id: String) -> StoredReport {
        let units = Json(self.units_json());
        let (contact_name, contact_phone) =
            self.contact.map_or((None, None), |c| (c.name, c.phone));
        StoredReport {
            case_id,
            created_at: self.created_at,
            status: "submitted".into(),
            description: self.description,
            category: self.category,
            lon: self.lon,
            lat: self.lat,
            h3_r15: self.h3_r15 as i64,
            input_datum: self.input_datum,
            accuracy_m: self.accuracy_m,
            address: self.address,
            contact_name,
            contact_phone,
            units,
            snapped_m: self.snapped_m,
            near_boundary: self.near_boundary.map(Json),
            media: self.media,
        }
    }

    /// The chain as stored: `{level: {code, name}}`.
    fn units_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.chain
                .iter()
                .map(|c| {
                    (
                        c.level.to_string(),
                        serde_json::json!({"code": c.code, "name": c.name}),
                    )
                })
                .collect(),
        )
    }
}

/// A stored report as read back.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StoredReport {
    pub case_id: String,
    pub created_at: DateTime<Utc>,
    pub status: String,
    pub description: String,
    pub category: String,
    pub lon: f64,
    pub lat: f64,
    pub h3_r15: i64,
    pub input_datum: String,
    pub accuracy_m: Option<f64>,
    pub address: Option<String>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub units: Json<serde_json::Value>,
    pub snapped_m: Option<f64>,
    pub near_boundary: Option<Json<serde_json::Value>>,
    #[sqlx(skip)]
    pub media: Vec<MediaRow>,
}

/// The columns of [`StoredReport`], shared by both backends.
const REPORT_COLUMNS: &str = "case_id, created_at, status, description, category, lon, lat, h3_r15, \
     input_datum, accuracy_m, address, contact_name, contact_phone, units, snapped_m, near_boundary";

/// An `Idempotency-Key`, the caller it belongs to, and a hash of the request it came with.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    /// Whose key it is: the same key sent by another caller is an unrelated key (issue 8,
    /// item 2), as in the IETF `Idempotency-Key` draft and Stripe's API.
    pub scope: String,
    pub key: String,
    pub request_hash: String,
}

/// What happened to a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// A new case with this id.
    Created(String),
    /// The idempotency key was seen with the same request: the original case.
    Replayed(String),
    /// The idempotency key was seen with a different request.
    KeyReused,
}

/// What the service needs from a database.
#[async_trait]
pub trait Store:
    CaseStore
    + AuthStore
    + ApiKeyStore
    + CategoryStore
    + FollowUpStore
    + PlanStore
    + RewardStore
    + RegistrationStore
    + DemoStore
    + analytics::AnalyticsStore
    + Send
    + Sync
{
    /// Which backend this is, for logs and `/readyz`.
    fn backend(&self) -> &'static str;

    /// The PostgreSQL pool, on PostGIS (tests look at its sessions).
    fn postgres_pool(&self) -> Option<sqlx::PgPool> {
        None
    }

    /// Tells every replica that events `seqs` of `case_id` are committed (PostGIS: one
    /// `NOTIFY` an event, all sent in one statement, which each replica's listener, this
    /// one's included, announces). `false` on the one-process embedded store, where the
    /// caller announces them itself.
    async fn notify_case_events(
        &self,
        _case_id: &str,
        _seqs: std::ops::RangeInclusive<i32>,
    ) -> StoreResult<bool> {
        Ok(false)
    }

    /// Listens for [`Store::notify_case_events`]; `None` on the embedded store.
    async fn listen_case_events(&self) -> StoreResult<Option<signals::CaseEventListener>> {
        Ok(None)
    }

    /// The job lock `key` if no other replica holds it (PostGIS: a session advisory lock);
    /// always granted on the embedded store.
    async fn try_job_lock(&self, _key: i64) -> StoreResult<Option<signals::JobLock>> {
        Ok(Some(signals::JobLock::local()))
    }

    /// Answers when the database does.
    async fn ping(&self) -> StoreResult<()>;

    async fn load_units(&self) -> StoreResult<Vec<Unit>>;

    async fn unit_count(&self) -> StoreResult<i64>;

    /// Replaces every unit at the levels present in `units` by `units`, atomically.
    async fn replace_units(&self, units: &[Unit]) -> StoreResult<()>;

    async fn categories(&self) -> StoreResult<Vec<Category>>;

    /// Inserts the shipped categories into a store that has none (first start).
    async fn seed_categories(&self, categories: &[Category]) -> StoreResult<()>;

    /// Stores a report under a new case id, honouring the idempotency key.
    async fn insert_report(
        &self,
        report: &NewReport,
        key: Option<&IdempotencyKey>,
    ) -> StoreResult<Inserted>;

    async fn get_report(&self, case_id: &str) -> StoreResult<Option<StoredReport>>;
}

/// Opens the store a deployment asks for: PostGIS when `database_url` is given, else the
/// embedded SQLite file `citysnap.sqlite` in `data_dir`. Runs the migrations.
pub async fn open(database_url: Option<&str>, data_dir: &Path) -> StoreResult<Arc<dyn Store>> {
    match database_url {
        Some(url) => Ok(Arc::new(PgStore::connect(url).await?)),
        None => {
            std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
                path: data_dir.display().to_string(),
                source,
            })?;
            Ok(Arc::new(
                SqliteStore::open(&data_dir.join("citysnap.sqlite")).await?,
            ))
        }
    }
}

/// The case id `PREFIX-YYYYMMDD-NNNNNN`.
fn case_id(report: &NewReport, seq: i64) -> String {
    format!("{}-{}-{seq:06}", report.case_prefix, report.case_day)
}

/// A stored idempotency key answers with its case only for the very same request.
fn replay_outcome(stored_hash: &str, case_id: String, k: &IdempotencyKey) -> Inserted {
    if stored_hash == k.request_hash {
        Inserted::Replayed(case_id)
    } else {
        Inserted::KeyReused
    }
}

fn geometry_to_geojson(mp: &MultiPolygon<f64>) -> String {
    geojson::Geometry::from(mp).to_string()
}

fn unit_from_row(
    code: String,
    name: String,
    level: String,
    parent: Option<String>,
    synthetic: bool,
    geojson: &str,
) -> StoreResult<Unit> {
    let corrupt = |what: String| StoreError::Corrupt(format!("unit {code}: {what}"));
    let geometry: geojson::Geometry = geojson.parse().map_err(|e| corrupt(format!("{e}")))?;
    let geometry: MultiPolygon<f64> =
        match geo::Geometry::<f64>::try_from(geometry).map_err(|e| corrupt(format!("{e}")))? {
            geo::Geometry::MultiPolygon(mp) => mp,
            geo::Geometry::Polygon(p) => MultiPolygon(vec![p]),
            other => return Err(corrupt(format!("geometry is not polygonal: {other:?}"))),
        };
    Ok(Unit {
        code: UnitCode::parse(&code).map_err(|e| corrupt(e.to_string()))?,
        level: level
            .parse()
            .map_err(|e: crate::domain::spatial::units::UnknownLevel| corrupt(e.to_string()))?,
        parent: parent
            .map(|p| UnitCode::parse(&p))
            .transpose()
            .map_err(|e| corrupt(e.to_string()))?,
        name,
        synthetic,
        geometry,
    })
}

fn category_from_body(body: &serde_json::Value) -> StoreResult<Category> {
    serde_json::from_value(body.clone()).map_err(|e| StoreError::Corrupt(format!("category: {e}")))
}

/// Statements that read the same on both backends (SQLite accepts `$n` parameters).
const NEXT_CASE_SEQ: &str = "insert into case_sequences (day, last) values ($1, 1)
     on conflict (day) do update set last = case_sequences.last + 1
     returning last";
const INSERT_MEDIA: &str =
    "insert into report_media (case_id, seq, kind, media_type, bytes, sha256, storage_key,
        exif_lon, exif_lat, exif_taken_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const SELECT_MEDIA: &str =
    "select seq, kind, media_type, bytes, sha256, storage_key, exif_lon, exif_lat, exif_taken_at
     from report_media where case_id = $1 order by seq";
const INSERT_IDEMPOTENCY_KEY: &str =
    "insert into idempotency_keys (scope, key, request_hash, case_id, created_at)
     values ($1, $2, $3, $4, $5) on conflict (scope, key) do nothing";
const SELECT_IDEMPOTENCY_KEY: &str =
    "select request_hash, case_id from idempotency_keys where scope = $1 and key = $2";
const INSERT_REPORT: &str = "insert into reports (case_id, created_at, status, description, category, lon, lat, h3_r15,
        input_datum, input_lon, input_lat, accuracy_m, address, contact_name, contact_phone,
        district_code, street_code, community_code, grid_code, units, snapped_m, near_boundary)
     values ($1, $2, 'submitted', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)";

/// Inserts a report's row and its media rows inside the caller's transaction. A macro rather
/// than a function because the two backends' query types differ while the binds do not.
macro_rules! insert_report_rows {
    ($conn:expr, $report:expr, $case_id:expr) => {{
        let report: &NewReport = $report;
        let case_id: &str = $case_id;
        sqlx::query(INSERT_REPORT)
            .bind(case_id)
            .bind(report.created_at)
            .bind(&report.description)
            .bind(&report.category)
            .bind(report.lon)
            .bind(report.lat)
            .bind(report.h3_r15 as i64)
            .bind(&report.input_datum)
            .bind(report.input_lon)
            .bind(report.input_lat)
            .bind(report.accuracy_m)
            .bind(&report.address)
            .bind(report.contact.as_ref().and_then(|c| c.name.as_deref()))
            .bind(report.contact.as_ref().and_then(|c| c.phone.as_deref()))
            .bind(report.code_at(UnitLevel::District))
            .bind(report.code_at(UnitLevel::Street))
            .bind(report.code_at(UnitLevel::Community))
            .bind(report.code_at(UnitLevel::Grid))
            .bind(sqlx::types::Json(report.units_json()))
            .bind(report.snapped_m)
            .bind(report.near_boundary.clone().map(sqlx::types::Json))
            .execute(&mut *$conn)
            .await?;
        // The heat-map aggregate moves with the report, in its transaction (issue 4), at
        // every served resolution in one statement (issue 10: exact cells).
        let cells = analytics::CellRow::all_of(report)?;
        let mut upsert = sqlx::query(sqlx::AssertSqlSafe(analytics::upsert_report_cells_sql(
            cells.len(),
        )))
        .bind(analytics::report_day(&cells)?)
        .bind(&report.category);
        for cell in &cells {
            upsert = upsert.bind(cell.cell).bind(cell.lon).bind(cell.lat);
        }
        upsert.execute(&mut *$conn).await?;
        for cell in &cells {
            if let Some((coarse, month, major)) =
                analytics::coarse_key(cell.cell, cell.day, &report.category)
            {
                sqlx::query(analytics::UPSERT_COARSE_CELL)
                    .bind(coarse)
                    .bind(month)
                    .bind(major)
                    .bind(1_i64)
                    .execute(&mut *$conn)
                    .await?;
            }
        }
        for m in &report.media {
            sqlx::query(INSERT_MEDIA)
                .bind(case_id)
                .bind(m.seq)
                .bind(&m.kind)
                .bind(&m.media_type)
                .bind(m.bytes)
                .bind(&m.sha256)
                .bind(&m.storage_key)
                .bind(m.exif_lon)
                .bind(m.exif_lat)
                .bind(&m.exif_taken_at)
                .execute(&mut *$conn)
                .await?;
        }
        // The report's exact resolution-12 cell (the last, finest row).
        let finest = cells.last().ok_or_else(|| {
            StoreError::Corrupt("report aggregate: a report without cells".into())
        })?;
        cases::bind_summary!(
            sqlx::query(cases::INSERT_CASE_INDEX),
            case_id,
            &report.summary
        )
        .bind(&report.category)
        .bind(finest.cell)
        .bind(finest.day)
        .bind(report.lon)
        .bind(report.lat)
        .bind(report.code_at(UnitLevel::District))
        .bind(report.code_at(UnitLevel::Street))
        .bind(report.code_at(UnitLevel::Community))
        .bind(report.code_at(UnitLevel::Grid))
        .execute(&mut *$conn)
        .await?;
        sqlx::query($crate::store::follow_up::INSERT_FOLLOW_UP)
            .bind(&report.follow_up_sha256)
            .bind(case_id)
            .bind(report.created_at)
            .execute(&mut *$conn)
            .await?;
        for (seq, e) in (1..).zip(&report.events) {
            let c = cases::event_columns(e)?;
            sqlx::query(cases::INSERT_EVENT)
                .bind(case_id)
                .bind(seq)
                .bind(e.at)
                .bind(&e.actor)
                .bind(c.role)
                .bind(c.action)
                .bind(c.reason)
                .bind(c.payload)
                .execute(&mut *$conn)
                .await?;
        }
    }};
}
use insert_report_rows;

/// The whole of PostGIS's `Store::insert_report` (the embedded store queues reports for its
/// group-commit writer instead, `sqlite::ReportWriter`): replay a known
/// idempotency key, else take the day's next case number, insert the rows and claim the key
/// in one transaction. `$store` must have `pool` and `idempotent_replay`.
macro_rules! insert_report_with_key {
    ($store:expr, $report:expr, $key:expr) => {{
        let report: &NewReport = $report;
        let key: Option<&IdempotencyKey> = $key;
        if let Some(k) = key
            && let Some(found) = $store.idempotent_replay(k).await?
        {
            return Ok(found);
        }
        let mut tx = $store.pool.begin().await?;
        let seq: i64 = sqlx::query_scalar(NEXT_CASE_SEQ)
            .bind(&report.case_day)
            .fetch_one(&mut *tx)
            .await?;
        let case_id = case_id(report, seq);
        insert_report_rows!(&mut *tx, report, &case_id);
        if let Some(k) = key {
            let claimed = sqlx::query(INSERT_IDEMPOTENCY_KEY)
                .bind(&k.scope)
                .bind(&k.key)
                .bind(&k.request_hash)
                .bind(&case_id)
                .bind(report.created_at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if claimed == 0 {
                // A concurrent retry with the same key won the race: its case stands.
                tx.rollback().await?;
                return Ok($store
                    .idempotent_replay(k)
                    .await?
                    .unwrap_or(Inserted::KeyReused));
            }
        }
        tx.commit().await?;
        Ok(Inserted::Created(case_id))
    }};
}
use insert_report_with_key;

/// The whole of `Store::get_report`: the report row and its media rows.
macro_rules! get_report_with_media {
    ($store:expr, $case_id:expr) => {{
        let case_id: &str = $case_id;
        let sql = format!("select {REPORT_COLUMNS} from reports where case_id = $1");
        let Some(mut report) = sqlx::query_as::<_, StoredReport>(sqlx::AssertSqlSafe(sql))
            .bind(case_id)
            .fetch_optional(&$store.pool)
            .await?
        else {
            return Ok(None);
        };
        report.media = sqlx::query_as(SELECT_MEDIA)
            .bind(case_id)
            .fetch_all(&$store.pool)
            .await?;
        Ok(Some(report))
    }};
}
use get_report_with_media;
