//! The cost of analytics is bounded (issue 8, item 16): over-budget requests are refused
//! before any work, heavy computations beyond the gate's slots and queue get 503 with
//! `Retry-After`, and the rest of the service answers meanwhile.

use std::time::{Duration, Instant};

use citysnap::api::limits::GateSettings;
use h3o::{LatLng, Resolution};
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

/// A few reports around the middle of 兴隆台区, so that the statistics have something to
/// work on.
async fn some_reports(app: &TestApp) {
    let hub = LatLng::new(41.12, 122.07)
        .expect("valid")
        .to_cell(Resolution::Eight);
    for cell in hub.grid_disk::<Vec<_>>(1) {
        let c = LatLng::from(cell);
        for _ in 0..2 {
            let body = json!({
                "description": "负载测试",
                "category": "0301",
                "location": {"lon": c.lng(), "lat": c.lat()},
            });
            let (status, body, _) = app.post_json("/v1/reports", &body).await;
            assert_eq!(status, 201, "{body}");
        }
    }
}

/// Heavy requests sent at once: far more than one slot and two places in the queue.
const PARALLEL: u64 = 24;

both_backends!(
    parallel_heavy_requests_beyond_the_gate_get_503_with_retry_after_while_healthz_answers,
    |backend| async move {
        let app = TestApp::spawn_with(backend, &xinglongtai(), |c| {
            c.api.analytics_gate = GateSettings {
                concurrent: 1,
                queued: 2,
                retry_after_secs: 1,
            };
        })
        .await;
        some_reports(&app).await;

        // 9,999 permutations over the ~1,600 resolution-8 cells: within the budget, and long
        // enough (about 10⁸ additions each) that the requests overlap.
        let heavy = (0..PARALLEL).map(|seed| {
            let app = &app;
            async move {
                app.get(&format!(
                    "/v1/analytics/hotspots?res=8&permutations=9999&seed={seed}"
                ))
                .await
            }
        });
        let probes = async {
            // While the heavy requests run: liveness answers, and a request over the budget
            // is refused with its own code rather than queued (it does no work at all).
            tokio::time::sleep(Duration::from_millis(50)).await;
            let mut slowest = Duration::ZERO;
            for _ in 0..10 {
                let started = Instant::now();
                let (status, body, _) = app.get("/healthz").await;
                assert_eq!(status, 200, "{body}");
                slowest = slowest.max(started.elapsed());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let over = app.get("/v1/analytics/hotspots?res=11").await;
            assert_problem(&over, 422, "too_many_cells");
            let over = app
                .get("/v1/analytics/hotspots?res=10&k=10&permutations=250")
                .await;
            assert_problem(&over, 422, "too_many_cells");
            slowest
        };
        let (answers, slowest_healthz) = tokio::join!(futures::future::join_all(heavy), probes);

        let ok = answers.iter().filter(|(s, _, _)| *s == 200).count();
        let busy: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 503).collect();
        assert_eq!(ok + busy.len(), answers.len(), "only 200 or 503");
        assert!(ok >= 1, "the admitted requests are served");
        assert!(
            busy.len() as u64 >= PARALLEL - 3 - 2,
            "one slot and two queued places: {} of {PARALLEL} refused",
            busy.len()
        );
        for resp in &busy {
            assert_problem(resp, 503, "analytics_busy");
            assert_eq!(resp.2["retry-after"], "1");
            assert_eq!(resp.1["retry_after"], 1);
        }
        // A generous bound: the heavy work runs on blocking threads, so liveness never waits
        // for it (it used to stall for seconds).
        assert!(
            slowest_healthz < Duration::from_secs(2),
            "healthz took {slowest_healthz:?} under load"
        );
        // Once the burst is over, the gate admits again.
        let (status, fc, _) = app
            .get("/v1/analytics/hotspots?res=8&permutations=99&seed=1")
            .await;
        assert_eq!(status, 200, "{fc}");
    }
);

both_backends!(
    heat_maps_and_emerging_hotspots_take_a_slot_too,
    |backend| async move {
        let app = TestApp::spawn_with(backend, &xinglongtai(), |c| {
            c.api.analytics_gate = GateSettings {
                concurrent: 1,
                queued: 0,
                retry_after_secs: 3,
            };
        })
        .await;
        some_reports(&app).await;
        // Hold the only slot, as a long computation would.
        let slot = app
            .state
            .analytics_gate
            .admit()
            .await
            .expect("the free slot");
        for url in [
            "/v1/analytics/hexbins?res=8",
            "/v1/analytics/hotspots?res=8",
            "/v1/analytics/hotspots/emerging?res=8",
        ] {
            let resp = app.get(url).await;
            assert_problem(&resp, 503, "analytics_busy");
            assert_eq!(resp.2["retry-after"], "3", "{url}");
        }
        // Over budget is still refused for what it is.
        assert_problem(
            &app.get("/v1/analytics/hotspots/emerging?res=11").await,
            422,
            "too_many_cells",
        );
        drop(slot);
        for url in [
            "/v1/analytics/hexbins?res=8",
            "/v1/analytics/hotspots?res=8",
            "/v1/analytics/hotspots/emerging?res=8",
        ] {
            let (status, body, _) = app.get(url).await;
            assert_eq!(status, 200, "{url}: {body}");
        }
    }
);
