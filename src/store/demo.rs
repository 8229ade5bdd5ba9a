//! The living demo's rows (issue 11): its synthetic staff and residents, and a history of
//! synthetic reports with their case logs, stored in one transaction so that a demo is
//! either there whole or not at all. Demo sign-in hands out tokens for synthetic
//! principals only, never for a real one.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    CaseSummary, INSERT_MEDIA, INSERT_REPORT, NewReport, PgStore, Principal, SqliteStore,
    StoreError, StoreResult, analytics, cases, insert_report_rows,
};
use crate::domain::spatial::units::UnitLevel;

#[async_trait]
pub trait DemoStore: Send + Sync {
    /// Whether the store holds a demo already (any synthetic principal).
    async fn demo_loaded(&self) -> StoreResult<bool>;

    /// Stores the demo's principals (without tokens) and its reports under the given case
    /// ids, all marked synthetic, in one transaction; each day's case counter is raised to
    /// the largest number used, so live intake continues after the history.
    async fn store_demo(
        &self,
        principals: &[Principal],
        history: &[(String, NewReport)],
        at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// The synthetic principals, by role and id.
    async fn demo_principals(&self) -> StoreResult<Vec<Principal>>;

    /// Issues a token (stored as its digest) to the synthetic principal `id`; `None` when
    /// there is no synthetic principal with that id.
    async fn add_demo_token(
        &self,
        id: &str,
        token_sha256: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Principal>>;
}

const DEMO_LOADED: &str = "select count(*) from principals where synthetic";
const INSERT_DEMO_PRINCIPAL: &str =
    "insert into principals (id, role, unit, name, phone, created_at, synthetic)
     values ($1, $2, $3, $4, null, $5, true)";
const MARK_SYNTHETIC: &str = "update reports set synthetic = true where case_id = $1";
/// Raises a day's counter to at least `$2` (the portable spelling of `max`/`greatest`).
const RAISE_CASE_SEQ: &str = "insert into case_sequences (day, last) values ($1, $2)
     on conflict (day) do update set last = case when case_sequences.last > excluded.last
        then case_sequences.last else excluded.last end";
const SELECT_DEMO_PRINCIPALS: &str = "select id, role, unit, name from principals
     where synthetic order by role, id";
const SELECT_DEMO_PRINCIPAL: &str =
    "select id, role, unit, name from principals where synthetic and id = $1";
const INSERT_TOKEN: &str =
    "insert into tokens (token_sha256, principal, created_at) values ($1, $2, $3)";

/// The case number of an id `PREFIX-YYYYMMDD-NNNNNN` and its day.
fn day_and_number(case_id: &str) -> StoreResult<(&str, i64)> {
    let mut parts = case_id.rsplitn(3, '-');
    let number = parts.next().and_then(|n| n.parse().ok());
    let day = parts.next();
    match (day, number) {
        (Some(d), Some(n)) => Ok((d, n)),
        _ => Err(StoreError::Corrupt(format!(
            "demo case id {case_id} is not PREFIX-YYYYMMDD-NNNNNN"
        ))),
    }
}

macro_rules! impl_demo_store {
    ($store:ty) => {
        #[async_trait]
        impl DemoStore for $store {
            async fn demo_loaded(&self) -> StoreResult<bool> {
                let n: i64 = sqlx::query_scalar(DEMO_LOADED)
                    .fetch_one(self.pool())
                    .await?;
                Ok(n > 0)
            }

            async fn store_demo(
                &self,
                principals: &[Principal],
                history: &[(String, NewReport)],
                at: DateTime<Utc>,
            ) -> StoreResult<()> {
                let mut tx = self.pool().begin().await?;
                for p in principals {
                    sqlx::query(INSERT_DEMO_PRINCIPAL)
                        .bind(&p.id)
                        .bind(p.role.as_str())
                        .bind(&p.unit)
                        .bind(&p.name)
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                }
                let mut last: std::collections::BTreeMap<&str, i64> = Default::default();
                for (case_id, report) in history {
                    insert_report_rows!(&mut *tx, report, case_id);
                    sqlx::query(MARK_SYNTHETIC)
                        .bind(case_id)
                        .execute(&mut *tx)
                        .await?;
                    let (day, n) = day_and_number(case_id)?;
                    let e = last.entry(day).or_default();
                    *e = (*e).max(n);
                }
                for (day, n) in last {
                    sqlx::query(RAISE_CASE_SEQ)
                        .bind(day)
                        .bind(n)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn demo_principals(&self) -> StoreResult<Vec<Principal>> {
                let rows: Vec<super::auth::PrincipalRow> = sqlx::query_as(SELECT_DEMO_PRINCIPALS)
                    .fetch_all(self.pool())
                    .await?;
                rows.into_iter()
                    .map(super::auth::PrincipalRow::decode)
                    .collect()
            }

            async fn add_demo_token(
                &self,
                id: &str,
                token_sha256: &str,
                at: DateTime<Utc>,
            ) -> StoreResult<Option<Principal>> {
                let mut tx = self.pool().begin().await?;
                let row: Option<super::auth::PrincipalRow> = sqlx::query_as(SELECT_DEMO_PRINCIPAL)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                sqlx::query(INSERT_TOKEN)
                    .bind(token_sha256)
                    .bind(id)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                row.decode().map(Some)
            }
        }
    };
}

impl_demo_store!(PgStore);
impl_demo_store!(SqliteStore);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_id_splits_into_its_day_and_number() {
        assert_eq!(
            day_and_number("XL-20260315-000123").unwrap(),
            ("20260315", 123)
        );
        assert!(day_and_number("XL20260315").is_err());
    }
}
