use std::collections::BTreeMap;

use chrono::TimeZone;
use proptest::prelude::*;

use super::*;

const STREETS: [&str; 2] = ["211103001", "211103002"];
const CATEGORIES: [&str; 3] = ["0101", "0102", "0301"];

fn at(second: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(second)
}

fn day(n: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 1).unwrap() + chrono::Days::new(u64::from(n))
}

fn row(i: usize, lon: f64, lat: f64, d: u32, category: &str, state: State) -> CubeRow {
    let street = STREETS[i % 2];
    CubeRow {
        case_id: format!("XLT-20260301-{i:06}"),
        lon,
        lat,
        day: day(d),
        category: category.to_owned(),
        state,
        place: [
            Some("211103".into()),
            Some(street.into()),
            Some(format!("{street}00{}", i % 3)),
            None,
        ],
        updated_at: at(i as i64),
    }
}

/// What the cube should answer, counted row by row with h3o.
fn expected(rows: &[CubeRow], res: Resolution, f: &CubeFilter) -> BTreeMap<CellIndex, u64> {
    let mut out = BTreeMap::new();
    for r in rows {
        let in_unit = f
            .unit
            .is_none_or(|u| r.place.iter().flatten().any(|c| c == u.as_str()));
        if f.from.is_none_or(|d| r.day >= d)
            && f.to.is_none_or(|d| r.day <= d)
            && f.category
                .is_none_or(|c| r.category.starts_with(c.as_str()))
            && (f.states.is_empty() || f.states.contains(&r.state))
            && in_unit
        {
            let cell = LatLng::new(r.lat, r.lon).unwrap().to_cell(res);
            *out.entry(cell).or_default() += 1;
        }
    }
    out
}

fn cube_of(rows: &[CubeRow]) -> Cube {
    let mut cube = Cube::default();
    for r in rows {
        cube.upsert(r).unwrap();
    }
    cube
}

fn rows_strategy() -> impl Strategy<Value = Vec<CubeRow>> {
    prop::collection::vec(
        (
            122.0..122.1f64,
            41.08..41.16f64,
            0u32..40,
            0usize..CATEGORIES.len(),
            0usize..State::ALL.len(),
        ),
        1..200,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (lon, lat, d, c, s))| row(i, lon, lat, d, CATEGORIES[c], State::ALL[s]))
            .collect()
    })
}

proptest! {
    #[test]
    fn counts_are_the_points_in_each_cell_under_any_filter(
        rows in rows_strategy(),
        res in 5u8..=12,
        from in prop::option::of(0u32..40),
        span in 0u32..40,
        category in prop::option::of(prop::sample::select(vec!["01", "0102", "03"])),
        unit in prop::option::of(prop::sample::select(vec!["211103", "211103002", "211103001001"])),
        states in prop::sample::subsequence(State::ALL.to_vec(), 0..3),
    ) {
        let res = Resolution::try_from(res).unwrap();
        let category = category.map(|c| CategoryCode::parse(c).unwrap());
        let unit = unit.map(|u| UnitCode::parse(u).unwrap());
        let f = CubeFilter {
            from: from.map(day),
            to: from.map(|d| day(d + span)),
            category: category.as_ref(),
            unit: unit.as_ref(),
            states: &states,
        };
        let cube = cube_of(&rows);
        let want = expected(&rows, res, &f);
        let got: BTreeMap<CellIndex, u64> = cube.cell_counts(res, &f).unwrap().into_iter().collect();
        prop_assert_eq!(&got, &want);
        // Split by category or by day, the counts add up to the same per cell.
        let mut by_category = BTreeMap::new();
        for (cell, _, n) in cube.cell_category_counts(res, &f).unwrap() {
            *by_category.entry(cell).or_insert(0) += n;
        }
        prop_assert_eq!(&by_category, &want);
        let mut by_day = BTreeMap::new();
        for (cell, _, n) in cube.day_counts(res, &f).unwrap() {
            *by_day.entry(cell).or_insert(0) += n;
        }
        prop_assert_eq!(&by_day, &want);
    }
}

#[test]
fn a_day_split_counts_each_day_apart() {
    let rows = [
        row(0, 122.05, 41.12, 0, "0101", State::Submitted),
        row(1, 122.05, 41.12, 0, "0102", State::Submitted),
        row(2, 122.05, 41.12, 3, "0101", State::Closed),
    ];
    let cube = cube_of(&rows);
    let mut got = cube
        .day_counts(Resolution::Nine, &CubeFilter::default())
        .unwrap();
    got.sort();
    let cell = LatLng::new(41.12, 122.05)
        .unwrap()
        .to_cell(Resolution::Nine);
    assert_eq!(got, vec![(cell, day(0), 2), (cell, day(3), 1)]);
    let mut by_category = cube
        .cell_category_counts(Resolution::Nine, &CubeFilter::default())
        .unwrap();
    by_category.sort();
    assert_eq!(by_category, vec![(cell, "0101", 2), (cell, "0102", 1)]);
}

#[test]
fn a_newer_row_moves_a_case_and_an_older_one_does_not() {
    let first = row(0, 122.05, 41.12, 0, "0101", State::Submitted);
    let mut cube = cube_of(std::slice::from_ref(&first));
    let closed = CubeRow {
        state: State::Closed,
        category: "0301".into(),
        updated_at: at(60),
        ..first.clone()
    };
    cube.upsert(&closed).unwrap();
    // A late copy of the first version (a slow listener) changes nothing.
    cube.upsert(&first).unwrap();
    assert_eq!(cube.len(), 1);
    let only = |states: &[State]| {
        cube.cell_counts(
            Resolution::Eight,
            &CubeFilter {
                states,
                ..CubeFilter::default()
            },
        )
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum::<u64>()
    };
    assert_eq!(only(&[State::Closed]), 1);
    assert_eq!(only(&[State::Submitted]), 0);
    let major = CategoryCode::parse("03").unwrap();
    let in_03 = cube
        .cell_counts(
            Resolution::Eight,
            &CubeFilter {
                category: Some(&major),
                ..CubeFilter::default()
            },
        )
        .unwrap();
    assert_eq!(in_03.len(), 1);
}

#[test]
fn only_served_resolutions_are_counted_and_bad_points_are_refused() {
    let cube = cube_of(&[row(0, 122.05, 41.12, 0, "0101", State::Submitted)]);
    assert_eq!(
        cube.cell_counts(Resolution::Thirteen, &CubeFilter::default()),
        Err(CubeError::Resolution(13))
    );
    let mut bad = row(1, f64::NAN, 41.12, 0, "0101", State::Submitted);
    bad.case_id = "XLT-20260301-000009".into();
    assert!(matches!(
        Cube::default().upsert(&bad),
        Err(CubeError::Point { .. })
    ));
}

#[test]
fn memory_is_about_a_hundred_bytes_a_case() {
    let rows: Vec<CubeRow> = (0..10_000)
        .map(|i| {
            let k = i as f64;
            row(
                i,
                122.0 + (k * 0.618).fract() * 0.1,
                41.08 + (k * 0.414).fract() * 0.08,
                (i % 30) as u32,
                "0101",
                State::Submitted,
            )
        })
        .collect();
    let cube = cube_of(&rows);
    let per_case = cube.memory_bytes() / cube.len();
    assert!((57..400).contains(&per_case), "{per_case} bytes a case");
}
