//! API keys of Open311 clients (issue 12, GeoReport v2 "api_key"): stored as their SHA-256
//! digest only, like bearer tokens; the key itself is shown once, when it is issued.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{PgStore, SqliteStore, StoreResult};

/// An issued API key, without the key.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiKey {
    /// `k-…`: what revocation and idempotency scopes name.
    pub id: String,
    /// Who the key was issued to (e.g. "FixMyStreet Panjin").
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Stores a new key under the digest of its secret.
    async fn create_api_key(&self, key: &ApiKey, key_sha256: &str) -> StoreResult<()>;

    /// The live (not revoked) key with this digest.
    async fn api_key_by_digest(&self, key_sha256: &str) -> StoreResult<Option<ApiKey>>;

    /// Revokes a key; whether it was live.
    async fn revoke_api_key(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool>;
}

const INSERT_KEY: &str =
    "insert into api_keys (id, name, key_sha256, created_at) values ($1, $2, $3, $4)";
const SELECT_BY_DIGEST: &str =
    "select id, name, created_at from api_keys where key_sha256 = $1 and revoked_at is null";
const REVOKE_KEY: &str = "update api_keys set revoked_at = $2 where id = $1 and revoked_at is null";

macro_rules! impl_api_key_store {
    ($store:ty) => {
        #[async_trait]
        impl ApiKeyStore for $store {
            async fn create_api_key(&self, key: &ApiKey, key_sha256: &str) -> StoreResult<()> {
                sqlx::query(INSERT_KEY)
                    .bind(&key.id)
                    .bind(&key.name)
                    .bind(key_sha256)
                    .bind(key.created_at)
                    .execute(self.pool())
                    .await?;
                Ok(())
            }

            async fn api_key_by_digest(&self, key_sha256: &str) -> StoreResult<Option<ApiKey>> {
                Ok(sqlx::query_as(SELECT_BY_DIGEST)
                    .bind(key_sha256)
                    .fetch_optional(self.pool())
                    .await?)
            }

            async fn revoke_api_key(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query(REVOKE_KEY)
                    .bind(id)
                    .bind(at)
                    .execute(self.pool())
                    .await?;
                Ok(done.rows_affected() > 0)
            }
        }
    };
}

impl_api_key_store!(PgStore);
impl_api_key_store!(SqliteStore);
