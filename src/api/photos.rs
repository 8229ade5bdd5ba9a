//! Reading media back (issue 11: the case panel and the resident's timeline show photos):
//! `GET /v1/reports/{case_id}/media/{seq}` for a report's own photos, voice and video, and
//! `GET /v1/cases/{case_id}/media/{*key}` for the photos a case's events name (a handler's
//! "after" photos, notes). Both answer only callers who may see the case, exactly like
//! `GET /v1/reports/{case_id}` (anything else is the same 404), and only for keys that
//! case names, so a key alone opens nothing. Stored copies have their location metadata
//! stripped already.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::auth::{Caller, signed_in};
use super::error::Problem;
use super::{ApiError, AppState};
use crate::media::{MediaKey, StorageError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/reports/{case_id}/media/{seq}",
            signed_in(get(report_medium)),
        )
        .route(
            "/v1/cases/{case_id}/media/{*key}",
            signed_in(get(case_photo)),
        )
}

async fn bytes_of(state: &AppState, key: &str, media_type: &str) -> Result<Response, ApiError> {
    let missing = || ApiError::RouteNotFound(format!("media {key}"));
    let key = MediaKey::parse(key).map_err(|_| missing())?;
    let bytes = match state.media.get(&key).await {
        Ok(b) => b,
        Err(StorageError::NotFound(_)) => return Err(missing()),
        Err(e) => return Err(ApiError::Internal(format!("reading {key:?}: {e}"))),
    };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    let media_type = HeaderValue::from_str(media_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, media_type);
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    Ok(response)
}

async fn check_visible(state: &AppState, caller: &Caller, case_id: &str) -> Result<(), ApiError> {
    let p = caller.principal()?;
    if crate::service::workflow::visible_to(state, p, case_id).await? {
        Ok(())
    } else {
        Err(ApiError::CaseNotFound(case_id.to_owned()))
    }
}

/// `GET /v1/reports/{case_id}/media/{seq}`: the report's `seq`-th medium (the `seq` of its
/// `media` list).
#[utoipa::path(get, path = "/v1/reports/{case_id}/media/{seq}", tag = "reports", security(("bearer" = [])),
    params(("case_id" = String, Path), ("seq" = i32, Path, minimum = 1)),
    responses(
        (status = 200, description = "The medium's bytes (location metadata stripped)", body = super::wire::PhotoBytes, content_type = "application/octet-stream"),
        (status = 404, description = "`case_not_found`, `report_not_found`, `not_found` (also a `seq` that is no medium's number)", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip(state, caller))]
async fn report_medium(
    State(state): State<AppState>,
    caller: Caller,
    Path((case_id, seq)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    check_visible(&state, &caller, &case_id).await?;
    let not_found = || ApiError::RouteNotFound(format!("/v1/reports/{case_id}/media/{seq}"));
    // Any text may stand where a number is expected: no such medium, not a malformed request.
    let seq: i32 = seq.parse().map_err(|_| not_found())?;
    let report = state
        .store
        .get_report(&case_id)
        .await?
        .ok_or_else(|| ApiError::ReportNotFound(case_id.clone()))?;
    let m = report
        .media
        .iter()
        .find(|m| m.seq == seq)
        .ok_or_else(not_found)?;
    bytes_of(&state, &m.storage_key, &m.media_type).await
}

/// `GET /v1/cases/{case_id}/media/{*key}`: a photo one of the case's events names.
#[utoipa::path(get, path = "/v1/cases/{case_id}/media/{key}", tag = "cases", security(("bearer" = [])),
    params(("case_id" = String, Path), ("key" = String, Path, description = "The photo's key as the event names it, e.g. `media/….jpg` (its `/` included)")),
    responses(
        (status = 200, description = "The photo's bytes", body = super::wire::PhotoBytes, content_type = "application/octet-stream"),
        (status = 404, description = "`case_not_found`, `not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip(state, caller))]
async fn case_photo(
    State(state): State<AppState>,
    caller: Caller,
    Path((case_id, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    check_visible(&state, &caller, &case_id).await?;
    let events = state.store.case_events(&case_id).await?;
    let named = events.iter().any(|e| {
        use crate::domain::workflow::case::Action;
        let photos: &[crate::domain::workflow::case::Text] = match &e.event.action {
            Action::Resolve(r) => r.after_photos.as_slice(),
            Action::Progress(n) | Action::Reinspect(n) => &n.photos,
            _ => &[],
        };
        photos.iter().any(|p| p.as_str() == key)
    });
    if !named {
        return Err(ApiError::RouteNotFound(format!(
            "/v1/cases/{case_id}/media/{key}"
        )));
    }
    let media_type = match key.rsplit('.').next() {
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("heic") => "image/heic",
        _ => "image/jpeg",
    };
    bytes_of(&state, &key, media_type).await
}
