//! Longitude and latitude that are valid by construction (parse, don't validate).

use serde::Serialize;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CoordError {
    /// NaN or ±∞.
    #[error("{axis} must be a finite number, got {value}")]
    NotFinite { axis: &'static str, value: f64 },
    /// Outside [-180, 180] for longitude or [-90, 90] for latitude; a swapped pair usually
    /// lands here, since a Chinese latitude is not a valid longitude and vice versa only
    /// rarely.
    #[error("{axis} {value} is outside [{min}, {max}]")]
    OutOfRange {
        axis: &'static str,
        value: f64,
        min: f64,
        max: f64,
    },
}

fn check(axis: &'static str, value: f64, bound: f64) -> Result<f64, CoordError> {
    if !value.is_finite() {
        return Err(CoordError::NotFinite { axis, value });
    }
    if !(-bound..=bound).contains(&value) {
        return Err(CoordError::OutOfRange {
            axis,
            value,
            min: -bound,
            max: bound,
        });
    }
    Ok(value)
}

/// A WGS-84 or datum-declared position, lon/lat order as in RFC 7946 §3.1.1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LonLat {
    pub lon: f64,
    pub lat: f64,
}

impl LonLat {
    pub fn parse(lon: f64, lat: f64) -> Result<Self, CoordError> {
        Ok(Self {
            lon: check("lon", lon, 180.0)?,
            lat: check("lat", lat, 90.0)?,
        })
    }

    pub fn coord(self) -> geo::Coord<f64> {
        geo::Coord {
            x: self.lon,
            y: self.lat,
        }
    }
}

/// Distance in metres between two WGS-84 positions (haversine on the mean Earth radius;
/// under 0.5 % from the ellipsoidal distance, ample for "you are 612 km away").
pub fn haversine_m(a: geo::Coord<f64>, b: geo::Coord<f64>) -> f64 {
    use geo::{Distance, Haversine, Point};
    Haversine.distance(Point(a), Point(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_and_out_of_range_values_are_refused() {
        assert!(matches!(
            LonLat::parse(f64::NAN, 41.0),
            Err(CoordError::NotFinite { axis: "lon", .. })
        ));
        assert!(matches!(
            LonLat::parse(122.0, f64::INFINITY),
            Err(CoordError::NotFinite { axis: "lat", .. })
        ));
        // Swapped: 122 is not a latitude.
        assert!(matches!(
            LonLat::parse(41.1, 122.0),
            Err(CoordError::OutOfRange { axis: "lat", .. })
        ));
        assert!(LonLat::parse(180.0, -90.0).is_ok());
    }
}
