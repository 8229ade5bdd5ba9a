//! Units of the jurisdiction: the spatial hierarchy district ⊃ street ⊃ community ⊃ grid
//! (数字城管 CJ/T 213 unit grids, 万米单元网格) and non-spatial functional departments.
//!
//! Codes follow the 15-digit scheme of the standard: district (6) + street (3) +
//! community (3) + grid sequence (3). A unit's code length therefore says its level, and a
//! code is a prefix of every code below it.

use std::fmt;
use std::str::FromStr;

use geo::MultiPolygon;
use serde::{Deserialize, Serialize};

/// The levels of the spatial hierarchy, coarsest first.
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
pub enum UnitLevel {
    District,
    Street,
    Community,
    Grid,
}

impl UnitLevel {
    pub const ALL: [UnitLevel; 4] = [Self::District, Self::Street, Self::Community, Self::Grid];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::District => "district",
            Self::Street => "street",
            Self::Community => "community",
            Self::Grid => "grid",
        }
    }

    /// Number of digits of a code at this level in the 15-digit scheme.
    pub fn code_len(self) -> usize {
        match self {
            Self::District => 6,
            Self::Street => 9,
            Self::Community => 12,
            Self::Grid => 15,
        }
    }

    /// Position in [`UnitLevel::ALL`], handy for per-level arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn parent(self) -> Option<UnitLevel> {
        match self {
            Self::District => None,
            Self::Street => Some(Self::District),
            Self::Community => Some(Self::Street),
            Self::Grid => Some(Self::Community),
        }
    }

    pub fn child(self) -> Option<UnitLevel> {
        match self {
            Self::District => Some(Self::Street),
            Self::Street => Some(Self::Community),
            Self::Community => Some(Self::Grid),
            Self::Grid => None,
        }
    }
}

impl fmt::Display for UnitLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown unit level {0:?}; expected district, street, community or grid")]
pub struct UnknownLevel(pub String);

impl FromStr for UnitLevel {
    type Err = UnknownLevel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "district" => Ok(Self::District),
            "street" => Ok(Self::Street),
            "community" => Ok(Self::Community),
            "grid" => Ok(Self::Grid),
            other => Err(UnknownLevel(other.to_owned())),
        }
    }
}

/// A unit code in the 15-digit scheme; its length gives its level.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UnitCode(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UnitCodeError {
    /// Codes are ASCII digits only.
    #[error("unit code {0:?} must contain only digits")]
    NotDigits(String),
    /// 6, 9, 12 or 15 digits.
    #[error("unit code {0:?} must have 6, 9, 12 or 15 digits (district, street, community, grid)")]
    BadLength(String),
}

impl UnitCode {
    pub fn parse(s: &str) -> Result<Self, UnitCodeError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(UnitCodeError::NotDigits(s.to_owned()));
        }
        match s.len() {
            6 | 9 | 12 | 15 => Ok(Self(s.to_owned())),
            _ => Err(UnitCodeError::BadLength(s.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn level(&self) -> UnitLevel {
        match self.0.len() {
            6 => UnitLevel::District,
            9 => UnitLevel::Street,
            12 => UnitLevel::Community,
            _ => UnitLevel::Grid,
        }
    }

    /// The code of the enclosing unit, by the prefix rule of the scheme.
    pub fn parent(&self) -> Option<UnitCode> {
        self.level()
            .parent()
            .map(|p| UnitCode(self.0[..p.code_len()].to_owned()))
    }

    /// The code of the `seq`-th child (1-based, at most 999).
    pub fn child(&self, seq: u32) -> Option<UnitCode> {
        self.level().child()?;
        (1..=999)
            .contains(&seq)
            .then(|| UnitCode(format!("{}{seq:03}", self.0)))
    }
}

impl fmt::Display for UnitCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for UnitCode {
    type Error = UnitCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<UnitCode> for String {
    fn from(c: UnitCode) -> String {
        c.0
    }
}

/// A spatial unit with its boundary in WGS-84 (EPSG:4326, lon/lat).
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub code: UnitCode,
    pub name: String,
    pub level: UnitLevel,
    /// The enclosing unit, `None` for the top level loaded.
    pub parent: Option<UnitCode>,
    pub geometry: MultiPolygon<f64>,
    /// True for units that are generated rather than official (the demo's streets,
    /// communities and grids: nothing below district level is public data).
    pub synthetic: bool,
}

/// What a [`UnitRef`] is among the things a case can be sent to: always `unit` (a city
/// department is the other kind, see the case API's target).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    #[default]
    Unit,
}

/// A unit as it appears in API responses, `{kind: "unit", code, name, level}`: the shape of
/// a case's target wherever a unit appears (issue 9). Reads the older stored `{code, name}`
/// too, the level taken from the code's length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "StoredUnitRef")]
pub struct UnitRef {
    pub kind: UnitKind,
    /// The unit's code: 6 digits for a district, 9 a street, 12 a community, 15 a grid.
    #[schema(example = "211103001002003")]
    pub code: String,
    pub name: String,
    pub level: UnitLevel,
}

impl From<&Unit> for UnitRef {
    fn from(u: &Unit) -> Self {
        UnitRef {
            kind: UnitKind::Unit,
            code: u.code.to_string(),
            name: u.name.clone(),
            level: u.level,
        }
    }
}

/// A [`UnitRef`] as stored, before the level was written with it.
#[derive(Deserialize)]
struct StoredUnitRef {
    code: String,
    name: String,
    level: Option<UnitLevel>,
}

impl TryFrom<StoredUnitRef> for UnitRef {
    type Error = UnitCodeError;

    fn try_from(s: StoredUnitRef) -> Result<Self, Self::Error> {
        let level = match s.level {
            Some(l) => l,
            None => UnitCode::parse(&s.code)?.level(),
        };
        Ok(UnitRef {
            kind: UnitKind::Unit,
            code: s.code,
            name: s.name,
            level,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_length_gives_level_and_prefix_gives_parent() {
        let grid = UnitCode::parse("211103001002003").unwrap();
        assert_eq!(grid.level(), UnitLevel::Grid);
        let community = grid.parent().unwrap();
        assert_eq!(community.as_str(), "211103001002");
        assert_eq!(community.parent().unwrap().as_str(), "211103001");
        assert_eq!(
            UnitCode::parse("211103").unwrap().parent(),
            None,
            "a district has no parent code"
        );
    }

    #[test]
    fn malformed_codes_are_refused() {
        assert!(matches!(
            UnitCode::parse("21110"),
            Err(UnitCodeError::BadLength(_))
        ));
        assert!(matches!(
            UnitCode::parse("21110a"),
            Err(UnitCodeError::NotDigits(_))
        ));
        assert!(matches!(
            UnitCode::parse(""),
            Err(UnitCodeError::NotDigits(_))
        ));
    }

    #[test]
    fn child_codes_are_zero_padded_and_bounded() {
        let street = UnitCode::parse("211103001").unwrap();
        assert_eq!(street.child(7).unwrap().as_str(), "211103001007");
        assert_eq!(street.child(1000), None);
        assert_eq!(UnitCode::parse("211103001002003").unwrap().child(1), None);
    }
}
