//! `POST /v1/reports` (intake) and `GET /v1/reports/{case_id}`.
//!
//! Intake: parse and check the report, convert its datum, resolve it to its units (or refuse
//! it as out of area), and store it under a new case id. A retried submission with the same
//! `Idempotency-Key` returns the original case.

use axum::body::Bytes;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{Caller, signed_in};
use super::error::Problem;
use super::error::json_body_error;
use super::resolve::{NearBoundary, UnitChain, round1, round6};
use super::{ApiError, AppState};
use crate::domain::spatial::datum::Datum;
use crate::domain::workflow::case::{ActionKind, may};
use crate::domain::workflow::categories::{Category, CategoryKind};
use crate::media::{Ingested, MediaKind, MediaLimits};
use crate::service::intake::{self, CheckedReport, Submission, request_hash};
use crate::store::{Contact, IdempotencyKey, Principal, StoredReport};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/reports", post(submit))
        .route("/v1/reports/{case_id}", signed_in(get(show)))
        .route("/v1/media", signed_in(post(upload_photo)))
}

/// `POST /v1/media`: one photo as the raw body (its type judged by its bytes, location
/// metadata stripped), for the "after" photos of a resolution and re-inspection notes.
/// Answers its storage key, which the action names in `after_photos` / `photos`.
#[utoipa::path(post, path = "/v1/media", tag = "cases", security(("bearer" = [])),
    request_body(content = super::wire::PhotoBytes, description = "The photo's bytes (JPEG, PNG, WebP, HEIC)",
        content_type = "application/octet-stream"),
    responses(
        (status = 201, description = "Stored, location metadata stripped", body = UploadedMedium),
        (status = 403, description = "`forbidden`: residents send photos with their report", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`media_too_large`, `payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: not a photo, judged by its bytes", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`malformed_media`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn upload_photo(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<UploadedMedium>), ApiError> {
    let p = caller.principal()?;
    if !crate::domain::workflow::access::is_staff(p.role) {
        return Err(ApiError::Forbidden(
            "photos of a report are sent with it; only staff upload photos of their work".into(),
        ));
    }
    let ingested = crate::media::ingest(MediaKind::Photo, 1, body, &state.settings.media_limits)?;
    let row = intake::store_media(&state, vec![(MediaKind::Photo, ingested)])
        .await?
        .remove(0);
    Ok((
        StatusCode::CREATED,
        Json(UploadedMedium {
            key: row.storage_key,
            media_type: row.media_type,
            bytes: row.bytes,
        }),
    ))
}

/// The JSON of a report submission. Serialised again only as the canonical form of the
/// request for its idempotency key ([`canonical_request`]).
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// What is wrong, 1 to 2,000 characters.
    #[schema(example = "井盖缺失")]
    pub description: String,
    /// A category code of `GET /v1/categories`.
    #[schema(example = "0302")]
    pub category: String,
    pub location: LocationRequest,
    #[serde(default)]
    pub contact: Option<Contact>,
}

/// Where the problem is.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationRequest {
    #[schema(minimum = -180.0, maximum = 180.0, example = 122.07)]
    pub lon: f64,
    #[schema(minimum = -90.0, maximum = 90.0, example = 41.12)]
    pub lat: f64,
    /// The datum of `lon`/`lat` (default `wgs84`).
    #[serde(default)]
    pub datum: Datum,
    /// GPS accuracy radius, metres, 0 to 10,000.
    #[serde(default)]
    #[schema(minimum = 0.0, maximum = 10000.0)]
    pub accuracy_m: Option<f64>,
    /// At most 500 characters.
    #[serde(default)]
    pub address: Option<String>,
}

/// The `Idempotency-Key` header, if sent: 1 to 255 visible ASCII characters.
pub(crate) fn idempotency_header(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = v
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::InvalidIdempotencyKey(
                "Idempotency-Key must be 1 to 255 visible ASCII characters".into(),
            )
        })?;
    Ok(Some(key.to_owned()))
}

/// `Idempotency-Key` in the caller's own namespace ([`idempotency_scope`]), with the
/// digest of the canonical request.
fn idempotency_key(
    headers: &HeaderMap,
    caller: &Caller,
    peer: Option<IpAddr>,
    request_hash: String,
) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(key) = idempotency_header(headers)? else {
        return Ok(None);
    };
    Ok(Some(IdempotencyKey {
        scope: idempotency_scope(caller.0.as_ref(), peer)?,
        key,
        request_hash,
    }))
}

/// Whose idempotency keys a caller's are (issue 8, item 2): a principal's own, or for an
/// anonymous caller those sent from the same address. The address, not one namespace for
/// all anonymous callers, because a replay answers with the original case (and its
/// follow-up secret): a stranger who guessed a key and the report must not get them.
fn idempotency_scope(caller: Option<&Principal>, peer: Option<IpAddr>) -> Result<String, ApiError> {
    match (caller, peer) {
        (Some(p), _) => Ok(format!("principal:{}", p.id)),
        (None, Some(ip)) => Ok(format!("address:{}", ip.to_canonical())),
        (None, None) => Err(ApiError::Internal(
            "the client's address is unknown (serve with connect info)".into(),
        )),
    }
}

/// The client's address, when the server was started with connect info.
fn peer_address(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

fn media_type_of(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Intake takes `application/json`, or `multipart/form-data` with the JSON in a part named
/// `report` and media in parts named `photo` (up to 9), `voice` and `video`.
/// `POST /v1/reports`: intake. Anonymous callers, residents, grid workers and the command
/// centre report.
#[utoipa::path(post, path = "/v1/reports", tag = "reports", security((), ("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header,
        description = "1 to 255 visible ASCII characters: a retry with the same key and request answers the first case")),
    request_body(content(
        (ReportRequest = "application/json"),
        (MultipartReport = "multipart/form-data"),
    )),
    responses(
        (status = 201, description = "Stored (or replayed: `Idempotent-Replayed: true`); `Location` names the report",
            body = IntakeBody),
        (status = 400, description = "`malformed_json`, `invalid_idempotency_key`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: a role that does not report", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`, `media_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_content_type`, `unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_body`, `invalid_coordinates`, `invalid_description`, `invalid_accuracy`, `invalid_address`, `invalid_contact`, `unknown_category`, `out_of_area` (with `service_area`, `nearest_unit`, `distance_m`), `idempotency_key_reused`, `too_many_media`, `malformed_media`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`no_boundaries`", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    req: Request,
) -> Result<Response, ApiError> {
    // Residents (and anonymous callers), grid workers on patrol and the command centre
    // taking a phone call report; other roles do not.
    if let Some(p) = &caller.0
        && !may(p.role, ActionKind::Submit)
    {
        return Err(ApiError::Forbidden(format!(
            "a {} may not submit reports",
            p.role
        )));
    }
    let headers = req.headers().clone();
    let peer = peer_address(&req);
    let content_type = media_type_of(&headers);
    if content_type == "application/json" {
        let body = Bytes::from_request(req, &state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::InvalidBody(e.body_text())
            }
        })?;
        let request: ReportRequest = serde_json::from_slice(&body).map_err(json_body_error)?;
        let key = idempotency_key(&headers, &caller, peer, request_hash(&request, &[])?)?;
        return intake(&state, caller.0.as_ref(), request, Vec::new(), key).await;
    }
    if content_type == "multipart/form-data" {
        let multipart = Multipart::from_request(req, &state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::InvalidBody(e.body_text())
            }
        })?;
        let (request, media) = read_multipart(multipart, &state.settings.media_limits).await?;
        let key = idempotency_key(&headers, &caller, peer, request_hash(&request, &media)?)?;
        return intake(&state, caller.0.as_ref(), request, media, key).await;
    }
    Err(ApiError::UnsupportedContentType(
        "send the report as application/json, or as multipart/form-data with a `report` part"
            .into(),
    ))
}

/// The parts of a multipart report: the JSON and the checked media in order.
async fn read_multipart(
    mut multipart: Multipart,
    limits: &MediaLimits,
) -> Result<(ReportRequest, Vec<(MediaKind, Ingested)>), ApiError> {
    let mut request = None;
    let mut media = Vec::new();
    let mut counts = std::collections::HashMap::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(&e))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(|e| multipart_error(&e))?;
        if name == "report" {
            if request.is_some() {
                return Err(ApiError::InvalidBody("more than one `report` part".into()));
            }
            request =
                Some(serde_json::from_slice::<ReportRequest>(&bytes).map_err(json_body_error)?);
            continue;
        }
        let Some(kind) = MediaKind::parse(&name) else {
            return Err(ApiError::InvalidBody(format!(
                "unknown part {name:?}; parts are report, photo, voice and video"
            )));
        };
        let ordinal = counts.entry(kind).and_modify(|n| *n += 1).or_insert(1usize);
        media.push((kind, crate::media::ingest(kind, *ordinal, bytes, limits)?));
    }
    let request = request.ok_or_else(|| {
        ApiError::InvalidBody("a multipart report needs a `report` part with the JSON".into())
    })?;
    Ok((request, media))
}

fn multipart_error(e: &axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::InvalidBody(e.body_text())
    }
}

/// Takes the report in through the intake service and answers it as `POST /v1/reports`
/// always has.
async fn intake(
    state: &AppState,
    reporter: Option<&Principal>,
    request: ReportRequest,
    media: Vec<(MediaKind, Ingested)>,
    key: Option<IdempotencyKey>,
) -> Result<Response, ApiError> {
    let report = CheckedReport::parse(request)?;
    let accepted = intake::submit(
        state,
        Submission {
            reporter,
            report,
            media,
            key,
        },
    )
    .await?;
    let body = IntakeBody {
        report: ReportBody::of(&accepted.report, Some(&accepted.category))?,
        state: accepted.state,
        follow_up_secret: accepted.follow_up_secret,
    };
    let case_id = accepted.case_id;
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = format!("/v1/reports/{case_id}").parse() {
        headers.insert(header::LOCATION, v);
    }
    if accepted.replayed {
        headers.insert(
            "idempotent-replayed",
            header::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

/// A report's category as the public sees it (`name` and `kind` unless the category was
/// removed from the store).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportCategory {
    #[schema(example = "0302")]
    code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<CategoryKind>,
}

/// Where a report was made, in WGS-84 (six decimals).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportLocation {
    lon: f64,
    lat: f64,
    accuracy_m: Option<f64>,
    address: Option<String>,
}

/// A medium of a report (its bytes are not served here).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportMedium {
    seq: i32,
    /// `photo`, `voice` or `video`.
    kind: String,
    media_type: String,
    bytes: i64,
}

/// A report as anyone who may see it sees it: never the reporter's contact, never the
/// location found in a photo's metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportBody {
    #[schema(example = "XL-20261201-000001")]
    case_id: String,
    /// `submitted`, kept for clients of the first intake API; a case's `state` is what
    /// moves.
    status: String,
    #[serde(with = "super::wire::millis")]
    created_at: DateTime<Utc>,
    description: String,
    category: ReportCategory,
    location: ReportLocation,
    /// The report's units, `district` to `grid`, each `{kind: "unit", code, name, level}`.
    units: UnitChain,
    snapped: bool,
    snapped_m: Option<f64>,
    near_boundary: Option<NearBoundary>,
    media: Vec<ReportMedium>,
}

impl ReportBody {
    /// A stored report as anyone may see it: no contact details, no EXIF locations.
    fn of(r: &StoredReport, category: Option<&Category>) -> Result<Self, ApiError> {
        let corrupt = |what: &str, e: serde_json::Error| {
            ApiError::Internal(format!("stored {what} of {}: {e}", r.case_id))
        };
        Ok(ReportBody {
            case_id: r.case_id.clone(),
            status: r.status.clone(),
            created_at: r.created_at,
            description: r.description.clone(),
            category: ReportCategory {
                code: r.category.clone(),
                name: category.map(|c| c.name.clone()),
                kind: category.map(|c| c.kind),
            },
            location: ReportLocation {
                lon: round6(r.lon),
                lat: round6(r.lat),
                accuracy_m: r.accuracy_m,
                address: r.address.clone(),
            },
            units: UnitChain::deserialize(&r.units.0).map_err(|e| corrupt("units", e))?,
            snapped: r.snapped_m.is_some(),
            snapped_m: r.snapped_m.map(round1),
            near_boundary: r
                .near_boundary
                .as_ref()
                .map(|n| NearBoundary::deserialize(&n.0))
                .transpose()
                .map_err(|e| corrupt("near_boundary", e))?,
            media: r
                .media
                .iter()
                .map(|m| ReportMedium {
                    seq: m.seq,
                    kind: m.kind.clone(),
                    media_type: m.media_type.clone(),
                    bytes: m.bytes,
                })
                .collect(),
        })
    }
}

/// Intake's answer: the report as stored, the case's state after auto-dispatch and the
/// reporter's follow-up secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntakeBody {
    #[serde(flatten)]
    report: ReportBody,
    /// The case's state after intake's auto-dispatch (`submitted`, `dispatched`,
    /// `pending_verification`).
    state: String,
    /// Shown once: send it as `Follow-Up-Secret` to `GET /v1/follow-up` to follow and rate
    /// the case without an account.
    follow_up_secret: String,
}

/// A report as `multipart/form-data`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // the schema of a body read part by part (`read_multipart`)
pub struct MultipartReport {
    /// The report's JSON (as `application/json` takes it).
    report: String,
    /// Up to 9 photos (JPEG, PNG, WebP, HEIC), judged by their bytes.
    #[schema(value_type = Vec<String>, format = Binary)]
    photo: Vec<Vec<u8>>,
    /// One voice recording.
    #[schema(value_type = Option<String>, format = Binary)]
    voice: Option<Vec<u8>>,
    /// One video.
    #[schema(value_type = Option<String>, format = Binary)]
    video: Option<Vec<u8>>,
}

/// An uploaded photo: its `key`, which `after_photos` and `photos` of actions name.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadedMedium {
    #[schema(example = "media/3f…e1.jpg")]
    key: String,
    media_type: String,
    bytes: i64,
}

/// `GET /v1/reports/{case_id}`: a report as the public sees it, for callers who may see
/// its case.
#[utoipa::path(get, path = "/v1/reports/{case_id}", tag = "reports", security(("bearer" = [])),
    params(("case_id" = String, Path, example = "XL-20261201-000001")),
    responses(
        (status = 200, description = "The report", body = ReportBody),
        (status = 404, description = "`report_not_found` (or not visible to the caller)", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip(state))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(case_id): Path<String>,
) -> Result<Json<ReportBody>, ApiError> {
    // The same visibility as the case: nobody learns that a report they may not see exists.
    let p = caller.principal()?;
    if !crate::service::workflow::visible_to(&state, p, &case_id).await? {
        return Err(ApiError::ReportNotFound(case_id));
    }
    let report = state
        .store
        .get_report(&case_id)
        .await?
        .ok_or_else(|| ApiError::ReportNotFound(case_id.clone()))?;
    let category = state
        .categories
        .find(state.store.as_ref(), &report.category)
        .await?;
    Ok(Json(ReportBody::of(&report, category.as_ref())?))
}
