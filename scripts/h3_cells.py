#!/usr/bin/env python3
"""The H3 cell of each point at resolutions 5 to 12, from Uber's `h3` package (PyPI): the
independent reference of the exact-count tests (issue 10, tests/api/exact.rs).

Reads lines `lon lat` on stdin and prints, per line, the point's cells at resolutions 5..12
(`h3.latlng_to_cell`, lowercase hex) separated by spaces. Creates `.venv/` (git-ignored) with
`scripts/requirements-tiles.txt` on first use, under a lock so that parallel tests share one
installation. Exits non-zero when the package cannot be had: the tests then fail.

    printf '122.07 41.12\\n' | python3 scripts/h3_cells.py
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
REQUIREMENTS = ROOT / "scripts" / "requirements-tiles.txt"
PIP_TIMEOUT_S = 600
RESOLUTIONS = range(5, 13)


def ensure_venv() -> None:
    """Re-executes this script with `.venv`'s Python once `h3` imports there."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    python = VENV / "bin" / "python"
    with open(__file__, encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not python.exists():
            venv.create(VENV, with_pip=True)
        probe = subprocess.run([str(python), "-c", "import h3"], capture_output=True)
        if probe.returncode != 0:
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
                check=True,
                timeout=PIP_TIMEOUT_S,
            )
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


def main() -> None:
    ensure_venv()
    import h3

    for line in sys.stdin:
        if not line.strip():
            continue
        lon, lat = (float(v) for v in line.split())
        print(" ".join(h3.latlng_to_cell(lat, lon, r) for r in RESOLUTIONS))


if __name__ == "__main__":
    main()
