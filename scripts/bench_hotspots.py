#!/usr/bin/env python3
"""Gi* over every resolution-10 cell of 兴隆台区: citysnap against PySAL esda, same run.

The Rust example `hotspots_peer` builds the study area (h3o polygon-to-cells of the real
outline, GCJ-02 → WGS-84), deals one million seeded synthetic reports into it, times Gi*
and writes cell,count,z and the outline. This script checks that h3-py's polygon-to-cells
gives the same cells, builds the same binary 1-ring weights with h3-py and libpysal, times esda.G_Local(y, w, transform='B', star=True, permutations=0) on the
same counts, and prints the ratio and the largest |z difference|.

    python3 -m venv .venv && .venv/bin/pip install esda libpysal h3 numpy pandas
    .venv/bin/python scripts/bench_hotspots.py            # builds the example (release)
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import esda
import h3
import libpysal
import numpy as np
import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(f, repeats):
    """Median wall time of f() over `repeats` runs, in seconds, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = f()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--esda-repeats", type=int, default=5)
    ap.add_argument("--rust-repeats", type=int, default=21)
    ap.add_argument("--no-build", action="store_true", help="use the built example as is")
    args = ap.parse_args()

    if not args.no_build:
        subprocess.run(
            ["cargo", "build", "--release", "--quiet", "--example", "hotspots_peer"],
            cwd=ROOT, check=True,
        )
    exe = os.path.join(ROOT, "target", "release", "examples", "hotspots_peer")
    with tempfile.TemporaryDirectory() as tmp:
        run = subprocess.run([exe, tmp, str(args.rust_repeats)],
                             check=True, capture_output=True, text=True)
        rust = json.loads(run.stdout.strip().splitlines()[-1])
        df = pd.read_csv(os.path.join(tmp, "hotspots.csv"))
        with open(os.path.join(tmp, "outline.geojson")) as f:
            outline = h3.geo_to_h3shape(json.load(f))

    # The study area is H3's standard polygon-to-cells: h3-py must find the same cells.
    h3_cells = set(h3.h3shape_to_cells(outline, 10))
    if h3_cells != set(df["cell"]):
        print(f"study areas differ: h3-py {len(h3_cells)} cells, citysnap {len(df)}",
              file=sys.stderr)
        return 1

    cells = df["cell"].tolist()
    y = df["count"].to_numpy(dtype=float)
    pos = {c: i for i, c in enumerate(cells)}

    def weights():
        neighbours = {
            i: [pos[n] for n in h3.grid_disk(c, 1) if n != c and n in pos]
            for i, c in enumerate(cells)
        }
        return libpysal.weights.W(neighbours, silence_warnings=True)

    w_s, w = timed(weights, 1)
    esda_s, g = timed(
        lambda: esda.G_Local(y, w, transform="B", star=True, permutations=0),
        args.esda_repeats,
    )
    dz = np.abs(g.Zs - df["z"].to_numpy())
    max_dz = float(np.max(dz))

    rust_gi_s = rust["gi_star_ms"] / 1e3
    rust_total_s = rust["neighbours_and_gi_star_ms"] / 1e3
    print(f"cells (resolution 10, 兴隆台区): {rust['cells']} (h3-py polygon-to-cells: same set)")
    print(f"synthetic reports inside the area: {int(rust['reports_in_area'])}"
          f" (sum of counts {int(y.sum())})")
    print(f"hot / cold cells (FDR, 90 %+): {rust['hot']} / {rust['cold']}")
    print(f"citysnap polygon-to-cells:            {rust['polyfill_ms']:10.3f} ms")
    print(f"citysnap neighbours (k = 1):          {rust['neighbours_ms']:10.3f} ms")
    print(f"citysnap Gi* (neighbours built):      {rust['gi_star_ms']:10.3f} ms")
    print(f"citysnap neighbours + Gi*:            {rust['neighbours_and_gi_star_ms']:10.3f} ms")
    print(f"libpysal W from h3-py neighbours:     {w_s * 1e3:10.1f} ms (not in the ratio)")
    print(f"esda G_Local(star, 'B', perms=0):     {esda_s * 1e3:10.1f} ms"
          f" (median of {args.esda_repeats})")
    print(f"ratio esda / citysnap neighbours + Gi*: {esda_s / rust_total_s:8.0f}x")
    print(f"ratio esda / citysnap Gi* alone:        {esda_s / rust_gi_s:8.0f}x")
    print(f"max |z_esda - z_citysnap|: {max_dz:.3e}")
    if not max_dz < 1e-9:
        print("z-scores differ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
