"""What the check scripts share: a `.venv/` with their requirements, a citysnap demo server
on a free loopback port, and a tally of checks. Imported by the check scripts (run from the repository root or anywhere: they add this folder to the path).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import venv
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
START_TIMEOUT_S = 120
PIP_TIMEOUT_S = 600


def ensure_venv(requirements: Path, modules: list[str], script: str) -> None:
    """Re-executes `script` with `.venv`'s Python, installing `requirements` when one of
    `modules` is missing."""
    python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() != VENV.resolve():
        if not python.exists():
            print(f"creating {VENV} …", file=sys.stderr)
            venv.create(VENV, with_pip=True)
        os.execv(str(python), [str(python), str(Path(script).resolve()), *sys.argv[1:]])
    try:
        for m in modules:
            __import__(m)
    except ImportError:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "-r", str(requirements)],
            check=True,
            timeout=PIP_TIMEOUT_S,
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def demo_server(binary: Path, data_dir: str, *args: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """`citysnap serve --demo ARGS` over `data_dir` on a free loopback port, ready (its
    `/readyz` answered 200); yields the process and the base URL, and stops it at the end."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(binary), "serve", "--demo", *args, "--bind", f"127.0.0.1:{port}", "--data-dir", data_dir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"citysnap exited: {proc.stderr.read().decode(errors='replace')}")
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"citysnap did not answer /readyz within {START_TIMEOUT_S} s")
            time.sleep(0.3)
        yield proc, base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def cli_token(binary: Path, data_dir: str, role: str) -> str:
    """A new principal's bearer token, from `citysnap token create` against `data_dir`."""
    run = subprocess.run(
        [str(binary), "token", "create", "--role", role, "--data-dir", data_dir],
        capture_output=True, text=True, timeout=300,
    )
    if run.returncode != 0:
        raise SystemExit(f"citysnap token create: {run.stderr}")
    return run.stdout.strip().splitlines()[-1]


class Checks:
    """Passed checks counted, failed ones kept and printed as they happen."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.passed = 0

    def check(self, ok: bool, what: str) -> bool:
        if ok:
            self.passed += 1
        else:
            self.failures.append(what)
            print(f"FAIL {what}", file=sys.stderr)
        return ok
