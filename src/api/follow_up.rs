//! Following a report without an account (issue 8, item 11): intake answers each report
//! with a `follow_up_secret`, shown once and stored as its SHA-256 only. Sent back in the
//! `Follow-Up-Secret` header, it opens that case's reporter view (state, deadline, public
//! timeline) and its rating (评价), as the Xinglongtai platform shows every reporter the
//! handling and asks for a score. A header rather than a path, so the secret stays out of
//! access logs, proxies and `Referer`: a web page keeps it in the URL fragment and sends it
//! with `fetch`. A case id alone still opens nothing.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::error::{Problem, json_body_error};
use super::{ApiError, AppState};
use crate::domain::workflow::access::{is_follow_up_shaped, token_digest};
use crate::domain::workflow::case::Rating;

/// The header that carries the secret.
pub const FOLLOW_UP_HEADER: &str = "follow-up-secret";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/follow-up", get(show))
        .route("/v1/follow-up/rating", post(rate))
}

/// The case the request's secret follows: 401 without a secret; 404, the same for a
/// malformed and an unknown one, so that nothing is learnt by trying.
async fn followed_case(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let secret = headers
        .get(FOLLOW_UP_HEADER)
        .ok_or(ApiError::FollowUpMissing)?
        .to_str()
        .map(str::trim)
        .ok()
        .filter(|s| is_follow_up_shaped(s))
        .ok_or(ApiError::FollowUpNotFound)?;
    state
        .store
        .followed_case(&token_digest(secret))
        .await?
        .ok_or(ApiError::FollowUpNotFound)
}

/// `GET /v1/follow-up`: the reporter's view of the case.
#[utoipa::path(get, path = "/v1/follow-up", tag = "reports", operation_id = "follow_up",
    params(("Follow-Up-Secret" = String, Header, description = "The `follow_up` secret intake returned (`fu_…`)")),
    responses(
        (status = 200, description = "The reporter's view of the case", body = super::cases::FollowUpBody),
        (status = 401, description = "`follow_up_required`: no secret sent", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`follow_up_not_found`: malformed or unknown secret", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub(super) async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<super::cases::FollowUpBody>, ApiError> {
    let case_id = followed_case(&state, &headers).await?;
    Ok(Json(super::cases::reporter_view(&state, &case_id).await?))
}

/// `POST /v1/follow-up/rating` `{"score": 1..5, "comment"?, "fixed"?}`: the reporter rates
/// the closed case; answers the view after it.
#[utoipa::path(post, path = "/v1/follow-up/rating", tag = "reports", operation_id = "follow_up_rating",
    params(("Follow-Up-Secret" = String, Header, description = "The `follow_up` secret intake returned (`fu_…`)")),
    request_body(content = super::wire::RatingBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Rated: the reporter's view after it", body = super::cases::FollowUpBody),
        (status = 401, description = "`follow_up_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`follow_up_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`illegal_transition`: the case is not closed yet", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_body`", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub(super) async fn rate(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<super::cases::FollowUpBody>, ApiError> {
    // The secret first: nobody learns the body's schema without one.
    let case_id = followed_case(&state, &headers).await?;
    let rating: Rating = serde_json::from_slice(&body).map_err(json_body_error)?;
    Ok(Json(
        super::cases::rate_as_reporter(&state, &case_id, rating).await?,
    ))
}
