"""Read auditing: every read of a customer's fields is recorded (who, whom, which fields, how).

The recorder is ``c360.governance.audit.ReadAuditor`` (batched) when that module is
installed; until then reads go to :class:`NoReadAudit`, the one place to wire it.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from c360.store import Store

log = logging.getLogger("c360.api")


class ReadAudit(Protocol):
    def record(self, consumer: str, customer_id: str, fields: Sequence[str], mode: str) -> None: ...


class NoReadAudit:
    """The hook reads pass through when no read auditor is installed."""

    def record(self, consumer: str, customer_id: str, fields: Sequence[str], mode: str) -> None:
        return None


def read_auditor(store: Store) -> Any:
    """``ReadAuditor(store)`` from ``c360.governance.audit`` if present, else the no-op hook."""
    if importlib.util.find_spec("c360.governance.audit") is None:
        return NoReadAudit()
    module = importlib.import_module("c360.governance.audit")
    cls = getattr(module, "ReadAuditor", None)
    if cls is None:
        return NoReadAudit()
    return cls(store)


def close_auditor(auditor: Any) -> None:
    """Flush what a batched auditor still holds."""
    for name in ("close", "flush"):
        fn = getattr(auditor, name, None)
        if callable(fn):
            fn()
            return
