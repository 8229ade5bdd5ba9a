//! Intake (issue 3, issue 9): check a report, convert its datum, resolve it to its units (or
//! refuse it as out of area), put its media into media storage, open its case (submit and,
//! where the plan library finds a target, dispatch) and store it under a new case id. A
//! retry under the same idempotency key answers the original case.
//!
//! `POST /v1/reports` (JSON and multipart) and Open311's `POST /open311/v2/requests.{format}`
//! both call [`submit`]. Errors are [`Error`]s, independent of protocol: each adapter renders
//! them in its own error shape.
//!
//! Round trips (issue 9, "intake at speed"): the category comes from the in-memory
//! [`crate::service::categories::CategoryCache`], the report answered is the one built here
//! (not re-read after its insert), the case's state is the fold of its first events (not read
//! from the index), and the rows go in one transaction.

use chrono::Utc;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::api::AppState;
use crate::api::reports::ReportRequest;
use crate::api::resolve::{InputLocation, near_boundary_json, place};
use crate::domain::workflow::categories::Category;
use crate::media::{Ingested, MediaKey, MediaKind};
use crate::service::Error;
use crate::service::error::Result;
use crate::store::{
    ChainEntry, Contact, IdempotencyKey, Inserted, MediaRow, NewReport, Principal, StoredReport,
};

/// Limits on report text, in characters (not bytes: Chinese text is 3 bytes a character).
const DESCRIPTION_MAX_CHARS: usize = 2_000;
const ADDRESS_MAX_CHARS: usize = 500;
const NAME_MAX_CHARS: usize = 100;
/// Longest accepted GPS accuracy radius; anything worse says nothing about the place.
const ACCURACY_MAX_M: f64 = 10_000.0;

/// A report whose fields passed every check that needs no store: text lengths, coordinates
/// (converted to WGS-84), accuracy, contact.
#[derive(Debug, Clone)]
pub struct CheckedReport {
    description: String,
    category: String,
    location: InputLocation,
    accuracy_m: Option<f64>,
    address: Option<String>,
    contact: Option<Contact>,
}

impl CheckedReport {
    /// Checks a report as a client sent it.
    pub fn parse(r: ReportRequest) -> Result<Self> {
        check_text(
            "invalid_description",
            "description",
            &r.description,
            DESCRIPTION_MAX_CHARS,
            true,
        )?;
        let location = InputLocation::parse(r.location.lon, r.location.lat, r.location.datum)?;
        if let Some(a) = r.location.accuracy_m
            && !(a.is_finite() && (0.0..=ACCURACY_MAX_M).contains(&a))
        {
            return Err(invalid(
                "invalid_accuracy",
                format!("accuracy_m must be between 0 and {ACCURACY_MAX_M} metres, got {a}"),
            ));
        }
        if let Some(addr) = &r.location.address {
            check_text("invalid_address", "address", addr, ADDRESS_MAX_CHARS, false)?;
        }
        if let Some(c) = &r.contact {
            check_contact(c)?;
        }
        Ok(Self {
            description: r.description,
            category: r.category,
            location,
            accuracy_m: r.location.accuracy_m,
            address: r.location.address,
            contact: r.contact,
        })
    }
}

fn invalid(code: &'static str, detail: impl Into<String>) -> Error {
    Error::InvalidField {
        code,
        detail: detail.into(),
    }
}

fn check_text(
    code: &'static str,
    field: &str,
    text: &str,
    max: usize,
    required: bool,
) -> Result<()> {
    let chars = text.chars().count();
    if required && text.trim().is_empty() {
        return Err(invalid(code, format!("{field} must not be empty")));
    }
    if chars > max {
        return Err(invalid(
            code,
            format!("{field} has {chars} characters; at most {max}"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(invalid(
            code,
            format!("{field} contains control characters"),
        ));
    }
    Ok(())
}

fn check_contact(c: &Contact) -> Result<()> {
    if let Some(name) = &c.name {
        check_text(
            "invalid_contact",
            "contact.name",
            name,
            NAME_MAX_CHARS,
            false,
        )?;
    }
    if let Some(phone) = &c.phone {
        let digits = phone.chars().filter(char::is_ascii_digit).count();
        let allowed = phone
            .chars()
            .all(|ch| ch.is_ascii_digit() || "+- ()".contains(ch));
        if !allowed || !(5..=20).contains(&digits) {
            return Err(invalid(
                "invalid_contact",
                "contact.phone must be 5 to 20 digits, optionally with + - ( ) and spaces",
            ));
        }
    }
    Ok(())
}

/// What identifies a submission for its idempotency key (issue 8, item 3): the parsed
/// report and each medium's kind, stored digest and private location, as JSON with the
/// structs' field order, shortest round-trip numbers and no whitespace, hashed. A retry of
/// the same report encoded otherwise (re-indented, fields reordered, a default spelled out,
/// `8` for `8.0`) is the same request; a different value or medium is not.
pub fn request_hash(request: &ReportRequest, media: &[(MediaKind, Ingested)]) -> Result<String> {
    let media: Vec<Value> = media
        .iter()
        .map(|(kind, m)| {
            let exif = m
                .exif_location
                .as_ref()
                .map(|l| json!([l.lon, l.lat, l.taken_at]));
            json!([kind.as_str(), m.sha256, exif])
        })
        .collect();
    let canonical = serde_json::to_vec(&(request, media))
        .map_err(|e| Error::Internal(format!("canonical request: {e}")))?;
    Ok(hex::encode(Sha256::digest(canonical)))
}

/// A report to take in: who sends it (`None`: anonymous), the checked report, its checked
/// media in order, and the idempotency key it came with.
pub struct Submission<'a> {
    pub reporter: Option<&'a Principal>,
    pub report: CheckedReport,
    pub media: Vec<(MediaKind, Ingested)>,
    pub key: Option<IdempotencyKey>,
}

/// A report taken in.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub case_id: String,
    /// The idempotency key had been seen with the same request: this is the original case.
    pub replayed: bool,
    /// Shown once: what lets the reporter follow and rate the case without an account
    /// (`GET /v1/follow-up` with `Follow-Up-Secret`; issue 8, item 11).
    pub follow_up_secret: String,
    /// The report as stored.
    pub report: StoredReport,
    pub category: Category,
    /// The case's state after auto-dispatch (`submitted`, `dispatched`,
    /// `pending_verification`).
    pub state: String,
}

/// Takes a report in: resolves it, opens and stores its case, announces its events.
#[tracing::instrument(skip_all)]
pub async fn submit(state: &AppState, s: Submission<'_>) -> Result<Accepted> {
    let Submission {
        reporter,
        report,
        media,
        key,
    } = s;
    let category = state
        .categories
        .find(state.store.as_ref(), &report.category)
        .await?
        .filter(|c| !c.retired)
        .ok_or_else(|| Error::UnknownCategory(report.category.clone()))?;
    let loc = report.location;
    let j = state.jurisdiction()?;
    let placement = place(&j, loc.wgs84)?;
    let chain: Vec<ChainEntry> = j
        .chain(placement.unit)
        .into_iter()
        .map(|id| {
            let u = j.unit(id);
            ChainEntry {
                level: u.level,
                code: u.code.to_string(),
                name: u.name.clone(),
            }
        })
        .collect();
    let h3_r15 = h3o::LatLng::new(loc.wgs84.lat, loc.wgs84.lon)
        .map_err(|e| Error::InvalidCoordinates(e.to_string()))?
        .to_cell(h3o::Resolution::Fifteen);
    let now = Utc::now();
    let follow_up = crate::domain::workflow::access::new_follow_up_secret();
    let (events, summary) = crate::service::workflow::initial_events(
        state,
        reporter,
        &category,
        &chain,
        &report.description,
        now,
    )
    .await?;
    let new = NewReport {
        created_at: now,
        case_prefix: state.settings.case_prefix.clone(),
        case_day: now
            .with_timezone(&state.settings.timezone)
            .format("%Y%m%d")
            .to_string(),
        description: report.description,
        category: category.code.to_string(),
        lon: loc.wgs84.lon,
        lat: loc.wgs84.lat,
        h3_r15: u64::from(h3_r15),
        input_datum: loc.datum.to_string(),
        input_lon: loc.input.lon,
        input_lat: loc.input.lat,
        accuracy_m: report.accuracy_m,
        address: report.address,
        contact: report.contact,
        chain,
        snapped_m: placement.snapped_m,
        near_boundary: near_boundary_json(&j, &placement),
        media: store_media(state, media).await?,
        events,
        summary,
        follow_up_sha256: crate::domain::workflow::access::token_digest(&follow_up),
    };
    let (report, current) = match state.store.insert_report(&new, key.as_ref()).await? {
        Inserted::Created(id) => {
            if let Some(row) = new.cube_row(&id) {
                state.analytics.note(row);
            }
            state.tile_cache.touch(new.lon, new.lat);
            crate::api::events::published(state, &id, 1..=new.events.len() as i32).await;
            let current = new.summary.state.clone();
            (new.stored(id), current)
        }
        Inserted::Replayed(id) => {
            // The original secret is not kept: the same caller retrying the same report
            // gets a new one for the same case (each of them works). The original report
            // and its state now are read back: a replay is rare, and its case may have moved.
            let digest = crate::domain::workflow::access::token_digest(&follow_up);
            state.store.add_follow_up(&id, &digest, now).await?;
            let stored = state
                .store
                .get_report(&id)
                .await?
                .ok_or_else(|| Error::Internal(format!("replayed case {id} is not stored")))?;
            let current = crate::service::workflow::current_state(state, &id).await?;
            return Ok(Accepted {
                case_id: id,
                replayed: true,
                follow_up_secret: follow_up,
                report: stored,
                category,
                state: current,
            });
        }
        Inserted::KeyReused => return Err(Error::IdempotencyKeyReused),
    };
    Ok(Accepted {
        case_id: report.case_id.clone(),
        replayed: false,
        follow_up_secret: follow_up,
        report,
        category,
        state: current,
    })
}

/// Puts each medium into media storage under its content address and describes it for
/// the store. Content addressing means a retried upload rewrites the same file.
pub async fn store_media(
    state: &AppState,
    media: Vec<(MediaKind, Ingested)>,
) -> Result<Vec<MediaRow>> {
    let mut rows = Vec::with_capacity(media.len());
    for (i, (kind, m)) in media.into_iter().enumerate() {
        let key = MediaKey::parse(&format!("media/{}.{}", m.sha256, m.media_type.extension()))
            .map_err(|e| Error::Internal(e.to_string()))?;
        let bytes = m.stored.len() as i64;
        state
            .media
            .put(&key, m.stored)
            .await
            .map_err(|e| Error::Internal(format!("storing {key}: {e}")))?;
        rows.push(MediaRow {
            seq: i as i32 + 1,
            kind: kind.as_str().to_owned(),
            media_type: m.media_type.mime().to_owned(),
            bytes,
            sha256: m.sha256,
            storage_key: key.as_str().to_owned(),
            exif_lon: m.exif_location.as_ref().map(|l| l.lon),
            exif_lat: m.exif_location.as_ref().map(|l| l.lat),
            exif_taken_at: m.exif_location.and_then(|l| l.taken_at),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::reports::LocationRequest;

    fn request(description: &str, lon: f64) -> ReportRequest {
        ReportRequest {
            description: description.into(),
            category: "0302".into(),
            location: LocationRequest {
                lon,
                lat: 41.12,
                datum: Default::default(),
                accuracy_m: None,
                address: None,
            },
            contact: None,
        }
    }

    #[test]
    fn a_report_is_checked_before_it_reaches_the_store() {
        assert!(CheckedReport::parse(request("井盖缺失", 122.07)).is_ok());
        let empty = CheckedReport::parse(request("  ", 122.07)).unwrap_err();
        assert!(
            matches!(
                empty,
                Error::InvalidField {
                    code: "invalid_description",
                    ..
                }
            ),
            "{empty:?}"
        );
        let swapped = CheckedReport::parse(request("井盖缺失", 222.07)).unwrap_err();
        assert!(
            matches!(swapped, Error::InvalidCoordinates(_)),
            "{swapped:?}"
        );
    }

    #[test]
    fn the_same_report_hashes_the_same_and_another_does_not() {
        let a = request_hash(&request("井盖缺失", 122.07), &[]).unwrap();
        assert_eq!(a, request_hash(&request("井盖缺失", 122.07), &[]).unwrap());
        assert_ne!(a, request_hash(&request("井盖松动", 122.07), &[]).unwrap());
    }
}
