//! citysnap: geospatial intake, dispatch and hotspot analytics for snap-and-report city
//! management (随手拍). See README.md for the architecture.

pub mod api;
pub mod app;
pub mod cli;
pub mod demo;
pub mod domain;
pub mod media;
pub mod service;
pub mod sms;
pub mod store;
