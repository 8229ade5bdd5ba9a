//! The pure core: jurisdictions and their resolver, datums, categories, and later the
//! dispatch rules, case state machine, deadlines and hotspot statistics. Nothing here does
//! I/O, so all of it is unit tested and benchmarked without a database or HTTP.

pub mod boundary_import;
pub mod categories;
pub mod coords;
pub mod datum;
pub mod demo;
pub mod resolver;
pub mod units;
