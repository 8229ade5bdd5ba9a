//! Registrations waiting for their one-time code (migration 0013), and the token a confirmed
//! number receives. See `api::auth` for the flow.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{PgStore, SqliteStore, StoreResult};

/// A registration as stored: the number, the name asked for and the code's digest.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Registration {
    pub id: String,
    /// Normalised 11-digit mobile number.
    pub phone: String,
    pub name: Option<String>,
    /// SHA-256 of the registration id and the code (see `access::code_digest`).
    pub code_sha256: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Codes tried so far, this one included when returned by [`RegistrationStore::attempt`].
    pub attempts: i32,
}

#[async_trait]
pub trait RegistrationStore: Send + Sync {
    /// Stores a new registration.
    async fn create_registration(&self, r: &Registration) -> StoreResult<()>;

    /// How many registrations were started for `phone` since `since` (a bound on the SMS
    /// one number can be sent).
    async fn registrations_since(&self, phone: &str, since: DateTime<Utc>) -> StoreResult<i64>;

    /// Counts one more attempt at an unconfirmed registration with fewer than `max_attempts`
    /// so far, atomically, and returns it; `None` if there is no such registration.
    async fn attempt(&self, id: &str, max_attempts: i32) -> StoreResult<Option<Registration>>;

    /// Marks the registration confirmed; `false` if a concurrent confirmation won.
    async fn confirm(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool>;

    /// The resident registered with `phone`, if any (their id).
    async fn resident_by_phone(&self, phone: &str) -> StoreResult<Option<String>>;

    /// Stores one more token for an existing principal.
    async fn add_token(
        &self,
        principal: &str,
        token_sha256: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
}

const INSERT: &str = "insert into registrations
        (id, phone, name, code_sha256, created_at, expires_at, attempts)
     values ($1, $2, $3, $4, $5, $6, 0)";
const COUNT_SINCE: &str =
    "select count(*) from registrations where phone = $1 and created_at >= $2";
const ATTEMPT: &str = "update registrations set attempts = attempts + 1
     where id = $1 and confirmed_at is null and attempts < $2
     returning id, phone, name, code_sha256, created_at, expires_at, attempts";
const CONFIRM: &str =
    "update registrations set confirmed_at = $2 where id = $1 and confirmed_at is null";
const RESIDENT_BY_PHONE: &str = "select id from principals where phone = $1 and role = 'resident'";
const INSERT_TOKEN: &str =
    "insert into tokens (token_sha256, principal, created_at) values ($1, $2, $3)";

macro_rules! impl_registration_store {
    ($store:ty) => {
        #[async_trait]
        impl RegistrationStore for $store {
            async fn create_registration(&self, r: &Registration) -> StoreResult<()> {
                sqlx::query(INSERT)
                    .bind(&r.id)
                    .bind(&r.phone)
                    .bind(&r.name)
                    .bind(&r.code_sha256)
                    .bind(r.created_at)
                    .bind(r.expires_at)
                    .execute(self.pool())
                    .await?;
                Ok(())
            }

            async fn registrations_since(
                &self,
                phone: &str,
                since: DateTime<Utc>,
            ) -> StoreResult<i64> {
                Ok(sqlx::query_scalar(COUNT_SINCE)
                    .bind(phone)
                    .bind(since)
                    .fetch_one(self.pool())
                    .await?)
            }

            async fn attempt(
                &self,
                id: &str,
                max_attempts: i32,
            ) -> StoreResult<Option<Registration>> {
                Ok(sqlx::query_as(ATTEMPT)
                    .bind(id)
                    .bind(max_attempts)
                    .fetch_optional(self.pool())
                    .await?)
            }

            async fn confirm(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query(CONFIRM)
                    .bind(id)
                    .bind(at)
                    .execute(self.pool())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn resident_by_phone(&self, phone: &str) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar(RESIDENT_BY_PHONE)
                    .bind(phone)
                    .fetch_optional(self.pool())
                    .await?)
            }

            async fn add_token(
                &self,
                principal: &str,
                token_sha256: &str,
                at: DateTime<Utc>,
            ) -> StoreResult<()> {
                sqlx::query(INSERT_TOKEN)
                    .bind(token_sha256)
                    .bind(principal)
                    .bind(at)
                    .execute(self.pool())
                    .await?;
                Ok(())
            }
        }
    };
}

impl_registration_store!(PgStore);
impl_registration_store!(SqliteStore);
