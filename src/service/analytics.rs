//! The counts behind heat-maps, hotspots and emerging hotspots (issue 10, "interactive
//! speed"), answered from the in-memory report cube ([`crate::domain::analytics::cube`])
//! once it is loaded, and from the store until then.
//!
//! Loading pages through `case_index` at start (the server answers meanwhile, from the
//! store). The cube is then kept current by this process's own writes, noted after their
//! commit and before the answer goes out ([`Analytics::note`]: intake notes the report it
//! stored, every other change is noted from the case's index row when it is published), so
//! a caller reads its own writes; on PostGIS other replicas' changes arrive through the
//! `LISTEN` task, a few milliseconds later, and a lost listener connection reloads the cube.
//! Changes noted while a load runs are applied to the loaded cube before it replaces the
//! old one; an older version of a case never overwrites a newer one.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use chrono::NaiveDate;
use h3o::CellIndex;

use crate::domain::analytics::cube::{Cube, CubeError, CubeFilter, CubeRow};
use crate::service::Error;
use crate::store::analytics::{CellCount, CellCountQuery, DayCount};
use crate::store::{IndexedCase, Store, StoreResult};

/// Cases read from the store a page at a time while loading.
const PAGE: u32 = 50_000;

#[derive(Default)]
struct Inner {
    /// The cube queries read; `None` until the first load completes.
    cube: Option<Arc<RwLock<Cube>>>,
    /// While a load runs: what was noted since it began.
    pending: Option<Vec<CubeRow>>,
}

/// The report cube and its loading; one per process.
#[derive(Default)]
pub struct Analytics {
    inner: RwLock<Inner>,
    /// Held for a whole load: one load at a time, so that each sees every note made while
    /// it ran.
    loading: tokio::sync::Mutex<()>,
}

/// What a count is keyed by besides the cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// One total per cell (the category of each [`CellCount`] is empty).
    Total,
    /// One count per cell and category.
    Category,
}

impl Analytics {
    /// Loads every case from the store into a new cube, which then replaces the one held
    /// (if any); returns the number of cases. Queries keep their answers meanwhile.
    pub async fn load(&self, store: &dyn Store) -> StoreResult<usize> {
        let _one_at_a_time = self.loading.lock().await;
        let started = Instant::now();
        self.write().pending = Some(Vec::new());
        let loaded = load_cube(store).await;
        let mut inner = self.write();
        let pending = inner.pending.take().unwrap_or_default();
        let mut cube = match loaded {
            Ok(cube) => cube,
            Err(e) => {
                tracing::error!(error = %e, "could not load the report cube: analytics read the store");
                return Err(e);
            }
        };
        for row in &pending {
            upsert(&mut cube, row);
        }
        let cases = cube.len();
        tracing::info!(
            cases,
            megabytes = cube.memory_bytes() / 1_000_000,
            seconds = started.elapsed().as_secs_f64(),
            "loaded the report cube"
        );
        inner.cube = Some(Arc::new(RwLock::new(cube)));
        Ok(cases)
    }

    /// Loads the cube in a background task, as the server does at start.
    pub fn spawn_load(self: &Arc<Self>, store: Arc<dyn Store>) {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            // A failure is logged by `load`; the store answers until the next load.
            let _ = me.load(store.as_ref()).await;
        });
    }

    /// Notes a case as it stands after a committed change.
    pub fn note(&self, row: CubeRow) {
        let mut inner = self.write();
        if let Some(cube) = &inner.cube {
            match cube.write() {
                Ok(mut cube) => upsert(&mut cube, &row),
                Err(_) => tracing::error!("report cube lock poisoned"),
            }
        }
        if let Some(pending) = &mut inner.pending {
            pending.push(row);
        }
    }

    /// Notes a case from its index row (`day` is its local day).
    pub fn note_indexed(&self, case: &IndexedCase, day: NaiveDate) {
        match case.state.parse() {
            Ok(state) => self.note(CubeRow {
                case_id: case.case_id.clone(),
                lon: case.lon,
                lat: case.lat,
                day,
                category: case.category.clone(),
                state,
                place: [
                    case.district.clone(),
                    case.street.clone(),
                    case.community.clone(),
                    case.grid.clone(),
                ],
                updated_at: case.updated_at,
            }),
            Err(e) => tracing::warn!(case_id = case.case_id, error = %e, "not counted"),
        }
    }

    /// Whether the cube answers (it has loaded).
    pub fn ready(&self) -> bool {
        self.read().cube.is_some()
    }

    fn cube(&self) -> Option<Arc<RwLock<Cube>>> {
        self.read().cube.clone()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }
}

async fn load_cube(store: &dyn Store) -> StoreResult<Cube> {
    let mut cube = Cube::default();
    let mut after = String::new();
    loop {
        let rows = store.cube_rows(&after, PAGE).await?;
        let Some(last) = rows.last() else {
            return Ok(cube);
        };
        after = last.case_id.clone();
        let full = rows.len() as u32 == PAGE;
        cube = tokio::task::spawn_blocking(move || {
            for row in &rows {
                upsert(&mut cube, row);
            }
            cube
        })
        .await
        .map_err(|e| crate::store::StoreError::Corrupt(format!("report cube load: {e}")))?;
        if !full {
            return Ok(cube);
        }
    }
}

fn upsert(cube: &mut Cube, row: &CubeRow) {
    if let Err(e) = cube.upsert(row) {
        tracing::warn!(case_id = row.case_id, error = %e, "not counted in the report cube");
    }
}

fn filter(q: &CellCountQuery) -> CubeFilter<'_> {
    CubeFilter {
        from: q.from,
        to: q.to,
        category: q.category.as_ref(),
        unit: q.unit.as_ref(),
        states: &q.states,
    }
}

/// Runs `count` over the cube on a blocking thread, or returns `None` when the cube is not
/// loaded or does not count at `q.res`.
async fn on_cube<T: Send + 'static>(
    analytics: &Analytics,
    q: &CellCountQuery,
    count: impl FnOnce(&Cube, &CellCountQuery) -> Result<T, CubeError> + Send + 'static,
) -> Result<Option<T>, Error> {
    let Some(cube) = analytics.cube() else {
        return Ok(None);
    };
    let q = q.clone();
    let counted = tokio::task::spawn_blocking(move || {
        let cube = cube.read().unwrap_or_else(|p| p.into_inner());
        count(&cube, &q)
    })
    .await
    .map_err(|e| Error::Internal(format!("report cube count: {e}")))?;
    match counted {
        Ok(t) => Ok(Some(t)),
        Err(CubeError::Resolution(_)) => Ok(None),
        Err(e) => Err(Error::Internal(e.to_string())),
    }
}

/// Reports per cell at `q.res` (and category, with [`Split::Category`]) matching `q`'s
/// filters. The cube ignores `q.bbox`: callers keep the cells they asked for.
pub async fn cell_counts(
    analytics: &Analytics,
    store: &dyn Store,
    q: &CellCountQuery,
    split: Split,
) -> Result<Vec<CellCount>, Error> {
    let counted = on_cube(analytics, q, move |cube, q| {
        let f = filter(q);
        Ok(match split {
            Split::Total => cube
                .cell_counts(q.res, &f)?
                .into_iter()
                .map(|(cell, n)| count(cell, String::new(), n))
                .collect(),
            Split::Category => cube
                .cell_category_counts(q.res, &f)?
                .into_iter()
                .map(|(cell, category, n)| count(cell, category.to_owned(), n))
                .collect::<Vec<_>>(),
        })
    })
    .await?;
    match counted {
        Some(rows) => Ok(rows),
        None => Ok(store.cell_counts(q).await?),
    }
}

/// Reports per cell at `q.res` and local day matching `q`'s filters.
pub async fn day_counts(
    analytics: &Analytics,
    store: &dyn Store,
    q: &CellCountQuery,
) -> Result<Vec<DayCount>, Error> {
    let counted = on_cube(analytics, q, |cube, q| {
        Ok(cube
            .day_counts(q.res, &filter(q))?
            .into_iter()
            .map(|(cell, day, n)| DayCount {
                cell,
                day,
                n: n as i64,
            })
            .collect::<Vec<_>>())
    })
    .await?;
    match counted {
        Some(rows) => Ok(rows),
        None => Ok(store.day_counts(q).await?),
    }
}

fn count(cell: CellIndex, category: String, n: u64) -> CellCount {
    CellCount {
        cell,
        category,
        n: n as i64,
    }
}
