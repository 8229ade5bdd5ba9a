#!/usr/bin/env python3
"""Runs the planner notebooks in `notebooks/` top to bottom against a demo server (issue 12).

Starts `citysnap serve --demo` (the debug binary, a temporary data directory, a free
loopback port), then executes every `notebooks/*.ipynb` with nbclient in `.venv`'s Python
kernel, `CITYSNAP_URL` pointing at the server and `CITYSNAP_FIGURES` at
`target/artefacts/notebooks/`. A notebook passes when every cell runs (their own `assert`s
compare what they read across interfaces) and each figure it names is a PNG it wrote. The
executed notebooks are saved next to the figures.

Creates `.venv/` (git-ignored) with `scripts/requirements-notebooks.txt` on first use.
Exits 1 on any failure.

    python3 scripts/run_notebooks.py [--binary PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_server import Checks, demo_server, ensure_venv  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "scripts" / "requirements-notebooks.txt"
DEMO_REPORTS = "4000"
CELL_TIMEOUT_S = 300
# The PNG figures each notebook must write.
FIGURES = {
    "reports_trends_and_hotspots.ipynb": ["monthly_by_category.png", "monthly_by_street.png", "hotspot_map.png"],
    "unit_performance.ipynb": ["unit_rates.png", "monthly_rates.png"],
}
PNG = b"\x89PNG\r\n\x1a\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    ap.add_argument("--binary", type=Path, default=target / "debug" / "citysnap")
    args = ap.parse_args()
    ensure_venv(REQUIREMENTS, ["nbclient", "nbformat", "ipykernel", "matplotlib", "geopandas", "pyarrow"], __file__)
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    out = target / "artefacts" / "notebooks"
    out.mkdir(parents=True, exist_ok=True)
    checks = Checks()
    started = time.monotonic()
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    checks.check(sorted(n.name for n in notebooks) == sorted(FIGURES), f"the notebooks: {[n.name for n in notebooks]}")
    with tempfile.TemporaryDirectory(prefix="citysnap-notebooks-") as data_dir:
        with demo_server(args.binary, data_dir, "--demo-reports", DEMO_REPORTS) as (_, base):
            os.environ["CITYSNAP_URL"] = base
            os.environ["CITYSNAP_FIGURES"] = str(out)
            os.environ.pop("CITYSNAP_TOKEN", None)
            for path in notebooks:
                for name in FIGURES.get(path.name, []):
                    (out / name).unlink(missing_ok=True)
                nb = nbformat.read(path, as_version=4)
                t0 = time.monotonic()
                client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(out)}})
                try:
                    client.execute()
                    ran = True
                except CellExecutionError as e:
                    ran = False
                    print(str(e)[-3000:], file=sys.stderr)
                nbformat.write(nb, out / path.name)
                checks.check(ran, f"{path.name} runs top to bottom ({time.monotonic() - t0:.1f} s)")
                for name in FIGURES.get(path.name, []):
                    f = out / name
                    ok = f.exists() and f.stat().st_size > 10_000 and f.read_bytes()[:8] == PNG
                    checks.check(ok, f"{path.name} wrote the figure {name}")
    print(f"run_notebooks: {checks.passed} passed, {len(checks.failures)} failed ({time.monotonic() - started:.1f} s); figures in {out}")
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
