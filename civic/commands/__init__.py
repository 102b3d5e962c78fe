"""Commands of features, one module each: a module here defines ``register(sub, groups, common)``
and adds its sub-commands (to the top level ``sub``, or to a group such as ``groups["org"]`` or
``groups["user"]``); each sets ``func`` to an ``async def (args)``. Adding a feature's commands
adds a module and edits none. Modules register in name order, so a module may add to a group that
an earlier one put in ``groups`` (coalition_campaign.py to coalition.py's
``groups["coalition"]``)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil


def register_all(sub, groups: dict[str, argparse._SubParsersAction],
                 common: argparse.ArgumentParser) -> None:
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{module.name}").register(sub, groups, common)
