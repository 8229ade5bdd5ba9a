//! The web console (issue 11) at `/`: the bundle `web/` builds (TypeScript, Vite,
//! OpenLayers), embedded in the binary by `build.rs` + rust-embed so that the release binary
//! serves it from anywhere. The pages are clients of the public API like any other.
//!
//! `GET /v1/console/config` tells the console what the deployment configured for it: today
//! an optional raster basemap (`serve --basemap-url`, `--basemap-datum`). Without one the
//! console draws only the deployment's own boundaries; with a GCJ-02 one (AMap, Tencent) it
//! warps the tiles onto WGS-84, where every coordinate citysnap serves lies.

use std::fmt;
use std::str::FromStr;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Serialize, Serializer};
use utoipa::ToSchema;

use super::{ApiError, AppState};

/// An XYZ tile URL template: `http(s)://…` or a same-origin path `/…`, with `{z}`, `{x}` and
/// `{y}` (or `{-y}`, TMS rows); OpenLayers' `{a-c}` / `{1-4}` subdomain ranges are allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasemapUrl(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BasemapUrlError {
    #[error("a basemap URL starts with http://, https:// or / (a path on this server)")]
    Scheme,
    #[error("a basemap URL template needs {{z}}, {{x}} and {{y}} (or {{-y}})")]
    Placeholders,
    #[error("a basemap URL has no spaces or control characters and at most 2000 characters")]
    Characters,
}

impl FromStr for BasemapUrl {
    type Err = BasemapUrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.len() > 2000 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(BasemapUrlError::Characters);
        }
        let lower = s.to_ascii_lowercase();
        let same_origin = s.starts_with('/') && !s.starts_with("//");
        if !(lower.starts_with("https://") || lower.starts_with("http://") || same_origin) {
            return Err(BasemapUrlError::Scheme);
        }
        if !(s.contains("{z}") && s.contains("{x}") && (s.contains("{y}") || s.contains("{-y}"))) {
            return Err(BasemapUrlError::Placeholders);
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for BasemapUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for BasemapUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// The datum a basemap's tiles are drawn in. Baidu's BD-09 maps use a tiling of their own
/// and are not supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BasemapDatum {
    /// OpenStreetMap, Tianditu (天地图) and most others: drawn as they come.
    #[default]
    Wgs84,
    /// AMap (高德) and Tencent maps: shifted by the WGS-84 → GCJ-02 offset (about 500 m).
    Gcj02,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown basemap datum {0:?}; expected wgs84 or gcj02")]
pub struct UnknownBasemapDatum(String);

impl FromStr for BasemapDatum {
    type Err = UnknownBasemapDatum;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "wgs84" | "wgs-84" => Ok(Self::Wgs84),
            "gcj02" | "gcj-02" => Ok(Self::Gcj02),
            _ => Err(UnknownBasemapDatum(s.to_owned())),
        }
    }
}

/// A raster basemap under the console's maps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Basemap {
    /// XYZ tile URL template (`{z}`, `{x}`, `{y}` or `{-y}`; `{a-c}` / `{1-4}` subdomains).
    #[schema(value_type = String, example = "https://webrd0{1-4}.is.autonavi.com/appmaptile?style=8&x={x}&y={y}&z={z}")]
    pub url: BasemapUrl,
    pub datum: BasemapDatum,
    /// Credit shown on the map, as the tile provider requires.
    pub attribution: Option<String>,
}

/// What the console reads at start.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsoleConfig {
    /// The raster basemap, or `null`: only the deployment's own boundaries are drawn.
    basemap: Option<Basemap>,
}

#[derive(rust_embed::Embed)]
#[folder = "web/dist"]
struct Bundle;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*file}", get(asset))
        .route("/v1/console/config", get(config))
}

/// `GET /v1/console/config`: the deployment's settings for the web console.
#[utoipa::path(get, path = "/v1/console/config", tag = "console", operation_id = "config",
    responses((status = 200, description = "The console's settings", body = ConsoleConfig)))]
pub(super) async fn config(State(state): State<AppState>) -> Json<ConsoleConfig> {
    Json(ConsoleConfig {
        basemap: state.settings.basemap.clone(),
    })
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn serve(path: &str, cache: &'static str) -> Result<Response, ApiError> {
    let file = Bundle::get(path).ok_or_else(|| ApiError::RouteNotFound(format!("/{path}")))?;
    let mut response = file.data.into_owned().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Ok(response)
}

/// The page; never cached, so a new release's asset names are picked up at once.
async fn index() -> Result<Response, ApiError> {
    serve("index.html", "no-cache")
}

/// Bundled assets carry a content hash in their names: cached for a year.
async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    serve(
        &format!("assets/{file}"),
        "public, max-age=31536000, immutable",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basemap_urls_are_xyz_templates() {
        for ok in [
            "https://webrd0{1-4}.is.autonavi.com/appmaptile?style=8&x={x}&y={y}&z={z}",
            "http://tiles.example/{z}/{x}/{-y}.png",
            "/basemap/{z}/{x}/{y}.png",
        ] {
            assert_eq!(
                ok.parse::<BasemapUrl>().map(|u| u.to_string()),
                Ok(ok.to_owned())
            );
        }
        assert_eq!(
            "ftp://x/{z}/{x}/{y}".parse::<BasemapUrl>(),
            Err(BasemapUrlError::Scheme)
        );
        assert_eq!(
            "//cdn/{z}/{x}/{y}".parse::<BasemapUrl>(),
            Err(BasemapUrlError::Scheme)
        );
        assert_eq!(
            "https://x/{z}/{x}".parse::<BasemapUrl>(),
            Err(BasemapUrlError::Placeholders)
        );
        assert_eq!(
            "https://x/{z}/{x}/{y} .png".parse::<BasemapUrl>(),
            Err(BasemapUrlError::Characters)
        );
    }

    #[test]
    fn basemap_datums_parse() {
        assert_eq!("GCJ-02".parse::<BasemapDatum>(), Ok(BasemapDatum::Gcj02));
        assert_eq!("wgs84".parse::<BasemapDatum>(), Ok(BasemapDatum::Wgs84));
        assert!("bd09".parse::<BasemapDatum>().is_err());
    }
}
