//! GeoReport v2 "POST Service Request": a form-encoded request with an API key, taken in
//! by the intake service as a real case.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{Answer, CreatedRequest, Format, Open311Error, Open311ErrorBody, service_notice};
use crate::api::auth::Caller;
use crate::api::reports::{LocationRequest, ReportRequest, idempotency_header};
use crate::api::{ApiError, AppState};
use crate::domain::workflow::access::{is_api_key_shaped, token_digest};
use crate::domain::workflow::case::{ActionKind, may};
use crate::service::intake::{self, CheckedReport, Submission};
use crate::store::{ApiKey, Contact, IdempotencyKey};

/// The form of `POST requests` (GeoReport v2 "POST Service Request"), as the schema shows
/// it; the handler reads the pairs itself to take `attribute[…]`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct CreateForm {
    /// Required: an API key issued by the deployment's admins.
    api_key: String,
    #[schema(example = "0302")]
    service_code: String,
    /// WGS-84; required (this service locates requests by coordinates).
    #[schema(example = 41.12, minimum = -90.0, maximum = 90.0)]
    lat: f64,
    #[schema(example = 122.07, minimum = -180.0, maximum = 180.0)]
    long: f64,
    /// Required, 1 to 2,000 characters.
    #[schema(example = "井盖缺失")]
    description: String,
    address_string: Option<String>,
    /// Not kept: reporters are called back by phone.
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
    /// With the report, the idempotency key where no `Idempotency-Key` header is sent.
    device_id: Option<String>,
    account_id: Option<String>,
    /// Not fetched: this service does not download media from other hosts.
    media_url: Option<String>,
    address_id: Option<String>,
    jurisdiction_id: Option<String>,
}

/// The form, read.
#[derive(Debug, Default)]
struct Posted {
    api_key: Option<String>,
    service_code: Option<String>,
    lat: Option<String>,
    long: Option<String>,
    description: Option<String>,
    address_string: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
    device_id: Option<String>,
}

impl Posted {
    fn read(pairs: Vec<(String, String)>) -> Result<Self, String> {
        let mut f = Posted::default();
        for (k, v) in pairs {
            let slot = match k.as_str() {
                "api_key" => &mut f.api_key,
                "service_code" => &mut f.service_code,
                "lat" => &mut f.lat,
                "long" => &mut f.long,
                "description" => &mut f.description,
                "address_string" => &mut f.address_string,
                "first_name" => &mut f.first_name,
                "last_name" => &mut f.last_name,
                "phone" => &mut f.phone,
                "device_id" => &mut f.device_id,
                // Taken and not kept (see `CreateForm`).
                "email" | "account_id" | "media_url" | "address_id" | "jurisdiction_id" => {
                    continue;
                }
                a if a.starts_with("attribute[") && a.ends_with(']') => {
                    return Err(format!(
                        "{a}: the services of this endpoint have no attributes"
                    ));
                }
                other => return Err(format!("unknown field {other:?}")),
            };
            if slot.is_some() {
                return Err(format!("{k} is given twice"));
            }
            let v = v.trim();
            if !v.is_empty() {
                *slot = Some(v.to_owned());
            }
        }
        Ok(f)
    }

    /// The report the form describes, as `/v1/reports` takes it.
    fn report(&self) -> Result<ReportRequest, String> {
        let required =
            |v: &Option<String>, name: &str| v.clone().ok_or_else(|| format!("{name} is required"));
        let coordinate = |v: &Option<String>, name: &str| -> Result<f64, String> {
            required(v, name)?
                .parse::<f64>()
                .map_err(|_| format!("{name} must be a number"))
        };
        let name = [&self.first_name, &self.last_name]
            .into_iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
        let contact = (!name.is_empty() || self.phone.is_some()).then(|| Contact {
            name: (!name.is_empty()).then_some(name),
            phone: self.phone.clone(),
        });
        Ok(ReportRequest {
            description: required(&self.description, "description")?,
            category: required(&self.service_code, "service_code")?,
            location: LocationRequest {
                lon: coordinate(&self.long, "long")?,
                lat: coordinate(&self.lat, "lat")?,
                datum: Default::default(),
                accuracy_m: None,
                address: self.address_string.clone(),
            },
            contact,
        })
    }
}

/// `POST /open311/v2/requests.json`.
#[utoipa::path(post, path = "/open311/v2/requests.json", tag = "open311", security((), ("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header,
        description = "1 to 255 visible ASCII characters: a retry with the same key and form answers the first request")),
    request_body(content = CreateForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 201, description = "A case was opened (or, on a retry, found)", body = [CreatedRequest]),
        (status = 400, description = "A field missing or refused, a location outside the service area", body = [Open311ErrorBody]),
        (status = 403, description = "No valid api_key", body = [Open311ErrorBody]),
        (status = 413, description = "Body too large", body = [Open311ErrorBody]),
        (status = 415, description = "Not form-encoded", body = [Open311ErrorBody]),
        (status = 500, description = "Internal error", body = [Open311ErrorBody]),
        (status = 503, description = "No boundaries loaded", body = [Open311ErrorBody]),
    ))]
pub async fn create_json(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Answer {
    create(&state, &caller, &headers, form, Format::Json).await
}

/// `POST /open311/v2/requests.xml`.
#[utoipa::path(post, path = "/open311/v2/requests.xml", tag = "open311", security((), ("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header,
        description = "1 to 255 visible ASCII characters: a retry with the same key and form answers the first request")),
    request_body(content = CreateForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 201, description = "`<service_requests>`", body = String, content_type = "application/xml"),
        (status = 400, description = "`<errors>`", body = String, content_type = "application/xml"),
        (status = 403, description = "`<errors>`: no valid api_key", body = String, content_type = "application/xml"),
        (status = 413, description = "`<errors>`", body = String, content_type = "application/xml"),
        (status = 415, description = "`<errors>`", body = String, content_type = "application/xml"),
        (status = 500, description = "`<errors>`", body = String, content_type = "application/xml"),
        (status = 503, description = "`<errors>`", body = String, content_type = "application/xml"),
    ))]
pub async fn create_xml(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Answer {
    create(&state, &caller, &headers, form, Format::Xml).await
}

#[tracing::instrument(skip_all)]
async fn create(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
    format: Format,
) -> Answer {
    let fail = |e: ApiError| Open311Error::new(format, e);
    let Form(pairs) = form.map_err(|e| {
        fail(match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedContentType(
                "send the request as application/x-www-form-urlencoded".into(),
            ),
            _ => ApiError::InvalidBody(e.body_text()),
        })
    })?;
    let form = Posted::read(pairs).map_err(|e| fail(ApiError::InvalidBody(e)))?;
    // GeoReport v2: "api_key … required" for POST Service Request; 403 without a valid one.
    let key = api_key(state, form.api_key.as_deref())
        .await
        .map_err(fail)?;
    // A signed-in caller reports as themselves, if their role reports at all.
    if let Some(p) = &caller.0
        && !may(p.role, ActionKind::Submit)
    {
        return Err(fail(ApiError::Forbidden(format!(
            "a {} may not submit reports",
            p.role
        ))));
    }
    let request = form.report().map_err(|e| fail(ApiError::InvalidBody(e)))?;
    let idempotency = idempotency_key(headers, &key, &form, &request).map_err(fail)?;
    let report = CheckedReport::parse(request).map_err(|e| fail(e.into()))?;
    let accepted = intake::submit(
        state,
        Submission {
            reporter: caller.0.as_ref(),
            report,
            media: Vec::new(),
            key: idempotency,
        },
    )
    .await
    .map_err(|e| fail(e.into()))?;
    let body = [CreatedRequest {
        service_request_id: accepted.case_id,
        token: accepted.follow_up_secret,
        service_notice: service_notice(&accepted.category),
        account_id: None,
    }];
    Ok(format.answer(StatusCode::CREATED, "service_requests", &body))
}

/// The live API key the form names, or 403.
async fn api_key(state: &AppState, key: Option<&str>) -> Result<ApiKey, ApiError> {
    let key = key.ok_or_else(|| {
        ApiError::Forbidden("api_key is required to post service requests".into())
    })?;
    let invalid = || ApiError::Forbidden("api_key is not valid (unknown or revoked)".into());
    if !is_api_key_shaped(key) {
        return Err(invalid());
    }
    state
        .store
        .api_key_by_digest(&token_digest(key))
        .await?
        .ok_or_else(invalid)
}

/// The idempotency key of a request, in the API key's own namespace, with the digest of the
/// report: the `Idempotency-Key` header if sent, else one derived from the `device_id` and
/// the report (Open311 clients cannot always send headers; the same report sent twice from
/// one device is one request, another report from it is another).
fn idempotency_key(
    headers: &HeaderMap,
    key: &ApiKey,
    form: &Posted,
    request: &ReportRequest,
) -> Result<Option<IdempotencyKey>, ApiError> {
    let request_hash = intake::request_hash(request, &[])?;
    let given = idempotency_header(headers)?.or_else(|| {
        form.device_id.as_ref().map(|d| {
            let digest = Sha256::digest(format!("{d}\n{request_hash}").as_bytes());
            format!("device:{}", hex::encode(digest))
        })
    });
    let Some(given) = given else { return Ok(None) };
    Ok(Some(IdempotencyKey {
        scope: format!("api_key:{}", key.id),
        key: given,
        request_hash,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_form_becomes_the_report_intake_takes() {
        let form = Posted::read(pairs(&[
            ("api_key", "k"),
            ("service_code", "0302"),
            ("lat", "41.12"),
            ("long", "122.07"),
            ("description", "井盖缺失"),
            ("first_name", "三"),
            ("last_name", "张"),
            ("email", "z@example.org"),
            ("jurisdiction_id", "panjin"),
        ]))
        .unwrap();
        let r = form.report().unwrap();
        assert_eq!((r.location.lon, r.location.lat), (122.07, 41.12));
        assert_eq!(r.category, "0302");
        assert_eq!(r.contact.unwrap().name.as_deref(), Some("三 张"));
    }

    #[test]
    fn forms_missing_or_repeating_fields_are_refused() {
        let no_lat = Posted::read(pairs(&[("service_code", "0302"), ("description", "x")]))
            .unwrap()
            .report()
            .unwrap_err();
        assert_eq!(no_lat, "long is required");
        assert!(Posted::read(pairs(&[("lat", "1"), ("lat", "2")])).is_err());
        assert!(Posted::read(pairs(&[("attribute[WHISPAWN]", "1")])).is_err());
        assert!(Posted::read(pairs(&[("colour", "red")])).is_err());
    }
}
