//! GeoReport v2's documents, with the spec's field names (<http://wiki.open311.org/GeoReport_v2>).
//! One type each; JSON is serde's and XML is written from the same value ([`super::xml`]),
//! so the two formats cannot say different things.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::workflow::case::State;

/// The version of these documents: changes when a field is added or its meaning changes.
pub const CHANGESET: &str = "2026-12-01T00:00:00+08:00";

/// `GET discovery.{format}` (GeoReport v2 "Service Discovery").
#[derive(Debug, Serialize, ToSchema)]
pub struct Discovery {
    pub changeset: &'static str,
    pub contact: String,
    /// How to obtain an API key.
    pub key_service: String,
    pub endpoints: Vec<Endpoint>,
}

/// One endpoint of the discovery document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Endpoint {
    #[schema(example = "http://wiki.open311.org/GeoReport_v2")]
    pub specification: &'static str,
    pub url: String,
    pub changeset: &'static str,
    /// `production`, `test`: this service is the deployment's own.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub formats: Vec<&'static str>,
}

/// One service: a category residents can report in (GeoReport v2 "GET Service List").
#[derive(Debug, Serialize, ToSchema)]
pub struct Service {
    /// The category code.
    #[schema(example = "0302")]
    pub service_code: String,
    #[schema(example = "井盖缺失")]
    pub service_name: String,
    pub description: String,
    /// Whether the service has a definition with attributes to fill in.
    pub metadata: bool,
    /// `realtime`: a request is a case at once.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Comma-separated.
    pub keywords: String,
    /// The major category's name.
    pub group: String,
}

/// `GET services/{service_code}.{format}` (GeoReport v2 "GET Service Definition").
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceDefinition {
    pub service_code: String,
    /// The attributes a request of this service fills in; categories declare none yet.
    #[schema(value_type = Vec<Object>)]
    pub attributes: Vec<Value>,
}

/// `open` or `closed` (GeoReport v2 "status").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    Closed,
}

impl Status {
    /// A case is open while someone still has to act on it ([`State::is_open`]); closed,
    /// rated, invalid, merged and cancelled cases are closed.
    pub fn of(state: State) -> Self {
        if state.is_open() {
            Status::Open
        } else {
            Status::Closed
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Status::Open),
            "closed" => Some(Status::Closed),
            _ => None,
        }
    }

    /// The case states this status stands for.
    pub fn states(self) -> Vec<String> {
        State::ALL
            .iter()
            .filter(|s| Status::of(**s) == self)
            .map(|s| s.as_str().to_owned())
            .collect()
    }
}

/// A service request: a case as the caller may see it (GeoReport v2 "GET Service
/// Requests"). The public gets the point coarsened and no description or address.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceRequest {
    #[schema(example = "XL-20261201-000001")]
    pub service_request_id: String,
    pub status: Status,
    /// The last step of the case as residents see it.
    pub status_notes: Option<String>,
    pub service_name: Option<String>,
    pub service_code: String,
    /// Staff only: the description may name people.
    pub description: Option<String>,
    /// The name of the unit or department handling the case.
    pub agency_responsible: Option<String>,
    pub service_notice: Option<String>,
    /// ISO 8601 with the deployment's offset.
    #[schema(example = "2026-12-01T10:00:00+08:00")]
    pub requested_datetime: String,
    #[schema(example = "2026-12-01T10:05:00+08:00")]
    pub updated_datetime: String,
    /// The deadline.
    pub expected_datetime: Option<String>,
    /// Staff only: the address the reporter gave.
    pub address: Option<String>,
    pub address_id: Option<String>,
    pub zipcode: Option<String>,
    #[schema(minimum = -90.0, maximum = 90.0)]
    pub lat: f64,
    #[schema(minimum = -180.0, maximum = 180.0)]
    pub long: f64,
    pub media_url: Option<String>,
}

/// The answer to `POST requests.{format}` (GeoReport v2 "POST Service Request").
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedRequest {
    pub service_request_id: String,
    /// The reporter's follow-up secret: `tokens/{token}` answers the request id, and
    /// `GET /v1/follow-up` the case, with it. Shown once.
    pub token: String,
    pub service_notice: Option<String>,
    /// Accounts are not kept for Open311 reporters.
    #[schema(value_type = Option<String>)]
    pub account_id: Option<()>,
}

/// The answer to `GET tokens/{token}.{format}` (GeoReport v2 "GET request_id from a token").
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenRequest {
    pub service_request_id: String,
    pub token: String,
}

/// One error (GeoReport v2 "Errors"): the HTTP status and what went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct Open311ErrorBody {
    #[schema(example = 400)]
    pub code: u16,
    #[schema(example = "service_code 9999 is not a service of this endpoint")]
    pub description: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_nobody_has_to_act_on_are_closed() {
        assert_eq!(Status::of(State::Dispatched), Status::Open);
        assert_eq!(Status::of(State::Reopened), Status::Open);
        assert_eq!(Status::of(State::Parked), Status::Open);
        for s in [
            State::Closed,
            State::Rated,
            State::Invalid,
            State::Merged,
            State::Cancelled,
        ] {
            assert_eq!(Status::of(s), Status::Closed, "{s}");
        }
        let open = Status::Open.states();
        let closed = Status::Closed.states();
        assert_eq!(open.len() + closed.len(), State::ALL.len());
        assert!(closed.contains(&"rated".to_owned()) && open.contains(&"submitted".to_owned()));
    }
}
