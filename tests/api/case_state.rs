//! Every view of a case shows the state it is in (issue 8, item 4): each live event carries
//! the state right after it, the reports tile layer the current state, and clients hanging
//! up half-way through intake leave no transaction behind.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use citysnap::domain::spatial::tiles::TileId;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;
use crate::workflow::{POINT, STREET, act_ok, report_at, small_deployment};

/// Posts graffiti (category 0106, handled by the street) at [`POINT`]: intake dispatches it.
async fn dispatched_case(app: &TestApp, resident: &str) -> String {
    let (status, body, _) = app
        .post_as(
            "/v1/reports",
            resident,
            &report_at("0106", "墙上有涂鸦", POINT),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["state"], "dispatched", "{body}");
    body["case_id"].as_str().expect("case_id").to_owned()
}

/// The `data:` lines of the SSE text, as JSON.
fn sse_notices(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect()
}

both_backends!(
    each_live_event_carries_the_state_right_after_it,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let dispatcher = app.token("dispatcher", None).await;
        let handler = app.token("handler", Some(STREET)).await;
        let resident = app.resident("13700000001").await;
        let mut stream = app
            .client
            .get(app.url("/v1/events/stream"))
            .bearer_auth(&dispatcher)
            .send()
            .await
            .expect("stream");
        assert_eq!(stream.status(), 200);
        let id = dispatched_case(&app, &resident).await;
        act_ok(&app, &handler, &id, json!({"action": "accept"})).await;
        let mut text = String::new();
        let heard = tokio::time::timeout(Duration::from_secs(10), async {
            while sse_notices(&text).len() < 3 {
                let chunk = stream.chunk().await.expect("chunk").expect("stream open");
                text.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await;
        assert!(heard.is_ok(), "three notices expected: {text}");
        let seen: Vec<(i64, String, String)> = sse_notices(&text)
            .iter()
            .filter(|n| n["case_id"] == id.as_str())
            .map(|n| {
                (
                    n["seq"].as_i64().expect("seq"),
                    n["action"].as_str().expect("action").to_owned(),
                    n["state"].as_str().expect("state").to_owned(),
                )
            })
            .collect();
        let expected = [
            (1, "submit", "submitted"),
            (2, "dispatch", "dispatched"),
            (3, "accept", "accepted"),
        ]
        .map(|(s, a, st)| (s, a.to_owned(), st.to_owned()));
        assert_eq!(seen, expected, "{text}");
    }
);

both_backends!(
    the_reports_tile_layer_shows_the_current_state,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let dispatcher = app.token("dispatcher", None).await;
        let handler = app.token("handler", Some(STREET)).await;
        let resident = app.resident("13700000002").await;
        let id = dispatched_case(&app, &resident).await;
        let t = TileId::containing(POINT.0, POINT.1, 15);
        let path = format!("/tiles/reports/{}/{}/{}.geojson", t.z, t.x, t.y);
        let status_in_tile = || {
            let (app, path, dispatcher, id) = (&app, &path, &dispatcher, &id);
            async move {
                let (status, fc, _) = app.get_as(path, dispatcher).await;
                assert_eq!(status, 200, "{fc}");
                let feature = fc["features"]
                    .as_array()
                    .expect("features")
                    .iter()
                    .find(|f| f["properties"]["case_id"] == id.as_str())
                    .cloned()
                    .expect("the case is in its tile");
                feature["properties"]["status"].clone()
            }
        };
        assert_eq!(status_in_tile().await, "dispatched");
        act_ok(&app, &handler, &id, json!({"action": "accept"})).await;
        assert_eq!(status_in_tile().await, "accepted");
    }
);

/// Counts the warnings sqlx logs for PostgreSQL notices ("there is no transaction in
/// progress", "there is already a transaction in progress"), process-wide: the service
/// runs on the test's runtime threads.
fn notice_warnings() -> Arc<AtomicUsize> {
    static COUNT: OnceLock<Arc<AtomicUsize>> = OnceLock::new();
    COUNT
        .get_or_init(|| {
            use tracing_subscriber::layer::SubscriberExt;
            let count = Arc::new(AtomicUsize::new(0));
            let subscriber = tracing_subscriber::registry().with(NoticeCounter(count.clone()));
            tracing::subscriber::set_global_default(subscriber)
                .expect("this test binary installs no other global subscriber");
            count
        })
        .clone()
}

struct NoticeCounter(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for NoticeCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let m = event.metadata();
        if m.target() == "sqlx::postgres::notice" && *m.level() <= tracing::Level::WARN {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

both_backends!(
    clients_hanging_up_during_intake_leave_no_transaction_behind,
    |backend| async move {
        let warnings = notice_warnings();
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let body = report_at("0106", "墙上有涂鸦", POINT);
        // Clients that give up after 1 to 40 ms, 8 at a time: most hang up while their
        // report is being stored, at every step of it.
        for round in 0..25u64 {
            let sends = (0..8u64).map(|i| {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_millis(1 + (round * 8 + i) % 40))
                    .build()
                    .expect("client");
                let url = app.url("/v1/reports");
                let body = body.clone();
                async move {
                    client
                        .post(url)
                        .json(&body)
                        .send()
                        .await
                        .map(|r| r.status())
                }
            });
            futures::future::join_all(sends).await;
        }
        // Let the abandoned requests finish (or be rolled back), then look. A request still
        // running sits "idle in transaction" between its statements, so on a loaded machine
        // the count is watched for a while: a transaction left behind stays there for good.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        if backend == Backend::Postgres {
            let pool = app.store.postgres_pool().expect("PostGIS pool");
            let mut stuck = i64::MAX;
            for _ in 0..40 {
                stuck = sqlx::query_scalar(
                    "select count(*) from pg_stat_activity
                     where datname = current_database() and state like 'idle in transaction%'",
                )
                .fetch_one(&pool)
                .await
                .expect("pg_stat_activity");
                if stuck == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            assert_eq!(stuck, 0, "connections left inside a transaction after 11 s");
        }
        assert_eq!(
            warnings.load(Ordering::SeqCst),
            0,
            "PostgreSQL warned about a COMMIT/ROLLBACK/BEGIN out of place"
        );
        // Every stored report is a whole case, and intake still works.
        let dispatcher = app.token("dispatcher", None).await;
        let (status, list, _) = app.get_as("/v1/cases?limit=500", &dispatcher).await;
        assert_eq!(status, 200, "{list}");
        for c in list["cases"].as_array().expect("cases") {
            let id = c["case_id"].as_str().expect("id");
            let (status, log, _) = app
                .get_as(&format!("/v1/cases/{id}/events"), &dispatcher)
                .await;
            assert_eq!(status, 200, "{log}");
            assert_eq!(log["events"][0]["action"], "submit", "{log}");
        }
        let (status, body, _) = app.post_json("/v1/reports", &body).await;
        assert_eq!(status, 201, "{body}");
    }
);
