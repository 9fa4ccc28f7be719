"""c360: Customer 360 as a governed data product."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
