"""c360: Customer 360 as a governed data product.

``from c360 import Client`` (the HTTP API's Python client) and ``from c360 import Product``
(a spec, built, planned and erased through the same calls as the ``c360`` command) are
imported on first use, so ``import c360`` stays cheap (no FastAPI, DuckDB or Splink).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from c360.client import Client, ClientError, Customer, Forbidden, NotFound, RateLimited, Unauthorized
    from c360.core.errors import C360Error
    from c360.product import Product

_LAZY = {
    "Client": "c360.client",
    "ClientError": "c360.client",
    "Customer": "c360.client",
    "NotFound": "c360.client",
    "Forbidden": "c360.client",
    "Unauthorized": "c360.client",
    "RateLimited": "c360.client",
    "C360Error": "c360.core.errors",
    "Product": "c360.product",
}

__all__ = [
    "C360Error",
    "Client",
    "ClientError",
    "Customer",
    "Forbidden",
    "NotFound",
    "Product",
    "RateLimited",
    "Unauthorized",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'c360' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
