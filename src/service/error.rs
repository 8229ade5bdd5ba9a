//! What a service refuses or fails with, independent of any protocol. Each adapter maps these
//! to its own error shape: `/v1` and `/ogc` to problem documents (`From<Error> for ApiError`),
//! Open311 to its error list, the CLI to a message.

use crate::domain::spatial::units::UnitRef;
use crate::media::MediaError;
use crate::store::StoreError;

/// A service's refusal or failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field of the input is out of its allowed range; `code` names the check (e.g.
    /// `invalid_description`, `invalid_accuracy`, `invalid_contact`).
    #[error("{detail}")]
    InvalidField { code: &'static str, detail: String },
    /// One field of a request body is missing, not taken or not valid for what was asked;
    /// `field` names it as the client sent it.
    #[error("{detail}")]
    InvalidBodyField {
        code: &'static str,
        field: String,
        detail: String,
    },
    /// Longitude/latitude not finite or out of range.
    #[error("{0}")]
    InvalidCoordinates(String),
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
    /// No boundaries are loaded yet, so nothing can be resolved.
    #[error("no boundaries are loaded; run `citysnap import boundaries` or `citysnap demo`")]
    NoBoundaries,
    /// A media part was refused.
    #[error(transparent)]
    Media(#[from] MediaError),
    /// The idempotency key was already used with a different request.
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    /// No such case, or not one the caller may see (the same answer for both).
    #[error("no case {0}")]
    CaseNotFound(String),
    /// The caller's role or scope does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// The action is not a transition of the case's state machine from its current state.
    #[error("action {action} is not allowed while the case is {state}")]
    IllegalTransition { state: String, action: String },
    /// The request conflicts with what is stored; `code` names how.
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    /// The store failed, or held something it should not (logged, never sent).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else unexpected (logged, never sent).
    #[error("internal error: {0}")]
    Internal(String),
}

/// The result of a service call.
pub type Result<T, E = Error> = std::result::Result<T, E>;
