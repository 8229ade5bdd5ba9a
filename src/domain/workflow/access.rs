//! Who may see what (issue 3, "Roles and access"): bearer tokens, residents' phone numbers
//! and the scope of each role. Pure: the API asks the store and applies these rules.

use sha2::{Digest, Sha256};

use crate::domain::workflow::case::Role;

/// Prefix of every token, so that a leaked one is recognisable (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "cs_";

/// A new secret: `prefix` and 64 hex digits from two random UUIDs (244 random bits).
fn new_secret(prefix: &str) -> String {
    format!(
        "{prefix}{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Whether `s` has the shape of a [`new_secret`] with `prefix`.
fn is_secret_shaped(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .is_some_and(|rest| rest.len() == 64 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A new bearer token: the prefix and 64 hex digits (244 random bits).
pub fn new_token() -> String {
    new_secret(TOKEN_PREFIX)
}

/// Whether `s` has the shape of a token (checked before any store lookup).
pub fn is_token_shaped(s: &str) -> bool {
    is_secret_shaped(s, TOKEN_PREFIX)
}

/// What the store keeps of a token: its SHA-256, hex. Tokens carry 244 random bits, so a
/// plain digest (no salt, no slow hash) is enough to make a stolen table useless.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Prefix of a follow-up secret: recognisable, and never mistaken for a bearer token.
pub const FOLLOW_UP_PREFIX: &str = "fu_";

/// A new follow-up secret (issue 8, item 11): what lets whoever sent a report follow and
/// rate its case without an account. Made and stored like a token (244 random bits, kept as
/// [`token_digest`] only), but it opens one case's reporter view and nothing else.
pub fn new_follow_up_secret() -> String {
    new_secret(FOLLOW_UP_PREFIX)
}

/// Whether `s` has the shape of a follow-up secret (checked before any store lookup).
pub fn is_follow_up_shaped(s: &str) -> bool {
    is_secret_shaped(s, FOLLOW_UP_PREFIX)
}

/// A new registration id (`r-…`), the handle of a code on its way to a phone.
pub fn new_registration_id() -> String {
    format!("r-{}", uuid::Uuid::new_v4().simple())
}

/// A one-time code of six digits, from a random UUID's 122 random bits.
pub fn new_code() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 1_000_000;
    format!("{n:06}")
}

/// What the store keeps of a code: SHA-256 of the registration id and the code, so that the
/// same code of another registration has another digest.
pub fn code_digest(registration: &str, code: &str) -> String {
    hex::encode(Sha256::digest(format!("{registration}:{code}").as_bytes()))
}

/// A principal's id as a client names it (an `assignee`): 1 to 64 ASCII letters, digits,
/// `-` and `_`, checked before any store lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a principal id is 1 to 64 letters, digits, - and _ (such as u-3f2a…), got {0:?}")]
pub struct BadPrincipalId(pub String);

impl PrincipalId {
    pub fn parse(s: &str) -> Result<Self, BadPrincipalId> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(BadPrincipalId(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PrincipalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new principal id, recorded as the actor of their events.
pub fn new_principal_id() -> String {
    format!("u-{}", uuid::Uuid::new_v4().simple())
}

/// Prefix of an Open311 API key: recognisable, and never mistaken for a bearer token.
pub const API_KEY_PREFIX: &str = "o311_";

/// A new Open311 API key (GeoReport v2 `api_key`): made and stored like a token (244
/// random bits, kept as [`token_digest`] only); it lets an integration post service
/// requests and nothing else.
pub fn new_api_key() -> String {
    new_secret(API_KEY_PREFIX)
}

/// Whether `s` has the shape of an API key (checked before any store lookup).
pub fn is_api_key_shaped(s: &str) -> bool {
    is_secret_shaped(s, API_KEY_PREFIX)
}

/// The id of a new API key (`k-…`), what revocation names.
pub fn new_api_key_id() -> String {
    format!("k-{}", uuid::Uuid::new_v4().simple())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a mainland China mobile number (11 digits starting with 1, optionally +86)")]
pub struct BadPhone(pub String);

/// A mainland mobile number in its 11-digit form: spaces and dashes dropped, an optional
/// `+86` / `86` prefix removed, then `1[3-9]` followed by nine digits.
pub fn normalise_phone(s: &str) -> Result<String, BadPhone> {
    let digits: String = s
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect::<String>();
    let digits = digits
        .strip_prefix("+86")
        .or_else(|| digits.strip_prefix("0086"))
        .or_else(|| {
            (digits.len() == 13)
                .then(|| digits.strip_prefix("86"))
                .flatten()
        })
        .unwrap_or(&digits);
    let ok = digits.len() == 11
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.as_bytes()[0] == b'1'
        && (b'3'..=b'9').contains(&digits.as_bytes()[1]);
    if ok {
        Ok(digits.to_owned())
    } else {
        Err(BadPhone(s.to_owned()))
    }
}

/// What a role needs a `unit` for when its token is issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitNeed {
    /// Handlers work for a unit (street, community, grid) or a department.
    UnitOrDepartment,
    /// Grid workers patrol a grid, or every grid of a community: never a street or a
    /// district, whose every case (and reporter's phone) a grid worker has no business with.
    GridOrCommunity,
    /// The role sees the whole deployment (or only aggregates, or only its own reports).
    None,
}

pub fn unit_need(role: Role) -> UnitNeed {
    match role {
        Role::Handler => UnitNeed::UnitOrDepartment,
        Role::GridWorker => UnitNeed::GridOrCommunity,
        _ => UnitNeed::None,
    }
}

/// Staff see what residents may not (exact points in tiles, reporters' contacts where their
/// work needs them).
pub fn is_staff(role: Role) -> bool {
    !matches!(role, Role::Resident | Role::System)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_recognisable() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert!(is_token_shaped(&a), "{a}");
        assert!(!is_token_shaped("cs_abc"));
        assert!(!is_token_shaped(&a.replacen("cs_", "xx_", 1)));
        assert_eq!(token_digest(&a).len(), 64);
        assert_ne!(token_digest(&a), token_digest(&b));
    }

    #[test]
    fn follow_up_secrets_are_random_and_not_tokens() {
        let key = new_api_key();
        assert!(is_api_key_shaped(&key) && !is_token_shaped(&key), "{key}");
        assert!(!is_api_key_shaped(&new_token()));
        let a = new_follow_up_secret();
        assert!(is_follow_up_shaped(&a), "{a}");
        assert!(!is_token_shaped(&a));
        assert!(!is_follow_up_shaped(&new_token()));
        assert_ne!(a, new_follow_up_secret());
    }

    #[test]
    fn codes_are_six_digits_and_digests_depend_on_the_registration() {
        let code = new_code();
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
        let (a, b) = (new_registration_id(), new_registration_id());
        assert_ne!(code_digest(&a, "123456"), code_digest(&b, "123456"));
        assert_eq!(code_digest(&a, "123456"), code_digest(&a, "123456"));
    }

    #[test]
    fn phones_normalise_to_eleven_digits() {
        for ok in [
            "13812345678",
            "+86 138 1234 5678",
            "0086-138-1234-5678",
            "8613812345678",
        ] {
            assert_eq!(normalise_phone(ok).as_deref(), Ok("13812345678"), "{ok}");
        }
        for bad in [
            "",
            "12812345678",
            "1381234567",
            "138123456789",
            "abc",
            "+1 2025550123",
        ] {
            assert!(normalise_phone(bad).is_err(), "{bad}");
        }
    }
}
