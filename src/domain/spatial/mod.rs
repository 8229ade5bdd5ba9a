//! Where a report lies: valid longitudes and latitudes ([`coords`]), the datums phones
//! report in ([`datum`]), the unit hierarchy ([`units`]) imported from boundary files
//! ([`boundary_import`]), point → unit resolution ([`resolver`]) and Web Mercator tiles
//! ([`tiles`]).
//!
//! `coords` is here and not in a shared module because everything that takes a position
//! (resolver, boundary import, photo metadata, the resolve endpoint) is spatial, and
//! nothing in workflow or analytics needs it.

pub mod boundary_import;
pub mod coords;
pub mod datum;
pub mod resolver;
pub mod tiles;
pub mod units;
