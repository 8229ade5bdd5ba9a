//! Cases (issue 3): the first events of a case at intake (`submit`, then auto-dispatch by
//! the plan library), `GET /v1/cases/{case_id}` and its public timeline
//! `GET /v1/cases/{case_id}/events`.
//!
//! The state, target, deadline and warning level are derived from the case's events on
//! every read ([`fold`]); the warning level is computed at the moment of the request on
//! the working calendar, never stored (issue 3, "Warning level is computed").

use std::sync::OnceLock;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::domain::calendar::{WarningLevel, WorkingCalendar};
use crate::domain::case::{Action, CaseState, Event, Role, Submission, Text, fold};
use crate::domain::categories::Category;
use crate::domain::departments::{DepartmentCode, SHIPPED_DEPARTMENTS, parse_department_file};
use crate::domain::dispatch::{
    DispatchDecision, DispatchInput, DispatchRule, SHIPPED_RULES, choose_target, parse_rule_file,
};
use crate::domain::units::UnitCode;
use crate::store::{CaseSummary, ChainEntry, StoredEvent};

/// Reporters have no accounts yet (tokens are the next slice of issue 3): every report is
/// submitted by this actor.
const ANONYMOUS: &str = "anonymous";
/// The actor of what the service does by itself (auto-dispatch).
const SYSTEM: &str = "system";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/cases/{case_id}", get(show))
        .route("/v1/cases/{case_id}/events", get(timeline))
}

/// The working calendar deadlines and warnings are counted on.
fn calendar() -> WorkingCalendar {
    WorkingCalendar::china()
}

/// The shipped plan library and departments, parsed once.
struct Plan {
    rules: Vec<DispatchRule>,
    departments: Vec<DepartmentCode>,
}

fn plan() -> Result<&'static Plan, ApiError> {
    static PLAN: OnceLock<Result<Plan, String>> = OnceLock::new();
    PLAN.get_or_init(|| {
        let rules = parse_rule_file(SHIPPED_RULES).map_err(|e| e.to_string())?;
        let departments = parse_department_file(SHIPPED_DEPARTMENTS)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|d| d.code)
            .collect();
        Ok(Plan { rules, departments })
    })
    .as_ref()
    .map_err(|e| ApiError::Internal(format!("shipped dispatch data: {e}")))
}

/// The first events of a new case: `submit` by the reporter, then, unless a grid worker
/// must verify it first, the `dispatch` the plan library chooses (actor `system`) with its
/// deadline. When no target can be reached the case stays `submitted`, in the dispatchers'
/// queue, and the `submit` event's reason says why.
pub(super) fn initial_events(
    category: &Category,
    chain: &[ChainEntry],
    description: &str,
    now: DateTime<Utc>,
) -> Result<(Vec<Event>, CaseSummary), ApiError> {
    let plan = plan()?;
    let cal = calendar();
    let submission = Submission {
        kind: category.kind,
        verify_first: category.verify_first,
    };
    let mut submit = Event {
        actor: ANONYMOUS.into(),
        role: Role::Resident,
        at: now,
        action: Action::Submit(submission),
        reason: None,
    };
    let opened = CaseState::open(&submit).map_err(|e| ApiError::Internal(e.to_string()))?;
    if opened.state != crate::domain::case::State::Submitted {
        // Pending verification: dispatch waits for the grid worker's 核实.
        return summarised(vec![submit]);
    }
    let chain: Vec<UnitCode> = chain
        .iter()
        .map(|c| UnitCode::parse(&c.code))
        .collect::<Result<_, _>>()
        .map_err(|e| ApiError::Internal(format!("resolved chain: {e}")))?;
    let input = DispatchInput {
        category,
        chain: &chain,
        local_time: cal.local(now).time(),
        description,
    };
    // Staff lists come with roles and tokens (next slice); until then every shipped
    // department counts as able to take cases.
    let staffed = |d: &DepartmentCode| plan.departments.contains(d);
    let events = match choose_target(&plan.rules, &input, &staffed) {
        DispatchDecision::Dispatch {
            target,
            time_limit,
            rule,
        } => {
            let dispatch = Event {
                actor: SYSTEM.into(),
                role: Role::System,
                at: now,
                action: Action::Dispatch(crate::domain::case::Dispatch {
                    target,
                    assignee: None,
                    rule,
                    deadline: time_limit.map(|l| cal.deadline_for(now, l)),
                }),
                reason: None,
            };
            vec![submit, dispatch]
        }
        DispatchDecision::Queue { reason, .. } => {
            submit.reason = Text::parse(&format!("waiting for dispatchers: {reason}")).ok();
            vec![submit]
        }
    };
    summarised(events)
}

/// The events with the read-model summary of their fold.
fn summarised(events: Vec<Event>) -> Result<(Vec<Event>, CaseSummary), ApiError> {
    let case = fold(&events).map_err(|e| ApiError::Internal(format!("initial events: {e}")))?;
    let summary = summary_of(&case, events.len() as i32);
    Ok((events, summary))
}

/// The read-model row of a folded case on the deployment's calendar.
fn summary_of(case: &CaseState, last_seq: i32) -> CaseSummary {
    CaseSummary::of(case, last_seq, &calendar(), None)
}

/// The case's events and their fold, or `case_not_found`.
async fn load(state: &AppState, case_id: &str) -> Result<(Vec<StoredEvent>, CaseState), ApiError> {
    let events = state.store.case_events(case_id).await?;
    if events.is_empty() {
        return Err(ApiError::CaseNotFound(case_id.to_owned()));
    }
    let case = fold(events.iter().map(|e| &e.event))
        .map_err(|e| ApiError::Internal(format!("case {case_id} does not fold: {e}")))?;
    Ok((events, case))
}

/// The current state of a stored case, for the intake response.
pub(super) async fn current_state(state: &AppState, case_id: &str) -> Result<String, ApiError> {
    Ok(load(state, case_id).await?.1.state.to_string())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The warning level at `now`: green without a deadline; once the deadline stops running
/// (closed, parked …) the level is frozen at the last change.
fn warning_level(case: &CaseState, now: DateTime<Utc>) -> WarningLevel {
    let Some(deadline) = case.deadline else {
        return WarningLevel::Green;
    };
    deadline.level(case.clock_stopped_at().unwrap_or(now), &calendar(), None)
}

fn case_json(case_id: &str, events: &[StoredEvent], case: &CaseState, now: DateTime<Utc>) -> Value {
    let queue = match (case.state, events.first()) {
        (crate::domain::case::State::Submitted, Some(first)) => {
            first.event.reason.as_ref().map(|r| r.as_str().to_owned())
        }
        _ => None,
    };
    json!({
        "case_id": case_id,
        "state": case.state,
        "kind": case.kind,
        "submitted_at": rfc3339(case.submitted_at),
        "updated_at": rfc3339(case.updated_at),
        "warning_level": warning_level(case, now),
        "deadline": case.deadline.map(|d| rfc3339(d.at)),
        "unit": case.target,
        "assignee": case.assignee,
        "rule": case.rule,
        "queue": queue,
    })
}

#[tracing::instrument(skip(state))]
async fn show(
    State(state): State<AppState>,
    Path(case_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (events, case) = load(&state, &case_id).await?;
    Ok(Json(case_json(&case_id, &events, &case, Utc::now())))
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

#[tracing::instrument(skip(state))]
async fn timeline(
    State(state): State<AppState>,
    Path(case_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (events, _) = load(&state, &case_id).await?;
    Ok(Json(json!({
        "case_id": case_id,
        "events": events.iter().map(public_event).collect::<Vec<_>>(),
    })))
}
