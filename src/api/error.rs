//! Errors as `application/problem+json` (RFC 9457), each with a stable machine-readable
//! `code`. Turning an error into a response has no side effects: a 500 stores its cause in
//! the response extensions and the logging middleware reports it with the request id.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::spatial::units::UnitRef;
use crate::media::MediaError;
use crate::store::StoreError;

/// Everything a handler can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not syntactically valid JSON (includes NaN, ±Infinity and numbers out of
    /// the f64 range, which JSON cannot carry).
    #[error("{0}")]
    MalformedJson(String),
    /// The JSON is well-formed but does not have the expected shape: missing or unknown
    /// fields, wrong types, unknown enum values.
    #[error("{0}")]
    InvalidBody(String),
    /// One field of a request body is missing, not taken or not valid; `field` names it as
    /// the client sent it, `code` says which check (`invalid_payload` for the shape and type
    /// of a case action's fields, `invalid_action`, `invalid_reason`, `invalid_assignee`,
    /// `invalid_reply_by`, `invalid_target`).
    #[error("{detail}")]
    InvalidBodyField {
        code: &'static str,
        field: String,
        detail: String,
    },
    /// The query string does not parse.
    #[error("{0}")]
    InvalidQuery(String),
    /// Content-Type the endpoint does not take.
    #[error("{0}")]
    UnsupportedContentType(String),
    /// Longitude/latitude not finite or out of range (a swapped pair usually lands here).
    #[error("{0}")]
    InvalidCoordinates(String),
    /// A field value is out of its allowed range; `code` names which (e.g.
    /// `invalid_description`, `invalid_accuracy`, `invalid_contact`).
    #[error("{detail}")]
    InvalidField { code: &'static str, detail: String },
    /// The category code is not in the category list.
    #[error("unknown category {0:?}; GET /v1/categories lists them")]
    UnknownCategory(String),
    /// The point lies outside the deployment's service area (beyond the snap tolerance).
    #[error(
        "this location is {distance_km:.1} km from {service_area}; this service only takes reports inside it"
    )]
    OutOfArea {
        service_area: String,
        nearest_unit: UnitRef,
        distance_m: f64,
        distance_km: f64,
    },
    /// A GeoJSON input is not what the endpoint takes.
    #[error("{0}")]
    InvalidGeoJson(String),
    /// Too many items in one request.
    #[error("{0}")]
    TooMany(String),
    /// A media part was refused: too large, too many, not a type accepted for its kind
    /// (judged by its bytes), or unreadable.
    #[error(transparent)]
    Media(#[from] MediaError),
    /// The request body is over the service's limit.
    #[error("the request body is larger than this service accepts")]
    PayloadTooLarge,
    /// No such route.
    #[error("no resource at {0}")]
    RouteNotFound(String),
    /// The `Idempotency-Key` header is malformed.
    #[error("{0}")]
    InvalidIdempotencyKey(String),
    /// The `Idempotency-Key` was already used with a different request.
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    /// `/v1/follow-up` without the `Follow-Up-Secret` header.
    #[error("send the follow-up secret intake answered in the Follow-Up-Secret header")]
    FollowUpMissing,
    /// The follow-up secret is malformed or opens no case (the same answer for both).
    #[error("no report follows this secret")]
    FollowUpNotFound,
    /// No such report (or not visible to the caller).
    #[error("no report {0}")]
    ReportNotFound(String),
    /// No such case (or not visible to the caller).
    #[error("no case {0}")]
    CaseNotFound(String),
    /// No such category.
    #[error("no category {0}")]
    CategoryNotFound(String),
    /// A tile or TileJSON address names nothing served: an unknown layer or format, or a
    /// zoom outside the layer's range; `code` says which (`unknown_layer`,
    /// `unknown_tile_format`, `zoom_out_of_range`).
    #[error("{detail}")]
    TileNotFound { code: &'static str, detail: String },
    /// Tile coordinates that are not numbers or do not exist at their zoom.
    #[error("{0}")]
    InvalidTile(String),
    /// Only staff may read this (e.g. the `reports` tile layer).
    #[error("{0}")]
    StaffOnly(String),
    /// No boundaries are loaded yet, so nothing can be resolved.
    #[error("no boundaries are loaded; run `citysnap import boundaries` or `citysnap demo`")]
    NoBoundaries,
    /// The path exists, the method does not.
    #[error("this resource does not support the request's method; see the Allow header")]
    MethodNotAllowed,
    /// The request took longer than the service allows.
    #[error("the request took too long and was abandoned")]
    Timeout,
    /// The endpoint needs a bearer token and none was sent.
    #[error("this endpoint needs an Authorization: Bearer token")]
    Unauthenticated,
    /// The bearer token is malformed, unknown or revoked.
    #[error("the bearer token is not valid")]
    InvalidToken,
    /// The caller's role (or scope) does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// The action is not a transition of the case's state machine from its current state.
    #[error("action {action} is not allowed while the case is {state}")]
    IllegalTransition { state: String, action: String },
    /// The request conflicts with what is stored; `code` names how (e.g. `phone_registered`).
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    /// The caller asked for more than the service gives in a while (e.g. registration codes
    /// to one number).
    #[error("{0}")]
    TooManyRequests(String),
    /// Too many heavy analytics requests are running and waiting: try again after
    /// `retry_after_secs` (sent as `Retry-After`, RFC 9110 §10.2.3).
    #[error("too many analytics requests are being computed; try again in {retry_after_secs} s")]
    Busy { retry_after_secs: u32 },
    /// Anything unexpected. The cause is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            MalformedJson(_) | InvalidQuery(_) | InvalidIdempotencyKey(_) | InvalidTile(_) => {
                StatusCode::BAD_REQUEST
            }
            InvalidBody(_)
            | InvalidBodyField { .. }
            | InvalidCoordinates(_)
            | InvalidField { .. }
            | UnknownCategory(_)
            | OutOfArea { .. }
            | InvalidGeoJson(_)
            | TooMany(_)
            | IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Media(e) => match e {
                MediaError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                MediaError::MediaTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                MediaError::TooManyMedia { .. } | MediaError::MalformedMedia { .. } => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
            },
            UnsupportedContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            FollowUpMissing => StatusCode::UNAUTHORIZED,
            ReportNotFound(_)
            | FollowUpNotFound
            | CaseNotFound(_)
            | CategoryNotFound(_)
            | RouteNotFound(_)
            | TileNotFound { .. } => StatusCode::NOT_FOUND,
            StaffOnly(_) => StatusCode::FORBIDDEN,
            NoBoundaries | Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Unauthenticated | InvalidToken => StatusCode::UNAUTHORIZED,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Timeout => StatusCode::REQUEST_TIMEOUT,
            Forbidden(_) => StatusCode::FORBIDDEN,
            IllegalTransition { .. } | Conflict { .. } => StatusCode::CONFLICT,
            TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code clients switch on.
    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            MalformedJson(_) => "malformed_json",
            InvalidBody(_) => "invalid_body",
            InvalidBodyField { code, .. } => code,
            InvalidQuery(_) => "invalid_query",
            UnsupportedContentType(_) => "unsupported_content_type",
            InvalidCoordinates(_) => "invalid_coordinates",
            InvalidField { code, .. } => code,
            UnknownCategory(_) => "unknown_category",
            OutOfArea { .. } => "out_of_area",
            InvalidGeoJson(_) => "invalid_geojson",
            TooMany(_) => "too_many_items",
            Media(e) => e.code(),
            PayloadTooLarge => "payload_too_large",
            InvalidIdempotencyKey(_) => "invalid_idempotency_key",
            IdempotencyKeyReused => "idempotency_key_reused",
            FollowUpMissing => "follow_up_required",
            FollowUpNotFound => "follow_up_not_found",
            ReportNotFound(_) => "report_not_found",
            RouteNotFound(_) => "not_found",
            CaseNotFound(_) => "case_not_found",
            CategoryNotFound(_) => "category_not_found",
            TileNotFound { code, .. } => code,
            InvalidTile(_) => "invalid_tile",
            StaffOnly(_) => "staff_only",
            NoBoundaries => "no_boundaries",
            Unauthenticated => "unauthenticated",
            MethodNotAllowed => "method_not_allowed",
            Timeout => "request_timeout",
            InvalidToken => "invalid_token",
            Forbidden(_) => "forbidden",
            IllegalTransition { .. } => "illegal_transition",
            Conflict { code, .. } => code,
            TooManyRequests(_) => "too_many_requests",
            Busy { .. } => "analytics_busy",
            Internal(_) => "internal",
        }
    }

    fn title(&self) -> &'static str {
        use ApiError::*;
        match self {
            MalformedJson(_) => "Malformed JSON",
            InvalidBody(_) => "Invalid request body",
            InvalidBodyField { .. } => "Invalid field",
            InvalidQuery(_) => "Invalid query string",
            UnsupportedContentType(_) => "Unsupported content type",
            InvalidCoordinates(_) => "Invalid coordinates",
            InvalidField { .. } => "Invalid field",
            UnknownCategory(_) => "Unknown category",
            OutOfArea { .. } => "Outside the service area",
            InvalidGeoJson(_) => "Invalid GeoJSON",
            TooMany(_) => "Too many items",
            Media(_) => "Media refused",
            PayloadTooLarge => "Payload too large",
            InvalidIdempotencyKey(_) => "Invalid Idempotency-Key",
            IdempotencyKeyReused => "Idempotency-Key reused",
            FollowUpMissing => "Follow-up secret required",
            FollowUpNotFound => "Follow-up not found",
            ReportNotFound(_) => "Report not found",
            RouteNotFound(_) => "Not found",
            CaseNotFound(_) => "Case not found",
            CategoryNotFound(_) => "Category not found",
            TileNotFound { .. } => "Tile not found",
            InvalidTile(_) => "Invalid tile coordinates",
            StaffOnly(_) => "Staff only",
            NoBoundaries => "No boundaries loaded",
            Unauthenticated => "Authentication required",
            MethodNotAllowed => "Method not allowed",
            Timeout => "Request timeout",
            InvalidToken => "Invalid token",
            Forbidden(_) => "Forbidden",
            IllegalTransition { .. } => "Illegal transition",
            Conflict { .. } => "Conflict",
            TooManyRequests(_) => "Too many requests",
            Busy { .. } => "Service busy",
            Internal(_) => "Internal server error",
        }
    }

    /// Extension members of the problem document (RFC 9457 §3.2), typed per code.
    fn extension(&self) -> Option<ProblemExtension> {
        match self {
            ApiError::InvalidBodyField { field, .. } => Some(ProblemExtension::Field {
                field: capped(field),
            }),
            ApiError::Busy { retry_after_secs } => Some(ProblemExtension::Busy {
                retry_after: *retry_after_secs,
            }),
            ApiError::IllegalTransition { state, action } => {
                Some(ProblemExtension::IllegalTransition {
                    state: state.clone(),
                    action: action.clone(),
                })
            }
            ApiError::OutOfArea {
                service_area,
                nearest_unit,
                distance_m,
                ..
            } => Some(ProblemExtension::OutOfArea {
                service_area: service_area.clone(),
                nearest_unit: nearest_unit.clone(),
                distance_m: (distance_m * 10.0).round() / 10.0,
            }),
            _ => None,
        }
    }

    /// The problem document of this error.
    pub fn problem(&self) -> Problem {
        Problem {
            problem_type: format!("/problems/{}", self.code()),
            title: self.title().to_owned(),
            status: self.status().as_u16(),
            detail: capped(&self.to_string()),
            code: self.code().to_owned(),
            extension: self.extension(),
        }
    }
}

/// A problem document (RFC 9457 §3), the body of every error, served as
/// `application/problem+json`. `code` is the stable machine-readable name clients switch
/// on; the README lists every code.
///
/// Its schema is [`ProblemSchema`]'s: one object whose extension members are optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// `/problems/{code}`: a URI reference naming the problem type (RFC 9457 §3.1.1).
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the problem type (§3.1.3).
    pub title: String,
    /// The HTTP status code of the response (§3.1.2).
    pub status: u16,
    /// What went wrong with this request, for people (§3.1.4).
    pub detail: String,
    /// The stable code, e.g. `invalid_coordinates`, `out_of_area`, `case_not_found`.
    pub code: String,
    /// The members some codes add (§3.2).
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<ProblemExtension>,
}

/// Extension members of the codes that carry some (RFC 9457 §3.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ProblemExtension {
    /// `out_of_area`: where the service area is and how far the point lies from it.
    OutOfArea {
        /// The name of the deployment's service area (e.g. 兴隆台区).
        service_area: String,
        /// The unit nearest to the point.
        nearest_unit: UnitRef,
        /// The point's distance from that unit in metres, one decimal.
        distance_m: f64,
    },
    /// `invalid_body` naming one member: the field the client sent (a JSON path such as
    /// `payload.reply_by`).
    Field {
        /// The field, as the client sent it (capped like `detail`).
        field: String,
    },
    /// `analytics_busy`: when to try again.
    Busy {
        /// Seconds, as the `Retry-After` header says.
        retry_after: u32,
    },
    /// `illegal_transition`: the case's state and the refused action.
    IllegalTransition {
        /// The case's state (or `a praise case` for an action its kind never takes).
        state: String,
        /// The action that state does not allow.
        action: String,
    },
}

/// The schema of [`Problem`] (the same members; a test checks each kind against it): a
/// problem document (RFC 9457 §3) with the stable `code`. Extension members (§3.2) appear
/// with the codes that carry them.
#[derive(ToSchema)]
#[schema(as = Problem)]
#[allow(dead_code)]
pub struct ProblemSchema {
    /// `/problems/{code}`: a URI reference naming the problem type (RFC 9457 §3.1.1).
    #[schema(rename = "type", example = "/problems/out_of_area")]
    problem_type: String,
    /// A short summary of the problem type (§3.1.3).
    title: String,
    /// The HTTP status code of the response (§3.1.2).
    #[schema(minimum = 400, maximum = 599)]
    status: u16,
    /// What went wrong with this request, for people (§3.1.4).
    detail: String,
    /// The stable code clients switch on, e.g. `invalid_coordinates`, `out_of_area`.
    #[schema(pattern = "^[a-z][a-z0-9_]*$", example = "out_of_area")]
    code: String,
    /// `out_of_area`: the name of the deployment's service area.
    service_area: Option<String>,
    /// `out_of_area`: the unit nearest to the point.
    nearest_unit: Option<UnitRef>,
    /// `out_of_area`: the point's distance from that unit, metres, one decimal.
    #[schema(minimum = 0.0)]
    distance_m: Option<f64>,
    /// `illegal_transition`: the case's state.
    state: Option<String>,
    /// `illegal_transition`: the refused action.
    action: Option<String>,
    /// `analytics_busy`: seconds to wait before trying again (also `Retry-After`).
    retry_after: Option<u32>,
    /// `invalid_body`: the field the client sent that is refused, e.g. `payload.reply_by`.
    field: Option<String>,
}

impl utoipa::PartialSchema for Problem {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <ProblemSchema as utoipa::PartialSchema>::schema()
    }
}

impl ToSchema for Problem {
    fn name() -> std::borrow::Cow<'static, str> {
        <ProblemSchema as ToSchema>::name()
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <ProblemSchema as ToSchema>::schemas(schemas)
    }
}

/// Longest value a `detail` quotes back to the client, in characters.
const ECHO_MAX_CHARS: usize = 64;
/// Longest word (a run without spaces) a `detail` keeps whole; longer ones are shortened to
/// [`ECHO_MAX_CHARS`]. Above the length of a shortened quoted value.
const WORD_MAX_CHARS: usize = 80;
/// Longest `detail`, in characters.
const DETAIL_MAX_CHARS: usize = 1_000;

/// The detail as sent: every value it quotes back (between `"…"` as `{:?}` writes them, or
/// between backticks as serde does) shortened to [`ECHO_MAX_CHARS`], and the whole to
/// [`DETAIL_MAX_CHARS`]. A client that sent 10,000 characters needs to know which field and
/// why, not to get them back; capping here covers every error, present and future.
fn capped(detail: &str) -> String {
    let mut out = String::with_capacity(detail.len().min(DETAIL_MAX_CHARS * 4));
    let mut chars = detail.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '"' && c != '`' {
            continue;
        }
        let mut quoted = String::new();
        let mut closed = false;
        while let Some(q) = chars.next() {
            if q == c {
                closed = true;
                break;
            }
            quoted.push(q);
            if q == '\\'
                && c == '"'
                && let Some(escaped) = chars.next()
            {
                quoted.push(escaped);
            }
        }
        let n = quoted.chars().count();
        if n > ECHO_MAX_CHARS {
            out.extend(quoted.chars().take(ECHO_MAX_CHARS));
            out.push_str(&format!("…({n} characters)"));
        } else {
            out.push_str(&quoted);
        }
        if closed {
            out.push(c);
        }
    }
    // Values echoed without quotes (serde_path_to_error's `path: …`) are long unbroken words.
    let mut out = out
        .split(' ')
        .map(|word| {
            let n = word.chars().count();
            if n > WORD_MAX_CHARS {
                let head: String = word.chars().take(ECHO_MAX_CHARS).collect();
                format!("{head}…({n} characters)")
            } else {
                word.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    if out.chars().count() > DETAIL_MAX_CHARS {
        out = out.chars().take(DETAIL_MAX_CHARS).collect();
        out.push('…');
    }
    out
}

/// The cause of a 500, kept in the response extensions for the logging middleware.
#[derive(Debug, Clone)]
pub struct InternalCause(pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, Json(self.problem())).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"citysnap\""),
            );
        }
        if let ApiError::Busy { retry_after_secs } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        if let ApiError::Internal(cause) = self {
            response.extensions_mut().insert(InternalCause(cause));
        }
        response
    }
}

impl From<crate::service::Error> for ApiError {
    fn from(e: crate::service::Error) -> Self {
        use crate::service::Error as S;
        match e {
            S::InvalidField { code, detail } => ApiError::InvalidField { code, detail },
            S::InvalidBodyField {
                code,
                field,
                detail,
            } => ApiError::InvalidBodyField {
                code,
                field,
                detail,
            },
            S::InvalidCoordinates(d) => ApiError::InvalidCoordinates(d),
            S::UnknownCategory(c) => ApiError::UnknownCategory(c),
            S::OutOfArea {
                service_area,
                nearest_unit,
                distance_m,
                distance_km,
            } => ApiError::OutOfArea {
                service_area,
                nearest_unit,
                distance_m,
                distance_km,
            },
            S::NoBoundaries => ApiError::NoBoundaries,
            S::Media(m) => ApiError::Media(m),
            S::IdempotencyKeyReused => ApiError::IdempotencyKeyReused,
            S::CaseNotFound(id) => ApiError::CaseNotFound(id),
            S::Forbidden(d) => ApiError::Forbidden(d),
            S::IllegalTransition { state, action } => ApiError::IllegalTransition { state, action },
            S::Conflict { code, detail } => ApiError::Conflict { code, detail },
            S::Store(s) => ApiError::Internal(s.to_string()),
            S::Internal(cause) => ApiError::Internal(cause),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonSyntaxError(e) => ApiError::MalformedJson(e.body_text()),
            JsonRejection::JsonDataError(e) => ApiError::InvalidBody(e.body_text()),
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::UnsupportedContentType("expected Content-Type: application/json".into())
            }
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            other => ApiError::InvalidBody(other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::InvalidQuery(r.body_text())
    }
}

/// Maps a serde_json error on a raw body to the right problem: syntax → 400, shape → 422.
pub fn json_body_error(e: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => ApiError::InvalidBody(e.to_string()),
        Category::Syntax | Category::Eof | Category::Io => ApiError::MalformedJson(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_quote_long_values_shortened() {
        let long = "x".repeat(10_000);
        let d = capped(&format!(
            "unknown category {long:?}; GET /v1/categories lists them"
        ));
        assert_eq!(
            d,
            format!(
                "unknown category \"{}…(10000 characters)\"; GET /v1/categories lists them",
                "x".repeat(ECHO_MAX_CHARS)
            )
        );
        let d = capped(&format!("unknown field `{long}`, expected `action`"));
        assert!(
            d.ends_with("…(10000 characters)`, expected `action`"),
            "{d}"
        );
        let d = capped(&format!("{long}: unknown field `{long}`"));
        assert!(d.chars().count() < 200, "{d}");
        assert!(
            d.starts_with(&format!(
                "{}…(10001 characters)",
                "x".repeat(ECHO_MAX_CHARS)
            )),
            "{d}"
        );
        let quoted = format!("{:?}", format!("a\"{}", "y".repeat(100)));
        let d = capped(&format!("got {quoted} here"));
        assert!(d.starts_with("got \"a\\\"yyy"), "{d}");
        assert!(d.ends_with("characters)\" here"), "{d}");
        assert_eq!(capped("by must be \"category\""), "by must be \"category\"");
        assert_eq!(capped("an \"unclosed quote"), "an \"unclosed quote");
        assert_eq!(
            capped(&"z ".repeat(2_000)).chars().count(),
            DETAIL_MAX_CHARS + 1
        );
    }
}
