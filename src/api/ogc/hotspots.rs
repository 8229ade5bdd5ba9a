//! The `hotspots` collection (issue 12): the Getis-Ord Gi* result over the whole deployment,
//! one feature per H3 hexagon, computed when read with the parameters the collection's
//! description states (k-ring 1, analytic p-values, Benjamini–Hochberg FDR, every report
//! unless `datetime`, `category`, `state` or `unit` narrow it) at `resolution` (7–10,
//! default [`DEFAULT_RESOLUTION`]). The same computation and disclosure as
//! `GET /v1/analytics/hotspots`: the public sees counts of at least k and significance bins
//! only; planners and staff also z, p and p_fdr.

use chrono::NaiveDate;
use h3o::{CellIndex, Resolution};
use serde::Serialize;

use super::{Collection, Items, ItemsQuery, Page, invalid, not_for};
use crate::api::analytics::{
    CountFilter, HotspotParams, HotspotProperties, RawFilter, cached_hotspots, cell_hex,
    hexagon_geometry, parse_k, viewer_of,
};
use crate::api::auth::Caller;
use crate::api::wire::geojson_feature;
use crate::api::{ApiError, AppState};

/// The resolution served when `resolution` is absent (~0.1 km² hexagons).
pub const DEFAULT_RESOLUTION: Resolution = Resolution::Nine;
const RESOLUTIONS: std::ops::RangeInclusive<u8> = 7..=10;

pub(super) const DESCRIPTION: &str = "Getis-Ord Gi* hotspots of the reports over the whole \
    deployment, one H3 hexagon per feature (id: the H3 index), computed when read: k-ring 1 \
    neighbours, analytic p-values, Benjamini-Hochberg false discovery rate; significance -3..3 \
    is cold or hot at 99, 95 or 90 % confidence. Parameters: resolution (H3, 7 to 10, \
    default 9), datetime (the reports' submission days), category (code or prefix), \
    state, unit (a unit code the reports lie in). The public sees counts of at least k \
    reports and the significance only; planners and staff also z, p and p_fdr.";

fn resolution(q: &ItemsQuery) -> Result<Resolution, ApiError> {
    let Some(raw) = q.resolution.as_deref() else {
        return Ok(DEFAULT_RESOLUTION);
    };
    raw.parse::<u8>()
        .ok()
        .filter(|r| RESOLUTIONS.contains(r))
        .and_then(|r| Resolution::try_from(r).ok())
        .ok_or_else(|| invalid("resolution", "an H3 resolution from 7 to 10"))
}

fn local_day(t: chrono::DateTime<chrono::Utc>, state: &AppState) -> NaiveDate {
    t.with_timezone(&state.settings.timezone).date_naive()
}

fn params(
    state: &AppState,
    q: &ItemsQuery,
    items: &Items,
    res: Resolution,
) -> Result<HotspotParams, ApiError> {
    if q.parent.is_some() {
        return Err(not_for(Collection::Hotspots, "parent"));
    }
    let from = items
        .datetime
        .and_then(|i| i.start)
        .map(|t| local_day(t, state).to_string());
    let to = items
        .datetime
        .and_then(|i| i.end)
        .map(|t| local_day(t, state).to_string());
    let filter = CountFilter::parse(RawFilter {
        from: from.as_deref(),
        to: to.as_deref(),
        category: q.category.as_deref(),
        unit: q.unit.as_deref(),
        status: q.state.as_deref(),
    })
    .map_err(|e| invalid("filter", e))?;
    Ok(HotspotParams {
        res,
        filter,
        k: parse_k(None)?,
        permutations: None,
    })
}

/// A hotspot cell as a feature: its H3 index is its id.
fn feature(
    cell: CellIndex,
    properties: HotspotProperties,
    res: Resolution,
) -> Result<geojson::Feature, ApiError> {
    geojson_feature(
        Some(cell_hex(cell)),
        hexagon_geometry(cell),
        &CellProperties {
            properties,
            resolution: u8::from(res),
        },
    )
}

/// A hotspot feature's properties: the cell's statistics and its H3 resolution.
#[derive(Serialize)]
struct CellProperties {
    #[serde(flatten)]
    properties: HotspotProperties,
    resolution: u8,
}

/// A page of hotspot cells in H3 index order; the cursor is the last cell's index.
pub(super) async fn page(
    state: &AppState,
    caller: &Caller,
    q: &ItemsQuery,
    items: &Items,
) -> Result<Page, ApiError> {
    let res = resolution(q)?;
    let after = q
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<CellIndex>()
                .map_err(|_| invalid("cursor", "not a cursor of this collection"))
        })
        .transpose()?;
    let p = params(state, q, items, res)?;
    let out = cached_hotspots(state, &p).await?;
    let viewer = viewer_of(caller);
    let k_anon = state.settings.tile_min_count;
    let mut cells: Vec<_> = out
        .report
        .cells
        .iter()
        .filter(|c| {
            items.bbox.is_none_or(|b| {
                let centre = h3o::LatLng::from(c.cell);
                b.min_lon <= centre.lng()
                    && centre.lng() <= b.max_lon
                    && b.min_lat <= centre.lat()
                    && centre.lat() <= b.max_lat
            })
        })
        .collect();
    cells.sort_by_key(|c| u64::from(c.cell));
    let matched = cells.len();
    let rest: Vec<_> = cells
        .into_iter()
        .filter(|c| after.is_none_or(|a| u64::from(c.cell) > u64::from(a)))
        .take(items.limit + 1)
        .collect();
    let more = rest.len() > items.limit;
    let shown = &rest[..rest.len().min(items.limit)];
    let next = more
        .then(|| shown.last().map(|c| cell_hex(c.cell)))
        .flatten();
    let features = shown
        .iter()
        .map(|c| feature(c.cell, HotspotProperties::of(c, viewer, k_anon), res))
        .collect::<Result<_, _>>()?;
    Ok((features, next, Some(matched)))
}

/// One hotspot cell by its H3 index (at the index's own resolution, default parameters).
pub(super) async fn item(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Option<geojson::Feature>, ApiError> {
    let Ok(cell) = id.parse::<CellIndex>() else {
        return Ok(None);
    };
    let res = cell.resolution();
    if !RESOLUTIONS.contains(&u8::from(res)) {
        return Ok(None);
    }
    let p = HotspotParams {
        res,
        filter: CountFilter::default(),
        k: parse_k(None)?,
        permutations: None,
    };
    let out = cached_hotspots(state, &p).await?;
    let viewer = viewer_of(caller);
    out.report
        .cells
        .iter()
        .find(|c| c.cell == cell)
        .map(|c| {
            feature(
                c.cell,
                HotspotProperties::of(c, viewer, state.settings.tile_min_count),
                res,
            )
        })
        .transpose()
}
