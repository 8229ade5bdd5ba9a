//! Integration suite: the real service over real HTTP against real databases. Every test
//! that touches a store runs twice, once on the embedded SQLite store and once on PostGIS,
//! each time on a fresh database of its own.

mod helpers;

mod analytics;
mod case_state;
mod cases;
mod demo;
mod follow_up;
mod hotspots;
mod idempotency;
mod import;
mod intake;
mod limits;
mod living_demo;
mod media;
mod merge;
mod real_outlines;
mod resolve;
mod rewards;
mod tiles;
mod workflow;
