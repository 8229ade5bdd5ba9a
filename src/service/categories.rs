//! The category tree held in memory (issue 9: "categories held in memory and refreshed when
//! an admin changes them, not read from the database on every intake").
//!
//! An admin change through this process's API ([`CategoryCache::changed`]) is seen by the
//! very next intake; other processes' changes within [`crate::service::held::TTL`].

use std::sync::Arc;

use crate::domain::workflow::categories::Category;
use crate::service::held::Held;
use crate::store::{Store, StoreResult};

/// The categories as last read from the store.
#[derive(Default)]
pub struct CategoryCache {
    held: Held<[Category]>,
}

impl CategoryCache {
    /// Every category, retired ones included, in code order; read from the store only when
    /// none are held, after a change, or once they are older than the TTL.
    pub async fn all(&self, store: &dyn Store) -> StoreResult<Arc<[Category]>> {
        self.held
            .get(|| async { Ok(store.categories().await?.into()) })
            .await
    }

    /// The category with `code`, retired or not.
    pub async fn find(&self, store: &dyn Store, code: &str) -> StoreResult<Option<Category>> {
        Ok(self
            .all(store)
            .await?
            .iter()
            .find(|c| c.code.as_str() == code)
            .cloned())
    }

    /// Forgets what is held after the categories changed: the next read goes to the store.
    pub fn changed(&self) {
        self.held.changed();
    }
}
