// The base map every page shares: the deployment's own boundaries (district, streets,
// communities, grids) as vector tiles from `/tiles/{layer}/{z}/{x}/{y}.mvt`, drawn by
// OpenLayers on a 2D canvas. No internet basemap is assumed; a deployment may configure a
// raster one (basemap.ts), drawn underneath.

import Map from "ol/Map";
import View from "ol/View";
import VectorTileLayer from "ol/layer/VectorTile";
import VectorTileSource from "ol/source/VectorTile";
import MVT from "ol/format/MVT";
import { Fill, Stroke, Style, Text } from "ol/style";
import { fromLonLat, transformExtent } from "ol/proj";
import { defaults as defaultControls, ScaleLine } from "ol/control";
import type { FeatureLike } from "ol/Feature";

import { basemapLayer, consoleConfig } from "./basemap";

export interface BoundaryLayer {
  id: "districts" | "streets" | "communities" | "grids";
  minZoom: number;
  maxZoom: number;
}

export const BOUNDARIES: BoundaryLayer[] = [
  { id: "districts", minZoom: 5, maxZoom: 16 },
  { id: "streets", minZoom: 8, maxZoom: 16 },
  { id: "communities", minZoom: 10, maxZoom: 16 },
  { id: "grids", minZoom: 13, maxZoom: 18 },
];

const strokes: Record<BoundaryLayer["id"], Stroke> = {
  districts: new Stroke({ color: "#37474f", width: 2.5 }),
  streets: new Stroke({ color: "#5c6bc0", width: 1.6 }),
  communities: new Stroke({ color: "#90a4ae", width: 1 }),
  grids: new Stroke({ color: "rgba(120,144,156,0.45)", width: 0.6 }),
};

const labelled = new Set(["streets", "communities"]);

function boundaryStyle(id: BoundaryLayer["id"]) {
  const plain = new Style({ stroke: strokes[id], fill: new Fill({ color: "rgba(0,0,0,0)" }) });
  return (f: FeatureLike, resolution: number) => {
    if (!labelled.has(id)) return plain;
    // Street names when a street is a few hundred pixels wide, community names closer in.
    const show = id === "streets" ? resolution < 60 && resolution > 8 : resolution < 8;
    if (!show) return plain;
    return new Style({
      stroke: strokes[id],
      fill: new Fill({ color: "rgba(0,0,0,0)" }),
      text: new Text({
        text: String(f.get("name") ?? ""),
        font: id === "streets" ? "600 13px sans-serif" : "11px sans-serif",
        fill: new Fill({ color: id === "streets" ? "#283593" : "#546e7a" }),
        stroke: new Stroke({ color: "#fff", width: 3 }),
        overflow: false,
      }),
    });
  };
}

export function boundaryLayers(): VectorTileLayer[] {
  return BOUNDARIES.map((b) => {
    const layer = new VectorTileLayer({
      source: new VectorTileSource({
        format: new MVT(),
        url: `/tiles/${b.id}/{z}/{x}/{y}.mvt`,
        minZoom: b.minZoom,
        maxZoom: b.maxZoom,
      }),
      minZoom: b.minZoom - 0.01,
      style: boundaryStyle(b.id),
      declutter: labelled.has(b.id),
      properties: { boundary: b.id },
    });
    return layer;
  });
}

/// The deployment's extent, from the district layer's TileJSON (WGS-84 bounds).
export async function deploymentBounds(): Promise<[number, number, number, number]> {
  try {
    const r = await fetch("/tiles/districts.json");
    const tj = await r.json();
    if (Array.isArray(tj.bounds) && tj.bounds.length === 4) return tj.bounds;
  } catch {
    /* fall through */
  }
  return [121.9, 40.95, 122.25, 41.3];
}

export async function makeMap(target: HTMLElement, extra: import("ol/layer/Base").default[] = []): Promise<Map> {
  const { basemap } = await consoleConfig();
  const map = new Map({
    target,
    layers: [...(basemap ? [basemapLayer(basemap)] : []), ...boundaryLayers(), ...extra],
    view: new View({ center: fromLonLat([122.07, 41.12]), zoom: 11, maxZoom: 19, minZoom: 6 }),
    controls: defaultControls({ attribution: Boolean(basemap?.attribution), attributionOptions: { collapsible: false } }).extend([new ScaleLine()]),
  });
  const bounds = await deploymentBounds();
  map.getView().fit(transformExtent(bounds, "EPSG:4326", "EPSG:3857"), { padding: [20, 20, 20, 20] });
  return map;
}
