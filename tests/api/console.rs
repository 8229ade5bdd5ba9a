//! The web console's settings (issue 11): `GET /v1/console/config` says whether the
//! deployment configured a raster basemap and in which datum its tiles are drawn.

use serde_json::json;

use citysnap::api::console::{Basemap, BasemapDatum};

use crate::helpers::*;

#[tokio::test]
async fn without_a_basemap_the_console_is_told_none() {
    let app = TestApp::spawn(Backend::Sqlite, &[]).await;
    let (status, body, _) = app.get("/v1/console/config").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"basemap": null}));
}

#[tokio::test]
async fn a_configured_gcj02_basemap_is_served_to_anyone() {
    let url = "https://webrd0{1-4}.is.autonavi.com/appmaptile?style=8&x={x}&y={y}&z={z}";
    let app = TestApp::spawn_with(Backend::Sqlite, &[], |c| {
        c.api.basemap = Some(Basemap {
            url: url.parse().expect("a template"),
            datum: BasemapDatum::Gcj02,
            attribution: Some("© 高德地图".into()),
        });
    })
    .await;
    let (status, body, _) = app.get("/v1/console/config").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"basemap": {"url": url, "datum": "gcj02", "attribution": "© 高德地图"}})
    );
}
