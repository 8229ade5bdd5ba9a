//! API keys of Open311 clients (GeoReport v2 `api_key`): issued by admins
//! (`POST /v1/open311-keys`, `citysnap open311-key create`) and revoked by them
//! (`DELETE /v1/open311-keys/{id}`, `citysnap open311-key revoke`). A key is shown once,
//! when it is issued; the store keeps its SHA-256 only.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::auth::{Caller, signed_in};
use crate::api::error::Problem;
use crate::api::{ApiError, ApiJson, AppState};
use crate::domain::workflow::access::{new_api_key, new_api_key_id, token_digest};
use crate::domain::workflow::case::Role;
use crate::store::{ApiKey, Store, StoreResult};

/// Longest name of a key's holder, in characters.
const NAME_MAX_CHARS: usize = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/open311-keys", signed_in(post(create)))
        .route("/v1/open311-keys/{id}", signed_in(delete(revoke)))
}

/// Issues a key to `name`: the key as stored, and the key itself (shown this once).
pub async fn issue_api_key(store: &dyn Store, name: &str) -> StoreResult<(ApiKey, String)> {
    let secret = new_api_key();
    let key = ApiKey {
        id: new_api_key_id(),
        name: name.to_owned(),
        created_at: Utc::now(),
    };
    store.create_api_key(&key, &token_digest(&secret)).await?;
    Ok((key, secret))
}

/// Who a key is for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyRequest {
    /// The integration holding it, 1 to 100 characters.
    #[schema(example = "FixMyStreet Panjin")]
    name: String,
}

/// A key just issued.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedKey {
    #[schema(example = "k-0d9c86a0d9c86a0d9c86a0d9c86a0d9c")]
    id: String,
    name: String,
    /// The `api_key` to post with; shown this once.
    #[schema(example = "o311_0d9c86a0d9c86a0d9c86a0d9c86a0d9c0d9c86a0d9c86a0d9c86a0d9c86a0d9c")]
    api_key: String,
}

/// A key revoked.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedKey {
    id: String,
    /// Whether the key was live until now.
    revoked: bool,
}

/// `POST /v1/open311-keys` (admin): a new API key for an Open311 client.
#[utoipa::path(post, path = "/v1/open311-keys", tag = "open311", security(("bearer" = [])),
    request_body(content = KeyRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Issued; the key is shown this once", body = IssuedKey),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_content_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_body`, `invalid_name`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(r): ApiJson<KeyRequest>,
) -> Result<(StatusCode, Json<IssuedKey>), ApiError> {
    caller.with_role(&[Role::Admin], "issue API keys")?;
    let name = r.name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > NAME_MAX_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::InvalidField {
            code: "invalid_name",
            detail: format!("name must be 1 to {NAME_MAX_CHARS} characters, no control characters"),
        });
    }
    let (key, secret) = issue_api_key(state.store.as_ref(), name).await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedKey {
            id: key.id,
            name: key.name,
            api_key: secret,
        }),
    ))
}

/// `DELETE /v1/open311-keys/{id}` (admin): revokes a key; requests posted with it stay.
#[utoipa::path(delete, path = "/v1/open311-keys/{id}", tag = "open311", security(("bearer" = [])),
    params(("id" = String, Path, description = "The key's id (`k-…`)")),
    responses(
        (status = 200, description = "Revoked (`revoked: false`: it was not live)", body = RevokedKey),
        (status = 403, description = "`forbidden`: not an admin", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RevokedKey>, ApiError> {
    caller.with_role(&[Role::Admin], "revoke API keys")?;
    let revoked = state.store.revoke_api_key(&id, Utc::now()).await?;
    Ok(Json(RevokedKey { id, revoked }))
}
