//! Report categories: a tree of components (部件) and events (事件) coded like the
//! 数字城管 standards, plus the non-work kinds praise (正能量) and consultation (咨询).

use std::fmt;

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use crate::domain::spatial::units::UnitLevel;
use crate::domain::workflow::calendar::{CalendarMode, IsoDuration, TimeLimit};
use crate::domain::workflow::departments::DepartmentCode;

/// What a report of this category is: work to dispatch, praise to acknowledge, or a
/// question to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CategoryKind {
    Problem,
    Praise,
    Consultation,
}

impl CategoryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Problem => "problem",
            Self::Praise => "praise",
            Self::Consultation => "consultation",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "problem" => Some(Self::Problem),
            "praise" => Some(Self::Praise),
            "consultation" => Some(Self::Consultation),
            _ => None,
        }
    }
}

/// A category code: ASCII letters and digits, 2 to 16 characters (e.g. `0101`, `SJ0203`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CategoryCode(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("category code {0:?} must be 2 to 16 ASCII letters or digits")]
pub struct BadCategoryCode(pub String);

impl CategoryCode {
    pub fn parse(s: &str) -> Result<Self, BadCategoryCode> {
        if (2..=16).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(BadCategoryCode(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CategoryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CategoryCode {
    type Error = BadCategoryCode;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<CategoryCode> for String {
    fn from(c: CategoryCode) -> String {
        c.0
    }
}

/// Component (部件, a physical object such as a manhole cover) or event (事件, a situation
/// such as exposed garbage): the two trees of the 数字城管 category standard. Set on major
/// categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CategoryClass {
    Component,
    Event,
}

/// Who handles a category by default: the unit of a level on the report's chain (e.g. its
/// street), or a functional department.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Handler {
    /// The unit of this level on the report's chain, e.g. `{"level": "street"}`.
    Level(UnitLevel),
    /// A functional department, e.g. `{"department": "CGJ"}` (城管局).
    Department(DepartmentCode),
}

/// A search radius for duplicates in metres: positive and at most 5 km.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct RadiusM(f64);

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("duplicate radius {0} m must be positive and at most 5000 m")]
pub struct BadRadius(pub f64);

impl RadiusM {
    pub fn new(m: f64) -> Result<Self, BadRadius> {
        if m.is_finite() && m > 0.0 && m <= 5000.0 {
            Ok(Self(m))
        } else {
            Err(BadRadius(m))
        }
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for RadiusM {
    type Error = BadRadius;
    fn try_from(m: f64) -> Result<Self, Self::Error> {
        Self::new(m)
    }
}

impl From<RadiusM> for f64 {
    fn from(r: RadiusM) -> f64 {
        r.0
    }
}

/// One category as shipped in `data/categories.json` and kept in the store. Everything after
/// `parent` is optional with a default, so the minimal form `{code, name, kind}` still
/// parses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// 2 to 16 ASCII letters or digits; a minor category's code extends its parent's.
    #[schema(value_type = String, pattern = "^[A-Za-z0-9]{2,16}$", example = "0302")]
    pub code: CategoryCode,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_en: Option<String>,
    pub kind: CategoryKind,
    /// The enclosing major category, `None` for a major category itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = "^[A-Za-z0-9]{2,16}$")]
    pub parent: Option<CategoryCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<CategoryClass>,
    /// The default dispatch target; dispatch rules may override it. `None`: dispatchers
    /// choose by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<Handler>,
    /// The handling time limit, e.g. `PT2H` or `P1D`; `None`: no deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "PT2H")]
    pub time_limit: Option<IsoDuration>,
    /// How `time_limit` is counted.
    #[serde(default)]
    pub calendar: CalendarMode,
    /// A grid worker must verify a report on site before it is dispatched (Dongguan).
    #[serde(default)]
    pub verify_first: bool,
    /// Points a verified report earns its reporter.
    #[serde(default)]
    pub points: u32,
    /// Cash reward for a verified report, in fen (1 yuan = 100 fen); exported, never paid
    /// by the service.
    #[serde(default)]
    pub cash_reward_fen: u32,
    /// Open cases of this category within this distance are duplicate candidates
    /// (default [`Category::DEFAULT_DUPLICATE_RADIUS_M`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>, exclusive_minimum = 0.0, maximum = 5000.0)]
    pub duplicate_radius_m: Option<RadiusM>,
    /// … and reported within this window (default [`Category::DEFAULT_DUPLICATE_WINDOW`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "PT72H")]
    pub duplicate_window: Option<IsoDuration>,
    /// Retired categories stay for old reports but take no new ones.
    #[serde(default)]
    pub retired: bool,
}

impl Category {
    /// Issue 3: "within a category-specific radius (default 50 m)".
    pub const DEFAULT_DUPLICATE_RADIUS_M: f64 = 50.0;
    /// Issue 3: "and time window (default 72 h)".
    pub const DEFAULT_DUPLICATE_WINDOW: TimeDelta = TimeDelta::hours(72);

    /// The time limit with its calendar mode, if the category has one.
    pub fn limit(&self) -> Option<TimeLimit> {
        self.time_limit.map(|duration| TimeLimit {
            duration,
            calendar: self.calendar,
        })
    }

    pub fn duplicate_radius_m(&self) -> f64 {
        self.duplicate_radius_m
            .map_or(Self::DEFAULT_DUPLICATE_RADIUS_M, RadiusM::get)
    }

    /// The duplicate window in elapsed time (a day is 24 hours here, whatever the mode).
    pub fn duplicate_window(&self) -> TimeDelta {
        self.duplicate_window
            .map_or(Self::DEFAULT_DUPLICATE_WINDOW, IsoDuration::natural)
    }
}

/// The category list that ships with the service, loaded into every new store.
pub const SHIPPED_CATEGORIES: &str = include_str!("../../../data/categories.json");

#[derive(Debug, thiserror::Error)]
pub enum CategoryFileError {
    /// Not JSON, or a field with a bad value (code, duration, radius…).
    #[error("category file is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Two categories share a code.
    #[error("category {0} appears twice")]
    Duplicate(String),
    /// A parent code that no category in the file has.
    #[error("category {child} names parent {parent}, which is not in the file")]
    MissingParent { child: String, parent: String },
    /// A child whose code does not extend its parent's (the codes are hierarchical).
    #[error("category {child} does not start with its parent's code {parent}")]
    CodeNotUnderParent { child: String, parent: String },
    /// A handler naming a department the deployment does not have.
    #[error("category {category} is handled by department {department}, which is unknown")]
    UnknownDepartment {
        category: String,
        department: String,
    },
}

/// Checks that every department named as a handler exists.
pub fn check_departments(
    categories: &[Category],
    known: impl Fn(&DepartmentCode) -> bool,
) -> Result<(), CategoryFileError> {
    for c in categories {
        if let Some(Handler::Department(d)) = &c.handler
            && !known(d)
        {
            return Err(CategoryFileError::UnknownDepartment {
                category: c.code.to_string(),
                department: d.to_string(),
            });
        }
    }
    Ok(())
}

/// Parses and checks a category file: unique codes, parents present, child codes under
/// their parent's.
pub fn parse_category_file(text: &str) -> Result<Vec<Category>, CategoryFileError> {
    let categories: Vec<Category> = serde_json::from_str(text)?;
    let mut seen = std::collections::HashSet::new();
    for c in &categories {
        if !seen.insert(c.code.as_str()) {
            return Err(CategoryFileError::Duplicate(c.code.to_string()));
        }
    }
    for c in &categories {
        if let Some(p) = &c.parent
            && !seen.contains(p.as_str())
        {
            return Err(CategoryFileError::MissingParent {
                child: c.code.to_string(),
                parent: p.to_string(),
            });
        }
        if let Some(p) = &c.parent
            && !c.code.as_str().starts_with(p.as_str())
        {
            return Err(CategoryFileError::CodeNotUnderParent {
                child: c.code.to_string(),
                parent: p.to_string(),
            });
        }
    }
    Ok(categories)
}

/// A shipped category by code, for tests of the modules that use categories.
#[cfg(test)]
pub(crate) fn shipped(code: &str) -> Category {
    parse_category_file(SHIPPED_CATEGORIES)
        .expect("the shipped category file is valid")
        .into_iter()
        .find(|c| c.code.as_str() == code)
        .unwrap_or_else(|| panic!("no shipped category {code}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_category_file_is_valid_and_has_every_kind() {
        let cats = parse_category_file(SHIPPED_CATEGORIES).unwrap();
        for kind in [
            CategoryKind::Problem,
            CategoryKind::Praise,
            CategoryKind::Consultation,
        ] {
            assert!(
                cats.iter().any(|c| c.kind == kind),
                "no {kind:?} category shipped"
            );
        }
    }

    #[test]
    fn shipped_tree_has_forty_leaves_and_keeps_the_original_codes() {
        let cats = parse_category_file(SHIPPED_CATEGORIES).unwrap();
        let leaves = cats
            .iter()
            .filter(|c| c.kind == CategoryKind::Problem && c.parent.is_some())
            .count();
        assert!(leaves >= 40, "only {leaves} leaves");
        // The codes of the first category file keep their meaning (tests use 0101, 0301).
        for (code, name) in [
            ("01", "市容环境"),
            ("0101", "暴露垃圾"),
            ("0102", "道路不洁"),
            ("0103", "非法小广告"),
            ("02", "街面秩序"),
            ("0201", "机动车乱停放"),
            ("0202", "占道经营"),
            ("03", "公用设施"),
            ("0301", "道路破损"),
            ("0302", "井盖"),
            ("0303", "路灯"),
            ("90", "正能量"),
            ("91", "咨询"),
        ] {
            let c = cats.iter().find(|c| c.code.as_str() == code).unwrap();
            assert_eq!(c.name, name, "code {code}");
        }
        for name in [
            "垃圾箱",
            "交通护栏",
            "行道树",
            "积存垃圾渣土",
            "私搭乱建",
            "施工扰民",
            "工地扬尘",
            "店外经营",
            "非机动车乱停放",
            "占用消防通道",
            "油烟污染",
        ] {
            assert!(cats.iter().any(|c| c.name == name), "{name} is missing");
        }
        for c in cats.iter().filter(|c| c.parent.is_some()) {
            assert!(c.name_en.is_some(), "{} has no English alias", c.code);
            assert!(c.handler.is_some() && c.time_limit.is_some(), "{}", c.code);
        }
    }

    #[test]
    fn shipped_handlers_name_shipped_departments() {
        use crate::domain::workflow::departments::{SHIPPED_DEPARTMENTS, parse_department_file};
        let deps = parse_department_file(SHIPPED_DEPARTMENTS).unwrap();
        let cats = parse_category_file(SHIPPED_CATEGORIES).unwrap();
        check_departments(&cats, |d| deps.iter().any(|x| &x.code == d)).unwrap();
        assert!(matches!(
            check_departments(&cats, |d| d.as_str() != "JJDD"),
            Err(CategoryFileError::UnknownDepartment { .. })
        ));
    }

    #[test]
    fn the_minimal_form_parses_with_defaults() {
        let c: Category =
            serde_json::from_str(r#"{"code":"0101","name":"暴露垃圾","kind":"problem"}"#).unwrap();
        assert_eq!(c.handler, None);
        assert_eq!(c.limit(), None);
        assert_eq!((c.verify_first, c.points, c.retired), (false, 0, false));
        assert_eq!(c.duplicate_radius_m(), 50.0);
        assert_eq!(c.duplicate_window(), TimeDelta::hours(72));
    }

    #[test]
    fn the_admin_api_example_parses_and_working_means_working_days() {
        let c: Category = serde_json::from_str(
            r#"{"code":"0199","name":"测试","kind":"problem","handler":{"level":"community"},
                "time_limit":"P1D","calendar":"working","verify_first":true,"points":5}"#,
        )
        .unwrap();
        assert_eq!(c.handler, Some(Handler::Level(UnitLevel::Community)));
        assert_eq!(c.calendar, CalendarMode::WorkingDays);
        assert_eq!(c.limit().unwrap().duration.days(), 1);
        let dept: Category = serde_json::from_str(
            r#"{"code":"0199","name":"测试","kind":"problem","handler":{"department":"CGJ"},"time_limit":"PT5S"}"#,
        )
        .unwrap();
        assert_eq!(dept.calendar, CalendarMode::Natural);
        assert_eq!(
            dept.handler,
            Some(Handler::Department(DepartmentCode::parse("CGJ").unwrap()))
        );
    }

    #[test]
    fn bad_limits_radii_and_codes_out_of_their_parent_are_refused() {
        for bad in [
            r#"{"code":"0199","name":"a","kind":"problem","time_limit":"2 hours"}"#,
            r#"{"code":"0199","name":"a","kind":"problem","duplicate_radius_m":-5}"#,
            r#"{"code":"0199","name":"a","kind":"problem","handler":{"level":"city"}}"#,
            r#"{"code":"0199","name":"a","kind":"problem","handler":{"department":"cgj"}}"#,
        ] {
            assert!(serde_json::from_str::<Category>(bad).is_err(), "{bad}");
        }
        let outside = r#"[{"code":"01","name":"a","kind":"problem"},{"code":"0201","name":"b","kind":"problem","parent":"01"}]"#;
        assert!(matches!(
            parse_category_file(outside),
            Err(CategoryFileError::CodeNotUnderParent { .. })
        ));
    }

    #[test]
    fn duplicate_codes_and_dangling_parents_are_refused() {
        let dup = r#"[{"code":"01","name":"a","kind":"problem"},{"code":"01","name":"b","kind":"problem"}]"#;
        assert!(matches!(
            parse_category_file(dup),
            Err(CategoryFileError::Duplicate(_))
        ));
        let dangling = r#"[{"code":"0101","name":"a","kind":"problem","parent":"09"}]"#;
        assert!(matches!(
            parse_category_file(dangling),
            Err(CategoryFileError::MissingParent { .. })
        ));
    }
}
