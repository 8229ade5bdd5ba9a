//! Where a case is dispatched ([`Target`]) and which plan-library rule chose it
//! ([`RuleRef`]). The case records both in its dispatch events and the plan library
//! produces them, so they sit below both: `case` and `dispatch` import this module, and
//! `dispatch` imports `case` (for the roles it assigns), never the other way round.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::spatial::units::UnitCode;
use crate::domain::workflow::departments::DepartmentCode;

/// Where a case is dispatched: a spatial unit (street, community, grid…) or a department.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Unit(UnitCode),
    Department(DepartmentCode),
}

impl Target {
    /// The target's code: digits for a unit, capitals for a department, never both.
    pub fn code(&self) -> &str {
        match self {
            Self::Unit(u) => u.as_str(),
            Self::Department(d) => d.as_str(),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unit(u) => write!(f, "unit {u}"),
            Self::Department(d) => write!(f, "department {d}"),
        }
    }
}

/// The plan-library rule (and its version) that chose a dispatch target.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RuleRef {
    pub id: String,
    pub version: u32,
}
