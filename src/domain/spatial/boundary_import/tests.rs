use super::topology::Plane;
use super::*;
use crate::domain::spatial::coords::haversine_m;
use geo::Rect;
use serde_json::json;

const PANJIN: &str = include_str!("../../../../data/boundaries/panjin_districts.gcj02.geojson");

/// A closed, counter-clockwise rectangular ring.
fn ring(x0: f64, y0: f64, x1: f64, y1: f64) -> Value {
    json!([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]])
}

fn polygon(rings: Vec<Value>) -> Value {
    json!({"type": "Polygon", "coordinates": rings})
}

fn feature(code: &str, name: &str, geometry: Value) -> Value {
    json!({"type": "Feature", "properties": {"code": code, "name": name}, "geometry": geometry})
}

fn collection(features: Vec<Value>) -> String {
    json!({"type": "FeatureCollection", "features": features}).to_string()
}

fn loaded(code: &str, name: &str, x0: f64, y0: f64, x1: f64, y1: f64) -> Unit {
    let code = UnitCode::parse(code).unwrap();
    Unit {
        level: code.level(),
        parent: code.parent(),
        code,
        name: name.to_owned(),
        geometry: MultiPolygon(vec![Rect::new((x0, y0), (x1, y1)).to_polygon()]),
        synthetic: true,
    }
}

/// The district the street tests cut up: 0.02° × 0.01° at 41° N, about 1.7 × 1.1 km.
fn district() -> Vec<Unit> {
    vec![loaded("999999", "示范区", 122.0, 41.0, 122.02, 41.01)]
}

/// Two streets splitting the district at `west_to` / `east_from` (122.01 when they
/// meet), the eastern one ending at `east_to` (122.02, the district's edge).
fn streets(west_to: f64, east_from: f64, east_to: f64) -> String {
    collection(vec![
        feature(
            "999999001",
            "西街道",
            polygon(vec![ring(122.0, 41.0, west_to, 41.01)]),
        ),
        feature(
            "999999002",
            "东街道",
            polygon(vec![ring(east_from, 41.0, east_to, 41.01)]),
        ),
    ])
}

fn import(level: UnitLevel, text: &str, existing: &[Unit]) -> Result<ImportOutcome, ImportReport> {
    import_boundaries(text, &ImportOptions::new(level), existing)
}

/// The findings as (feature, severity, kind), in report order.
fn kinds(report: &ImportReport) -> Vec<(Option<usize>, Severity, FindingKind)> {
    report
        .findings
        .iter()
        .map(|f| (f.feature, f.severity, f.kind))
        .collect()
}

fn refused(
    level: UnitLevel,
    text: &str,
    existing: &[Unit],
) -> Vec<(Option<usize>, Severity, FindingKind)> {
    let report = import(level, text, existing).expect_err("the import must be refused");
    kinds(&report)
}

fn one_street(geometry: Value) -> String {
    collection(vec![feature("999999001", "西街道", geometry)])
}

#[test]
fn streets_that_tile_their_district_import_without_findings() {
    let outcome = import(
        UnitLevel::Street,
        &streets(122.01, 122.01, 122.02),
        &district(),
    )
    .unwrap();
    assert_eq!(outcome.report.findings, vec![]);
    let codes: Vec<&str> = outcome.units.iter().map(|u| u.code.as_str()).collect();
    assert_eq!(codes, ["999999001", "999999002"]);
    assert!(outcome.units.iter().all(|u| u.level == UnitLevel::Street
        && u.parent.as_ref().map(UnitCode::as_str) == Some("999999")));
}

#[test]
fn a_file_that_is_not_a_feature_collection_is_refused() {
    let single = feature(
        "999999001",
        "西街道",
        polygon(vec![ring(122.0, 41.0, 122.01, 41.01)]),
    );
    for (text, kind) in [
        (single.to_string(), FindingKind::NotFeatureCollection),
        ("[1, 2]".to_owned(), FindingKind::NotFeatureCollection),
        (
            "{\"type\": \"FeatureCollection\"".to_owned(),
            FindingKind::MalformedJson,
        ),
        (collection(vec![]), FindingKind::NoFeatures),
    ] {
        assert_eq!(
            refused(UnitLevel::Street, &text, &district()),
            [(None, Severity::Error, kind)],
            "{text}"
        );
    }
}

#[test]
fn point_and_missing_geometries_are_refused() {
    for geometry in [
        json!({"type": "Point", "coordinates": [122.005, 41.005]}),
        json!({"type": "LineString", "coordinates": [[122.0, 41.0], [122.01, 41.01]]}),
        Value::Null,
    ] {
        assert_eq!(
            refused(UnitLevel::Street, &one_street(geometry), &district()),
            [(Some(0), Severity::Error, FindingKind::UnsupportedGeometry)]
        );
    }
}

#[test]
fn malformed_coordinates_are_refused() {
    for coordinates in [
        json!([[[122.0, 41.0], [122.01], [122.01, 41.01], [122.0, 41.0]]]),
        json!([[
            [122.0, 41.0],
            ["122.01", 41.0],
            [122.01, 41.01],
            [122.0, 41.0]
        ]]),
        json!([]),
        json!(122.0),
    ] {
        let geometry = json!({"type": "Polygon", "coordinates": coordinates});
        assert_eq!(
            refused(UnitLevel::Street, &one_street(geometry), &district()),
            [(Some(0), Severity::Error, FindingKind::MalformedCoordinates)],
            "{coordinates}"
        );
    }
}

#[test]
fn swapped_and_out_of_range_coordinates_are_refused() {
    // Latitude and longitude swapped: 122 is no latitude.
    let swapped = polygon(vec![json!([
        [41.0, 122.0],
        [41.0, 122.01],
        [41.01, 122.01],
        [41.0, 122.0]
    ])]);
    assert_eq!(
        refused(UnitLevel::Street, &one_street(swapped), &district()),
        [(Some(0), Severity::Error, FindingKind::CoordinateOutOfRange)]
    );
}

#[test]
fn an_unclosed_ring_is_refused_although_geo_would_close_it() {
    let open = json!([
        [122.0, 41.0],
        [122.01, 41.0],
        [122.01, 41.01],
        [122.0, 41.01]
    ]);
    // Converted to geo, the ring is closed silently and the polygon looks valid: this is
    // why closure is checked on the positions as written.
    let closed_by_geo = Polygon::new(
        LineString::from(vec![
            (122.0, 41.0),
            (122.01, 41.0),
            (122.01, 41.01),
            (122.0, 41.01),
        ]),
        vec![],
    );
    assert!(closed_by_geo.is_valid());
    assert_eq!(
        refused(
            UnitLevel::Street,
            &one_street(polygon(vec![open])),
            &district()
        ),
        [(Some(0), Severity::Error, FindingKind::UnclosedRing)]
    );
}

#[test]
fn a_ring_of_three_positions_is_refused() {
    let short = json!([[122.0, 41.0], [122.01, 41.0], [122.0, 41.0]]);
    assert_eq!(
        refused(
            UnitLevel::Street,
            &one_street(polygon(vec![short])),
            &district()
        ),
        [(Some(0), Severity::Error, FindingKind::TooFewPositions)]
    );
}

#[test]
fn a_bow_tie_is_refused_as_self_intersecting() {
    // The exterior crosses itself at (122.005, 41.005).
    let bow_tie = json!([
        [122.0, 41.0],
        [122.01, 41.01],
        [122.01, 41.0],
        [122.0, 41.01],
        [122.0, 41.0]
    ]);
    let report = import(
        UnitLevel::Street,
        &one_street(polygon(vec![bow_tie])),
        &district(),
    )
    .unwrap_err();
    assert_eq!(
        kinds(&report),
        [(Some(0), Severity::Error, FindingKind::InvalidPolygon)]
    );
    assert!(
        report.findings[0].message.contains("self-intersection"),
        "{}",
        report.findings[0].message
    );
}

#[test]
fn a_clockwise_exterior_and_a_counter_clockwise_hole_are_reversed_and_reported() {
    let mut exterior = ring(122.0, 41.0, 122.01, 41.01);
    exterior.as_array_mut().unwrap().reverse();
    let hole = ring(122.002, 41.002, 122.004, 41.004);
    let street = one_street(polygon(vec![exterior, hole]));
    let outcome = import(UnitLevel::Street, &street, &district()).unwrap();
    let fixed: Vec<_> = kinds(&outcome.report)
        .into_iter()
        .filter(|k| k.1 == Severity::Fixed)
        .collect();
    assert_eq!(
        fixed,
        [(Some(0), Severity::Fixed, FindingKind::WrongWinding)]
    );
    let message = &outcome.report.findings[0].message;
    assert!(
        message.contains("exterior ring of polygon 0") && message.contains("hole 0 of polygon 0"),
        "{message}"
    );
    let stored = &outcome.units[0].geometry.0[0];
    assert!(stored.exterior().is_ccw());
    assert!(stored.interiors()[0].is_cw());
}

#[test]
fn duplicate_codes_are_refused() {
    let text = collection(vec![
        feature(
            "999999001",
            "西街道",
            polygon(vec![ring(122.0, 41.0, 122.01, 41.01)]),
        ),
        feature(
            "999999001",
            "东街道",
            polygon(vec![ring(122.01, 41.0, 122.02, 41.01)]),
        ),
    ]);
    assert_eq!(
        refused(UnitLevel::Street, &text, &district()),
        [(Some(1), Severity::Error, FindingKind::DuplicateCode)]
    );
}

#[test]
fn codes_must_have_the_length_of_the_level() {
    for code in ["999999", "99999900", "999999001001", "99999900a"] {
        let text = collection(vec![feature(
            code,
            "西街道",
            polygon(vec![ring(122.0, 41.0, 122.01, 41.01)]),
        )]);
        assert_eq!(
            refused(UnitLevel::Street, &text, &district()),
            [(Some(0), Severity::Error, FindingKind::BadCode)],
            "{code}"
        );
    }
}

#[test]
fn missing_code_and_name_are_refused() {
    let text = collection(vec![json!({
        "type": "Feature",
        "properties": {"名称": "西街道"},
        "geometry": polygon(vec![ring(122.0, 41.0, 122.01, 41.01)]),
    })]);
    assert_eq!(
        refused(UnitLevel::Street, &text, &district()),
        [
            (Some(0), Severity::Error, FindingKind::MissingCode),
            (Some(0), Severity::Error, FindingKind::MissingName),
        ]
    );
}

#[test]
fn a_street_sticking_out_of_its_district_is_refused() {
    // 0.001° of longitude at 41° N is about 84 m: a strip 84 m wide and 1.1 km long.
    assert_eq!(
        refused(
            UnitLevel::Street,
            &streets(122.01, 122.01, 122.021),
            &district()
        ),
        [(Some(1), Severity::Error, FindingKind::OutsideParent)]
    );
}

#[test]
fn a_street_a_metre_past_its_district_is_tolerated() {
    // 0.00001° of longitude at 41° N is about 0.84 m, within the 5 m tolerance.
    let outcome = import(
        UnitLevel::Street,
        &streets(122.01, 122.01, 122.02001),
        &district(),
    )
    .unwrap();
    assert_eq!(outcome.report.findings, vec![]);
}

#[test]
fn a_street_whose_district_is_not_loaded_is_refused() {
    assert_eq!(
        refused(UnitLevel::Street, &streets(122.01, 122.01, 122.02), &[]),
        [
            (Some(0), Severity::Error, FindingKind::ParentNotLoaded),
            (Some(1), Severity::Error, FindingKind::ParentNotLoaded),
        ]
    );
}

#[test]
fn overlapping_streets_are_refused() {
    // The western street reaches 0.001° (about 84 m) into the eastern one.
    assert_eq!(
        refused(
            UnitLevel::Street,
            &streets(122.011, 122.01, 122.02),
            &district()
        ),
        [(Some(1), Severity::Error, FindingKind::SiblingOverlap)]
    );
}

#[test]
fn a_gap_between_streets_is_a_warning_that_does_not_block() {
    // A strip 0.001° (about 84 m) wide and 0.01° (about 1.1 km) long belongs to neither.
    let outcome = import(
        UnitLevel::Street,
        &streets(122.009, 122.01, 122.02),
        &district(),
    )
    .unwrap();
    assert_eq!(outcome.units.len(), 2);
    assert_eq!(
        kinds(&outcome.report),
        [(None, Severity::Warning, FindingKind::SiblingGap)]
    );
    let gap = &outcome.report.findings[0];
    assert_eq!(gap.code.as_deref(), Some("999999"));
    // By hand: 0.001° × cos 41.005° × 111,195 m = 83.9 m; 0.01° × 111,195 m = 1,112 m;
    // 83.9 m × 1,112 m ≈ 93,300 m².
    assert!(gap.message.contains("93"), "{}", gap.message);
}

#[test]
fn any_error_refuses_the_whole_file_and_reports_every_feature() {
    let text = collection(vec![
        feature(
            "999999001",
            "西街道",
            polygon(vec![ring(122.0, 41.0, 122.01, 41.01)]),
        ),
        feature(
            "999999002",
            "东街道",
            json!({"type": "Point", "coordinates": [122.015, 41.005]}),
        ),
        feature(
            "99999900",
            "北街道",
            polygon(vec![ring(122.01, 41.0, 122.02, 41.01)]),
        ),
    ]);
    assert_eq!(
        refused(UnitLevel::Street, &text, &district()),
        [
            (Some(1), Severity::Error, FindingKind::UnsupportedGeometry),
            (Some(2), Severity::Error, FindingKind::BadCode),
        ]
    );
}

#[test]
fn a_parent_property_names_the_parent_and_a_mismatch_with_the_prefix_is_said() {
    let mut existing = district();
    existing.push(loaded("888888", "邻区", 122.0, 41.0, 122.02, 41.01));
    let text = collection(vec![json!({
        "type": "Feature",
        "properties": {"code": "999999001", "name": "西街道", "district": "888888"},
        "geometry": polygon(vec![ring(122.0, 41.0, 122.02, 41.01)]),
    })]);
    let opts = ImportOptions {
        parent_property: Some("district".to_owned()),
        ..ImportOptions::new(UnitLevel::Street)
    };
    let outcome = import_boundaries(&text, &opts, &existing).unwrap();
    assert_eq!(
        outcome.units[0].parent.as_ref().map(UnitCode::as_str),
        Some("888888")
    );
    assert_eq!(
        kinds(&outcome.report),
        [
            (Some(0), Severity::Warning, FindingKind::ParentNotPrefix),
            (None, Severity::Warning, FindingKind::SiblingGap),
        ],
        "999999 is left without streets"
    );
}

#[test]
fn reimporting_streets_reports_communities_left_without_theirs() {
    let mut existing = district();
    existing.push(loaded("999999003", "旧街道", 122.0, 41.0, 122.02, 41.01));
    existing.push(loaded(
        "999999003001",
        "景园社区",
        122.0,
        41.0,
        122.01,
        41.01,
    ));
    existing.push(loaded(
        "999999003002",
        "兴油社区",
        122.01,
        41.0,
        122.02,
        41.01,
    ));
    let outcome = import(
        UnitLevel::Street,
        &streets(122.01, 122.01, 122.02),
        &existing,
    )
    .unwrap();
    assert_eq!(
        kinds(&outcome.report),
        [(None, Severity::Warning, FindingKind::OrphanedChildren)]
    );
    assert_eq!(
        outcome.report.findings[0].code.as_deref(),
        Some("999999003")
    );
    assert!(
        outcome.report.findings[0]
            .message
            .starts_with("2 loaded community")
    );
}

#[test]
fn findings_serialise_with_stable_snake_case_names() {
    let report = import(
        UnitLevel::Street,
        &one_street(json!({"type": "Point", "coordinates": [122.0, 41.0]})),
        &district(),
    )
    .unwrap_err();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json,
        json!({"findings": [{
            "feature": 0,
            "code": "999999001",
            "severity": "error",
            "kind": "unsupported_geometry",
            "message": report.findings[0].message,
        }]})
    );
}

#[test]
fn the_report_reads_as_one_line_for_people() {
    let text = streets(122.01, 122.01, 122.02).replace("999999002", "99999900");
    let report = import(UnitLevel::Street, &text, &district()).unwrap_err();
    assert_eq!(
        report.to_string(),
        "errors 1, fixed 0, warnings 0; first: error feature 1 (99999900): code \"99999900\" \
             has 8 digits; a street code has 9 in the 15-digit scheme (district 6 + street 3 + \
             community 3 + grid 3)"
    );
}

#[test]
fn areas_on_the_plane_are_areas_on_the_ground() {
    let cell = MultiPolygon(vec![Rect::new((122.0, 41.0), (122.01, 41.01)).to_polygon()]);
    let plane = Plane::around(&[&cell]).unwrap();
    // By hand: 0.01° of latitude is 1,111.95 m and 0.01° of longitude at the middle
    // latitude 41.005° is 1,111.95 m × cos 41.005° = 839.15 m: 933,090 m².
    let area = plane.shape(&cell).area;
    assert!((area / 933_090.0 - 1.0).abs() < 0.005, "{area}");
}

#[test]
fn the_panjin_districts_import_cleanly_from_gcj02() {
    // The districts share their edges exactly, so they import even with no tolerance.
    let opts = ImportOptions {
        datum: Datum::Gcj02,
        tolerance_m: 0.0,
        ..ImportOptions::new(UnitLevel::District)
    };
    let outcome = import_boundaries(PANJIN, &opts, &[]).unwrap();
    // AMap draws exteriors clockwise (the shoelace sum of every ring in the file is
    // negative), so each district is reported as rewound, and nothing else.
    assert_eq!(
        kinds(&outcome.report),
        (0..4)
            .map(|i| (Some(i), Severity::Fixed, FindingKind::WrongWinding))
            .collect::<Vec<_>>()
    );
    assert!(
        outcome
            .units
            .iter()
            .flat_map(|u| &u.geometry.0)
            .all(|p| p.exterior().is_ccw())
    );
    let units: Vec<(&str, &str, usize)> = outcome
        .units
        .iter()
        .map(|u| (u.code.as_str(), u.name.as_str(), u.geometry.0.len()))
        .collect();
    // 盘山县 is drawn as two polygons and stays one unit.
    assert_eq!(
        units,
        [
            ("211102", "双台子区", 1),
            ("211103", "兴隆台区", 1),
            ("211104", "大洼区", 1),
            ("211122", "盘山县", 2),
        ]
    );
    assert!(outcome.units.iter().all(|u| u.parent.is_none()));
    // GCJ-02 shifts positions in Panjin by hundreds of metres; the stored outline is
    // the WGS-84 one.
    let gcj = Coord {
        x: 122.082233,
        y: 41.187761,
    };
    let stored = outcome.units[0].geometry.0[0].exterior().0[0];
    let shift = haversine_m(gcj, stored);
    assert!((100.0..1000.0).contains(&shift), "moved {shift} m");
}

/// 80,000 grids of 0.0012° × 0.0009° (about 100 m × 100 m at 41° N), 20 × 20 in each of
/// 200 communities laid out 10 × 20: the size of the demo's grid level.
fn demo_sized_grids() -> (Vec<Unit>, String) {
    const PER_SIDE: usize = 20;
    let (dx, dy) = (0.0012, 0.0009);
    let x = |i: usize| 122.0 + i as f64 * dx;
    let y = |j: usize| 41.0 + j as f64 * dy;
    let mut communities = Vec::new();
    let mut features = Vec::new();
    for c in 0..200 {
        let (ci, cj) = ((c % 10) * PER_SIDE, (c / 10) * PER_SIDE);
        let community = format!("999999001{:03}", c + 1);
        communities.push(loaded(
            &community,
            "社区",
            x(ci),
            y(cj),
            x(ci + PER_SIDE),
            y(cj + PER_SIDE),
        ));
        for g in 0..PER_SIDE * PER_SIDE {
            let (i, j) = (ci + g % PER_SIDE, cj + g / PER_SIDE);
            let (x0, y0, x1, y1) = (x(i), y(j), x(i + 1), y(j + 1));
            features.push(format!(
                    r#"{{"type":"Feature","properties":{{"code":"{community}{:03}","name":"网格"}},"geometry":{{"type":"Polygon","coordinates":[[[{x0},{y0}],[{x1},{y0}],[{x1},{y1}],[{x0},{y1}],[{x0},{y0}]]]}}}}"#,
                    g + 1
                ));
        }
    }
    let text = format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        features.join(",")
    );
    (communities, text)
}

#[test]
fn eighty_thousand_grids_tiling_their_communities_import_without_findings() {
    let (communities, text) = demo_sized_grids();
    let outcome = import(UnitLevel::Grid, &text, &communities).unwrap();
    assert_eq!(outcome.units.len(), 80_000);
    assert_eq!(outcome.report.findings, vec![]);
}
