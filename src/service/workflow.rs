//! The workflow (issue 3, issue 9 "service layer"): acting on a case and reading it.
//!
//! Every action is checked in this order: the caller must see the case (else
//! [`Error::CaseNotFound`], as if it did not exist), the action's fields must name what
//! exists (a target, an assignee of it, uploaded photos), the caller's role must be allowed
//! the action ([`Error::Forbidden`]), a handler passing a case down must stay inside its unit,
//! and the state machine must allow the transition ([`Error::IllegalTransition`]). The event
//! is then appended as the log's next number, with the reporter's reward when this is the
//! moment the report proved real, in one transaction; a concurrent writer that got there
//! first makes us re-read and re-check.
//!
//! The state, target, deadline and warning level are derived from the case's events on
//! every read ([`fold`]); the warning level is computed at the moment of the request on the
//! working calendar, never stored (issue 3, "Warning level is computed").

use std::sync::OnceLock;

use chrono::{DateTime, Utc};

use super::error::{Error, Result};
use crate::api::auth::{sees, within};
use crate::api::{ApiSettings, AppState};
use crate::domain::spatial::units::UnitCode;
use crate::domain::workflow::access::PrincipalId;
use crate::domain::workflow::calendar::{IsoDuration, TimeLimit, WarningLevel};
use crate::domain::workflow::case::{
    Action, ActionKind, CaseError, CaseState, Event, Rating, Role, Submission, Text, fold, may,
};
use crate::domain::workflow::categories::Category;
use crate::domain::workflow::departments::DepartmentCode;
use crate::domain::workflow::dispatch::{
    Candidate, DispatchDecision, DispatchInput, assign, choose_target,
};
use crate::domain::workflow::rewards::verified_credit;
use crate::domain::workflow::target::Target;
use crate::store::analytics::Bbox;
use crate::store::{
    Appended, CaseQuery, CaseSummary, ChainEntry, Earning, IndexedCase, LedgerRow, Principal,
    StoredEvent,
};

/// A refused value; `code` names the check.
fn invalid(code: &'static str, detail: impl Into<String>) -> Error {
    Error::InvalidField {
        code,
        detail: detail.into(),
    }
}

/// A refused field of an action, named as the client sent it.
fn refused_field(code: &'static str, field: &str, detail: impl Into<String>) -> Error {
    Error::InvalidBodyField {
        code,
        field: field.to_owned(),
        detail: detail.into(),
    }
}

/// Reporters have no accounts yet (tokens are the next slice of issue 3): every report is
/// submitted by this actor.
const ANONYMOUS: &str = "anonymous";
/// The actor of what the service does by itself (auto-dispatch).
pub const SYSTEM: &str = "system";

/// The shipped departments, parsed once.
struct Plan {
    departments: Vec<DepartmentCode>,
}

fn plan() -> Result<&'static Plan> {
    static PLAN: OnceLock<Result<Plan, String>> = OnceLock::new();
    PLAN.get_or_init(|| {
        let departments = crate::domain::workflow::departments::shipped()
            .iter()
            .map(|d| d.code.clone())
            .collect();
        Ok(Plan { departments })
    })
    .as_ref()
    .map_err(|e| Error::Internal(format!("shipped departments: {e}")))
}

/// The category of a case by its code (`None` if it was removed from the store).
pub async fn category_of(state: &AppState, code: &str) -> Result<Option<Category>> {
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
pub async fn initial_events(
    state: &AppState,
    reporter: Option<&Principal>,
    category: &Category,
    chain: &[ChainEntry],
    description: &str,
    now: DateTime<Utc>,
) -> Result<(Vec<Event>, CaseSummary)> {
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
    let opened = CaseState::open(&submit).map_err(|e| Error::Internal(e.to_string()))?;
    if opened.state != crate::domain::workflow::case::State::Submitted {
        // Pending verification: dispatch waits for the grid worker's 核实.
        return summarised(state, vec![submit]);
    }
    let chain: Vec<UnitCode> = chain
        .iter()
        .map(|c| UnitCode::parse(&c.code))
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Internal(format!("resolved chain: {e}")))?;
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
) -> Result<Result<Event, Text>> {
    let plan = plan()?;
    let inputs = state.dispatch_inputs.get(state).await?;
    let cal = &state.settings.calendar;
    let input = DispatchInput {
        category,
        chain,
        local_time: cal.local(now).time(),
        description,
    };
    let staffed = staffed(plan, &inputs.staffed_departments);
    match choose_target(&inputs.rules, &input, &staffed) {
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
                action: Action::Dispatch(crate::domain::workflow::case::Dispatch {
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
        .map_err(|e| Error::Internal(e.to_string()))?)),
    }
}

/// The person within `target` a case goes to: the grid worker of the report's grid, else
/// the least-loaded handler (`dispatch::assign`); `None` leaves it in the unit's queue.
async fn assignee_for(
    state: &AppState,
    target: &Target,
    grid: Option<&str>,
) -> Result<Option<String>> {
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
fn summarised(state: &AppState, events: Vec<Event>) -> Result<(Vec<Event>, CaseSummary)> {
    let case = fold(&events).map_err(|e| Error::Internal(format!("initial events: {e}")))?;
    let summary = summary_of(state, &case, events.len() as i32);
    Ok((events, summary))
}

/// The read-model row of a folded case on the deployment's calendar.
fn summary_of(state: &AppState, case: &CaseState, last_seq: i32) -> CaseSummary {
    let s = &state.settings;
    CaseSummary::of(case, last_seq, &s.calendar, s.red_margin)
}

/// A case the caller may see: its index row, events and fold. Anything else — no such case,
/// or one outside the caller's scope — is the same [`Error::CaseNotFound`].
#[derive(Debug, Clone)]
pub struct Visible {
    pub index: IndexedCase,
    pub events: Vec<StoredEvent>,
    pub case: CaseState,
}

/// The case `case_id` if `p` may see it.
pub async fn load_visible(state: &AppState, p: &Principal, case_id: &str) -> Result<Visible> {
    let not_found = || Error::CaseNotFound(case_id.to_owned());
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
async fn load_indexed(state: &AppState, index: IndexedCase) -> Result<Visible> {
    let case_id = index.case_id.clone();
    let case_id = case_id.as_str();
    let events = state.store.case_events(case_id).await?;
    let case = fold(events.iter().map(|e| &e.event))
        .map_err(|e| Error::Internal(format!("case {case_id} does not fold: {e}")))?;
    Ok(Visible {
        index,
        events,
        case,
    })
}

/// Whether a resident follows this case because a report of theirs was merged into it.
async fn follows(state: &AppState, p: &Principal, case: &IndexedCase) -> Result<bool> {
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
pub async fn visible_to(state: &AppState, p: &Principal, case_id: &str) -> Result<bool> {
    Ok(match state.store.indexed_case(case_id).await? {
        Some(index) => sees(p, &index) || follows(state, p, &index).await?,
        None => false,
    })
}

/// The current state of a stored case, for the intake response.
pub async fn current_state(state: &AppState, case_id: &str) -> Result<String> {
    let index = state
        .store
        .indexed_case(case_id)
        .await?
        .ok_or_else(|| Error::Internal(format!("case {case_id} has no index row")))?;
    Ok(index.state)
}

/// The warning level at `now`: green without a deadline; once the deadline stops running
/// (closed, parked …) the level is frozen at the moment it stopped.
pub fn warning_level(s: &ApiSettings, case: &CaseState, now: DateTime<Utc>) -> WarningLevel {
    let Some(deadline) = case.deadline else {
        return WarningLevel::Green;
    };
    deadline.level(
        case.clock_stopped_at().unwrap_or(now),
        &s.calendar,
        s.red_margin,
    )
}

/// After a return (退回): the next candidate target that has not returned the case yet
/// (matching rules, the category's handler, then the street and district it lies in).
pub async fn suggested_target(state: &AppState, v: &Visible) -> Result<Option<Target>> {
    Ok(plan_candidates(state, v)
        .await?
        .into_iter()
        .find(|t| !v.case.returned_by.contains(t)))
}

/// The plan library's candidate targets for the case, best first (`dispatch::candidates`):
/// what a dispatcher chooses from besides clicking a unit on the map.
pub async fn plan_candidates(state: &AppState, v: &Visible) -> Result<Vec<Target>> {
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
    let (_, rules) = crate::api::plan::rules_in_force(state).await?;
    let plan = plan()?;
    let input = DispatchInput {
        category: &category,
        chain: &chain,
        local_time: state.settings.calendar.local(v.case.submitted_at).time(),
        description: &description,
    };
    let staff = state.store.staffed_departments().await?;
    let staffed = staffed(plan, &staff);
    Ok(crate::domain::workflow::dispatch::candidates(
        &rules, &input, &staffed,
    ))
}

/// The report's resolved units, coarsest first, from the case's index row.
fn indexed_chain(index: &IndexedCase) -> Result<Vec<UnitCode>> {
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
    .map_err(|e| Error::Internal(format!("indexed chain: {e}")))
}

/// Open cases of the same category within the category's radius (default 50 m) and time
/// window (default 72 h) of this one, nearest first: what a dispatcher may merge (issue 3,
/// "Duplicates"). Computed when read, so it is always current.
/// An open case of the same category near another: what a dispatcher may merge.
#[derive(Debug, Clone, PartialEq)]
pub struct Nearby {
    pub case_id: String,
    /// Great-circle distance, metres, to 0.1 m.
    pub distance_m: f64,
    pub state: String,
}

pub async fn duplicate_candidates(state: &AppState, v: &Visible) -> Result<Vec<Nearby>> {
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
                .parse::<crate::domain::workflow::case::State>()
                .is_ok_and(|s| s.is_open())
        })
        .filter(|c| (c.submitted_at - v.index.submitted_at).abs() <= window)
        .map(|c| {
            let d =
                crate::domain::spatial::coords::haversine_m(here, geo::coord! {x: c.lon, y: c.lat});
            (d, c)
        })
        .filter(|(d, _)| *d <= radius)
        .collect();
    found.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(found
        .into_iter()
        .map(|(d, c)| Nearby {
            case_id: c.case_id.clone(),
            distance_m: (d * 10.0).round() / 10.0,
            state: c.state.clone(),
        })
        .collect())
}

/// The reporter's contact: the phone they registered with, else what the report carried.
/// How a unit calls the reporter back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub name: Option<String>,
    pub phone: Option<String>,
}

pub async fn reporter_contact(state: &AppState, v: &Visible) -> Result<Contact> {
    let registered = state.store.principal_phone(&v.case.reporter).await?;
    let report = state.store.get_report(&v.index.case_id).await?;
    let (name, phone) = report
        .map(|r| (r.contact_name, r.contact_phone))
        .unwrap_or_default();
    Ok(Contact {
        name,
        phone: registered.or(phone),
    })
}

/// The most cases one page of a list holds (and the most duplicate candidates looked at).
pub const LIST_MAX: i64 = 500;

/// How many merges a reporter's view follows up to the case that is handled (a master can
/// itself be merged later).
const MERGE_HOPS: usize = 4;

/// The case a follow-up secret opens, and the master it was merged into if it is a
/// duplicate (as a registered reporter of a duplicate follows the master).
pub async fn followed(state: &AppState, case_id: &str) -> Result<(Visible, Option<Visible>)> {
    let load = |id: String| async move {
        let index = state
            .store
            .indexed_case(&id)
            .await?
            .ok_or_else(|| Error::Internal(format!("followed case {id} has no index row")))?;
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

/// The reporter's rating (评价) through the follow-up secret, on the case handling the
/// report; as a resident's `rate` action, it is only possible once the case is closed.
pub async fn rate_as_reporter(state: &AppState, case_id: &str, rating: Rating) -> Result<()> {
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
    Ok(())
}

/// A dispatcher's (or a street's) dispatch: the target must exist, a named assignee must
/// work for it; the deadline runs from now with the given limit, else the category's.
async fn dispatch_of(
    state: &AppState,
    v: &Visible,
    d: DispatchOrder,
    now: DateTime<Utc>,
) -> Result<crate::domain::workflow::case::Dispatch> {
    let bad_target = |detail: String| refused_field("invalid_target", "target", detail);
    match &d.target {
        Target::Unit(code) => {
            if state.store.unit_level(code.as_str()).await?.is_none() {
                return Err(bad_target(format!("no unit {code} in this deployment")));
            }
        }
        Target::Department(code) => {
            if !plan()?.departments.contains(code) {
                return Err(bad_target(format!("no department {code}")));
            }
        }
    }
    let target = d.target;
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
        Some(a) => Some(known_assignee(state, &target, grid, a).await?),
        None => assignee_for(state, &target, grid).await?,
    };
    Ok(crate::domain::workflow::case::Dispatch {
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
    id: PrincipalId,
) -> Result<String> {
    let refused = |detail: String| refused_field("invalid_assignee", "assignee", detail);
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
async fn check_photos(state: &AppState, action: &Action) -> Result<()> {
    let photos: &[Text] = match action {
        Action::Resolve(r) => r.after_photos.as_slice(),
        Action::Progress(n) | Action::Reinspect(n) => &n.photos,
        _ => &[],
    };
    for photo in photos {
        let unknown = || {
            invalid(
                "unknown_media",
                format!("no uploaded photo {photo}; POST /v1/media first"),
            )
        };
        let key = crate::media::MediaKey::parse(photo.as_str()).map_err(|_| unknown())?;
        match state.media.get(&key).await {
            Ok(_) => {}
            Err(crate::media::StorageError::NotFound(_)) => return Err(unknown()),
            Err(e) => return Err(Error::Internal(format!("reading {key}: {e}"))),
        }
    }
    Ok(())
}

fn case_error(e: CaseError) -> Error {
    match e {
        CaseError::IllegalTransition { state, action } => Error::IllegalTransition {
            state: state.to_string(),
            action: action.to_string(),
        },
        CaseError::NotForKind { kind, action } => Error::IllegalTransition {
            state: format!("a {} case", kind.as_str()),
            action: action.to_string(),
        },
        CaseError::Forbidden { role, action } => {
            Error::Forbidden(format!("a {role} may not {action}"))
        }
        CaseError::ReasonRequired(action) => {
            invalid("reason_required", format!("{action} needs a reason"))
        }
        CaseError::NoOpenSupervision => Error::Conflict {
            code: "no_open_supervision",
            detail: e.to_string(),
        },
        other => Error::Internal(other.to_string()),
    }
}

/// Scope rules beyond the role table: a handler passes a case only inside its own unit, and
/// a merge names another open case of the same category the caller can see.
async fn check_scope(state: &AppState, p: &Principal, v: &Visible, action: &Action) -> Result<()> {
    match action {
        Action::Dispatch(d) if p.role == Role::Handler => {
            let unit = p.unit.as_deref().unwrap_or_default();
            if !within(d.target.code(), unit) {
                return Err(Error::Forbidden(format!(
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
                return Err(invalid(
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
pub async fn append_checked(
    state: &AppState,
    case_id: &str,
    make: impl FnMut(&CaseState) -> Result<Option<Event>>,
) -> Result<(Vec<StoredEvent>, CaseState)> {
    append_earning(state, case_id, None, make).await
}

/// [`append_checked`], crediting `reporter` in the same transaction when the event is the
/// moment their report proved real ([`proved_real`]).
async fn append_earning(
    state: &AppState,
    case_id: &str,
    reporter: Option<&Reporter>,
    mut make: impl FnMut(&CaseState) -> Result<Option<Event>>,
) -> Result<(Vec<StoredEvent>, CaseState)> {
    for _ in 0..APPEND_ATTEMPTS {
        let events = state.store.case_events(case_id).await?;
        let case = fold(events.iter().map(|e| &e.event))
            .map_err(|e| Error::Internal(format!("case {case_id} does not fold: {e}")))?;
        let Some(event) = make(&case)? else {
            return Ok((events, case));
        };
        let mut next = case.clone();
        next.apply(&event).map_err(case_error)?;
        let seq = events.len() as i32 + 1;
        let earning = reporter
            .filter(|r| proved_real(&r.category, &case, &next, event.action.kind()))
            .map(|r| r.earning(state, case_id, event.at));
        match state
            .store
            .append_event_earning(
                case_id,
                seq,
                &event,
                &summary_of(state, &next, seq),
                earning.as_ref(),
            )
            .await?
        {
            Appended::Stored => {
                let mut events = events;
                events.push(StoredEvent { seq, event });
                crate::api::events::published(state, case_id, seq..=seq).await;
                return Ok((events, next));
            }
            Appended::SeqTaken => continue,
            Appended::MasterNotOpen => return Err(merge_lost(&event)),
        }
    }
    Err(Error::Conflict {
        code: "case_busy",
        detail: format!(
            "case {case_id} changed {APPEND_ATTEMPTS} times while this action was checked; retry"
        ),
    })
}

/// A merge whose master stopped being open between the check and the append: most often an
/// opposite merge of the master into this case that was stored first.
fn merge_lost(event: &Event) -> Error {
    let master = match &event.action {
        Action::Merge(m) => m.into.as_str(),
        _ => "the master",
    };
    invalid(
        "invalid_merge",
        format!(
            "{master} is no longer an open case: it was merged (perhaps into this case) or \
             closed while this merge was checked"
        ),
    )
}

/// An action as the caller asked for it, its fields parsed. A dispatch still has to be
/// checked against the deployment (its target exists, its assignee works there) and gets its
/// deadline here.
#[derive(Debug, Clone)]
pub enum Requested {
    /// Any action but a dispatch, complete.
    Action(Action),
    /// A dispatch to a target, optionally to a named person and with its own time limit.
    Dispatch(DispatchOrder),
}

/// A dispatch as a dispatcher (or a street passing a case on) orders it.
#[derive(Debug, Clone)]
pub struct DispatchOrder {
    pub target: Target,
    pub assignee: Option<PrincipalId>,
    pub time_limit: Option<IsoDuration>,
}

/// Takes `requested` on the case `v` (which `p` sees, [`load_visible`]) at `now`, and answers
/// the case after it: after a verification the plan library may have dispatched it too.
#[tracing::instrument(skip_all, fields(case_id = %v.index.case_id))]
pub async fn act(
    state: &AppState,
    p: &Principal,
    v: Visible,
    requested: Requested,
    reason: Option<Text>,
    now: DateTime<Utc>,
) -> Result<Visible> {
    let action = match requested {
        Requested::Action(a) => a,
        Requested::Dispatch(d) => Action::Dispatch(dispatch_of(state, &v, d, now).await?),
    };
    check_photos(state, &action).await?;
    let kind = action.kind();
    if !may(p.role, kind) {
        return Err(Error::Forbidden(format!("a {} may not {kind}", p.role)));
    }
    check_scope(state, p, &v, &action).await?;
    let reporter = Reporter::of(state, &v.index).await?;
    let (events, case) = append_earning(state, &v.index.case_id, reporter.as_ref(), |case| {
        Ok(Some(Event {
            actor: p.id.clone(),
            role: p.role,
            at: now.max(case.updated_at),
            action: action.clone(),
            reason: reason.clone(),
        }))
    })
    .await?;
    let (events, case) = if kind == ActionKind::Verify {
        dispatch_after_verification(state, &v.index, events, case).await?
    } else {
        (events, case)
    };
    let mut index = v.index;
    index.state = case.state.to_string();
    Ok(Visible {
        index,
        events,
        case,
    })
}

/// A registered resident who reported a case, and the category the case's reward comes
/// from (issue 3, "Rewards"): staff reporting on patrol and anonymous reporters earn nothing.
struct Reporter {
    id: String,
    category: Category,
}

impl Reporter {
    async fn of(state: &AppState, index: &IndexedCase) -> Result<Option<Self>> {
        let Some(category) = category_of(state, &index.category).await? else {
            return Ok(None);
        };
        let registered = state
            .store
            .principal_phone(&index.reporter)
            .await?
            .is_some();
        Ok(registered.then(|| Reporter {
            id: index.reporter.clone(),
            category,
        }))
    }

    /// The credit for `case_id`, decided inside the store's transaction against what the
    /// resident was credited that local day already (issue 9: concurrent awards never pass
    /// the daily cap).
    fn earning(&self, state: &AppState, case_id: &str, at: DateTime<Utc>) -> Earning {
        let category = self.category.clone();
        Earning {
            row: LedgerRow {
                case_id: case_id.to_owned(),
                resident: self.id.clone(),
                category: category.code.as_str().to_owned(),
                at,
                day: at.with_timezone(&state.settings.timezone).date_naive(),
                points: 0,
                cash_fen: 0,
            },
            decide: Box::new(move |points: i64, cash: i64| {
                verified_credit(&category, points, cash)
            }),
        }
    }
}

/// Whether `kind`, moving the case from `before` to `after`, is the moment its report proved
/// real: the grid worker's verification for a category that needs one, else the first close.
/// (Duplicates, invalid reports, praise and consultations never get there.)
fn proved_real(
    category: &Category,
    before: &CaseState,
    after: &CaseState,
    kind: ActionKind,
) -> bool {
    use crate::domain::workflow::case::State::Closed;
    if category.verify_first {
        kind == ActionKind::Verify
    } else {
        after.state == Closed && before.state != Closed
    }
}

/// After a grid worker's 核实, the plan library dispatches the case as it would have on
/// intake; when it finds no target the case waits for the dispatchers.
async fn dispatch_after_verification(
    state: &AppState,
    index: &IndexedCase,
    events: Vec<StoredEvent>,
    case: CaseState,
) -> Result<(Vec<StoredEvent>, CaseState)> {
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
                Ok((c.state == crate::domain::workflow::case::State::Verified)
                    .then(|| dispatch.clone()))
            })
            .await
        }
        Err(_) => Ok((events, case)),
    }
}
