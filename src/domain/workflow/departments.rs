//! Functional departments (职能部门): non-spatial handling units such as 城管局 or 供电公司,
//! named by a category's handler or a dispatch rule as the target of a case.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A department code: 2 to 16 ASCII capital letters or digits, starting with a letter so it
/// can never be mistaken for a (digits-only) unit code, e.g. `CGJ` (城管局).
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, pattern = "^[A-Z][A-Z0-9]{1,15}$", example = "CGJ")]
pub struct DepartmentCode(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("department code {0:?} must be 2 to 16 capital letters or digits, starting with a letter")]
pub struct BadDepartmentCode(pub String);

impl DepartmentCode {
    pub fn parse(s: &str) -> Result<Self, BadDepartmentCode> {
        let ok = (2..=16).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_uppercase())
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(BadDepartmentCode(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DepartmentCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for DepartmentCode {
    type Error = BadDepartmentCode;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<DepartmentCode> for String {
    fn from(c: DepartmentCode) -> String {
        c.0
    }
}

/// One department as shipped in `data/departments.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Department {
    pub code: DepartmentCode,
    /// The official name, e.g. 城市管理综合行政执法局.
    pub name: String,
    /// The name people use, e.g. 城管局.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_en: Option<String>,
}

/// The department list that ships with the service.
pub const SHIPPED_DEPARTMENTS: &str = include_str!("../../../data/departments.json");

#[derive(Debug, thiserror::Error)]
pub enum DepartmentFileError {
    /// Not JSON, or a department with a bad code or unknown field.
    #[error("department file is not valid: {0}")]
    Json(#[from] serde_json::Error),
    /// Two departments share a code.
    #[error("department {0} appears twice")]
    Duplicate(DepartmentCode),
}

/// The shipped departments (`data/departments.json`), parsed once. The file is part of
/// the binary and a unit test parses it, so a bad file never reaches a running service.
pub fn shipped() -> &'static [Department] {
    static SHIPPED: std::sync::OnceLock<Vec<Department>> = std::sync::OnceLock::new();
    SHIPPED.get_or_init(|| {
        parse_department_file(SHIPPED_DEPARTMENTS)
            .expect("data/departments.json parses (the unit tests check it)")
    })
}

/// Parses and checks a department file: unique codes.
pub fn parse_department_file(text: &str) -> Result<Vec<Department>, DepartmentFileError> {
    let departments: Vec<Department> = serde_json::from_str(text)?;
    let mut seen = std::collections::HashSet::new();
    for d in &departments {
        if !seen.insert(&d.code) {
            return Err(DepartmentFileError::Duplicate(d.code.clone()));
        }
    }
    Ok(departments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_departments_include_those_the_issue_names() {
        let deps = shipped();
        for short in ["城管局", "住建局", "交警大队", "市场监管局", "供电公司"] {
            assert!(
                deps.iter().any(|d| d.short_name.as_deref() == Some(short)),
                "{short} is missing"
            );
        }
    }

    #[test]
    fn department_codes_are_capitals_and_never_look_like_unit_codes() {
        assert!(DepartmentCode::parse("CGJ").is_ok());
        assert!(DepartmentCode::parse("J2").is_ok());
        assert!(
            DepartmentCode::parse("211103").is_err(),
            "digits only is a unit code"
        );
        assert!(DepartmentCode::parse("cgj").is_err());
        assert!(DepartmentCode::parse("C").is_err());
    }

    #[test]
    fn duplicate_department_codes_are_refused() {
        let dup = r#"[{"code":"CGJ","name":"a"},{"code":"CGJ","name":"b"}]"#;
        assert!(matches!(
            parse_department_file(dup),
            Err(DepartmentFileError::Duplicate(_))
        ));
    }
}
