//! The web console (issue 11) at `/`: the bundle `web/` builds (TypeScript, Vite,
//! OpenLayers), embedded in the binary by `build.rs` + rust-embed so that the release binary
//! serves it from anywhere. The pages are clients of the public API like any other.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::{ApiError, AppState};

#[derive(rust_embed::Embed)]
#[folder = "web/dist"]
struct Bundle;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*file}", get(asset))
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
