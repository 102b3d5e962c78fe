"""Running `civic` commands inside a test's process, and reading the node's database beside them."""

from __future__ import annotations

import asyncio

from civic.cli import main
from node.db import create_engine, session_factory, transaction


def civic(capsys, directory, *args: str) -> tuple[int, str, str]:
    """Run `civic ARGS --data-dir DIRECTORY` in this process: (exit code, stdout, stderr)."""
    code = main([*args, "--data-dir", str(directory)])
    out, err = capsys.readouterr()
    return code, out, err


async def civic_in_thread(capsys, directory, *args: str) -> tuple[int, str, str]:
    """The same from an async test (the command runs its own event loop, on a thread)."""
    code = await asyncio.to_thread(main, [*args, "--data-dir", str(directory)])
    out, err = capsys.readouterr()
    return code, out, err


async def with_db(database_url, work):
    """``work(session)`` in a transaction on the node's database, from an async test."""
    engine = create_engine(database_url)
    try:
        async with transaction(session_factory(engine)) as session:
            return await work(session)
    finally:
        await engine.dispose()


def db(database_url, work):
    """``work(session)`` in a transaction on the node's database, from a synchronous test."""
    return asyncio.run(with_db(database_url, work))
