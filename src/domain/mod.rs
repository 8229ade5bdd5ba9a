//! The pure core: jurisdictions and their resolver, datums, categories, and later the
//! dispatch rules, case state machine, deadlines and hotspot statistics. Nothing here does
//! I/O, so all of it is unit tested and benchmarked without a database or HTTP.

pub mod access;
pub mod boundary_import;
pub mod calendar;
pub mod case;
pub mod categories;
pub mod coords;
pub mod datum;
pub mod day;
pub mod demo;
pub mod departments;
pub mod disclosure;
pub mod dispatch;
pub mod export;
pub mod hotspots;
pub mod indicators;
pub mod interval;
pub mod resolver;
pub mod rewards;
pub mod tiles;
pub mod units;
