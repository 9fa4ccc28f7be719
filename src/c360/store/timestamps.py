"""Timestamps as the store hands them back."""

from __future__ import annotations

import datetime as dt


def aware(ts: dt.datetime) -> dt.datetime:
    """``ts`` in UTC: SQLite hands back naive datetimes; everything c360 writes is UTC."""
    return ts if ts.tzinfo else ts.replace(tzinfo=dt.UTC)
