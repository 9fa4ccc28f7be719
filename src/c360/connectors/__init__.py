"""Connectors: one small protocol, one module per source system."""

from __future__ import annotations

from c360.connectors.base import (
    Batch,
    Column,
    Connector,
    ConnectorOptions,
    OptionGroup,
    Quarantined,
    Record,
    StreamInfo,
    get_path,
    record_key,
)
from c360.connectors.registry import REGISTRY, ConnectorEntry, connector_class, make_connector

__all__ = [
    "REGISTRY",
    "Batch",
    "Column",
    "Connector",
    "ConnectorEntry",
    "ConnectorOptions",
    "OptionGroup",
    "Quarantined",
    "Record",
    "StreamInfo",
    "connector_class",
    "get_path",
    "make_connector",
    "record_key",
]
