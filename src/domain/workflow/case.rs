//! The case (案卷): one report and its life, as an append-only list of events folded into
//! the current state.
//!
//! The states and actions cover both real workflows in `DESIGN.md`: 兴隆台区 (dispatch by
//! category to the street, passed down to the community, fixed by the grid worker, scored
//! by the resident) and Dongguan (verified on site first, re-inspected after handling), in
//! the vocabulary of the 数字城管 loop 信息收集 → 立案 → 派遣 → 处置 → 反馈 → 核查结案 → 评价.
//!
//! Nothing is ever updated in place: every change is an [`Event`] `{actor, role, at, action,
//! reason, payload}`, and [`fold`] derives the [`CaseState`] from them, checking each
//! transition against the machine. A refused event leaves the state exactly as it was.
//!
//! Besides the actions the issue lists for the API (`verify` … `reply`), the machine knows
//! `acknowledge` and `answer` (the closing step of praise and of a consultation, also
//! posted through the API), and three that only the service writes: `submit` (the report
//! itself, always the first event) and `escalated_yellow` / `escalated_red` (recorded by the
//! deadline job as [`Role::System`]).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::workflow::calendar::{Deadline, IsoDuration, WarningLevel, WorkingCalendar};
use crate::domain::workflow::categories::CategoryKind;
use crate::domain::workflow::target::{RuleRef, Target};

mod payload;
pub use payload::{
    AfterPhotos, BadScore, Comment, Dispatch, Merge, NoAfterPhoto, Note, Rating, Reply, Resolution,
    Score, Submission, Supervision, Text, TextError,
};

/// Who performs an action. Scoping to a unit or grid is the API's job; this module only
/// knows which role may perform which action ([`may`]).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Resident,
    GridWorker,
    Handler,
    Dispatcher,
    Leader,
    Planner,
    Admin,
    /// The service itself: auto-dispatch on intake, rule-based merges and the deadline job.
    /// Never issued a token.
    System,
}

impl Role {
    /// The roles a token can be issued for (every role but [`Role::System`]).
    pub const ISSUABLE: [Role; 7] = [
        Self::Resident,
        Self::GridWorker,
        Self::Handler,
        Self::Dispatcher,
        Self::Leader,
        Self::Planner,
        Self::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resident => "resident",
            Self::GridWorker => "grid_worker",
            Self::Handler => "handler",
            Self::Dispatcher => "dispatcher",
            Self::Leader => "leader",
            Self::Planner => "planner",
            Self::Admin => "admin",
            Self::System => "system",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "unknown role {0:?}; expected resident, grid_worker, handler, dispatcher, leader, planner or admin"
)]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    /// Parses an issuable role; `system` is refused because no caller may act as the service.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ISSUABLE
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// Declares a fieldless enum whose variants have stable snake_case names, the same in
/// serde, `as_str`, `Display` and `FromStr` (which fails with `$err`), plus `ALL`.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident, unknown: $err:ident($noun:literal) {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        #[derive(Debug, thiserror::Error, PartialEq, Eq)]
        #[error("unknown {} {:?}", $noun, .0)]
        pub struct $err(pub String);

        impl FromStr for $name {
            type Err = $err;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| $err(s.to_owned()))
            }
        }
    };
}

named_enum! {
    /// The state of a case. Terminal states are [`State::Invalid`], [`State::Merged`] and
    /// [`State::Cancelled`]; a closed or rated case can still be reopened for review.
    pub enum State, unknown: UnknownState("case state") {
        /// Reported and waiting for dispatch (or for acknowledgement / an answer).
        Submitted = "submitted",
        /// Reported in a category whose reports a grid worker must verify on site first (核实).
        PendingVerification = "pending_verification",
        /// Verified as real and filed (立案), waiting for dispatch.
        Verified = "verified",
        /// Verified as not a real problem, or abuse; terminal.
        Invalid = "invalid",
        /// Sent to a unit or department (派遣), not yet accepted.
        Dispatched = "dispatched",
        /// Accepted by the target unit.
        Accepted = "accepted",
        /// Sent back by the target unit (退回) with a reason; waits for dispatch again.
        Returned = "returned",
        /// Being worked on (处置).
        InProgress = "in_progress",
        /// The handler reports it fixed, with a note and "after" photos (反馈).
        Resolved = "resolved",
        /// Re-inspected (复查) or closed by the command centre (核查结案).
        Closed = "closed",
        /// Scored by the resident (评价) with a satisfactory result.
        Rated = "rated",
        /// A low rating, a resident saying "not fixed", or a review request: waits for a
        /// dispatcher to rework, re-dispatch or close it again.
        Reopened = "reopened",
        /// Merged as a duplicate into a master case; its reporter follows the master. Terminal.
        Merged = "merged",
        /// Parked (挂账): cannot be handled now, with a reason; waits to be dispatched again.
        Parked = "parked",
        /// Withdrawn by the reporter or removed by the command centre; terminal.
        Cancelled = "cancelled",
    }
}

impl State {
    /// Open cases still need someone to act: they can be supervised and cancelled.
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            Self::Invalid | Self::Closed | Self::Rated | Self::Merged | Self::Cancelled
        )
    }

    /// Whether the handling deadline runs: open and not parked (挂账 suspends it).
    pub fn deadline_runs(self) -> bool {
        self.is_open() && self != Self::Parked
    }
}

named_enum! {
    /// The name of an action, without its payload: what [`may`] and the errors talk about.
    pub enum ActionKind, unknown: UnknownAction("action") {
        Submit = "submit",
        Verify = "verify",
        Invalidate = "invalidate",
        Dispatch = "dispatch",
        Accept = "accept",
        Return = "return",
        Progress = "progress",
        Resolve = "resolve",
        Reinspect = "reinspect",
        Close = "close",
        Rework = "rework",
        Rate = "rate",
        Reopen = "reopen",
        Merge = "merge",
        Park = "park",
        Cancel = "cancel",
        Supervise = "supervise",
        Reply = "reply",
        Acknowledge = "acknowledge",
        Answer = "answer",
        EscalatedYellow = "escalated_yellow",
        EscalatedRed = "escalated_red",
    }
}

impl ActionKind {
    /// Whether callers may post this action to `POST /v1/cases/{id}/actions`. The report
    /// itself arrives through intake and escalations come from the deadline job.
    pub fn is_api_action(self) -> bool {
        !matches!(
            self,
            Self::Submit | Self::EscalatedYellow | Self::EscalatedRed
        )
    }

    /// Actions a reason is required for: each one refuses or undoes someone's work, and the
    /// people affected (the reporter, the unit) must be able to read why.
    pub fn needs_reason(self) -> bool {
        matches!(
            self,
            Self::Invalidate
                | Self::Return
                | Self::Rework
                | Self::Reopen
                | Self::Park
                | Self::Cancel
        )
    }

    /// Whether the action exists for cases of this kind. Praise is only acknowledged and a
    /// consultation only answered; neither is dispatched as work (issue 3, "Categories").
    pub fn applies_to(self, kind: CategoryKind) -> bool {
        match (self, kind) {
            (Self::Acknowledge, k) => k == CategoryKind::Praise,
            (Self::Answer, k) => k == CategoryKind::Consultation,
            (_, CategoryKind::Problem) => true,
            (
                Self::Submit
                | Self::Invalidate
                | Self::Cancel
                | Self::Supervise
                | Self::Reply
                | Self::EscalatedYellow
                | Self::EscalatedRed,
                _,
            ) => true,
            _ => false,
        }
    }
}

/// Which role may perform which action, as a table. Scoping (a handler only on its unit's
/// cases, a grid worker only in its grids) is the API's job.
pub fn may(role: Role, action: ActionKind) -> bool {
    use ActionKind as A;
    use Role as R;
    match action {
        // Residents report; grid workers report what they find on patrol; the command
        // centre enters reports phoned in.
        A::Submit => matches!(role, R::Resident | R::GridWorker | R::Dispatcher),
        // 核实 is on site by the grid worker; the command centre may verify by phone/video.
        A::Verify | A::Invalidate => matches!(role, R::GridWorker | R::Dispatcher),
        // The command centre dispatches (the service on intake); a street's handler passes
        // a case down to its community (兴隆台区).
        A::Dispatch => matches!(role, R::Dispatcher | R::Handler | R::System),
        // In 兴隆台区 the community's grid worker is the one who fixes the problem.
        A::Accept | A::Return | A::Progress | A::Resolve | A::Reply => {
            matches!(role, R::Handler | R::GridWorker)
        }
        A::Reinspect => role == R::GridWorker,
        A::Close | A::Park => role == R::Dispatcher,
        // Re-inspection failed (grid worker) or a review found it not fixed (dispatcher).
        A::Rework => matches!(role, R::GridWorker | R::Dispatcher),
        A::Rate => role == R::Resident,
        A::Reopen => matches!(role, R::Resident | R::Dispatcher | R::Leader),
        // "a dispatcher (or a rule, above a confidence threshold) merges them"
        A::Merge => matches!(role, R::Dispatcher | R::System),
        A::Cancel => matches!(role, R::Resident | R::Dispatcher | R::Admin),
        A::Supervise => role == R::Leader,
        A::Acknowledge | A::Answer => matches!(role, R::Dispatcher | R::Handler),
        A::EscalatedYellow | A::EscalatedRed => role == R::System,
    }
}

/// An action with its payload. Serialised as `"action": name` plus `"payload": {…}` for
/// the actions that carry one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", content = "payload", rename_all = "snake_case")]
pub enum Action {
    Submit(Submission),
    Verify,
    Invalidate,
    Dispatch(Dispatch),
    Accept,
    Return,
    Progress(Note),
    Resolve(Resolution),
    Reinspect(Note),
    Close,
    Rework,
    Rate(Rating),
    Reopen,
    Merge(Merge),
    Park,
    Cancel,
    Supervise(Supervision),
    Reply(Reply),
    Acknowledge,
    Answer(Reply),
    EscalatedYellow,
    EscalatedRed,
}

impl Action {
    pub fn kind(&self) -> ActionKind {
        match self {
            Self::Submit(_) => ActionKind::Submit,
            Self::Verify => ActionKind::Verify,
            Self::Invalidate => ActionKind::Invalidate,
            Self::Dispatch(_) => ActionKind::Dispatch,
            Self::Accept => ActionKind::Accept,
            Self::Return => ActionKind::Return,
            Self::Progress(_) => ActionKind::Progress,
            Self::Resolve(_) => ActionKind::Resolve,
            Self::Reinspect(_) => ActionKind::Reinspect,
            Self::Close => ActionKind::Close,
            Self::Rework => ActionKind::Rework,
            Self::Rate(_) => ActionKind::Rate,
            Self::Reopen => ActionKind::Reopen,
            Self::Merge(_) => ActionKind::Merge,
            Self::Park => ActionKind::Park,
            Self::Cancel => ActionKind::Cancel,
            Self::Supervise(_) => ActionKind::Supervise,
            Self::Reply(_) => ActionKind::Reply,
            Self::Acknowledge => ActionKind::Acknowledge,
            Self::Answer(_) => ActionKind::Answer,
            Self::EscalatedYellow => ActionKind::EscalatedYellow,
            Self::EscalatedRed => ActionKind::EscalatedRed,
        }
    }
}

/// One append-only record of the case's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The user id of whoever acted (`system` for the service).
    pub actor: String,
    pub role: Role,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Text>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CaseError {
    /// The action is not a transition of the machine from this state (HTTP 409,
    /// `illegal_transition`).
    #[error("action {action} is not allowed in state {state}")]
    IllegalTransition { state: State, action: ActionKind },
    /// The action does not exist for this kind of case (e.g. dispatching praise).
    #[error("action {action} does not apply to a {kind} case", kind = kind.as_str())]
    NotForKind {
        kind: CategoryKind,
        action: ActionKind,
    },
    /// The role may never perform this action ([`may`]).
    #[error("role {role} may not {action}")]
    Forbidden { role: Role, action: ActionKind },
    /// The action needs a reason ([`ActionKind::needs_reason`]).
    #[error("action {0} needs a reason")]
    ReasonRequired(ActionKind),
    /// A log must start with `submit`, and only the first event may be one.
    #[error("a case's log must start with exactly one submit event")]
    NotSubmitted,
    /// A reply with no supervision waiting for one.
    #[error("there is no open supervision to reply to")]
    NoOpenSupervision,
    /// The deadline job recorded this warning already for the current deadline, or red
    /// before yellow.
    #[error("escalation {0} is out of order or already recorded")]
    Escalation(ActionKind),
    /// Events are appended in time order.
    #[error("event at {at} is earlier than the previous event at {previous}")]
    OutOfOrder {
        previous: DateTime<Utc>,
        at: DateTime<Utc>,
    },
}

/// The pure transition graph on states: where `action` leads from `state`, or
/// [`CaseError::IllegalTransition`]. Role, kind and payload rules are checked by
/// [`CaseState::apply`]; `submit` is never a transition (it opens the case).
pub fn apply(state: State, action: &Action) -> Result<State, CaseError> {
    use State as S;
    let next = match (state, action) {
        (S::Submitted | S::PendingVerification, Action::Verify) => Some(S::Verified),
        (S::Submitted | S::PendingVerification, Action::Invalidate) => Some(S::Invalid),
        // Dispatched → dispatched is a dispatcher's override before acceptance; accepted →
        // dispatched is a street passing the case down to its community.
        (
            S::Submitted
            | S::Verified
            | S::Dispatched
            | S::Accepted
            | S::Returned
            | S::Reopened
            | S::Parked,
            Action::Dispatch(_),
        ) => Some(S::Dispatched),
        (S::Dispatched, Action::Accept) => Some(S::Accepted),
        (S::Dispatched | S::Accepted, Action::Return) => Some(S::Returned),
        (S::Accepted | S::InProgress, Action::Progress(_)) => Some(S::InProgress),
        (S::Accepted | S::InProgress, Action::Resolve(_)) => Some(S::Resolved),
        (S::Resolved, Action::Reinspect(_)) => Some(S::Closed),
        (S::Resolved | S::Reopened, Action::Close) => Some(S::Closed),
        (S::Resolved | S::Reopened, Action::Rework) => Some(S::InProgress),
        (S::Closed, Action::Rate(r)) => Some(if r.reopens() { S::Reopened } else { S::Rated }),
        (S::Closed | S::Rated, Action::Reopen) => Some(S::Reopened),
        // Duplicates are merged at intake, before anyone has worked on them.
        (
            S::Submitted | S::PendingVerification | S::Verified | S::Dispatched | S::Returned,
            Action::Merge(_),
        ) => Some(S::Merged),
        (
            S::Verified | S::Dispatched | S::Accepted | S::Returned | S::InProgress | S::Reopened,
            Action::Park,
        ) => Some(S::Parked),
        (s, Action::Cancel) if s.is_open() => Some(S::Cancelled),
        (S::Submitted, Action::Acknowledge | Action::Answer(_)) => Some(S::Closed),
        (s, Action::Supervise(_) | Action::Reply(_)) if s.is_open() => Some(s),
        (s, Action::EscalatedYellow | Action::EscalatedRed) if s.deadline_runs() => Some(s),
        _ => None,
    };
    next.ok_or(CaseError::IllegalTransition {
        state,
        action: action.kind(),
    })
}

/// The current state of a case and what the log says about it, derived by [`fold`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseState {
    pub state: State,
    pub kind: CategoryKind,
    /// The reporter (actor of `submit`).
    pub reporter: String,
    pub submitted_at: DateTime<Utc>,
    /// The last event's time.
    pub updated_at: DateTime<Utc>,
    /// Where the case is (or was last) dispatched.
    pub target: Option<Target>,
    /// The person responsible: the dispatch's assignee, then whoever accepted.
    pub assignee: Option<String>,
    pub rule: Option<RuleRef>,
    pub deadline: Option<Deadline>,
    /// Filed (立案): verified, or dispatched without verification.
    pub filed: bool,
    /// Targets that returned the case, oldest first; the next suggestion avoids them.
    pub returned_by: Vec<Target>,
    pub dispatches: u32,
    pub returns: u32,
    pub resolutions: u32,
    pub reworks: u32,
    pub reopens: u32,
    pub parks: u32,
    /// When the case was last closed; cleared when it is reopened.
    pub closed_at: Option<DateTime<Utc>>,
    pub rating: Option<Rating>,
    pub merged_into: Option<Text>,
    /// Supervisions (督办) still waiting for the unit's reply.
    pub open_supervisions: u32,
    /// Warnings recorded for the current deadline.
    pub escalated_yellow: bool,
    pub escalated_red: bool,
}

impl CaseState {
    /// Opens a case from its first event, which must be a `submit`.
    pub fn open(event: &Event) -> Result<Self, CaseError> {
        let Action::Submit(sub) = &event.action else {
            return Err(CaseError::NotSubmitted);
        };
        if !may(event.role, ActionKind::Submit) {
            return Err(CaseError::Forbidden {
                role: event.role,
                action: ActionKind::Submit,
            });
        }
        let state = if sub.kind == CategoryKind::Problem && sub.verify_first {
            State::PendingVerification
        } else {
            State::Submitted
        };
        Ok(Self {
            state,
            kind: sub.kind,
            reporter: event.actor.clone(),
            submitted_at: event.at,
            updated_at: event.at,
            target: None,
            assignee: None,
            rule: None,
            deadline: None,
            filed: false,
            returned_by: Vec::new(),
            dispatches: 0,
            returns: 0,
            resolutions: 0,
            reworks: 0,
            reopens: 0,
            parks: 0,
            closed_at: None,
            rating: None,
            merged_into: None,
            open_supervisions: 0,
            escalated_yellow: false,
            escalated_red: false,
        })
    }

    /// Applies one more event. Every rule is checked before anything changes, so a refused
    /// event leaves the case exactly as it was.
    pub fn apply(&mut self, event: &Event) -> Result<(), CaseError> {
        let action = event.action.kind();
        if event.at < self.updated_at {
            return Err(CaseError::OutOfOrder {
                previous: self.updated_at,
                at: event.at,
            });
        }
        if action == ActionKind::Submit {
            return Err(CaseError::NotSubmitted);
        }
        if !may(event.role, action) {
            return Err(CaseError::Forbidden {
                role: event.role,
                action,
            });
        }
        if !action.applies_to(self.kind) {
            return Err(CaseError::NotForKind {
                kind: self.kind,
                action,
            });
        }
        let next = apply(self.state, &event.action)?;
        if action.needs_reason() && event.reason.is_none() {
            return Err(CaseError::ReasonRequired(action));
        }
        match &event.action {
            Action::Reply(_) if self.open_supervisions == 0 => {
                return Err(CaseError::NoOpenSupervision);
            }
            Action::EscalatedYellow if self.escalated_yellow => {
                return Err(CaseError::Escalation(action));
            }
            Action::EscalatedRed if self.escalated_red || !self.escalated_yellow => {
                return Err(CaseError::Escalation(action));
            }
            _ => {}
        }

        // All checks passed: record the event's effects.
        match &event.action {
            Action::Verify => self.filed = true,
            Action::Dispatch(d) => {
                self.filed = true;
                self.dispatches += 1;
                self.target = Some(d.target.clone());
                self.assignee = d.assignee.clone();
                self.rule = d.rule.clone();
                if d.deadline.is_some() {
                    self.deadline = d.deadline;
                    self.escalated_yellow = false;
                    self.escalated_red = false;
                }
            }
            Action::Accept => self.assignee = Some(event.actor.clone()),
            Action::Return => {
                self.returns += 1;
                if let Some(t) = &self.target {
                    self.returned_by.push(t.clone());
                }
            }
            Action::Resolve(_) => self.resolutions += 1,
            Action::Rework => self.reworks += 1,
            Action::Rate(r) => self.rating = Some(r.clone()),
            Action::Merge(m) => self.merged_into = Some(m.into.clone()),
            Action::Park => self.parks += 1,
            Action::Supervise(_) => self.open_supervisions += 1,
            Action::Reply(_) => self.open_supervisions -= 1,
            Action::EscalatedYellow => self.escalated_yellow = true,
            Action::EscalatedRed => self.escalated_red = true,
            _ => {}
        }
        if next == State::Closed {
            self.closed_at = Some(event.at);
        }
        if next == State::Reopened {
            self.reopens += 1;
            self.closed_at = None;
        }
        self.state = next;
        self.updated_at = event.at;
        Ok(())
    }
}

impl CaseState {
    /// When the handling deadline's clock stopped: `None` while it runs; otherwise when the
    /// case was closed, or its last change (parked, merged, cancelled …).
    pub fn clock_stopped_at(&self) -> Option<DateTime<Utc>> {
        if self.state.deadline_runs() {
            None
        } else {
            Some(self.closed_at.unwrap_or(self.updated_at))
        }
    }

    /// The warning level at `now` while the handling deadline runs; `None` for a case
    /// without a deadline, or closed, parked, merged, cancelled or invalid (no clock runs).
    pub fn warning_level(
        &self,
        now: DateTime<Utc>,
        calendar: &WorkingCalendar,
        red_margin: Option<IsoDuration>,
    ) -> Option<WarningLevel> {
        let deadline = self.deadline.filter(|_| self.state.deadline_runs())?;
        Some(deadline.level(now, calendar, red_margin))
    }
}

/// The case as its events say it is. The first event must be `submit`; the first refused
/// event stops the fold (a stored log is never expected to hold one).
pub fn fold<'a>(events: impl IntoIterator<Item = &'a Event>) -> Result<CaseState, CaseError> {
    let mut events = events.into_iter();
    let first = events.next().ok_or(CaseError::NotSubmitted)?;
    let mut case = CaseState::open(first)?;
    for e in events {
        case.apply(e)?;
    }
    Ok(case)
}

#[cfg(test)]
mod tests;
