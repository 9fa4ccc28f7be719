"""Structured logs: one line per event, as logfmt (the default) or JSON, on standard error.

``c360 serve`` and ``c360 build`` call :func:`setup` with ``--log-format`` and ``--log-level``
(or ``C360_LOG_FORMAT`` / ``C360_LOG_LEVEL``; defaults ``logfmt`` and ``INFO``). An event's
fields are passed as ``extra={"fields": {...}}`` (see :func:`event`) and written after the
message, in the order given.

What is logged is chosen where it is logged, never a whole object: names of consumers, routes
and sources, counts, durations, versions, statuses. A field value, an e-mail address, a source
key or a credential is never passed to a log call.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Mapping
from typing import IO, Any

import orjson

FORMATS = ("logfmt", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
ROOT = "c360"

_RESERVED = frozenset({"ts", "level", "logger", "msg"})
_PLAIN = re.compile(r'[^ ="\\\n\t]+')  # written as is; anything else is quoted


_second: list[Any] = [-1, ""]  # the last second formatted (a log line a request: format each second once)


def _timestamp(created: float) -> str:
    secs = int(created)
    if _second[0] != secs:
        _second[:] = [secs, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))]
    return f"{_second[1]}.{int((created - secs) * 1000):03d}Z"


def _fields(record: logging.LogRecord) -> Mapping[str, Any]:
    fields = getattr(record, "fields", None)
    return fields if isinstance(fields, Mapping) else {}


def _logfmt_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value == value else "NaN"
    if isinstance(value, int):
        return str(value)
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    if text and _PLAIN.fullmatch(text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


class LogfmtFormatter(logging.Formatter):
    """``ts=... level=info logger=c360.access msg=request consumer=finance status=200 ...``"""

    def format(self, record: logging.LogRecord) -> str:
        parts = [
            f"ts={_timestamp(record.created)}",
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
            f"msg={_logfmt_value(record.getMessage())}",
        ]
        for key, value in _fields(record).items():
            name = key if key not in _RESERVED else "_" + key
            if isinstance(value, Mapping):  # records={crm: 120} is records.crm=120
                parts.extend(f"{name}.{k}={_logfmt_value(v)}" for k, v in value.items())
            else:
                parts.append(f"{name}={_logfmt_value(value)}")
        if record.exc_info and record.exc_info[0] is not None:
            parts.append(f"error={_logfmt_value(record.exc_info[0].__name__)}")
        return " ".join(parts)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``{"ts": ..., "level": "info", "logger": ..., "msg": ..., ...}``."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in _fields(record).items():
            out[key if key not in _RESERVED else "_" + key] = value
        if record.exc_info and record.exc_info[0] is not None:
            out["error"] = record.exc_info[0].__name__
        return orjson.dumps(out, default=str).decode()


def resolve(fmt: str | None = None, level: str | None = None) -> tuple[str, str]:
    """The format and level to use: the arguments, else the environment, else logfmt and INFO."""
    chosen = (fmt or os.environ.get("C360_LOG_FORMAT") or "logfmt").lower()
    if chosen not in FORMATS:
        from c360.core.errors import C360Error

        raise C360Error(f"log format {chosen!r}: expected one of {', '.join(FORMATS)}")
    lvl = (level or os.environ.get("C360_LOG_LEVEL") or "INFO").upper()
    if lvl not in LEVELS:
        from c360.core.errors import C360Error

        raise C360Error(f"log level {lvl!r}: expected one of {', '.join(LEVELS)}")
    return chosen, lvl


def setup(
    fmt: str | None = None, level: str | None = None, *, stream: IO[str] | None = None, export: bool = False
) -> logging.Logger:
    """Configure the ``c360`` loggers: one handler on ``stream`` (standard error), the level given.

    Called again, it replaces its own handler (tests and worker processes call it more than
    once). With ``export`` the choice is put in the environment, for worker processes. Records
    still propagate: nothing else in c360 configures the root logger.
    """
    chosen, lvl = resolve(fmt, level)
    if export:
        os.environ["C360_LOG_FORMAT"] = chosen
        os.environ["C360_LOG_LEVEL"] = lvl
    logger = logging.getLogger(ROOT)
    for h in list(logger.handlers):
        if getattr(h, "_c360", False):
            logger.removeHandler(h)
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _Stderr()
    handler._c360 = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if chosen == "json" else LogfmtFormatter())
    logger.addHandler(handler)
    logger.setLevel(lvl)
    return logger


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a line is written (it may be replaced later)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _: IO[str]) -> None:
        pass


def event(logger: logging.Logger, msg: str, level: int = logging.INFO, /, **fields: Any) -> None:
    """Log ``msg`` with ``fields``, if the level is enabled (nothing is built otherwise)."""
    if logger.isEnabledFor(level):
        logger.log(level, msg, extra={"fields": fields})


def emit(logger: logging.Logger, level: int, msg: str, fields: Mapping[str, Any]) -> None:
    """Log without looking up the caller's frame (for the access line, once a request): the caller
    has checked ``logger.isEnabledFor(level)``."""
    record = logger.makeRecord(logger.name, level, "", 0, msg, (), None)
    record.fields = fields
    logger.handle(record)
