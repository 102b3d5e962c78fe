"""Outbound federation: one module per feature turns its outbox events into activities.

Importing the package imports each of its feature modules, whose ``@builds(kind)`` decorators
fill ``registry.BUILDERS``; federation/fanout.py looks every event up there. Adding a feature is
adding a module here."""

from __future__ import annotations

import importlib
import pkgutil

from federation.outbound.publisher import Publisher
from federation.outbound.registry import BUILDERS, builds

__all__ = ["BUILDERS", "Publisher", "builds"]

# The two modules above are the machinery; every other module is imported, so that a feature
# module's @builds registers it (a helper such as audience.py registers nothing).
for _module in pkgutil.iter_modules(__path__):
    if _module.name not in {"publisher", "registry"} and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
