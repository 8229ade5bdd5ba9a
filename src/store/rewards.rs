//! The rewards ledger (issue 3, "Rewards"): what residents earned for reports that proved
//! real, one entry per case, never changed.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::{PgStore, SqliteStore, StoreResult};

/// One ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct LedgerRow {
    pub case_id: String,
    /// The resident's principal id.
    pub resident: String,
    pub category: String,
    pub at: DateTime<Utc>,
    /// The local day the credit counts against the daily cap.
    #[schema(value_type = String, format = Date)]
    pub day: NaiveDate,
    pub points: i32,
    pub cash_fen: i32,
}

#[async_trait]
pub trait RewardStore: Send + Sync {
    /// Points and cash (fen) credited to `resident` on local day `day`.
    async fn awarded_on(&self, resident: &str, day: NaiveDate) -> StoreResult<(i64, i64)>;

    /// Records an award; `false` when the case has one already (nothing changes).
    async fn record_award(&self, row: &LedgerRow) -> StoreResult<bool>;

    /// Entries of one resident (`Some`) or everyone, from `from` to `to` (local days,
    /// inclusive), oldest first.
    async fn ledger(
        &self,
        resident: Option<&str>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<LedgerRow>>;
}

const SUM_DAY: &str = "select cast(coalesce(sum(points), 0) as bigint),
        cast(coalesce(sum(cash_fen), 0) as bigint)
     from reward_ledger where resident = $1 and day = $2";
const INSERT_ENTRY: &str =
    "insert into reward_ledger (case_id, resident, category, at, day, points, cash_fen)
     values ($1, $2, $3, $4, $5, $6, $7) on conflict (case_id) do nothing";
const SELECT_LEDGER: &str = "select case_id, resident, category, at, day, points, cash_fen
     from reward_ledger where ($1 is null or resident = $1) and day >= $2 and day <= $3
     order by at, case_id";

macro_rules! impl_reward_store {
    ($store:ty) => {
        #[async_trait]
        impl RewardStore for $store {
            async fn awarded_on(&self, resident: &str, day: NaiveDate) -> StoreResult<(i64, i64)> {
                Ok(sqlx::query_as(SUM_DAY)
                    .bind(resident)
                    .bind(day)
                    .fetch_one(self.pool())
                    .await?)
            }

            async fn record_award(&self, r: &LedgerRow) -> StoreResult<bool> {
                let done = sqlx::query(INSERT_ENTRY)
                    .bind(&r.case_id)
                    .bind(&r.resident)
                    .bind(&r.category)
                    .bind(r.at)
                    .bind(r.day)
                    .bind(r.points)
                    .bind(r.cash_fen)
                    .execute(self.pool())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn ledger(
                &self,
                resident: Option<&str>,
                from: NaiveDate,
                to: NaiveDate,
            ) -> StoreResult<Vec<LedgerRow>> {
                Ok(sqlx::query_as(SELECT_LEDGER)
                    .bind(resident)
                    .bind(from)
                    .bind(to)
                    .fetch_all(self.pool())
                    .await?)
            }
        }
    };
}

impl_reward_store!(PgStore);
impl_reward_store!(SqliteStore);
