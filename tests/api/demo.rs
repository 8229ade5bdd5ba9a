//! The demo deployment end to end: 兴隆台区 with its synthetic streets, communities and
//! grids, through the library and through the real binary the README tells people to run.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use citysnap::demo::jurisdiction::{build_demo, demo_district, interior_point_of};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;

fn bohai_report(p: geo::Coord<f64>) -> Value {
    json!({
        "description": "小区门口暴露垃圾三天没人清理",
        "category": "0101",
        "location": {"lon": p.x, "lat": p.y}
    })
}

both_backends!(
    a_report_in_bohai_street_resolves_down_to_its_grid,
    |backend| async move {
        let units = build_demo(&demo_district());
        let bohai = interior_point_of(&units, "渤海街道").expect("渤海街道 exists in the demo");
        let app = TestApp::spawn(backend, &units).await;
        let (status, body, _) = app.post_json("/v1/reports", &bohai_report(bohai)).await;
        assert_eq!(status, 201, "{body}");
        let u = &body["units"];
        assert_eq!(
            u["district"],
            json!({"kind": "unit", "code": "211103", "name": "兴隆台区", "level": "district"})
        );
        assert_eq!(u["street"]["name"], "渤海街道");
        let street = u["street"]["code"].as_str().unwrap();
        let community = u["community"]["code"].as_str().unwrap();
        let grid = u["grid"]["code"].as_str().unwrap();
        assert!(
            street.starts_with("211103") && street.len() == 9,
            "{street}"
        );
        assert!(
            community.starts_with(street) && community.len() == 12,
            "{community}"
        );
        assert!(grid.starts_with(community) && grid.len() == 15, "{grid}");
        assert!(u["grid"]["name"].as_str().is_some_and(|n| !n.is_empty()));

        let resp = app
            .post_json(
                "/v1/reports",
                &bohai_report(geo::Coord {
                    x: JINING.0,
                    y: JINING.1,
                }),
            )
            .await;
        assert_problem(&resp, 422, "out_of_area");
        assert_eq!(resp.1["service_area"], "兴隆台区");
    }
);

/// A free loopback port for the binary (bound, read and released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_healthy(client: &reqwest::Client, base: &str, server: &mut Server) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!("citysnap serve exited early: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "citysnap serve --demo did not become ready in 120 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What the README promises: `serve --demo` on a fresh data directory serves the demo, and
/// started again on the same directory it reuses what it stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_run_command_serves_the_demo_and_keeps_reports_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let start = |port: u16| {
        Server(
            Command::new(env!("CARGO_BIN_EXE_citysnap"))
                .args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
                .arg("--data-dir")
                .arg(dir.path())
                .env_remove("DATABASE_URL")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start citysnap"),
        )
    };
    let client = reqwest::Client::new();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start(port);
    wait_healthy(&client, &base, &mut server).await;

    let units = build_demo(&demo_district());
    let bohai = interior_point_of(&units, "渤海街道").unwrap();
    let r = client
        .post(format!("{base}/v1/reports"))
        .json(&bohai_report(bohai))
        .send()
        .await
        .unwrap();
    let (status, body, _) = read(r).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["units"]["street"]["name"], "渤海街道");
    assert_eq!(
        body["units"]["grid"]["code"].as_str().map(str::len),
        Some(15)
    );
    let case_id = body["case_id"].as_str().unwrap().to_owned();
    let r = client
        .get(format!(
            "{base}/v1/resolve?lon={}&lat={}",
            JINING.0, JINING.1
        ))
        .send()
        .await
        .unwrap();
    assert_problem(&read(r).await, 422, "out_of_area");
    drop(server);

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start(port);
    wait_healthy(&client, &base, &mut server).await;
    // `citysnap token create` prints the token as its last line.
    let out = Command::new(env!("CARGO_BIN_EXE_citysnap"))
        .args(["token", "create", "--role", "dispatcher", "--data-dir"])
        .arg(dir.path())
        .env_remove("DATABASE_URL")
        .output()
        .expect("citysnap token create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout
        .lines()
        .last()
        .expect("a token line")
        .trim()
        .to_owned();
    assert!(token.starts_with("cs_"), "{stdout}");
    let r = client
        .get(format!("{base}/v1/reports/{case_id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (status, shown, _) = read(r).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["units"]["street"]["name"], "渤海街道");
}
