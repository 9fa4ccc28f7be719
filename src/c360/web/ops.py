"""Operations: the builds and the snapshots (owner, steward); the subscriptions and their live SLA status.

Builds are the store's ``runs`` (each build's summary: seconds per stage, records per source,
quarantined, quality gate); the SLA status is :meth:`c360.api.service.Service.compliance`, the one
evaluation behind ``/metrics``, ``GET /v1/subscriptions`` and ``c360 subscriptions``. Nothing
here shows personal data: quarantine reasons are shown with quoted values, e-mail addresses and
long numbers hidden, never the record's location or raw text.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from c360.core import jsonutil
from c360.core.clock import utcnow
from c360.spec.models import duration_seconds
from c360.store import latency_repo, ops_repo
from c360.store.runs import RunRow
from c360.web.core import web
from c360.web.sla_chart import freshness_points, freshness_svg, latency_points, latency_svg

router = APIRouter(prefix="/app", include_in_schema=False)
BUILDS = 20
REASONS = 3
LATENCY_PERIOD = dt.timedelta(hours=24)  # the latency charts' span
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_EMAIL = re.compile(r"[^\s@'\"]+@[^\s@'\"]+")
_NUMBER = re.compile(r"\d{5,}")


def scrub(reason: str) -> str:
    """A quarantine reason without the values it may quote (a name, an e-mail, an id)."""
    out = _EMAIL.sub("…", reason)
    out = _QUOTED.sub(lambda m: m.group(0) if len(m.group(0)) <= 24 and "@" not in m.group(0) else "'…'", out)
    out = _NUMBER.sub("…", out)
    return out if len(out) <= 200 else out[:199] + "…"


@dataclass
class Build:
    run_id: str
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    seconds: float | None
    stages: list[tuple[str, float]]
    staged: dict[str, int]
    quarantined: int
    reasons: list[tuple[str, str, int]]
    checked: int | None
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    version: int | None = None
    customers: int | None = None


def _summary(raw: str | None) -> dict[str, Any]:
    try:
        data = jsonutil.loads(raw or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _failures(items: Any) -> list[dict[str, Any]]:
    out = []
    for f in items if isinstance(items, list) else []:
        if isinstance(f, dict):
            # The gate's sample holds customer values: only the field, check and count are shown.
            out.append({"field": f.get("field"), "check": f.get("check"), "failing": f.get("failing")})
    return out


def build_view(run: RunRow, reasons: list[tuple[str, str, int]]) -> Build:
    s = _summary(run.summary)
    stages = [(str(k), float(v)) for k, v in (s.get("seconds") or {}).items()]
    quality = s.get("quality") if isinstance(s.get("quality"), dict) else None
    quarantined = sum(int(v) for v in (s.get("quarantined") or {}).values())
    merged: dict[tuple[str, str], int] = {}
    for source, reason, n in reasons:
        key = (source, scrub(reason))
        merged[key] = merged.get(key, 0) + n
    top = sorted(((src, why, n) for (src, why), n in merged.items()), key=lambda t: -t[2])[:REASONS]
    end = run.finished_at
    error = s.get("error")
    return Build(
        run.run_id,
        run.status,
        run.started_at,
        end,
        (end - run.started_at).total_seconds() if end is not None else None,
        stages,
        {str(k): int(v) for k, v in (s.get("staged") or {}).items()},
        quarantined or sum(n for _, _, n in reasons),
        top,
        int(quality.get("checked", 0)) if quality else None,
        _failures(quality.get("errors")) if quality else [],
        _failures(quality.get("warnings")) if quality else [],
        scrub(str(error)) if error else None,
        s.get("version"),
        s.get("customers"),
    )


@router.get("/ops")
def ops(request: Request) -> Response:
    w = web(request)
    user = w.user(request)
    if user is None:
        return w.to_login(request)
    if not user.can("steward"):
        return w.refuse(request, user, "steward", "see the builds and snapshots")
    rows = ops_repo.build_runs(w.store, BUILDS)
    reasons = ops_repo.quarantine_reasons(w.store, [r.run_id for r in rows])
    snaps, current = ops_repo.snapshot_history(w.store)
    return w.page(
        request,
        "ops.html",
        user,
        builds=[build_view(r, reasons.get(r.run_id, [])) for r in rows],
        snapshots=snaps,
        current=current,
        served=w.state.snapshot.version,
    )


# -- subscriptions ----------------------------------------------------------------------------


def _human(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _state(ok: bool | None) -> tuple[str, str]:
    if ok is None:
        return "not judged", "muted"
    return ("met", "ok") if ok else ("missed", "bad")


def subscription_rows(
    statuses: list[Any],
    history: list[ops_repo.SnapshotRow],
    now: dt.datetime,
    latencies: dict[str, list[latency_repo.LatencyPoint]] | None = None,
) -> list[Any]:
    out = []
    for i, s in enumerate(statuses):
        series = latency_points((latencies or {}).get(s.consumer, []))
        sla = duration_seconds(s.freshness) if s.freshness else None
        points = freshness_points(history, now, s.age_seconds)
        fresh, fresh_cls = _state(s.freshness_ok)
        latency, latency_cls = _state(s.latency_ok)
        out.append(
            {
                "s": s,
                "age": _human(s.age_seconds),
                "fresh": fresh,
                "fresh_cls": fresh_cls,
                "latency": latency,
                "latency_cls": latency_cls,
                "chart": freshness_svg(points, sla, f"sub-{i}", f"Data age of {s.consumer}'s subscription over time"),
                "latency_chart": latency_svg(
                    series, s.latency_p99_ms, f"sub-{i}-p99", f"p99 read latency of {s.consumer} over time"
                ),
            }
        )
    return out


@router.get("/subscriptions")
def subscriptions(request: Request) -> Response:
    w = web(request)
    user = w.user(request)
    if user is None:
        return w.to_login(request)
    statuses = w.service.compliance()
    history, _ = ops_repo.snapshot_history(w.store, 60)
    served = [h for h in history if h.status in ("published", "retired")]
    now = utcnow()
    since = now - LATENCY_PERIOD
    latency = {c: latency_repo.series(w.store, c, since) for c in sorted({s.consumer for s in statuses})}
    return w.page(
        request,
        "subscriptions.html",
        user,
        rows=subscription_rows(statuses, served, now, latency),
        history_seconds=getattr(getattr(request.app.state, "latency_history", None), "seconds", 0),
        synced=sorted(w.store.sync_times().items()),
        window=int(w.service.latency.window_seconds),
        min_samples=w.service.latency.min_samples,
        now=now,
    )
