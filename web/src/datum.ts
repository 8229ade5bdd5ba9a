// WGS-84 ⇄ GCJ-02, the same transforms as src/domain/datum.rs (the published forward
// transform with the Krasovsky constants, the identity outside mainland China's rough box;
// its inverse by fixed-point iteration to 1e-10 degrees). The console needs them to draw a
// GCJ-02 basemap (AMap, Tencent) under data that is WGS-84, as everything citysnap serves is.
// web/tests/datum.test.mjs checks them against web/tests/datum-vectors.json, which the Rust
// tests check src/domain/datum.rs against too.

const A = 6_378_245.0;
const EE = 0.006_693_421_622_965_943_23;

function outOfChina(lon: number, lat: number): boolean {
  return !(lon >= 72.004 && lon <= 137.8347) || !(lat >= 0.8293 && lat <= 55.8271);
}

function transformLat(x: number, y: number): number {
  let r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  r += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  r += ((20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin((y / 3.0) * Math.PI)) * 2.0) / 3.0;
  r += ((160.0 * Math.sin((y / 12.0) * Math.PI) + 320.0 * Math.sin((y * Math.PI) / 30.0)) * 2.0) / 3.0;
  return r;
}

function transformLon(x: number, y: number): number {
  let r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  r += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  r += ((20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin((x / 3.0) * Math.PI)) * 2.0) / 3.0;
  r += ((150.0 * Math.sin((x / 12.0) * Math.PI) + 300.0 * Math.sin((x / 30.0) * Math.PI)) * 2.0) / 3.0;
  return r;
}

/// WGS-84 → GCJ-02 (lon, lat in degrees).
export function wgs84ToGcj02(lon: number, lat: number): [number, number] {
  if (outOfChina(lon, lat)) return [lon, lat];
  let dlat = transformLat(lon - 105.0, lat - 35.0);
  let dlon = transformLon(lon - 105.0, lat - 35.0);
  const radlat = (lat / 180.0) * Math.PI;
  const magic = 1.0 - EE * Math.sin(radlat) ** 2;
  const sqrtMagic = Math.sqrt(magic);
  dlat = (dlat * 180.0) / (((A * (1.0 - EE)) / (magic * sqrtMagic)) * Math.PI);
  dlon = (dlon * 180.0) / ((A / sqrtMagic) * Math.cos(radlat) * Math.PI);
  return [lon + dlon, lat + dlat];
}

/// GCJ-02 → WGS-84: the exact inverse, by iteration.
export function gcj02ToWgs84(lon: number, lat: number): [number, number] {
  if (outOfChina(lon, lat)) return [lon, lat];
  let x = lon;
  let y = lat;
  for (let i = 0; i < 30; i++) {
    const [fx, fy] = wgs84ToGcj02(x, y);
    const dx = lon - fx;
    const dy = lat - fy;
    x += dx;
    y += dy;
    if (Math.abs(dx) < 1e-10 && Math.abs(dy) < 1e-10) break;
  }
  return [x, y];
}
