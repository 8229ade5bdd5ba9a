//! The command line: `citysnap serve | import | resolve | demo`.

pub mod resolve;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::app::{self, Config};
use crate::domain::spatial::boundary_import::{self, ImportOptions, ImportReport};
use crate::domain::spatial::datum::Datum;
use crate::domain::spatial::units::UnitLevel;

/// Prints an import report on stdout: one line a finding, or the whole report as JSON.
fn print_report(report: &ImportReport, json: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, report)?;
        writeln!(out)?;
        return Ok(());
    }
    for f in &report.findings {
        let feature = f.feature.map_or("-".to_owned(), |i| format!("feature {i}"));
        let severity = serde_json::to_value(f.severity)?;
        let kind = serde_json::to_value(f.kind)?;
        writeln!(
            out,
            "{} {} {feature} {}: {}",
            severity.as_str().unwrap_or("?"),
            kind.as_str().unwrap_or("?"),
            f.code.as_deref().unwrap_or("-"),
            f.message
        )?;
    }
    writeln!(out, "{report}")?;
    Ok(())
}

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
        /// With --demo: let demo sign-in hand out tokens even when --bind is not a loopback
        /// address (anyone who can reach the server can then act as any demo role).
        #[arg(long, requires = "demo")]
        demo_sign_in_anywhere: bool,
        /// With --demo: how many synthetic reports the demo's history holds (first start only).
        #[arg(long, default_value_t = 20_000, requires = "demo")]
        demo_reports: usize,
        /// Reports this far (metres) outside the area are snapped to the nearest unit.
        #[arg(long, default_value_t = 30.0)]
        snap_tolerance_m: f64,
        /// Count heat-maps and hotspots from the store for every request instead of the
        /// in-memory report cube (about 120 MB a million reports); for comparison.
        #[arg(long, env = "CITYSNAP_NO_ANALYTICS_CUBE")]
        no_analytics_cube: bool,
        /// Working days, hours and holidays as JSON (`utc_offset`, `weekdays`, `hours`,
        /// `covers`, `holidays`, `extra_working_days`); default: the mainland China calendar
        /// of 2025-2026. Load the next State Council holiday notice this way.
        #[arg(long)]
        calendar: Option<PathBuf>,
        /// How long past its deadline a case turns red (ISO 8601, e.g. `PT4H`); default:
        /// one more time limit.
        #[arg(long)]
        red_margin: Option<crate::domain::workflow::calendar::IsoDuration>,
        /// A raster basemap for the web console: an XYZ tile URL template (`{z}`, `{x}`,
        /// `{y}` or `{-y}`), e.g. an intranet tile server; default: none, the console draws
        /// only the deployment's boundaries.
        #[arg(long)]
        basemap_url: Option<crate::api::console::BasemapUrl>,
        /// The datum of the basemap's tiles: `gcj02` for AMap (高德) or Tencent tiles, which
        /// the console then warps onto WGS-84.
        #[arg(long, default_value = "wgs84", requires = "basemap_url")]
        basemap_datum: crate::api::console::BasemapDatum,
        /// The credit the tile provider requires, shown on the map.
        #[arg(long, requires = "basemap_url")]
        basemap_attribution: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Load data into the store.
    Import {
        #[command(subcommand)]
        what: ImportCommand,
    },
    /// Load the demo jurisdiction into the store (if it has no boundaries yet).
    Demo {
        /// Also give the demo its staff and this many synthetic reports over the last
        /// twelve months (what `serve --demo` does at first start; the analytics
        /// benchmark loads a million this way).
        #[arg(long)]
        reports: Option<usize>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List, add, change and retire categories (running services see changes within 5 s).
    Category {
        #[command(subcommand)]
        what: CategoryCommand,
    },
    /// Issue bearer tokens.
    Token {
        #[command(subcommand)]
        what: TokenCommand,
    },
    /// Issue and revoke API keys of Open311 GeoReport v2 clients.
    #[command(name = "open311-key")]
    Open311Key {
        #[command(subcommand)]
        what: Open311KeyCommand,
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
    /// Print the OpenAPI 3.1 document of the HTTP API (the one `GET /openapi.json` serves).
    Openapi,
    /// Write the reports as GeoParquet 1.1 or an Arrow IPC stream, offline against the
    /// store: what `GET /v1/export/reports.{parquet,arrow}` serves to staff of the whole
    /// deployment (or, with --public, to everybody).
    Export {
        /// The file to write: `.parquet` for GeoParquet, `.arrow` for an Arrow IPC stream.
        #[arg(long)]
        out: PathBuf,
        /// The public's view: no case ids, points coarsened to resolution-10 cell centres.
        #[arg(long)]
        public: bool,
        /// First local day, YYYY-MM-DD.
        #[arg(long)]
        from: Option<String>,
        /// Last local day, inclusive.
        #[arg(long)]
        to: Option<String>,
        /// A category or major category code.
        #[arg(long)]
        category: Option<String>,
        /// A unit code of any level.
        #[arg(long)]
        unit: Option<String>,
        /// Case states, comma-separated.
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum CategoryCommand {
    /// Print every category (retired ones too) as JSON lines.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Add a category or replace the one with the same code, from a JSON file (the shape of
    /// `POST /v1/categories`).
    Put {
        file: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Retire a category: it stays for old reports and takes no new ones.
    Retire {
        code: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a principal with a role and print its new bearer token as the last line of
    /// output (shown this once; only its digest is stored).
    Create {
        /// resident, grid_worker, handler, dispatcher, leader, planner or admin.
        #[arg(long)]
        role: crate::domain::workflow::case::Role,
        /// The unit (handler, grid worker) or department code (handler) the principal works for.
        #[arg(long)]
        unit: Option<String>,
        /// A name shown to colleagues (e.g. 张三 or 城管局值班).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum Open311KeyCommand {
    /// Issue a key and print it as the last line of output (shown this once; only its
    /// digest is stored).
    Create {
        /// Who holds it, e.g. "FixMyStreet Panjin".
        #[arg(long)]
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a key by its id (`k-…`); requests posted with it stay.
    Revoke {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Load one level of boundaries from a GeoJSON FeatureCollection of Polygon and
    /// MultiPolygon features. Every feature is checked; any error refuses the whole file
    /// (nothing half-imported) and the report says what and where.
    Boundaries {
        file: PathBuf,
        /// district, street, community or grid.
        #[arg(long)]
        level: UnitLevel,
        /// Datum of the file's coordinates; converted to WGS-84 on import.
        #[arg(long, default_value = "wgs84")]
        datum: Datum,
        #[arg(long, default_value = "code")]
        code_property: String,
        #[arg(long, default_value = "name")]
        name_property: String,
        /// Property with the parent's code; default: the parent is the code's prefix.
        #[arg(long)]
        parent_property: Option<String>,
        /// Slivers outside a parent, overlaps and gaps thinner than this are tolerated.
        #[arg(long, default_value_t = boundary_import::DEFAULT_TOLERANCE_M)]
        tolerance_m: f64,
        /// Print the report as JSON instead of lines.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            bind,
            demo,
            demo_sign_in_anywhere,
            demo_reports,
            snap_tolerance_m,
            no_analytics_cube,
            calendar,
            red_margin,
            basemap_url,
            basemap_datum,
            basemap_attribution,
            store,
        } => {
            let mut config = store.config();
            config.resolver.snap_tolerance_m = snap_tolerance_m;
            if let Some(file) = calendar {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?;
                config.api.calendar = serde_json::from_str(&text)
                    .with_context(|| format!("{} is not a working calendar", file.display()))?;
            }
            config.api.red_margin = red_margin;
            config.api.analytics_cube = !no_analytics_cube;
            config.api.basemap = basemap_url.map(|url| crate::api::console::Basemap {
                url,
                datum: basemap_datum,
                attribution: basemap_attribution,
            });
            config.sms_codes_in_log = demo;
            if demo {
                config.api.demo_sign_in = if bind.ip().is_loopback() || demo_sign_in_anywhere {
                    crate::api::demo::DemoSignIn::Open
                } else {
                    tracing::warn!(%bind, "demo sign-in is off on a non-loopback address (--demo-sign-in-anywhere allows it)");
                    crate::api::demo::DemoSignIn::Refused(bind.to_string())
                };
            }
            let db = config.open_store().await?;
            if demo {
                app::load_demo_if_empty(db.as_ref()).await?;
            }
            let state = config.state(db).await?;
            if demo {
                app::populate_demo(&state, demo_reports).await?;
            }
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .with_context(|| format!("binding {bind}"))?;
            app::serve(listener, state, config.deadline_sweep).await
        }
        Command::Import {
            what:
                ImportCommand::Boundaries {
                    file,
                    level,
                    datum,
                    code_property,
                    name_property,
                    parent_property,
                    tolerance_m,
                    json,
                    store,
                },
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let opts = ImportOptions {
                level,
                datum,
                code_property,
                name_property,
                parent_property,
                tolerance_m,
            };
            let db = store.config().open_store().await?;
            let existing = db.load_units().await?;
            let outcome = tokio::task::spawn_blocking(move || {
                boundary_import::import_boundaries(&text, &opts, &existing)
            })
            .await?;
            let (report, units) = match outcome {
                Ok(o) => (o.report, Some(o.units)),
                Err(report) => (report, None),
            };
            print_report(&report, json)?;
            let Some(units) = units else {
                anyhow::bail!(
                    "{}: import refused, nothing changed ({report})",
                    file.display()
                );
            };
            db.replace_units(&units).await?;
            tracing::info!(units = units.len(), %level, "imported; running services pick the boundaries up at their next start");
            Ok(())
        }
        Command::Demo { reports, store } => {
            let config = store.config();
            let db = config.open_store().await?;
            if !app::load_demo_if_empty(db.as_ref()).await? {
                tracing::info!("the store already holds boundaries; left as they are");
            }
            if let Some(reports) = reports {
                let state = config.state(db).await?;
                match app::populate_demo(&state, reports).await? {
                    Some(n) => tracing::info!(reports = n, "stored the demo's history"),
                    None => tracing::info!("the store holds a demo already; left as it is"),
                }
            }
            Ok(())
        }
        Command::Category { what } => category_command(what).await,
        Command::Token {
            what:
                TokenCommand::Create {
                    role,
                    unit,
                    name,
                    store,
                },
        } => {
            let db = store.config().open_store().await?;
            let (principal, token) =
                crate::api::auth::issue_token(db.as_ref(), role, unit, name, None).await?;
            println!(
                "created {} {}{}",
                principal.role,
                principal.id,
                principal
                    .unit
                    .as_deref()
                    .map(|u| format!(" for {u}"))
                    .unwrap_or_default()
            );
            println!("{token}");
            Ok(())
        }
        Command::Open311Key { what } => open311_key_command(what).await,
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
        Command::Export {
            out,
            public,
            from,
            to,
            category,
            unit,
            status,
            store,
        } => {
            export_command(
                &out,
                public,
                crate::api::analytics::RawFilter {
                    from: from.as_deref(),
                    to: to.as_deref(),
                    category: category.as_deref(),
                    unit: unit.as_deref(),
                    status: status.as_deref(),
                },
                &store,
            )
            .await
        }
        Command::Openapi => {
            println!("{}", crate::api::openapi::document().to_pretty_json()?);
            Ok(())
        }
    }
}

async fn category_command(what: CategoryCommand) -> anyhow::Result<()> {
    use crate::domain::workflow::categories::Category;
    match what {
        CategoryCommand::List { store } => {
            let db = store.config().open_store().await?;
            for c in db.categories().await? {
                println!("{}", serde_json::to_string(&c)?);
            }
        }
        CategoryCommand::Put { file, store } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let c: Category = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a category", file.display()))?;
            let db = store.config().open_store().await?;
            crate::api::categories::check_category(db.as_ref(), &c)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            db.put_category(&c).await?;
            println!("stored category {} {}", c.code, c.name);
        }
        CategoryCommand::Retire { code, store } => {
            let db = store.config().open_store().await?;
            let mut c = db
                .categories()
                .await?
                .into_iter()
                .find(|c| c.code.as_str() == code)
                .with_context(|| format!("no category {code}"))?;
            c.retired = true;
            db.put_category(&c).await?;
            println!("retired category {} {}", c.code, c.name);
        }
    }
    Ok(())
}

/// `citysnap export`: the same stream as the HTTP export, into a file.
async fn export_command(
    out: &std::path::Path,
    public: bool,
    raw: crate::api::analytics::RawFilter<'_>,
    store: &StoreArgs,
) -> anyhow::Result<()> {
    use crate::domain::analytics::export::ExportFormat;
    use tokio::io::AsyncWriteExt;
    use tokio_stream::StreamExt;

    let format = match out.extension().and_then(|e| e.to_str()) {
        Some("parquet") => ExportFormat::GeoParquet,
        Some("arrow") => ExportFormat::ArrowStream,
        _ => anyhow::bail!("--out must end in .parquet (GeoParquet) or .arrow (Arrow IPC stream)"),
    };
    let f = crate::api::analytics::CountFilter::parse(raw).map_err(|e| anyhow::anyhow!("{e}"))?;
    let query = crate::api::export::export_query(
        f,
        (!public).then_some(crate::store::CaseScope::All),
        crate::api::ApiSettings::default().timezone,
    );
    let db = store.config().open_store().await?;
    let mut file = tokio::fs::File::create(out).await?;
    let mut chunks = crate::service::export::stream(db, query, format);
    while let Some(chunk) = chunks.next().await {
        file.write_all(&chunk?).await?;
    }
    file.flush().await?;
    tracing::info!(out = %out.display(), "export written");
    Ok(())
}

async fn open311_key_command(what: Open311KeyCommand) -> anyhow::Result<()> {
    match what {
        Open311KeyCommand::Create { name, store } => {
            let name = name.trim();
            anyhow::ensure!(!name.is_empty(), "--name must not be empty");
            let db = store.config().open_store().await?;
            let (key, secret) = crate::api::open311::keys::issue_api_key(db.as_ref(), name).await?;
            println!("created Open311 API key {} for {}", key.id, key.name);
            println!("{secret}");
        }
        Open311KeyCommand::Revoke { id, store } => {
            let db = store.config().open_store().await?;
            if db.revoke_api_key(&id, chrono::Utc::now()).await? {
                println!("revoked {id}");
            } else {
                anyhow::bail!("{id} is not a live API key");
            }
        }
    }
    Ok(())
}
