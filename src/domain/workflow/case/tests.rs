use super::*;
use crate::domain::spatial::units::UnitCode;
use crate::domain::workflow::calendar::{CalendarMode, TimeLimit};
use crate::domain::workflow::departments::DepartmentCode;
use chrono::TimeZone;
use proptest::prelude::*;

const STREET: &str = "211103001";
const COMMUNITY: &str = "211103001002";

fn t(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 3, 1, 0, 0).unwrap() + chrono::Duration::minutes(minute)
}

/// A deadline at minute `minute` under a two-hour natural limit.
fn due(minute: i64) -> Deadline {
    Deadline {
        at: t(minute),
        limit: TimeLimit {
            duration: IsoDuration::parse("PT2H").unwrap(),
            calendar: CalendarMode::Natural,
        },
        provisional: false,
    }
}

fn ev(minute: i64, actor: &str, role: Role, action: Action) -> Event {
    Event {
        actor: actor.to_owned(),
        role,
        at: t(minute),
        action,
        reason: None,
    }
}

fn because(mut e: Event, reason: &str) -> Event {
    e.reason = Some(Text::parse(reason).unwrap());
    e
}

fn text(s: &str) -> Text {
    Text::parse(s).unwrap()
}

fn submit(kind: CategoryKind, verify_first: bool) -> Event {
    ev(
        0,
        "resident-1",
        Role::Resident,
        Action::Submit(Submission { kind, verify_first }),
    )
}

fn to_unit(code: &str) -> Action {
    Action::Dispatch(Dispatch {
        target: Target::Unit(UnitCode::parse(code).unwrap()),
        assignee: None,
        rule: None,
        deadline: Some(due(120)),
    })
}

fn to_department(code: &str) -> Action {
    Action::Dispatch(Dispatch {
        target: Target::Department(DepartmentCode::parse(code).unwrap()),
        assignee: None,
        rule: Some(RuleRef {
            id: "road-damage".into(),
            version: 2,
        }),
        deadline: Some(due(600)),
    })
}

fn resolution() -> Action {
    Action::Resolve(Resolution {
        note: text("补好了破损的路面"),
        after_photos: AfterPhotos::new(vec![text("media/after-1.jpg")]).unwrap(),
    })
}

fn rating(score: u8, fixed: bool) -> Action {
    Action::Rate(Rating {
        score: Score::new(score).unwrap(),
        comment: Comment::parse("处理很及时").unwrap(),
        fixed,
    })
}

fn run(events: &[Event]) -> CaseState {
    fold(events).unwrap()
}

#[test]
fn xinglongtai_path_street_passes_down_to_community_whose_grid_worker_fixes_it() {
    let events = [
        submit(CategoryKind::Problem, false),
        ev(1, "system", Role::System, to_unit(STREET)),
        ev(5, "street-handler", Role::Handler, Action::Accept),
        ev(6, "street-handler", Role::Handler, to_unit(COMMUNITY)),
        ev(9, "grid-worker-7", Role::GridWorker, Action::Accept),
        ev(
            10,
            "grid-worker-7",
            Role::GridWorker,
            Action::Progress(Note::default()),
        ),
        ev(50, "grid-worker-7", Role::GridWorker, resolution()),
        ev(55, "dispatcher-1", Role::Dispatcher, Action::Close),
        ev(90, "resident-1", Role::Resident, rating(5, true)),
    ];
    let case = run(&events);
    assert_eq!(case.state, State::Rated);
    assert_eq!(case.dispatches, 2);
    assert_eq!(
        case.target,
        Some(Target::Unit(UnitCode::parse(COMMUNITY).unwrap()))
    );
    assert_eq!(case.assignee.as_deref(), Some("grid-worker-7"));
    assert_eq!(case.closed_at, Some(t(55)));
    assert_eq!(case.rating.map(|r| r.score.get()), Some(5));
    assert!(case.filed);
}

#[test]
fn dongguan_path_verifies_first_and_closes_on_reinspection() {
    let events = [
        submit(CategoryKind::Problem, true),
        ev(20, "grid-worker-3", Role::GridWorker, Action::Verify),
        ev(21, "system", Role::System, to_unit(STREET)),
        ev(30, "town-centre", Role::Handler, Action::Accept),
        ev(31, "town-centre", Role::Handler, to_department("ZJJ")),
        ev(40, "zjj-staff", Role::Handler, Action::Accept),
        ev(300, "zjj-staff", Role::Handler, resolution()),
        ev(
            320,
            "grid-worker-3",
            Role::GridWorker,
            Action::Reinspect(Note::default()),
        ),
    ];
    assert_eq!(
        CaseState::open(&events[0]).unwrap().state,
        State::PendingVerification
    );
    let case = run(&events);
    assert_eq!(case.state, State::Closed);
    assert_eq!(
        case.rule,
        Some(RuleRef {
            id: "road-damage".into(),
            version: 2
        })
    );
    assert_eq!(case.deadline.map(|d| d.at), Some(t(600)));
}

#[test]
fn a_verify_first_case_cannot_be_dispatched_before_verification() {
    let mut case = CaseState::open(&submit(CategoryKind::Problem, true)).unwrap();
    let err = case
        .apply(&ev(1, "system", Role::System, to_unit(STREET)))
        .unwrap_err();
    assert_eq!(
        err,
        CaseError::IllegalTransition {
            state: State::PendingVerification,
            action: ActionKind::Dispatch
        }
    );
    assert_eq!(
        err.to_string(),
        "action dispatch is not allowed in state pending_verification"
    );
}

#[test]
fn return_needs_a_reason_and_remembers_who_returned_it() {
    let mut case = run(&[
        submit(CategoryKind::Problem, false),
        ev(1, "system", Role::System, to_department("GDGS")),
    ]);
    let bare = ev(2, "gdgs-staff", Role::Handler, Action::Return);
    assert_eq!(
        case.apply(&bare),
        Err(CaseError::ReasonRequired(ActionKind::Return))
    );
    case.apply(&because(bare, "路灯属于城管局管养")).unwrap();
    assert_eq!(case.state, State::Returned);
    assert_eq!(
        case.returned_by,
        vec![Target::Department(DepartmentCode::parse("GDGS").unwrap())]
    );
    case.apply(&ev(
        3,
        "dispatcher-1",
        Role::Dispatcher,
        to_department("CGJ"),
    ))
    .unwrap();
    assert_eq!(case.state, State::Dispatched);
}

#[test]
fn a_resolution_without_note_or_after_photo_does_not_parse() {
    let no_photo = r#"{"actor":"h","role":"handler","at":"2025-06-03T01:00:00Z","action":"resolve","payload":{"note":"修好了","after_photos":[]}}"#;
    assert!(serde_json::from_str::<Event>(no_photo).is_err());
    let blank_note = r#"{"actor":"h","role":"handler","at":"2025-06-03T01:00:00Z","action":"resolve","payload":{"note":"  ","after_photos":["a.jpg"]}}"#;
    assert!(serde_json::from_str::<Event>(blank_note).is_err());
    assert_eq!(AfterPhotos::new(vec![]), Err(NoAfterPhoto));
}

fn closed_case() -> CaseState {
    run(&[
        submit(CategoryKind::Problem, false),
        ev(1, "dispatcher-1", Role::Dispatcher, to_unit(COMMUNITY)),
        ev(2, "grid-worker-7", Role::GridWorker, Action::Accept),
        ev(3, "grid-worker-7", Role::GridWorker, resolution()),
        ev(4, "dispatcher-1", Role::Dispatcher, Action::Close),
    ])
}

#[test]
fn a_rating_of_two_or_less_or_not_fixed_reopens_the_case_for_review() {
    for (score, fixed, expected) in [
        (1, true, State::Reopened),
        (2, true, State::Reopened),
        (3, true, State::Rated),
        (5, true, State::Rated),
        (5, false, State::Reopened),
    ] {
        let mut case = closed_case();
        case.apply(&ev(9, "resident-1", Role::Resident, rating(score, fixed)))
            .unwrap();
        assert_eq!(case.state, expected, "score {score}, fixed {fixed}");
        if expected == State::Reopened {
            assert_eq!(case.closed_at, None);
            assert_eq!(case.reopens, 1);
        }
    }
    assert_eq!(Score::new(0), Err(BadScore(0)));
    assert_eq!(Score::new(6), Err(BadScore(6)));
}

#[test]
fn a_reopened_case_is_reworked_and_closes_again() {
    let mut case = closed_case();
    for e in [
        ev(9, "resident-1", Role::Resident, rating(1, false)),
        because(
            ev(10, "dispatcher-1", Role::Dispatcher, Action::Rework),
            "井盖仍然松动",
        ),
        ev(20, "grid-worker-7", Role::GridWorker, resolution()),
        ev(
            21,
            "grid-worker-7",
            Role::GridWorker,
            Action::Reinspect(Note::default()),
        ),
    ] {
        case.apply(&e).unwrap();
    }
    assert_eq!(case.state, State::Closed);
    assert_eq!((case.reworks, case.resolutions), (1, 2));
}

#[test]
fn supervision_and_reply_leave_the_state_unchanged_and_reply_needs_a_supervision() {
    let mut case = run(&[
        submit(CategoryKind::Problem, false),
        ev(1, "system", Role::System, to_unit(COMMUNITY)),
    ]);
    let reply = ev(
        3,
        "community-handler",
        Role::Handler,
        Action::Reply(Reply {
            text: text("已安排明早处理"),
        }),
    );
    assert_eq!(case.apply(&reply), Err(CaseError::NoOpenSupervision));
    case.apply(&ev(
        2,
        "leader-1",
        Role::Leader,
        Action::Supervise(Supervision {
            opinion: text("请今日内处理并回复"),
            reply_by: None,
        }),
    ))
    .unwrap();
    assert_eq!((case.state, case.open_supervisions), (State::Dispatched, 1));
    case.apply(&reply).unwrap();
    assert_eq!((case.state, case.open_supervisions), (State::Dispatched, 0));
}

#[test]
fn closed_cases_cannot_be_supervised() {
    let mut case = closed_case();
    let err = case
        .apply(&ev(
            9,
            "leader-1",
            Role::Leader,
            Action::Supervise(Supervision {
                opinion: text("督办"),
                reply_by: None,
            }),
        ))
        .unwrap_err();
    assert_eq!(
        err,
        CaseError::IllegalTransition {
            state: State::Closed,
            action: ActionKind::Supervise
        }
    );
}

#[test]
fn praise_is_acknowledged_and_closed_and_never_dispatched() {
    let mut case = CaseState::open(&submit(CategoryKind::Praise, true)).unwrap();
    assert_eq!(case.state, State::Submitted, "praise is never verified");
    assert_eq!(
        case.apply(&ev(1, "system", Role::System, to_unit(STREET))),
        Err(CaseError::NotForKind {
            kind: CategoryKind::Praise,
            action: ActionKind::Dispatch
        })
    );
    case.apply(&ev(
        2,
        "dispatcher-1",
        Role::Dispatcher,
        Action::Acknowledge,
    ))
    .unwrap();
    assert_eq!(case.state, State::Closed);
    assert!(!case.filed);
}

#[test]
fn consultation_is_answered_and_closed() {
    let mut case = CaseState::open(&submit(CategoryKind::Consultation, false)).unwrap();
    case.apply(&ev(
        2,
        "dispatcher-1",
        Role::Dispatcher,
        Action::Answer(Reply {
            text: text("占道经营可向城管局申请临时摊点"),
        }),
    ))
    .unwrap();
    assert_eq!(case.state, State::Closed);
    assert_eq!(case.closed_at, Some(t(2)));
}

#[test]
fn roles_outside_the_table_are_forbidden() {
    let mut case = run(&[submit(CategoryKind::Problem, true)]);
    assert_eq!(
        case.apply(&ev(1, "resident-1", Role::Resident, Action::Verify)),
        Err(CaseError::Forbidden {
            role: Role::Resident,
            action: ActionKind::Verify
        })
    );
    for &action in ActionKind::ALL {
        assert!(
            !may(Role::Planner, action),
            "a planner only reads aggregates"
        );
    }
    assert!(
        "system".parse::<Role>().is_err(),
        "no token acts as the service"
    );
    assert_eq!("grid_worker".parse::<Role>(), Ok(Role::GridWorker));
}

#[test]
fn warnings_are_recorded_once_per_deadline_yellow_before_red() {
    let mut case = run(&[
        submit(CategoryKind::Problem, false),
        ev(1, "system", Role::System, to_unit(COMMUNITY)),
    ]);
    let yellow = ev(130, "system", Role::System, Action::EscalatedYellow);
    let red = ev(250, "system", Role::System, Action::EscalatedRed);
    assert_eq!(
        case.apply(&red),
        Err(CaseError::Escalation(ActionKind::EscalatedRed))
    );
    case.apply(&yellow).unwrap();
    assert_eq!(
        case.apply(&yellow),
        Err(CaseError::Escalation(ActionKind::EscalatedYellow))
    );
    case.apply(&red).unwrap();
    assert_eq!(
        case.apply(&red),
        Err(CaseError::Escalation(ActionKind::EscalatedRed))
    );
    // A dispatcher re-dispatches with a new deadline: the warnings start over.
    case.apply(&ev(260, "dispatcher-1", Role::Dispatcher, to_unit(STREET)))
        .unwrap();
    assert!(!case.escalated_yellow && !case.escalated_red);
    assert_eq!(case.state, State::Dispatched);
}

#[test]
fn the_warning_level_runs_from_the_dispatch_deadline_until_the_case_stops_the_clock() {
    // Dispatched with a deadline at minute 120 under a 2 h limit: red after minute 240.
    let mut case = run(&[
        submit(CategoryKind::Problem, false),
        ev(1, "system", Role::System, to_unit(COMMUNITY)),
    ]);
    let cal = WorkingCalendar::china();
    let level = |case: &CaseState, minute| case.warning_level(t(minute), &cal, None);
    assert_eq!(level(&case, 100), Some(WarningLevel::Green));
    assert_eq!(level(&case, 130), Some(WarningLevel::Yellow));
    assert_eq!(level(&case, 240), Some(WarningLevel::Yellow));
    assert_eq!(level(&case, 241), Some(WarningLevel::Red));
    case.apply(&because(
        ev(242, "dispatcher-1", Role::Dispatcher, Action::Park),
        "待明年道路改造",
    ))
    .unwrap();
    assert_eq!(level(&case, 300), None, "parking suspends the clock");
    let fresh = run(&[submit(CategoryKind::Problem, false)]);
    assert_eq!(level(&fresh, 300), None, "no deadline before dispatch");
}

#[test]
fn a_log_must_start_with_one_submit_and_run_forward_in_time() {
    assert_eq!(fold(&[]), Err(CaseError::NotSubmitted));
    assert_eq!(
        fold(&[ev(0, "d", Role::Dispatcher, Action::Close)]),
        Err(CaseError::NotSubmitted)
    );
    let mut case = run(&[submit(CategoryKind::Problem, false)]);
    assert_eq!(
        case.apply(&submit(CategoryKind::Problem, false)),
        Err(CaseError::NotSubmitted)
    );
    let mut late = run(&[
        submit(CategoryKind::Problem, false),
        ev(10, "system", Role::System, to_unit(COMMUNITY)),
    ]);
    assert!(matches!(
        late.apply(&ev(5, "h", Role::Handler, Action::Accept)),
        Err(CaseError::OutOfOrder { .. })
    ));
}

#[test]
fn events_serialise_as_actor_role_at_action_reason_payload() {
    let e = because(
        ev(1, "gdgs-staff", Role::Handler, to_department("GDGS")),
        "夜间抢修",
    );
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["actor"], "gdgs-staff");
    assert_eq!(json["role"], "handler");
    assert_eq!(json["at"], "2025-06-03T01:01:00Z");
    assert_eq!(json["action"], "dispatch");
    assert_eq!(json["reason"], "夜间抢修");
    assert_eq!(json["payload"]["target"]["department"], "GDGS");
    assert_eq!(json["payload"]["rule"]["version"], 2);
    assert_eq!(serde_json::from_value::<Event>(json).unwrap(), e);

    let bare: Event = serde_json::from_str(
        r#"{"actor":"h","role":"handler","at":"2025-06-03T01:00:00Z","action":"accept"}"#,
    )
    .unwrap();
    assert_eq!(bare.action, Action::Accept);
    let accept = serde_json::to_value(&bare).unwrap();
    assert!(accept.get("payload").is_none() && accept.get("reason").is_none());
}

#[test]
fn state_and_action_names_are_the_same_in_json_and_text() {
    for &s in State::ALL {
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        assert_eq!(s.as_str().parse::<State>(), Ok(s));
    }
    for &a in ActionKind::ALL {
        assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        assert_eq!(a.as_str().parse::<ActionKind>(), Ok(a));
    }
    assert_eq!(
        "closed ".parse::<State>().unwrap_err().to_string(),
        r#"unknown case state "closed ""#
    );
}

#[test]
fn api_actions_are_exactly_those_the_issue_lists_plus_acknowledge_and_answer() {
    let api: Vec<&str> = ActionKind::ALL
        .iter()
        .copied()
        .filter(|a| a.is_api_action())
        .map(ActionKind::as_str)
        .collect();
    assert_eq!(
        api.join("|"),
        "verify|invalidate|dispatch|accept|return|progress|resolve|reinspect|close|rework|\
             rate|reopen|merge|park|cancel|supervise|reply|acknowledge|answer"
    );
}

// ----- The allowed-state graph, written out as data, independently of `apply`. -----

use ActionKind as A;
use State as S;

/// Every state-changing edge for problem cases: (from, action, to).
const PROBLEM_EDGES: &[(State, ActionKind, State)] = &[
    (S::Submitted, A::Verify, S::Verified),
    (S::Submitted, A::Invalidate, S::Invalid),
    (S::Submitted, A::Dispatch, S::Dispatched),
    (S::Submitted, A::Merge, S::Merged),
    (S::Submitted, A::Cancel, S::Cancelled),
    (S::PendingVerification, A::Verify, S::Verified),
    (S::PendingVerification, A::Invalidate, S::Invalid),
    (S::PendingVerification, A::Merge, S::Merged),
    (S::PendingVerification, A::Cancel, S::Cancelled),
    (S::Verified, A::Dispatch, S::Dispatched),
    (S::Verified, A::Merge, S::Merged),
    (S::Verified, A::Park, S::Parked),
    (S::Verified, A::Cancel, S::Cancelled),
    (S::Dispatched, A::Dispatch, S::Dispatched),
    (S::Dispatched, A::Accept, S::Accepted),
    (S::Dispatched, A::Return, S::Returned),
    (S::Dispatched, A::Merge, S::Merged),
    (S::Dispatched, A::Park, S::Parked),
    (S::Dispatched, A::Cancel, S::Cancelled),
    (S::Accepted, A::Dispatch, S::Dispatched),
    (S::Accepted, A::Return, S::Returned),
    (S::Accepted, A::Progress, S::InProgress),
    (S::Accepted, A::Resolve, S::Resolved),
    (S::Accepted, A::Park, S::Parked),
    (S::Accepted, A::Cancel, S::Cancelled),
    (S::Returned, A::Dispatch, S::Dispatched),
    (S::Returned, A::Merge, S::Merged),
    (S::Returned, A::Park, S::Parked),
    (S::Returned, A::Cancel, S::Cancelled),
    (S::InProgress, A::Progress, S::InProgress),
    (S::InProgress, A::Resolve, S::Resolved),
    (S::InProgress, A::Park, S::Parked),
    (S::InProgress, A::Cancel, S::Cancelled),
    (S::Resolved, A::Reinspect, S::Closed),
    (S::Resolved, A::Close, S::Closed),
    (S::Resolved, A::Rework, S::InProgress),
    (S::Resolved, A::Cancel, S::Cancelled),
    (S::Closed, A::Rate, S::Rated),
    (S::Closed, A::Rate, S::Reopened),
    (S::Closed, A::Reopen, S::Reopened),
    (S::Rated, A::Reopen, S::Reopened),
    (S::Reopened, A::Dispatch, S::Dispatched),
    (S::Reopened, A::Rework, S::InProgress),
    (S::Reopened, A::Close, S::Closed),
    (S::Reopened, A::Park, S::Parked),
    (S::Reopened, A::Cancel, S::Cancelled),
    (S::Parked, A::Dispatch, S::Dispatched),
    (S::Parked, A::Cancel, S::Cancelled),
];

const PRAISE_EDGES: &[(State, ActionKind, State)] = &[
    (S::Submitted, A::Acknowledge, S::Closed),
    (S::Submitted, A::Invalidate, S::Invalid),
    (S::Submitted, A::Cancel, S::Cancelled),
];

const CONSULTATION_EDGES: &[(State, ActionKind, State)] = &[
    (S::Submitted, A::Answer, S::Closed),
    (S::Submitted, A::Invalidate, S::Invalid),
    (S::Submitted, A::Cancel, S::Cancelled),
];

/// States in which a problem case is open (supervision and replies allowed).
const PROBLEM_OPEN: &[State] = &[
    S::Submitted,
    S::PendingVerification,
    S::Verified,
    S::Dispatched,
    S::Accepted,
    S::Returned,
    S::InProgress,
    S::Resolved,
    S::Reopened,
    S::Parked,
];

/// Actions that are events without a change of state, allowed in open states
/// (escalations not while parked).
const NEUTRAL: &[ActionKind] = &[A::Supervise, A::Reply, A::EscalatedYellow, A::EscalatedRed];

fn edge_allowed(kind: CategoryKind, from: State, action: ActionKind, to: State) -> bool {
    if NEUTRAL.contains(&action) {
        let open = match kind {
            CategoryKind::Problem => PROBLEM_OPEN.contains(&from),
            _ => from == S::Submitted,
        };
        let escalation = matches!(action, A::EscalatedYellow | A::EscalatedRed);
        return open && from == to && !(escalation && from == S::Parked);
    }
    let edges = match kind {
        CategoryKind::Problem => PROBLEM_EDGES,
        CategoryKind::Praise => PRAISE_EDGES,
        CategoryKind::Consultation => CONSULTATION_EDGES,
    };
    edges.contains(&(from, action, to))
}

fn initial_allowed(kind: CategoryKind, verify_first: bool, state: State) -> bool {
    match (kind, verify_first) {
        (CategoryKind::Problem, true) => state == S::PendingVerification,
        _ => state == S::Submitted,
    }
}

/// One action of each kind with a representative payload (two for `rate`, whose target
/// depends on the score).
fn sample_actions() -> Vec<Action> {
    let mut v = vec![
        Action::Verify,
        Action::Invalidate,
        to_unit(STREET),
        Action::Accept,
        Action::Return,
        Action::Progress(Note::default()),
        resolution(),
        Action::Reinspect(Note::default()),
        Action::Close,
        Action::Rework,
        rating(4, true),
        rating(2, true),
        Action::Reopen,
        Action::Merge(Merge { into: text("C-1") }),
        Action::Park,
        Action::Cancel,
        Action::Supervise(Supervision {
            opinion: text("督办"),
            reply_by: None,
        }),
        Action::Reply(Reply {
            text: text("已处理"),
        }),
        Action::Acknowledge,
        Action::Answer(Reply {
            text: text("答复")
        }),
        Action::EscalatedYellow,
        Action::EscalatedRed,
    ];
    v.push(Action::Submit(Submission {
        kind: CategoryKind::Problem,
        verify_first: false,
    }));
    v
}

#[test]
fn the_transition_function_is_exactly_the_problem_graph() {
    let mut seen = Vec::new();
    for &from in State::ALL {
        for action in sample_actions() {
            let kind = action.kind();
            match apply(from, &action) {
                Ok(to) => {
                    assert!(
                        edge_allowed(CategoryKind::Problem, from, kind, to)
                            || matches!(kind, A::Acknowledge | A::Answer),
                        "{from} --{kind}--> {to} is not in the graph"
                    );
                    seen.push((from, kind, to));
                }
                Err(e) => assert_eq!(
                    e,
                    CaseError::IllegalTransition {
                        state: from,
                        action: kind
                    }
                ),
            }
        }
    }
    for edge in PROBLEM_EDGES {
        assert!(seen.contains(edge), "{edge:?} is never taken");
    }
}

fn arb_kind() -> impl Strategy<Value = CategoryKind> {
    prop_oneof![
        6 => Just(CategoryKind::Problem),
        1 => Just(CategoryKind::Praise),
        1 => Just(CategoryKind::Consultation),
    ]
}

const ALL_ROLES: [Role; 8] = [
    Role::Resident,
    Role::GridWorker,
    Role::Handler,
    Role::Dispatcher,
    Role::Leader,
    Role::Planner,
    Role::Admin,
    Role::System,
];

/// Builds the `i`-th event from random knobs: the action, whether to use a role that
/// may perform it, whether to give a reason, and a byte that varies the payload.
fn make_event(i: usize, action: usize, knob: u8, allowed_role: bool, reason: bool) -> Event {
    let mut action = sample_actions().swap_remove(action);
    match &mut action {
        Action::Dispatch(d) => {
            if knob.is_multiple_of(3) {
                d.target = Target::Department(DepartmentCode::parse("CGJ").unwrap());
            }
            d.deadline = knob.is_multiple_of(2).then(|| due(i as i64 * 10 + 60));
        }
        Action::Rate(r) => {
            r.score = Score::new(knob % 5 + 1).unwrap();
            r.fixed = !knob.is_multiple_of(7);
        }
        _ => {}
    }
    let kind = action.kind();
    let role = if allowed_role {
        ALL_ROLES
            .into_iter()
            .find(|r| may(*r, kind))
            .unwrap_or(Role::Admin)
    } else {
        ALL_ROLES[knob as usize % ALL_ROLES.len()]
    };
    let e = ev(i as i64, &format!("user-{}", knob % 4), role, action);
    if reason { because(e, "原因") } else { e }
}

/// How the random walk picks its next action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Pick {
    /// An edge of the data graph that moves the case along its life (not one of the
    /// side exits or state-neutral events), so that deep states are reached.
    Forward,
    /// Any edge of the data graph.
    Legal,
    /// An action the data graph forbids from the current state.
    Illegal,
}

const SIDE: &[ActionKind] = &[
    A::Cancel,
    A::Merge,
    A::Invalidate,
    A::Park,
    A::Supervise,
    A::Reply,
    A::EscalatedYellow,
    A::EscalatedRed,
];

/// For each kind, state and [`Pick`], the indices into [`sample_actions`] to choose
/// from. Computed once: the walk consults it at every step.
fn moves(kind: CategoryKind, state: State, pick: Pick) -> &'static [usize] {
    use std::collections::HashMap;
    use std::sync::LazyLock;
    type Moves = HashMap<(CategoryKind, State, Pick), Vec<usize>>;
    static MOVES: LazyLock<Moves> = LazyLock::new(|| {
        let samples: Vec<ActionKind> = sample_actions().iter().map(Action::kind).collect();
        let mut m = Moves::new();
        for kind in [
            CategoryKind::Problem,
            CategoryKind::Praise,
            CategoryKind::Consultation,
        ] {
            for &from in State::ALL {
                for (i, a) in samples.iter().enumerate() {
                    let legal = State::ALL
                        .iter()
                        .copied()
                        .any(|to| edge_allowed(kind, from, *a, to));
                    if !legal {
                        m.entry((kind, from, Pick::Illegal)).or_default().push(i);
                        continue;
                    }
                    m.entry((kind, from, Pick::Legal)).or_default().push(i);
                    if !SIDE.contains(a) {
                        m.entry((kind, from, Pick::Forward)).or_default().push(i);
                    }
                }
            }
        }
        m
    });
    [pick, Pick::Legal, Pick::Illegal]
        .into_iter()
        .find_map(|p| MOVES.get(&(kind, state, p)))
        .map_or(&[], Vec::as_slice)
}

fn arb_pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        6 => Just(Pick::Forward),
        2 => Just(Pick::Legal),
        2 => Just(Pick::Illegal),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// No sequence of actions reaches a state the graph forbids; refused actions leave
    /// the case unchanged; the derived state equals a replay of the accepted events.
    /// Most steps take an edge of the data graph (so deep states are reached), a fifth
    /// try an action the graph forbids from the current state; roles and reasons are
    /// sometimes wrong too.
    #[test]
    fn random_action_sequences_stay_on_the_graph(
        kind in arb_kind(),
        verify_first in any::<bool>(),
        steps in proptest::collection::vec(
            (arb_pick(), any::<usize>(), any::<u8>(), proptest::bool::weighted(0.9), proptest::bool::weighted(0.8)),
            0..40,
        ),
    ) {
        let first = submit(kind, verify_first);
        let mut case = CaseState::open(&first).unwrap();
        prop_assert!(initial_allowed(kind, verify_first, case.state));
        let mut accepted = vec![first];
        for (i, (pick, n, knob, allowed_role, reason)) in steps.into_iter().enumerate() {
            let choices = moves(kind, case.state, pick);
            let e = make_event(i + 1, choices[n % choices.len()], knob, allowed_role, reason);
            let before = case.clone();
            match case.apply(&e) {
                Ok(()) => {
                    let kind_of = e.action.kind();
                    prop_assert!(
                        edge_allowed(kind, before.state, kind_of, case.state),
                        "{} --{}--> {} is not in the graph", before.state, kind_of, case.state
                    );
                    prop_assert!(may(e.role, kind_of));
                    accepted.push(e);
                }
                Err(_) => prop_assert_eq!(&case, &before),
            }
        }
        prop_assert_eq!(fold(&accepted).unwrap(), case);
    }
}
