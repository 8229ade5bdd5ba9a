//! A value read from the store and held in memory for a while (issue 9: intake reads the
//! categories, the plan's rules and the staffed departments from memory, not the database).
//!
//! A change through this process's API ([`Held::changed`]) is seen by the very next read.
//! Changes made elsewhere — another replica on the same PostGIS, or the CLI run against the
//! same store — are seen within [`TTL`]: a short time-to-live rather than a `NOTIFY`, because
//! it also covers the CLI and the embedded store (which has no channel), costs one read every
//! few seconds, and cannot miss a change while a listener reconnects.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long a read stands for changes made by other processes.
pub const TTL: Duration = Duration::from_secs(5);

/// The value as last read, if it is still fresh.
pub struct Held<T: ?Sized> {
    state: RwLock<State<T>>,
}

struct State<T: ?Sized> {
    /// Bumped by every change, so that a read begun before a change does not install what
    /// it read as current.
    generation: u64,
    loaded: Option<(Instant, Arc<T>)>,
}

impl<T: ?Sized> Default for Held<T> {
    fn default() -> Self {
        Self {
            state: RwLock::new(State {
                generation: 0,
                loaded: None,
            }),
        }
    }
}

impl<T: ?Sized> Held<T> {
    /// The value held, or what `load` reads when none is held, after a change, or once the
    /// one held is older than [`TTL`].
    pub async fn get<E, F, Fut>(&self, load: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Arc<T>, E>>,
    {
        let generation = {
            let state = self.state.read().unwrap_or_else(|p| p.into_inner());
            if let Some((at, value)) = &state.loaded
                && at.elapsed() < TTL
            {
                return Ok(value.clone());
            }
            state.generation
        };
        let value = load().await?;
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        if state.generation == generation {
            state.loaded = Some((Instant::now(), value.clone()));
        }
        Ok(value)
    }

    /// Forgets what is held after it changed: the next read goes to the store.
    pub fn changed(&self) {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.generation += 1;
        state.loaded = None;
    }
}
