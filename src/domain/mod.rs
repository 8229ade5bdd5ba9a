//! The pure core, grouped by subject: [`spatial`] (where a report lies), [`workflow`] (what
//! happens to it) and [`analytics`] (what the reports say together). Nothing here does I/O,
//! so all of it is unit tested and benchmarked without a database or HTTP. The demo
//! jurisdiction is demo data and lives in [`crate::demo::jurisdiction`].

pub mod analytics;
pub mod spatial;
pub mod workflow;
