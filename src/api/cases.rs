//! Cases (issue 3): the first events of a case at intake (`submit`, then auto-dispatch by
//! the plan library), `GET /v1/cases` (filtered, scoped to the caller),
//! `GET /v1/cases/{case_id}`, its timeline `GET /v1/cases/{case_id}/events`, the workflow
//! `POST /v1/cases/{case_id}/actions` and the leaders' `GET /v1/supervision`.
//!
//! Every action is checked in this order: the caller must see the case (else 404, as if it
//! did not exist), its role must be allowed the action (403), a handler passing a case down
//! must stay inside its unit (403), and the state machine must allow the transition (409
//! `illegal_transition`). The event is then appended as the log's next number; a concurrent
//! writer that got there first makes us re-read and re-check.
//!
//! The state, target, deadline and warning level are derived from the case's events on
//! every read ([`fold`]); the warning level is computed at the moment of the request on
//! the working calendar, never stored (issue 3, "Warning level is computed").

use std::sync::OnceLock;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{Caller, case_scope, sees, sees_contact, signed_in, within};
use super::error::Problem;
use super::{ApiError, ApiJson, ApiQuery, ApiSettings, AppState};
use crate::domain::access::PrincipalId;
use crate::domain::calendar::{IsoDuration, TimeLimit, WarningLevel};
use crate::domain::case::{
    Action, ActionKind, CaseError, CaseState, Event, Role, Submission, Supervision, Text,
    UnknownAction, fold, may,
};
use crate::domain::categories::Category;
use crate::domain::departments::DepartmentCode;
use crate::domain::dispatch::{
    Candidate, DispatchDecision, DispatchInput, Target, assign, choose_target,
};
use crate::domain::units::UnitCode;
use crate::store::analytics::Bbox;
use crate::store::{
    Appended, CaseQuery, CaseSummary, ChainEntry, IndexedCase, Principal, StoredEvent,
};

/// Reporters have no accounts yet (tokens are the next slice of issue 3): every report is
/// submitted by this actor.
const ANONYMOUS: &str = "anonymous";
/// The actor of what the service does by itself (auto-dispatch).
pub(super) const SYSTEM: &str = "system";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/cases", signed_in(get(list)))
        .route("/v1/cases/{case_id}", signed_in(get(show)))
        .route("/v1/cases/{case_id}/events", signed_in(get(timeline)))
        .route("/v1/cases/{case_id}/actions", signed_in(post(act)))
        .route("/v1/supervision", signed_in(get(supervision)))
}

/// The shipped departments, parsed once.
struct Plan {
    departments: Vec<DepartmentCode>,
}

fn plan() -> Result<&'static Plan, ApiError> {
    static PLAN: OnceLock<Result<Plan, String>> = OnceLock::new();
    PLAN.get_or_init(|| {
        let departments = crate::domain::departments::shipped()
            .iter()
            .map(|d| d.code.clone())
            .collect();
        Ok(Plan { departments })
    })
    .as_ref()
    .map_err(|e| ApiError::Internal(format!("shipped departments: {e}")))
}

/// The category of a case by its code (`None` if it was removed from the store).
pub(super) async fn category_of(
    state: &AppState,
    code: &str,
) -> Result<Option<Category>, ApiError> {
    Ok(state.categories.find(state.store.as_ref(), code).await?)
}

/// Whether a department can take cases: it exists and at least one handler works for it (a
/// department nobody staffs leaves the case in the dispatchers' queue, visibly). Duty rosters
/// are not kept: every handler counts as on duty.
fn staffed<'a>(plan: &'a Plan, staff: &'a [String]) -> impl Fn(&DepartmentCode) -> bool + 'a {
    move |d| plan.departments.contains(d) && staff.iter().any(|s| s == d.as_str())
}

/// The first events of a new case: `submit` by the reporter, then, unless a grid worker
/// must verify it first, the `dispatch` the plan library chooses (actor `system`) with its
/// deadline. When no target can be reached the case stays `submitted`, in the dispatchers'
/// queue, and the `submit` event's reason says why.
pub(crate) async fn initial_events(
    state: &AppState,
    reporter: Option<&Principal>,
    category: &Category,
    chain: &[ChainEntry],
    description: &str,
    now: DateTime<Utc>,
) -> Result<(Vec<Event>, CaseSummary), ApiError> {
    let (actor, role) = reporter.map_or((ANONYMOUS.to_owned(), Role::Resident), |p| {
        (p.id.clone(), p.role)
    });
    let mut submit = Event {
        actor,
        role,
        at: now,
        action: Action::Submit(Submission {
            kind: category.kind,
            verify_first: category.verify_first,
        }),
        reason: None,
    };
    let opened = CaseState::open(&submit).map_err(|e| ApiError::Internal(e.to_string()))?;
    if opened.state != crate::domain::case::State::Submitted {
        // Pending verification: dispatch waits for the grid worker's 核实.
        return summarised(state, vec![submit]);
    }
    let chain: Vec<UnitCode> = chain
        .iter()
        .map(|c| UnitCode::parse(&c.code))
        .collect::<Result<_, _>>()
        .map_err(|e| ApiError::Internal(format!("resolved chain: {e}")))?;
    let events = match auto_dispatch(state, category, &chain, description, now).await? {
        Ok(dispatch) => vec![submit, dispatch],
        Err(reason) => {
            submit.reason = Some(reason);
            vec![submit]
        }
    };
    summarised(state, events)
}

/// The `dispatch` event the plan library chooses for a case (actor `system`), with the
/// person within the target it is assigned to; or why it must wait for the dispatchers.
async fn auto_dispatch(
    state: &AppState,
    category: &Category,
    chain: &[UnitCode],
    description: &str,
    now: DateTime<Utc>,
) -> Result<Result<Event, Text>, ApiError> {
    let plan = plan()?;
    let (_, rules) = super::plan::rules_in_force(state).await?;
    let cal = &state.settings.calendar;
    let input = DispatchInput {
        category,
        chain,
        local_time: cal.local(now).time(),
        description,
    };
    let staff = state.store.staffed_departments().await?;
    let staffed = staffed(plan, &staff);
    match choose_target(&rules, &input, &staffed) {
        DispatchDecision::Dispatch {
            target,
            time_limit,
            rule,
        } => {
            let grid = chain.iter().find(|c| c.as_str().len() == 15);
            let assignee = assignee_for(state, &target, grid.map(UnitCode::as_str)).await?;
            Ok(Ok(Event {
                actor: SYSTEM.into(),
                role: Role::System,
                at: now,
                action: Action::Dispatch(crate::domain::case::Dispatch {
                    target,
                    assignee,
                    rule,
                    deadline: time_limit.map(|l| cal.deadline_for(now, l)),
                }),
                reason: None,
            }))
        }
        DispatchDecision::Queue { reason, .. } => Ok(Err(Text::parse(&format!(
            "waiting for dispatchers: {reason}"
        ))
        .map_err(|e| ApiError::Internal(e.to_string()))?)),
    }
}

/// The person within `target` a case goes to: the grid worker of the report's grid, else
/// the least-loaded handler (`dispatch::assign`); `None` leaves it in the unit's queue.
async fn assignee_for(
    state: &AppState,
    target: &Target,
    grid: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let staff = state.store.assignable_staff(target.code(), grid).await?;
    let grid_code = grid.and_then(|g| UnitCode::parse(g).ok());
    let candidates: Vec<Candidate> = staff
        .into_iter()
        .map(|(p, load)| Candidate {
            grids: match (&grid_code, p.role) {
                (Some(g), Role::GridWorker) => vec![g.clone()],
                _ => Vec::new(),
            },
            user: p.id,
            role: p.role,
            on_duty: true,
            load: load.try_into().unwrap_or(u32::MAX),
        })
        .collect();
    Ok(assign(&candidates, grid_code.as_ref()).map(|c| c.user.clone()))
}

/// The events with the read-model summary of their fold.
fn summarised(state: &AppState, events: Vec<Event>) -> Result<(Vec<Event>, CaseSummary), ApiError> {
    let case = fold(&events).map_err(|e| ApiError::Internal(format!("initial events: {e}")))?;
    let summary = summary_of(state, &case, events.len() as i32);
    Ok((events, summary))
}

/// The read-model row of a folded case on the deployment's calendar.
fn summary_of(state: &AppState, case: &CaseState, last_seq: i32) -> CaseSummary {
    let s = &state.settings;
    CaseSummary::of(case, last_seq, &s.calendar, s.red_margin)
}

/// A case the caller may see: its index row, events and fold. Anything else — no such case,
/// or one outside the caller's scope — is the same 404.
struct Visible {
    index: IndexedCase,
    events: Vec<StoredEvent>,
    case: CaseState,
}

async fn load_visible(state: &AppState, p: &Principal, case_id: &str) -> Result<Visible, ApiError> {
    let not_found = || ApiError::CaseNotFound(case_id.to_owned());
    let index = state
        .store
        .indexed_case(case_id)
        .await?
        .ok_or_else(not_found)?;
    if !sees(p, &index) && !follows(state, p, &index).await? {
        return Err(not_found());
    }
    load_indexed(state, index).await
}

/// The events and fold of a case whose index row the caller may see.
async fn load_indexed(state: &AppState, index: IndexedCase) -> Result<Visible, ApiError> {
    let case_id = index.case_id.clone();
    let case_id = case_id.as_str();
    let events = state.store.case_events(case_id).await?;
    let case = fold(events.iter().map(|e| &e.event))
        .map_err(|e| ApiError::Internal(format!("case {case_id} does not fold: {e}")))?;
    Ok(Visible {
        index,
        events,
        case,
    })
}

/// Whether a resident follows this case because a report of theirs was merged into it.
async fn follows(state: &AppState, p: &Principal, case: &IndexedCase) -> Result<bool, ApiError> {
    if p.role != Role::Resident {
        return Ok(false);
    }
    Ok(state
        .store
        .merged_cases(&case.case_id)
        .await?
        .iter()
        .any(|m| m.reporter == p.id))
}

/// Whether the caller may see the case, for `GET /v1/reports/{case_id}`.
pub(super) async fn visible_to(
    state: &AppState,
    p: &Principal,
    case_id: &str,
) -> Result<bool, ApiError> {
    Ok(match state.store.indexed_case(case_id).await? {
        Some(index) => sees(p, &index) || follows(state, p, &index).await?,
        None => false,
    })
}

/// The current state of a stored case, for the intake response.
pub(crate) async fn current_state(state: &AppState, case_id: &str) -> Result<String, ApiError> {
    let index = state
        .store
        .indexed_case(case_id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("case {case_id} has no index row")))?;
    Ok(index.state)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The warning level at `now`: green without a deadline; once the deadline stops running
/// (closed, parked …) the level is frozen at the moment it stopped.
fn warning_level(s: &ApiSettings, case: &CaseState, now: DateTime<Utc>) -> WarningLevel {
    let Some(deadline) = case.deadline else {
        return WarningLevel::Green;
    };
    deadline.level(
        case.clock_stopped_at().unwrap_or(now),
        &s.calendar,
        s.red_margin,
    )
}

fn case_json(s: &ApiSettings, v: &Visible, now: DateTime<Utc>) -> Value {
    let case = &v.case;
    let queue = match (case.state, v.events.first()) {
        (crate::domain::case::State::Submitted, Some(first)) => {
            first.event.reason.as_ref().map(|r| r.as_str().to_owned())
        }
        _ => None,
    };
    json!({
        "case_id": v.index.case_id,
        "state": case.state,
        "kind": case.kind,
        "category": v.index.category,
        "submitted_at": rfc3339(case.submitted_at),
        "updated_at": rfc3339(case.updated_at),
        "warning_level": warning_level(s, case, now),
        "deadline": case.deadline.map(|d| rfc3339(d.at)),
        // Counted over days the working calendar does not cover: may move (issue 8).
        "deadline_provisional": case.deadline.is_some_and(|d| d.provisional),
        "unit": case.target,
        "assignee": case.assignee,
        "rule": case.rule,
        "queue": queue,
        "open_supervisions": case.open_supervisions,
        "merged_into": case.merged_into,
        "location": {"lon": v.index.lon, "lat": v.index.lat},
        "units": {
            "district": v.index.district, "street": v.index.street,
            "community": v.index.community, "grid": v.index.grid,
        },
    })
}

/// `GET /v1/cases/{case_id}`; staff also get the cases merged into it, and the unit handling
/// it and the dispatchers the reporter's contact ([`sees_contact`]).
#[utoipa::path(get, path = "/v1/cases/{case_id}", tag = "cases", security(("bearer" = [])),
    params(("case_id" = String, Path, example = "XL-20261201-000001")),
    responses(
        (status = 200, description = "The case", body = super::wire::CaseBody),
        (status = 403, description = "`forbidden`: a planner sees aggregates only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`case_not_found` (or outside the caller's scope)", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip(state, caller))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(case_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let p = caller.principal()?;
    let v = load_visible(&state, p, &case_id).await?;
    let mut body = case_json(&state.settings, &v, Utc::now());
    let duplicates = state.store.merged_cases(&case_id).await?;
    body["reporters"] = json!(1 + duplicates.len());
    if crate::domain::access::is_staff(p.role) {
        body["duplicates"] = json!(duplicates);
        body["duplicate_candidates"] = json!(duplicate_candidates(&state, &v).await?);
        if v.case.state == crate::domain::case::State::Returned {
            body["suggested_target"] = json!(suggested_target(&state, &v).await?);
        }
        if may(p.role, ActionKind::Dispatch) && v.case.state.is_open() {
            body["dispatch_candidates"] = json!(plan_candidates(&state, &v).await?);
        }
    }
    let target = v.case.target.as_ref().map(Target::code);
    if sees_contact(p, target, v.case.assignee.as_deref()) {
        body["reporter_contact"] = reporter_contact(&state, &v).await?;
    }
    Ok(Json(body))
}

/// After a return (退回): the next candidate target that has not returned the case yet
/// (matching rules, the category's handler, then the street and district it lies in).
async fn suggested_target(state: &AppState, v: &Visible) -> Result<Option<Target>, ApiError> {
    Ok(plan_candidates(state, v)
        .await?
        .into_iter()
        .find(|t| !v.case.returned_by.contains(t)))
}

/// The plan library's candidate targets for the case, best first (`dispatch::candidates`):
/// what a dispatcher chooses from besides clicking a unit on the map.
async fn plan_candidates(state: &AppState, v: &Visible) -> Result<Vec<Target>, ApiError> {
    let Some(category) = category_of(state, &v.index.category).await? else {
        return Ok(Vec::new());
    };
    let chain = indexed_chain(&v.index)?;
    let description = state
        .store
        .get_report(&v.index.case_id)
        .await?
        .map(|r| r.description)
        .unwrap_or_default();
    let (_, rules) = super::plan::rules_in_force(state).await?;
    let plan = plan()?;
    let input = DispatchInput {
        category: &category,
        chain: &chain,
        local_time: state.settings.calendar.local(v.case.submitted_at).time(),
        description: &description,
    };
    let staff = state.store.staffed_departments().await?;
    let staffed = staffed(plan, &staff);
    Ok(crate::domain::dispatch::candidates(
        &rules, &input, &staffed,
    ))
}

/// The report's resolved units, coarsest first, from the case's index row.
fn indexed_chain(index: &IndexedCase) -> Result<Vec<UnitCode>, ApiError> {
    [
        &index.district,
        &index.street,
        &index.community,
        &index.grid,
    ]
    .into_iter()
    .flatten()
    .map(|c| UnitCode::parse(c))
    .collect::<Result<_, _>>()
    .map_err(|e| ApiError::Internal(format!("indexed chain: {e}")))
}

/// Open cases of the same category within the category's radius (default 50 m) and time
/// window (default 72 h) of this one, nearest first: what a dispatcher may merge (issue 3,
/// "Duplicates"). Computed when read, so it is always current.
async fn duplicate_candidates(state: &AppState, v: &Visible) -> Result<Vec<Value>, ApiError> {
    if !v.case.state.is_open() {
        return Ok(Vec::new());
    }
    let Some(category) = category_of(state, &v.index.category).await? else {
        return Ok(Vec::new());
    };
    let (radius, window) = (category.duplicate_radius_m(), category.duplicate_window());
    let here = geo::coord! {x: v.index.lon, y: v.index.lat};
    let bbox = Bbox {
        min_lon: here.x,
        min_lat: here.y,
        max_lon: here.x,
        max_lat: here.y,
    }
    .grown_by_km(radius / 1000.0);
    let nearby = state
        .store
        .list_cases(&CaseQuery {
            scope: crate::store::CaseScope::All,
            states: Vec::new(),
            warning: None,
            unit: None,
            category: Some(v.index.category.clone()),
            bbox: Some(bbox),
            supervision_queue: false,
            now: Utc::now(),
            limit: LIST_MAX,
            after: None,
            submitted_from: None,
            submitted_until: None,
        })
        .await?;
    let mut found: Vec<(f64, &IndexedCase)> = nearby
        .iter()
        .filter(|c| c.case_id != v.index.case_id && c.category == v.index.category)
        .filter(|c| {
            c.state
                .parse::<crate::domain::case::State>()
                .is_ok_and(|s| s.is_open())
        })
        .filter(|c| (c.submitted_at - v.index.submitted_at).abs() <= window)
        .map(|c| {
            let d = crate::domain::coords::haversine_m(here, geo::coord! {x: c.lon, y: c.lat});
            (d, c)
        })
        .filter(|(d, _)| *d <= radius)
        .collect();
    found.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(found
        .into_iter()
        .map(|(d, c)| json!({"case_id": c.case_id, "distance_m": (d * 10.0).round() / 10.0, "state": c.state}))
        .collect())
}

/// The reporter's contact: the phone they registered with, else what the report carried.
async fn reporter_contact(state: &AppState, v: &Visible) -> Result<Value, ApiError> {
    let registered = state.store.principal_phone(&v.case.reporter).await?;
    let report = state.store.get_report(&v.index.case_id).await?;
    let (name, phone) = report
        .map(|r| (r.contact_name, r.contact_phone))
        .unwrap_or_default();
    Ok(json!({"name": name, "phone": registered.or(phone)}))
}

/// What a resident may see of an event: when, what, by which role, and the public facts of
/// a dispatch (where to, until when) or a rating. Actors (user ids), reasons, notes,
/// assignees and supervision opinions are staff-internal and left out.
fn public_event(e: &StoredEvent) -> Value {
    let details = match &e.event.action {
        Action::Dispatch(d) => {
            json!({"unit": d.target, "deadline": d.deadline.map(|d| rfc3339(d.at))})
        }
        Action::Rate(r) => json!({"score": r.score.get()}),
        _ => Value::Null,
    };
    let mut v = json!({
        "seq": e.seq,
        "at": rfc3339(e.event.at),
        "action": e.event.action.kind(),
        "role": e.event.role,
    });
    if !details.is_null() {
        v["details"] = details;
    }
    v
}

/// How many merges a reporter's view follows up to the case that is handled (a master can
/// itself be merged later).
const MERGE_HOPS: usize = 4;

/// The case a follow-up secret opens, and the master it was merged into if it is a
/// duplicate (as a registered reporter of a duplicate follows the master).
async fn followed(state: &AppState, case_id: &str) -> Result<(Visible, Option<Visible>), ApiError> {
    let load = |id: String| async move {
        let index =
            state.store.indexed_case(&id).await?.ok_or_else(|| {
                ApiError::Internal(format!("followed case {id} has no index row"))
            })?;
        load_indexed(state, index).await
    };
    let own = load(case_id.to_owned()).await?;
    let mut master = None;
    let mut next = own.case.merged_into.clone();
    for _ in 0..MERGE_HOPS {
        let Some(id) = next else { break };
        let v = load(id.as_str().to_owned()).await?;
        next = v.case.merged_into.clone();
        master = Some(v);
    }
    Ok((own, master))
}

/// The reporter's view of a case through its follow-up secret (issue 8, item 11): what the
/// reporter sees of it with an account, with the public timeline; a duplicate also shows
/// the master case it follows, whose handling it waits for.
pub(super) async fn reporter_view(state: &AppState, case_id: &str) -> Result<Value, ApiError> {
    let (own, master) = followed(state, case_id).await?;
    let now = Utc::now();
    let view = |v: &Visible| {
        let mut body = case_json(&state.settings, v, now);
        body["events"] = v.events.iter().map(public_event).collect();
        body
    };
    let mut body = view(&own);
    let handling = master.as_ref().unwrap_or(&own);
    // Closed, and a kind that is rated: praise (acknowledged) and consultations (answered)
    // close without a rating, so offering one would only earn a 409.
    body["can_rate"] = json!(
        handling.case.state == crate::domain::case::State::Closed
            && ActionKind::Rate.applies_to(handling.case.kind)
    );
    if let Some(m) = &master {
        body["master"] = view(m);
    }
    Ok(body)
}

/// The reporter's rating (评价) through the follow-up secret, on the case handling the
/// report; as a resident's `rate` action, it is only possible once the case is closed.
pub(super) async fn rate_as_reporter(
    state: &AppState,
    case_id: &str,
    rating: crate::domain::case::Rating,
) -> Result<Value, ApiError> {
    let (own, master) = followed(state, case_id).await?;
    let handling = master.as_ref().unwrap_or(&own);
    // The reporter of an anonymous or registered report is the actor; a report staff
    // entered for a caller (a phone call) is rated by that caller, anonymously.
    let actor = match own.events.first() {
        Some(e) if e.event.role == Role::Resident => e.event.actor.clone(),
        _ => ANONYMOUS.to_owned(),
    };
    let now = Utc::now();
    append_checked(state, &handling.index.case_id, |case| {
        Ok(Some(Event {
            actor: actor.clone(),
            role: Role::Resident,
            at: now.max(case.updated_at),
            action: Action::Rate(rating.clone()),
            reason: None,
        }))
    })
    .await?;
    reporter_view(state, case_id).await
}

/// Staff read the whole event: actor, reason and payload.
fn staff_event(e: &StoredEvent) -> Value {
    let mut v = serde_json::to_value(&e.event).unwrap_or(Value::Null);
    v["seq"] = json!(e.seq);
    v["at"] = json!(rfc3339(e.event.at));
    v
}

/// `GET /v1/cases/{case_id}/events`: the case's log.
#[utoipa::path(get, path = "/v1/cases/{case_id}/events", tag = "cases", security(("bearer" = [])),
    params(("case_id" = String, Path, example = "XL-20261201-000001")),
    responses(
        (status = 200, description = "The log, oldest first", body = super::wire::Timeline),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`case_not_found` (or outside the caller's scope)", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip(state, caller))]
async fn timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(case_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let p = caller.principal()?;
    let v = load_visible(&state, p, &case_id).await?;
    let shape = if crate::domain::access::is_staff(p.role) {
        staff_event
    } else {
        public_event
    };
    Ok(Json(json!({
        "case_id": case_id,
        "events": v.events.iter().map(shape).collect::<Vec<_>>(),
    })))
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

const LIST_MAX: i64 = 500;

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
                    .parse::<crate::domain::case::State>()
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

fn list_item(c: &IndexedCase, now: DateTime<Utc>) -> Value {
    json!({
        "case_id": c.case_id,
        "state": c.state,
        "kind": c.kind,
        "category": c.category,
        "warning_level": c.warning_level(now),
        "deadline": c.deadline_at.map(rfc3339),
        "unit": c.target,
        "assignee": c.assignee,
        "open_supervisions": c.open_supervisions,
        "submitted_at": rfc3339(c.submitted_at),
        "updated_at": rfc3339(c.updated_at),
        "location": {"lon": c.lon, "lat": c.lat},
        "grid": c.grid,
    })
}

async fn run_list(state: &AppState, query: CaseQuery) -> Result<Json<Value>, ApiError> {
    let now = query.now;
    let limit = query.limit;
    let cases = state.store.list_cases(&query).await?;
    let next = (cases.len() as i64 == limit)
        .then(|| cases.last().map(|c| c.case_id.clone()))
        .flatten();
    Ok(Json(json!({
        "cases": cases.iter().map(|c| list_item(c, now)).collect::<Vec<_>>(),
        "next_after": next,
    })))
}

/// `GET /v1/cases?state=&warning=&unit=&category=&bbox=&limit=&after=`: the cases the
/// caller may see, in case-id order, `limit` at a time (`next_after` continues).
#[utoipa::path(get, path = "/v1/cases", tag = "cases", params(ListQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of the cases the caller may see", body = super::wire::CaseList),
        (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: a planner sees aggregates only", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_state`, `invalid_warning`, `invalid_unit`, `invalid_category`, `invalid_bbox`, `invalid_limit`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
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
        (status = 200, description = "A page of the supervision queue", body = super::wire::CaseList),
        (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not a leader, dispatcher or admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_state`, `invalid_warning`, `invalid_unit`, `invalid_category`, `invalid_bbox`, `invalid_limit`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn supervision(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
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

/// Turns the request into an [`Action`] (payload checked by its types) and a reason.
async fn parse_action(
    state: &AppState,
    v: &Visible,
    r: ActionRequest,
    now: DateTime<Utc>,
) -> Result<(Action, Option<Text>), ApiError> {
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
        A::Dispatch => Action::Dispatch(dispatch_of(state, v, payload(kind, fields)?, now).await?),
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
    check_photos(state, &action).await?;
    Ok((action, reason))
}

/// A dispatcher's (or a street's) dispatch: the target must exist, a named assignee must
/// work for it; the deadline runs from now with the given limit, else the category's.
async fn dispatch_of(
    state: &AppState,
    v: &Visible,
    d: DispatchRequest,
    now: DateTime<Utc>,
) -> Result<crate::domain::case::Dispatch, ApiError> {
    let bad_target = |detail: String| refused_field("invalid_target", "target", detail);
    let target = match d.target {
        TargetRequest::Unit(u) => {
            let code = UnitCode::parse(&u).map_err(|e| bad_target(e.to_string()))?;
            if state.store.unit_level(code.as_str()).await?.is_none() {
                return Err(bad_target(format!("no unit {u:?} in this deployment")));
            }
            Target::Unit(code)
        }
        TargetRequest::Department(dep) => {
            let code = DepartmentCode::parse(&dep)
                .ok()
                .filter(|c| plan().is_ok_and(|p| p.departments.contains(c)))
                .ok_or_else(|| bad_target(format!("no department {dep:?}")))?;
            Target::Department(code)
        }
    };
    let category = category_of(state, &v.index.category).await?;
    let limit = match (d.time_limit, category) {
        (Some(duration), c) => Some(TimeLimit {
            duration,
            calendar: c.map(|c| c.calendar).unwrap_or_default(),
        }),
        (None, Some(c)) => c.limit(),
        (None, None) => None,
    };
    let grid = v.index.grid.as_deref();
    let assignee = match d.assignee {
        Some(a) => Some(known_assignee(state, &target, grid, &a).await?),
        None => assignee_for(state, &target, grid).await?,
    };
    Ok(crate::domain::case::Dispatch {
        target,
        assignee,
        rule: None,
        deadline: limit.map(|l| state.settings.calendar.deadline_for(now, l)),
    })
}

/// A named assignee: someone a case sent to `target` can be assigned to (its handlers, the
/// grid worker of the case's grid), the same people auto-dispatch chooses from.
async fn known_assignee(
    state: &AppState,
    target: &Target,
    grid: Option<&str>,
    assignee: &str,
) -> Result<String, ApiError> {
    let refused = |detail: String| refused_field("invalid_assignee", "assignee", detail);
    let id = PrincipalId::parse(assignee).map_err(|e| refused(e.to_string()))?;
    let staff = state.store.assignable_staff(target.code(), grid).await?;
    if staff.iter().any(|(p, _)| p.id == id.as_str()) {
        Ok(id.as_str().to_owned())
    } else {
        Err(refused(format!(
            "{id} does not work for {}; assign someone of that unit or leave assignee out",
            target.code()
        )))
    }
}

/// Photos named by a resolution or note must have been uploaded (`POST /v1/media`).
async fn check_photos(state: &AppState, action: &Action) -> Result<(), ApiError> {
    let photos: &[Text] = match action {
        Action::Resolve(r) => r.after_photos.as_slice(),
        Action::Progress(n) | Action::Reinspect(n) => &n.photos,
        _ => &[],
    };
    for photo in photos {
        let unknown = || {
            bad_query(
                "unknown_media",
                format!("no uploaded photo {photo}; POST /v1/media first"),
            )
        };
        let key = crate::media::MediaKey::parse(photo.as_str()).map_err(|_| unknown())?;
        match state.media.get(&key).await {
            Ok(_) => {}
            Err(crate::media::StorageError::NotFound(_)) => return Err(unknown()),
            Err(e) => return Err(ApiError::Internal(format!("reading {key}: {e}"))),
        }
    }
    Ok(())
}

fn case_error(e: CaseError) -> ApiError {
    match e {
        CaseError::IllegalTransition { state, action } => ApiError::IllegalTransition {
            state: state.to_string(),
            action: action.to_string(),
        },
        CaseError::NotForKind { kind, action } => ApiError::IllegalTransition {
            state: format!("a {} case", kind.as_str()),
            action: action.to_string(),
        },
        CaseError::Forbidden { role, action } => {
            ApiError::Forbidden(format!("a {role} may not {action}"))
        }
        CaseError::ReasonRequired(action) => {
            bad_query("reason_required", format!("{action} needs a reason"))
        }
        CaseError::NoOpenSupervision => ApiError::Conflict {
            code: "no_open_supervision",
            detail: e.to_string(),
        },
        other => ApiError::Internal(other.to_string()),
    }
}

/// Scope rules beyond the role table: a handler passes a case only inside its own unit, and
/// a merge names another open case of the same category the caller can see.
async fn check_scope(
    state: &AppState,
    p: &Principal,
    v: &Visible,
    action: &Action,
) -> Result<(), ApiError> {
    match action {
        Action::Dispatch(d) if p.role == Role::Handler => {
            let unit = p.unit.as_deref().unwrap_or_default();
            if !within(d.target.code(), unit) {
                return Err(ApiError::Forbidden(format!(
                    "a handler of {unit} may only pass cases to units inside it"
                )));
            }
        }
        Action::Merge(m) => {
            let master = m.into.as_str();
            let found = state.store.indexed_case(master).await?;
            let ok = found.as_ref().is_some_and(|c| {
                c.case_id != v.index.case_id
                    && sees(p, c)
                    && c.category == v.index.category
                    && c.merged_into.is_none()
                    && c.clock_stopped_at.is_none()
            });
            if !ok {
                return Err(bad_query(
                    "invalid_merge",
                    format!(
                        "{master} is not another open case of category {}",
                        v.index.category
                    ),
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// How often an action is re-checked after losing a race for the log's next number.
const APPEND_ATTEMPTS: usize = 8;

/// Appends `make(case)` to the case's log as its next event after checking it against the
/// current fold; re-reads and re-checks when another writer got there first. `make` may
/// decide there is nothing to append (`None`): the case is returned as it is.
pub(super) async fn append_checked(
    state: &AppState,
    case_id: &str,
    mut make: impl FnMut(&CaseState) -> Result<Option<Event>, ApiError>,
) -> Result<(Vec<StoredEvent>, CaseState), ApiError> {
    for _ in 0..APPEND_ATTEMPTS {
        let events = state.store.case_events(case_id).await?;
        let case = fold(events.iter().map(|e| &e.event))
            .map_err(|e| ApiError::Internal(format!("case {case_id} does not fold: {e}")))?;
        let Some(event) = make(&case)? else {
            return Ok((events, case));
        };
        let mut next = case.clone();
        next.apply(&event).map_err(case_error)?;
        let seq = events.len() as i32 + 1;
        match state
            .store
            .append_event(case_id, seq, &event, &summary_of(state, &next, seq))
            .await?
        {
            Appended::Stored => {
                let mut events = events;
                events.push(StoredEvent { seq, event });
                super::events::published(state, case_id, seq..=seq).await;
                return Ok((events, next));
            }
            Appended::SeqTaken => continue,
            Appended::MasterNotOpen => return Err(merge_lost(&event)),
        }
    }
    Err(ApiError::Conflict {
        code: "case_busy",
        detail: format!(
            "case {case_id} changed {APPEND_ATTEMPTS} times while this action was checked; retry"
        ),
    })
}

/// A merge whose master stopped being open between the check and the append: most often an
/// opposite merge of the master into this case that was stored first.
fn merge_lost(event: &Event) -> ApiError {
    let master = match &event.action {
        Action::Merge(m) => m.into.as_str(),
        _ => "the master",
    };
    bad_query(
        "invalid_merge",
        format!(
            "{master} is no longer an open case: it was merged (perhaps into this case) or \
             closed while this merge was checked"
        ),
    )
}

/// `POST /v1/cases/{case_id}/actions`.
#[utoipa::path(post, path = "/v1/cases/{case_id}/actions", tag = "cases", security(("bearer" = [])),
    params(("case_id" = String, Path, example = "XL-20261201-000001")),
    request_body(content = super::wire::ActionBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The case after the action", body = super::wire::CaseBody),
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
) -> Result<Json<Value>, ApiError> {
    let p = caller.principal()?.clone();
    let v = load_visible(&state, &p, &case_id).await?;
    let now = Utc::now();
    let (action, reason) = parse_action(&state, &v, request, now).await?;
    let kind = action.kind();
    if !may(p.role, kind) {
        return Err(ApiError::Forbidden(format!("a {} may not {kind}", p.role)));
    }
    check_scope(&state, &p, &v, &action).await?;
    let (events, case) = append_checked(&state, &case_id, |case| {
        Ok(Some(Event {
            actor: p.id.clone(),
            role: p.role,
            at: now.max(case.updated_at),
            action: action.clone(),
            reason: reason.clone(),
        }))
    })
    .await?;
    super::rewards::credit_if_due(&state, &v.index, &v.case, &case, kind).await?;
    let (events, case) = if kind == ActionKind::Verify {
        dispatch_after_verification(&state, &v.index, events, case).await?
    } else {
        (events, case)
    };
    let mut index = v.index;
    index.state = case.state.to_string();
    Ok(Json(case_json(
        &state.settings,
        &Visible {
            index,
            events,
            case,
        },
        Utc::now(),
    )))
}

/// After a grid worker's 核实, the plan library dispatches the case as it would have on
/// intake; when it finds no target the case waits for the dispatchers.
async fn dispatch_after_verification(
    state: &AppState,
    index: &IndexedCase,
    events: Vec<StoredEvent>,
    case: CaseState,
) -> Result<(Vec<StoredEvent>, CaseState), ApiError> {
    let Some(category) = category_of(state, &index.category).await? else {
        return Ok((events, case));
    };
    let chain = indexed_chain(index)?;
    let description = state
        .store
        .get_report(&index.case_id)
        .await?
        .map(|r| r.description)
        .unwrap_or_default();
    let now = Utc::now().max(case.updated_at);
    match auto_dispatch(state, &category, &chain, &description, now).await? {
        // Only if nobody dispatched it meanwhile.
        Ok(dispatch) => {
            append_checked(state, &index.case_id, |c| {
                Ok((c.state == crate::domain::case::State::Verified).then(|| dispatch.clone()))
            })
            .await
        }
        Err(_) => Ok((events, case)),
    }
}
