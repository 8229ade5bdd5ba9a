//! `citysnap import boundaries` through the real binary, on both stores: a valid file loads,
//! a broken one is refused whole with a report and changes nothing.

use std::process::Command;

use citysnap::app::Config;

use crate::both_backends;
use crate::helpers::*;

fn import(config: &Config, file: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_citysnap"));
    cmd.args(["import", "boundaries"])
        .arg(file)
        .args(extra)
        .arg("--data-dir")
        .arg(&config.data_dir);
    match &config.database_url {
        Some(url) => cmd.env("DATABASE_URL", url),
        None => cmd.env_remove("DATABASE_URL"),
    };
    cmd.output().expect("run citysnap import")
}

both_backends!(
    importing_real_districts_loads_them_and_a_broken_file_changes_nothing,
    |backend| async move {
        let dir = tempfile::tempdir().unwrap();
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_pg_database().await),
        };
        let config = Config::new(database_url, dir.path().join("data"));

        let panjin = repo_path("data/boundaries/panjin_districts.gcj02.geojson");
        let out = import(
            &config,
            &panjin,
            &["--level", "district", "--datum", "gcj02"],
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // AMap draws exteriors clockwise: fixed, and said so.
        assert!(stdout.contains("fixed wrong_winding"), "{stdout}");

        let store = config.open_store().await.unwrap();
        let mut units = store.load_units().await.unwrap();
        units.sort_by(|a, b| a.code.cmp(&b.code));
        let names: Vec<&str> = units.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["双台子区", "兴隆台区", "大洼区", "盘山县"]);
        assert_eq!(
            units[3].geometry.0.len(),
            2,
            "盘山县 keeps its two polygons in one unit"
        );

        // A file with an unclosed ring and a duplicate code: refused, with both findings.
        let broken = dir.path().join("broken.geojson");
        std::fs::write(
        &broken,
        r#"{"type": "FeatureCollection", "features": [
          {"type": "Feature", "properties": {"code": "211102", "name": "甲"},
           "geometry": {"type": "Polygon", "coordinates": [[[122.0, 41.0], [122.1, 41.0], [122.1, 41.1], [122.0, 41.1]]]}},
          {"type": "Feature", "properties": {"code": "211103", "name": "乙"},
           "geometry": {"type": "Polygon", "coordinates": [[[122.2, 41.0], [122.3, 41.0], [122.3, 41.1], [122.2, 41.0]]]}},
          {"type": "Feature", "properties": {"code": "211103", "name": "丙"},
           "geometry": {"type": "Polygon", "coordinates": [[[122.4, 41.0], [122.5, 41.0], [122.5, 41.1], [122.4, 41.0]]]}}]}"#,
    )
    .unwrap();
        let out = import(&config, &broken, &["--level", "district", "--json"]);
        assert!(!out.status.success());
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
        let kinds: Vec<&str> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["kind"].as_str())
            .collect();
        assert!(
            kinds.contains(&"unclosed_ring") && kinds.contains(&"duplicate_code"),
            "{report}"
        );
        assert_eq!(
            store.unit_count().await.unwrap(),
            4,
            "nothing half-imported"
        );
    }
);
