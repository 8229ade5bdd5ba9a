//! Changing the category tree while the service runs (issue 3, "Admin API and CLI to list,
//! add, change and retire categories without a restart"). Intake reads them from
//! `crate::service::categories::CategoryCache`, which the admin API empties on every change.

use async_trait::async_trait;
use sqlx::types::Json;

use super::{PgStore, SqliteStore, StoreError, StoreResult};
use crate::domain::workflow::categories::Category;

#[async_trait]
pub trait CategoryStore: Send + Sync {
    /// Inserts `category`, or replaces the stored one with the same code.
    async fn put_category(&self, category: &Category) -> StoreResult<()>;
}

const UPSERT_CATEGORY: &str = "insert into categories (code, name, name_en, kind, parent, body)
     values ($1, $2, $3, $4, $5, $6)
     on conflict (code) do update set name = excluded.name, name_en = excluded.name_en,
        kind = excluded.kind, parent = excluded.parent, body = excluded.body";

macro_rules! impl_category_store {
    ($store:ty) => {
        #[async_trait]
        impl CategoryStore for $store {
            async fn put_category(&self, c: &Category) -> StoreResult<()> {
                let body = serde_json::to_value(c)
                    .map_err(|e| StoreError::Corrupt(format!("category: {e}")))?;
                sqlx::query(UPSERT_CATEGORY)
                    .bind(c.code.as_str())
                    .bind(&c.name)
                    .bind(&c.name_en)
                    .bind(c.kind.as_str())
                    .bind(c.parent.as_ref().map(|p| p.as_str()))
                    .bind(Json(body))
                    .execute(self.pool())
                    .await?;
                Ok(())
            }
        }
    };
}

impl_category_store!(PgStore);
impl_category_store!(SqliteStore);
