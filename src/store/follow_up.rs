//! Follow-up secrets (issue 8, item 11): the SHA-256 of each secret that opens a case's
//! reporter view. The secret itself is never stored.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{PgStore, SqliteStore, StoreResult};

#[async_trait]
pub trait FollowUpStore: Send + Sync {
    /// Adds a secret (its digest) for the case, as an idempotent replay of its intake does.
    async fn add_follow_up(
        &self,
        case_id: &str,
        secret_sha256: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// The case this secret's digest follows, if any.
    async fn followed_case(&self, secret_sha256: &str) -> StoreResult<Option<String>>;
}

/// Also run inside intake's transaction (`insert_report_rows!`).
pub(super) const INSERT_FOLLOW_UP: &str =
    "insert into follow_ups (secret_sha256, case_id, created_at) values ($1, $2, $3)";
const SELECT_FOLLOWED: &str = "select case_id from follow_ups where secret_sha256 = $1";

macro_rules! impl_follow_up_store {
    ($store:ty) => {
        #[async_trait]
        impl FollowUpStore for $store {
            async fn add_follow_up(
                &self,
                case_id: &str,
                secret_sha256: &str,
                at: DateTime<Utc>,
            ) -> StoreResult<()> {
                sqlx::query(INSERT_FOLLOW_UP)
                    .bind(secret_sha256)
                    .bind(case_id)
                    .bind(at)
                    .execute(self.pool())
                    .await?;
                Ok(())
            }

            async fn followed_case(&self, secret_sha256: &str) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar(SELECT_FOLLOWED)
                    .bind(secret_sha256)
                    .fetch_optional(self.pool())
                    .await?)
            }
        }
    };
}

impl_follow_up_store!(PgStore);
impl_follow_up_store!(SqliteStore);
