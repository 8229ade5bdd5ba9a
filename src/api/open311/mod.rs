//! Open311 GeoReport v2 under `/open311/v2` (issue 12; <http://wiki.open311.org/GeoReport_v2>):
//! the categories as services, the cases as service requests, and intake for Open311
//! clients (FixMyStreet, 311 apps), in JSON and XML.
//!
//! An adapter over the same services as `/v1` and `/ogc`: requests are created by the
//! intake service ([`crate::service::intake`]), listed from the case index, and shown as the
//! caller may see them by the rule of the OGC `reports` collection: staff with a case scope
//! get exact points, descriptions and addresses within their scope; everybody else (the
//! public, residents, API keys) gets the point coarsened to the centre of its resolution-10
//! H3 cell ([`super::ogc::coarsened`]), no description and no address, and a `lat`/`long`/
//! `radius` search applies to the coarsened point. Contacts are never shown. Unlike the OGC
//! collection, everybody sees case ids: GeoReport v2 is built on them (`requests/{id}`, the
//! `service_request_id` a client posted and follows), and an id says only the day and the
//! number of a report.
//!
//! Errors have the spec's shape (GeoReport v2 "Errors"): `[{"code": 400, "description":
//! "…"}]` or `<errors><error><code>400</code><description>…</description></error></errors>`
//! with the same HTTP status; checks that `/v1` answers with 422 are 400 here, as the spec
//! has it ("400 - service_code or service_request_id missing or invalid").

pub(crate) mod create;
pub mod keys;
pub(crate) mod requests;
mod wire;
mod xml;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use super::error::InternalCause;
use super::ogc::origin;
use super::{ApiError, AppState};
use crate::domain::workflow::access::{is_follow_up_shaped, token_digest};
use crate::domain::workflow::categories::Category;
pub use wire::*;

const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";
const XML: &str = "application/xml";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/open311/v2/discovery.json", get(discovery_json))
        .route("/open311/v2/discovery.xml", get(discovery_xml))
        .route("/open311/v2/services.json", get(services_json))
        .route("/open311/v2/services.xml", get(services_xml))
        .route(
            "/open311/v2/services/{service_code}",
            get(service_definition),
        )
        .route(
            "/open311/v2/requests.json",
            get(requests::requests_json).post(create::create_json),
        )
        .route(
            "/open311/v2/requests.xml",
            get(requests::requests_xml).post(create::create_xml),
        )
        .route(
            "/open311/v2/requests/{service_request_id}",
            get(requests::service_request),
        )
        .route("/open311/v2/tokens/{token}", get(token))
        .merge(keys::router())
}

/// The format a path asks for: its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// `0302.json` → `("0302", Json)`; `None` without a known extension.
    fn split(file: &str) -> Option<(&str, Format)> {
        if let Some(stem) = file.strip_suffix(".json") {
            Some((stem, Format::Json))
        } else {
            file.strip_suffix(".xml").map(|stem| (stem, Format::Xml))
        }
    }

    /// A document in this format; `root` names the XML root element.
    fn answer<T: Serialize>(self, status: StatusCode, root: &str, body: &T) -> Response {
        match self {
            Format::Json => (status, Json(body)).into_response(),
            Format::Xml => match xml::document(root, body) {
                Ok(doc) => (
                    status,
                    [(header::CONTENT_TYPE, HeaderValue::from_static(XML))],
                    doc,
                )
                    .into_response(),
                Err(e) => Open311Error::new(self, ApiError::Internal(format!("{root}: {e}")))
                    .into_response(),
            },
        }
    }
}

/// An error as Open311 clients read it, in the format the request asked for.
#[derive(Debug)]
pub struct Open311Error {
    format: Format,
    error: ApiError,
}

impl Open311Error {
    pub fn new(format: Format, error: ApiError) -> Self {
        Self { format, error }
    }

    /// The HTTP status: the API's own, but 400 where `/v1` says 422 (the spec knows 400,
    /// 403 and 404 for the client's mistakes).
    fn status(&self) -> StatusCode {
        match self.error.status() {
            StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
            s => s,
        }
    }
}

impl IntoResponse for Open311Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let internal = matches!(self.error, ApiError::Internal(_));
        let description = if internal {
            "internal error".to_owned()
        } else {
            self.error.to_string()
        };
        let body = [Open311ErrorBody {
            code: status.as_u16(),
            description,
        }];
        let mut response = self.format.answer(status, "errors", &body);
        if let ApiError::Internal(cause) = self.error {
            // Logged with the request id by the logging middleware, never sent.
            response.extensions_mut().insert(InternalCause(cause));
        }
        response
    }
}

type Answer = Result<Response, Open311Error>;

fn bad_request(format: Format, detail: impl Into<String>) -> Open311Error {
    Open311Error::new(format, ApiError::InvalidQuery(detail.into()))
}

fn not_found(format: Format, what: impl Into<String>) -> Open311Error {
    Open311Error::new(format, ApiError::RouteNotFound(what.into()))
}

/// ISO 8601 with the deployment's offset, as the spec's examples (`2010-04-14T06:37:38-08:00`).
fn datetime(t: DateTime<Utc>, tz: &FixedOffset) -> String {
    t.with_timezone(tz)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

// --- Service discovery ---------------------------------------------------------------------

/// `GET /open311/v2/discovery.json`.
#[utoipa::path(get, path = "/open311/v2/discovery.json", tag = "open311",
    responses(
        (status = 200, description = "The endpoint, its formats and how to get an API key", body = Discovery),
        (status = 500, description = "Internal error", body = [Open311ErrorBody]),
    ))]
pub(crate) async fn discovery_json(State(state): State<AppState>, headers: HeaderMap) -> Response {
    discovery(&state, &headers, Format::Json)
}

/// `GET /open311/v2/discovery.xml`.
#[utoipa::path(get, path = "/open311/v2/discovery.xml", tag = "open311",
    responses(
        (status = 200, description = "`<discovery>`", body = String, content_type = "application/xml"),
        (status = 500, description = "`<errors>`", body = String, content_type = "application/xml"),
    ))]
pub(crate) async fn discovery_xml(State(state): State<AppState>, headers: HeaderMap) -> Response {
    discovery(&state, &headers, Format::Xml)
}

fn discovery(state: &AppState, headers: &HeaderMap, format: Format) -> Response {
    let area = state
        .jurisdiction()
        .map(|j| j.service_area().to_owned())
        .unwrap_or_default();
    let body = Discovery {
        changeset: CHANGESET,
        contact: format!("The city management command centre of {area}"),
        key_service: "API keys are issued by the deployment's admins \
                      (`citysnap open311-key create --name …`, or POST /v1/open311-keys)"
            .into(),
        endpoints: vec![Endpoint {
            specification: SPECIFICATION,
            url: format!("{}/open311/v2", origin(headers)),
            changeset: CHANGESET,
            kind: "production",
            formats: vec!["application/json", "text/xml"],
        }],
    };
    format.answer(StatusCode::OK, "discovery", &body)
}

// --- Services -----------------------------------------------------------------------------

/// The categories a request can be filed in: those not retired that have no category
/// below them that is not retired (majors with minors are their groups).
fn services_of(categories: &[Category]) -> Vec<Service> {
    let live: Vec<&Category> = categories.iter().filter(|c| !c.retired).collect();
    live.iter()
        .filter(|c| !live.iter().any(|d| d.parent.as_ref() == Some(&c.code)))
        .map(|c| {
            let major = c
                .parent
                .as_ref()
                .and_then(|p| categories.iter().find(|m| &m.code == p))
                .unwrap_or(c);
            Service {
                service_code: c.code.to_string(),
                service_name: c.name.clone(),
                description: c.name_en.clone().unwrap_or_else(|| c.name.clone()),
                metadata: false,
                kind: "realtime",
                keywords: [Some(c.kind.as_str().to_owned()), c.name_en.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(","),
                group: major.name.clone(),
            }
        })
        .collect()
}

/// What a request of this category can expect (GeoReport v2 `service_notice`): its handling
/// time limit, where it has one.
fn service_notice(category: &Category) -> Option<String> {
    let limit = category.time_limit?;
    let calendar = serde_json::to_value(category.calendar)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    Some(format!(
        "handled within {limit} ({})",
        calendar.replace('_', " ")
    ))
}

/// `GET /open311/v2/services.json`.
#[utoipa::path(get, path = "/open311/v2/services.json", tag = "open311",
    params(JurisdictionQuery),
    responses(
        (status = 200, description = "The categories as services", body = [Service]),
        (status = 500, description = "Internal error", body = [Open311ErrorBody]),
    ))]
pub(crate) async fn services_json(State(state): State<AppState>) -> Answer {
    services(&state, Format::Json).await
}

/// `GET /open311/v2/services.xml`.
#[utoipa::path(get, path = "/open311/v2/services.xml", tag = "open311",
    params(JurisdictionQuery),
    responses(
        (status = 200, description = "`<services>`", body = String, content_type = "application/xml"),
        (status = 500, description = "`<errors>`", body = String, content_type = "application/xml"),
    ))]
pub(crate) async fn services_xml(State(state): State<AppState>) -> Answer {
    services(&state, Format::Xml).await
}

async fn services(state: &AppState, format: Format) -> Answer {
    let categories = state
        .store
        .categories()
        .await
        .map_err(|e| Open311Error::new(format, e.into()))?;
    Ok(format.answer(StatusCode::OK, "services", &services_of(&categories)))
}

/// The parameter every GeoReport v2 call may carry; one jurisdiction is served, so it is
/// taken and not checked.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct JurisdictionQuery {
    /// Ignored: this endpoint serves one jurisdiction.
    jurisdiction_id: Option<String>,
}

/// `GET /open311/v2/services/{service_code}.{format}`.
#[utoipa::path(get, path = "/open311/v2/services/{service_code}", tag = "open311",
    params(("service_code" = String, Path, description = "The service code and the format, `0302.json` or `0302.xml`",
        pattern = r"^[A-Za-z0-9]{2,16}\.(json|xml)$", example = "0302.json"), JurisdictionQuery),
    responses(
        (status = 200, description = "The service definition", content(
            (ServiceDefinition = "application/json"), (String = "application/xml"))),
        (status = 404, description = "No such service", content(
            ([Open311ErrorBody] = "application/json"), (String = "application/xml"))),
        (status = 500, description = "Internal error", content(
            ([Open311ErrorBody] = "application/json"), (String = "application/xml"))),
    ))]
pub(crate) async fn service_definition(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Answer {
    let (code, format) = Format::split(&file)
        .ok_or_else(|| not_found(Format::Json, format!("/open311/v2/services/{file}")))?;
    let categories = state
        .store
        .categories()
        .await
        .map_err(|e| Open311Error::new(format, e.into()))?;
    let service = services_of(&categories)
        .into_iter()
        .find(|s| s.service_code == code)
        .ok_or_else(|| {
            not_found(
                format,
                format!("service_code {code} is not a service of this endpoint"),
            )
        })?;
    let body = ServiceDefinition {
        service_code: service.service_code,
        attributes: Vec::new(),
    };
    Ok(format.answer(StatusCode::OK, "service_definition", &body))
}

/// `GET /open311/v2/tokens/{token}.{format}`: the request a token stands for. The token is
/// the reporter's follow-up secret that `POST requests` answered with.
#[utoipa::path(get, path = "/open311/v2/tokens/{token}", tag = "open311",
    params(("token" = String, Path, description = "The token and the format, `fu_….json` or `fu_….xml`",
        pattern = r"^fu_[0-9a-f]{64}\.(json|xml)$"), JurisdictionQuery),
    responses(
        (status = 200, description = "The request id, as a list of one", content(
            ([TokenRequest] = "application/json"), (String = "application/xml"))),
        (status = 404, description = "No such token", content(
            ([Open311ErrorBody] = "application/json"), (String = "application/xml"))),
        (status = 500, description = "Internal error", content(
            ([Open311ErrorBody] = "application/json"), (String = "application/xml"))),
    ))]
pub(crate) async fn token(State(state): State<AppState>, Path(file): Path<String>) -> Answer {
    let (token, format) = Format::split(&file)
        .ok_or_else(|| not_found(Format::Json, format!("/open311/v2/tokens/{file}")))?;
    let missing = || not_found(format, "no request has this token");
    if !is_follow_up_shaped(token) {
        return Err(missing());
    }
    let case_id = state
        .store
        .followed_case(&token_digest(token))
        .await
        .map_err(|e| Open311Error::new(format, e.into()))?
        .ok_or_else(missing)?;
    let body = [TokenRequest {
        service_request_id: case_id,
        token: token.to_owned(),
    }];
    Ok(format.answer(StatusCode::OK, "service_requests", &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_carry_the_deployment_offset() {
        let tz = FixedOffset::east_opt(8 * 3600).unwrap();
        let t = DateTime::parse_from_rfc3339("2026-12-01T02:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(datetime(t, &tz), "2026-12-01T10:00:00+08:00");
    }
}
