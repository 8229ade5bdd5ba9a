//! Embedded backend: one SQLite file in the data directory, the default when no
//! `DATABASE_URL` is given. Geometry is kept as GeoJSON text with a bounding box.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use geo::BoundingRect;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::types::Json;
use sqlx::{Connection, Row};
use tokio::sync::{mpsc, oneshot};

use super::*;
use crate::domain::workflow::categories::Category;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
    reports: ReportWriter,
}

impl SqliteStore {
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a report acknowledged with 201 survives a power cut, not just a crash.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&pool).await?;
        let reports = ReportWriter::spawn(SqliteConnection::connect_with(&options).await?);
        Ok(Self { pool, reports })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("select 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn load_units(&self) -> StoreResult<Vec<Unit>> {
        let rows = sqlx::query("select code, name, level, parent, synthetic, geojson from units")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|r| {
                unit_from_row(
                    r.try_get("code")?,
                    r.try_get("name")?,
                    r.try_get("level")?,
                    r.try_get("parent")?,
                    r.try_get("synthetic")?,
                    r.try_get::<&str, _>("geojson")?,
                )
            })
            .collect()
    }

    async fn unit_count(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("select count(*) from units")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn replace_units(&self, units: &[Unit]) -> StoreResult<()> {
        let mut levels: Vec<&str> = units.iter().map(|u| u.level.as_str()).collect();
        levels.sort_unstable();
        levels.dedup();
        let mut tx = self.pool.begin().await?;
        for level in levels {
            sqlx::query("delete from units where level = $1")
                .bind(level)
                .execute(&mut *tx)
                .await?;
        }
        for u in units {
            let Some(bbox) = u.geometry.bounding_rect() else {
                return Err(StoreError::Corrupt(format!(
                    "unit {} has an empty geometry",
                    u.code
                )));
            };
            sqlx::query(
                "insert into units (code, name, level, parent, synthetic, geojson, min_lon, min_lat, max_lon, max_lat)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(u.code.as_str())
            .bind(&u.name)
            .bind(u.level.as_str())
            .bind(u.parent.as_ref().map(|p| p.as_str()))
            .bind(u.synthetic)
            .bind(geometry_to_geojson(&u.geometry))
            .bind(bbox.min().x)
            .bind(bbox.min().y)
            .bind(bbox.max().x)
            .bind(bbox.max().y)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn categories(&self) -> StoreResult<Vec<Category>> {
        let rows: Vec<Json<serde_json::Value>> =
            sqlx::query_scalar("select body from categories order by code")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|b| category_from_body(&b.0)).collect()
    }

    async fn seed_categories(&self, categories: &[Category]) -> StoreResult<()> {
        // `begin immediate` would be the SQLite way to serialise first starts; a single
        // process owns the file, so the count check inside one transaction suffices.
        let mut tx = self.pool.begin().await?;
        let n: i64 = sqlx::query_scalar("select count(*) from categories")
            .fetch_one(&mut *tx)
            .await?;
        if n == 0 {
            for c in categories {
                sqlx::query("insert into categories (code, name, name_en, kind, parent, body) values ($1, $2, $3, $4, $5, $6)")
                    .bind(c.code.as_str())
                    .bind(&c.name)
                    .bind(&c.name_en)
                    .bind(c.kind.as_str())
                    .bind(c.parent.as_ref().map(|p| p.as_str()))
                    .bind(Json(serde_json::to_value(c).map_err(|e| StoreError::Corrupt(e.to_string()))?))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn insert_report(
        &self,
        report: &NewReport,
        key: Option<&IdempotencyKey>,
    ) -> StoreResult<Inserted> {
        self.reports.insert(report, key).await
    }

    async fn get_report(&self, case_id: &str) -> StoreResult<Option<StoredReport>> {
        get_report_with_media!(self, case_id)
    }
}

/// The one task that stores reports on the embedded store (issue 9, "intake at speed").
///
/// SQLite has one write lock: concurrent intakes on pooled connections queue for it behind
/// `busy_timeout`, and each pays a full `fsync` of its own. The writer owns one connection,
/// takes every report queued meanwhile (up to [`ReportWriter::BATCH_MAX`]) and commits them
/// in one transaction — one `fsync` with `synchronous=FULL` for the lot — and acknowledges
/// each report only after that commit. Each report runs under its own savepoint, so one that
/// fails (a row the schema refuses, a reused idempotency key) is rolled back alone and the
/// others of its batch are still stored.
struct ReportWriter {
    queue: mpsc::Sender<Queued>,
}

/// A report waiting for the writer, and where its outcome goes.
struct Queued {
    report: NewReport,
    key: Option<IdempotencyKey>,
    done: oneshot::Sender<StoreResult<Inserted>>,
}

impl ReportWriter {
    /// Most reports in one transaction: enough for every intake a full pool can have in
    /// flight, few enough that the first of them does not wait long for the last.
    const BATCH_MAX: usize = 256;

    /// Starts the writer on `conn`; it stops when the store is dropped.
    fn spawn(conn: SqliteConnection) -> Self {
        let (queue, received) = mpsc::channel(Self::BATCH_MAX * 4);
        tokio::spawn(write_reports(conn, received));
        Self { queue }
    }

    async fn insert(
        &self,
        report: &NewReport,
        key: Option<&IdempotencyKey>,
    ) -> StoreResult<Inserted> {
        let (done, outcome) = oneshot::channel();
        let stopped = || StoreError::GroupCommit("the report writer has stopped".into());
        self.queue
            .send(Queued {
                report: report.clone(),
                key: key.cloned(),
                done,
            })
            .await
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

/// The writer's loop: wait for a report, take whatever else is queued, commit them together,
/// answer each.
async fn write_reports(mut conn: SqliteConnection, mut received: mpsc::Receiver<Queued>) {
    let mut batch = Vec::with_capacity(ReportWriter::BATCH_MAX);
    while received
        .recv_many(&mut batch, ReportWriter::BATCH_MAX)
        .await
        > 0
    {
        match commit_batch(&mut conn, &batch).await {
            Ok(outcomes) => {
                for (q, outcome) in batch.drain(..).zip(outcomes) {
                    // A caller gone meanwhile: its report is stored all the same.
                    let _ = q.done.send(outcome);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, reports = batch.len(), "group commit failed");
                let cause = e.to_string();
                for q in batch.drain(..) {
                    let _ = q.done.send(Err(StoreError::GroupCommit(cause.clone())));
                }
            }
        }
    }
}

/// One transaction for `batch`, each report under a savepoint; the outcome of each, or the
/// error that rolled the whole batch back.
async fn commit_batch(
    conn: &mut SqliteConnection,
    batch: &[Queued],
) -> StoreResult<Vec<StoreResult<Inserted>>> {
    // `immediate`: take the write lock now (waiting up to busy_timeout for other writers)
    // rather than fail to upgrade a read lock half-way.
    sqlx::raw_sql("begin immediate").execute(&mut *conn).await?;
    let outcomes = savepoints(conn, batch).await;
    let committed = match outcomes {
        Ok(outcomes) => match sqlx::raw_sql("commit").execute(&mut *conn).await {
            Ok(_) => return Ok(outcomes),
            Err(e) => Err(e.into()),
        },
        Err(e) => Err(e),
    };
    if let Err(e) = sqlx::raw_sql("rollback").execute(&mut *conn).await {
        tracing::warn!(error = %e, "rollback after a failed group commit");
    }
    committed
}

async fn savepoints(
    conn: &mut SqliteConnection,
    batch: &[Queued],
) -> StoreResult<Vec<StoreResult<Inserted>>> {
    let mut outcomes = Vec::with_capacity(batch.len());
    for q in batch {
        sqlx::raw_sql("savepoint report")
            .execute(&mut *conn)
            .await?;
        let outcome = insert_one(conn, &q.report, q.key.as_ref()).await;
        let end = match outcome {
            Ok(Inserted::Created(_)) => "release report",
            _ => "rollback to report; release report",
        };
        sqlx::raw_sql(end).execute(&mut *conn).await?;
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// One report inside the writer's transaction: replay a known idempotency key, else take the
/// day's next case number, insert the rows and claim the key. The writer is the only one to
/// claim keys, so a key not found at the start of this is still free at its end.
async fn insert_one(
    conn: &mut SqliteConnection,
    report: &NewReport,
    key: Option<&IdempotencyKey>,
) -> StoreResult<Inserted> {
    if let Some(k) = key {
        let row: Option<(String, String)> = sqlx::query_as(SELECT_IDEMPOTENCY_KEY)
            .bind(&k.scope)
            .bind(&k.key)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some((hash, case_id)) = row {
            return Ok(replay_outcome(&hash, case_id, k));
        }
    }
    let seq: i64 = sqlx::query_scalar(NEXT_CASE_SEQ)
        .bind(&report.case_day)
        .fetch_one(&mut *conn)
        .await?;
    let case_id = case_id(report, seq);
    insert_report_rows!(conn, report, &case_id);
    if let Some(k) = key {
        sqlx::query(INSERT_IDEMPOTENCY_KEY)
            .bind(&k.scope)
            .bind(&k.key)
            .bind(&k.request_hash)
            .bind(&case_id)
            .bind(report.created_at)
            .execute(&mut *conn)
            .await?;
    }
    Ok(Inserted::Created(case_id))
}
