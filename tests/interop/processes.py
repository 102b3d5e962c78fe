"""Loopback server processes for the interop peers: free ports, bounded waits, process groups."""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "peers"
START_TIMEOUT = 30.0
POLL = 0.1

Predicate = Callable[[dict], bool]


class PeerError(RuntimeError):
    """A peer failed to start or answered a control request with an error."""


def peers_dir() -> Path:
    """Where deploy/peers/install.sh put the peers: $CIVIC_PEERS_DIR or <repo>/.peers."""
    return Path(os.environ.get("CIVIC_PEERS_DIR") or REPO / ".peers")


def installed(name: str, base: Path | None = None) -> bool:
    """True when install.sh finished installing peer `name` (its stamp file exists)."""
    return ((base or peers_dir()) / name / ".installed").is_file()


def free_port(host: str, preferred: int) -> int:
    """`preferred` if nothing listens there on `host`, else a free port (parallel sessions)."""
    for port in (preferred, 0):
        with socket.socket() as sock:
            # Like the servers themselves: a port in TIME_WAIT is free, one with a listener is not.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise PeerError(f"no free port on {host}")


def http_json(method: str, url: str, body: Any = None, timeout: float = 30.0) -> tuple[int, Any]:
    """One HTTP request with a JSON body; returns (status, decoded JSON or text)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = POLL) -> Any:
    """Polls `check` until it returns something truthy, for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"after {timeout:.0f} s still waiting for {what}")
        time.sleep(interval)


def first_match(items: list[dict], predicate: Predicate) -> dict | None:
    return next((item for item in items if predicate(item)), None)


class PeerProcess:
    """One peer server in its own process group, logging to a file, killed at stop() or exit."""

    def __init__(self, name: str, argv: list[str], cwd: Path, env: dict[str, str] | None = None):
        self.name, self.argv, self.cwd = name, argv, cwd
        self.env = {**os.environ, **(env or {})}
        self.log_path = cwd / f"{name}.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        atexit.register(self.stop)

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_until_answers(self, url: str, timeout: float = START_TIMEOUT) -> None:
        """Bounded polling of `url`: any HTTP answer below 500 means the server is up."""

        def answers() -> bool:
            if not self.alive:
                raise PeerError(f"{self.name} exited early; log:\n{self.log_tail()}")
            try:
                status, _ = http_json("GET", url, timeout=2)
            except OSError:
                return False
            return status < 500

        try:
            wait_for(answers, timeout, f"{self.name} to answer {url}", interval=0.05)
        except TimeoutError as error:
            self.stop()
            raise PeerError(f"{error}; log:\n{self.log_tail()}") from None

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.popen.wait(timeout=5)
                return
            except subprocess.TimeoutExpired:
                continue


@contextmanager
def port_lock(timeout: float = 180.0) -> Iterator[None]:
    """Serialises "pick a port, start, wait until it answers" across test sessions on this machine."""
    with open(Path(tempfile.gettempdir()) / "civic-interop-ports.lock", "a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise PeerError(
                        f"another session held the port lock for {timeout:.0f} s"
                    ) from None
                time.sleep(POLL)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class LoopbackPeer:
    """Common life cycle: a free port on a 127.0.0.x address, one server process, stop at exit."""

    name, default_host, default_port = "peer", "127.0.0.9", 8009

    def __init__(self, workdir: Path, host: str = "", port: int = 0, peers: Path | None = None):
        self.home = (peers or peers_dir()) / self.name
        self.workdir, self.host = workdir, host or self.default_host
        self.wanted_port = port or self.default_port
        self.port = 0
        self.base_url = ""
        self.process: PeerProcess | None = None

    def start(self):
        """Picks a free port, prepares and launches the server, waits until it answers."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Under the lock, a parallel session cannot take the port between our check and our bind,
        # nor answer our readiness poll with its own server.
        with port_lock():
            self.port = free_port(self.host, self.wanted_port)
            self.base_url = f"http://{self.host}:{self.port}"
            argv, ready_url, env = self.prepare()
            self.process = PeerProcess(self.name, argv, self.workdir, env)
            self.process.start()
            self.process.wait_until_answers(ready_url)
        self.ready()
        return self

    def prepare(self) -> tuple[list[str], str, dict[str, str] | None]:
        """Sets the peer up for self.base_url; returns (argv, URL that answers when up, env)."""
        raise NotImplementedError

    def ready(self) -> None:
        """Runs once the server answers."""

    def stop(self) -> None:
        if self.process:
            self.process.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
