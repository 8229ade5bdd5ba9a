//! The `reports` collection: staff see their scope's reports exactly, with case ids; the
//! public sees each at the centre of its resolution-10 H3 cell, without id. Pages of reports
//! go on by a sealed cursor (the last case id, encrypted and tagged under a per-process key).

use super::*;

/// How the caller sees reports: staff within their scope, exactly; everybody else coarsened.
pub(crate) fn report_scope(caller: &Caller) -> Option<CaseScope> {
    let p = caller.0.as_ref()?;
    match p.role {
        Role::Dispatcher | Role::Leader | Role::Admin | Role::Handler | Role::GridWorker => {
            case_scope(p)
        }
        Role::Resident | Role::Planner | Role::System => None,
    }
}

pub(super) async fn report_page(
    state: &AppState,
    caller: &Caller,
    c: Collection,
    q: &ItemsQuery,
    items: &Items,
) -> Result<Page, ApiError> {
    if q.parent.is_some() {
        return Err(not_for(c, "parent"));
    }
    if q.resolution.is_some() {
        return Err(not_for(c, "resolution"));
    }
    let code_like =
        |s: &str| !s.is_empty() && s.len() <= 16 && s.bytes().all(|b| b.is_ascii_alphanumeric());
    if let Some(cat) = &q.category
        && !code_like(cat)
    {
        return Err(invalid("category", "a category code or prefix"));
    }
    if let Some(u) = &q.unit {
        UnitCode::parse(u).map_err(|e| invalid("unit", e))?;
    }
    let states = match q.state.as_deref() {
        None => Vec::new(),
        Some(s) => vec![
            s.parse::<crate::domain::workflow::case::State>()
                .map_err(|e| invalid("state", e))?
                .as_str()
                .to_owned(),
        ],
    };
    let after = q
        .cursor
        .as_deref()
        .map(|c| open_cursor(c).ok_or_else(|| invalid("cursor", "not a cursor of this server")))
        .transpose()?;
    let scope = report_scope(caller);
    let exact = scope.is_some();
    // The public's bbox is applied to the coarsened point: the store is asked for a wider
    // box, and the rows are filtered once coarsened.
    let widened = items.bbox.map(|b| {
        if exact {
            b
        } else {
            Bbox {
                min_lon: (b.min_lon - PUBLIC_BBOX_MARGIN).max(-180.0),
                min_lat: (b.min_lat - PUBLIC_BBOX_MARGIN).max(-90.0),
                max_lon: (b.max_lon + PUBLIC_BBOX_MARGIN).min(180.0),
                max_lat: (b.max_lat + PUBLIC_BBOX_MARGIN).min(90.0),
            }
        }
    });
    let limit = items.limit as i64;
    let rows = state
        .store
        .list_cases(&CaseQuery {
            scope: scope.unwrap_or(CaseScope::All),
            states,
            warning: None,
            unit: q.unit.clone(),
            category: q.category.clone(),
            bbox: widened,
            supervision_queue: false,
            now: Utc::now(),
            limit: limit + 1,
            after,
            submitted_from: items.datetime.and_then(|i| i.start),
            submitted_until: items.datetime.and_then(|i| i.end),
        })
        .await?;
    let more = rows.len() as i64 > limit;
    let rows = &rows[..rows.len().min(items.limit)];
    let next = more
        .then(|| rows.last().map(|r| seal_cursor(&r.case_id)))
        .flatten();
    let features = rows
        .iter()
        .filter_map(|r| {
            if exact {
                Some(exact_feature(r))
            } else {
                public_feature(r, items.bbox)
            }
        })
        .collect::<Result<_, _>>()?;
    Ok((features, next, None))
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// A report as staff see it: its id, its exact point, its case's state and deadline.
pub(super) fn exact_feature(r: &IndexedCase) -> Result<geojson::Feature, ApiError> {
    geojson_feature(
        Some(r.case_id.clone()),
        geojson::GeometryValue::new_point([r.lon, r.lat]),
        &ExactReportProperties {
            case_id: &r.case_id,
            category: &r.category,
            state: &r.state,
            submitted_at: r.submitted_at,
            day: day(r.submitted_at),
            grid: r.grid.as_deref(),
            community: r.community.as_deref(),
            street: r.street.as_deref(),
            target: r.target.as_deref(),
            deadline: r.deadline_at,
        },
    )
}

/// A report feature's properties for staff.
#[derive(Serialize)]
struct ExactReportProperties<'a> {
    case_id: &'a str,
    category: &'a str,
    state: &'a str,
    #[serde(with = "crate::api::wire::secs")]
    submitted_at: DateTime<Utc>,
    /// The day of submission (UTC).
    day: String,
    grid: Option<&'a str>,
    community: Option<&'a str>,
    street: Option<&'a str>,
    /// The code of the unit or department the case is sent to.
    target: Option<&'a str>,
    #[serde(with = "crate::api::wire::secs::option")]
    deadline: Option<DateTime<Utc>>,
}

/// A report feature's properties for the public: nothing that identifies the case.
#[derive(Serialize)]
struct PublicReportProperties<'a> {
    category: &'a str,
    state: &'a str,
    day: String,
    grid: Option<&'a str>,
    community: Option<&'a str>,
}

/// The public's view of a report: no id, the cell centre, nothing personal; `None` when the
/// coarsened point falls outside the requested box.
fn public_feature(
    r: &IndexedCase,
    bbox: Option<Bbox>,
) -> Option<Result<geojson::Feature, ApiError>> {
    let (lon, lat) = coarsened(r.lon, r.lat)?;
    if let Some(b) = bbox
        && !(b.min_lon <= lon && lon <= b.max_lon && b.min_lat <= lat && lat <= b.max_lat)
    {
        return None;
    }
    Some(geojson_feature(
        None,
        geojson::GeometryValue::new_point([lon, lat]),
        &PublicReportProperties {
            category: &r.category,
            state: &r.state,
            day: day(r.submitted_at),
            grid: r.grid.as_deref(),
            community: r.community.as_deref(),
        },
    ))
}

/// The key report cursors are sealed with: random per process (a cursor does not outlive a
/// restart; the client starts the listing again).
fn cursor_key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut k = [0u8; 32];
        k[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        k[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        k
    })
}

/// SHA-256 of the key, a label and the parts: the keystream and the tag.
fn keyed(label: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(cursor_key());
    h.update(label);
    for p in parts {
        h.update((p.len() as u32).to_be_bytes());
        h.update(p);
    }
    h.finalize().into()
}

/// The case id `after`, encrypted (a keystream from SHA-256 under the process key and a
/// fresh nonce) and tagged, as hex.
pub(super) fn seal_cursor(after: &str) -> String {
    let nonce = *uuid::Uuid::new_v4().as_bytes();
    let stream = keyed(b"stream", &[&nonce]);
    let plain = after.as_bytes();
    if plain.len() > stream.len() {
        return String::new();
    }
    let sealed: Vec<u8> = plain.iter().zip(stream).map(|(p, k)| p ^ k).collect();
    let tag = keyed(b"tag", &[&nonce, &sealed]);
    format!(
        "{}{}{}",
        hex::encode(nonce),
        hex::encode(&tag[..8]),
        hex::encode(&sealed)
    )
}

/// The case id of a cursor this process sealed; `None` for anything else.
pub(super) fn open_cursor(cursor: &str) -> Option<String> {
    if cursor.len() > 200 {
        return None;
    }
    let bytes = hex::decode(cursor).ok()?;
    if bytes.len() < 24 {
        return None;
    }
    let (nonce, rest) = bytes.split_at(16);
    let (tag, sealed) = rest.split_at(8);
    if keyed(b"tag", &[nonce, sealed])[..8] != *tag {
        return None;
    }
    let stream = keyed(b"stream", &[nonce]);
    let plain: Vec<u8> = sealed.iter().zip(stream).map(|(c, k)| c ^ k).collect();
    String::from_utf8(plain).ok()
}
