#!/usr/bin/env python3
"""Checks `/ogc` (OGC API – Features, Part 1 Core; issue 12) with real clients.

Against `citysnap serve --demo` (the debug binary, a small living demo, a temporary data
directory, a free loopback port):

1. GDAL's OAPIF driver (Debian's gdal-bin): `ogrinfo` lists the collections with their
   geometry types; `ogr2ogr -oo PAGE_SIZE=7` over a bbox pages through the grids and, with
   a dispatcher's token, through the reports; each count equals what the SQLite store holds
   in that box (grids: exact intersection with shapely; reports: points in the box);
   `ogr2ogr` pages through the hotspots and gets the cells and significance of
   `/v1/analytics/hotspots`.
2. owslib's OGC API Features client: landing page, conformance, collections, items with
   bbox and limit, one item by id; the public sees reports without ids, each point the
   centre of its resolution-10 H3 cell (checked with the `h3` package), nothing personal.

Creates `.venv/` (git-ignored) with `scripts/requirements-ogc.txt` on first use. Exits 1 on
any failure.

    python3 scripts/check_ogc.py [--binary PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_server import Checks, cli_token, demo_server, ensure_venv  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "scripts" / "requirements-ogc.txt"
# A box around a few streets of 兴隆台区 (WGS-84): some hundred grids, some reports.
BBOX = (122.03, 41.10, 122.06, 41.13)
DEMO_REPORTS = "600"


def ogr(*args: str, token: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if token:
        env["GDAL_HTTP_HEADERS"] = f"Authorization: Bearer {token}"
    return subprocess.run(list(args), capture_output=True, text=True, timeout=600, env=env)


def ogr2ogr_count(base: str, layer: str, bbox: tuple, token: str | None, out_dir: str) -> int | None:
    out = Path(out_dir) / f"{layer}-{'staff' if token else 'public'}.geojson"
    run = ogr(
        "ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{base}/ogc", layer,
        "-spat", *map(str, bbox), "-oo", "PAGE_SIZE=7",
        token=token,
    )
    if run.returncode != 0:
        print(run.stderr, file=sys.stderr)
        return None
    return len(json.loads(out.read_text())["features"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    ap.add_argument("--binary", type=Path, default=target / "debug" / "citysnap")
    args = ap.parse_args()
    ensure_venv(REQUIREMENTS, ["h3", "owslib", "shapely"], __file__)
    import h3
    from owslib.ogcapi.features import Features
    from shapely.geometry import box, shape

    checks = Checks()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="citysnap-check-ogc-") as data_dir:
        dispatcher = cli_token(args.binary, data_dir, "dispatcher")
        with demo_server(args.binary, data_dir, "--demo-reports", DEMO_REPORTS) as (_, base):
            # What the store holds, read from its SQLite file directly.
            db = sqlite3.connect(f"file:{data_dir}/citysnap.sqlite?mode=ro", uri=True)
            area = box(*BBOX)
            grids_in_box = sum(
                1
                for (geojson,) in db.execute(
                    "select geojson from units where level = 'grid' and max_lon >= ? and max_lat >= ? and min_lon <= ? and min_lat <= ?",
                    BBOX,
                )
                if shape(json.loads(geojson)).intersects(area)
            )
            # The reports' box: from the 20th to the 80th percentile of the demo's history.
            lons = sorted(r[0] for r in db.execute("select lon from case_index"))
            lats = sorted(r[0] for r in db.execute("select lat from case_index"))
            p = lambda xs, q: xs[int(len(xs) * q)]  # noqa: E731
            report_box = (p(lons, 0.2), p(lats, 0.2), p(lons, 0.8), p(lats, 0.8))
            reports_in_box = db.execute(
                "select count(*) from case_index where lon >= ? and lat >= ? and lon <= ? and lat <= ?", report_box
            ).fetchone()[0]
            db.close()
            checks.check(grids_in_box > 7 and reports_in_box > 7, f"the box holds several pages ({grids_in_box} grids, {reports_in_box} reports)")

            # 1. GDAL
            info = ogr("ogrinfo", "-ro", "-so", f"OAPIF:{base}/ogc")
            listing = info.stdout
            for layer, kind in [("districts", "Multi Polygon"), ("streets", "Multi Polygon"), ("communities", "Multi Polygon"), ("grids", "Multi Polygon"), ("reports", "Point"), ("hotspots", "Polygon")]:
                listed = re.search(rf"^\d+: {layer} .*\({kind}\)$", listing, re.M)
                checks.check(info.returncode == 0 and listed is not None, f"ogrinfo lists {layer} as {kind}: {listing[-400:]} {info.stderr[-400:]}")
            with tempfile.TemporaryDirectory() as out_dir:
                n = ogr2ogr_count(base, "grids", BBOX, None, out_dir)
                checks.check(n == grids_in_box, f"ogr2ogr PAGE_SIZE=7 over the box: {n} grids, the store {grids_in_box}")
                n = ogr2ogr_count(base, "reports", report_box, dispatcher, out_dir)
                checks.check(n == reports_in_box, f"ogr2ogr PAGE_SIZE=7 as a dispatcher: {n} reports, the store {reports_in_box}")
                # The hotspots layer: the same cells as the analytics endpoint's Gi* answer.
                with urllib.request.urlopen(f"{base}/v1/analytics/hotspots?res=9", timeout=300) as r:
                    want = {f["properties"]["cell"]: f["properties"]["significance"] for f in json.load(r)["features"]}
                hot_file = Path(out_dir) / "hotspots.geojson"
                run = ogr("ogr2ogr", "-f", "GeoJSON", str(hot_file), f"OAPIF:{base}/ogc", "hotspots", "-oo", "PAGE_SIZE=1000")
                got = {} if run.returncode else {f["properties"]["cell"]: f["properties"]["significance"] for f in json.loads(hot_file.read_text())["features"]}
                checks.check(len(want) > 1000 and got == want, f"ogr2ogr pages through the hotspots: {len(got)} cells, the analytics {len(want)}; {run.stderr[-300:]}")
                summary = ogr("ogrinfo", "-ro", "-al", "-so", f"OAPIF:{base}/ogc", "grids")
                checks.check("code: String" in summary.stdout and "synthetic" in summary.stdout, f"ogrinfo reads the grids' fields: {summary.stdout[-600:]}")

            # 2. owslib
            w = Features(base + "/ogc")
            conformance = w.conformance()["conformsTo"]
            checks.check("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conformance, f"conformance: {conformance}")
            ids = [c["id"] for c in w.collections()["collections"]]
            checks.check(ids == ["districts", "streets", "communities", "grids", "reports", "hotspots"], f"collections: {ids}")
            page = w.collection_items("grids", bbox=list(BBOX), limit=5)
            checks.check(len(page["features"]) == 5 and page["numberMatched"] == grids_in_box and page["numberReturned"] == 5, f"owslib grids page: {page.get('numberMatched')} matched")
            first = page["features"][0]
            one = w.collection_item("grids", first["id"])
            checks.check(one["properties"]["code"] == first["id"] and one["properties"]["level"] == "grid", f"owslib item: {one.get('properties')}")
            public = w.collection_items("reports", limit=200)
            feats = public["features"]
            checks.check(len(feats) == 200, f"public reports page: {len(feats)}")
            leaks = [f for f in feats if "id" in f or set(f["properties"]) - {"category", "state", "day", "grid", "community"}]
            checks.check(not leaks, f"the public sees no ids or personal fields: {leaks[:1]}")
            off_centre = []
            for f in feats:
                lon, lat = f["geometry"]["coordinates"]
                lat_c, lon_c = h3.cell_to_latlng(h3.latlng_to_cell(lat, lon, 10))
                if abs(lat_c - lat) > 2e-6 or abs(lon_c - lon) > 2e-6:
                    off_centre.append((lon, lat))
            checks.check(not off_centre, f"public points are resolution-10 cell centres: {off_centre[:3]}")
            staff = Features(base + "/ogc", headers={"Authorization": f"Bearer {dispatcher}"})
            exact = staff.collection_items("reports", limit=3)["features"]
            checks.check(len(exact) == 3 and all(f["id"] == f["properties"]["case_id"] for f in exact), f"staff get case ids: {exact[:1]}")
            one = staff.collection_item("reports", exact[0]["id"])
            checks.check(one["geometry"] == exact[0]["geometry"], "staff open a report by id")
    print(f"check_ogc: {checks.passed} passed, {len(checks.failures)} failed ({time.monotonic() - started:.1f} s)")
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
