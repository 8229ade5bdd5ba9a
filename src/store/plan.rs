//! The plan library (预案库) in the store: the ordered dispatch-rule table as numbered
//! revisions. The newest revision is in force; older ones stay for the record.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

use super::{PgStore, SqliteStore, StoreResult};

/// One revision of the rule table.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRevision {
    pub revision: i32,
    pub rules: Value,
    pub created_at: DateTime<Utc>,
    pub author: String,
}

#[async_trait]
pub trait PlanStore: Send + Sync {
    /// The revision in force, if any was stored.
    async fn current_plan(&self) -> StoreResult<Option<PlanRevision>>;

    /// Stores `rules` as revision `revision`; `false` when that number is taken (someone
    /// else changed the table since the caller read it).
    async fn put_plan(&self, revision: &PlanRevision) -> StoreResult<bool>;
}

const SELECT_CURRENT: &str = "select revision, rules, created_at, author from plan_revisions
     order by revision desc limit 1";
const INSERT_REVISION: &str = "insert into plan_revisions (revision, rules, created_at, author)
     values ($1, $2, $3, $4) on conflict (revision) do nothing";

#[derive(sqlx::FromRow)]
struct Row {
    revision: i32,
    rules: Json<Value>,
    created_at: DateTime<Utc>,
    author: String,
}

macro_rules! impl_plan_store {
    ($store:ty) => {
        #[async_trait]
        impl PlanStore for $store {
            async fn current_plan(&self) -> StoreResult<Option<PlanRevision>> {
                let row: Option<Row> = sqlx::query_as(SELECT_CURRENT)
                    .fetch_optional(self.pool())
                    .await?;
                Ok(row.map(|r| PlanRevision {
                    revision: r.revision,
                    rules: r.rules.0,
                    created_at: r.created_at,
                    author: r.author,
                }))
            }

            async fn put_plan(&self, r: &PlanRevision) -> StoreResult<bool> {
                let done = sqlx::query(INSERT_REVISION)
                    .bind(r.revision)
                    .bind(Json(&r.rules))
                    .bind(r.created_at)
                    .bind(&r.author)
                    .execute(self.pool())
                    .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

impl_plan_store!(PgStore);
impl_plan_store!(SqliteStore);
