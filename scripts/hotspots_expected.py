#!/usr/bin/env python3
"""Independent expected values for the hotspot statistics tests (src/domain/analytics/hotspots).

Nothing here uses citysnap: neighbours come from h3-py (the H3 C library), Gi* and
Moran's I from the textbook formulas in numpy with a dense weight matrix, and each
is cross-checked against PySAL esda. Run from the repository root:

    python3 -m venv .venv && .venv/bin/pip install esda libpysal h3 numpy scipy pymannkendall
    .venv/bin/python scripts/hotspots_expected.py

It prints the constants embedded in the tests and writes
src/domain/analytics/hotspots/testdata/planted_cluster.csv.
"""

import csv
import os
import sys

import h3
import numpy as np
import pymannkendall
from scipy import stats

import esda
import libpysal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def weights(cells, k, star):
    """Binary k-ring weights among `cells` (dense), self included iff `star`."""
    pos = {c: i for i, c in enumerate(cells)}
    w = np.zeros((len(cells), len(cells)))
    for i, c in enumerate(cells):
        for nb in h3.grid_disk(c, k):
            if nb in pos and (star or nb != c):
                w[i, pos[nb]] = 1.0
    return w


def gi_star(x, w):
    """Getis-Ord Gi* z-scores, Getis & Ord (1992) / Ord & Getis (1995), in the form
    ArcGIS documents: (Σ w x − x̄ Σ w) / (S √((n Σ w² − (Σ w)²)/(n − 1)))."""
    n = len(x)
    xbar = x.mean()
    s = np.sqrt((x**2).mean() - xbar**2)
    sw = w.sum(axis=1)
    sw2 = (w**2).sum(axis=1)
    num = w @ x - xbar * sw
    den = s * np.sqrt((n * sw2 - sw**2) / (n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return num / den


def bh(p):
    """Benjamini-Hochberg adjusted p-values, as R's p.adjust(p, "BH")."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p)[::-1]
    ranks = np.arange(m, 0, -1)
    adj = np.minimum.accumulate(p[order] * m / ranks)
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def moran(x, w):
    """Moran's I and its z-score under normality (Cliff & Ord 1981)."""
    n = len(x)
    z = x - x.mean()
    s0 = w.sum()
    s1 = 0.5 * ((w + w.T) ** 2).sum()
    s2 = ((w.sum(axis=1) + w.sum(axis=0)) ** 2).sum()
    i = n / s0 * (z @ w @ z) / (z @ z)
    ei = -1.0 / (n - 1)
    vi = (n * n * s1 - n * s2 + 3 * s0 * s0) / ((n * n - 1) * s0 * s0) - ei * ei
    return i, ei, vi, (i - ei) / np.sqrt(vi)


def esda_gi_star(x, cells, k):
    neighbors = {
        i: [j for j, c in enumerate(cells) if c in set(h3.grid_disk(cells[i], k)) and j != i]
        for i in range(len(cells))
    }
    w = libpysal.weights.W(neighbors, silence_warnings=True)
    return esda.G_Local(x, w, transform="B", star=True, permutations=0).Zs, w


def section(name):
    print(f"\n== {name} ==")


def fdr():
    section("fdr: Benjamini & Hochberg (1995) p-values, BH-adjusted")
    p = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459,
         0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000]
    for v in bh(p):
        print(repr(float(v)))


def normal():
    section("normal: quantiles and far tail")
    print("isf(0.025) =", repr(float(stats.norm.isf(0.025))))
    print("isf(0.005) =", repr(float(stats.norm.isf(0.005))))
    print("2*sf(8) =", repr(float(2 * stats.norm.sf(8.0))))


def ring7():
    section("ring7: a cell and its six neighbours, k = 1")
    centre = "8a1fb46622dffff"
    cells = sorted(h3.grid_disk(centre, 1), key=lambda c: int(c, 16))
    # Counts in sorted-index order; the centre gets 10 wherever it sorts.
    outer = iter([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    x = np.array([10.0 if c == centre else next(outer) for c in cells])
    z = gi_star(x, weights(cells, 1, True))
    zs, _ = esda_gi_star(x, cells, 1)
    for c, xi, zi, ze in zip(cells, x, z, zs):
        assert np.isnan(zi) and np.isnan(ze) or abs(zi - ze) < 1e-12
        p = 2 * stats.norm.sf(abs(zi)) if not np.isnan(zi) else float("nan")
        print(c, xi, repr(float(zi)), repr(float(p)))


def planted_cluster():
    section("planted cluster: 331 resolution-9 cells, k = 1 and 2")
    centre = "891fb466257ffff"
    cells = sorted(h3.grid_disk(centre, 10), key=lambda c: int(c, 16))
    # Background 0-2 reports from the index bits (deterministic, no RNG to port), a
    # cluster of +12 within two steps of a cell four steps east of the centre, and a
    # lone spike of 30 elsewhere.
    hub = h3.grid_ring(centre, 4)[0]
    spike = h3.grid_ring(centre, 8)[5]
    x = []
    for c in cells:
        v = (int(c, 16) >> 12) % 3
        if h3.grid_distance(c, hub) <= 2:
            v += 12
        if c == spike:
            v += 30
        x.append(float(v))
    x = np.array(x)
    out = {"cell": cells, "count": x}
    for k in (1, 2):
        z = gi_star(x, weights(cells, k, True))
        zs, w = esda_gi_star(x, cells, k)
        assert np.max(np.abs(z - zs)) < 1e-10
        p = 2 * stats.norm.sf(np.abs(z))
        out[f"z_k{k}"] = z
        out[f"p_k{k}"] = p
        out[f"p_fdr_k{k}"] = bh(p)
        i, ei, vi, zi = moran(x, weights(cells, k, False))
        m = esda.Moran(x, w, transformation="B")
        assert abs(m.I - i) < 1e-12 and abs(m.z_norm - zi) < 1e-10
        assert abs(m.p_norm - 2 * stats.norm.sf(abs(zi))) < 1e-12
        print(f"k={k}: Moran I={i!r} E={ei!r} Var={vi!r} z={zi!r} p={2 * stats.norm.sf(abs(zi))!r}")
        print(f"k={k}: hot(p_fdr<=0.10,z>0)={int(((bh(p) <= 0.10) & (z > 0)).sum())}"
              f" cold={int(((bh(p) <= 0.10) & (z < 0)).sum())}")
    path = os.path.join(ROOT, "src/domain/analytics/hotspots/testdata/planted_cluster.csv")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cols = ["cell", "count", "z_k1", "p_k1", "p_fdr_k1", "z_k2", "p_k2", "p_fdr_k2"]
    with open(path, "w", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(cols)
        for r in range(len(cells)):
            wr.writerow([out["cell"][r], int(out["count"][r])]
                        + [repr(float(out[c][r])) for c in cols[2:]])
    print("wrote", os.path.relpath(path, ROOT), len(cells), "cells; hub", hub, "spike", spike)


def mann_kendall():
    section("mann_kendall")
    for series in ([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.0, 2.0, 3.0, 1.0, 4.0, 5.0, 5.0, 6.0, 7.0]):
        r = pymannkendall.original_test(series)
        print(series, "S =", r.s, "var_s =", repr(float(r.var_s)), "z =", repr(float(r.z)),
              "p =", repr(float(r.p)), "Tau =", repr(float(r.Tau)))


def splitmix64():
    section("splitmix64 seed 1234567")
    mask = (1 << 64) - 1
    state = 1234567
    for _ in range(2):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        print(z ^ (z >> 31))


if __name__ == "__main__":
    np.set_printoptions(precision=17)
    for f in (fdr, normal, ring7, planted_cluster, mann_kendall, splitmix64):
        f()
    sys.exit(0)
