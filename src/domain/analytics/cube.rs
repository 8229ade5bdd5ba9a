//! The report cube (issue 10, "interactive speed"): every case held in memory as columns,
//! so that a city-wide heat-map, a hotspot map or an emerging-hotspot analysis counts a
//! million reports with any filter in milliseconds instead of reading the aggregate table.
//!
//! One row per case: its cell at every served resolution (`latLngToCell(point, res)` for
//! each, never the parent of a finer cell: H3 cells do not nest), its local day, category,
//! state and place (district, street, community, grid). Each column holds a small integer:
//! cells, categories and places are numbered in dictionaries the first time they are seen,
//! so a row takes 8 × 4 bytes of cells, 4 of day, 2 of category, 1 of state, 4 of place
//! and 8 of version (57 bytes), plus its case id in the index by case (about 60 bytes with
//! the hash table's share): roughly 120 MB per million reports ([`Cube::memory_bytes`]).
//!
//! A count scans the columns once: each filter becomes a lookup table over its dictionary
//! (a category prefix, a unit at any level, a set of states), tested per row. The cube does
//! no I/O: the analytics service fills it from the store and keeps it current.

use std::collections::HashMap;
use std::hash::Hash;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use h3o::{CellIndex, LatLng, Resolution};

use crate::domain::spatial::units::UnitCode;
use crate::domain::workflow::case::State;
use crate::domain::workflow::categories::CategoryCode;

/// The finest resolution counted: about 307 m² per cell (H3 resolution table), fine enough
/// for street-level heat-maps.
pub const AGGREGATE_RESOLUTION: Resolution = Resolution::Twelve;

/// The coarsest resolution served (about 250 km² a cell, a whole district).
pub const COARSEST_RESOLUTION: Resolution = Resolution::Five;

/// How many resolutions are served.
const SERVED: usize = (AGGREGATE_RESOLUTION as usize) - (COARSEST_RESOLUTION as usize) + 1;

/// Every resolution counted at, coarsest first.
pub fn served_resolutions() -> impl Iterator<Item = Resolution> {
    Resolution::range(COARSEST_RESOLUTION, AGGREGATE_RESOLUTION)
}

/// The cell of `(lon, lat)` at every served resolution, coarsest first: H3's
/// `latLngToCell(point, res)` for each, never a parent of a finer one.
pub fn cells_of(lon: f64, lat: f64) -> Result<Vec<CellIndex>, h3o::error::InvalidLatLng> {
    let point = LatLng::new(lat, lon)?;
    Ok(served_resolutions().map(|res| point.to_cell(res)).collect())
}

/// One case as the cube counts it.
#[derive(Debug, Clone, PartialEq)]
pub struct CubeRow {
    pub case_id: String,
    pub lon: f64,
    pub lat: f64,
    /// The local day it was reported (the day of its case id).
    pub day: NaiveDate,
    pub category: String,
    pub state: State,
    /// District, street, community and grid codes (the finest may be missing).
    pub place: [Option<String>; 4],
    /// When the case last changed: an older row never overwrites a newer one.
    pub updated_at: DateTime<Utc>,
}

/// Which cases to count. Days are inclusive.
#[derive(Debug, Clone, Copy, Default)]
pub struct CubeFilter<'a> {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// A category code or the code of a major category (every code it prefixes).
    pub category: Option<&'a CategoryCode>,
    /// Cases in this unit, at whatever level its code is.
    pub unit: Option<&'a UnitCode>,
    /// Cases in one of these states (none: any state).
    pub states: &'a [State],
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CubeError {
    #[error("resolution {0} is not counted (5 to 12 are)")]
    Resolution(u8),
    #[error("case {case_id} has no valid point: {reason}")]
    Point { case_id: String, reason: String },
    #[error("the cube is full: at most {0} of something (cases, cells, categories, places)")]
    Full(usize),
}

/// Keys numbered in the order first seen.
#[derive(Debug, Clone)]
struct Dict<K> {
    ids: HashMap<K, u32>,
    keys: Vec<K>,
}

impl<K> Default for Dict<K> {
    fn default() -> Self {
        Self {
            ids: HashMap::new(),
            keys: Vec::new(),
        }
    }
}

impl<K: Hash + Eq + Clone> Dict<K> {
    fn id(&mut self, key: &K, limit: usize) -> Result<u32, CubeError> {
        if let Some(id) = self.ids.get(key) {
            return Ok(*id);
        }
        if self.keys.len() >= limit {
            return Err(CubeError::Full(limit));
        }
        let id = self.keys.len() as u32;
        self.ids.insert(key.clone(), id);
        self.keys.push(key.clone());
        Ok(id)
    }

    fn len(&self) -> usize {
        self.keys.len()
    }
}

type Place = [Option<Box<str>>; 4];

/// Every case as columns; see the module documentation.
#[derive(Debug, Clone, Default)]
pub struct Cube {
    by_case: HashMap<Box<str>, u32>,
    cells: [Vec<u32>; SERVED],
    cell_ids: [Dict<CellIndex>; SERVED],
    day: Vec<i32>,
    category: Vec<u16>,
    categories: Dict<Box<str>>,
    state: Vec<u8>,
    place: Vec<u32>,
    places: Dict<Place>,
    version: Vec<i64>,
}

/// What the counts of one filter are keyed by besides the cell.
enum By {
    Category,
    Day,
}

impl Cube {
    /// The number of cases held.
    pub fn len(&self) -> usize {
        self.day.len()
    }

    pub fn is_empty(&self) -> bool {
        self.day.is_empty()
    }

    /// An estimate of the memory the cube holds, in bytes.
    pub fn memory_bytes(&self) -> usize {
        let rows = self.version.capacity() * 8
            + self.day.capacity() * 4
            + self.category.capacity() * 2
            + self.state.capacity()
            + self.place.capacity() * 4
            + self.cells.iter().map(|c| c.capacity() * 4).sum::<usize>();
        // A hash table entry: the key, the value and a control byte, at 7/8 load at most.
        let entry = |key: usize, value: usize| (key + value + 1) * 8 / 7;
        let by_case = self.by_case.capacity() * entry(16, 4)
            + self.by_case.keys().map(|k| k.len()).sum::<usize>();
        let cells = self
            .cell_ids
            .iter()
            .map(|d| d.ids.capacity() * entry(8, 4) + d.keys.capacity() * 8)
            .sum::<usize>();
        let places = self.places.len() * (entry(64, 4) + 64 + 4 * 16);
        rows + by_case + cells + places
    }

    /// Adds a case, or updates the state and category of one held already unless `row` is
    /// older than what is held. A case's point, day and place never change.
    pub fn upsert(&mut self, row: &CubeRow) -> Result<(), CubeError> {
        let version = row.updated_at.timestamp_micros();
        if let Some(&i) = self.by_case.get(row.case_id.as_str()) {
            let i = i as usize;
            if version >= self.version[i] {
                self.version[i] = version;
                self.state[i] = state_id(row.state);
                self.category[i] = self.category_id(&row.category)?;
            }
            return Ok(());
        }
        if self.len() >= u32::MAX as usize {
            return Err(CubeError::Full(u32::MAX as usize));
        }
        let point = LatLng::new(row.lat, row.lon).map_err(|e| CubeError::Point {
            case_id: row.case_id.clone(),
            reason: e.to_string(),
        })?;
        let mut cells = [0u32; SERVED];
        for (slot, res) in cells.iter_mut().zip(served_resolutions()) {
            let r = slot_of(res);
            *slot = self.cell_ids[r].id(&point.to_cell(res), u32::MAX as usize)?;
        }
        let category = self.category_id(&row.category)?;
        let place: Place = row.place.clone().map(|c| c.map(String::into_boxed_str));
        let place = self.places.id(&place, u32::MAX as usize)?;
        for (column, id) in self.cells.iter_mut().zip(cells) {
            column.push(id);
        }
        self.by_case
            .insert(row.case_id.clone().into_boxed_str(), self.day.len() as u32);
        self.day.push(row.day.num_days_from_ce());
        self.category.push(category);
        self.state.push(state_id(row.state));
        self.place.push(place);
        self.version.push(version);
        Ok(())
    }

    fn category_id(&mut self, code: &str) -> Result<u16, CubeError> {
        let key: Box<str> = code.into();
        Ok(self.categories.id(&key, u16::MAX as usize)? as u16)
    }

    /// Cases per cell at `res` matching `f`, in no particular order; cells without any are
    /// left out.
    pub fn cell_counts(
        &self,
        res: Resolution,
        f: &CubeFilter,
    ) -> Result<Vec<(CellIndex, u64)>, CubeError> {
        let r = self.slot(res)?;
        let keep = Matcher::new(self, f);
        let mut counts = vec![0u64; self.cell_ids[r].len()];
        for (i, cell) in self.cells[r].iter().enumerate() {
            if keep.matches(self, i) {
                counts[*cell as usize] += 1;
            }
        }
        Ok(counts
            .into_iter()
            .enumerate()
            .filter(|(_, n)| *n > 0)
            .map(|(id, n)| (self.cell_ids[r].keys[id], n))
            .collect())
    }

    /// Cases per cell at `res` and category matching `f`, in no particular order.
    pub fn cell_category_counts(
        &self,
        res: Resolution,
        f: &CubeFilter,
    ) -> Result<Vec<(CellIndex, &str, u64)>, CubeError> {
        Ok(self
            .keyed_counts(res, f, By::Category)?
            .into_iter()
            .map(|(cell, key, n)| (cell, &*self.categories.keys[key as usize], n))
            .collect())
    }

    /// Cases per cell at `res` and local day matching `f`, in no particular order.
    pub fn day_counts(
        &self,
        res: Resolution,
        f: &CubeFilter,
    ) -> Result<Vec<(CellIndex, NaiveDate, u64)>, CubeError> {
        Ok(self
            .keyed_counts(res, f, By::Day)?
            .into_iter()
            .map(|(cell, day, n)| {
                let day = NaiveDate::from_num_days_from_ce_opt(day as i32)
                    .expect("the cube stores days of valid dates");
                (cell, day, n)
            })
            .collect())
    }

    /// Counts per cell and a second key: the matching rows' keys (cell id in the high 32
    /// bits) sorted and counted in runs, which keeps memory to one word a matching row
    /// whatever the number of cells × keys.
    fn keyed_counts(
        &self,
        res: Resolution,
        f: &CubeFilter,
        by: By,
    ) -> Result<Vec<(CellIndex, u32, u64)>, CubeError> {
        let r = self.slot(res)?;
        let keep = Matcher::new(self, f);
        let key = |i: usize| -> u32 {
            match by {
                By::Category => u32::from(self.category[i]),
                By::Day => self.day[i] as u32,
            }
        };
        let mut keys: Vec<u64> = self.cells[r]
            .iter()
            .enumerate()
            .filter(|(i, _)| keep.matches(self, *i))
            .map(|(i, cell)| (u64::from(*cell) << 32) | u64::from(key(i)))
            .collect();
        keys.sort_unstable();
        let mut out: Vec<(CellIndex, u32, u64)> = Vec::new();
        for k in keys {
            let (cell, second) = ((k >> 32) as usize, k as u32);
            let cell = self.cell_ids[r].keys[cell];
            match out.last_mut() {
                Some(last) if last.0 == cell && last.1 == second => last.2 += 1,
                _ => out.push((cell, second, 1)),
            }
        }
        Ok(out)
    }

    fn slot(&self, res: Resolution) -> Result<usize, CubeError> {
        if (COARSEST_RESOLUTION..=AGGREGATE_RESOLUTION).contains(&res) {
            Ok(slot_of(res))
        } else {
            Err(CubeError::Resolution(u8::from(res)))
        }
    }
}

fn slot_of(res: Resolution) -> usize {
    usize::from(u8::from(res) - u8::from(COARSEST_RESOLUTION))
}

fn state_id(state: State) -> u8 {
    State::ALL
        .iter()
        .position(|s| *s == state)
        .expect("every state is in State::ALL") as u8
}

/// A filter as lookup tables over the cube's dictionaries.
struct Matcher {
    days: (i32, i32),
    categories: Option<Vec<bool>>,
    states: Option<Vec<bool>>,
    places: Option<Vec<bool>>,
}

impl Matcher {
    fn new(cube: &Cube, f: &CubeFilter) -> Self {
        let days = (
            f.from.map_or(i32::MIN, |d| d.num_days_from_ce()),
            f.to.map_or(i32::MAX, |d| d.num_days_from_ce()),
        );
        let categories = f.category.map(|c| {
            cube.categories
                .keys
                .iter()
                .map(|k| k.starts_with(c.as_str()))
                .collect()
        });
        let states = (!f.states.is_empty())
            .then(|| State::ALL.iter().map(|s| f.states.contains(s)).collect());
        let places = f.unit.map(|u| {
            cube.places
                .keys
                .iter()
                .map(|p| p.iter().flatten().any(|c| &**c == u.as_str()))
                .collect()
        });
        Self {
            days,
            categories,
            states,
            places,
        }
    }

    #[inline]
    fn matches(&self, cube: &Cube, i: usize) -> bool {
        let day = cube.day[i];
        day >= self.days.0
            && day <= self.days.1
            && self
                .categories
                .as_ref()
                .is_none_or(|m| m[usize::from(cube.category[i])])
            && self
                .states
                .as_ref()
                .is_none_or(|m| m[usize::from(cube.state[i])])
            && self
                .places
                .as_ref()
                .is_none_or(|m| m[cube.place[i] as usize])
    }
}

#[cfg(test)]
mod tests;
