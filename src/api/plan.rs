//! The plan library's admin API (issue 3, "Plan library"): `GET /v1/dispatch-rules` shows the
//! ordered rule table in force and its revision; `PUT /v1/dispatch-rules` (admin) replaces it
//! as the next revision. Every rule whose text changes must raise its `version`, so that a
//! dispatch's recorded `{id, version}` always names one text; older revisions stay stored.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{Caller, signed_in};
use super::error::Problem;
use super::{ApiError, ApiJson, AppState};
use crate::domain::workflow::case::Role;
use crate::domain::workflow::dispatch::{
    DispatchRule, SHIPPED_RULES, check_rules, parse_rule_file,
};
use crate::store::{PlanRevision, Store};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/dispatch-rules", signed_in(get(show).put(replace)))
}

/// Stores the shipped rule table as revision 1 of a store that has none.
pub async fn seed(store: &dyn Store) -> anyhow::Result<()> {
    if store.current_plan().await?.is_none() {
        parse_rule_file(SHIPPED_RULES)?;
        store
            .put_plan(&PlanRevision {
                revision: 1,
                rules: serde_json::from_str(SHIPPED_RULES)?,
                created_at: Utc::now(),
                author: "shipped".into(),
            })
            .await?;
    }
    Ok(())
}

/// The rules in force and their revision (0: the shipped file, in a store not yet seeded).
pub async fn rules_in_force(
    state: &AppState,
) -> crate::service::error::Result<(i32, Vec<DispatchRule>)> {
    let (revision, rules) = match state.store.current_plan().await? {
        Some(r) => (r.revision, r.rules),
        None => (
            0,
            serde_json::from_str(SHIPPED_RULES)
                .map_err(|e| crate::service::Error::Internal(e.to_string()))?,
        ),
    };
    let rules: Vec<DispatchRule> = serde_json::from_value(rules).map_err(|e| {
        crate::service::Error::Internal(format!("stored plan revision {revision}: {e}"))
    })?;
    Ok((revision, rules))
}

/// The plan library as `GET` and `PUT /v1/dispatch-rules` answer it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanBody {
    /// The revision in force (0: the shipped file, in a store not yet seeded).
    revision: i32,
    /// When it was stored (`null` for revision 0).
    created_at: Option<DateTime<Utc>>,
    /// Who stored it: `shipped`, or the admin's principal id.
    author: Option<String>,
    /// The ordered rules: the first whose `when` matches a report chooses its `target`
    /// (`{"department": …}` or `{"level": …}`) and optionally its `time_limit`. Each has
    /// an `id` and a `version` raised on every change; `data/dispatch_rules.json` is the
    /// shipped table.
    #[schema(value_type = Vec<Object>)]
    rules: Vec<DispatchRule>,
}

/// `GET /v1/dispatch-rules` (dispatcher, leader, admin): the plan library in force.
#[utoipa::path(get, path = "/v1/dispatch-rules", tag = "dispatch", security(("bearer" = [])),
    responses(
        (status = 200, description = "The rules in force and their revision", body = PlanBody),
        (status = 403, description = "`forbidden`: not a dispatcher, leader or admin", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) async fn show(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<PlanBody>, ApiError> {
    caller.with_role(
        &[Role::Dispatcher, Role::Leader, Role::Admin],
        "read the plan library",
    )?;
    let current = state.store.current_plan().await?;
    let (revision, rules) = rules_in_force(&state).await?;
    Ok(Json(PlanBody {
        revision,
        created_at: current.as_ref().map(|c| c.created_at),
        author: current.as_ref().map(|c| c.author.clone()),
        rules,
    }))
}

/// A new revision of the plan library.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Replacement {
    /// The revision the admin edited: a change made meanwhile by someone else is refused.
    revision: i32,
    /// The whole ordered table, as `GET` shows it.
    #[schema(value_type = Vec<Object>)]
    rules: Vec<DispatchRule>,
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::InvalidField {
        code: "invalid_rules",
        detail: detail.into(),
    }
}

/// Every rule that keeps its id keeps its text or raises its version.
fn check_versions(old: &[DispatchRule], new: &[DispatchRule]) -> Result<(), ApiError> {
    for n in new {
        if let Some(o) = old.iter().find(|o| o.id == n.id) {
            if n.version < o.version {
                return Err(invalid(format!(
                    "rule {} goes back from version {} to {}",
                    n.id, o.version, n.version
                )));
            }
            if n.version == o.version && n != o {
                return Err(invalid(format!(
                    "rule {} changed but kept version {}; raise it",
                    n.id, n.version
                )));
            }
        }
    }
    Ok(())
}

/// `PUT /v1/dispatch-rules` (admin): the next revision; a changed rule must raise its
/// `version`.
#[utoipa::path(put, path = "/v1/dispatch-rules", tag = "dispatch", security(("bearer" = [])),
    request_body(content = Replacement, content_type = "application/json"),
    responses(
        (status = 200, description = "The new revision, in force", body = PlanBody),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`plan_changed`: `revision` is not the one in force", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_content_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_body`, `invalid_rules` (bad rule, a changed rule that kept its version)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(r): ApiJson<Replacement>,
) -> Result<Json<PlanBody>, ApiError> {
    let p = caller.with_role(&[Role::Admin], "change the plan library")?;
    check_rules(&r.rules).map_err(|e| invalid(e.to_string()))?;
    let (revision, current) = rules_in_force(&state).await?;
    let changed = || ApiError::Conflict {
        code: "plan_changed",
        detail: format!(
            "the plan library is at revision {revision}, not {}; re-read it and apply the change again",
            r.revision
        ),
    };
    if r.revision != revision {
        return Err(changed());
    }
    check_versions(&current, &r.rules)?;
    let next = PlanRevision {
        revision: revision + 1,
        rules: serde_json::to_value(&r.rules).map_err(|e| ApiError::Internal(e.to_string()))?,
        created_at: Utc::now(),
        author: p.id.clone(),
    };
    if !state.store.put_plan(&next).await? {
        return Err(changed());
    }
    state.dispatch_inputs.changed();
    Ok(Json(PlanBody {
        revision: next.revision,
        created_at: Some(next.created_at),
        author: Some(next.author),
        rules: r.rules,
    }))
}
