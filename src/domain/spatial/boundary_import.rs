//! Boundary import: a GeoJSON FeatureCollection of Polygon/MultiPolygon features in, the
//! units of one level out, or, if anything is wrong, the full report and no units at all
//! (`citysnap import boundaries`, issue 2 "Jurisdictions").
//!
//! Pure: text in, units or a report out. The caller (CLI, API) stores the units and prints
//! the report; `existing` is what the store already holds.
//!
//! What is checked, per feature:
//! - the file is a FeatureCollection (RFC 7946 §3.3) with at least one feature;
//! - each feature has a Polygon or MultiPolygon geometry (RFC 7946 §3.1.6, §3.1.7) whose
//!   positions are finite lon/lat in range, whose rings are closed and have at least four
//!   positions (checked on the raw positions, because converting to `geo` closes rings
//!   silently), and which is valid in the OGC Simple Features sense (no self-intersection,
//!   holes inside their exterior, parts that do not overlap: geo's `Validation`);
//! - rings wound against RFC 7946 §3.1.6 (exterior counter-clockwise, holes clockwise) are
//!   reversed and reported as `fixed`;
//! - the code property holds a code of the level's length in the 15-digit scheme
//!   ([`UnitCode`]), unique in the file, and the name property a non-blank name;
//! - the parent (from the parent property, or else the code prefix) is loaded, and the unit
//!   lies inside it;
//! - siblings (the units of the file) do not overlap, and together cover each parent.
//!
//! Loading a level replaces every unit already loaded at that level: `existing` only
//! supplies the parents (the level above), and the level below, whose units are reported
//! when the import drops the parent they name.
//!
//! **Tolerance.** Real boundaries from different sources disagree by a few metres along
//! shared edges, so the part of a unit outside its parent, an overlap and a gap are each
//! measured by the thickness of their pieces, `2 · area / perimeter` (the width of a long
//! thin strip, half the side of a square), and only a piece thicker than
//! [`ImportOptions::tolerance_m`] is reported. Areas and lengths are measured on a
//! cylindrical equal-area projection of the sphere centred on the import (Snyder 1987, USGS
//! Professional Paper 1395, ch. 10), so an area in the plane is the area on the ground.
//!
//! **Severity.** Errors refuse the whole import. Overlaps are errors because a point in an
//! overlap has two owners; a child outside its parent is one because a point there would
//! resolve to a child whose parent does not hold it. Gaps are warnings: the resolver lets a chain stop at the parent
//! where no child holds a point, and a deployment may cover only part of a parent.
//!
//! **Cost.** Sibling pairs come from an R-tree over envelopes, and a pair is intersected
//! only when their envelopes share area. A child whose envelope crosses no edge of its
//! parent is inside or outside as a whole, so only children on the parent's edge are
//! clipped. Gaps are bounded first by areas (parent − Σ children inside it + Σ overlaps); the
//! union of the children is computed only for parents where that bound leaves room for a
//! piece thicker than the tolerance.

use std::collections::HashMap;
use std::fmt;

use geo::{Coord, LineString, MultiPolygon, Polygon, Validation, Winding};
use serde::Serialize;
use serde_json::{Map, Value};

use super::coords::LonLat;
use super::datum::Datum;
use super::units::{Unit, UnitCode, UnitCodeError, UnitLevel};

/// Default tolerance: the few metres by which two careful digitisations of the same
/// boundary commonly disagree.
pub const DEFAULT_TOLERANCE_M: f64 = 5.0;

/// How to read the file.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// The level every feature of the file belongs to.
    pub level: UnitLevel,
    /// The datum of the file's coordinates; they are converted to WGS-84.
    pub datum: Datum,
    /// The property holding the unit code (default `code`).
    pub code_property: String,
    /// The property holding the unit name (default `name`).
    pub name_property: String,
    /// The property holding the parent's code; `None` derives it from the code prefix.
    /// Ignored (with a warning) at district level, which has no parent level.
    pub parent_property: Option<String>,
    /// Pieces (outside the parent, overlaps, gaps) thinner than this are tolerated.
    pub tolerance_m: f64,
}

impl ImportOptions {
    /// The defaults for `level`: WGS-84, properties `code` and `name`, parents by code
    /// prefix, [`DEFAULT_TOLERANCE_M`].
    pub fn new(level: UnitLevel) -> Self {
        Self {
            level,
            datum: Datum::Wgs84,
            code_property: "code".to_owned(),
            name_property: "name".to_owned(),
            parent_property: None,
            tolerance_m: DEFAULT_TOLERANCE_M,
        }
    }
}

/// An accepted import: the units to store (they replace the level) and the findings that
/// did not block it (fixes and warnings).
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOutcome {
    pub units: Vec<Unit>,
    pub report: ImportReport,
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Refuses the import.
    Error,
    /// Corrected on import; the stored unit differs from the file as the message says.
    Fixed,
    /// Worth knowing; imported as given.
    Warning,
}

/// What a finding is about: a stable, machine-readable code for CLI and API output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// The text is not JSON.
    MalformedJson,
    /// The JSON is not a GeoJSON FeatureCollection (RFC 7946 §3.3).
    NotFeatureCollection,
    /// The collection has no features: importing it would empty the level.
    NoFeatures,
    /// A member of `features` is not a Feature object (RFC 7946 §3.2).
    NotAFeature,
    /// No geometry, or one that is not Polygon or MultiPolygon.
    UnsupportedGeometry,
    /// `coordinates` do not have the shape their geometry type requires (RFC 7946 §3.1).
    MalformedCoordinates,
    /// A position is not finite, or lies outside longitude ±180° / latitude ±90°.
    CoordinateOutOfRange,
    /// Positions carry an altitude, which is dropped (RFC 7946 §3.1.1 allows it).
    AltitudeDropped,
    /// A ring's last position differs from its first (RFC 7946 §3.1.6).
    UnclosedRing,
    /// A ring has fewer than four positions (RFC 7946 §3.1.6).
    TooFewPositions,
    /// Not a valid polygon in the OGC Simple Features sense: a self-intersection, a hole
    /// outside its exterior, overlapping parts.
    InvalidPolygon,
    /// A ring was wound against RFC 7946 §3.1.6 and has been reversed.
    WrongWinding,
    /// The code property is missing.
    MissingCode,
    /// The code is not a code of the level in the 15-digit scheme.
    BadCode,
    /// The code is a JSON number rather than a string; it is read as its digits.
    NumericCode,
    /// The name property is missing or blank.
    MissingName,
    /// The parent property is missing or not a code of the level above.
    BadParent,
    /// The parent property names a parent other than the code's prefix.
    ParentNotPrefix,
    /// Two features share a code.
    DuplicateCode,
    /// The parent is not loaded.
    ParentNotLoaded,
    /// Part of the unit lies outside its parent, beyond the tolerance.
    OutsideParent,
    /// Two units of the file overlap beyond the tolerance.
    SiblingOverlap,
    /// Part of a parent is covered by none of its children, beyond the tolerance.
    SiblingGap,
    /// Units already loaded at the level below name a parent the import drops.
    OrphanedChildren,
}

/// One thing the import found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Position of the feature in `features`, from 0; `None` for the file as a whole and for
    /// findings about a parent (a gap) or about units already loaded.
    pub feature: Option<usize>,
    /// The unit code concerned, as written in the file, when there is one.
    pub code: Option<String>,
    pub severity: Severity,
    pub kind: FindingKind,
    /// What is wrong and where, for people.
    pub message: String,
}

/// One line for people: `error feature 3 (211103001): the exterior ring … is not closed`.
impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.severity {
            Severity::Error => "error",
            Severity::Fixed => "fixed",
            Severity::Warning => "warning",
        })?;
        if let Some(i) = self.feature {
            write!(f, " feature {i}")?;
        }
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Everything the import found. As the error of [`import_boundaries`] it holds at least one
/// [`Severity::Error`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportReport {
    pub findings: Vec<Finding>,
}

impl ImportReport {
    pub fn has_errors(&self) -> bool {
        self.count(Severity::Error) > 0
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    fn push(
        &mut self,
        feature: Option<usize>,
        code: Option<&str>,
        severity: Severity,
        kind: FindingKind,
        message: impl Into<String>,
    ) {
        self.findings.push(Finding {
            feature,
            code: code.map(str::to_owned),
            severity,
            kind,
            message: message.into(),
        });
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "errors {}, fixed {}, warnings {}",
            self.count(Severity::Error),
            self.count(Severity::Fixed),
            self.count(Severity::Warning)
        )?;
        if let Some(first) = self.findings.iter().find(|x| x.severity == Severity::Error) {
            write!(f, "; first: {first}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ImportReport {}

/// Reads, checks and converts the boundaries in `geojson_text`. Returns the units, which
/// replace every unit loaded at `opts.level`, or the full report if any finding is an error.
pub fn import_boundaries(
    geojson_text: &str,
    opts: &ImportOptions,
    existing: &[Unit],
) -> Result<ImportOutcome, ImportReport> {
    let mut report = ImportReport::default();
    let features = match features(geojson_text) {
        Ok(features) => features,
        Err((kind, message)) => {
            report.push(None, None, Severity::Error, kind, message);
            return Err(report);
        }
    };
    let parsed: Vec<Option<Candidate>> = features
        .into_iter()
        .enumerate()
        .map(|(index, value)| parse_feature(index, &value, opts, &mut report))
        .collect();
    let candidates = drop_duplicates(parsed.into_iter().flatten().collect(), &mut report);
    let complete = !report.has_errors();
    check_spatial(&candidates, opts, existing, complete, &mut report);
    report_orphans(&candidates, opts, existing, &mut report);
    if report.has_errors() {
        return Err(report);
    }
    let units = candidates
        .into_iter()
        .map(|c| Unit {
            code: c.code,
            name: c.name,
            level: opts.level,
            parent: c.parent,
            geometry: c.geometry,
            synthetic: false,
        })
        .collect();
    Ok(ImportOutcome { units, report })
}

/// The members of `features`, or why the text is not a FeatureCollection.
fn features(text: &str) -> Result<Vec<Value>, (FindingKind, String)> {
    // `FromStr` rather than `serde_json::from_str`: the same parser, but instantiated (and
    // optimised) inside serde_json, which halves the time of a dev build on 80,000 grids.
    let root: Value = text
        .parse()
        .map_err(|e| (FindingKind::MalformedJson, format!("not JSON: {e}")))?;
    let not_collection = |what: &str| {
        (
            FindingKind::NotFeatureCollection,
            format!("{what}; expected a GeoJSON FeatureCollection (RFC 7946 §3.3)"),
        )
    };
    let Value::Object(mut root) = root else {
        return Err(not_collection("the top level is not an object"));
    };
    match root.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => {}
        Some(other) => return Err(not_collection(&format!("the file is a {other}"))),
        None => return Err(not_collection("the top level has no type")),
    }
    match root.remove("features") {
        Some(Value::Array(features)) if features.is_empty() => Err((
            FindingKind::NoFeatures,
            "the collection has no features; importing it would empty the level".to_owned(),
        )),
        Some(Value::Array(features)) => Ok(features),
        _ => Err(not_collection("`features` is missing or not an array")),
    }
}

/// A feature that passed every per-feature check.
struct Candidate {
    feature: usize,
    code: UnitCode,
    name: String,
    parent: Option<UnitCode>,
    /// WGS-84, wound as RFC 7946 §3.1.6 says.
    geometry: MultiPolygon<f64>,
}

/// Collects the findings of one feature and remembers whether any was an error.
struct FeatureFindings<'r> {
    index: usize,
    code: Option<String>,
    failed: bool,
    report: &'r mut ImportReport,
}

impl FeatureFindings<'_> {
    fn push(&mut self, severity: Severity, kind: FindingKind, message: impl Into<String>) {
        self.failed |= severity == Severity::Error;
        self.report.push(
            Some(self.index),
            self.code.as_deref(),
            severity,
            kind,
            message,
        );
    }

    fn error(&mut self, kind: FindingKind, message: impl Into<String>) {
        self.push(Severity::Error, kind, message);
    }

    fn warning(&mut self, kind: FindingKind, message: impl Into<String>) {
        self.push(Severity::Warning, kind, message);
    }
}

fn parse_feature(
    index: usize,
    value: &Value,
    opts: &ImportOptions,
    report: &mut ImportReport,
) -> Option<Candidate> {
    let mut ff = FeatureFindings {
        index,
        code: None,
        failed: false,
        report,
    };
    let feature = value
        .as_object()
        .filter(|o| o.get("type").and_then(Value::as_str) == Some("Feature"));
    let Some(feature) = feature else {
        ff.error(
            FindingKind::NotAFeature,
            "not a GeoJSON Feature object (RFC 7946 §3.2)",
        );
        return None;
    };
    let empty = Map::new();
    let properties = feature
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let code = parse_code(&mut ff, properties, opts);
    let name = parse_name(&mut ff, properties, opts);
    let parent = parse_parent(&mut ff, properties, code.as_ref(), opts);
    let geometry = parse_geometry(&mut ff, feature.get("geometry"), opts.datum);
    if ff.failed {
        return None;
    }
    Some(Candidate {
        feature: index,
        code: code?,
        name: name?,
        parent: parent?,
        geometry: geometry?,
    })
}

/// The code, which also names the feature in every later finding.
fn parse_code(
    ff: &mut FeatureFindings,
    properties: &Map<String, Value>,
    opts: &ImportOptions,
) -> Option<UnitCode> {
    let property = &opts.code_property;
    let text = match properties.get(property) {
        None | Some(Value::Null) => {
            ff.error(
                FindingKind::MissingCode,
                format!("property `{property}` (the unit code) is missing"),
            );
            return None;
        }
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) if n.is_u64() => {
            ff.code = Some(n.to_string());
            ff.warning(
                FindingKind::NumericCode,
                format!("code {n} is a JSON number; read as the string \"{n}\""),
            );
            n.to_string()
        }
        Some(other) => {
            ff.error(
                FindingKind::BadCode,
                format!("property `{property}` must be a string of digits, got {other}"),
            );
            return None;
        }
    };
    ff.code = Some(text.clone());
    let level = opts.level;
    match UnitCode::parse(&text) {
        Ok(code) if code.level() == level => Some(code),
        Err(UnitCodeError::NotDigits(_)) => {
            ff.error(
                FindingKind::BadCode,
                format!("code {text:?} must contain only digits"),
            );
            None
        }
        Ok(_) | Err(UnitCodeError::BadLength(_)) => {
            ff.error(
                FindingKind::BadCode,
                format!(
                    "code {text:?} has {} digits; a {level} code has {} in the 15-digit \
                     scheme (district 6 + street 3 + community 3 + grid 3)",
                    text.len(),
                    level.code_len()
                ),
            );
            None
        }
    }
}

fn parse_name(
    ff: &mut FeatureFindings,
    properties: &Map<String, Value>,
    opts: &ImportOptions,
) -> Option<String> {
    match properties.get(&opts.name_property) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        _ => {
            ff.error(
                FindingKind::MissingName,
                format!(
                    "property `{}` (the unit name) is missing, blank or not a string",
                    opts.name_property
                ),
            );
            None
        }
    }
}

/// The parent code: `Some(None)` at the top level, `None` if it cannot be known.
fn parse_parent(
    ff: &mut FeatureFindings,
    properties: &Map<String, Value>,
    code: Option<&UnitCode>,
    opts: &ImportOptions,
) -> Option<Option<UnitCode>> {
    let Some(parent_level) = opts.level.parent() else {
        if let Some(p) = &opts.parent_property {
            ff.warning(
                FindingKind::BadParent,
                format!("districts are the top level: property `{p}` is ignored"),
            );
        }
        return Some(None);
    };
    let Some(property) = &opts.parent_property else {
        return code.map(|c| c.parent());
    };
    let parent = properties
        .get(property)
        .and_then(Value::as_str)
        .and_then(|s| UnitCode::parse(s).ok())
        .filter(|p| p.level() == parent_level);
    let Some(parent) = parent else {
        ff.error(
            FindingKind::BadParent,
            format!(
                "property `{property}` must hold the code of a {parent_level} ({} digits)",
                parent_level.code_len()
            ),
        );
        return None;
    };
    if let Some(prefix) = code.and_then(UnitCode::parent)
        && prefix != parent
    {
        ff.warning(
            FindingKind::ParentNotPrefix,
            format!(
                "parent {parent} (from `{property}`) is not the code's prefix {prefix}; \
                 using {parent}"
            ),
        );
    }
    Some(Some(parent))
}

/// The rings of one polygon as written in the file: lon/lat, altitude dropped.
type RawPolygon = Vec<Vec<[f64; 2]>>;

/// The geometry in WGS-84, checked and wound per RFC 7946 §3.1.6.
fn parse_geometry(
    ff: &mut FeatureFindings,
    geometry: Option<&Value>,
    datum: Datum,
) -> Option<MultiPolygon<f64>> {
    let Some(geometry) = geometry.and_then(Value::as_object) else {
        ff.error(
            FindingKind::UnsupportedGeometry,
            "the feature has no geometry; expected Polygon or MultiPolygon",
        );
        return None;
    };
    let coordinates = geometry.get("coordinates").unwrap_or(&Value::Null);
    let mut altitude = false;
    let raw = match geometry.get("type").and_then(Value::as_str) {
        Some("Polygon") => raw_polygon(coordinates, &mut altitude).map(|p| vec![p]),
        Some("MultiPolygon") => array(coordinates, "MultiPolygon coordinates").and_then(|ps| {
            ps.iter()
                .enumerate()
                .map(|(i, p)| {
                    raw_polygon(p, &mut altitude).map_err(|e| format!("polygon {i}: {e}"))
                })
                .collect()
        }),
        Some(other) => {
            ff.error(
                FindingKind::UnsupportedGeometry,
                format!(
                    "{other} geometry; only Polygon and MultiPolygon bound an area \
                     (RFC 7946 §3.1.6, §3.1.7)"
                ),
            );
            return None;
        }
        None => {
            ff.error(FindingKind::UnsupportedGeometry, "the geometry has no type");
            return None;
        }
    };
    let raw = match raw {
        Ok(raw) if raw.is_empty() => Err("a MultiPolygon with no polygons".to_owned()),
        other => other,
    };
    let raw = match raw {
        Ok(raw) => raw,
        Err(e) => {
            ff.error(FindingKind::MalformedCoordinates, e);
            return None;
        }
    };
    if altitude {
        ff.warning(
            FindingKind::AltitudeDropped,
            "positions carry an altitude; only longitude and latitude are kept",
        );
    }
    if !check_rings(ff, &raw) {
        return None;
    }
    let mut geometry = to_wgs84(&raw, datum);
    let invalid = geometry.validation_errors();
    for e in &invalid {
        ff.error(FindingKind::InvalidPolygon, e.to_string());
    }
    if !invalid.is_empty() {
        return None;
    }
    let reversed = orient(&mut geometry);
    if !reversed.is_empty() {
        ff.push(
            Severity::Fixed,
            FindingKind::WrongWinding,
            format!(
                "reversed {} to the RFC 7946 §3.1.6 winding (exterior counter-clockwise, \
                 holes clockwise)",
                reversed.join(", ")
            ),
        );
    }
    Some(geometry)
}

fn array<'v>(value: &'v Value, what: &str) -> Result<&'v Vec<Value>, String> {
    value
        .as_array()
        .ok_or_else(|| format!("{what} must be an array, got {value}"))
}

fn raw_polygon(value: &Value, altitude: &mut bool) -> Result<RawPolygon, String> {
    let rings = array(value, "a polygon")?;
    if rings.is_empty() {
        return Err("a polygon has no rings".to_owned());
    }
    rings
        .iter()
        .enumerate()
        .map(|(r, ring)| {
            array(ring, "a ring")?
                .iter()
                .enumerate()
                .map(|(k, p)| position(p, altitude).map_err(|e| format!("ring {r}, {k}: {e}")))
                .collect()
        })
        .collect()
}

fn position(value: &Value, altitude: &mut bool) -> Result<[f64; 2], String> {
    let numbers = array(value, "a position")?
        .iter()
        .map(|n| {
            n.as_f64()
                .ok_or_else(|| format!("position element {n} is not a number"))
        })
        .collect::<Result<Vec<f64>, String>>()?;
    match numbers[..] {
        [lon, lat] => Ok([lon, lat]),
        [lon, lat, ..] => {
            *altitude = true;
            Ok([lon, lat])
        }
        _ => Err("a position needs a longitude and a latitude".to_owned()),
    }
}

fn ring_name(polygon: usize, ring: usize) -> String {
    match ring {
        0 => format!("the exterior ring of polygon {polygon}"),
        hole => format!("hole {} of polygon {polygon}", hole - 1),
    }
}

/// Checks on the positions as written: range, closure and length (RFC 7946 §3.1.6).
fn check_rings(ff: &mut FeatureFindings, raw: &[RawPolygon]) -> bool {
    let mut ok = true;
    for (p, rings) in raw.iter().enumerate() {
        for (r, ring) in rings.iter().enumerate() {
            let name = ring_name(p, r);
            let bad = ring
                .iter()
                .enumerate()
                .find_map(|(k, &[lon, lat])| LonLat::parse(lon, lat).err().map(|e| (k, e)));
            if let Some((k, e)) = bad {
                ff.error(
                    FindingKind::CoordinateOutOfRange,
                    format!("{name}, position {k}: {e}"),
                );
                ok = false;
            }
            if ring.len() < 4 {
                ff.error(
                    FindingKind::TooFewPositions,
                    format!(
                        "{name} has {} positions; a linear ring needs at least four",
                        ring.len()
                    ),
                );
                ok = false;
            } else if ring.first() != ring.last() {
                ff.error(
                    FindingKind::UnclosedRing,
                    format!(
                        "{name} ends at {:?}, not at its first position {:?}",
                        ring[ring.len() - 1],
                        ring[0]
                    ),
                );
                ok = false;
            }
        }
    }
    ok
}

fn to_wgs84(raw: &[RawPolygon], datum: Datum) -> MultiPolygon<f64> {
    let ring = |positions: &Vec<[f64; 2]>| {
        LineString(
            positions
                .iter()
                .map(|&[lon, lat]| {
                    let (x, y) = datum.to_wgs84(lon, lat);
                    Coord { x, y }
                })
                .collect(),
        )
    };
    MultiPolygon(
        raw.iter()
            .map(|rings| Polygon::new(ring(&rings[0]), rings[1..].iter().map(ring).collect()))
            .collect(),
    )
}

/// Winds exteriors counter-clockwise and holes clockwise (RFC 7946 §3.1.6); returns the
/// rings it reversed.
fn orient(geometry: &mut MultiPolygon<f64>) -> Vec<String> {
    let mut reversed = Vec::new();
    for (p, polygon) in geometry.0.iter_mut().enumerate() {
        if polygon.exterior().is_cw() {
            polygon.exterior_mut(|r| r.make_ccw_winding());
            reversed.push(ring_name(p, 0));
        }
        polygon.interiors_mut(|holes| {
            for (h, hole) in holes.iter_mut().enumerate() {
                if hole.is_ccw() {
                    hole.make_cw_winding();
                    reversed.push(ring_name(p, h + 1));
                }
            }
        });
    }
    reversed
}

/// Keeps the first feature of each code and reports the others.
fn drop_duplicates(candidates: Vec<Candidate>, report: &mut ImportReport) -> Vec<Candidate> {
    let mut first: HashMap<UnitCode, usize> = HashMap::with_capacity(candidates.len());
    candidates
        .into_iter()
        .filter(|c| match first.get(&c.code) {
            Some(&earlier) => {
                report.push(
                    Some(c.feature),
                    Some(c.code.as_str()),
                    Severity::Error,
                    FindingKind::DuplicateCode,
                    format!("code {} is already used by feature {earlier}", c.code),
                );
                false
            }
            None => {
                first.insert(c.code.clone(), c.feature);
                true
            }
        })
        .collect()
}

mod topology;
use topology::{check_spatial, report_orphans};

#[cfg(test)]
mod tests;
