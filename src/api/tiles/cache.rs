//! Rendered tiles kept for reuse (issue 10, "Interactive speed"): the encoded body of each
//! tile with its ETag (and its gzip copy once a client asked for it), keyed by everything the
//! body depends on, so that a warm tile costs a hash lookup: no store read, no drawing, no
//! hashing.
//!
//! Invalidation is per tile. Each entry knows its *reach*: the WGS-84 box where a new or
//! changed report can change its body (the tile's square, grown by the hexagons it draws
//! for heat-map tiles). A report at a point evicts the entries whose reach holds the point,
//! at every zoom and with any filter ([`TileCache::touch`]); tiles elsewhere keep their
//! bodies and ETags. Boundary tiles depend on the jurisdiction only and are dropped when it
//! is replaced ([`TileCache::clear`]).
//!
//! Reaches are indexed in a grid of tiles at several zooms: an entry is filed under the (at
//! most four) tiles of the deepest zoom at which its reach spans at most two tiles each way,
//! so a touch looks in one bucket a zoom, whether the entry is a z17 tile or a z7 tile with
//! `?res=` hexagons larger than it.
//!
//! A render that began before a touch may have read the store before the report landed: such
//! a result is answered but not kept (the cache's generation moved, [`TileCache::put`]).
//!
//! Two layers are not kept. Hotspots: a report changes the Gi* statistics of the whole
//! area, not of its tile; their computations have their own cache (`HotspotCache`, a
//! minute). Report points (staff only): they show each case's state, which every action
//! changes, and on PostGIS the acting replica hears of its own action only through
//! `LISTEN`, after answering it; a dispatcher must see the state just set. Heat-map counts
//! never change after intake, which evicts their tiles before it answers.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use axum::http::HeaderValue;
use bytes::Bytes;
use hashlink::LruCache;
use sha2::{Digest, Sha256};

use super::{Format, Layer, TileFilters, TileRequest, Viewer};
use crate::domain::spatial::tiles::{LonLatBox, TileId};

/// Bytes of rendered tiles kept: a busy heat-map tile is 10–90 kB, so this holds the
/// viewports of many maps at once; the process's memory stays flat beyond it.
const TILE_CACHE_BYTES: usize = 64 << 20;

/// Deepest zoom of the reach index (the deepest zoom any layer is served at).
const INDEX_MAX_ZOOM: u8 = 18;

/// What an entry costs beyond its bodies: key, bookkeeping and index slots, roughly.
const ENTRY_OVERHEAD: usize = 512;

/// Everything a tile's body depends on: layer, tile, format, filters and viewer (the
/// public's tiles are k-anonymised, planners' and staff's are not, so they never share an
/// entry).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TileKey {
    layer: Layer,
    tile: TileId,
    format: Format,
    filters: TileFilters,
    viewer: Viewer,
}

impl TileKey {
    /// The key of `req` drawn for `viewer`; `None` for layers not kept (hotspots, report
    /// points).
    pub fn of(req: &TileRequest, viewer: Viewer) -> Option<Self> {
        let kept = !matches!(req.layer, Layer::Hotspots | Layer::Reports);
        kept.then(|| TileKey {
            layer: req.layer,
            tile: req.tile,
            format: req.format,
            filters: req.filters.clone(),
            viewer,
        })
    }
}

/// Where reports change a tile's body.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reach {
    /// Reports at a point inside the box (edges included).
    Reports(LonLatBox),
    /// No report: the tile draws the jurisdiction only.
    Boundaries,
}

impl Reach {
    fn holds(&self, lon: f64, lat: f64) -> bool {
        match self {
            Reach::Reports(b) => {
                (b.west..=b.east).contains(&lon) && (b.south..=b.north).contains(&lat)
            }
            Reach::Boundaries => false,
        }
    }

    /// The index buckets of the reach: the tiles of the deepest zoom (at most `z`) at which
    /// the box spans at most two tiles each way.
    fn buckets(&self, z: u8) -> Vec<TileId> {
        let Reach::Reports(b) = self else {
            return Vec::new();
        };
        (0..=z.min(INDEX_MAX_ZOOM))
            .rev()
            .find_map(|bz| {
                let nw = TileId::containing(b.west, b.north, bz);
                let se = TileId::containing(b.east, b.south, bz);
                (se.x.saturating_sub(nw.x) <= 1 && se.y.saturating_sub(nw.y) <= 1).then(|| {
                    (nw.x..=se.x)
                        .flat_map(|x| (nw.y..=se.y).map(move |y| TileId { z: bz, x, y }))
                        .collect()
                })
            })
            .unwrap_or_default()
    }
}

/// A rendered tile as it is served again: its body (`None`: the tile is empty, 204), its
/// weak ETag, and its gzip copy, made the first time a client asks for one.
#[derive(Debug)]
pub struct CachedTile {
    pub content_type: &'static str,
    body: Option<Bytes>,
    etag: HeaderValue,
    gzip: OnceLock<Option<Bytes>>,
}

impl CachedTile {
    pub fn new(content_type: &'static str, body: Option<Vec<u8>>) -> Self {
        let etag = body.as_deref().map_or_else(|| etag_of(&[]), etag_of);
        Self {
            content_type,
            body: body.map(Bytes::from),
            etag,
            gzip: OnceLock::new(),
        }
    }

    /// The body; `None` when the tile holds nothing.
    pub fn body(&self) -> Option<&Bytes> {
        self.body.as_ref()
    }

    pub fn etag(&self) -> &HeaderValue {
        &self.etag
    }

    /// The body gzipped (compressed once, then kept); `None` for an empty tile or if the
    /// encoder failed (the plain body is served then).
    pub fn gzip(&self) -> Option<&Bytes> {
        let body = self.body.as_ref()?;
        self.gzip
            .get_or_init(|| {
                let mut gz =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                gz.write_all(body).ok()?;
                gz.finish().ok().map(Bytes::from)
            })
            .as_ref()
    }

    /// What the entry may take in memory: the body, and as much again for its gzip copy
    /// (never larger than the body but for a few header bytes).
    fn bytes(&self) -> usize {
        ENTRY_OVERHEAD + 2 * self.body.as_ref().map_or(0, Bytes::len)
    }
}

/// A weak ETag: the first 16 bytes of the body's SHA-256. Weak, because gzip changes the
/// bytes but not the meaning (RFC 9110 §8.8.1).
pub fn etag_of(body: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(body);
    HeaderValue::from_str(&format!("W/\"{}\"", hex::encode(&digest[..16])))
        .unwrap_or_else(|_| HeaderValue::from_static("W/\"\""))
}

/// The cache's state when a render began: [`TileCache::put`] keeps the render only if no
/// report was touched and nothing cleared since.
#[derive(Debug, Clone, Copy)]
pub struct Generation(u64);

/// Rendered tiles, bounded in bytes (least recently used out first), evicted per tile by
/// the reports that land in them.
pub struct TileCache {
    inner: Mutex<Inner>,
    budget: usize,
}

struct Inner {
    entries: LruCache<TileKey, Entry>,
    /// The keys of the entries whose reach overlaps each bucket tile.
    index: HashMap<TileId, HashSet<TileKey>>,
    bytes: usize,
    generation: u64,
}

struct Entry {
    tile: Arc<CachedTile>,
    bytes: usize,
    buckets: Vec<TileId>,
    reach: Reach,
}

impl Default for TileCache {
    fn default() -> Self {
        Self::new(TILE_CACHE_BYTES)
    }
}

impl TileCache {
    pub fn new(budget: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                entries: LruCache::new_unbounded(),
                index: HashMap::new(),
                bytes: 0,
                generation: 0,
            }),
            budget,
        }
    }

    /// The tile under `key` (and marks it used).
    pub fn get(&self, key: &TileKey) -> Option<Arc<CachedTile>> {
        let mut inner = self.inner.lock().ok()?;
        inner.entries.get(key).map(|e| e.tile.clone())
    }

    /// To be taken before a render whose result goes to [`TileCache::put`].
    pub fn generation(&self) -> Generation {
        Generation(self.inner.lock().map_or(u64::MAX, |i| i.generation))
    }

    /// Keeps `tile` under `key` unless a report was touched or the cache cleared since
    /// `rendered_at` (the render may predate it); evicts the least recently used entries
    /// beyond the budget.
    pub fn put(&self, key: TileKey, tile: Arc<CachedTile>, reach: Reach, rendered_at: Generation) {
        let bytes = tile.bytes();
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.generation != rendered_at.0 || bytes > self.budget {
            return;
        }
        inner.remove(&key);
        while inner.bytes + bytes > self.budget {
            match inner.entries.remove_lru() {
                Some((old, e)) => inner.unindex(&old, e),
                None => break,
            }
        }
        let buckets = reach.buckets(key.tile.z);
        for b in &buckets {
            inner.index.entry(*b).or_default().insert(key.clone());
        }
        inner.bytes += bytes;
        inner.entries.insert(
            key,
            Entry {
                tile,
                bytes,
                buckets,
                reach,
            },
        );
    }

    /// A report at (`lon`, `lat`) was added or changed: evicts every tile whose body it may
    /// change, at every zoom, layer and filter.
    pub fn touch(&self, lon: f64, lat: f64) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.generation += 1;
        for z in 0..=INDEX_MAX_ZOOM {
            let bucket = TileId::containing(lon, lat, z);
            let hit: Vec<TileKey> = inner
                .index
                .get(&bucket)
                .into_iter()
                .flatten()
                .filter(|k| {
                    inner
                        .entries
                        .peek(k)
                        .is_some_and(|e| e.reach.holds(lon, lat))
                })
                .cloned()
                .collect();
            for k in hit {
                inner.remove(&k);
            }
        }
    }

    /// Forgets every tile (the jurisdiction was replaced, or change notices may have been
    /// lost).
    pub fn clear(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.generation += 1;
            inner.entries.clear();
            inner.index.clear();
            inner.bytes = 0;
        }
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.inner.lock().map_or(0, |i| i.entries.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    fn remove(&mut self, key: &TileKey) {
        if let Some(e) = self.entries.remove(key) {
            self.unindex(key, e);
        }
    }

    /// Takes a removed entry out of the byte count and the index.
    fn unindex(&mut self, key: &TileKey, e: Entry) {
        self.bytes -= e.bytes;
        for b in &e.buckets {
            if let Some(keys) = self.index.get_mut(b) {
                keys.remove(key);
                if keys.is_empty() {
                    self.index.remove(b);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(layer: Layer, tile: TileId, viewer: Viewer) -> TileKey {
        TileKey::of(
            &TileRequest {
                layer,
                tile,
                format: Format::Mvt,
                filters: TileFilters::default(),
            },
            viewer,
        )
        .expect("a kept layer")
    }

    fn tile(body: &[u8]) -> Arc<CachedTile> {
        Arc::new(CachedTile::new("application/x-test", Some(body.to_vec())))
    }

    const HERE: (f64, f64) = (122.07, 41.12);

    /// Keeps a public MVT tile of `layer` reaching `reach`; its key.
    fn keep(cache: &TileCache, layer: Layer, t: TileId, reach: Reach) -> TileKey {
        let k = key(layer, t, Viewer::Public);
        cache.put(k.clone(), tile(b"x"), reach, cache.generation());
        k
    }

    #[test]
    fn a_report_evicts_the_tiles_whose_reach_holds_it_at_every_zoom() {
        let cache = TileCache::default();
        let near: Vec<TileKey> = [7u8, 12, 17]
            .into_iter()
            .map(|z| {
                let t = TileId::containing(HERE.0, HERE.1, z);
                keep(&cache, Layer::Hexbins, t, Reach::Reports(t.bounds(64.0)))
            })
            .collect();
        let far_tile = TileId::containing(HERE.0 + 0.1, HERE.1, 14);
        let far = keep(
            &cache,
            Layer::Hexbins,
            far_tile,
            Reach::Reports(far_tile.bounds(64.0)),
        );
        let grid_tile = TileId::containing(HERE.0, HERE.1, 14);
        let grid = keep(&cache, Layer::Grids, grid_tile, Reach::Boundaries);
        assert_eq!(cache.len(), 5);

        cache.touch(HERE.0, HERE.1);
        for k in &near {
            assert!(cache.get(k).is_none(), "{k:?} holds the report");
        }
        assert!(cache.get(&far).is_some(), "a tile 8 km away stays");
        assert!(
            cache.get(&grid).is_some(),
            "boundaries do not depend on reports"
        );
        cache.clear();
        assert!(cache.is_empty());
    }

    #[test]
    fn a_reach_larger_than_its_tile_is_found_from_the_point() {
        // A z17 tile drawing resolution-5 hexagons (?res=5) reaches tens of kilometres.
        let cache = TileCache::default();
        let t = TileId::containing(HERE.0, HERE.1, 17);
        let k = key(Layer::Hexbins, t, Viewer::Staff);
        let wide = LonLatBox {
            west: HERE.0 - 0.3,
            south: HERE.1 - 0.3,
            east: HERE.0 + 0.3,
            north: HERE.1 + 0.3,
        };
        assert!(Reach::Reports(wide).buckets(17).len() <= 4);
        cache.put(
            k.clone(),
            tile(b"x"),
            Reach::Reports(wide),
            cache.generation(),
        );
        cache.touch(HERE.0 + 0.25, HERE.1 - 0.25);
        assert!(cache.get(&k).is_none());
    }

    #[test]
    fn a_render_older_than_a_touch_is_not_kept() {
        let cache = TileCache::default();
        let t = TileId::containing(HERE.0, HERE.1, 14);
        let k = key(Layer::Hexbins, t, Viewer::Public);
        let before = cache.generation();
        cache.touch(0.0, 0.0);
        cache.put(k.clone(), tile(b"x"), Reach::Reports(t.bounds(0.0)), before);
        assert!(cache.get(&k).is_none());
    }

    #[test]
    fn the_public_and_staff_never_share_an_entry() {
        let t = TileId::containing(HERE.0, HERE.1, 14);
        assert_ne!(
            key(Layer::Hexbins, t, Viewer::Public),
            key(Layer::Hexbins, t, Viewer::Staff)
        );
    }

    #[test]
    fn the_cache_stays_within_its_byte_budget() {
        // Room for three entries of one byte (and their gzip allowance).
        let cache = TileCache::new(3 * (ENTRY_OVERHEAD + 2));
        let keys: Vec<TileKey> = (0..4)
            .map(|x| {
                let t = TileId::new(14, 13_700 + x, 6_100).expect("tile");
                keep(&cache, Layer::Hexbins, t, Reach::Reports(t.bounds(0.0)))
            })
            .collect();
        assert_eq!(cache.len(), 3);
        assert!(
            cache.get(&keys[0]).is_none(),
            "the least recently used went"
        );
        cache.touch(0.0, 0.0);
        assert_eq!(cache.len(), 3);
    }
}
