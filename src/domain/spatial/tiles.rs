//! Web Mercator XYZ tiles (EPSG:3857, the scheme of OpenStreetMap's slippy maps: tile 0/0/0
//! is the whole world, x grows east, y grows south) and their encoding as Mapbox Vector Tiles
//! (MVT 2.1, protobuf by `geozero`).
//!
//! Conventions, relied on by the tile endpoints and their tests:
//! - **One tile per point.** A point belongs to the tile whose half-open square
//!   `[x, x + 1) × [y, y + 1)` (in tile units at its zoom) holds it, so every point is in
//!   exactly one tile of a zoom ([`TileId::containing`]).
//! - **MVT geometry** is in tile units, extent [`EXTENT`], y down. Polygons are clipped to the
//!   tile grown by [`BUFFER`] units on each side, rounded to whole units, and their exterior
//!   rings have a positive surveyor's-formula area in those units (clockwise on screen), the
//!   holes negative (MVT 2.1 §4.3.4.4). Rings that collapse when rounded are dropped.

use geo::{
    Area, BooleanOps, BoundingRect, Coord, LineString, MapCoords, MultiPolygon, Polygon, Rect,
    Simplify, Winding,
};
use geozero::ToMvt;
use geozero::mvt::tile::{Feature, Layer};
use geozero::mvt::{Message, TagsBuilder, Tile, TileValue};
use h3o::Resolution;

/// Tile units per tile side in the MVT tiles served.
pub const EXTENT: u32 = 4096;

/// How far beyond its edges an MVT tile carries geometry, in tile units (64/4096 of a tile,
/// a common renderer default), so that strokes at the edges join up.
pub const BUFFER: u32 = 64;

/// Deepest zoom the tile scheme accepts (a tile of about 2 m at the equator).
pub const MAX_ZOOM: u8 = 24;

/// Web Mercator stops at ±85.0511°, where the square world ends (atan(sinh(π))).
pub const MAX_LAT: f64 = 85.051_128_779_806_59;

/// A tile at zoom `z`, column `x` and row `y`, both in `0..2^z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

/// Why a tile address names no tile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadTile {
    #[error("zoom {0} is beyond the deepest zoom {MAX_ZOOM}")]
    Zoom(u8),
    #[error("tile {x}/{y} does not exist at zoom {z}: x and y must be below 2^{z} = {n}")]
    Outside { z: u8, x: u32, y: u32, n: u64 },
}

/// A WGS-84 box: west, south, east, north in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LonLatBox {
    pub west: f64,
    pub south: f64,
    pub east: f64,
    pub north: f64,
}

/// Web Mercator "world" coordinates of a WGS-84 point: x and y in [0, 1], y down (0 at
/// 85.0511° N). Latitudes beyond the projection's limit are clamped to it.
pub fn to_world(lon: f64, lat: f64) -> (f64, f64) {
    let lat = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    let x = (lon + 180.0) / 360.0;
    let y = (1.0 - lat.tan().asinh() / std::f64::consts::PI) / 2.0;
    (x, y)
}

/// The inverse of [`to_world`].
pub fn from_world(x: f64, y: f64) -> (f64, f64) {
    let lon = x * 360.0 - 180.0;
    let lat = (std::f64::consts::PI * (1.0 - 2.0 * y))
        .sinh()
        .atan()
        .to_degrees();
    (lon, lat)
}

impl TileId {
    pub fn new(z: u8, x: u32, y: u32) -> Result<Self, BadTile> {
        if z > MAX_ZOOM {
            return Err(BadTile::Zoom(z));
        }
        let n = 1u64 << z;
        if u64::from(x) >= n || u64::from(y) >= n {
            return Err(BadTile::Outside { z, x, y, n });
        }
        Ok(TileId { z, x, y })
    }

    /// Tiles per side at this zoom.
    fn n(self) -> f64 {
        f64::from(1u32 << self.z)
    }

    /// The one tile of zoom `z` holding the point (see the module docs).
    pub fn containing(lon: f64, lat: f64, z: u8) -> TileId {
        let (wx, wy) = to_world(lon, lat);
        let n = 1u32 << z.min(MAX_ZOOM);
        let cell = |w: f64| ((w * f64::from(n)).floor().max(0.0) as u32).min(n - 1);
        TileId {
            z: z.min(MAX_ZOOM),
            x: cell(wx),
            y: cell(wy),
        }
    }

    /// The tile's square in WGS-84, grown by `buffer` tile units on each side (clamped to
    /// the projected world).
    pub fn bounds(self, buffer: f64) -> LonLatBox {
        let n = self.n();
        let grow = buffer / f64::from(EXTENT);
        let w = |v: f64| (v / n).clamp(0.0, 1.0);
        let (west, north) = from_world(w(f64::from(self.x) - grow), w(f64::from(self.y) - grow));
        let (east, south) = from_world(
            w(f64::from(self.x) + 1.0 + grow),
            w(f64::from(self.y) + 1.0 + grow),
        );
        LonLatBox {
            west,
            south,
            east,
            north,
        }
    }

    /// A WGS-84 point in this tile's units: (0, 0) is the north-west corner, ([`EXTENT`],
    /// [`EXTENT`]) the south-east one.
    pub fn to_tile(self, lon: f64, lat: f64) -> Coord<f64> {
        let (wx, wy) = to_world(lon, lat);
        let n = self.n();
        let e = f64::from(EXTENT);
        Coord {
            x: (wx * n - f64::from(self.x)) * e,
            y: (wy * n - f64::from(self.y)) * e,
        }
    }

    /// Length of one screen pixel of a 256-pixel rendering of this tile, in degrees of
    /// longitude: the tolerance boundary outlines are simplified to.
    pub fn pixel_degrees(self) -> f64 {
        360.0 / (256.0 * self.n())
    }
}

/// The H3 resolution of heat-map hexagons at zoom `z`, or `None` outside zooms 7–17. Chosen
/// so that a hexagon (two average edge lengths across, H3 v4's resolution table as h3o
/// gives it) is 10–40 px on a 256-px tile anywhere from the equator to about 45° of
/// latitude; the sizes in px at the equator and at Panjin (41.1° N, where Web Mercator
/// enlarges by 1/cos 41.1° = 1.33):
///
/// | zoom | resolution | px, equator | px, 41.1° N |
/// | ---: | ---: | ---: | ---: |
/// | 7 | 5 | 16.1 | 21.4 |
/// | 8 | 6 | 12.2 | 16.2 |
/// | 9 | 6 | 24.4 | 32.3 |
/// | 10 | 7 | 18.4 | 24.4 |
/// | 11 | 8 | 13.9 | 18.5 |
/// | 12 | 8 | 27.8 | 36.9 |
/// | 13 | 9 | 21.0 | 27.9 |
/// | 14 | 10 | 15.9 | 21.1 |
/// | 15 | 11 | 12.0 | 15.9 |
/// | 16 | 11 | 24.0 | 31.8 |
/// | 17 | 12 | 18.1 | 24.1 |
pub fn hexbin_resolution(z: u8) -> Option<Resolution> {
    use Resolution::*;
    Some(match z {
        7 => Five,
        8 | 9 => Six,
        10 => Seven,
        11 | 12 => Eight,
        13 => Nine,
        14 => Ten,
        15 | 16 => Eleven,
        17 => Twelve,
        _ => return None,
    })
}

/// Size on screen (px, 256-px tiles) of a hexagon at `res` seen at zoom `z` and latitude
/// `lat`: two average edge lengths over the ground size of a pixel.
pub fn hexagon_px(res: Resolution, z: u8, lat: f64) -> f64 {
    // Equatorial circumference of the WGS-84 ellipsoid over 256 px: metres per px at zoom 0.
    const M_PER_PX_Z0: f64 = 2.0 * std::f64::consts::PI * 6_378_137.0 / 256.0;
    let m_per_px = M_PER_PX_Z0 * lat.to_radians().cos() / f64::from(1u32 << z);
    2.0 * res.edge_length_m() / m_per_px
}

/// One layer of an MVT tile being built: features are projected into the tile, clipped to
/// its buffer, rounded, oriented and encoded as they are added.
pub struct MvtLayer {
    name: String,
    tile: TileId,
    features: Vec<Feature>,
    tags: TagsBuilder,
    /// The tile square grown by [`BUFFER`], in tile units.
    clip: Rect<f64>,
}

/// A property of an MVT feature.
pub type MvtProperty<'a> = (&'a str, TileValue);

impl MvtLayer {
    pub fn new(name: &str, tile: TileId) -> Self {
        let (lo, hi) = (-f64::from(BUFFER), f64::from(EXTENT + BUFFER));
        MvtLayer {
            name: name.to_owned(),
            tile,
            features: Vec::new(),
            tags: TagsBuilder::new(),
            clip: Rect::new(Coord { x: lo, y: lo }, Coord { x: hi, y: hi }),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// Adds a WGS-84 (multi)polygon, simplified to `tolerance` tile units (0: as is). Returns
    /// whether anything of it is in the tile.
    pub fn add_polygon(
        &mut self,
        id: Option<u64>,
        geometry: &MultiPolygon<f64>,
        tolerance: f64,
        properties: &[MvtProperty<'_>],
    ) -> bool {
        let tile = self.tile;
        let projected = geometry.map_coords(|c| tile.to_tile(c.x, c.y));
        let Some(bbox) = projected.bounding_rect() else {
            return false;
        };
        if !intersects(&bbox, &self.clip) {
            return false;
        }
        let clipped = if within(&bbox, &self.clip) {
            projected
        } else {
            projected.intersection(&self.clip.to_polygon())
        };
        let simplified = if tolerance > 0.0 {
            clipped.simplify(tolerance)
        } else {
            clipped
        };
        let Some(rounded) = round_polygons(&simplified) else {
            return false;
        };
        self.push(id, geo::Geometry::MultiPolygon(rounded), properties)
    }

    /// Adds a WGS-84 point if it lies in the buffered tile. Returns whether it did.
    pub fn add_point(
        &mut self,
        id: Option<u64>,
        lon: f64,
        lat: f64,
        properties: &[MvtProperty<'_>],
    ) -> bool {
        let c = self.tile.to_tile(lon, lat);
        let (lo, hi) = (self.clip.min(), self.clip.max());
        if !(lo.x <= c.x && c.x < hi.x && lo.y <= c.y && c.y < hi.y) {
            return false;
        }
        let p = geo::Point::new(c.x.floor(), c.y.floor());
        self.push(id, geo::Geometry::Point(p), properties)
    }

    fn push(
        &mut self,
        id: Option<u64>,
        geometry: geo::Geometry<f64>,
        properties: &[MvtProperty<'_>],
    ) -> bool {
        // Coordinates are whole tile units already, which the unscaled writer expects.
        let Ok(mut feature) = geometry.to_mvt_unscaled() else {
            return false;
        };
        feature.id = id;
        for (key, value) in properties {
            let (k, v) = self.tags.insert_ref(key, value.clone());
            feature.tags.extend([k, v]);
        }
        self.features.push(feature);
        true
    }

    pub fn into_layer(self) -> Layer {
        let (keys, values) = self.tags.into_tags();
        Layer {
            version: 2,
            name: self.name,
            features: self.features,
            keys,
            values: values.into_iter().map(Into::into).collect(),
            extent: Some(EXTENT),
        }
    }
}

/// The protobuf bytes of a tile made of `layers` (empty layers left out).
pub fn encode_tile(layers: Vec<MvtLayer>) -> Vec<u8> {
    Tile {
        layers: layers
            .into_iter()
            .filter(|l| !l.is_empty())
            .map(MvtLayer::into_layer)
            .collect(),
    }
    .encode_to_vec()
}

fn intersects(a: &Rect<f64>, b: &Rect<f64>) -> bool {
    a.min().x <= b.max().x
        && b.min().x <= a.max().x
        && a.min().y <= b.max().y
        && b.min().y <= a.max().y
}

fn within(inner: &Rect<f64>, outer: &Rect<f64>) -> bool {
    outer.min().x <= inner.min().x
        && inner.max().x <= outer.max().x
        && outer.min().y <= inner.min().y
        && inner.max().y <= outer.max().y
}

/// Polygons rounded to whole tile units, without repeated vertices, rings that collapsed to
/// no area dropped, exteriors of positive and holes of negative area (in y-down tile units:
/// clockwise and counter-clockwise on screen). `None` when nothing is left.
fn round_polygons(mp: &MultiPolygon<f64>) -> Option<MultiPolygon<f64>> {
    let polygons: Vec<Polygon<f64>> =
        mp.0.iter()
            .filter_map(|p| {
                let mut exterior = round_ring(p.exterior())?;
                // geo's counter-clockwise is y-up; in y-down tile units it is the positive-area,
                // clockwise-on-screen winding MVT asks of exterior rings.
                exterior.make_ccw_winding();
                let interiors = p
                    .interiors()
                    .iter()
                    .filter_map(round_ring)
                    .map(|mut r| {
                        r.make_cw_winding();
                        r
                    })
                    .collect();
                Some(Polygon::new(exterior, interiors))
            })
            .collect();
    (!polygons.is_empty()).then_some(MultiPolygon(polygons))
}

fn round_ring(ring: &LineString<f64>) -> Option<LineString<f64>> {
    let mut coords: Vec<Coord<f64>> = Vec::with_capacity(ring.0.len());
    for c in &ring.0 {
        let r = Coord {
            x: c.x.round(),
            y: c.y.round(),
        };
        if coords.last() != Some(&r) {
            coords.push(r);
        }
    }
    let ring = LineString(coords);
    // A closed ring of at least three distinct vertices that still encloses some area.
    (ring.0.len() >= 4 && Polygon::new(ring.clone(), vec![]).unsigned_area() > 0.0).then_some(ring)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_coordinates_match_hand_computed_values() {
        assert_eq!(to_world(0.0, 0.0), (0.5, 0.5));
        let (x, y) = to_world(-180.0, MAX_LAT);
        assert!(x.abs() < 1e-12 && y.abs() < 1e-9, "{x} {y}");
        let (lon, lat) = from_world(0.75, 0.25);
        assert!((lon - 90.0).abs() < 1e-12);
        // atan(sinh(π/2)) = 66.5132604°.
        assert!((lat - 66.513_260_443_111_84).abs() < 1e-9, "{lat}");
    }

    #[test]
    fn a_point_lies_in_one_tile_per_zoom() {
        // Panjin, 122.07° E 41.12° N, at zoom 10: x = floor((122.07 + 180) / 360 · 1024)
        // = floor(859.22) = 859; y = floor((1 − asinh(tan 41.12°)/π) / 2 · 1024) = 383.
        assert_eq!(
            TileId::containing(122.07, 41.12, 10),
            TileId {
                z: 10,
                x: 859,
                y: 383
            }
        );
        // The north-west corner of a tile belongs to it; its south-east corner does not.
        let t = TileId::new(12, 3436, 1533).expect("tile");
        let b = t.bounds(0.0);
        assert_eq!(TileId::containing(b.west, b.north, 12), t);
        assert_eq!(
            TileId::containing(b.east, b.south, 12),
            TileId::new(12, 3437, 1534).expect("tile")
        );
    }

    #[test]
    fn tile_coordinates_span_the_extent() {
        let t = TileId::new(12, 3436, 1533).expect("tile");
        let b = t.bounds(0.0);
        let nw = t.to_tile(b.west, b.north);
        let se = t.to_tile(b.east, b.south);
        assert!(nw.x.abs() < 1e-6 && nw.y.abs() < 1e-6, "{nw:?}");
        assert!(
            (se.x - 4096.0).abs() < 1e-6 && (se.y - 4096.0).abs() < 1e-6,
            "{se:?}"
        );
        let grown = t.bounds(f64::from(BUFFER));
        let g = t.to_tile(grown.west, grown.north);
        assert!(
            (g.x + 64.0).abs() < 1e-6 && (g.y + 64.0).abs() < 1e-6,
            "{g:?}"
        );
    }

    #[test]
    fn out_of_range_tiles_are_refused() {
        assert_eq!(
            TileId::new(2, 4, 0),
            Err(BadTile::Outside {
                z: 2,
                x: 4,
                y: 0,
                n: 4
            })
        );
        assert_eq!(TileId::new(25, 0, 0), Err(BadTile::Zoom(25)));
        assert!(TileId::new(0, 0, 0).is_ok());
    }

    #[test]
    fn hexagons_are_10_to_40_px_at_every_zoom_of_the_table() {
        for z in 0..=MAX_ZOOM {
            let Some(res) = hexbin_resolution(z) else {
                continue;
            };
            for lat in [0.0, 41.1] {
                let px = hexagon_px(res, z, lat);
                assert!(
                    (10.0..=40.0).contains(&px),
                    "z{z} r{res} at {lat}°: {px:.1} px"
                );
            }
        }
    }

    fn decoded_ring(feature: &Feature) -> Vec<(i64, i64)> {
        // Command stream: MoveTo(1) x y, LineTo(n) (x y)*n, ClosePath.
        let g = &feature.geometry;
        let zz = |v: u32| i64::from((v >> 1) as i32 ^ -((v & 1) as i32));
        let (mut x, mut y) = (zz(g[1]), zz(g[2]));
        let mut ring = vec![(x, y)];
        let n = (g[3] >> 3) as usize;
        for i in 0..n {
            x += zz(g[4 + 2 * i]);
            y += zz(g[5 + 2 * i]);
            ring.push((x, y));
        }
        ring
    }

    #[test]
    fn polygons_are_clipped_to_the_buffer_and_wound_clockwise_on_screen() {
        let t = TileId::new(12, 3436, 1533).expect("tile");
        let b = t.bounds(0.0);
        // A counter-clockwise (RFC 7946) square much larger than the tile.
        let square = MultiPolygon(vec![Polygon::new(
            LineString::from(vec![
                (b.west - 1.0, b.south - 1.0),
                (b.east + 1.0, b.south - 1.0),
                (b.east + 1.0, b.north + 1.0),
                (b.west - 1.0, b.north + 1.0),
                (b.west - 1.0, b.south - 1.0),
            ]),
            vec![],
        )]);
        let mut layer = MvtLayer::new("test", t);
        assert!(layer.add_polygon(Some(1), &square, 0.0, &[]));
        let ring = decoded_ring(&layer.into_layer().features[0]);
        let xs: Vec<i64> = ring.iter().map(|p| p.0).collect();
        assert_eq!(xs.iter().min(), Some(&-64));
        assert_eq!(xs.iter().max(), Some(&4160));
        let area2: i64 = ring
            .iter()
            .zip(ring.iter().cycle().skip(1))
            .map(|(a, b)| a.0 * b.1 - b.0 * a.1)
            .sum();
        assert!(
            area2 > 0,
            "exterior rings have a positive area in tile units"
        );
    }

    #[test]
    fn features_outside_the_buffer_are_left_out() {
        let t = TileId::new(12, 3436, 1533).expect("tile");
        let mut layer = MvtLayer::new("test", t);
        let b = t.bounds(0.0);
        assert!(!layer.add_point(None, b.east + 0.1, b.north, &[]));
        assert!(layer.add_point(None, b.west, b.north, &[]));
        assert_eq!(layer.len(), 1);
        assert!(encode_tile(vec![MvtLayer::new("empty", t)]).is_empty());
    }
}
