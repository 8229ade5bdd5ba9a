//! PostGIS backend: units as `geometry(MultiPolygon, 4326)`, reports as
//! `geometry(Point, 4326)`, both with GiST indexes.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::types::Json;

use super::*;
use crate::domain::workflow::categories::Category;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Rows per `insert … select from unnest(…)` when loading units.
const UNIT_BATCH: usize = 2_000;

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(url)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgis"
    }

    fn postgres_pool(&self) -> Option<sqlx::PgPool> {
        Some(self.pool.clone())
    }

    async fn notify_case_events(
        &self,
        case_id: &str,
        seqs: std::ops::RangeInclusive<i32>,
    ) -> StoreResult<bool> {
        // One round trip for a new case's events (issue 9, "intake at speed"); the payload
        // stays `case_id:seq`, one notice an event, as the listener reads it.
        sqlx::query(
            "select pg_notify($1, $2 || ':' || seq) from generate_series($3::int4, $4::int4) seq",
        )
        .bind(super::signals::CASE_EVENTS_CHANNEL)
        .bind(case_id)
        .bind(*seqs.start())
        .bind(*seqs.end())
        .execute(&self.pool)
        .await?;
        Ok(true)
    }

    async fn listen_case_events(&self) -> StoreResult<Option<super::signals::CaseEventListener>> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(super::signals::CASE_EVENTS_CHANNEL).await?;
        Ok(Some(super::signals::CaseEventListener(listener)))
    }

    async fn try_job_lock(&self, key: i64) -> StoreResult<Option<super::signals::JobLock>> {
        let mut conn = self.pool.acquire().await?;
        let got: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
        Ok(got.then_some(super::signals::JobLock {
            held: Some((conn, key)),
        }))
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("select 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn load_units(&self) -> StoreResult<Vec<Unit>> {
        // 15 decimals keep every stored double to well under a nanometre.
        let rows = sqlx::query("select code, name, level, parent, synthetic, st_asgeojson(geom, 15) as geojson from units")
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
        sqlx::query("delete from units where level = any($1)")
            .bind(&levels)
            .execute(&mut *tx)
            .await?;
        for batch in units.chunks(UNIT_BATCH) {
            let codes: Vec<&str> = batch.iter().map(|u| u.code.as_str()).collect();
            let names: Vec<&str> = batch.iter().map(|u| u.name.as_str()).collect();
            let lvls: Vec<&str> = batch.iter().map(|u| u.level.as_str()).collect();
            let parents: Vec<Option<&str>> = batch
                .iter()
                .map(|u| u.parent.as_ref().map(|p| p.as_str()))
                .collect();
            let synthetic: Vec<bool> = batch.iter().map(|u| u.synthetic).collect();
            let geoms: Vec<String> = batch
                .iter()
                .map(|u| geometry_to_geojson(&u.geometry))
                .collect();
            sqlx::query(
                "insert into units (code, name, level, parent, synthetic, geom)
                 select c, n, l, p, s, st_multi(st_setsrid(st_geomfromgeojson(g), 4326))
                 from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::text[])
                      as t(c, n, l, p, s, g)",
            )
            .bind(&codes)
            .bind(&names)
            .bind(&lvls)
            .bind(&parents)
            .bind(&synthetic)
            .bind(&geoms)
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
        let mut tx = self.pool.begin().await?;
        // Serialise concurrent first starts of several replicas.
        sqlx::query("lock table categories in exclusive mode")
            .execute(&mut *tx)
            .await?;
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

impl PgStore {
    async fn idempotent_replay(&self, k: &IdempotencyKey) -> StoreResult<Option<Inserted>> {
        let row: Option<(String, String)> = sqlx::query_as(SELECT_IDEMPOTENCY_KEY)
            .bind(&k.scope)
            .bind(&k.key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(hash, case_id)| replay_outcome(&hash, case_id, k)))
    }
}
