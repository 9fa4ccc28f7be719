"""The ``c360`` command line."""

from __future__ import annotations

from c360.cli.main import app, main

__all__ = ["app", "main"]
