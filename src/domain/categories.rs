//! Report categories: a tree of components (部件) and events (事件) coded like the
//! 数字城管 standards, plus the non-work kinds praise (正能量) and consultation (咨询).

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a report of this category is: work to dispatch, praise to acknowledge, or a
/// question to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

/// One category as shipped in `data/categories.json` and kept in the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub code: CategoryCode,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_en: Option<String>,
    pub kind: CategoryKind,
    /// The enclosing major category, `None` for a major category itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<CategoryCode>,
}

/// The category list that ships with the service, loaded into every new store.
pub const SHIPPED_CATEGORIES: &str = include_str!("../../data/categories.json");

#[derive(Debug, thiserror::Error)]
pub enum CategoryFileError {
    #[error("category file is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("category {0} appears twice")]
    Duplicate(String),
    #[error("category {child} names parent {parent}, which is not in the file")]
    MissingParent { child: String, parent: String },
}

/// Parses and checks a category file: unique codes, parents present.
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
    }
    Ok(categories)
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
