//! Integration suite: the real service over real HTTP against real databases. Every test
//! that touches a store runs twice, once on the embedded SQLite store and once on PostGIS,
//! each time on a fresh database of its own.

mod helpers;

mod access;
mod action_input;
mod analytics;
mod calendar;
mod case_state;
mod cases;
mod console;
mod contract;
mod cube;
mod demo;
mod exact;
mod export;
mod follow_up;
mod hotspots;
mod idempotency;
mod import;
mod input_bounds;
mod intake;
mod limits;
mod living_demo;
mod media;
mod merge;
mod ogc;
mod open311;
mod real_outlines;
mod registration;
mod resolve;
mod rewards;
mod tile_cache;
mod tiles;
mod workflow;
