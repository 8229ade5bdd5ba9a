//! Resolution against the real district outlines of Panjin (and Jining, far away): the pure
//! resolver, no store or HTTP involved.

use citysnap::domain::spatial::resolver::{Jurisdiction, Resolution, ResolverSettings};
use citysnap::domain::spatial::units::Unit;
use geo::{CoordsIter, InteriorPoint};

use crate::helpers::*;

fn panjin() -> (Jurisdiction, Vec<Unit>) {
    let units = panjin_districts();
    let j = Jurisdiction::new(
        units.clone(),
        Some("盘锦市".into()),
        ResolverSettings::default(),
    )
    .unwrap();
    (j, units)
}

fn code_at(j: &Jurisdiction, c: geo::Coord<f64>) -> String {
    match j.resolve(c) {
        Resolution::Inside(p) => j.unit(p.unit).code.to_string(),
        Resolution::OutOfArea { .. } => "out".into(),
    }
}

#[test]
fn every_district_holds_its_own_interior_points_including_each_part_of_a_multipolygon() {
    let (j, units) = panjin();
    for u in &units {
        for part in &u.geometry.0 {
            let p = part.interior_point().expect("non-empty part").0;
            assert_eq!(code_at(&j, p), u.code.as_str(), "{} part at {p:?}", u.name);
        }
    }
    let pan_shan = units.iter().find(|u| u.code.as_str() == "211122").unwrap();
    assert_eq!(pan_shan.geometry.0.len(), 2, "盘山县 is a multipolygon");
}

#[test]
fn a_vertex_shared_by_two_districts_goes_to_the_smaller_code_and_is_flagged_near_the_boundary() {
    let (j, units) = panjin();
    let shuangtaizi = units.iter().find(|u| u.code.as_str() == "211102").unwrap();
    let xinglongtai = units.iter().find(|u| u.code.as_str() == "211103").unwrap();
    // The outlines share edges exactly (same source vertices, same datum conversion).
    let shared: Vec<geo::Coord<f64>> = shuangtaizi
        .geometry
        .exterior_coords_iter()
        .filter(|c| xinglongtai.geometry.exterior_coords_iter().any(|d| d == *c))
        .collect();
    assert!(
        shared.len() > 10,
        "双台子区 and 兴隆台区 share {} vertices",
        shared.len()
    );
    for c in shared.iter().step_by(5) {
        let Resolution::Inside(p) = j.resolve(*c) else {
            panic!("{c:?} is on the boundary, not outside")
        };
        // On an edge of both, inside neither: the smaller code, 211102, every time.
        assert_eq!(j.unit(p.unit).code.as_str(), "211102", "{c:?}");
        let near = p
            .near_boundary
            .expect("a point on a shared edge is near the other district");
        assert_ne!(near.unit, p.unit);
        assert!(near.distance_m < 0.01, "{}", near.distance_m);
    }
}

#[test]
fn jining_is_outside_panjin_and_the_nearest_district_is_named() {
    let (j, _) = panjin();
    let rencheng =
        std::fs::read_to_string(repo_path("data/boundaries/jining_rencheng.gcj02.geojson"))
            .unwrap();
    let fc: geojson::FeatureCollection = rencheng.parse().unwrap();
    let g: geo::Geometry<f64> = fc.features[0].geometry.clone().unwrap().try_into().unwrap();
    let inside = g.interior_point().unwrap().0;
    let (x, y) = citysnap::domain::spatial::datum::Datum::Gcj02.to_wgs84(inside.x, inside.y);
    match j.resolve(geo::Coord { x, y }) {
        Resolution::Inside(p) => panic!("Jining resolved to {}", j.unit(p.unit).name),
        Resolution::OutOfArea {
            nearest,
            distance_m,
        } => {
            assert!(distance_m > 600_000.0, "{distance_m}");
            assert!(
                j.unit(nearest).code.as_str().starts_with("2111"),
                "{}",
                j.unit(nearest).name
            );
        }
    }
    assert_eq!(j.service_area(), "盘锦市");
}
