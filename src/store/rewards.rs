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
    /// Records the award for `row.case_id`: `decide` is given what `row.resident` has been
    /// credited on `row.day` already (points, cash in fen) and answers what this case earns
    /// (`None`: nothing); the answer replaces `row`'s amounts. The read and the insert are
    /// one transaction holding the resident's lock (PostGIS: a transaction-scoped advisory
    /// lock on the resident; SQLite: the write lock `begin immediate` takes), so that awards
    /// made at the same moment never pass the daily cap together. `None` when nothing was
    /// earned or the case has an award already (nothing changes).
    async fn record_award(
        &self,
        row: &LedgerRow,
        decide: &(dyn Fn(i64, i64) -> Option<(i32, i32)> + Send + Sync),
    ) -> StoreResult<Option<LedgerRow>>;

    /// Entries of one resident (`Some`) or everyone, from `from` to `to` (local days,
    /// inclusive), oldest first.
    async fn ledger(
        &self,
        resident: Option<&str>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<LedgerRow>>;
}

pub(super) const SUM_DAY: &str = "select cast(coalesce(sum(points), 0) as bigint),
        cast(coalesce(sum(cash_fen), 0) as bigint)
     from reward_ledger where resident = $1 and day = $2";
pub(super) const INSERT_ENTRY: &str =
    "insert into reward_ledger (case_id, resident, category, at, day, points, cash_fen)
     values ($1, $2, $3, $4, $5, $6, $7) on conflict (case_id) do nothing";
const SELECT_LEDGER: &str = "select case_id, resident, category, at, day, points, cash_fen
     from reward_ledger where ($1 is null or resident = $1) and day >= $2 and day <= $3
     order by at, case_id";

/// What a case earns its reporter, decided inside the transaction that stores the event
/// earning it: `decide` is given what `row.resident` was credited on `row.day` already
/// (points, cash in fen) and answers what this case earns (`None`: nothing), which replaces
/// `row`'s amounts.
pub struct Earning {
    pub row: LedgerRow,
    pub decide: Box<dyn Fn(i64, i64) -> Option<(i32, i32)> + Send + Sync>,
}

impl std::fmt::Debug for Earning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Earning").field("row", &self.row).finish()
    }
}

/// Serialises one resident's awards on PostGIS (released at commit or rollback); on SQLite
/// the transaction's `begin immediate` holds the one write lock from the first statement, so
/// the day's sum cannot change before the insert.
const LOCK_RESIDENT: &str = "select pg_advisory_xact_lock(hashtext('reward:' || $1))";

/// The lock statement of each backend ([`LOCK_RESIDENT`] on PostGIS, none on SQLite).
pub(super) trait AwardLock {
    const LOCK: Option<&'static str>;
}

impl AwardLock for PgStore {
    const LOCK: Option<&'static str> = Some(LOCK_RESIDENT);
}

impl AwardLock for SqliteStore {
    const LOCK: Option<&'static str> = None;
}

/// Inside the open transaction `$tx` of store `$store`: locks the resident, sums their day,
/// decides and inserts; evaluates to `StoreResult<Option<LedgerRow>>` (`None`: nothing
/// earned, or the case has an award already). Never commits or rolls back.
macro_rules! award_in_tx {
    ($store:ty, $tx:expr, $row:expr, $decide:expr) => {
        async {
            let r: &$crate::store::LedgerRow = $row;
            if let Some(lock) = <$store as $crate::store::rewards::AwardLock>::LOCK {
                sqlx::query(lock)
                    .bind(&r.resident)
                    .execute(&mut *$tx)
                    .await?;
            }
            let (points, cash): (i64, i64) = sqlx::query_as($crate::store::rewards::SUM_DAY)
                .bind(&r.resident)
                .bind(r.day)
                .fetch_one(&mut *$tx)
                .await?;
            let Some((points, cash_fen)) = ($decide)(points, cash) else {
                return $crate::store::StoreResult::Ok(None);
            };
            let row = $crate::store::LedgerRow {
                points,
                cash_fen,
                ..r.clone()
            };
            let done = sqlx::query($crate::store::rewards::INSERT_ENTRY)
                .bind(&row.case_id)
                .bind(&row.resident)
                .bind(&row.category)
                .bind(row.at)
                .bind(row.day)
                .bind(row.points)
                .bind(row.cash_fen)
                .execute(&mut *$tx)
                .await?;
            Ok((done.rows_affected() == 1).then_some(row))
        }
    };
}
pub(super) use award_in_tx;

macro_rules! impl_reward_store {
    ($store:ty, $begin:literal) => {
        #[async_trait]
        impl RewardStore for $store {
            async fn record_award(
                &self,
                r: &LedgerRow,
                decide: &(dyn Fn(i64, i64) -> Option<(i32, i32)> + Send + Sync),
            ) -> StoreResult<Option<LedgerRow>> {
                let mut tx = self.pool().begin_with($begin).await?;
                let awarded = award_in_tx!($store, tx, r, decide).await?;
                tx.commit().await?;
                Ok(awarded)
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

impl_reward_store!(PgStore, "begin");
impl_reward_store!(SqliteStore, "begin immediate");
