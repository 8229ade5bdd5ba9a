// The optional raster basemap (`serve --basemap-url`, read from `GET /v1/console/config`).
// The console never assumes an internet basemap: without one it draws only the deployment's
// boundaries. A GCJ-02 basemap (AMap, Tencent) is cut in the Web Mercator grid of GCJ-02
// coordinates, so its tiles come from the projection `GCJ02:3857` registered here, whose
// transforms to EPSG:3857 and EPSG:4326 apply the WGS-84 ⇄ GCJ-02 offset; OpenLayers then
// warps each tile onto the view (raster reprojection) and everything else, all WGS-84, lies
// where it should instead of some 500 m off.

import TileLayer from "ol/layer/Tile";
import XYZ from "ol/source/XYZ";
import Projection from "ol/proj/Projection";
import { addCoordinateTransforms, addProjection, fromLonLat, get as getProjection, toLonLat } from "ol/proj";
import type { Coordinate } from "ol/coordinate";

import { gcj02ToWgs84, wgs84ToGcj02 } from "./datum";

export interface Basemap {
  url: string;
  datum: "wgs84" | "gcj02";
  attribution?: string | null;
}

export interface ConsoleConfig {
  basemap: Basemap | null;
}

export const GCJ02_MERCATOR = "GCJ02:3857";

/// Registers `GCJ02:3857` (Web Mercator metres of GCJ-02 lon/lat) once; returns it.
export function gcj02Projection(): Projection {
  const known = getProjection(GCJ02_MERCATOR);
  if (known) return known;
  const mercator = getProjection("EPSG:3857")!;
  const gcj = new Projection({
    code: GCJ02_MERCATOR,
    units: "m",
    extent: mercator.getExtent(),
    worldExtent: mercator.getWorldExtent() ?? undefined,
    global: true,
  });
  addProjection(gcj);
  const lonLat = (c: Coordinate, f: (lon: number, lat: number) => [number, number]) => f(c[0], c[1]);
  addCoordinateTransforms(
    "EPSG:3857",
    gcj,
    (c) => fromLonLat(lonLat(toLonLat(c), wgs84ToGcj02)),
    (c) => fromLonLat(lonLat(toLonLat(c), gcj02ToWgs84)),
  );
  addCoordinateTransforms(
    "EPSG:4326",
    gcj,
    (c) => fromLonLat(lonLat(c, wgs84ToGcj02)),
    (c) => lonLat(toLonLat(c), gcj02ToWgs84),
  );
  return gcj;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/// The tile layer of a configured basemap, under every other layer.
export function basemapLayer(b: Basemap): TileLayer<XYZ> {
  return new TileLayer({
    source: new XYZ({
      url: b.url,
      projection: b.datum === "gcj02" ? gcj02Projection() : "EPSG:3857",
      // Operator-given text, shown as text (OpenLayers would insert it as HTML).
      attributions: b.attribution ? escapeHtml(b.attribution) : undefined,
      maxZoom: 18,
    }),
    zIndex: -1,
    properties: { basemap: b.datum },
  });
}

let config: Promise<ConsoleConfig> | null = null;
/// The console's settings, read once; none (no basemap) if they cannot be read.
export function consoleConfig(): Promise<ConsoleConfig> {
  config ??= fetch("/v1/console/config")
    .then((r) => (r.ok ? r.json() : { basemap: null }))
    .then((c: ConsoleConfig) => ({ basemap: c.basemap ?? null }))
    .catch(() => ({ basemap: null }));
  return config;
}
