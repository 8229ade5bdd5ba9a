//! Start-up: open the store, seed it, build the in-memory jurisdiction, serve.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::api::{self, ApiSettings, AppState};
use crate::demo::jurisdiction;
use crate::domain::spatial::resolver::{Jurisdiction, ResolverSettings};
use crate::domain::workflow::categories::{SHIPPED_CATEGORIES, parse_category_file};
use crate::media::ObjectStoreMedia;
use crate::store::{self, Store};

/// Where the service keeps its data and how it behaves.
#[derive(Clone)]
pub struct Config {
    /// `postgres://…` selects PostGIS; `None` the embedded SQLite file in `data_dir`.
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    pub resolver: ResolverSettings,
    /// Name of the service area in out-of-area messages; default: the top-level unit names.
    pub service_area: Option<String>,
    pub api: ApiSettings,
    /// How often the deadline job looks for cases to escalate.
    pub deadline_sweep: std::time::Duration,
    /// `serve --demo`: registration codes are written to the log instead of sent by SMS
    /// (no gateway is configured otherwise, and nobody could register).
    pub sms_codes_in_log: bool,
}

/// Hides the database password in logs (atuin's settings do the same).
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("data_dir", &self.data_dir)
            .field("resolver", &self.resolver)
            .field("service_area", &self.service_area)
            .field("api", &self.api)
            .field("deadline_sweep", &self.deadline_sweep)
            .field("sms_codes_in_log", &self.sms_codes_in_log)
            .finish()
    }
}

fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].find(':') {
            Some(colon) => format!("{}:***{}", &url[..s + 3 + colon], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

impl Config {
    pub fn new(database_url: Option<String>, data_dir: PathBuf) -> Self {
        Self {
            database_url,
            data_dir,
            resolver: ResolverSettings::default(),
            service_area: None,
            api: ApiSettings::default(),
            deadline_sweep: std::time::Duration::from_secs(15),
            sms_codes_in_log: false,
        }
    }

    /// Opens the store, runs migrations, seeds the shipped categories and plan library on
    /// first start and backfills the heat-map aggregate of a store whose reports predate it.
    pub async fn open_store(&self) -> anyhow::Result<Arc<dyn Store>> {
        let store = store::open(self.database_url.as_deref(), &self.data_dir).await?;
        let categories = parse_category_file(SHIPPED_CATEGORIES)?;
        store.seed_categories(&categories).await?;
        api::plan::seed(store.as_ref()).await?;
        backfill_report_cells(store.as_ref()).await?;
        Ok(store)
    }

    /// The jurisdiction in the store, or `None` when no boundaries are loaded yet.
    pub async fn load_jurisdiction(
        &self,
        store: &dyn Store,
    ) -> anyhow::Result<Option<Jurisdiction>> {
        let units = store.load_units().await?;
        if units.is_empty() {
            return Ok(None);
        }
        Ok(Some(Jurisdiction::new(
            units,
            self.service_area.clone(),
            self.resolver,
        )?))
    }

    /// The application state over an opened store.
    pub async fn state(&self, store: Arc<dyn Store>) -> anyhow::Result<AppState> {
        let jurisdiction = self.load_jurisdiction(store.as_ref()).await?;
        if jurisdiction.is_none() {
            tracing::warn!("no boundaries loaded: resolution and intake answer 503 until they are");
        }
        let media = ObjectStoreMedia::local(&self.data_dir.join("media"))?;
        let mut state = AppState::new(store, Arc::new(media), jurisdiction, self.api.clone());
        if self.sms_codes_in_log {
            state.sms = Arc::new(crate::sms::DemoLog);
        }
        crate::api::events::spawn_pg_listener(state.clone());
        Ok(state)
    }
}

/// Rebuilds `report_cells` from `reports` when the two disagree: reports stored before
/// migration 0003 were never aggregated, so heat-maps and hotspots would miss them. A store
/// whose aggregate is complete costs two counts at start-up; rebuilding is idempotent.
pub async fn backfill_report_cells(store: &dyn Store) -> anyhow::Result<Option<u64>> {
    if !store.report_cells_behind().await? {
        return Ok(None);
    }
    let started = std::time::Instant::now();
    let reports = store.rebuild_report_cells().await?;
    tracing::info!(
        reports,
        seconds = started.elapsed().as_secs_f64(),
        "rebuilt the heat-map aggregate (report_cells) from reports"
    );
    Ok(Some(reports))
}

/// Loads the demo jurisdiction (兴隆台区 and its synthetic streets, communities and grids)
/// into a store that holds no boundaries; a store that has some keeps them, so
/// `serve --demo` on an existing data directory reuses it. Returns whether it loaded.
pub async fn load_demo_if_empty(store: &dyn Store) -> anyhow::Result<bool> {
    if store.unit_count().await? > 0 {
        return Ok(false);
    }
    let started = std::time::Instant::now();
    let units =
        tokio::task::spawn_blocking(|| jurisdiction::build_demo(&jurisdiction::demo_district()))
            .await?;
    store.replace_units(&units).await?;
    tracing::info!(
        units = units.len(),
        seconds = started.elapsed().as_secs_f64(),
        "loaded the demo jurisdiction (below district level: synthetic)"
    );
    Ok(true)
}

/// Gives the demo its staff and a year of synthetic history (see [`crate::demo`]) unless
/// the store holds them already.
pub async fn populate_demo(state: &AppState, reports: usize) -> anyhow::Result<Option<usize>> {
    let j = state.jurisdiction()?;
    let plan = crate::demo::DemoPlan {
        reports,
        ..crate::demo::DemoPlan::standard(chrono::Utc::now())
    };
    crate::demo::populate(
        state.store.as_ref(),
        state.media.as_ref(),
        &j,
        &state.settings,
        plan,
    )
    .await
}

/// Serves `state` on `listener` until ctrl-c / SIGTERM (graceful shutdown).
/// Serves the API and runs the deadline job every `deadline_sweep` until a shutdown signal.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    deadline_sweep: std::time::Duration,
) -> anyhow::Result<()> {
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(%addr, store = state.store.backend(), "citysnap serving");
    if state.settings.analytics_cube {
        state.analytics.spawn_load(state.store.clone());
    }
    let job = api::deadlines::spawn(state.clone(), deadline_sweep);
    let watch = api::health::spawn_calendar_watch(state.clone());
    // Connect info: anonymous callers' idempotency keys are scoped by their address.
    let app = api::router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    job.abort();
    watch.abort();
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_database_password() {
        let c = Config::new(
            Some("postgres://citysnap:s3cret@db:5432/citysnap".into()),
            "d".into(),
        );
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("postgres://citysnap:***@db:5432/citysnap"),
            "{shown}"
        );
    }
}
