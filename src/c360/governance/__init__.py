"""Governance: access, lineage, audit, erasure, contracts."""

from __future__ import annotations

from c360.governance.access import granted_fields, project
from c360.governance.lineage import field_lineage, schema

__all__ = ["field_lineage", "granted_fields", "project", "schema"]
