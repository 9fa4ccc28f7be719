"""The ``c360`` command line: the app in ``main``, each area's commands in a module of its own."""

from __future__ import annotations

import importlib
import pkgutil

from c360.cli.main import app, main

# Every module of this package registers its commands on import (demo, consumers, identity, ...).
for _mod in pkgutil.iter_modules(__path__):
    if _mod.name not in ("main", "reporter"):
        importlib.import_module(f"{__name__}.{_mod.name}")

__all__ = ["app", "main"]
