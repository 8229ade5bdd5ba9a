use std::collections::{HashMap, HashSet};

use geo::{Area, Contains, Winding};

use super::*;
use crate::domain::spatial::resolver::{Jurisdiction, PolygonIndex, Resolution, ResolverSettings};

/// splitmix64 (Steele, Lea & Flood 2014): a fixed-seed source of test points.
struct SplitMix(u64);

impl SplitMix {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn at_level(units: &[Unit], level: UnitLevel) -> Vec<&Unit> {
    units.iter().filter(|u| u.level == level).collect()
}

fn area(units: &[&Unit]) -> f64 {
    units.iter().map(|u| u.geometry.unsigned_area()).sum()
}

#[test]
fn the_district_is_the_real_outline_in_wgs84_counter_clockwise() {
    let d = demo_district();
    assert_eq!(d.code.as_str(), "211103");
    assert_eq!(d.name, "兴隆台区");
    assert!(!d.synthetic);
    assert!(d.geometry.0.iter().all(|p| p.exterior().is_ccw()));
    // The first vertex of the shipped GCJ-02 outline, converted, is a vertex of the unit.
    let (lon, lat) = Datum::Gcj02.to_wgs84(121.662_791, 41.050_469);
    assert!(
        d.geometry
            .coords_iter()
            .any(|c| c == Coord { x: lon, y: lat })
    );
}

#[test]
fn community_names_are_real_first_then_unique_and_never_run_out() {
    let names: Vec<String> = community_names().take(2_000).collect();
    assert_eq!(names[..5], ["景园", "兴油", "恒大", "瀚新", "团结"]);
    assert_eq!(names.iter().collect::<HashSet<_>>().len(), names.len());
    assert!(names[5..].iter().all(|n| n.chars().count() >= 2));
}

#[test]
fn bisection_balances_counts_and_respects_the_cap() {
    // A 40 × 30 block of cells, all grids: 1,200 grids.
    let w = CellCounts::new(40, 30, |_| true);
    let all = Region {
        i0: 0,
        i1: 40,
        j0: 0,
        j1: 30,
    };
    let mut out = Vec::new();
    w.bisect(all, 4, u32::MAX, &mut out);
    assert_eq!(
        out.iter().map(|&r| w.count(r)).collect::<Vec<_>>(),
        [300; 4]
    );
    // West half first (the block is wider than tall), then north before south.
    assert_eq!(
        out[0],
        Region {
            i0: 0,
            i1: 20,
            j0: 15,
            j1: 30
        }
    );
    let mut capped = Vec::new();
    w.bisect(all, 1, 500, &mut capped);
    assert!(capped.iter().all(|&r| w.count(r) <= 500));
    assert_eq!(capped.iter().map(|&r| w.count(r)).sum::<u32>(), 1_200);
}

#[test]
fn a_district_with_a_hole_is_tiled_around_the_hole() {
    // About 1.7 km × 1.1 km with a lake of about 340 m × 330 m in it.
    let square = |x0: f64, y0: f64, x1: f64, y1: f64| {
        LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)])
    };
    let district = Unit {
        code: UnitCode::parse("999999").unwrap(),
        name: "示范区".into(),
        level: UnitLevel::District,
        parent: None,
        geometry: MultiPolygon(vec![Polygon::new(
            square(122.0, 41.0, 122.02, 41.01),
            vec![square(122.005, 41.003, 122.009, 41.006)],
        )])
        .orient(Direction::Default),
        synthetic: false,
    };
    let units = build_demo(&district);
    let grids = at_level(&units, UnitLevel::Grid);
    let in_lake = Coord {
        x: 122.007,
        y: 41.0045,
    };
    assert!(grids.iter().all(|g| !g.geometry.contains(&in_lake)));
    let ratio = area(&grids) / district.geometry.unsigned_area();
    assert!((ratio - 1.0).abs() < 1e-9, "grids cover {ratio} of it");
    let holes: usize = units[1..]
        .iter()
        .flat_map(|u| &u.geometry.0)
        .map(|p| p.interiors().len())
        .sum();
    assert!(
        holes > 0,
        "the lake should be a hole in some street or community"
    );
    for u in &units {
        for p in &u.geometry.0 {
            assert!(p.exterior().is_ccw() && p.interiors().iter().all(|h| h.is_cw()));
        }
    }
}

/// The slow checks share one build (plus one more for determinism), to keep the suite
/// fast.
#[test]
fn the_demo_tiles_the_district_exactly_and_resolves_every_point_to_a_grid() {
    let district = demo_district();
    let units = build_demo(&district);
    assert_eq!(
        units,
        build_demo(&district),
        "building twice gives the same units"
    );

    let streets = at_level(&units, UnitLevel::Street);
    let communities = at_level(&units, UnitLevel::Community);
    let grids = at_level(&units, UnitLevel::Grid);
    assert_eq!(streets.len(), 10);
    assert!(
        (70_000..=90_000).contains(&grids.len()),
        "{} grids",
        grids.len()
    );
    assert!(
        units
            .iter()
            .all(|u| u.synthetic == (u.level != UnitLevel::District))
    );

    // Codes: unique, the prefix scheme, children under existing parents.
    let codes: HashSet<&UnitCode> = units.iter().map(|u| &u.code).collect();
    assert_eq!(codes.len(), units.len());
    for u in &units[1..] {
        assert_eq!(u.code.level(), u.level);
        assert_eq!(u.parent, u.code.parent());
        assert!(codes.contains(u.parent.as_ref().unwrap()), "{}", u.code);
    }
    for c in &communities {
        let n = grids
            .iter()
            .filter(|g| g.parent.as_ref() == Some(&c.code))
            .count();
        assert!((1..=999).contains(&n), "{} has {n} grids", c.name);
    }
    let street_names: HashSet<&str> = streets.iter().map(|s| s.name.as_str()).collect();
    assert!(street_names.contains("渤海街道"));
    assert_eq!(grids[0].name, format!("{}第001网格", communities[0].name));

    // RFC 7946 §3.1.6: exteriors counter-clockwise, holes clockwise.
    for u in &units {
        for p in &u.geometry.0 {
            assert!(p.exterior().is_ccw(), "{}", u.code);
            assert!(p.interiors().iter().all(|h| h.is_cw()), "{}", u.code);
        }
    }

    // Areas: each level adds up to the district.
    let district_area = district.geometry.unsigned_area();
    for (level, units) in [
        ("streets", &streets),
        ("communities", &communities),
        ("grids", &grids),
    ] {
        let ratio = area(units) / district_area;
        // Exact vertices make this hold to rounding, far inside the 0.1 % asked for.
        assert!(
            (ratio - 1.0).abs() < 1e-9,
            "{level} cover {ratio} of the district"
        );
    }

    // Every unit lies in its parent.
    let by_code: HashMap<&UnitCode, &Unit> = units.iter().map(|u| (&u.code, u)).collect();
    for u in &units[1..] {
        let p = u.geometry.interior_point().expect("no unit is empty");
        let parent = by_code[u.parent.as_ref().unwrap()];
        assert!(
            parent.geometry.contains(&p),
            "{} sticks out of {}",
            u.code,
            parent.code
        );
    }

    // Random points of the district resolve to exactly one grid, whose chain ends at
    // the district.
    let jurisdiction = Jurisdiction::new(units.clone(), None, ResolverSettings::default())
        .expect("the demo is a valid jurisdiction");
    let grid_index = PolygonIndex::new(
        grids.iter().map(|g| g.geometry.clone()).collect(),
        (0..grids.len() as u32).collect(),
    );
    let bbox = district.geometry.bounding_rect().unwrap();
    let mut rng = SplitMix(2);
    let mut inside = 0;
    while inside < 300 {
        let c = Coord {
            x: bbox.min().x + rng.unit() * bbox.width(),
            y: bbox.min().y + rng.unit() * bbox.height(),
        };
        if !district.geometry.contains(&c) {
            continue;
        }
        inside += 1;
        let Resolution::Inside(placement) = jurisdiction.resolve(c) else {
            panic!("{c:?} is inside the district but was refused");
        };
        let chain = jurisdiction.chain(placement.unit);
        let levels: Vec<UnitLevel> = chain.iter().map(|&u| jurisdiction.unit(u).level).collect();
        assert_eq!(levels, UnitLevel::ALL);
        assert_eq!(
            jurisdiction.unit(chain[0]).code.as_str(),
            DEMO_DISTRICT_CODE
        );
        let holders = grid_index.within(c, 0.0).len();
        assert_eq!(holders, 1, "{c:?} lies in {holders} grids");
    }

    // The helper for end-to-end tests finds a point that resolves into 渤海街道.
    let bohai = interior_point_of(&units, "渤海街道").expect("渤海街道 exists");
    let Resolution::Inside(placement) = jurisdiction.resolve(bohai) else {
        panic!("the interior point of 渤海街道 was refused");
    };
    let chain = jurisdiction.chain(placement.unit);
    assert_eq!(jurisdiction.unit(chain[1]).name, "渤海街道");
}
