//! Dispatch (派遣): where a case goes.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::departments::DepartmentCode;
use crate::domain::units::UnitCode;

/// Where a case is dispatched: a spatial unit (street, community, grid…) or a department.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Unit(UnitCode),
    Department(DepartmentCode),
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
