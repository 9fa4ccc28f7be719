"""Foundations shared by every layer: errors, ids, clock, JSON."""

from __future__ import annotations

from c360.core.errors import (
    BuildError,
    C360Error,
    IdentityError,
    MissingDependency,
    QualityFailure,
    QualityGateFailed,
    SourceError,
    SpecError,
    SpecIssue,
    StoreError,
    TerminalSourceError,
    TransientSourceError,
    is_transient,
)

__all__ = [
    "BuildError",
    "C360Error",
    "IdentityError",
    "MissingDependency",
    "QualityFailure",
    "QualityGateFailed",
    "SourceError",
    "SpecError",
    "SpecIssue",
    "StoreError",
    "TerminalSourceError",
    "TransientSourceError",
    "is_transient",
]
