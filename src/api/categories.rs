//! The category list residents choose from.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::{ApiError, AppState};
use crate::domain::categories::Category;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/categories", get(list))
}

async fn list(State(state): State<AppState>) -> Result<Json<Vec<Category>>, ApiError> {
    Ok(Json(state.store.categories().await?))
}
