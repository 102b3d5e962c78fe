"""The README quick start, tried as a new user would: a fresh clone, then `make run` verbatim."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.remote import free_port

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart__readme_lists_exactly_the_two_commands():
    """The quick start section shows `make run` and `make test`, each alone in a code block."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", quick, flags=re.S)
    assert [b.strip() for b in blocks] == ["make run", "make test"]


@pytest.mark.slow
def test_quickstart__make_run_on_a_fresh_clone_serves_the_demo(tmp_path):
    """`make run` in a fresh clone installs, seeds the demo, prints the URL and logins, serves."""
    if shutil.which("make") is None or shutil.which("git") is None:
        pytest.skip("make and git are needed")
    clone = tmp_path / "civic-node"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIVIC_", "VIRTUAL_ENV"))}
    log = (tmp_path / "make-run.log").open("w+")
    proc = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=clone, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        page = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    page = response.read().decode()
                    break
            except OSError:
                time.sleep(1)  # bounded poll of a real install; no timing is asserted
        log.seek(0)
        output = log.read()
        assert page is not None, f"the demo never answered:\n{output[-3000:]}"
        assert "Ville de Lyon" in page
        assert f"http://127.0.0.1:{port}/" in output
        assert "lyon_admin" in output and "civic-demo-2026" in output
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
