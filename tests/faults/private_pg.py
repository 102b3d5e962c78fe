"""A PostgreSQL server of the fault tests' own, which they may stop, crash and start at will.

The machine's PostgreSQL binaries (initdb, pg_ctl) run as the ``postgres`` user when the tests run
as root (initdb refuses root), on a free port of 127.0.0.1 with the socket in the server's own
directory: restarting it disturbs no other test and no other session on the machine. fsync is off
(the machine does not crash, only the server does, so the operating system keeps what was written)
but commits stay synchronous: a transaction committed before a crash is there after it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import asyncpg

BIN = Path(os.environ.get("CIVIC_PG_BIN", "/usr/local/bin"))
USER = "postgres"
COMMAND_TIMEOUT = 60.0  # seconds for one initdb or pg_ctl run (pg_ctl -w waits up to its own 60 s)


def missing() -> str | None:
    """Why no private server can be run here, or None."""
    for name in ("initdb", "pg_ctl", "postgres"):
        if not (BIN / name).is_file():
            return f"no {name} in {BIN} (set CIVIC_PG_BIN to the PostgreSQL binaries)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(USER)
        except KeyError:
            return f"running as root and there is no {USER!r} user to run initdb as"
        if shutil.which("runuser") is None:
            return "running as root and there is no runuser to become the postgres user"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivatePostgres:
    """One throw-away cluster: ``start``, ``stop`` (fast or immediate: a crash), ``url``."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="civic-faults-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self._as_root = os.geteuid() == 0
        if self._as_root:
            user = pwd.getpwnam(USER)
            os.chown(self.root, user.pw_uid, user.pw_gid)

    def _run(self, *argv: str) -> str:
        command = [str(BIN / argv[0]), *argv[1:]]
        if self._as_root:
            command = ["runuser", "-u", USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
                                stdin=subprocess.DEVNULL, cwd=self.root)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:2])} exited {result.returncode}:\n"
                               f"{result.stdout}{result.stderr}\n{self.log_tail()}")
        return result.stdout

    def init(self) -> PrivatePostgres:
        self._run("initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        return self

    def start(self) -> None:
        """Start (again) on the same port; a first start picks a free one, retrying on a race."""
        for _ in range(5):
            port = self.port or _free_port()
            options = (f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                       "-c full_page_writes=off -c max_connections=200")
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                          "-w", "-t", "30", "start")
            except RuntimeError:
                if self.port:  # a restart on our own port: nobody else may take it
                    raise
                continue
            self.port = port
            return
        raise RuntimeError(f"the private PostgreSQL server did not start:\n{self.log_tail()}")

    def stop(self, mode: str = "fast") -> None:
        """``fast``: clients are disconnected, the server shuts down cleanly; ``immediate``: it
        quits at once, as after a crash (recovery runs at the next start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def signal_stop(self, mode: str = "smart") -> None:
        """Ask the server to stop without waiting: in ``smart`` mode it goes on serving the sessions
        open and refuses new ones ("the database system is shutting down") until they end."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-W", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def running(self) -> bool:
        command = [str(BIN / "pg_ctl"), "-D", str(self.data), "status"]
        if self._as_root:
            command = ["runuser", "-u", USER, "--", *command]
        result = subprocess.run(command, capture_output=True, timeout=COMMAND_TIMEOUT,
                                stdin=subprocess.DEVNULL, cwd=self.root)
        return result.returncode == 0

    def ensure_running(self) -> None:
        if not self.running():
            self.start()

    def destroy(self) -> None:
        """Stop (immediately: nothing in it is kept) and remove everything, whatever state it is in."""
        try:
            if self.data.exists() and self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://{USER}@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    async def create_database(self, template: str | None = None) -> str:
        """A new database (a copy of ``template`` if given); returns its SQLAlchemy URL."""
        name = f"civic_fault_{uuid.uuid4().hex[:10]}"
        copy = f' TEMPLATE "{template}"' if template else ""
        connection = await asyncpg.connect(self.dsn(), timeout=10)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"{copy}')
        finally:
            await connection.close()
        return self.url(name)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
