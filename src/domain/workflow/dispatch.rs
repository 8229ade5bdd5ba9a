//! Dispatch (派遣): where a case goes, and to whom.
//!
//! The category's handler is the default target. The plan library (预案库) refines it: an
//! ordered, versioned table of [`DispatchRule`]s (shipped in `data/dispatch_rules.json`,
//! edited through the admin API) in which the first rule that matches the report names the
//! target and may override the time limit (issue 3, "Plan library"). When the chosen target
//! does not exist in the deployment, the case waits in the dispatchers' queue with the
//! reason ([`DispatchDecision::Queue`]), never silently sent elsewhere.

use std::collections::BTreeSet;
use std::fmt;

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};

use crate::domain::spatial::units::{UnitCode, UnitLevel};
use crate::domain::workflow::calendar::{TimeLimit, parse_time_range};
use crate::domain::workflow::case::Role;
use crate::domain::workflow::categories::{Category, CategoryCode, CategoryKind, Handler};
use crate::domain::workflow::departments::DepartmentCode;
use crate::domain::workflow::target::{RuleRef, Target};

/// A local time-of-day window `HH:MM-HH:MM`; one that ends before it starts runs over
/// midnight (`22:00-06:00`). The start is inside the window, the end is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeWindow {
    from: NaiveTime,
    to: NaiveTime,
}

impl TimeWindow {
    pub fn contains(self, t: NaiveTime) -> bool {
        if self.from < self.to {
            self.from <= t && t < self.to
        } else {
            t >= self.from || t < self.to
        }
    }
}

impl TryFrom<String> for TimeWindow {
    type Error = DispatchError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        match parse_time_range(&s) {
            Some((from, to)) if from != to => Ok(Self { from, to }),
            _ => Err(DispatchError::BadTimeWindow(s)),
        }
    }
}

impl From<TimeWindow> for String {
    fn from(w: TimeWindow) -> String {
        format!("{}-{}", w.from.format("%H:%M"), w.to.format("%H:%M"))
    }
}

/// When a rule applies. Every condition given must hold; within a list, any entry will do;
/// an empty list (or no window) does not restrict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// Category codes or prefixes (`02` is every 街面秩序 category, `0205` only 占用消防通道).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<CategoryCode>,
    /// Unit codes or code prefixes: the report's finest unit must start with one
    /// (`211103` is 兴隆台区, a street code its street).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub areas: Vec<String>,
    /// Local time of the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeWindow>,
    /// Words of which at least one must appear in the description (case-insensitive).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
}

/// One rule of the plan library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchRule {
    /// Stable name: lowercase ASCII letters, digits, `-` and `_`.
    pub id: String,
    /// Raised on every change, so a dispatch records exactly which rule text chose it.
    pub version: u32,
    /// Why the rule exists, for the admin screen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default)]
    pub when: Conditions,
    /// A department, or a unit level resolved on the report's chain.
    pub target: Handler,
    /// Overrides the category's time limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_limit: Option<TimeLimit>,
}

/// What the dispatcher (or auto-dispatch) needs to know about a report.
#[derive(Debug, Clone, Copy)]
pub struct DispatchInput<'a> {
    pub category: &'a Category,
    /// The report's units, coarsest first (district, street, community, grid), as the
    /// resolver returns them.
    pub chain: &'a [UnitCode],
    /// The report's local wall-clock time in the deployment's time zone.
    pub local_time: NaiveTime,
    pub description: &'a str,
}

impl DispatchRule {
    pub fn reference(&self) -> RuleRef {
        RuleRef {
            id: self.id.clone(),
            version: self.version,
        }
    }

    /// Whether every condition of the rule holds for the report.
    pub fn matches(&self, input: &DispatchInput<'_>) -> bool {
        let w = &self.when;
        let code = input.category.code.as_str();
        let finest = input.chain.last().map(UnitCode::as_str);
        let description = input.description.to_lowercase();
        (w.categories.is_empty() || w.categories.iter().any(|c| code.starts_with(c.as_str())))
            && (w.areas.is_empty()
                || finest.is_some_and(|u| w.areas.iter().any(|a| u.starts_with(a.as_str()))))
            && w.time.is_none_or(|t| t.contains(input.local_time))
            && (w.keywords.is_empty()
                || w.keywords
                    .iter()
                    .any(|k| description.contains(&k.to_lowercase())))
    }
}

/// Why a case waits in the dispatchers' queue instead of being dispatched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum QueueReason {
    /// Praise and consultations are acknowledged or answered, not dispatched as work.
    NotWork { kind: CategoryKind },
    /// Neither a rule nor the category names a handler.
    NoHandler,
    /// The target department has nobody to take the case.
    DepartmentUnstaffed { department: DepartmentCode },
    /// The target level does not exist at the report's location in this deployment.
    LevelMissing { level: UnitLevel },
}

impl fmt::Display for QueueReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotWork { kind } => write!(f, "{} is not dispatched as work", kind.as_str()),
            Self::NoHandler => f.write_str("no rule or category default names a handler"),
            Self::DepartmentUnstaffed { department } => {
                write!(f, "department {department} has no staff")
            }
            Self::LevelMissing { level } => {
                write!(f, "there is no {level} at the report's location")
            }
        }
    }
}

/// The outcome of [`choose_target`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum DispatchDecision {
    Dispatch {
        target: Target,
        /// The rule's override, else the category's limit; `None`: no deadline.
        time_limit: Option<TimeLimit>,
        /// The rule that chose the target; `None` for the category default.
        rule: Option<RuleRef>,
    },
    Queue {
        reason: QueueReason,
        /// The rule whose target could not be reached, if a rule matched.
        rule: Option<RuleRef>,
    },
}

/// Resolves a handler on the report's chain: a department if it has staff, else the unit of
/// the handler's level.
fn resolve(
    handler: &Handler,
    chain: &[UnitCode],
    staffed: &dyn Fn(&DepartmentCode) -> bool,
) -> Result<Target, QueueReason> {
    match handler {
        Handler::Department(d) if staffed(d) => Ok(Target::Department(d.clone())),
        Handler::Department(d) => Err(QueueReason::DepartmentUnstaffed {
            department: d.clone(),
        }),
        Handler::Level(level) => chain
            .iter()
            .find(|u| u.level() == *level)
            .map(|u| Target::Unit(u.clone()))
            .ok_or(QueueReason::LevelMissing { level: *level }),
    }
}

/// Chooses where a report goes: the first matching rule's target (with its time limit if
/// it gives one), else the category's handler. `staffed` says whether a department has
/// anyone to take the case.
pub fn choose_target(
    rules: &[DispatchRule],
    input: &DispatchInput<'_>,
    staffed: &dyn Fn(&DepartmentCode) -> bool,
) -> DispatchDecision {
    let category = input.category;
    if category.kind != CategoryKind::Problem {
        return DispatchDecision::Queue {
            reason: QueueReason::NotWork {
                kind: category.kind,
            },
            rule: None,
        };
    }
    let (handler, time_limit, rule) = match rules.iter().find(|r| r.matches(input)) {
        Some(r) => (
            Some(&r.target),
            r.time_limit.or(category.limit()),
            Some(r.reference()),
        ),
        None => (category.handler.as_ref(), category.limit(), None),
    };
    let Some(handler) = handler else {
        return DispatchDecision::Queue {
            reason: QueueReason::NoHandler,
            rule,
        };
    };
    match resolve(handler, input.chain, staffed) {
        Ok(target) => DispatchDecision::Dispatch {
            target,
            time_limit,
            rule,
        },
        Err(reason) => DispatchDecision::Queue { reason, rule },
    }
}

/// The units and departments to try for a report, best first: every matching rule's target
/// in table order, then the category default, then the report's street and district
/// (属地管理: when no one else takes a case, the territory it lies in handles it). Targets
/// that cannot be reached are left out; no target appears twice.
pub fn candidates(
    rules: &[DispatchRule],
    input: &DispatchInput<'_>,
    staffed: &dyn Fn(&DepartmentCode) -> bool,
) -> Vec<Target> {
    let territorial = [
        Handler::Level(UnitLevel::Street),
        Handler::Level(UnitLevel::District),
    ];
    let handlers = rules
        .iter()
        .filter(|r| r.matches(input))
        .map(|r| &r.target)
        .chain(&input.category.handler)
        .chain(&territorial);
    let mut out: Vec<Target> = Vec::new();
    for h in handlers {
        if let Ok(t) = resolve(h, input.chain, staffed)
            && !out.contains(&t)
        {
            out.push(t);
        }
    }
    out
}

/// The suggestion after a return (退回): the best candidate that has not returned the case
/// yet, `None` when every candidate has (the dispatchers then decide by hand).
pub fn next_candidate(
    rules: &[DispatchRule],
    input: &DispatchInput<'_>,
    staffed: &dyn Fn(&DepartmentCode) -> bool,
    returned_by: &[Target],
) -> Option<Target> {
    candidates(rules, input, staffed)
        .into_iter()
        .find(|t| !returned_by.contains(t))
}

/// A person who could be assigned a case within the target unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub user: String,
    /// [`Role::GridWorker`] or [`Role::Handler`]; others are never assigned.
    pub role: Role,
    /// The grids a grid worker is responsible for.
    #[serde(default)]
    pub grids: Vec<UnitCode>,
    pub on_duty: bool,
    /// Open cases assigned to them now.
    pub load: u32,
}

/// Picks the person within the unit: the grid worker of the report's grid (the least loaded
/// if several share it), else the least-loaded handler on duty; ties go to the smaller user
/// id so the choice is reproducible. `None`: the unit's own queue.
pub fn assign<'a>(candidates: &'a [Candidate], grid: Option<&UnitCode>) -> Option<&'a Candidate> {
    let least_loaded = |role: Role, pred: &dyn Fn(&Candidate) -> bool| {
        candidates
            .iter()
            .filter(|c| c.on_duty && c.role == role && pred(c))
            .min_by(|a, b| (a.load, &a.user).cmp(&(b.load, &b.user)))
    };
    grid.and_then(|g| least_loaded(Role::GridWorker, &|c| c.grids.contains(g)))
        .or_else(|| least_loaded(Role::Handler, &|_| true))
}

/// The plan library that ships with the service.
pub const SHIPPED_RULES: &str = include_str!("../../../data/dispatch_rules.json");

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// Not JSON, or a rule with a bad field.
    #[error("dispatch rule file is not valid: {0}")]
    Json(#[from] serde_json::Error),
    /// A time window that is not `HH:MM-HH:MM` or is empty.
    #[error("time window {0:?} must be HH:MM-HH:MM with different start and end")]
    BadTimeWindow(String),
    /// An id that is empty or uses other characters than `a-z 0-9 - _`.
    #[error("rule id {0:?} must be 1 to 64 lowercase letters, digits, '-' or '_'")]
    BadId(String),
    /// Two rules share an id.
    #[error("rule {0} appears twice")]
    DuplicateId(String),
    /// Versions start at 1.
    #[error("rule {0} has version 0; versions start at 1")]
    ZeroVersion(String),
    /// An area that is not a prefix of digits (unit codes are digits).
    #[error("rule {id}: area {area:?} must be 1 to 15 digits")]
    BadArea { id: String, area: String },
    /// An empty keyword would match every description.
    #[error("rule {0} has an empty keyword")]
    EmptyKeyword(String),
}

/// Checks a rule table: ids well-formed and unique, versions from 1, areas digit prefixes,
/// keywords non-empty.
pub fn check_rules(rules: &[DispatchRule]) -> Result<(), DispatchError> {
    let mut ids = BTreeSet::new();
    for r in rules {
        let id_ok = (1..=64).contains(&r.id.len())
            && r.id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(DispatchError::BadId(r.id.clone()));
        }
        if !ids.insert(r.id.as_str()) {
            return Err(DispatchError::DuplicateId(r.id.clone()));
        }
        if r.version == 0 {
            return Err(DispatchError::ZeroVersion(r.id.clone()));
        }
        if let Some(a) = r
            .when
            .areas
            .iter()
            .find(|a| !(1..=15).contains(&a.len()) || !a.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(DispatchError::BadArea {
                id: r.id.clone(),
                area: a.clone(),
            });
        }
        if r.when.keywords.iter().any(|k| k.trim().is_empty()) {
            return Err(DispatchError::EmptyKeyword(r.id.clone()));
        }
    }
    Ok(())
}

/// Parses and checks a rule file: a JSON array of rules, in the order they are tried.
pub fn parse_rule_file(text: &str) -> Result<Vec<DispatchRule>, DispatchError> {
    let rules: Vec<DispatchRule> = serde_json::from_str(text)?;
    check_rules(&rules)?;
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::workflow::calendar::{CalendarMode, IsoDuration};
    use crate::domain::workflow::categories::{SHIPPED_CATEGORIES, parse_category_file, shipped};
    use crate::domain::workflow::departments::{SHIPPED_DEPARTMENTS, parse_department_file};

    const XINGLONGTAI: [&str; 4] = ["211103", "211103001", "211103001002", "211103001002003"];

    fn chain(codes: &[&str]) -> Vec<UnitCode> {
        codes.iter().map(|c| UnitCode::parse(c).unwrap()).collect()
    }

    fn rules() -> Vec<DispatchRule> {
        parse_rule_file(SHIPPED_RULES).unwrap()
    }

    fn at(hh: u32, mm: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(hh, mm, 0).unwrap()
    }

    fn everyone(_: &DepartmentCode) -> bool {
        true
    }

    fn limit(duration: &str, calendar: CalendarMode) -> Option<TimeLimit> {
        Some(TimeLimit {
            duration: IsoDuration::parse(duration).unwrap(),
            calendar,
        })
    }

    fn unit(code: &str) -> Target {
        Target::Unit(UnitCode::parse(code).unwrap())
    }

    fn dept(code: &str) -> Target {
        Target::Department(DepartmentCode::parse(code).unwrap())
    }

    fn rule(id: &str) -> Option<RuleRef> {
        Some(RuleRef {
            id: id.into(),
            version: 1,
        })
    }

    /// An owned report; [`Report::input`] lends it out as a [`DispatchInput`].
    struct Report {
        category: Category,
        chain: Vec<UnitCode>,
        time: NaiveTime,
        text: &'static str,
    }

    impl Report {
        fn input(&self) -> DispatchInput<'_> {
            DispatchInput {
                category: &self.category,
                chain: &self.chain,
                local_time: self.time,
                description: self.text,
            }
        }
    }

    fn report(code: &str, units: &[&str], time: NaiveTime, text: &'static str) -> Report {
        Report {
            category: shipped(code),
            chain: chain(units),
            time,
            text,
        }
    }

    fn decide(code: &str, units: &[&str], time: NaiveTime, text: &'static str) -> DispatchDecision {
        choose_target(
            &rules(),
            &report(code, units, time, text).input(),
            &everyone,
        )
    }

    #[test]
    fn without_a_matching_rule_the_category_default_applies() {
        // 0101 暴露垃圾 is handled by the community, within 4 working hours.
        assert_eq!(
            decide("0101", &XINGLONGTAI, at(10, 0), "小区门口有一堆垃圾"),
            DispatchDecision::Dispatch {
                target: unit("211103001002"),
                time_limit: limit("PT4H", CalendarMode::WorkingHours),
                rule: None,
            }
        );
    }

    #[test]
    fn a_time_window_rule_sends_night_construction_noise_to_the_environment_bureau() {
        let night = DispatchDecision::Dispatch {
            target: dept("STHJJ"),
            time_limit: limit("PT1H", CalendarMode::Natural),
            rule: rule("night-construction-noise"),
        };
        assert_eq!(
            decide("0501", &XINGLONGTAI, at(23, 10), "工地还在打桩"),
            night
        );
        assert_eq!(
            decide("0501", &XINGLONGTAI, at(5, 59), "工地还在打桩"),
            night
        );
        // 06:00 is outside the 22:00–06:00 window: the category default, 城管局.
        assert_eq!(
            decide("0501", &XINGLONGTAI, at(6, 0), "工地还在打桩"),
            DispatchDecision::Dispatch {
                target: dept("CGJ"),
                time_limit: limit("PT4H", CalendarMode::WorkingHours),
                rule: None,
            }
        );
    }

    #[test]
    fn a_keyword_rule_shortens_the_limit_for_a_blocked_fire_lane() {
        assert_eq!(
            decide("0205", &XINGLONGTAI, at(9, 0), "私家车把消防通道堵死了"),
            DispatchDecision::Dispatch {
                target: dept("XFJY"),
                time_limit: limit("PT30M", CalendarMode::Natural),
                rule: rule("fire-lane-emergency"),
            }
        );
        assert_eq!(
            decide("0205", &XINGLONGTAI, at(9, 0), "消防通道上停了一辆车"),
            DispatchDecision::Dispatch {
                target: dept("XFJY"),
                time_limit: limit("PT1H", CalendarMode::Natural),
                rule: None,
            }
        );
    }

    #[test]
    fn an_area_rule_applies_only_inside_its_district() {
        // 机动车乱停放 in 兴隆台区 goes to the report's street (rule); in 双台子区 to the
        // traffic police (category default).
        assert_eq!(
            decide("0201", &XINGLONGTAI, at(9, 0), "人行道上停满了车"),
            DispatchDecision::Dispatch {
                target: unit("211103001"),
                time_limit: limit("PT4H", CalendarMode::WorkingHours),
                rule: rule("xinglongtai-street-parking"),
            }
        );
        assert_eq!(
            decide(
                "0201",
                &["211102", "211102004"],
                at(9, 0),
                "人行道上停满了车"
            ),
            DispatchDecision::Dispatch {
                target: dept("JJDD"),
                time_limit: limit("PT2H", CalendarMode::Natural),
                rule: None,
            }
        );
        // In Dongguan the town (street level) grid centre dispatches it.
        assert_eq!(
            decide(
                "0201",
                &["441900", "441900003"],
                at(9, 0),
                "人行道上停满了车"
            ),
            DispatchDecision::Dispatch {
                target: unit("441900003"),
                time_limit: limit("P1D", CalendarMode::WorkingDays),
                rule: rule("dongguan-town-grid-centre"),
            }
        );
    }

    #[test]
    fn the_first_matching_rule_wins() {
        let text = |id: &str, dept: &str| {
            format!(
                r#"{{"id":"{id}","version":3,"when":{{"categories":["03"]}},"target":{{"department":"{dept}"}}}}"#
            )
        };
        let table = parse_rule_file(&format!(
            "[{},{}]",
            text("first", "CGJ"),
            text("second", "ZJJ")
        ))
        .unwrap();
        let lamp = report("0303", &XINGLONGTAI, at(9, 0), "路灯不亮");
        let DispatchDecision::Dispatch {
            target,
            rule,
            time_limit,
        } = choose_target(&table, &lamp.input(), &everyone)
        else {
            panic!("expected a dispatch");
        };
        assert_eq!(target, dept("CGJ"));
        assert_eq!(
            rule,
            Some(RuleRef {
                id: "first".into(),
                version: 3
            })
        );
        assert_eq!(
            time_limit,
            limit("P1D", CalendarMode::WorkingDays),
            "category limit kept"
        );
    }

    #[test]
    fn an_unreachable_target_queues_the_case_with_the_reason() {
        let pothole = report("0301", &XINGLONGTAI, at(9, 0), "路面坑洼");
        assert_eq!(
            choose_target(&rules(), &pothole.input(), &|d| d.as_str() != "ZJJ"),
            DispatchDecision::Queue {
                reason: QueueReason::DepartmentUnstaffed {
                    department: DepartmentCode::parse("ZJJ").unwrap()
                },
                rule: None,
            }
        );
        let decision = decide("0101", &["211103"], at(9, 0), "垃圾");
        assert_eq!(
            decision,
            DispatchDecision::Queue {
                reason: QueueReason::LevelMissing {
                    level: UnitLevel::Community
                },
                rule: None,
            }
        );
        let json = serde_json::to_value(&decision).unwrap();
        assert_eq!(json["decision"], "queue");
        assert_eq!(json["reason"]["why"], "level_missing");
        assert_eq!(json["reason"]["level"], "community");
    }

    #[test]
    fn praise_consultation_and_categories_without_handler_are_queued() {
        assert_eq!(
            decide("90", &XINGLONGTAI, at(9, 0), "环卫工人很辛苦"),
            DispatchDecision::Queue {
                reason: QueueReason::NotWork {
                    kind: CategoryKind::Praise
                },
                rule: None,
            }
        );
        let bare = Report {
            category: serde_json::from_str(r#"{"code":"0999","name":"其他","kind":"problem"}"#)
                .unwrap(),
            ..report("0101", &XINGLONGTAI, at(9, 0), "")
        };
        assert_eq!(
            choose_target(&rules(), &bare.input(), &everyone),
            DispatchDecision::Queue {
                reason: QueueReason::NoHandler,
                rule: None
            }
        );
    }

    #[test]
    fn after_a_return_the_next_candidate_climbs_to_the_territory() {
        let pothole = report("0301", &XINGLONGTAI, at(9, 0), "路面坑洼");
        let input = pothole.input();
        let rules = rules();
        assert_eq!(
            candidates(&rules, &input, &everyone),
            vec![dept("ZJJ"), unit("211103001"), unit("211103")]
        );
        let next = |returned: &[Target]| next_candidate(&rules, &input, &everyone, returned);
        assert_eq!(next(&[]), Some(dept("ZJJ")));
        assert_eq!(next(&[dept("ZJJ")]), Some(unit("211103001")));
        assert_eq!(
            next(&[dept("ZJJ"), unit("211103001")]),
            Some(unit("211103"))
        );
        assert_eq!(
            next(&[dept("ZJJ"), unit("211103001"), unit("211103")]),
            None
        );
    }

    #[test]
    fn candidates_list_matching_rules_before_the_default() {
        let noise = report("0501", &XINGLONGTAI, at(23, 0), "夜间施工");
        assert_eq!(
            candidates(&rules(), &noise.input(), &|d| d.as_str() != "CGJ"),
            vec![dept("STHJJ"), unit("211103001"), unit("211103")],
            "the unstaffed default is skipped"
        );
    }

    fn person(user: &str, role: Role, grids: &[&str], on_duty: bool, load: u32) -> Candidate {
        Candidate {
            user: user.into(),
            role,
            grids: grids.iter().map(|g| UnitCode::parse(g).unwrap()).collect(),
            on_duty,
            load,
        }
    }

    #[test]
    fn the_grid_worker_of_the_grid_is_assigned_before_any_handler() {
        let grid = UnitCode::parse("211103001002003").unwrap();
        let people = [
            person("handler-a", Role::Handler, &[], true, 0),
            person("gw-busy", Role::GridWorker, &["211103001002003"], true, 9),
            person("gw-other", Role::GridWorker, &["211103001002004"], true, 0),
            person(
                "gw-light",
                Role::GridWorker,
                &["211103001002003", "211103001002005"],
                true,
                2,
            ),
        ];
        assert_eq!(assign(&people, Some(&grid)).unwrap().user, "gw-light");
    }

    #[test]
    fn without_a_grid_worker_on_duty_the_least_loaded_handler_is_assigned() {
        let grid = UnitCode::parse("211103001002003").unwrap();
        let people = [
            person("gw-off", Role::GridWorker, &["211103001002003"], false, 0),
            person("handler-b", Role::Handler, &[], true, 3),
            person("handler-a", Role::Handler, &[], true, 3),
            person("handler-c", Role::Handler, &[], true, 4),
            person("handler-idle-off", Role::Handler, &[], false, 0),
            person("dispatcher", Role::Dispatcher, &[], true, 0),
        ];
        assert_eq!(
            assign(&people, Some(&grid)).unwrap().user,
            "handler-a",
            "equal loads go to the smaller id"
        );
        assert_eq!(assign(&people, None).unwrap().user, "handler-a");
        assert_eq!(
            assign(&people[4..], None),
            None,
            "nobody on duty: unit queue"
        );
    }

    #[test]
    fn shipped_rules_name_shipped_departments_and_categories() {
        let deps = parse_department_file(SHIPPED_DEPARTMENTS).unwrap();
        let cats = parse_category_file(SHIPPED_CATEGORIES).unwrap();
        for r in rules() {
            if let Handler::Department(d) = &r.target {
                assert!(deps.iter().any(|x| &x.code == d), "{}: {d}", r.id);
            }
            for p in &r.when.categories {
                assert!(
                    cats.iter().any(|c| c.code.as_str().starts_with(p.as_str())),
                    "{}: no category under {p}",
                    r.id
                );
            }
        }
    }

    #[test]
    fn malformed_rule_tables_are_refused() {
        let rule = |body: &str| {
            format!(r#"[{{"id":"r","version":1,"target":{{"level":"street"}}{body}}}]"#)
        };
        for (body, what) in [
            (r#","when":{"time":"22:00-22:00"}"#, "empty window"),
            (r#","when":{"time":"25:00-06:00"}"#, "bad hour"),
            (r#","when":{"areas":["21a"]}"#, "area not digits"),
            (r#","when":{"keywords":[" "]}"#, "empty keyword"),
            (r#","when":{"colour":"red"}"#, "unknown condition"),
        ] {
            assert!(parse_rule_file(&rule(body)).is_err(), "{what}");
        }
        let two = r#"[{"id":"r","version":1,"target":{"level":"street"}},{"id":"r","version":2,"target":{"level":"street"}}]"#;
        assert!(matches!(
            parse_rule_file(two),
            Err(DispatchError::DuplicateId(_))
        ));
        let zero = r#"[{"id":"r","version":0,"target":{"level":"street"}}]"#;
        assert!(matches!(
            parse_rule_file(zero),
            Err(DispatchError::ZeroVersion(_))
        ));
        let bad_id = r#"[{"id":"Night Noise","version":1,"target":{"level":"street"}}]"#;
        assert!(matches!(
            parse_rule_file(bad_id),
            Err(DispatchError::BadId(_))
        ));
    }

    #[test]
    fn time_windows_over_midnight_include_the_start_and_exclude_the_end() {
        let w = TimeWindow::try_from("22:00-06:00".to_owned()).unwrap();
        assert!(w.contains(at(22, 0)) && w.contains(at(0, 0)) && w.contains(at(5, 59)));
        assert!(!w.contains(at(6, 0)) && !w.contains(at(21, 59)) && !w.contains(at(12, 0)));
        let day = TimeWindow::try_from("08:30-17:30".to_owned()).unwrap();
        assert!(day.contains(at(8, 30)) && !day.contains(at(17, 30)));
        assert_eq!(String::from(w), "22:00-06:00");
    }
}
