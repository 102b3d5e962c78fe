"""Browser acceptance: a real `civic` node in a subprocess, driven by Debian chromium through Playwright.

The demo is seeded once per session (``civic demo``) into a template data directory; every test
module serves its own copy (``civic serve``) so what one module does (a new contribution, an answer)
never shows in another module's pages or screenshots. All the nodes share one base URL (a random
127.0.0.x address and a free port), because the demo's ids are written with it.

The tests use Playwright's sync API in plain ``def`` tests: pytest-asyncio (``asyncio_mode=auto``)
only wraps coroutine tests, so no asyncio loop is running when the sync API starts its own.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.remote import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / ".peers" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCALES = {"fr": "fr-FR", "en": "en-GB", "de": "de-DE"}
DEMO_PASSWORD = "civic-demo-2026"
START_TIMEOUT = 60.0  # seconds for `civic demo` / `civic serve` to be ready (a cold start takes ~10)
ACTION_TIMEOUT_MS = 10_000  # Playwright actions and navigations


def _civic() -> str:
    found = Path(sys.executable).with_name("civic")
    return str(found) if found.exists() else shutil.which("civic") or "civic"


def _env() -> dict[str, str]:
    """The environment without CIVIC_* overrides: the data directory's civic.toml decides."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CIVIC_")}


@dataclass
class Node:
    """A running `civic serve` of a copy of the demo."""

    base: str
    data_dir: Path
    log: Path

    def url(self, path: str) -> str:
        return self.base + path

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@pytest.fixture(scope="session")
def browser_available() -> None:
    """Skips (with the reason) when Debian chromium or the playwright package is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium, or `make browser` as root)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is missing (pip install -e '.[test]')")


@pytest.fixture(scope="session")
def demo_template(browser_available, tmp_path_factory) -> tuple[str, Path]:
    """(base URL, data directory) of the demo, seeded once with `civic demo`."""
    host = f"127.0.0.{random.randint(20, 250)}"
    base = f"http://{host}:{free_port(host)}"
    data_dir = tmp_path_factory.mktemp("civic-demo") / "data"
    try:
        done = subprocess.run(
            [_civic(), "demo", "--data-dir", str(data_dir), "--base-url", base],
            env=_env(), capture_output=True, text=True, timeout=START_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`civic demo` did not finish in {START_TIMEOUT:.0f}s: {exc.output}")
    assert done.returncode == 0, f"`civic demo` failed:\n{done.stdout}\n{done.stderr}"
    return base, data_dir


def _wait_until_serving(proc: subprocess.Popen, url: str, log: Path) -> None:
    """Polls ``url`` until it answers 200; the wait between tries is the process's own exit wait,
    so a crash is noticed at once. Bounded by START_TIMEOUT."""
    deadline = time.monotonic() + START_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = str(exc)
        try:
            code = proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            continue
        pytest.fail(f"`civic serve` exited with {code}:\n{log.read_text(errors='replace')[-3000:]}")
    pytest.fail(f"{url} did not answer 200 within {START_TIMEOUT:.0f}s ({last}):\n"
                f"{log.read_text(errors='replace')[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def node(demo_template, tmp_path_factory) -> Iterator[Node]:
    """This module's own node: a copy of the demo served by `civic serve` in its own process group."""
    base, template = demo_template
    data_dir = tmp_path_factory.mktemp("civic-node") / "data"
    shutil.copytree(template, data_dir)
    host, port = base.removeprefix("http://").rsplit(":", 1)
    log = data_dir / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [_civic(), "serve", "--data-dir", str(data_dir), "--host", host, "--port", port],
            env=_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        _wait_until_serving(proc, base + "/", log)
        yield Node(base=base, data_dir=data_dir, log=log)
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def browser(browser_available) -> Iterator:
    """Debian chromium, headless, launched by Playwright (once per module; see the module docstring)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=ACTION_TIMEOUT_MS)
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Problems:
    """What went wrong under the pages' feet: server errors, missing styles or scripts, CSP refusals."""

    items: list[str] = field(default_factory=list)

    def watch(self, context) -> None:
        def on_response(response) -> None:
            kind = response.request.resource_type
            if response.status >= 500 or (response.status >= 400 and kind != "document"):
                self.items.append(f"{response.status} {kind} {response.request.method} {response.url}")

        def on_console(message) -> None:
            # "Failed to load resource" repeats what on_response sees (and the favicon's 404, which
            # Playwright's network events do not show); CSP refusals and script errors stay.
            if message.type == "error" and not message.text.startswith("Failed to load resource"):
                self.items.append(f"console error: {message.text}")

        context.on("response", on_response)
        context.on("requestfailed", lambda r: self.items.append(f"request failed: {r.url} {r.failure}"))
        context.on("page", lambda page: page.on("console", on_console))


@pytest.fixture
def new_context(browser, node) -> Iterator[Callable]:
    """Makes fresh browser contexts: ``new_context("en", javascript=False, width=390, state=…)``.

    Each has its locale (so its Accept-Language), the node as base URL and bounded timeouts. After the
    test, a server error, a failed stylesheet/script/image or a console error (CSP) fails it."""
    made = []
    problems = Problems()

    def make(lang: str = "fr", *, javascript: bool = True, width: int = 1280, height: int = 900,
             state: dict | None = None):
        context = browser.new_context(
            base_url=node.base, locale=LOCALES[lang], java_script_enabled=javascript,
            viewport={"width": width, "height": height}, storage_state=state,
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
        problems.watch(context)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()
    if problems.items:
        log = f"\nnode log:\n{node.log_tail()}" if any(p[:1] == "5" for p in problems.items) else ""
        pytest.fail("the pages had problems:\n  " + "\n  ".join(problems.items) + log, pytrace=False)


@pytest.fixture(scope="module")
def logged_in_state(browser, node) -> Callable[[str], dict]:
    """``logged_in_state("camille")``: the cookies of a session opened through /login (cached)."""
    from playwright.sync_api import expect

    cache: dict[str, dict] = {}

    def state(handle: str) -> dict:
        if handle not in cache:
            context = browser.new_context(base_url=node.base, locale=LOCALES["en"])
            context.set_default_timeout(ACTION_TIMEOUT_MS)
            try:
                page = context.new_page()
                log_in(page, handle)
                expect(page.locator(".account-menu")).to_contain_text("Signed in as")
                cache[handle] = context.storage_state()
            finally:
                context.close()
        return cache[handle]

    return state


def visit(page, path: str, status: int = 200):
    """Goes to ``path`` and checks the HTTP status of the page (fails at once on a 404 or a 500)."""
    response = page.goto(path)
    assert response is not None, f"no response for {path}"
    assert response.status == status, f"GET {path}: HTTP {response.status}, expected {status}"
    return response


def log_in(page, handle: str, password: str = DEMO_PASSWORD) -> None:
    """Logs in through the /login form (whatever the page's language: fields are found by id)."""
    visit(page, "/login")
    page.locator("#username").fill(handle)
    page.locator("#password").fill(password)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_load_state()


def serious_axe_violations(page) -> list[dict]:
    """axe-core's violations of impact serious or critical on the page as it is now."""
    if not AXE.exists():
        pytest.skip(f"axe-core is missing ({AXE}); `make browser` installs it with npm")
    # Evaluated through the DevTools protocol, not added as a <script>: the pages' CSP (script-src
    # 'self') refuses inline scripts, and bypassing the CSP would also un-block what it blocks for users.
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v.get("impact") in ("serious", "critical")]


def describe_violations(violations: list[dict]) -> str:
    """Rule, impact, help and the failing elements (selector, HTML, summary) of axe violations."""
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} [{v['helpUrl']}]")
        for n in v["nodes"][:8]:
            lines.append(f"    {' '.join(map(str, n['target']))}: {n['html'][:200]}")
            summary = (n.get("failureSummary") or "").replace("\n", " / ")
            lines.append(f"      {summary[:300]}")
        if len(v["nodes"]) > 8:
            lines.append(f"    … and {len(v['nodes']) - 8} more elements")
    return "\n".join(lines)
