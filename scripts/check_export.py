#!/usr/bin/env python3
"""Checks the GeoParquet and Arrow exports (issue 12) with pyarrow, geopandas and DuckDB.

Against `citysnap serve --demo` (the debug binary, a living demo of a few thousand reports,
a temporary data directory, a free loopback port), every file is compared with what the
SQLite store holds, read from its file directly:

1. A dispatcher's `GET /v1/export/reports.parquet`: pyarrow reads it (GeoParquet `geo`
   metadata: version 1.1.0, WKB, Point, OGC:CRS84, bbox = the points' bounds), every case
   id of the store exactly once, with its category, state, grid and exact point (shapely's
   WKB reader); geopandas reads it as a GeoDataFrame in OGC:CRS84 with those bounds; DuckDB
   counts it per category and state as the store does, and a filtered export
   (`category`, `from`, `to`) as the store's SQL does.
2. The public's export: no case id column, nothing personal, the same number of rows, every
   point the centre of its report's resolution-10 H3 cell (the `h3` package).
3. `GET /v1/export/reports.arrow`: pyarrow's IPC stream reader, the same rows as Parquet,
   the geometry field marked `geoarrow.wkb`.
4. `citysnap export --out …parquet` (offline, against the same store): the same rows.

Creates `.venv/` (git-ignored) with `scripts/requirements-export.txt` on first use. Exits 1
on any failure.

    python3 scripts/check_export.py [--binary PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_server import Checks, cli_token, demo_server, ensure_venv  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "scripts" / "requirements-export.txt"
DEMO_REPORTS = "3000"
TZ = dt.timezone(dt.timedelta(hours=8))


def download(url: str, path: Path, token: str | None = None) -> str:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(req, timeout=300) as r:
        path.write_bytes(r.read())
        return r.headers.get("content-type", "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    ap.add_argument("--binary", type=Path, default=target / "debug" / "citysnap")
    args = ap.parse_args()
    ensure_venv(REQUIREMENTS, ["pyarrow", "geopandas", "duckdb", "shapely", "h3"], __file__)
    import duckdb
    import geopandas
    import h3
    import pyarrow.ipc
    import pyarrow.parquet as pq
    import shapely
    from pyproj import CRS

    checks = Checks()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="citysnap-check-export-") as data_dir:
        out = Path(data_dir) / "out"
        out.mkdir()
        dispatcher = cli_token(args.binary, data_dir, "dispatcher")
        with demo_server(args.binary, data_dir, "--demo-reports", DEMO_REPORTS) as (_, base):
            db = sqlite3.connect(f"file:{data_dir}/citysnap.sqlite?mode=ro", uri=True)
            store = {
                case_id: (category, state, grid, lon, lat, submitted_at)
                for case_id, category, state, grid, lon, lat, submitted_at in db.execute(
                    "select case_id, category, state, grid, lon, lat, submitted_at from case_index"
                )
            }
            checks.check(len(store) >= 1000, f"the demo store holds {len(store)} reports")

            # 1. Staff: pyarrow, geopandas, DuckDB.
            staff_file = out / "staff.parquet"
            media = download(f"{base}/v1/export/reports.parquet", staff_file, dispatcher)
            checks.check(media == "application/vnd.apache.parquet", f"media type {media}")
            table = pq.read_table(staff_file)
            geo = json.loads(pq.read_metadata(staff_file).metadata[b"geo"])
            col = geo["columns"]["geometry"]
            checks.check(
                geo["version"] == "1.1.0" and geo["primary_column"] == "geometry" and col["encoding"] == "WKB"
                and col["geometry_types"] == ["Point"],
                f"GeoParquet metadata: {json.dumps(geo)[:300]}",
            )
            checks.check(CRS.from_json_dict(col["crs"]).equals(CRS("OGC:CRS84")), "the crs is OGC:CRS84")
            rows = table.to_pylist()
            ids = [r["case_id"] for r in rows]
            checks.check(len(ids) == len(set(ids)) and set(ids) == set(store), f"every case once: {len(ids)} rows, {len(set(ids))} ids, store {len(store)}")
            wrong = []
            for r in rows:
                s = store.get(r["case_id"])
                p = shapely.from_wkb(r["geometry"])
                if s is None or (r["category"], r["state"], r["grid"]) != s[:3] or (p.x, p.y) != (s[3], s[4]):
                    wrong.append((r["case_id"], r["category"], r["state"], r["grid"], p.x, p.y, s))
            checks.check(not wrong, f"category, state, grid and exact point as stored: {wrong[:2]}")
            lons = [s[3] for s in store.values()]
            lats = [s[4] for s in store.values()]
            bounds = [min(lons), min(lats), max(lons), max(lats)]
            checks.check(col["bbox"] == bounds, f"bbox {col['bbox']} = the points' bounds {bounds}")
            gdf = geopandas.read_parquet(staff_file)
            checks.check(
                len(gdf) == len(store) and gdf.crs.equals(CRS("OGC:CRS84")) and set(gdf.geom_type) == {"Point"}
                and [round(v, 9) for v in gdf.total_bounds] == [round(v, 9) for v in bounds],
                f"geopandas: {len(gdf)} rows, crs {gdf.crs}, bounds {list(gdf.total_bounds)}",
            )
            by = dict(
                ((c, s), n)
                for c, s, n in duckdb.sql(
                    f"select category, state, count(*) from read_parquet('{staff_file}') group by 1, 2"
                ).fetchall()
            )
            want = Counter((s[0], s[1]) for s in store.values())
            checks.check(by == dict(want), f"DuckDB counts per category and state as the store: {sorted(by.items())[:4]} vs {sorted(want.items())[:4]}")
            # A filtered export: a major category over the last 90 local days.
            today = dt.datetime.now(TZ).date()
            first = today - dt.timedelta(days=89)
            filtered = out / "filtered.parquet"
            download(f"{base}/v1/export/reports.parquet?category=01&from={first}&to={today}", filtered, dispatcher)
            n = duckdb.sql(f"select count(*) from read_parquet('{filtered}')").fetchall()[0][0]

            def local_day(t: str) -> dt.date:
                return dt.datetime.fromisoformat(t.replace("Z", "+00:00")).astimezone(TZ).date()

            expected = sum(1 for s in store.values() if s[0].startswith("01") and first <= local_day(s[5]) <= today)
            checks.check(n == expected and n > 0, f"category=01 over 90 days: DuckDB {n}, the store {expected}")

            # 2. The public.
            public_file = out / "public.parquet"
            download(f"{base}/v1/export/reports.parquet", public_file)
            public = pq.read_table(public_file)
            checks.check(
                public.column_names == ["category", "state", "day", "community", "grid", "geometry"] and public.num_rows == len(store),
                f"the public's columns {public.column_names}, {public.num_rows} rows",
            )
            raw = public_file.read_bytes()
            checks.check(not any(i.encode() in raw for i in list(store)[:50]), "no case id in the public file")
            off = []
            for g in public.column("geometry").to_pylist():
                p = shapely.from_wkb(g)
                lat_c, lon_c = h3.cell_to_latlng(h3.latlng_to_cell(p.y, p.x, 10))
                if abs(lat_c - p.y) > 2e-6 or abs(lon_c - p.x) > 2e-6:
                    off.append((p.x, p.y))
            checks.check(not off, f"public points are resolution-10 cell centres: {off[:3]}")
            public_cells = Counter(
                h3.latlng_to_cell(shapely.from_wkb(g).y, shapely.from_wkb(g).x, 10) for g in public.column("geometry").to_pylist()
            )
            store_cells = Counter(h3.latlng_to_cell(s[4], s[3], 10) for s in store.values())
            checks.check(public_cells == store_cells, "each public point is its own report's cell")

            # 3. Arrow IPC.
            arrow_file = out / "staff.arrow"
            media = download(f"{base}/v1/export/reports.arrow", arrow_file, dispatcher)
            with pyarrow.ipc.open_stream(arrow_file.read_bytes()) as reader:
                stream = reader.read_all()
            field = stream.schema.field("geometry")
            checks.check(
                media == "application/vnd.apache.arrow.stream" and stream.num_rows == table.num_rows
                and stream.column("case_id").to_pylist() == table.column("case_id").to_pylist()
                and (field.metadata or {}).get(b"ARROW:extension:name") == b"geoarrow.wkb",
                f"Arrow stream: {media}, {stream.num_rows} rows, geometry metadata {field.metadata}",
            )

            # 4. The CLI, against the same store.
            cli_file = out / "cli.parquet"
            run = subprocess.run(
                [str(args.binary), "export", "--out", str(cli_file), "--data-dir", data_dir],
                capture_output=True, text=True, timeout=300,
            )
            cli_ids = pq.read_table(cli_file).column("case_id").to_pylist() if run.returncode == 0 else []
            checks.check(sorted(cli_ids) == sorted(ids), f"citysnap export: {len(cli_ids)} rows; {run.stderr[-300:]}")
            db.close()
    print(f"check_export: {checks.passed} passed, {len(checks.failures)} failed ({time.monotonic() - started:.1f} s)")
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
