//! Cases over HTTP (issue 3): `GET /v1/cases` (filtered, scoped to the caller),
//! `GET /v1/cases/{case_id}`, its timeline `GET /v1/cases/{case_id}/events`, the workflow
//! `POST /v1/cases/{case_id}/actions` and the leaders' `GET /v1/supervision`.
//!
//! The handlers parse the request, call the workflow service ([`crate::service::workflow`],
//! where the checks and the append are) and shape its answer into the bodies below.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::{Caller, case_scope, sees_contact, signed_in};
use super::error::Problem;
use super::{ApiError, ApiJson, ApiQuery, AppState};
use crate::domain::spatial::units::{UnitCode, UnitLevel};
use crate::domain::workflow::access::PrincipalId;
use crate::domain::workflow::calendar::{IsoDuration, WarningLevel};
use crate::domain::workflow::case::{
    Action, ActionKind, Role, Supervision, Text, UnknownAction, may,
};
use crate::domain::workflow::categories::CategoryKind;
use crate::domain::workflow::departments::DepartmentCode;
use crate::domain::workflow::target::Target;
use crate::service::workflow::{self, DispatchOrder, LIST_MAX, Requested, Visible};
use crate::store::analytics::Bbox;
use crate::store::{CaseQuery, IndexedCase, StoredEvent};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/cases", signed_in(get(list)))
        .route("/v1/cases/{case_id}", signed_in(get(show)))
        .route("/v1/cases/{case_id}/events", signed_in(get(timeline)))
        .route("/v1/cases/{case_id}/actions", signed_in(post(act)))
        .route("/v1/supervision", signed_in(get(supervision)))
}

// Times as the API has always written them: RFC 3339, UTC, milliseconds.
use super::wire::millis;

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `unit` for a spatial unit, `department` for a city department.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Unit,
    Department,
}

/// Where a case is sent, self-describing (issue 9): the same shape wherever a target appears.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TargetBody {
    pub kind: TargetKind,
    /// Digits for a unit (6 a district, 9 a street, 12 a community, 15 a grid), capitals
    /// for a department.
    #[schema(example = "211103001")]
    pub code: String,
    /// The unit's or the department's name; `null` for a unit no longer in the boundaries.
    #[schema(example = "兴隆街道")]
    pub name: Option<String>,
    /// A unit's level; `null` for a department.
    pub level: Option<UnitLevel>,
}

impl TargetBody {
    /// Describes `target` from the jurisdiction in memory and the shipped departments.
    fn of(state: &AppState, target: &Target) -> Self {
        match target {
            Target::Unit(code) => {
                let unit = state
                    .jurisdiction()
                    .ok()
                    .and_then(|j| j.by_code(code).map(|id| j.unit(id).clone()));
                TargetBody {
                    kind: TargetKind::Unit,
                    code: code.to_string(),
                    name: unit.as_ref().map(|u| u.name.clone()),
                    level: unit.map(|u| u.level),
                }
            }
            Target::Department(code) => TargetBody {
                kind: TargetKind::Department,
                code: code.to_string(),
                name: crate::domain::workflow::departments::shipped()
                    .iter()
                    .find(|d| &d.code == code)
                    .map(|d| d.name.clone()),
                level: None,
            },
        }
    }

    /// Describes a target known by its code only (a list row): digits are a unit, anything
    /// else a department.
    fn of_code(state: &AppState, code: &str) -> Option<Self> {
        let target = match UnitCode::parse(code) {
            Ok(u) => Target::Unit(u),
            Err(_) => Target::Department(DepartmentCode::parse(code).ok()?),
        };
        Some(Self::of(state, &target))
    }
}

/// The units of a case's location, each `{kind: "unit", code, name, level}` like a target;
/// `null` where the deployment has no such level.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseUnits {
    district: Option<TargetBody>,
    street: Option<TargetBody>,
    community: Option<TargetBody>,
    grid: Option<TargetBody>,
}

impl CaseUnits {
    fn of(state: &AppState, i: &IndexedCase) -> Self {
        let unit = |code: &Option<String>| {
            code.as_deref()
                .and_then(|c| UnitCode::parse(c).ok())
                .map(|c| TargetBody::of(state, &Target::Unit(c)))
        };
        CaseUnits {
            district: unit(&i.district),
            street: unit(&i.street),
            community: unit(&i.community),
            grid: unit(&i.grid),
        }
    }
}

/// A WGS-84 position.
#[derive(Debug, Serialize, ToSchema)]
pub struct CasePosition {
    lon: f64,
    lat: f64,
}

/// A case merged into this one (its reporter is not shown: staff open the case for that).
#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateCase {
    case_id: String,
}

/// An open case of the same category nearby: what a dispatcher may merge.
#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateCandidate {
    case_id: String,
    /// Metres, to 0.1 m.
    distance_m: f64,
    state: String,
}

/// The reporter's contact, for the units that call them back.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReporterContact {
    name: Option<String>,
    phone: Option<String>,
}

/// The plan-library rule that chose a target.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleRef {
    id: String,
    version: u32,
}

/// A case: its state folded from its log, the warning level computed now.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseBody {
    case_id: String,
    /// The case's state (`submitted`, `pending_verification`, `verified`, `dispatched`,
    /// `accepted`, `returned`, `in_progress`, `resolved`, `closed`, `rated`, `invalid`,
    /// `merged`, `cancelled`, `parked` …).
    state: String,
    /// `problem`, `praise` or `consultation`.
    kind: CategoryKind,
    category: String,
    #[serde(with = "millis")]
    submitted_at: DateTime<Utc>,
    #[serde(with = "millis")]
    updated_at: DateTime<Utc>,
    warning_level: WarningLevel,
    #[serde(with = "millis::option")]
    deadline: Option<DateTime<Utc>>,
    /// The deadline was counted over days the working calendar does not cover: it may move.
    deadline_provisional: bool,
    /// Where the case is sent, described.
    target: Option<TargetBody>,
    /// The target as `{"unit": code}` or `{"department": code}` (kept for older clients;
    /// `target` describes it).
    #[schema(value_type = Option<Object>)]
    unit: Option<Target>,
    /// The principal the case is assigned to.
    assignee: Option<String>,
    /// The plan-library rule that chose the target.
    rule: Option<RuleRef>,
    /// Why the case waits in the dispatchers' queue.
    queue: Option<String>,
    open_supervisions: u32,
    merged_into: Option<String>,
    location: CasePosition,
    units: CaseUnits,
    /// `GET` only: how many residents reported it (merged duplicates included).
    #[serde(skip_serializing_if = "Option::is_none")]
    reporters: Option<usize>,
    /// Staff only.
    #[serde(skip_serializing_if = "Option::is_none")]
    duplicates: Option<Vec<DuplicateCase>>,
    /// Staff only.
    #[serde(skip_serializing_if = "Option::is_none")]
    duplicate_candidates: Option<Vec<DuplicateCandidate>>,
    /// Staff only, after a return: the next candidate target (`null`: none left).
    #[serde(skip_serializing_if = "Option::is_none")]
    suggested_target: Option<Option<TargetBody>>,
    /// Dispatchers, while the case is open: the plan library's candidate targets, best first.
    #[serde(skip_serializing_if = "Option::is_none")]
    dispatch_candidates: Option<Vec<TargetBody>>,
    /// Handlers, grid workers and dispatchers only.
    #[serde(skip_serializing_if = "Option::is_none")]
    reporter_contact: Option<ReporterContact>,
}

impl CaseBody {
    fn of(state: &AppState, v: &Visible, now: DateTime<Utc>) -> Self {
        let case = &v.case;
        let queue = match (case.state, v.events.first()) {
            (crate::domain::workflow::case::State::Submitted, Some(first)) => {
                first.event.reason.as_ref().map(|r| r.as_str().to_owned())
            }
            _ => None,
        };
        let i = &v.index;
        CaseBody {
            case_id: i.case_id.clone(),
            state: case.state.to_string(),
            kind: case.kind,
            category: i.category.clone(),
            submitted_at: case.submitted_at,
            updated_at: case.updated_at,
            warning_level: workflow::warning_level(&state.settings, case, now),
            deadline: case.deadline.map(|d| d.at),
            deadline_provisional: case.deadline.is_some_and(|d| d.provisional),
            target: case.target.as_ref().map(|t| TargetBody::of(state, t)),
            unit: case.target.clone(),
            assignee: case.assignee.clone(),
            rule: case.rule.as_ref().map(|r| RuleRef {
                id: r.id.to_string(),
                version: r.version,
            }),
            queue,
            open_supervisions: case.open_supervisions,
            merged_into: case.merged_into.as_ref().map(|m| m.as_str().to_owned()),
            location: CasePosition {
                lon: i.lon,
                lat: i.lat,
            },
            units: CaseUnits::of(state, i),
            reporters: None,
            duplicates: None,
            duplicate_candidates: None,
            suggested_target: None,
            dispatch_candidates: None,
            reporter_contact: None,
        }
    }
}

/// `GET /v1/cases/{case_id}`; staff also get the cases merged into it, and the unit handling
/// it and the dispatchers the reporter's contact ([`sees_contact`]).
#[utoipa::path(get, path = "/v1/cases/{case_id}", tag = "cases", security(("bearer" = [])),
    params(("case_id" = String, Path, example = "XL-20261201-000001")),
    responses(
        (status = 200, description = "The case", body = CaseBody),
        (status = 403, description = "`forbidden`: a planner sees aggregates only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`case_not_found` (or outside the caller's scope)", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip(state, caller))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(case_id): Path<String>,
) -> Result<Json<CaseBody>, ApiError> {
    let p = caller.principal()?;
    let v = workflow::load_visible(&state, p, &case_id).await?;
    let mut body = CaseBody::of(&state, &v, Utc::now());
    let duplicates = state.store.merged_cases(&case_id).await?;
    body.reporters = Some(1 + duplicates.len());
    if crate::domain::workflow::access::is_staff(p.role) {
        body.duplicates = Some(
            duplicates
                .into_iter()
                .map(|d| DuplicateCase { case_id: d.case_id })
                .collect(),
        );
        body.duplicate_candidates = Some(
            workflow::duplicate_candidates(&state, &v)
                .await?
                .into_iter()
                .map(|n| DuplicateCandidate {
                    case_id: n.case_id,
                    distance_m: n.distance_m,
                    state: n.state,
                })
                .collect(),
        );
        if v.case.state == crate::domain::workflow::case::State::Returned {
            let next = workflow::suggested_target(&state, &v).await?;
            body.suggested_target = Some(next.map(|t| TargetBody::of(&state, &t)));
        }
        if may(p.role, ActionKind::Dispatch) && v.case.state.is_open() {
            let candidates = workflow::plan_candidates(&state, &v).await?;
            body.dispatch_candidates = Some(
                candidates
                    .iter()
                    .map(|t| TargetBody::of(&state, t))
                    .collect(),
            );
        }
    }
    let target = v.case.target.as_ref().map(Target::code);
    if sees_contact(p, target, v.case.assignee.as_deref()) {
        let c = workflow::reporter_contact(&state, &v).await?;
        body.reporter_contact = Some(ReporterContact {
            name: c.name,
            phone: c.phone,
        });
    }
    Ok(Json(body))
}

/// The public facts of a dispatch (where to, until when) or a rating.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum PublicDetails {
    Dispatch {
        /// `{"unit": code}` or `{"department": code}`, as `unit` of a case.
        #[schema(value_type = Object)]
        unit: Target,
        target: TargetBody,
        #[serde(with = "millis::option")]
        deadline: Option<DateTime<Utc>>,
    },
    Rating {
        score: u8,
    },
}

/// What a resident may see of an event: when, what, by which role, and the public facts of
/// a dispatch or a rating. Actors (user ids), reasons, notes, assignees and supervision
/// opinions are staff-internal and left out.
// `deny_unknown_fields` makes the schema closed (`additionalProperties: false`), so that a
// staff event, which has `actor`, matches exactly one of `TimelineEvent`'s `oneOf`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicEvent {
    seq: i32,
    #[serde(with = "millis")]
    at: DateTime<Utc>,
    /// The action's name (`dispatch`, `accept`, `rate` …).
    #[schema(value_type = String)]
    action: ActionKind,
    role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<PublicDetails>,
}

impl PublicEvent {
    fn of(state: &AppState, e: &StoredEvent) -> Self {
        let details = match &e.event.action {
            Action::Dispatch(d) => Some(PublicDetails::Dispatch {
                unit: d.target.clone(),
                target: TargetBody::of(state, &d.target),
                deadline: d.deadline.map(|d| d.at),
            }),
            Action::Rate(r) => Some(PublicDetails::Rating {
                score: r.score.get(),
            }),
            _ => None,
        };
        PublicEvent {
            seq: e.seq,
            at: e.event.at,
            action: e.event.action.kind(),
            role: e.event.role,
            details,
        }
    }
}

/// Staff read the whole event: actor, reason and the action's payload.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffEvent {
    seq: i32,
    #[serde(with = "millis")]
    at: DateTime<Utc>,
    /// The user id of whoever acted (`system` for the service).
    actor: String,
    role: Role,
    /// `action` and, for the actions that carry one, `payload`.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

impl StaffEvent {
    fn of(e: &StoredEvent) -> Self {
        StaffEvent {
            seq: e.seq,
            at: e.event.at,
            actor: e.event.actor.clone(),
            role: e.event.role,
            action: e.event.action.clone(),
            reason: e.event.reason.as_ref().map(|r| r.as_str().to_owned()),
        }
    }
}

/// One event of a case's log, as the caller may see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum TimelineEvent {
    Staff(StaffEvent),
    Public(PublicEvent),
}

/// A case's log: residents see the public timeline, staff every event.
#[derive(Debug, Serialize, ToSchema)]
pub struct Timeline {
    case_id: String,
    events: Vec<TimelineEvent>,
}

/// The reporter's view of a case through its follow-up secret: the case as [`CaseBody`]
/// shows it to its reporter, with the public timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct FollowUpBody {
    #[serde(flatten)]
    case: CaseBody,
    /// The public events of the case, oldest first.
    events: Vec<PublicEvent>,
    /// Whether the case handling the report is closed and of a kind that is rated (not a
    /// praise or a consultation), so that the reporter may rate it.
    #[serde(skip_serializing_if = "Option::is_none")]
    can_rate: Option<bool>,
    /// A merged duplicate: the case it follows, in the same shape (without `can_rate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    master: Option<Box<FollowUpBody>>,
}

/// The reporter's view of a case through its follow-up secret (issue 8, item 11): what the
/// reporter sees of it with an account, with the public timeline; a duplicate also shows
/// the master case it follows, whose handling it waits for.
pub(super) async fn reporter_view(
    state: &AppState,
    case_id: &str,
) -> Result<FollowUpBody, ApiError> {
    let (own, master) = workflow::followed(state, case_id).await?;
    let now = Utc::now();
    let view = |v: &Visible| FollowUpBody {
        case: CaseBody::of(state, v, now),
        events: v.events.iter().map(|e| PublicEvent::of(state, e)).collect(),
        can_rate: None,
        master: None,
    };
    let handling = master.as_ref().unwrap_or(&own);
    // Closed, and a kind that is rated: praise (acknowledged) and consultations (answered)
    // close without a rating, so offering one would only earn a 409.
    let can_rate = handling.case.state == crate::domain::workflow::case::State::Closed
        && ActionKind::Rate.applies_to(handling.case.kind);
    Ok(FollowUpBody {
        can_rate: Some(can_rate),
        master: master.as_ref().map(|m| Box::new(view(m))),
        ..view(&own)
    })
}

/// The reporter's rating (评价) through the follow-up secret, and their view after it.
pub(super) async fn rate_as_reporter(
    state: &AppState,
    case_id: &str,
    rating: crate::domain::workflow::case::Rating,
) -> Result<FollowUpBody, ApiError> {
    workflow::rate_as_reporter(state, case_id, rating).await?;
    reporter_view(state, case_id).await
}

/// `GET /v1/cases/{case_id}/events`: the case's log.
#[utoipa::path(get, path = "/v1/cases/{case_id}/events", tag = "cases", security(("bearer" = [])),
    params(("case_id" = String, Path, example = "XL-20261201-000001")),
    responses(
        (status = 200, description = "The log, oldest first", body = Timeline),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`case_not_found` (or outside the caller's scope)", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip(state, caller))]
async fn timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(case_id): Path<String>,
) -> Result<Json<Timeline>, ApiError> {
    let p = caller.principal()?;
    let v = workflow::load_visible(&state, p, &case_id).await?;
    let staff = crate::domain::workflow::access::is_staff(p.role);
    let events = v
        .events
        .iter()
        .map(|e| {
            if staff {
                TimelineEvent::Staff(StaffEvent::of(e))
            } else {
                TimelineEvent::Public(PublicEvent::of(&state, e))
            }
        })
        .collect();
    Ok(Json(Timeline { case_id, events }))
}

/// Query of `GET /v1/cases`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Case states, comma-separated.
    #[param(example = "dispatched,accepted")]
    state: Option<String>,
    /// `green`, `yellow` or `red`, computed now.
    #[param(pattern = "^(green|yellow|red)$")]
    warning: Option<String>,
    /// A unit or department code: cases targeted at it or inside it.
    #[param(pattern = "^[A-Za-z0-9]{1,32}$")]
    unit: Option<String>,
    /// A category code.
    #[param(pattern = "^[A-Za-z0-9]{1,32}$")]
    category: Option<String>,
    /// `min_lon,min_lat,max_lon,max_lat` (WGS-84).
    #[param(example = "122.0,41.1,122.1,41.2")]
    bbox: Option<String>,
    /// Page size, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// The `next_after` of the previous page.
    after: Option<String>,
}

fn bad_query(code: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::InvalidField {
        code,
        detail: detail.into(),
    }
}

fn parse_list_query(q: ListQuery) -> Result<CaseQuery, ApiError> {
    let states = match q.state.as_deref() {
        None | Some("") => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|s| {
                s.trim()
                    .parse::<crate::domain::workflow::case::State>()
                    .map(|st| st.as_str().to_owned())
                    .map_err(|e| bad_query("invalid_state", e.to_string()))
            })
            .collect::<Result<_, _>>()?,
    };
    let warning = q
        .warning
        .as_deref()
        .map(|w| match w {
            "green" => Ok(WarningLevel::Green),
            "yellow" => Ok(WarningLevel::Yellow),
            "red" => Ok(WarningLevel::Red),
            other => Err(bad_query(
                "invalid_warning",
                format!("warning must be green, yellow or red, got {other:?}"),
            )),
        })
        .transpose()?;
    let code_like =
        |s: &str| !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_alphanumeric());
    if let Some(u) = &q.unit
        && !code_like(u)
    {
        return Err(bad_query(
            "invalid_unit",
            format!("{u:?} is not a unit or department code"),
        ));
    }
    if let Some(c) = &q.category
        && !code_like(c)
    {
        return Err(bad_query(
            "invalid_category",
            format!("{c:?} is not a category code"),
        ));
    }
    let bbox = q
        .bbox
        .as_deref()
        .map(Bbox::parse)
        .transpose()
        .map_err(|e| bad_query("invalid_bbox", e.to_string()))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=LIST_MAX).contains(&limit) {
        return Err(bad_query(
            "invalid_limit",
            format!("limit must be 1 to {LIST_MAX}"),
        ));
    }
    Ok(CaseQuery {
        scope: crate::store::CaseScope::All,
        states,
        warning,
        unit: q.unit,
        category: q.category,
        bbox,
        supervision_queue: false,
        now: Utc::now(),
        limit,
        after: q.after,
        submitted_from: None,
        submitted_until: None,
    })
}

/// A case in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseListItem {
    case_id: String,
    state: String,
    kind: String,
    category: String,
    warning_level: WarningLevel,
    #[serde(with = "millis::option")]
    deadline: Option<DateTime<Utc>>,
    /// Where the case is sent, described.
    target: Option<TargetBody>,
    /// The code of the target unit or department (kept for older clients; `target`
    /// describes it).
    unit: Option<String>,
    assignee: Option<String>,
    open_supervisions: i32,
    #[serde(with = "millis")]
    submitted_at: DateTime<Utc>,
    #[serde(with = "millis")]
    updated_at: DateTime<Utc>,
    location: CasePosition,
    grid: Option<String>,
}

impl CaseListItem {
    fn of(state: &AppState, c: &IndexedCase, now: DateTime<Utc>) -> Self {
        CaseListItem {
            case_id: c.case_id.clone(),
            state: c.state.clone(),
            kind: c.kind.clone(),
            category: c.category.clone(),
            warning_level: c.warning_level(now),
            deadline: c.deadline_at,
            target: c
                .target
                .as_deref()
                .and_then(|t| TargetBody::of_code(state, t)),
            unit: c.target.clone(),
            assignee: c.assignee.clone(),
            open_supervisions: c.open_supervisions,
            submitted_at: c.submitted_at,
            updated_at: c.updated_at,
            location: CasePosition {
                lon: c.lon,
                lat: c.lat,
            },
            grid: c.grid.clone(),
        }
    }
}

/// A page of cases, in case-id order.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseList {
    cases: Vec<CaseListItem>,
    /// Pass as `after` for the next page; `null` on the last.
    next_after: Option<String>,
}

async fn run_list(state: &AppState, query: CaseQuery) -> Result<Json<CaseList>, ApiError> {
    let now = query.now;
    let limit = query.limit;
    let cases = state.store.list_cases(&query).await?;
    let next_after = (cases.len() as i64 == limit)
        .then(|| cases.last().map(|c| c.case_id.clone()))
        .flatten();
    Ok(Json(CaseList {
        cases: cases
            .iter()
            .map(|c| CaseListItem::of(state, c, now))
            .collect(),
        next_after,
    }))
}

/// `GET /v1/cases?state=&warning=&unit=&category=&bbox=&limit=&after=`: the cases the
/// caller may see, in case-id order, `limit` at a time (`next_after` continues).
#[utoipa::path(get, path = "/v1/cases", tag = "cases", params(ListQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of the cases the caller may see", body = CaseList),
        (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: a planner sees aggregates only", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_state`, `invalid_warning`, `invalid_unit`, `invalid_category`, `invalid_bbox`, `invalid_limit`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<CaseList>, ApiError> {
    let p = caller.principal()?;
    let scope = case_scope(p).ok_or_else(|| {
        ApiError::Forbidden(format!("a {} sees aggregates only, not cases", p.role))
    })?;
    let mut query = parse_list_query(q)?;
    query.scope = scope;
    run_list(&state, query).await
}

/// `GET /v1/supervision` (leaders, dispatchers): red cases and cases with a supervision
/// (督办) waiting for the unit's reply.
#[utoipa::path(get, path = "/v1/supervision", tag = "cases", params(ListQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of the supervision queue", body = CaseList),
        (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not a leader, dispatcher or admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_state`, `invalid_warning`, `invalid_unit`, `invalid_category`, `invalid_bbox`, `invalid_limit`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn supervision(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<CaseList>, ApiError> {
    caller.with_role(
        &[Role::Leader, Role::Dispatcher, Role::Admin],
        "read the supervision queue",
    )?;
    let mut query = parse_list_query(q)?;
    query.supervision_queue = true;
    run_list(&state, query).await
}

/// The body of `POST /v1/cases/{case_id}/actions`: the action's name, an optional reason,
/// and the fields of that action (see the README's table).
#[derive(Debug, Deserialize)]
struct ActionRequest {
    action: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(flatten)]
    fields: serde_json::Map<String, Value>,
}

/// `dispatch` as callers send it: where to, optionally to whom and with which limit; the
/// deadline is computed here.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DispatchRequest {
    target: TargetRequest,
    #[serde(default)]
    assignee: Option<String>,
    #[serde(default)]
    time_limit: Option<IsoDuration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum TargetRequest {
    Unit(String),
    Department(String),
}

/// A refused field of an action, named as the client sent it.
fn refused_field(code: &'static str, field: &str, detail: impl Into<String>) -> ApiError {
    ApiError::InvalidBodyField {
        code,
        field: field.to_owned(),
        detail: detail.into(),
    }
}

/// What each action takes besides `action` and `reason`, for the errors that say so.
fn takes(kind: ActionKind) -> &'static str {
    use ActionKind as A;
    match kind {
        A::Dispatch => {
            "`target` ({\"unit\": code} or {\"department\": code}), optionally `assignee` \
             (the id of someone working for the target) and `time_limit` (an ISO-8601 duration \
             such as P2D)"
        }
        A::Progress | A::Reinspect => {
            "optionally `note` (text) and `photos` (keys from POST /v1/media)"
        }
        A::Resolve => "`note` (text) and `after_photos` (at least one key from POST /v1/media)",
        A::Rate => "`score` (1 to 5), optionally `comment` (text) and `fixed` (true or false)",
        A::Merge => "`into` (the id of the case this one duplicates)",
        A::Supervise => "`opinion` (text), optionally `reply_by` (an RFC 3339 time ahead)",
        A::Reply | A::Answer => "`text`",
        _ => "no fields",
    }
}

/// The payload of a `kind` action from the request's fields. A refusal names the field and
/// says what the action takes, instead of serde's words for the internal enum ("missing
/// field `payload`", "expected unit variant").
fn payload<T: serde::de::DeserializeOwned>(
    kind: ActionKind,
    fields: serde_json::Map<String, Value>,
) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(Value::Object(fields)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let (field, detail) = if path == "." {
            // Root-level errors name their field in backticks: "missing field `into`",
            // "unknown field `priority`, expected `into`"; what follows the comma is
            // replaced by what the action takes.
            let field = inner.split('`').nth(1).unwrap_or_default().to_owned();
            let what = inner.split(',').next().unwrap_or(&inner);
            (
                field,
                format!("{kind}: {what}; {kind} takes {}", takes(kind)),
            )
        } else {
            (path.clone(), format!("{kind}: `{path}` {inner}"))
        };
        refused_field("invalid_payload", &field, detail)
    })
}

/// Actions without fields take none: a field sent is named rather than ignored.
fn no_fields(kind: ActionKind, fields: &serde_json::Map<String, Value>) -> Result<(), ApiError> {
    match fields.keys().next() {
        None => Ok(()),
        Some(field) => Err(refused_field(
            "invalid_payload",
            field,
            format!("{kind} takes no fields besides `action` and `reason`; got `{field}`"),
        )),
    }
}

/// Longest time ahead a leader may give a unit to reply to a supervision.
const REPLY_BY_MAX_DAYS: i64 = 366;

/// A supervision's `reply_by` must lie ahead (within [`REPLY_BY_MAX_DAYS`]).
fn checked_supervision(s: Supervision, now: DateTime<Utc>) -> Result<Supervision, ApiError> {
    if let Some(t) = s.reply_by {
        let refused = |detail: String| refused_field("invalid_reply_by", "reply_by", detail);
        if t <= now {
            return Err(refused(format!(
                "reply_by {} is in the past; give a time ahead",
                rfc3339(t)
            )));
        }
        if t > now + chrono::TimeDelta::days(REPLY_BY_MAX_DAYS) {
            return Err(refused(format!(
                "reply_by {} is more than {REPLY_BY_MAX_DAYS} days ahead",
                rfc3339(t)
            )));
        }
    }
    Ok(s)
}

/// Turns the request into the action asked for (payload checked by its types) and a reason;
/// what needs the deployment (a dispatch's target and assignee, uploaded photos) the
/// workflow checks.
fn parse_action(
    r: ActionRequest,
    now: DateTime<Utc>,
) -> Result<(Requested, Option<Text>), ApiError> {
    use ActionKind as A;
    let kind: ActionKind = r.action.parse().map_err(|e: UnknownAction| {
        let actions: Vec<&str> = ActionKind::ALL
            .iter()
            .filter(|k| k.is_api_action())
            .map(|k| k.as_str())
            .collect();
        refused_field(
            "invalid_action",
            "action",
            format!("{e}; the actions are {}", actions.join(", ")),
        )
    })?;
    let reason = r
        .reason
        .as_deref()
        .map(Text::parse)
        .transpose()
        .map_err(|e| refused_field("invalid_reason", "reason", format!("reason: {e}")))?;
    let fields = r.fields;
    let fieldless = |action: Action| no_fields(kind, &fields).map(|()| action);
    let action = match kind {
        A::Verify => fieldless(Action::Verify)?,
        A::Invalidate => fieldless(Action::Invalidate)?,
        A::Accept => fieldless(Action::Accept)?,
        A::Return => fieldless(Action::Return)?,
        A::Close => fieldless(Action::Close)?,
        A::Rework => fieldless(Action::Rework)?,
        A::Reopen => fieldless(Action::Reopen)?,
        A::Park => fieldless(Action::Park)?,
        A::Cancel => fieldless(Action::Cancel)?,
        A::Acknowledge => fieldless(Action::Acknowledge)?,
        A::Dispatch => {
            return Ok((
                Requested::Dispatch(dispatch_order(payload(kind, fields)?)?),
                reason,
            ));
        }
        A::Progress => Action::Progress(payload(kind, fields)?),
        A::Reinspect => Action::Reinspect(payload(kind, fields)?),
        A::Resolve => Action::Resolve(payload(kind, fields)?),
        A::Rate => Action::Rate(payload(kind, fields)?),
        A::Merge => Action::Merge(payload(kind, fields)?),
        A::Supervise => Action::Supervise(checked_supervision(payload(kind, fields)?, now)?),
        A::Reply => Action::Reply(payload(kind, fields)?),
        A::Answer => Action::Answer(payload(kind, fields)?),
        A::Submit | A::EscalatedYellow | A::EscalatedRed => {
            return Err(refused_field(
                "invalid_action",
                "action",
                format!("{kind} is recorded by the service itself, never posted"),
            ));
        }
    };
    Ok((Requested::Action(action), reason))
}

/// `POST /v1/cases/{case_id}/actions`.
#[utoipa::path(post, path = "/v1/cases/{case_id}/actions", tag = "cases", security(("bearer" = [])),
    params(("case_id" = String, Path, example = "XL-20261201-000001")),
    request_body(content = super::wire::ActionBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The case after the action", body = CaseBody),
        (status = 400, description = "`malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: the role may not take the action, or a handler passes a case outside its unit", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`case_not_found` (or outside the caller's scope)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`illegal_transition` (with `state` and `action`), `case_busy`, `no_open_supervision`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_content_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_body`, `invalid_action`, `invalid_reason`, `reason_required`, `invalid_target`, `invalid_merge`, `unknown_media`", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip(state, caller, request), fields(action = %request.action))]
async fn act(
    State(state): State<AppState>,
    caller: Caller,
    Path(case_id): Path<String>,
    ApiJson(request): ApiJson<ActionRequest>,
) -> Result<Json<CaseBody>, ApiError> {
    let p = caller.principal()?;
    let v = workflow::load_visible(&state, p, &case_id).await?;
    let now = Utc::now();
    let (requested, reason) = parse_action(request, now)?;
    let after = workflow::act(&state, p, v, requested, reason, now).await?;
    Ok(Json(CaseBody::of(&state, &after, Utc::now())))
}

/// A dispatch's target and assignee as codes and ids that exist in form (whether they exist
/// in the deployment the workflow checks).
fn dispatch_order(d: DispatchRequest) -> Result<DispatchOrder, ApiError> {
    let bad_target = |detail: String| refused_field("invalid_target", "target", detail);
    let target = match d.target {
        TargetRequest::Unit(u) => {
            Target::Unit(UnitCode::parse(&u).map_err(|e| bad_target(e.to_string()))?)
        }
        TargetRequest::Department(dep) => Target::Department(
            DepartmentCode::parse(&dep)
                .map_err(|_| bad_target(format!("no department {dep:?}")))?,
        ),
    };
    let assignee = d
        .assignee
        .map(|a| {
            PrincipalId::parse(&a)
                .map_err(|e| refused_field("invalid_assignee", "assignee", e.to_string()))
        })
        .transpose()?;
    Ok(DispatchOrder {
        target,
        assignee,
        time_limit: d.time_limit,
    })
}
