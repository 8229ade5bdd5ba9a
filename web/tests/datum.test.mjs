// Unit tests of the console's WGS-84 ⇄ GCJ-02 transform (web/src/datum.ts) and of the
// GCJ02:3857 projection it registers in OpenLayers for a GCJ-02 basemap (web/src/basemap.ts).
// No browser, no network: the TypeScript is transpiled with the project's own compiler into
// web/node_modules/.cache/citysnap-tests/ and imported.
//
//   node --test web/tests/datum.test.mjs
//
// web/tests/datum-vectors.json holds WGS-84 / GCJ-02 pairs: the eviltransform library's
// published ones and points of the demo district. src/domain/datum.rs is checked against the
// same file (`console_vectors_match`), so the console and the service shift alike.

import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import test from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";

const here = path.dirname(fileURLToPath(import.meta.url));
const web = path.resolve(here, "..");
const out = path.join(web, "node_modules/.cache/citysnap-tests");
mkdirSync(out, { recursive: true });

/// Transpiles web/src/NAME.ts to an ES module Node can import (explicit extensions).
function load(name) {
  const source = readFileSync(path.join(web, "src", `${name}.ts`), "utf8");
  const js = ts
    .transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } })
    .outputText.replace(/from "\.\/([\w-]+)"/g, 'from "./$1.mjs"')
    .replace(/from "(ol\/[\w/]+)"/g, 'from "$1.js"');
  const file = path.join(out, `${name}.mjs`);
  writeFileSync(file, js);
  return file;
}

const datumFile = load("datum");
const basemapFile = load("basemap");
const { gcj02ToWgs84, wgs84ToGcj02 } = await import(pathToFileURL(datumFile));
const { GCJ02_MERCATOR, gcj02Projection } = await import(pathToFileURL(basemapFile));
const { fromLonLat, toLonLat, transform } = await import("ol/proj.js");

const vectors = JSON.parse(readFileSync(path.join(here, "datum-vectors.json"), "utf8"));

test("WGS-84 → GCJ-02 matches the shared vectors within 1e-9 degrees", () => {
  assert.ok(vectors.pairs.length >= 5);
  for (const { name, wgs84, gcj02 } of vectors.pairs) {
    const [lon, lat] = wgs84ToGcj02(...wgs84);
    assert.ok(Math.abs(lon - gcj02[0]) < 1e-9 && Math.abs(lat - gcj02[1]) < 1e-9, `${name}: ${lon},${lat} vs ${gcj02}`);
  }
});

test("GCJ-02 → WGS-84 inverts within 1e-9 degrees, and round trips within 1e-9", () => {
  for (const { name, wgs84, gcj02 } of vectors.pairs) {
    const [lon, lat] = gcj02ToWgs84(...gcj02);
    assert.ok(Math.abs(lon - wgs84[0]) < 1e-9 && Math.abs(lat - wgs84[1]) < 1e-9, `${name}: ${lon},${lat} vs ${wgs84}`);
  }
  for (let lon = 73.5; lon < 135; lon += 3.7) {
    for (let lat = 18.2; lat < 53.5; lat += 2.9) {
      const back = gcj02ToWgs84(...wgs84ToGcj02(lon, lat));
      assert.ok(Math.abs(back[0] - lon) < 1e-9 && Math.abs(back[1] - lat) < 1e-9, `${lon},${lat} → ${back}`);
    }
  }
});

test("Tiananmen moves by about +0.006 lon, +0.0014 lat", () => {
  const [lon, lat] = wgs84ToGcj02(116.397, 39.908);
  assert.ok(lon - 116.397 > 0.0055 && lon - 116.397 < 0.0068, `dlon ${lon - 116.397}`);
  assert.ok(lat - 39.908 > 0.0010 && lat - 39.908 < 0.0018, `dlat ${lat - 39.908}`);
});

test("GCJ-02 is the identity outside China", () => {
  assert.deepEqual(wgs84ToGcj02(-104.9903, 39.7392), [-104.9903, 39.7392]);
  assert.deepEqual(gcj02ToWgs84(153.0251, -27.4698), [153.0251, -27.4698]);
});

test("OpenLayers' GCJ02:3857 is the Web Mercator of GCJ-02 coordinates", () => {
  const proj = gcj02Projection();
  assert.equal(proj.getCode(), GCJ02_MERCATOR);
  assert.equal(gcj02Projection(), proj, "registered once");
  for (const { name, wgs84, gcj02 } of vectors.pairs) {
    const there = transform(fromLonLat(wgs84), "EPSG:3857", GCJ02_MERCATOR);
    const want = fromLonLat(gcj02);
    assert.ok(Math.hypot(there[0] - want[0], there[1] - want[1]) < 1e-3, `${name}: ${there} vs ${want}`);
    const back = transform(there, GCJ02_MERCATOR, "EPSG:3857");
    const start = fromLonLat(wgs84);
    assert.ok(Math.hypot(back[0] - start[0], back[1] - start[1]) < 1e-3, `${name}: back ${back}`);
    const fromDegrees = transform(wgs84, "EPSG:4326", GCJ02_MERCATOR);
    assert.ok(Math.hypot(fromDegrees[0] - want[0], fromDegrees[1] - want[1]) < 1e-3, `${name}: from degrees`);
    const toDegrees = transform(want, GCJ02_MERCATOR, "EPSG:4326");
    assert.ok(Math.abs(toDegrees[0] - wgs84[0]) < 1e-9 && Math.abs(toDegrees[1] - wgs84[1]) < 1e-9, `${name}: to degrees`);
    // The shift is hundreds of metres: drawing a GCJ-02 tile unshifted would be that far off.
    const offset = Math.hypot(want[0] - start[0], want[1] - start[1]) * Math.cos((wgs84[1] * Math.PI) / 180);
    assert.ok(offset > 100 && offset < 1000, `${name}: offset ${offset} m`);
    assert.deepEqual(toLonLat(start).map((v) => v.toFixed(9)), wgs84.map((v) => v.toFixed(9)));
  }
});
