//! Bearer tokens and roles at the edge (issue 3, "Roles and access"): the [`Caller`]
//! extractor, the scope of each role over cases, resident registration
//! (`POST /v1/residents`), token issue by admins (`POST /v1/tokens`, and the CLI through
//! [`issue_token`]) and `GET /v1/me`.
//!
//! Scope, as the issue sets it: dispatchers, leaders and admins see every case; a handler
//! the cases targeted at its unit (or a unit inside it) or its department; a grid worker the
//! cases located in its grids; a resident the cases they reported; a planner none (only
//! aggregates). A case outside the caller's scope answers 404 exactly like a missing one.

use axum::extract::{FromRequestParts, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiJson, AppState};
use crate::domain::access::{
    UnitNeed, is_token_shaped, new_principal_id, new_token, normalise_phone, token_digest,
    unit_need,
};
use crate::domain::case::Role;
use crate::domain::departments::{DepartmentCode, SHIPPED_DEPARTMENTS, parse_department_file};
use crate::store::{CaseScope, Created, IndexedCase, NewPrincipal, Principal, Store};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/residents", post(register))
        .route("/v1/tokens", post(create_token))
        .route("/v1/me", get(me))
        .route("/v1/principals/{id}/tokens", axum::routing::delete(revoke))
}

/// `DELETE /v1/principals/{id}/tokens` (admin): revokes every token of a principal (a lost
/// phone, someone leaving); their events stay in the case logs.
async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.with_role(&[Role::Admin], "revoke tokens")?;
    let revoked = state.store.revoke_tokens(&id, Utc::now()).await?;
    Ok(Json(json!({"principal": id, "revoked": revoked})))
}

/// Who is calling: the principal of a valid bearer token, or nobody. A token that is
/// malformed, unknown or revoked is refused (401) rather than treated as anonymous, so that a
/// client with a broken token finds out at once.
#[derive(Debug, Clone)]
pub struct Caller(pub Option<Principal>);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(Caller(None));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| is_token_shaped(t))
            .ok_or(ApiError::InvalidToken)?;
        let principal = state
            .store
            .principal_by_token(&token_digest(token))
            .await?
            .ok_or(ApiError::InvalidToken)?;
        Ok(Caller(Some(principal)))
    }
}

impl Caller {
    /// The principal, or 401.
    pub fn principal(&self) -> Result<&Principal, ApiError> {
        self.0.as_ref().ok_or(ApiError::Unauthenticated)
    }

    /// The principal if its role is one of `roles`, else 401 / 403.
    pub fn with_role(&self, roles: &[Role], what: &str) -> Result<&Principal, ApiError> {
        let p = self.principal()?;
        if roles.contains(&p.role) {
            Ok(p)
        } else {
            Err(ApiError::Forbidden(format!(
                "a {} may not {what}",
                p.role.as_str()
            )))
        }
    }

    /// Whether the caller is staff (sees exact data in maps and tiles).
    pub fn is_staff(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|p| crate::domain::access::is_staff(p.role))
    }
}

/// The cases a principal may see, or `None` for a role that sees no case at all.
pub fn case_scope(p: &Principal) -> Option<CaseScope> {
    match p.role {
        Role::Dispatcher | Role::Leader | Role::Admin => Some(CaseScope::All),
        Role::Resident => Some(CaseScope::Reporter(p.id.clone())),
        Role::Handler => p.unit.clone().map(CaseScope::Target),
        Role::GridWorker => p.unit.clone().map(CaseScope::Area),
        Role::Planner | Role::System => None,
    }
}

/// Whether `p` may see `case` — the same rule [`case_scope`] gives SQL.
pub fn sees(p: &Principal, case: &IndexedCase) -> bool {
    match case_scope(p) {
        None => false,
        Some(CaseScope::All) => true,
        Some(CaseScope::Reporter(r)) => case.reporter == r,
        Some(CaseScope::Target(unit)) => case.target.as_deref().is_some_and(|t| within(t, &unit)),
        Some(CaseScope::Area(unit)) => case.grid.as_deref().is_some_and(|g| within(g, &unit)),
    }
}

/// Whether code `code` is `unit` or (for unit codes, which extend their parent's) inside it.
pub fn within(code: &str, unit: &str) -> bool {
    if unit.starts_with(|c: char| c.is_ascii_digit()) {
        code.starts_with(unit)
    } else {
        code == unit
    }
}

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("{0}")]
    Invalid(String),
    #[error("this phone number is registered already")]
    PhoneTaken,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl From<IssueError> for ApiError {
    fn from(e: IssueError) -> Self {
        match e {
            IssueError::Invalid(detail) => ApiError::InvalidField {
                code: "invalid_unit",
                detail,
            },
            IssueError::PhoneTaken => ApiError::Conflict {
                code: "phone_registered",
                detail: e.to_string(),
            },
            IssueError::Store(e) => e.into(),
        }
    }
}

/// Creates a principal with `role` (and `unit` where the role needs one) and returns it
/// with its token, shown this once. Used by `POST /v1/tokens`, resident registration and
/// `citysnap token create`.
pub async fn issue_token(
    store: &dyn Store,
    role: Role,
    unit: Option<String>,
    name: Option<String>,
    phone: Option<String>,
) -> Result<(Principal, String), IssueError> {
    let unit = match (unit_need(role), unit) {
        (UnitNeed::None, Some(u)) => {
            return Err(IssueError::Invalid(format!(
                "a {role} sees the whole deployment; --unit {u} does not apply"
            )));
        }
        (UnitNeed::None, None) => None,
        (_, None) => {
            return Err(IssueError::Invalid(format!(
                "a {role} works for a unit: give its code"
            )));
        }
        (need, Some(u)) => {
            let is_unit = store.unit_level(&u).await?.is_some();
            let is_department = need == UnitNeed::UnitOrDepartment
                && DepartmentCode::parse(&u).is_ok_and(|d| shipped_departments().contains(&d));
            if !(is_unit || is_department) {
                return Err(IssueError::Invalid(format!(
                    "{u:?} is not a unit of this deployment{}",
                    if need == UnitNeed::UnitOrDepartment {
                        " nor a department"
                    } else {
                        ""
                    }
                )));
            }
            Some(u)
        }
    };
    let token = new_token();
    let principal = Principal {
        id: new_principal_id(),
        role,
        unit,
        name,
    };
    let created = store
        .create_principal(&NewPrincipal {
            principal: principal.clone(),
            phone,
            token_sha256: token_digest(&token),
            created_at: Utc::now(),
        })
        .await?;
    match created {
        Created::Created => Ok((principal, token)),
        Created::PhoneTaken => Err(IssueError::PhoneTaken),
    }
}

fn shipped_departments() -> Vec<DepartmentCode> {
    parse_department_file(SHIPPED_DEPARTMENTS)
        .map(|ds| ds.into_iter().map(|d| d.code).collect())
        .unwrap_or_default()
}

fn principal_json(p: &Principal) -> Value {
    json!({"id": p.id, "role": p.role, "unit": p.unit, "name": p.name})
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Registration {
    phone: String,
    #[serde(default)]
    name: Option<String>,
}

/// `POST /v1/residents`: a resident registers with a mobile number and gets a token.
/// Confirming the number by SMS is the deployment's gateway's job (not built here); a
/// number registers once.
async fn register(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<Registration>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let phone = normalise_phone(&r.phone).map_err(|e| ApiError::InvalidField {
        code: "invalid_phone",
        detail: e.to_string(),
    })?;
    let name = checked_name(r.name)?;
    let (principal, token) = issue_token(
        state.store.as_ref(),
        Role::Resident,
        None,
        name,
        Some(phone),
    )
    .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({"principal": principal_json(&principal), "token": token})),
    ))
}

fn checked_name(name: Option<String>) -> Result<Option<String>, ApiError> {
    match name {
        Some(n)
            if n.trim().is_empty()
                || n.chars().count() > 100
                || n.chars().any(char::is_control) =>
        {
            Err(ApiError::InvalidField {
                code: "invalid_name",
                detail: "name must be 1 to 100 characters without control characters".into(),
            })
        }
        other => Ok(other.map(|n| n.trim().to_owned())),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    role: String,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// `POST /v1/tokens` (admin): a new staff principal and its token.
async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(r): ApiJson<TokenRequest>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    caller.with_role(&[Role::Admin], "issue tokens")?;
    let role: Role =
        r.role.parse().map_err(
            |e: crate::domain::case::UnknownRole| ApiError::InvalidField {
                code: "invalid_role",
                detail: e.to_string(),
            },
        )?;
    if role == Role::Resident {
        return Err(ApiError::InvalidField {
            code: "invalid_role",
            detail: "residents register themselves at POST /v1/residents".into(),
        });
    }
    let name = checked_name(r.name)?;
    let (principal, token) = issue_token(state.store.as_ref(), role, r.unit, name, None).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({"principal": principal_json(&principal), "token": token})),
    ))
}

/// `GET /v1/me`: who the token belongs to.
async fn me(caller: Caller) -> Result<Json<Value>, ApiError> {
    Ok(Json(principal_json(caller.principal()?)))
}
