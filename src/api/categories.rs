//! The category tree: `GET /v1/categories` (what residents choose from) and the admin API to
//! add (`POST /v1/categories`), change (`PUT /v1/categories/{code}`) and retire
//! (`DELETE /v1/categories/{code}`) categories while the service runs. A retired category
//! stays for the reports filed under it but takes no new ones.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::{Caller, signed_in};
use super::error::Problem;
use super::{ApiError, ApiJson, ApiQuery, AppState};
use crate::domain::workflow::case::Role;
use crate::domain::workflow::categories::{Category, Handler};
use crate::store::Store;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/categories", get(list).merge(signed_in(post(create))))
        .route(
            "/v1/categories/{code}",
            get(show).merge(signed_in(put(replace).delete(retire))),
        )
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// Also list retired categories (admins reviewing the tree want them).
    #[serde(default)]
    include_retired: bool,
}

/// `GET /v1/categories`: the categories residents choose from.
#[utoipa::path(get, path = "/v1/categories", tag = "categories", params(ListQuery),
    responses(
        (status = 200, description = "The category tree, majors and minors", body = Vec<Category>),
        (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<Category>>, ApiError> {
    let mut all = state.store.categories().await?;
    all.retain(|c| q.include_retired || !c.retired);
    Ok(Json(all))
}

async fn find(store: &dyn Store, code: &str) -> Result<Category, ApiError> {
    store
        .categories()
        .await?
        .into_iter()
        .find(|c| c.code.as_str() == code)
        .ok_or_else(|| ApiError::CategoryNotFound(code.to_owned()))
}

/// `GET /v1/categories/{code}`: one category, retired or not.
#[utoipa::path(get, path = "/v1/categories/{code}", tag = "categories",
    params(("code" = String, Path, description = "The category code", example = "0302")),
    responses(
        (status = 200, description = "The category", body = Category),
        (status = 404, description = "`category_not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) async fn show(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<Category>, ApiError> {
    Ok(Json(find(state.store.as_ref(), &code).await?))
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::InvalidField {
        code: "invalid_category",
        detail: detail.into(),
    }
}

/// The checks a category file gets, for one category against the stored tree: its parent
/// exists and its code extends the parent's, its department exists, a problem has a time
/// limit only with a handler.
pub async fn check_category(store: &dyn Store, c: &Category) -> Result<(), ApiError> {
    if c.name.trim().is_empty() || c.name.chars().count() > 100 {
        return Err(invalid("name must be 1 to 100 characters"));
    }
    if let Some(parent) = &c.parent {
        if !c.code.as_str().starts_with(parent.as_str()) || c.code == *parent {
            return Err(invalid(format!(
                "code {} must extend its parent's code {parent}",
                c.code
            )));
        }
        find(store, parent.as_str())
            .await
            .map_err(|_| invalid(format!("parent {parent} does not exist")))?;
    }
    if let Some(Handler::Department(d)) = &c.handler {
        let known = crate::domain::workflow::departments::shipped()
            .iter()
            .any(|k| k.code == *d);
        if !known {
            return Err(invalid(format!("department {d} does not exist")));
        }
    }
    Ok(())
}

/// `POST /v1/categories` (admin).
#[utoipa::path(post, path = "/v1/categories", tag = "categories", security(("bearer" = [])),
    request_body(content = Category, content_type = "application/json"),
    responses(
        (status = 201, description = "Added", body = Category),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`category_exists`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_content_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_body`, `invalid_category` (name, parent, department)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(c): ApiJson<Category>,
) -> Result<(StatusCode, Json<Category>), ApiError> {
    caller.with_role(&[Role::Admin], "change categories")?;
    if find(state.store.as_ref(), c.code.as_str()).await.is_ok() {
        return Err(ApiError::Conflict {
            code: "category_exists",
            detail: format!(
                "category {} exists; PUT /v1/categories/{} changes it",
                c.code, c.code
            ),
        });
    }
    check_category(state.store.as_ref(), &c).await?;
    state.store.put_category(&c).await?;
    state.categories.changed();
    Ok((StatusCode::CREATED, Json(c)))
}

/// `PUT /v1/categories/{code}` (admin): the whole category, as it should be from now on.
/// Cases already dispatched keep the deadline they were given.
#[utoipa::path(put, path = "/v1/categories/{code}", tag = "categories", security(("bearer" = [])),
    params(("code" = String, Path, description = "The category code", example = "0302")),
    request_body(content = Category, content_type = "application/json"),
    responses(
        (status = 200, description = "Changed", body = Category),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`category_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_content_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_body`, `invalid_category` (the code differs from the path's, name, parent, department)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    ApiJson(c): ApiJson<Category>,
) -> Result<Json<Category>, ApiError> {
    caller.with_role(&[Role::Admin], "change categories")?;
    find(state.store.as_ref(), &code).await?;
    if c.code.as_str() != code {
        return Err(invalid(format!(
            "the body's code {} differs from the path's {code}",
            c.code
        )));
    }
    check_category(state.store.as_ref(), &c).await?;
    state.store.put_category(&c).await?;
    state.categories.changed();
    Ok(Json(c))
}

/// `DELETE /v1/categories/{code}` (admin): retires it (nothing is deleted).
#[utoipa::path(delete, path = "/v1/categories/{code}", tag = "categories", security(("bearer" = [])),
    params(("code" = String, Path, description = "The category code", example = "0302")),
    responses(
        (status = 200, description = "Retired", body = Category),
        (status = 403, description = "`forbidden`: not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`category_not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) async fn retire(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<Json<Category>, ApiError> {
    caller.with_role(&[Role::Admin], "change categories")?;
    let mut c = find(state.store.as_ref(), &code).await?;
    c.retired = true;
    state.store.put_category(&c).await?;
    state.categories.changed();
    Ok(Json(c))
}
