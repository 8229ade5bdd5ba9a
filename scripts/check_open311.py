#!/usr/bin/env python3
"""Checks `/open311/v2` (Open311 GeoReport v2; issue 12) with a real client.

Against `citysnap serve --demo` (the debug binary, a small living demo, a temporary data
directory, a free loopback port), with an API key issued by `citysnap open311-key create`:

1. The `georeport` package (PyPI), in JSON and in XML: the service list, a service
   definition, the requests of the last 90 days, filtered by status and by id, one request.
   georeport 0.3.1 has no POST and no discovery: those go through `requests`, as the spec
   describes them (a form-encoded POST with `api_key`).
2. Every JSON answer validated against the GeoReport v2 JSON schemas in
   `scripts/open311-schemas/` (written from the spec's field lists); every XML answer parsed
   and its root and item elements checked (`services/service`, `service_requests/request`,
   `errors/error`, `discovery/endpoints/endpoint`), and equal in content to the JSON.
3. A request posted with the key appears in the requests and by its token; without a key,
   with a revoked one, or outside the service area, the answer is the spec's error shape.
   The public sees request points at resolution-10 H3 cell centres and no description.

Creates `.venv/` (git-ignored) with `scripts/requirements-open311.txt` on first use. Exits 1
on any failure.

    python3 scripts/check_open311.py [--binary PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_server import Checks, demo_server, ensure_venv  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "scripts" / "requirements-open311.txt"
SCHEMAS = ROOT / "scripts" / "open311-schemas"
DEMO_REPORTS = "200"
# The element of one item of each list, as the spec's XML examples have them.
ITEMS = {"services": "service", "service_requests": "request", "errors": "error",
         "endpoints": "endpoint", "formats": "format", "attributes": "attribute", "values": "value"}


def xml_as_json(element: ET.Element):
    """An XML document read back into the JSON shape the spec pairs it with."""
    children = list(element)
    if element.tag in ITEMS:
        return [xml_as_json(c) for c in children if c.tag == ITEMS[element.tag]]
    if not children:
        return element.text or ""
    return {c.tag: xml_as_json(c) for c in children}


def comparable(v):
    """JSON with every scalar as the text XML carries (null and "" alike)."""
    if isinstance(v, list):
        return [comparable(x) for x in v]
    if isinstance(v, dict):
        return {k: comparable(x) for k, x in v.items()}
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def cli(binary: Path, data_dir: str, *args: str) -> str:
    run = subprocess.run([str(binary), *args, "--data-dir", data_dir], capture_output=True, text=True, timeout=300)
    if run.returncode != 0:
        raise SystemExit(f"citysnap {' '.join(args)}: {run.stderr}")
    return run.stdout.strip().splitlines()[-1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    ap.add_argument("--binary", type=Path, default=target / "debug" / "citysnap")
    args = ap.parse_args()
    ensure_venv(REQUIREMENTS, ["georeport", "jsonschema", "h3"], __file__)
    import h3
    import jsonschema
    import requests
    from georeport import GeoReport

    schemas = {p.stem: json.loads(p.read_text()) for p in SCHEMAS.glob("*.json")}
    checks = Checks()

    def valid(name: str, doc, what: str) -> bool:
        errors = sorted(jsonschema.Draft202012Validator(schemas[name]).iter_errors(doc), key=str)
        return checks.check(not errors, f"{what} fits {name}.json: {[e.message for e in errors[:3]]}")

    def same_in_xml(url: str, root: str, params: dict | None = None, headers: dict | None = None) -> None:
        j = requests.get(url + ".json", params=params, headers=headers, timeout=30)
        x = requests.get(url + ".xml", params=params, headers=headers, timeout=30)
        ok = j.status_code == x.status_code == 200 and x.headers.get("content-type", "").startswith("application/xml")
        try:
            tree = ET.fromstring(x.content)
        except ET.ParseError as e:
            checks.check(False, f"{url}.xml is well-formed XML: {e}")
            return
        checks.check(ok and tree.tag == root, f"{url}.xml: status {x.status_code}, root <{tree.tag}>, expected <{root}>")
        checks.check(xml_as_json(tree) == comparable(j.json()), f"{url}.xml says what {url}.json says")

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="citysnap-check-open311-") as data_dir:
        key = cli(args.binary, data_dir, "open311-key", "create", "--name", "check_open311")
        revoked = cli(args.binary, data_dir, "open311-key", "create", "--name", "revoked")
        dispatcher = cli(args.binary, data_dir, "token", "create", "--role", "dispatcher")
        with demo_server(args.binary, data_dir, "--demo-reports", DEMO_REPORTS) as (_, base):
            root = f"{base}/open311/v2"
            db = sqlite3.connect(f"file:{data_dir}/citysnap.sqlite?mode=ro", uri=True)
            lon, lat = db.execute("select lon, lat from case_index order by case_id limit 1").fetchone()
            revoked_id = db.execute("select id from api_keys where name = 'revoked'").fetchone()[0]
            db.close()

            # Discovery, by hand (georeport has no call for it).
            d = requests.get(f"{root}/discovery.json", timeout=30)
            valid("discovery", d.json(), "discovery.json")
            checks.check(d.json()["endpoints"][0]["url"] == root, f"discovery names {root}: {d.json()}")
            same_in_xml(f"{root}/discovery", "discovery")

            # 1. georeport, JSON and XML.
            gr = GeoReport(root, jurisdiction="citysnap")
            services = gr.get_service_list()
            valid("services", services, "services.json")
            codes = [s["service_code"] for s in services]
            checks.check(len(codes) > 20 and "0101" in codes, f"services: {codes[:5]} …")
            same_in_xml(f"{root}/services", "services")
            xml_services = GeoReport(root, output_format="xml").get_service_list()
            checks.check([s["service_code"] for s in xml_services] == codes, "georeport reads the same services from XML")
            definition = gr.get_service_definition("0101")
            valid("service_definition", definition, "services/0101.json")
            same_in_xml(f"{root}/services/0101", "service_definition")

            recent = gr.get_service_requests()
            valid("service_requests", recent, "requests.json")
            checks.check(0 < len(recent) <= 1000, f"the last 90 days hold requests: {len(recent)}")
            open_ = gr.get_service_requests(status="open")
            closed = gr.get_service_requests(status="closed")
            checks.check(len(open_) + len(closed) == len(recent) and all(r["status"] == "open" for r in open_)
                         and all(r["status"] == "closed" for r in closed), f"status filter: {len(open_)} open, {len(closed)} closed of {len(recent)}")
            same_in_xml(f"{root}/requests", "service_requests", params={"status": "closed"})

            # 2. A request posted with the key.
            form = {"api_key": key, "service_code": "0101", "lat": lat, "long": lon, "description": "check_open311 的测试",
                    "first_name": "测试", "phone": "13800138000", "jurisdiction_id": "citysnap"}
            posted = requests.post(f"{root}/requests.json", data=form, timeout=30)
            checks.check(posted.status_code == 201, f"POST requests.json: {posted.status_code} {posted.text[:300]}")
            valid("post_response", posted.json(), "the POST answer")
            sr_id = posted.json()[0]["service_request_id"]
            one = gr.get_service_request(sr_id)
            valid("service_requests", [one], f"requests/{sr_id}.json")
            checks.check(one["service_request_id"] == sr_id and one["status"] == "open" and one["agency_responsible"],
                         f"the new request is open with an agency: {one}")
            checks.check(one.get("description") is None and one.get("address") is None, f"the public sees no description: {one}")
            centre = h3.cell_to_latlng(h3.latlng_to_cell(lat, lon, 10))
            checks.check(abs(centre[0] - one["lat"]) < 2e-6 and abs(centre[1] - one["long"]) < 2e-6,
                         f"the public point is the resolution-10 cell centre {centre}: {one['lat']}, {one['long']}")
            xml_one = GeoReport(root, output_format="xml").get_service_request(sr_id)
            checks.check(xml_one["service_request_id"] == sr_id and xml_one["status"] == "open", f"georeport reads the request from XML: {xml_one}")
            by_id = gr.get_service_requests(service_request_id=f"{sr_id},{recent[0]['service_request_id']}")
            checks.check([r["service_request_id"] for r in by_id] == [sr_id, recent[0]["service_request_id"]], "service_request_id list")
            staff = requests.get(f"{root}/requests/{sr_id}.json", headers={"Authorization": f"Bearer {dispatcher}"}, timeout=30).json()
            checks.check(staff[0]["description"] == form["description"] and staff[0]["lat"] == lat, f"a dispatcher sees the description and the point: {staff}")
            same_in_xml(f"{root}/requests/{sr_id}", "service_requests", headers={"Authorization": f"Bearer {dispatcher}"})
            token = posted.json()[0]["token"]
            t = requests.get(f"{root}/tokens/{token}.json", timeout=30)
            valid("token", t.json(), "tokens/{token}.json")
            checks.check(t.json()[0]["service_request_id"] == sr_id, f"the token names the request: {t.text}")

            # 3. Refusals, in the spec's error shape, in JSON and XML.
            def refused(fmt: str, data: dict, status: int, says: str) -> None:
                r = requests.post(f"{root}/requests.{fmt}", data=data, timeout=30)
                if fmt == "json":
                    body = r.json()
                    valid("errors", body, f"the {status} answer")
                    text = body[0]["description"] if body else ""
                    code = body[0]["code"] if body else None
                else:
                    tree = ET.fromstring(r.content)
                    error = tree.find("error")
                    checks.check(tree.tag == "errors" and error is not None, f"XML error root: {r.text[:200]}")
                    text = error.findtext("description", "") if error is not None else ""
                    code = int(error.findtext("code", "0")) if error is not None else None
                checks.check(r.status_code == status and code == status and says in text,
                             f"POST requests.{fmt} {says!r}: {r.status_code} {r.text[:300]}")

            no_key = {k: v for k, v in form.items() if k != "api_key"}
            refused("json", no_key, 403, "api_key is required")
            refused("xml", no_key, 403, "api_key is required")
            cli(args.binary, data_dir, "open311-key", "revoke", revoked_id)
            refused("json", {**form, "api_key": revoked}, 403, "not valid")
            refused("xml", {**form, "api_key": "o311_" + "0" * 64}, 403, "not valid")
            refused("json", {**form, "lat": 35.415, "long": 116.587}, 400, "km from")
            refused("json", {**form, "service_code": "9999"}, 400, "9999")
            r = requests.get(f"{root}/requests.json", params={"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-12-31T00:00:00Z"}, timeout=30)
            valid("errors", r.json(), "the 400 of a window over 90 days")
            checks.check(r.status_code == 400 and r.json()[0]["code"] == 400, f"a window over 90 days: {r.status_code}")
    print(f"check_open311: {checks.passed} passed, {len(checks.failures)} failed ({time.monotonic() - started:.1f} s)")
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
