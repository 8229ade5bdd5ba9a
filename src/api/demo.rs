//! Demo sign-in (issue 11): with `serve --demo` only, the console lists the demo's synthetic
//! principals by role and hands out a token for the one chosen, so that a visitor can try
//! every role without a command line. Tokens go to synthetic principals only (the store
//! checks), and the endpoints refuse to work when the server listens on a non-loopback
//! address unless `--demo-sign-in-anywhere` says so: a demo reachable from a network must
//! not hand out dispatcher tokens to whoever asks by accident.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::IssuedToken;
use super::error::Problem;
use super::{ApiError, ApiJson, AppState};
use crate::domain::workflow::access::{new_token, token_digest};
use crate::domain::workflow::case::Role;

/// Whether the demo sign-in answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DemoSignIn {
    /// Not a demo: the endpoints do not exist (404).
    #[default]
    Off,
    /// A demo on a loopback address, or explicitly allowed elsewhere.
    Open,
    /// A demo listening on this non-loopback address without the flag: 403.
    Refused(String),
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/demo/principals", get(principals))
        .route("/v1/demo/sign-in", post(sign_in))
}

fn check(state: &AppState, path: &str) -> Result<(), ApiError> {
    match &state.settings.demo_sign_in {
        DemoSignIn::Open => Ok(()),
        DemoSignIn::Off => Err(ApiError::RouteNotFound(path.to_owned())),
        DemoSignIn::Refused(addr) => Err(ApiError::Forbidden(format!(
            "demo sign-in is off because the server listens on {addr}, which is not a loopback \
             address; start it with --demo-sign-in-anywhere to allow it, or sign in with a token \
             (citysnap token create)"
        ))),
    }
}

/// `GET /v1/demo/principals`: the synthetic principals, grouped by role.
#[utoipa::path(get, path = "/v1/demo/principals", tag = "auth",
    responses(
        (status = 200, description = "The demo's principals by role", body = DemoPrincipals),
        (status = 403, description = "`forbidden`: demo sign-in is off on a non-loopback address", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: not a demo deployment", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip(state))]
async fn principals(State(state): State<AppState>) -> Result<Json<DemoPrincipals>, ApiError> {
    check(&state, "/v1/demo/principals")?;
    let all = state.store.demo_principals().await?;
    let j = state.jurisdiction().ok();
    let mut roles: BTreeMap<Role, Vec<DemoPrincipal>> = BTreeMap::new();
    for p in all {
        let unit_name = match (&j, &p.unit) {
            (Some(j), Some(u)) => crate::domain::spatial::units::UnitCode::parse(u)
                .ok()
                .and_then(|c| j.by_code(&c))
                .map(|id| j.unit(id).name.clone()),
            _ => None,
        };
        roles.entry(p.role).or_default().push(DemoPrincipal {
            id: p.id,
            role: p.role,
            unit: p.unit,
            unit_name,
            name: p.name,
        });
    }
    Ok(Json(DemoPrincipals {
        synthetic: true,
        roles,
    }))
}

/// The demo's synthetic principals, by role (`GET /v1/demo/principals`).
#[derive(Debug, Serialize, ToSchema)]
pub struct DemoPrincipals {
    /// Always `true`: these people do not exist.
    synthetic: bool,
    /// The principals of each role that has any, keyed by role.
    #[schema(value_type = BTreeMap<String, Vec<DemoPrincipal>>)]
    roles: BTreeMap<Role, Vec<DemoPrincipal>>,
}

/// A demo principal: who a visitor can sign in as.
#[derive(Debug, Serialize, ToSchema)]
pub struct DemoPrincipal {
    id: String,
    role: Role,
    /// The unit or department a unit-bound role works for.
    unit: Option<String>,
    /// The unit's name, when `unit` is one of the jurisdiction's units.
    unit_name: Option<String>,
    name: Option<String>,
}

/// Whom to sign in as.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// The `id` of a principal of `GET /v1/demo/principals`.
    #[schema(example = "u-demo-dispatcher")]
    principal: String,
}

/// `POST /v1/demo/sign-in {"principal": id}`: a new bearer token for that demo principal.
#[utoipa::path(post, path = "/v1/demo/sign-in", tag = "auth",
    request_body(content = SignIn, content_type = "application/json"),
    responses(
        (status = 200, description = "A token for the demo principal", body = IssuedToken),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: demo sign-in is off on a non-loopback address", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: not a demo deployment", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_content_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_body`, `invalid_principal`", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip(state, body))]
async fn sign_in(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<Json<IssuedToken>, ApiError> {
    check(&state, "/v1/demo/sign-in")?;
    let token = new_token();
    let p = state
        .store
        .add_demo_token(&body.principal, &token_digest(&token), Utc::now())
        .await?
        .ok_or_else(|| ApiError::InvalidField {
            code: "invalid_principal",
            detail: format!("{:?} is not a demo principal", body.principal),
        })?;
    Ok(Json(IssuedToken::new(&p, token)))
}
