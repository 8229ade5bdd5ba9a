//! The rendered-tile cache (issue 10, "Interactive speed"): a warm tile is served from
//! memory with its ETag; a report evicts the tiles that hold it, at every zoom, and no
//! other; the public never gets a tile drawn for staff; new boundaries redraw the outlines.

use citysnap::api::tiles::cache::TileKey;
use citysnap::api::tiles::{Format, Layer, TileFilters, TileRequest, Viewer};
use citysnap::domain::spatial::tiles::TileId;
use serde_json::Value;

use crate::both_backends;
use crate::helpers::*;
use crate::tiles::{DX, DY, HERE, decode_mvt, geojson_counts, get_raw, tile_path};
use crate::workflow::{GRID, OTHER_GRID, small_deployment};

/// The cache key of an unfiltered tile as `viewer` asks for it.
fn key(layer: Layer, tile: TileId, format: Format, viewer: Viewer) -> TileKey {
    TileKey::of(
        &TileRequest {
            layer,
            tile,
            format,
            filters: TileFilters::default(),
        },
        viewer,
    )
    .expect("a cached layer")
}

/// Submits a report at (`lon`, `lat`) and returns once this service has announced its
/// last event. On PostGIS the announcement comes back through `LISTEN` after the answer,
/// and evicts the report's tiles once more: waiting for it keeps that eviction from landing
/// in the middle of what a test checks next.
async fn report(app: &TestApp, lon: f64, lat: f64) {
    let mut notices = app.state.notices.subscribe();
    let body = serde_json::json!({
        "description": "瓦片缓存测试 (tile cache test)",
        "category": "0301",
        "location": {"lon": lon, "lat": lat},
    });
    let (status, body, _) = app.post_json("/v1/reports", &body).await;
    assert_eq!(status, 201, "{body}");
    let (case_id, state) = (body["case_id"].clone(), body["state"].clone());
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let n = notices.recv().await.expect("the notice channel is open");
            if n.case_id == case_id && n.state == state {
                return;
            }
        }
    })
    .await
    .expect("the report's last event is announced within 10 s");
}

/// Status, ETag and body of a GET.
async fn fetch(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> (u16, String, Vec<u8>) {
    let (status, h, body) = get_raw(app, path, headers).await;
    let etag = h
        .get("etag")
        .map(|v| v.to_str().expect("etag").to_owned())
        .unwrap_or_default();
    (status, etag, body)
}

/// The `count` of every hexagon of an MVT hexbins tile (a 204 is none).
fn mvt_counts(status: u16, body: &[u8]) -> Vec<u64> {
    if status == 204 {
        return Vec::new();
    }
    assert_eq!(status, 200);
    decode_mvt(body, "hexbins")
        .into_iter()
        .map(|(_, _, props)| props["count"].as_u64().expect("count"))
        .collect()
}

both_backends!(
    a_warm_tile_is_served_from_the_cache_with_its_etag_and_304,
    |backend| async move {
        let app = TestApp::spawn_with(backend, &xinglongtai(), |c| c.api.tile_min_count = 1).await;
        report(&app, HERE.0, HERE.1).await;
        let t = TileId::containing(HERE.0, HERE.1, 14);
        let path = tile_path("hexbins", t, "mvt");
        let k = key(Layer::Hexbins, t, Format::Mvt, Viewer::Public);
        assert!(app.state.tile_cache.get(&k).is_none(), "cold");

        let (status, etag, body) = fetch(&app, &path, &[]).await;
        assert_eq!(status, 200);
        assert!(etag.starts_with("W/\""), "{etag}");
        let kept = app.state.tile_cache.get(&k).expect("the tile is kept");
        assert_eq!(kept.body().map(|b| b.to_vec()), Some(body.clone()));

        let again = fetch(&app, &path, &[]).await;
        assert_eq!(again, (200, etag.clone(), body));
        let (status, same, empty) = fetch(&app, &path, &[("if-none-match", &etag)]).await;
        assert_eq!((status, same, empty.len()), (304, etag.clone(), 0));
        // The gzip copy is the same tile under the same ETag.
        let (status, gz_etag, _) = fetch(&app, &path, &[("accept-encoding", "gzip")]).await;
        assert_eq!((status, gz_etag), (200, etag));

        // An empty tile is kept too, and stays a 204.
        let empty = TileId::containing(HERE.0 - 0.05, HERE.1 - 0.05, 14);
        for _ in 0..2 {
            let (status, _, body) = fetch(&app, &tile_path("hexbins", empty, "mvt"), &[]).await;
            assert_eq!((status, body.len()), (204, 0));
        }
        let k = key(Layer::Hexbins, empty, Format::Mvt, Viewer::Public);
        assert!(app.state.tile_cache.get(&k).is_some());
    }
);

both_backends!(
    a_report_redraws_the_tiles_that_hold_it_at_every_zoom_and_no_other,
    |backend| async move {
        let app = TestApp::spawn_with(backend, &xinglongtai(), |c| c.api.tile_min_count = 1).await;
        // A report here, and one 3.4 km east: another zoom-14 tile, beyond the reach of
        // this one's hexagons.
        let far = (HERE.0 + 0.04, HERE.1);
        report(&app, HERE.0, HERE.1).await;
        report(&app, far.0, far.1).await;
        let z10 = TileId::containing(HERE.0, HERE.1, 10);
        let z14 = TileId::containing(HERE.0, HERE.1, 14);
        let far14 = TileId::containing(far.0, far.1, 14);
        assert_ne!(z14, far14);
        let z10_path = tile_path("hexbins", z10, "mvt");
        let z14_path = tile_path("hexbins", z14, "geojson");
        let far_path = tile_path("hexbins", far14, "mvt");

        let (_, z10_etag, z10_body) = fetch(&app, &z10_path, &[]).await;
        let (_, z14_etag, _) = fetch(&app, &z14_path, &[]).await;
        let (status, far_etag, far_body) = fetch(&app, &far_path, &[]).await;
        assert_eq!(mvt_counts(200, &z10_body).iter().sum::<u64>(), 2);
        assert_eq!(geojson_counts(&app, z14, "").await.values().sum::<i64>(), 1);
        assert_eq!(mvt_counts(status, &far_body), [1]);

        // A second report 30 m from the first: same tiles at zooms 10 and 14.
        let next = (HERE.0 + 30.0 * DX, HERE.1 + 30.0 * DY);
        assert_eq!(TileId::containing(next.0, next.1, 14), z14);
        report(&app, next.0, next.1).await;

        let far_key = key(Layer::Hexbins, far14, Format::Mvt, Viewer::Public);
        assert!(
            app.state.tile_cache.get(&far_key).is_some(),
            "the far tile is still kept"
        );
        for (path, old) in [(&z10_path, &z10_etag), (&z14_path, &z14_etag)] {
            let (status, etag, _) = fetch(&app, path, &[("if-none-match", old)]).await;
            assert_eq!(status, 200, "{path} changed");
            assert_ne!(&etag, old, "{path}");
        }
        let (status, _, body) = fetch(&app, &z10_path, &[]).await;
        assert_eq!(mvt_counts(status, &body).iter().sum::<u64>(), 3);
        assert_eq!(geojson_counts(&app, z14, "").await.values().sum::<i64>(), 2);
        let (status, etag, _) = fetch(&app, &far_path, &[("if-none-match", &far_etag)]).await;
        assert_eq!((status, etag), (304, far_etag));
    }
);

both_backends!(
    the_public_never_gets_a_tile_drawn_for_staff,
    |backend| async move {
        // k = 3 (the default): one report is hidden from the public.
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        report(&app, HERE.0, HERE.1).await;
        let token = app.token("dispatcher", None).await;
        let bearer = format!("Bearer {token}");
        let staff = [("authorization", bearer.as_str())];

        // Staff first, then the public, at zoom 14; the other way round at zoom 12.
        let z14 = tile_path("hexbins", TileId::containing(HERE.0, HERE.1, 14), "mvt");
        let (status, _, body) = fetch(&app, &z14, &staff).await;
        assert_eq!(mvt_counts(status, &body), [1], "staff see the one report");
        let (status, _, body) = fetch(&app, &z14, &[]).await;
        assert_eq!((status, body.len()), (204, 0), "k-anonymous");

        let z12 = tile_path("hexbins", TileId::containing(HERE.0, HERE.1, 12), "mvt");
        let (status, _, _) = fetch(&app, &z12, &[]).await;
        assert_eq!(status, 204);
        let (status, _, body) = fetch(&app, &z12, &staff).await;
        assert_eq!(mvt_counts(status, &body), [1]);

        // Two more reports reach k: the public tile is redrawn, not kept at 204.
        for _ in 0..2 {
            report(&app, HERE.0, HERE.1).await;
        }
        let (status, _, body) = fetch(&app, &z14, &[]).await;
        assert_eq!(mvt_counts(status, &body), [3]);
    }
);

both_backends!(new_boundaries_redraw_the_grid_tiles, |backend| async move {
    let app = TestApp::spawn(backend, &small_deployment()).await;
    report(&app, HERE.0, HERE.1).await;
    let t = TileId::containing(HERE.0, HERE.1, 14);
    let path = tile_path("grids", t, "geojson");
    let codes = |body: &[u8]| -> Vec<String> {
        let fc: Value = serde_json::from_slice(body).expect("GeoJSON");
        fc["features"]
            .as_array()
            .expect("features")
            .iter()
            .map(|f| f["properties"]["code"].as_str().expect("code").to_owned())
            .collect()
    };
    let (status, etag, body) = fetch(&app, &path, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(codes(&body), [GRID, OTHER_GRID]);
    // Reports do not change outlines: the tile stays kept.
    report(&app, HERE.0, HERE.1).await;
    let k = key(Layer::Grids, t, Format::GeoJson, Viewer::Public);
    assert!(app.state.tile_cache.get(&k).is_some());

    // The other grid is removed, as a boundary import would.
    let units: Vec<_> = small_deployment()
        .into_iter()
        .filter(|u| u.code.as_str() != OTHER_GRID)
        .collect();
    app.store
        .replace_units(&units)
        .await
        .expect("replace units");
    let j = app
        .config
        .load_jurisdiction(app.store.as_ref())
        .await
        .expect("jurisdiction")
        .expect("units");
    app.state.set_jurisdiction(j);

    let (status, new_etag, body) = fetch(&app, &path, &[("if-none-match", &etag)]).await;
    assert_eq!(status, 200);
    assert_ne!(new_etag, etag);
    assert_eq!(codes(&body), [GRID]);
});
