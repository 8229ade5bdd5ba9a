//! The category tree held in memory (issue 9: "categories held in memory and refreshed when
//! an admin changes them, not read from the database on every intake").
//!
//! An admin change through this process's API ([`CategoryCache::changed`]) is seen by the
//! very next intake. Changes made elsewhere — another replica on the same PostGIS, or
//! `citysnap categories …` run against the same store — are seen within [`CategoryCache::TTL`]:
//! a short time-to-live rather than a `NOTIFY` on `src/store/signals.rs`'s channel, because
//! it also covers the CLI and the embedded store (which has no channel), costs one read every
//! few seconds, and cannot miss a change while a listener reconnects.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::domain::workflow::categories::Category;
use crate::store::{Store, StoreResult};

/// The categories as last read from the store.
#[derive(Default)]
pub struct CategoryCache {
    held: RwLock<Held>,
}

#[derive(Default)]
struct Held {
    /// Bumped by every change, so that a read begun before a change does not install what
    /// it read as current.
    generation: u64,
    loaded: Option<(Instant, Arc<[Category]>)>,
}

impl CategoryCache {
    /// How long a read of the categories stands for changes made by other processes.
    pub const TTL: Duration = Duration::from_secs(5);

    /// Every category, retired ones included, in code order; read from the store only when
    /// none are held, after a change, or once they are older than [`Self::TTL`].
    pub async fn all(&self, store: &dyn Store) -> StoreResult<Arc<[Category]>> {
        let generation = {
            let held = self.held.read().unwrap_or_else(|p| p.into_inner());
            if let Some((at, categories)) = &held.loaded
                && at.elapsed() < Self::TTL
            {
                return Ok(categories.clone());
            }
            held.generation
        };
        let categories: Arc<[Category]> = store.categories().await?.into();
        let mut held = self.held.write().unwrap_or_else(|p| p.into_inner());
        if held.generation == generation {
            held.loaded = Some((Instant::now(), categories.clone()));
        }
        Ok(categories)
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
        let mut held = self.held.write().unwrap_or_else(|p| p.into_inner());
        held.generation += 1;
        held.loaded = None;
    }
}
