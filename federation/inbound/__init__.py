"""Inbound federation: each stored activity goes to the handler registered for its (activity
type, kind of target); one module per feature registers its handlers with ``@handles``.

Importing the package imports each of its feature modules, whose decorators fill
``registry.HANDLERS``; federation/processing.py calls ``dispatch``. Adding a feature (a new kind
of object, a new activity) is adding a module here: no existing module is edited."""

from __future__ import annotations

import importlib
import pkgutil

from federation.inbound.context import Inbound
from federation.inbound.registry import HANDLERS, dispatch, handles, knows

__all__ = ["HANDLERS", "Inbound", "dispatch", "handles", "knows"]

# These modules are the machinery; every other module is a feature.
MACHINERY = frozenset({"batches", "context", "registry", "targets"})
for _module in pkgutil.iter_modules(__path__):
    if _module.name not in MACHINERY and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
