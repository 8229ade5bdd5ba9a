//! Test harness: spawn the service on 127.0.0.1:0 over a fresh store.

use std::path::Path;
use std::sync::Arc;

use citysnap::api::AppState;
use citysnap::app::Config;
use citysnap::domain::spatial::datum::Datum;
use citysnap::domain::spatial::units::{Unit, UnitCode, UnitLevel};
use citysnap::store::Store;
use geo::{MapCoordsInPlace, MultiPolygon};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Declares an async test body once and runs it on both backends:
/// `both_backends!(name, |backend| async move { … });`
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                ($body)($crate::helpers::Backend::Postgres).await
            }
        }
    };
}

/// The PostgreSQL server tests create their databases on. A PostGIS test that cannot reach
/// it fails: it never skips.
fn pg_admin_url() -> String {
    std::env::var("CITYSNAP_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Creates an empty database of its own for one test.
pub async fn fresh_pg_database() -> String {
    use sqlx::Connection;
    let admin = pg_admin_url();
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| {
            panic!("PostGIS tests need PostgreSQL at {admin} (set CITYSNAP_TEST_PG_URL): {e}")
        });
    let name = format!("citysnap_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    format!("{base}/{name}")
}

/// The test's SMS gateway: keeps every code sent, newest last.
#[derive(Debug, Clone, Default)]
pub struct CapturedSms(Arc<std::sync::Mutex<Vec<(String, String)>>>);

#[async_trait::async_trait]
impl citysnap::sms::SmsGateway for CapturedSms {
    async fn send_code(
        &self,
        phone: &str,
        code: &str,
        _minutes: u32,
    ) -> Result<(), citysnap::sms::SmsError> {
        self.0
            .lock()
            .expect("sms lock")
            .push((phone.to_owned(), code.to_owned()));
        Ok(())
    }
}

impl CapturedSms {
    /// Every `(phone, code)` sent so far.
    pub fn sent(&self) -> Vec<(String, String)> {
        self.0.lock().expect("sms lock").clone()
    }

    /// The last code sent to `phone` (11 digits).
    pub fn last_code(&self, phone: &str) -> Option<String> {
        self.sent()
            .into_iter()
            .rev()
            .find(|(p, _)| p == phone)
            .map(|(_, c)| c)
    }
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub state: AppState,
    /// The codes the service sent to residents' phones.
    pub sms: CapturedSms,
    server: JoinHandle<()>,
    /// Keeps the SQLite data directory alive for the test's duration.
    pub dir: Arc<tempfile::TempDir>,
}

impl TestApp {
    /// A service over a fresh store holding `units`.
    pub async fn spawn(backend: Backend, units: &[Unit]) -> TestApp {
        Self::spawn_with(backend, units, |_| {}).await
    }

    /// Like [`TestApp::spawn`], with the configuration adjusted first.
    pub async fn spawn_with(
        backend: Backend,
        units: &[Unit],
        adjust: impl FnOnce(&mut Config),
    ) -> TestApp {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_pg_database().await),
        };
        let mut config = Config::new(database_url, dir.path().join("data"));
        // Deadlines in tests are seconds long.
        config.deadline_sweep = std::time::Duration::from_millis(200);
        adjust(&mut config);
        let store = config.open_store().await.expect("open store");
        if !units.is_empty() {
            store.replace_units(units).await.expect("load units");
        }
        Self::start(config, store, dir).await
    }

    async fn start(config: Config, store: Arc<dyn Store>, dir: Arc<tempfile::TempDir>) -> TestApp {
        let mut state = config.state(store.clone()).await.expect("state");
        let sms = CapturedSms::default();
        state.sms = Arc::new(sms.clone());
        // As `serve` does at start (there in the background): the heat-maps and hotspots
        // count from the report cube, unless the configuration says to read the store.
        if config.api.analytics_cube {
            state
                .analytics
                .load(store.as_ref())
                .await
                .expect("report cube");
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let router = citysnap::api::router(state.clone());
        let job = citysnap::api::deadlines::spawn(state.clone(), config.deadline_sweep);
        let server = tokio::spawn(async move {
            let _job = AbortOnDrop(job);
            let app = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
            axum::serve(listener, app).await.expect("serve");
        });
        TestApp {
            base,
            client: reqwest::Client::new(),
            config,
            store,
            state,
            sms,
            server,
            dir,
        }
    }

    /// A second service instance (replica) on the same store and data directory.
    pub async fn replica(&self) -> TestApp {
        let store = self.config.open_store().await.expect("open store again");
        Self::start(self.config.clone(), store, self.dir.clone()).await
    }

    /// Stops this instance and starts a new one on the same store, as after a restart.
    pub async fn restart(self) -> TestApp {
        self.server.abort();
        let _ = self.server.await;
        let (config, dir) = (self.config.clone(), self.dir.clone());
        drop(self.store);
        drop(self.state);
        let store = config.open_store().await.expect("reopen store");
        Self::start(config, store, dir).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> (u16, Value, reqwest::header::HeaderMap) {
        let r = self.client.get(self.url(path)).send().await.expect("GET");
        read(r).await
    }

    pub async fn post_json(
        &self,
        path: &str,
        body: &Value,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let r = self
            .client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST");
        read(r).await
    }

    /// A new principal with `role` (and `unit`) and its bearer token, issued as
    /// `citysnap token create` does. That command's new handler reaches a running service's
    /// auto-dispatch within `service::held::TTL`; a test does not wait: the service forgets
    /// its dispatch inputs at once.
    pub async fn token(&self, role: &str, unit: Option<&str>) -> String {
        let role = role.parse().expect("role");
        let token = citysnap::api::auth::issue_token(
            self.store.as_ref(),
            role,
            unit.map(str::to_owned),
            None,
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("token for {role} {unit:?}: {e}"))
        .1;
        self.state.dispatch_inputs.changed();
        token
    }

    /// A handler for each of these departments, so that cases can be sent there (a
    /// department nobody works for leaves its cases in the dispatchers' queue).
    pub async fn staff(&self, departments: &[&str]) {
        for d in departments {
            self.token("handler", Some(d)).await;
        }
    }

    /// A registered resident's token: `POST /v1/residents`, then the code the service sent
    /// to the phone at `POST /v1/residents/confirm`.
    pub async fn resident(&self, phone: &str) -> String {
        let (_, body) = self.confirm_registration(phone).await;
        body["token"].as_str().expect("token").to_owned()
    }

    /// Registers `phone` and confirms it with the code sent; the confirmation's status and
    /// body (201 for a new resident, 200 for a number registered before).
    pub async fn confirm_registration(&self, phone: &str) -> (u16, Value) {
        let (status, body, _) = self
            .post_json("/v1/residents", &serde_json::json!({"phone": phone}))
            .await;
        assert_eq!(status, 202, "{body}");
        let normalised =
            citysnap::domain::workflow::access::normalise_phone(phone).expect("a mobile number");
        let code = self.sms.last_code(&normalised).expect("a code was sent");
        let (status, body, _) = self
            .post_json(
                "/v1/residents/confirm",
                &serde_json::json!({"registration": body["registration"], "code": code}),
            )
            .await;
        assert!(status == 201 || status == 200, "{status} {body}");
        (status, body)
    }

    pub async fn get_as(
        &self,
        path: &str,
        token: &str,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let r = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET");
        read(r).await
    }

    pub async fn post_as(
        &self,
        path: &str,
        token: &str,
        body: &Value,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let r = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("POST");
        read(r).await
    }

    pub async fn delete_as(
        &self,
        path: &str,
        token: &str,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let r = self
            .client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("DELETE");
        read(r).await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let r = self
            .client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("POST");
        read(r).await
    }
}

/// Stops the deadline job with the server task that owns it.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub async fn read(r: reqwest::Response) -> (u16, Value, reqwest::header::HeaderMap) {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body, headers)
}

/// Asserts a problem+json answer with this status and code.
pub fn assert_problem(resp: &(u16, Value, reqwest::header::HeaderMap), status: u16, code: &str) {
    let (s, body, headers) = resp;
    assert_eq!(*s, status, "status for {code}: {body}");
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "content type for {code}"
    );
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "problem without detail: {body}"
    );
}

pub fn repo_path(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The real district outlines of Panjin (GCJ-02 on disk) as WGS-84 district units.
pub fn panjin_districts() -> Vec<Unit> {
    let text = std::fs::read_to_string(repo_path("data/boundaries/panjin_districts.gcj02.geojson"))
        .expect("boundaries");
    let fc: geojson::FeatureCollection = text.parse().expect("FeatureCollection");
    fc.features
        .into_iter()
        .map(|f| {
            let code = UnitCode::parse(f.property("code").and_then(Value::as_str).expect("code"))
                .expect("code");
            let name = f
                .property("name")
                .and_then(Value::as_str)
                .expect("name")
                .to_owned();
            let mut geometry: MultiPolygon<f64> =
                geo::Geometry::<f64>::try_from(f.geometry.expect("geometry"))
                    .expect("geometry")
                    .try_into()
                    .expect("multipolygon");
            geometry.map_coords_in_place(|c| {
                let (x, y) = Datum::Gcj02.to_wgs84(c.x, c.y);
                geo::Coord { x, y }
            });
            Unit {
                level: UnitLevel::District,
                parent: None,
                code,
                name,
                geometry,
                synthetic: false,
            }
        })
        .collect()
}

/// Only 兴隆台区: the demo deployment's area at district level.
pub fn xinglongtai() -> Vec<Unit> {
    panjin_districts()
        .into_iter()
        .filter(|u| u.code.as_str() == "211103")
        .collect()
}

/// The easternmost vertex of a unit's outline (a point on its boundary whose outside is to
/// the east).
pub fn easternmost_vertex(u: &Unit) -> geo::Coord<f64> {
    use geo::CoordsIter;
    u.geometry
        .exterior_coords_iter()
        .max_by(|a, b| a.x.total_cmp(&b.x))
        .expect("non-empty outline")
}

/// 任城区, Jining (a WGS-84 point in the middle of it).
pub const JINING: (f64, f64) = (116.595, 35.41);

/// Today in the deployment's time zone (+08:00), `YYYY-MM-DD`: the day reports made now
/// are counted on.
pub fn deployment_today() -> String {
    let china = chrono::FixedOffset::east_opt(8 * 3600).expect("offset");
    chrono::Utc::now()
        .with_timezone(&china)
        .format("%Y-%m-%d")
        .to_string()
}
