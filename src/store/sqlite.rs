//! Embedded backend: one SQLite file in the data directory, the default when no
//! `DATABASE_URL` is given. Geometry is kept as GeoJSON text with a bounding box.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use geo::BoundingRect;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::types::Json;

use super::*;
use crate::domain::workflow::categories::Category;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
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
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
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
        insert_report_with_key!(self, report, key)
    }

    async fn get_report(&self, case_id: &str) -> StoreResult<Option<StoredReport>> {
        get_report_with_media!(self, case_id)
    }
}

impl SqliteStore {
    async fn idempotent_replay(&self, k: &IdempotencyKey) -> StoreResult<Option<Inserted>> {
        let row: Option<(String, String)> = sqlx::query_as(SELECT_IDEMPOTENCY_KEY)
            .bind(&k.scope)
            .bind(&k.key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(hash, case_id)| replay_outcome(&hash, case_id, k)))
    }
}
