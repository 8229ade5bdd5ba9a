//! The payloads of the case's actions: what a report, a dispatch, a resolution, a rating
//! or a supervision carries, each valid by construction (non-empty [`Text`] without control
//! characters, at least one after-photo, a score of 1 to 5). The machine in the parent
//! module only sees these values, never unchecked input.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::workflow::calendar::Deadline;
use crate::domain::workflow::categories::CategoryKind;
use crate::domain::workflow::target::{RuleRef, Target};

/// A non-empty, trimmed piece of text of at most [`Text::MAX_CHARS`] characters without
/// control characters (line breaks and tabs are text): a reason, a note, a reply, a photo
/// or case reference. NUL and terminal escapes have no place in a case log that staff read
/// in consoles and exports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TextError {
    /// Empty or only whitespace.
    #[error("text must not be empty")]
    Empty,
    /// Longer than [`Text::MAX_CHARS`].
    #[error("text has {0} characters; at most {max} are allowed", max = Text::MAX_CHARS)]
    TooLong(usize),
    /// A control character other than a line break or tab.
    #[error("text must not contain control characters (found U+{:04X})", u32::from(*.0))]
    ControlCharacter(char),
}

/// The first character of `s` that text may not hold: a control character other than a
/// line break or tab.
fn control_character(s: &str) -> Option<char> {
    s.chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

impl Text {
    pub const MAX_CHARS: usize = 4000;

    pub fn parse(s: &str) -> Result<Self, TextError> {
        let t = s.trim();
        let n = t.chars().count();
        if n == 0 {
            Err(TextError::Empty)
        } else if n > Self::MAX_CHARS {
            Err(TextError::TooLong(n))
        } else if let Some(c) = control_character(t) {
            Err(TextError::ControlCharacter(c))
        } else {
            Ok(Self(t.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Text {
    type Error = TextError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.0
    }
}

/// The "after" photos of a resolution: at least one reference (issue 3: "handler's note and
/// 'after' photos required").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Text>", into = "Vec<Text>")]
pub struct AfterPhotos(Vec<Text>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a resolution needs at least one \"after\" photo")]
pub struct NoAfterPhoto;

impl AfterPhotos {
    pub fn new(photos: Vec<Text>) -> Result<Self, NoAfterPhoto> {
        if photos.is_empty() {
            Err(NoAfterPhoto)
        } else {
            Ok(Self(photos))
        }
    }

    pub fn as_slice(&self) -> &[Text] {
        &self.0
    }
}

impl TryFrom<Vec<Text>> for AfterPhotos {
    type Error = NoAfterPhoto;
    fn try_from(v: Vec<Text>) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}

impl From<AfterPhotos> for Vec<Text> {
    fn from(p: AfterPhotos) -> Vec<Text> {
        p.0
    }
}

/// A resident's score, 1 (worst) to 5 (best).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Score(u8);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("score {0} is outside 1 to 5")]
pub struct BadScore(pub u8);

impl Score {
    /// Scores at or below this reopen the case for review.
    pub const LOW: u8 = 2;

    pub fn new(v: u8) -> Result<Self, BadScore> {
        if (1..=5).contains(&v) {
            Ok(Self(v))
        } else {
            Err(BadScore(v))
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }

    pub fn is_low(self) -> bool {
        self.0 <= Self::LOW
    }
}

impl TryFrom<u8> for Score {
    type Error = BadScore;
    fn try_from(v: u8) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}

impl From<Score> for u8 {
    fn from(s: Score) -> u8 {
        s.0
    }
}

/// Payload of `submit`: what the machine needs to know about the report's category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    pub kind: CategoryKind,
    /// The category needs a grid worker's on-site verification before dispatch.
    #[serde(default)]
    pub verify_first: bool,
}

/// Payload of `dispatch`: where the case goes, to whom, by which rule, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dispatch {
    pub target: Target,
    /// The person within the target (see `dispatch::assign`), if one was chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// The plan-library rule that chose the target; `None` for the category default or a
    /// dispatcher's manual choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleRef>,
    /// The handling deadline for the target; a new deadline restarts the warnings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Deadline>,
}

/// Payload of `progress` and `reinspect`: an optional note and photos.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Text>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<Text>,
}

/// Payload of `resolve`: the handler's note and the "after" photos, both required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    pub note: Text,
    pub after_photos: AfterPhotos,
}

/// A resident's comment on a rating: like [`Text`], but it may be empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Comment(String);

impl Comment {
    pub fn parse(s: &str) -> Result<Self, TextError> {
        match s.trim() {
            "" => Ok(Self::default()),
            t => Text::parse(t).map(|t| Self(t.0)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Comment {
    type Error = TextError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Comment> for String {
    fn from(c: Comment) -> String {
        c.0
    }
}

/// Payload of `rate`: the resident's score and comment; `fixed: false` says "not fixed".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rating {
    pub score: Score,
    /// The resident's comment; may be empty.
    #[serde(default)]
    pub comment: Comment,
    #[serde(default = "yes")]
    pub fixed: bool,
}

fn yes() -> bool {
    true
}

impl Rating {
    /// A low score or "not fixed" reopens the case for review (issue 3).
    pub fn reopens(&self) -> bool {
        self.score.is_low() || !self.fixed
    }
}

/// Payload of `merge`: the master case this one duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Merge {
    pub into: Text,
}

/// Payload of `supervise` (督办): a leader's opinion, which the unit must answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Supervision {
    pub opinion: Text,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "rfc3339"
    )]
    pub reply_by: Option<DateTime<Utc>>,
}

/// An optional RFC 3339 time, refused with a message that says what one looks like (chrono's
/// own, "input contains invalid characters", does not).
fn rfc3339<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let Some(s) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    DateTime::parse_from_rfc3339(&s)
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|_| {
            serde::de::Error::custom(format!(
                "must be an RFC 3339 time with its offset, such as 2026-12-02T18:00:00+08:00, got {s:?}"
            ))
        })
}

/// Payload of `reply` (to a supervision) and `answer` (to a consultation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    pub text: Text,
}
