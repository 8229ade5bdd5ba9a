#!/usr/bin/env python3
"""Checks citysnap's map outputs with independent tools (issue 4).

- MVT tiles (`/tiles/{layer}/{z}/{x}/{y}.mvt`) are decoded by the `mapbox-vector-tile`
  package: each must hold its one layer, version 2, extent 4096, the layer's properties,
  and polygons whose exterior rings are clockwise on screen (MVT 2.1 §4.3.4.4).
- GeoJSON outputs (`/v1/analytics/hexbins`, `/tiles/…geojson`, `POST /v1/resolve`) are
  checked by `geojson-validator` against RFC 7946: structure, closed rings, right-hand rule
  (exterior counter-clockwise, holes clockwise), at least three distinct vertices, and none
  of self-intersections, duplicate vertices, more than 7 decimals, coordinates out of range.

By default it starts `citysnap serve --demo` (the debug binary, `cargo build` first) on a
free loopback port over a temporary data directory, submits a few reports, checks, and
stops the server; `--url` checks a server that is already running instead (it must hold
the demo jurisdiction). Creates `.venv/` (git-ignored) with
`scripts/requirements-tiles.txt` on first use. Exits 1 on any failure.

    python3 scripts/check_tiles.py [--url http://127.0.0.1:8080] [--binary PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_server import Checks, demo_server, ensure_venv  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "scripts" / "requirements-tiles.txt"
HTTP_TIMEOUT_S = 30

# A spot in 兴隆台区 (WGS-84) and the tiles around it the checks ask for.
HERE = (122.07, 41.12)
# Problems geojson-validator calls "problematic" that are fine here: district outlines have
# holes and many vertices.
ALLOWED_PROBLEMS = {"holes", "excessive_vertices"}


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    """The XYZ tile holding a point (Web Mercator, half-open squares)."""
    n = 2**z
    lat_r = math.radians(lat)
    x = math.floor((lon + 180.0) / 360.0 * n)
    y = math.floor((1.0 - math.asinh(math.tan(lat_r)) / math.pi) / 2.0 * n)
    return z, x, y


class Client:
    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()


def validate_geojson(checks: Checks, name: str, doc: dict) -> None:
    from geojson_validator import configure_logging, validate_geometries, validate_structure

    configure_logging(enabled=False)
    structure = validate_structure(doc)
    checks.check(not structure, f"{name}: RFC 7946 structure {structure}")
    result = validate_geometries(doc)
    invalid = result.get("invalid", {})
    problems = {k: v for k, v in result.get("problematic", {}).items() if k not in ALLOWED_PROBLEMS}
    checks.check(not invalid, f"{name}: invalid geometries {invalid}")
    checks.check(not problems, f"{name}: problematic geometries {problems}")
    checks.check(bool(doc.get("features")), f"{name}: has features")


def ring_area2(ring: list) -> float:
    return sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:] + ring[:1]))


def validate_mvt(checks: Checks, name: str, body: bytes, layer: str, fields: set[str]) -> None:
    import mapbox_vector_tile

    # Tile coordinates as stored: y down, no flipping.
    tile = mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})
    checks.check(list(tile) == [layer], f"{name}: one layer {layer!r}, got {list(tile)}")
    data = tile.get(layer, {})
    checks.check(data.get("extent") == 4096, f"{name}: extent 4096, got {data.get('extent')}")
    checks.check(data.get("version") == 2, f"{name}: version 2, got {data.get('version')}")
    features = data.get("features", [])
    checks.check(bool(features), f"{name}: has features")
    for i, f in enumerate(features):
        props = set(f.get("properties", {}))
        optional = {"parent"} | ({"count"} if layer == "hotspots" else set())
        checks.check(props <= fields and props >= fields - optional, f"{name} #{i}: properties {props}")
        g = f["geometry"]
        polygons = {"Polygon": [g["coordinates"]], "MultiPolygon": g["coordinates"]}.get(g["type"])
        if polygons is None:
            continue
        for rings in polygons:
            # The decoder splits polygons by winding: every exterior must be clockwise on
            # screen, i.e. positive in y-down tile units.
            checks.check(ring_area2(rings[0]) > 0, f"{name} #{i}: exterior ring not clockwise")
            for x, y in (p for r in rings for p in r):
                checks.check(-64 <= x <= 4160 and -64 <= y <= 4160, f"{name} #{i}: {x},{y} beyond the buffer")


def run_checks(client: Client) -> Checks:
    checks = Checks()
    # Three reports on one spot (public hexagons need k = 3) and one elsewhere.
    for lon, lat in [HERE, HERE, HERE, (HERE[0] + 0.01, HERE[1] + 0.005)]:
        status, _, body = client.request(
            "POST",
            "/v1/reports",
            {"description": "check_tiles.py", "category": "0301", "location": {"lon": lon, "lat": lat}},
        )
        checks.check(status == 201, f"POST /v1/reports: {status} {body[:200]!r}")

    geojson_paths = [
        "/v1/analytics/hexbins?res=9",
        "/v1/analytics/hexbins?res=12&by=category",
        "/v1/analytics/hotspots?res=8&significant=true",
    ]
    for layer, z in [("hexbins", 14), ("hexbins", 9), ("hotspots", 12), ("districts", 10), ("streets", 12), ("communities", 13), ("grids", 16)]:
        z, x, y = tile_of(*HERE, z)
        geojson_paths.append(f"/tiles/{layer}/{z}/{x}/{y}.geojson")
    for path in geojson_paths:
        status, headers, body = client.request("GET", path)
        if checks.check(status == 200, f"GET {path}: {status} {body[:200]!r}"):
            validate_geojson(checks, path, json.loads(body))

    points = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": i, "properties": {}, "geometry": {"type": "Point", "coordinates": [HERE[0] + i * 0.003, HERE[1]]}}
            for i in range(5)
        ],
    }
    status, _, body = client.request("POST", "/v1/resolve", points)
    if checks.check(status == 200, f"POST /v1/resolve: {status} {body[:200]!r}"):
        validate_geojson(checks, "POST /v1/resolve", json.loads(body))

    fields = {
        "hexbins": {"cell", "count"},
        # Public hotspot tiles carry the class only, and a count where it reaches k (issue 8,
        # item 6: no Gi* z or p for the public).
        "hotspots": {"cell", "significance", "count"},
        "districts": {"code", "name", "level", "parent"},
        "streets": {"code", "name", "level", "parent"},
        "communities": {"code", "name", "level", "parent"},
        "grids": {"code", "name", "level", "parent"},
    }
    for layer, z in [("hexbins", 14), ("hexbins", 12), ("hotspots", 12), ("districts", 10), ("districts", 14), ("streets", 12), ("communities", 13), ("grids", 16)]:
        z, x, y = tile_of(*HERE, z)
        for ext in ["mvt", "pbf"]:
            path = f"/tiles/{layer}/{z}/{x}/{y}.{ext}"
            status, headers, body = client.request("GET", path)
            if checks.check(status == 200, f"GET {path}: {status} {body[:200]!r}"):
                checks.check(headers.get("content-type") == "application/vnd.mapbox-vector-tile", f"{path}: content type")
                validate_mvt(checks, path, body, layer, fields[layer])

    status, _, body = client.request("GET", "/tiles/hexbins.json")
    if checks.check(status == 200, f"GET /tiles/hexbins.json: {status}"):
        doc = json.loads(body)
        checks.check(doc.get("tilejson") == "3.0.0", "TileJSON version")
        checks.check(doc["vector_layers"][0]["id"] == "hexbins", "TileJSON vector_layers")
    return checks


def main() -> int:
    ensure_venv(REQUIREMENTS, ["geojson_validator", "mapbox_vector_tile"], __file__)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="check this running server instead of starting one")
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    ap.add_argument("--binary", type=Path, default=target / "debug" / "citysnap")
    args = ap.parse_args()
    started = time.monotonic()
    if args.url:
        checks = run_checks(Client(args.url))
    else:
        if not args.binary.exists():
            print(f"{args.binary} is missing: run `cargo build` first", file=sys.stderr)
            return 1
        with tempfile.TemporaryDirectory(prefix="citysnap-check-tiles-") as data_dir:
            # No synthetic history (--demo-reports 0): the checks' own reports decide which
            # hexagons and hotspots the tiles at HERE hold.
            with demo_server(args.binary, data_dir, "--demo-reports", "0") as (_, base):
                checks = run_checks(Client(base))
    elapsed = time.monotonic() - started
    print(f"check_tiles: {checks.passed} passed, {len(checks.failures)} failed ({elapsed:.1f} s)")
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
