//! The unit collections (`districts`, `streets`, `communities`, `grids`), from the
//! jurisdiction in memory.

use super::*;

pub(super) fn unit_page(
    state: &AppState,
    c: Collection,
    level: UnitLevel,
    q: &ItemsQuery,
    items: &Items,
) -> Result<Page, ApiError> {
    for (name, v) in [
        ("category", &q.category),
        ("state", &q.state),
        ("unit", &q.unit),
        ("resolution", &q.resolution),
    ] {
        if v.is_some() {
            return Err(not_for(c, name));
        }
    }
    let parent = q
        .parent
        .as_deref()
        .map(UnitCode::parse)
        .transpose()
        .map_err(|e| invalid("parent", e))?;
    let after = q
        .cursor
        .as_deref()
        .map(UnitCode::parse)
        .transpose()
        .map_err(|_| invalid("cursor", "not a cursor of this collection"))?;
    let j = state.jurisdiction()?;
    let rect = items.bbox.unwrap_or(Bbox::WORLD);
    let rect = geo::Rect::new(
        geo::coord! {x: rect.min_lon, y: rect.min_lat},
        geo::coord! {x: rect.max_lon, y: rect.max_lat},
    );
    let matching: Vec<_> = j
        .units_in(level, rect)
        .into_iter()
        .map(|id| j.unit(id))
        .filter(|u| parent.as_ref().is_none_or(|p| u.parent.as_ref() == Some(p)))
        .filter(|u| {
            use geo::Intersects;
            items.bbox.is_none() || u.geometry.intersects(&rect)
        })
        .collect();
    let matched = matching.len();
    let page: Vec<_> = matching
        .into_iter()
        .filter(|u| after.as_ref().is_none_or(|a| &u.code > a))
        .take(items.limit + 1)
        .collect();
    let more = page.len() > items.limit;
    let page = &page[..page.len().min(items.limit)];
    let next = more
        .then(|| page.last().map(|u| u.code.to_string()))
        .flatten();
    let features = page
        .iter()
        .map(|u| unit_feature(u))
        .collect::<Result<_, _>>()?;
    Ok((features, next, Some(matched)))
}

/// A unit as a feature: its code is its id.
pub(super) fn unit_feature(
    u: &crate::domain::spatial::units::Unit,
) -> Result<geojson::Feature, ApiError> {
    geojson_feature(
        Some(u.code.as_str().to_owned()),
        geojson::GeometryValue::from(&u.geometry),
        &UnitProperties {
            code: u.code.as_str(),
            name: &u.name,
            level: u.level,
            parent: u.parent.as_ref().map(UnitCode::as_str),
            synthetic: u.synthetic,
        },
    )
}

/// A unit feature's properties.
#[derive(Serialize)]
struct UnitProperties<'a> {
    code: &'a str,
    name: &'a str,
    level: UnitLevel,
    parent: Option<&'a str>,
    /// Generated rather than official.
    synthetic: bool,
}
