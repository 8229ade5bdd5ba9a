//! Bearer tokens and roles at the edge (issue 3, "Roles and access"): the [`Caller`]
//! extractor, the scope of each role over cases, resident registration
//! (`POST /v1/residents`, confirmed by a code sent by SMS at `POST /v1/residents/confirm`),
//! token issue by admins (`POST /v1/tokens`, and the CLI through
//! [`issue_token`]) and `GET /v1/me`.
//!
//! Scope, as the issue sets it: dispatchers, leaders and admins see every case; a handler
//! the cases targeted at its unit (or a unit inside it) or its department; a grid worker the
//! cases located in its grids; a resident the cases they reported; a planner none (only
//! aggregates). A case outside the caller's scope answers 404 exactly like a missing one.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::Problem;
use super::{ApiError, ApiJson, AppState};
use crate::domain::spatial::units::UnitLevel;
use crate::domain::workflow::access::{
    UnitNeed, code_digest, is_token_shaped, new_code, new_principal_id, new_registration_id,
    new_token, normalise_phone, token_digest, unit_need,
};
use crate::domain::workflow::case::Role;
use crate::domain::workflow::departments::DepartmentCode;
use crate::store::{CaseScope, Created, IndexedCase, NewPrincipal, Principal, Store};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/residents", post(register))
        .route("/v1/residents/confirm", post(confirm))
        .route("/v1/tokens", signed_in(post(create_token)))
        .route("/v1/me", signed_in(get(me)))
        .route(
            "/v1/principals/{id}/tokens",
            signed_in(axum::routing::delete(revoke)),
        )
}

/// `DELETE /v1/principals/{id}/tokens` (admin): revokes every token of a principal (a lost
/// phone, someone leaving); their events stay in the case logs.
#[utoipa::path(delete, path = "/v1/principals/{id}/tokens", tag = "auth", security(("bearer" = [])),
    params(("id" = String, Path, description = "The principal's id")),
    responses(
        (status = 200, description = "How many tokens were revoked", body = Revoked),
        (status = 403, description = "`forbidden`: not an admin", body = Problem, content_type = "application/problem+json"),
    ))]
async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    caller.with_role(&[Role::Admin], "revoke tokens")?;
    let revoked = state.store.revoke_tokens(&id, Utc::now()).await?;
    Ok(Json(Revoked {
        principal: id,
        revoked,
    }))
}

/// Who is calling: the principal of a valid bearer token, or nobody. The [`authenticate`]
/// layer decides it once per request, before routing; handlers take it from there.
#[derive(Debug, Clone)]
pub struct Caller(pub Option<Principal>);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::Internal("the authenticate layer did not run".into()))
    }
}

/// Layer over the whole router: resolves the bearer token before any route parses its query
/// or body (issue 8). A token that is malformed, unknown or revoked is refused (401) on
/// every route, public ones included, rather than treated as anonymous, so that a client
/// with a broken token finds out at once.
pub async fn authenticate(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let caller = match req.headers().get(header::AUTHORIZATION) {
        None => Caller(None),
        Some(value) => {
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
            Caller(Some(principal))
        }
    };
    req.extensions_mut().insert(caller);
    Ok(next.run(req).await)
}

/// Route layer of every route that needs a signed-in caller: anonymous requests get 401
/// before the handler's extractors look at the query or the body (which would otherwise
/// answer 400 or 422 and describe the schema to anyone). What the caller's role may do is
/// the handler's decision.
async fn require_signed_in(req: Request, next: Next) -> Result<Response, ApiError> {
    match req.extensions().get::<Caller>() {
        Some(Caller(Some(_))) => Ok(next.run(req).await),
        Some(Caller(None)) => Err(ApiError::Unauthenticated),
        None => Err(ApiError::Internal(
            "the authenticate layer did not run".into(),
        )),
    }
}

/// The methods of a route that need a signed-in caller ([`require_signed_in`]).
pub fn signed_in<S: Clone + Send + Sync + 'static>(m: MethodRouter<S>) -> MethodRouter<S> {
    m.route_layer(axum::middleware::from_fn(require_signed_in))
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
            .is_some_and(|p| crate::domain::workflow::access::is_staff(p.role))
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

/// Whether `p` may read the reporter's contact on a case it sees (issue 8): the unit
/// handling it, to call the reporter back, and the dispatchers, who call back on cases in
/// their queue. That is: a dispatcher; a handler whose unit holds the case's current target;
/// a grid worker only when the case is targeted at their grid (or community) or assigned to
/// them. Nobody else — not a grid worker whose grid merely contains a case that waits for a
/// department, not leaders, planners or admins.
pub fn sees_contact(p: &Principal, target: Option<&str>, assignee: Option<&str>) -> bool {
    let handles_target = || {
        p.unit
            .as_deref()
            .zip(target)
            .is_some_and(|(unit, t)| within(t, unit))
    };
    match p.role {
        Role::Dispatcher => true,
        Role::Handler => handles_target(),
        Role::GridWorker => assignee == Some(p.id.as_str()) || handles_target(),
        Role::Resident | Role::Leader | Role::Planner | Role::Admin | Role::System => false,
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
            // Only confirmation creates principals with a phone, and it handles this case.
            IssueError::PhoneTaken => ApiError::Internal(e.to_string()),
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
        (UnitNeed::GridOrCommunity, Some(u)) => match store.unit_level(&u).await? {
            Some(UnitLevel::Grid | UnitLevel::Community) => Some(u),
            Some(level) => {
                return Err(IssueError::Invalid(format!(
                    "a {role} patrols a grid or a community; {u} is a {level}"
                )));
            }
            None => {
                return Err(IssueError::Invalid(format!(
                    "{u:?} is not a grid or community of this deployment"
                )));
            }
        },
        (UnitNeed::UnitOrDepartment, Some(u)) => {
            let is_unit = store.unit_level(&u).await?.is_some();
            let is_department =
                DepartmentCode::parse(&u).is_ok_and(|d| shipped_departments().contains(&d));
            if !(is_unit || is_department) {
                return Err(IssueError::Invalid(format!(
                    "{u:?} is not a unit of this deployment nor a department"
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
    crate::domain::workflow::departments::shipped()
        .iter()
        .map(|d| d.code.clone())
        .collect()
}

/// Tokens revoked.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    principal: String,
    /// How many tokens were revoked.
    revoked: u64,
}

/// A principal: who a token belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrincipalBody {
    id: String,
    role: Role,
    /// The unit or department a unit-bound role works for.
    unit: Option<String>,
    name: Option<String>,
}

impl From<&Principal> for PrincipalBody {
    fn from(p: &Principal) -> Self {
        Self {
            id: p.id.clone(),
            role: p.role,
            unit: p.unit.clone(),
            name: p.name.clone(),
        }
    }
}

/// A new principal and its token, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedToken {
    principal: PrincipalBody,
    /// `cs_…`: send as `Authorization: Bearer cs_…`.
    token: String,
}

impl IssuedToken {
    pub(crate) fn new(principal: &Principal, token: String) -> Self {
        Self {
            principal: principal.into(),
            token,
        }
    }
}

/// A resident's registration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationRequest {
    /// A mainland mobile number (11 digits starting with 1, `+86` allowed).
    #[schema(example = "13800138000")]
    phone: String,
    #[serde(default)]
    name: Option<String>,
}

/// The answer to a registration: a code is on its way to the phone.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationPending {
    /// The registration's id, sent back with the code.
    registration: String,
    /// When the code stops working (ten minutes).
    #[serde(with = "super::wire::secs")]
    expires_at: DateTime<Utc>,
    /// Where to send the code: `/v1/residents/confirm`.
    #[schema(example = "/v1/residents/confirm")]
    confirm: &'static str,
}

/// How long a registration code can be used.
const CODE_MINUTES: u32 = 10;
/// Codes one registration may try: six digits, five guesses, one chance in 200,000.
const CODE_ATTEMPTS: i32 = 5;
/// Registrations (and so messages) one number may start per hour, known or not.
const REGISTRATIONS_PER_HOUR: i64 = 5;

/// `POST /v1/residents`: a resident registers with a mobile number. The answer is `202` with
/// a registration id whatever the number, so that nobody learns whether it is registered
/// (issue 8); a one-time code goes to the phone through the deployment's SMS gateway, and
/// `POST /v1/residents/confirm` exchanges it for a token. A number that is registered
/// already gets a new token for the same resident: owning the phone is what counts.
#[utoipa::path(post, path = "/v1/residents", tag = "auth",
    request_body(content = RegistrationRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "A code was sent to the phone (the same answer for a known number)", body = RegistrationPending),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_content_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_body`, `invalid_phone`, `invalid_name`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_requests`: five codes an hour per number", body = Problem, content_type = "application/problem+json"),
    ))]
async fn register(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<RegistrationRequest>,
) -> Result<(axum::http::StatusCode, Json<RegistrationPending>), ApiError> {
    let phone = normalise_phone(&r.phone).map_err(|e| ApiError::InvalidField {
        code: "invalid_phone",
        detail: e.to_string(),
    })?;
    let name = checked_name(r.name)?;
    let now = Utc::now();
    let recent = state
        .store
        .registrations_since(&phone, now - chrono::TimeDelta::hours(1))
        .await?;
    if recent >= REGISTRATIONS_PER_HOUR {
        return Err(ApiError::TooManyRequests(format!(
            "at most {REGISTRATIONS_PER_HOUR} codes are sent to one number an hour; try later"
        )));
    }
    let code = new_code();
    let id = new_registration_id();
    let expires_at = now + chrono::TimeDelta::minutes(i64::from(CODE_MINUTES));
    state
        .store
        .create_registration(&crate::store::Registration {
            code_sha256: code_digest(&id, &code),
            id: id.clone(),
            phone: phone.clone(),
            name,
            created_at: now,
            expires_at,
            attempts: 0,
        })
        .await?;
    state
        .sms
        .send_code(&phone, &code, CODE_MINUTES)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(RegistrationPending {
            registration: id,
            expires_at,
            confirm: "/v1/residents/confirm",
        }),
    ))
}

/// The code a registration sent to the phone.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmationRequest {
    /// The `registration` of `POST /v1/residents`.
    registration: String,
    /// The six digits of the text message.
    #[schema(example = "042817")]
    code: String,
}

/// `POST /v1/residents/confirm` `{registration, code}`: the code sent to the phone proves
/// the number; the answer is the resident and a new token (`201` for a new resident, `200`
/// for a number registered before). A wrong, expired or used code, an unknown registration
/// and one out of attempts all get the same `invalid_code`.
#[utoipa::path(post, path = "/v1/residents/confirm", tag = "auth",
    request_body(content = ConfirmationRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The number was registered before: a new token for that resident", body = IssuedToken),
        (status = 201, description = "A new resident; the token is shown this once", body = IssuedToken),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_content_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_body`, `invalid_code`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn confirm(
    State(state): State<AppState>,
    ApiJson(c): ApiJson<ConfirmationRequest>,
) -> Result<(axum::http::StatusCode, Json<IssuedToken>), ApiError> {
    let refused = || ApiError::InvalidField {
        code: "invalid_code",
        detail: "the code is wrong or expired, or the registration is used up; \
                 POST /v1/residents again for a new code"
            .into(),
    };
    if c.registration.len() > 64 || c.code.len() > 16 {
        return Err(refused());
    }
    let now = Utc::now();
    let r = state
        .store
        .attempt(&c.registration, CODE_ATTEMPTS)
        .await?
        .ok_or_else(refused)?;
    if r.expires_at < now || code_digest(&r.id, c.code.trim()) != r.code_sha256 {
        return Err(refused());
    }
    if !state.store.confirm(&r.id, now).await? {
        return Err(refused());
    }
    let store = state.store.as_ref();
    let (status, principal, token) = match store.resident_by_phone(&r.phone).await? {
        Some(id) => existing_resident(store, &id).await?,
        None => match issue_token(store, Role::Resident, None, r.name, Some(r.phone.clone())).await
        {
            Ok((p, t)) => (axum::http::StatusCode::CREATED, p, t),
            // Two registrations of the same new number confirmed at once: the other made
            // the resident, this one gets a token for them.
            Err(IssueError::PhoneTaken) => {
                let id = store
                    .resident_by_phone(&r.phone)
                    .await?
                    .ok_or_else(|| ApiError::Internal("phone taken by nobody".into()))?;
                existing_resident(store, &id).await?
            }
            Err(e) => return Err(e.into()),
        },
    };
    Ok((status, Json(IssuedToken::new(&principal, token))))
}

/// A new token for a resident who confirmed their number again.
async fn existing_resident(
    store: &dyn Store,
    id: &str,
) -> Result<(axum::http::StatusCode, Principal, String), ApiError> {
    let token = new_token();
    let digest = token_digest(&token);
    store.add_token(id, &digest, Utc::now()).await?;
    let principal = store
        .principal_by_token(&digest)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("token of {id} not stored")))?;
    Ok((axum::http::StatusCode::OK, principal, token))
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

/// A staff principal to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Any role but `resident` (residents register) and `system`.
    #[schema(example = "dispatcher")]
    role: String,
    /// The unit (or, for handlers, department) a grid worker or handler works for.
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// `POST /v1/tokens` (admin): a new staff principal and its token.
#[utoipa::path(post, path = "/v1/tokens", tag = "auth", security(("bearer" = [])),
    request_body(content = TokenRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; the token is shown this once", body = IssuedToken),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_content_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_body`, `invalid_role`, `invalid_unit`, `invalid_name`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(r): ApiJson<TokenRequest>,
) -> Result<(axum::http::StatusCode, Json<IssuedToken>), ApiError> {
    caller.with_role(&[Role::Admin], "issue tokens")?;
    let role: Role = r
        .role
        .parse()
        .map_err(
            |e: crate::domain::workflow::case::UnknownRole| ApiError::InvalidField {
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
    // A new handler may staff a department no one staffed.
    state.dispatch_inputs.changed();
    Ok((
        axum::http::StatusCode::CREATED,
        Json(IssuedToken::new(&principal, token)),
    ))
}

/// `GET /v1/me`: who the token belongs to.
#[utoipa::path(get, path = "/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = PrincipalBody)))]
async fn me(caller: Caller) -> Result<Json<PrincipalBody>, ApiError> {
    Ok(Json(caller.principal()?.into()))
}
