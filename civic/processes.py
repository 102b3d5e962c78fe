"""`civic serve --processes N`: a supervisor keeping N web processes of one node on one port.

The supervisor binds N listening sockets to the same address and port with SO_REUSEPORT (Linux
spreads new connections over them by a hash of the client's address and port), and gives one to
each child: a `civic serve` of its own, started with the socket's descriptor. The sockets stay open
in the supervisor, so the connections that arrive while a child restarts wait in its socket's
queue instead of being refused, and the port is checked once, before any child starts.

Once the database is checked, `civic serve` execs this module as the supervisor: it loads none of
the node, so it stays a few megabytes. The children share nothing but the database (PostgreSQL:
rate limits, sessions and the page cache's invalidations go through it, see node.db.listen). The
supervisor forwards SIGTERM and SIGINT, restarts a child that died with a growing delay, and gives
up, stopping the others, when one keeps dying. Each child watches a pipe from the supervisor and
stops when it closes, so no child outlives a supervisor that was killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from node.errors import ConfigError

GRACE = 30.0  # seconds a stopping child has before SIGKILL (its own shutdown waits up to 10 s)
LISTEN_BACKLOG = 128  # aiohttp's default


@dataclass(frozen=True)
class RestartPolicy:
    """A child that dies is restarted after ``first_delay`` seconds, doubled for each death within
    ``window`` seconds up to ``max_delay``; ``max_deaths`` deaths within ``window``: give up."""

    first_delay: float = 0.5
    max_delay: float = 10.0
    max_deaths: int = 5
    window: float = 60.0


class GaveUp(Exception):
    """A child kept dying: the node stops."""


def bind_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` listening sockets on (host, port) sharing the port with SO_REUSEPORT; port 0
    takes a free port for the first and the same one for the others."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise ConfigError("--processes above 1 needs SO_REUSEPORT (Linux): run one process per port")
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
            sock.listen(LISTEN_BACKLOG)
            address = sock.getsockname()  # a port 0 is now a real one
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sockets


def _describe(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-code).name}"
        return f"signal {-code}"
    return f"exit code {code}"


class Supervisor:
    """Runs ``command(index, fd)`` for each socket (index from 0) until stopped; :meth:`run`
    returns 0 after a SIGTERM or SIGINT, and raises :class:`GaveUp` when a child keeps dying."""

    def __init__(self, command: Callable[[int, int], list[str]], sockets: list[socket.socket],
                 policy: RestartPolicy = RestartPolicy(), out=None):
        self.command, self.sockets, self.policy = command, sockets, policy
        self.out = out or sys.stdout
        self.stopping = asyncio.Event()
        self.children: dict[int, asyncio.subprocess.Process] = {}
        self._deaths = [deque() for _ in sockets]

    def say(self, message: str, stream=None) -> None:
        print(f"civic: {message}", file=stream or self.out, flush=True)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        keepers = [asyncio.create_task(self._keep(index)) for index in range(len(self.sockets))]
        stop = asyncio.create_task(self.stopping.wait())
        try:
            await asyncio.wait([stop, *keepers], return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.stopping.set()  # each keeper stops its child
            stop.cancel()
            outcomes = await asyncio.gather(*keepers, return_exceptions=True)
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return 0

    async def _keep(self, index: int) -> None:
        """Keep child ``index`` running until the node stops; then stop it."""
        count = len(self.sockets)
        while not self.stopping.is_set():
            fd = self.sockets[index].fileno()
            # stdin is a pipe that closes when this process ends, however it ends: the child stops.
            child = await asyncio.create_subprocess_exec(
                *self.command(index, fd), stdin=asyncio.subprocess.PIPE, pass_fds=(fd,))
            self.children[index] = child
            self.say(f"web process {index + 1} of {count} started (pid {child.pid})")
            code = await self._until_end(child)
            if self.stopping.is_set():
                return
            delay = self._after_death(index, code)
            self.say(f"web process {index + 1} of {count} (pid {child.pid}) ended with "
                     f"{_describe(code)}; restarting it in {delay:.1f} s", sys.stderr)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)

    async def _until_end(self, child: asyncio.subprocess.Process) -> int:
        """The child's exit code; once the node stops: SIGTERM, and SIGKILL after GRACE seconds."""
        ended = asyncio.ensure_future(child.wait())
        stop = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait([ended, stop], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not ended.done():
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(ended), GRACE)
            except TimeoutError:
                self.say(f"pid {child.pid} did not stop within {GRACE:.0f} s: killed", sys.stderr)
                with contextlib.suppress(ProcessLookupError):
                    child.kill()
        return await ended

    def _after_death(self, index: int, code: int) -> float:
        """The delay before the restart; raises GaveUp when the child died too often."""
        deaths, policy, now = self._deaths[index], self.policy, time.monotonic()
        deaths.append(now)
        while deaths and now - deaths[0] > policy.window:
            deaths.popleft()
        if len(deaths) >= policy.max_deaths:
            raise GaveUp(f"web process {index + 1} ended {len(deaths)} times within "
                         f"{policy.window:.0f} s (last: {_describe(code)}); stopping the node — "
                         "its messages above say why")
        return min(policy.first_delay * 2 ** (len(deaths) - 1), policy.max_delay)


async def supervise(command: Callable[[int, int], list[str]], host: str, port: int, count: int,
                    policy: RestartPolicy = RestartPolicy()) -> None:
    """Serve with ``count`` children of ``command`` on (host, port) until SIGTERM or SIGINT;
    raises ConfigError when a child keeps dying."""
    sockets = bind_sockets(host, port, count)
    try:
        await Supervisor(command, sockets, policy).run()
    except GaveUp as exc:
        raise ConfigError(str(exc)) from None
    finally:
        for sock in sockets:
            sock.close()


def supervisor_command(host: str, port: int, count: int, web_process: list[str]) -> list[str]:
    """The command of a supervisor of ``count`` processes running ``web_process`` (`civic serve`
    execs it once the database is checked)."""
    return [sys.executable, "-m", "civic.processes", host, str(port), str(count), *web_process]


def web_process_command(web_process: list[str], index: int, fd: int) -> list[str]:
    """Web process ``index`` (from 0) serves on the socket ``fd``. The first runs the background
    work as one `civic serve` does (inbox processing, fan-out, and delivery unless --no-worker);
    the others only answer requests: deliveries keep the per-host limits of one process, and the
    first process's fan-out wakes its own delivery worker at once."""
    return [*web_process, "--listen-fd", str(fd), *(["--web-only"] if index else [])]


def main(argv: list[str]) -> int:
    """`python -m civic.processes HOST PORT COUNT WEB_PROCESS...` (see :func:`supervisor_command`)."""
    host, port, count, *web_process = argv
    try:
        asyncio.run(supervise(lambda index, fd: web_process_command(web_process, index, fd),
                              host, int(port), int(count)))
    except ConfigError as exc:
        print(f"civic: error: {exc.reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def stop_when_closed(fd: int, stop: asyncio.Event) -> None:
    """In a child: set ``stop`` once the supervisor's pipe on ``fd`` closes (the supervisor ended)."""
    loop = asyncio.get_running_loop()

    def readable() -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(fd)
            stop.set()

    loop.add_reader(fd, readable)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
