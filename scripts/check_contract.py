#!/usr/bin/env python3
"""Checks citysnap's HTTP API against its OpenAPI contract (issue 9).

1. `docs/openapi.json` (the committed snapshot) and the document the server serves at
   `/openapi.json` are both valid OpenAPI 3.1 (`openapi-spec-validator`), and equal.
2. schemathesis runs every check it has against a demo server: once without a token and
   once with a token of each role (resident, grid worker, handler, dispatcher, leader,
   planner, admin). Any 5xx, any answer that violates its schema, any status code the
   document does not declare fails the run. Each run is bounded by `--max-examples` and
   a wall-clock budget (`--max-time`, plus a hard timeout), so the whole check takes a few
   minutes.

It starts `citysnap serve --demo` (the debug binary: `cargo build` first) on a free
loopback port over a temporary data directory and stops it at the end. Creates `.venv/`
(git-ignored) with `scripts/requirements-contract.txt` on first use. Exits 1 on any
failure.

    python3 scripts/check_contract.py [--binary PATH] [--max-examples N] [--max-time S]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_server import demo_server, ensure_venv  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "scripts" / "requirements-contract.txt"
SNAPSHOT = ROOT / "docs" / "openapi.json"
# A spot in 兴隆台区 (WGS-84).
HERE = (122.07, 41.12)


def request(base: str, method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def validate_documents(base: str) -> list[str]:
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    failures = []
    committed = json.loads(SNAPSHOT.read_text())
    with urllib.request.urlopen(base + "/openapi.json", timeout=30) as r:
        served = json.loads(r.read())
    for name, doc in [("docs/openapi.json", committed), ("GET /openapi.json", served)]:
        if doc.get("openapi") != "3.1.0":
            failures.append(f"{name}: openapi is {doc.get('openapi')!r}, not 3.1.0")
        try:
            validate(doc)
        except OpenAPIValidationError as e:
            failures.append(f"{name}: not valid OpenAPI 3.1: {e}")
    if committed != served:
        failures.append("the served document differs from docs/openapi.json: regenerate it (`cargo run -- openapi > docs/openapi.json`)")
    return failures


def tokens(base: str, admin: str) -> dict[str, str]:
    """A token for every role, the unit-bound ones for the units around HERE."""
    status, where = request(base, "GET", f"/v1/resolve?lon={HERE[0]}&lat={HERE[1]}")
    if status != 200:
        raise SystemExit(f"resolve: {status} {where}")
    units = where["units"]
    out = {"admin": admin}
    for role, unit in [
        ("dispatcher", None),
        ("leader", None),
        ("planner", None),
        ("handler", units["street"]["code"]),
        ("grid_worker", units["grid"]["code"]),
    ]:
        body = {"role": role} | ({"unit": unit} if unit else {})
        status, issued = request(base, "POST", "/v1/tokens", body, admin)
        if status != 201:
            raise SystemExit(f"POST /v1/tokens {role}: {status} {issued}")
        out[role] = issued["token"]
    # A resident of the demo (registration needs the code of a text message).
    status, issued = request(base, "POST", "/v1/demo/sign-in", {"principal": "u-demo-r-0000"})
    if status != 200:
        raise SystemExit(f"POST /v1/demo/sign-in: {status} {issued}")
    out["resident"] = issued["token"]
    # Some cases to read, act on and draw: three on one spot (public hexagons need k = 3).
    for i in range(4):
        status, report = request(
            base,
            "POST",
            "/v1/reports",
            {"description": f"check_contract {i}", "category": "0301", "location": {"lon": HERE[0] + i * 1e-4, "lat": HERE[1]}},
            out["resident"],
        )
        if status != 201:
            raise SystemExit(f"POST /v1/reports: {status} {report}")
    return out


def schemathesis(base: str, who: str, token: str | None, max_examples: int, max_time: int) -> bool:
    st = Path(sys.prefix) / "bin" / "st"
    cmd = [
        str(st),
        "--config-file",
        str(ROOT / "scripts" / "schemathesis.toml"),
        "run",
        f"{base}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(max_examples),
        "--max-time",
        str(max_time),
        "--request-timeout",
        "30",
        "--seed",
        "9",
        "--no-color",
        # The live event stream never ends: it is checked by tests/api/workflow.rs.
        "--exclude-path",
        "/v1/events/stream",
    ]
    if token:
        cmd += ["--header", f"Authorization: Bearer {token}"]
    print(f"check_contract: schemathesis as {who} …", flush=True)
    try:
        run = subprocess.run(cmd, cwd=ROOT, timeout=max_time + 120, capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        print(f"check_contract: schemathesis as {who} ran over {max_time + 120} s", file=sys.stderr)
        return False
    tail = "\n".join(run.stdout.splitlines()[-60:])
    if run.returncode != 0:
        print(run.stdout[-20000:], run.stderr[-4000:], sep="\n", file=sys.stderr)
        print(f"check_contract: schemathesis as {who} FAILED", file=sys.stderr)
        return False
    print(tail.splitlines()[-1] if tail else "", flush=True)
    return True


def main() -> int:
    ensure_venv(REQUIREMENTS, ["openapi_spec_validator", "schemathesis"], __file__)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    ap.add_argument("--binary", type=Path, default=target / "debug" / "citysnap")
    ap.add_argument("--max-examples", type=int, default=10)
    ap.add_argument("--max-time", type=int, default=45, help="seconds per schemathesis run")
    ap.add_argument("--roles", default="anonymous,resident,grid_worker,handler,dispatcher,leader,planner,admin")
    args = ap.parse_args()
    if not args.binary.exists():
        print(f"{args.binary} is missing: run `cargo build` first", file=sys.stderr)
        return 1
    started = time.monotonic()
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="citysnap-check-contract-") as data_dir:
        demo = subprocess.run([str(args.binary), "demo", "--data-dir", data_dir], capture_output=True, text=True, timeout=300)
        if demo.returncode != 0:
            print(demo.stderr, file=sys.stderr)
            return 1
        admin = subprocess.run(
            [str(args.binary), "token", "create", "--role", "admin", "--data-dir", data_dir],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if admin.returncode != 0:
            print(admin.stderr, file=sys.stderr)
            return 1
        admin_token = admin.stdout.strip().splitlines()[-1]
        with demo_server(args.binary, data_dir) as (_, base):
            document_failures = validate_documents(base)
            for f in document_failures:
                print(f"check_contract: {f}", file=sys.stderr)
            if document_failures:
                failures.append("the OpenAPI document")
            by_role = {"anonymous": None} | tokens(base, admin_token)
            for who in args.roles.split(","):
                if not schemathesis(base, who, by_role[who], args.max_examples, args.max_time):
                    failures.append(f"schemathesis as {who}")
    for f in failures:
        print(f"FAILED: {f}", file=sys.stderr)
    elapsed = time.monotonic() - started
    checks = 1 + len(args.roles.split(","))
    print(f"check_contract: {checks - len(failures)} passed, {len(failures)} failed ({elapsed:.1f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
