//! The command line: `citysnap serve | import | resolve | demo`.

pub mod resolve;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::app::{self, Config};
use crate::domain::datum::Datum;

#[derive(Debug, Parser)]
#[command(
    name = "citysnap",
    version,
    about = "Snap-and-report intake, dispatch and hotspot analytics"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Where the store is: every subcommand that touches it takes these.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Directory of the embedded store (used when DATABASE_URL is not set).
    #[arg(
        long,
        env = "CITYSNAP_DATA_DIR",
        default_value = "citysnap-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostGIS instead of the embedded store.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,
}

impl StoreArgs {
    fn config(&self) -> Config {
        Config::new(self.database_url.clone(), self.data_dir.clone())
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
        /// Load the demo jurisdiction (兴隆台区 with synthetic streets, communities and grids)
        /// if the store has no boundaries yet.
        #[arg(long)]
        demo: bool,
        /// Reports this far (metres) outside the area are snapped to the nearest unit.
        #[arg(long, default_value_t = 30.0)]
        snap_tolerance_m: f64,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Load the demo jurisdiction into the store (if it has no boundaries yet).
    Demo {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Resolve a CSV of points offline: `id,lon,lat` on stdin, `id,code` on stdout.
    Resolve {
        /// GeoJSON FeatureCollection of Polygon/MultiPolygon features.
        #[arg(long)]
        boundaries: PathBuf,
        /// Datum of the boundary file's coordinates (the CSV is WGS-84).
        #[arg(long, default_value = "wgs84")]
        datum: Datum,
        /// Feature property that holds each polygon's code.
        #[arg(long, default_value = "code")]
        code_property: String,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            bind,
            demo,
            snap_tolerance_m,
            store,
        } => {
            let mut config = store.config();
            config.resolver.snap_tolerance_m = snap_tolerance_m;
            let db = config.open_store().await?;
            if demo {
                app::load_demo_if_empty(db.as_ref()).await?;
            }
            let state = config.state(db).await?;
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .with_context(|| format!("binding {bind}"))?;
            app::serve(listener, state).await
        }
        Command::Demo { store } => {
            let db = store.config().open_store().await?;
            if !app::load_demo_if_empty(db.as_ref()).await? {
                tracing::info!("the store already holds boundaries; left as they are");
            }
            Ok(())
        }
        Command::Resolve {
            boundaries,
            datum,
            code_property,
        } => {
            let (codes, index) = resolve::load_polygons(&boundaries, datum, &code_property)?;
            let rows = tokio::task::spawn_blocking(move || {
                let stdin = std::io::stdin().lock();
                let stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
                resolve::run(
                    &codes,
                    &index,
                    std::io::BufReader::with_capacity(1 << 16, stdin),
                    stdout,
                )
            })
            .await??;
            tracing::info!(rows, "resolved");
            Ok(())
        }
    }
}
