"""Governed state: staging, identity map, snapshots, consumers' keys, spec versions."""

from __future__ import annotations

from c360.store.db import default_url
from c360.store.store import SnapshotInfo, StageCounts, StagedRow, Store

__all__ = ["SnapshotInfo", "StageCounts", "StagedRow", "Store", "default_url"]
