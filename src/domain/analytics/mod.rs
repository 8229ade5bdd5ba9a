//! What the reports say together: hotspot statistics ([`hotspots`]), the evaluation
//! indicators ([`indicators`]), what of it the public may see ([`disclosure`]), and the
//! column export for GIS and data tools ([`export`]).
//!
//! [`day`] and [`interval`] are here because they are the time windows of these reads:
//! `from`/`to` days of the analytics and stats queries and the OGC `datetime` filter over
//! published reports. The workflow reckons time with the working calendar instead.
//! `disclosure` and `export` are here because both decide what leaves the system as data
//! about many cases at once, not what happens to one case.

pub mod cube;
pub mod day;
pub mod disclosure;
pub mod export;
pub mod hotspots;
pub mod indicators;
pub mod interval;
