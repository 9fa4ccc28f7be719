"""A subscription's data age and read latency over time, as small inline SVGs drawn on the server.

Freshness comes from snapshot history: from each snapshot's publication the served data is as
old as that snapshot's build, and ages until the next one is published; the last point is the
age the SLA evaluation gives now. Latency comes from the store's latency history
(:mod:`c360.store.latency_repo`): per bucket of time, the slowest worker's p99. Each SLA is the
dashed line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

from c360.store.latency_repo import LatencyPoint
from c360.store.ops_repo import SnapshotRow

W, H = 320, 120
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 22


def freshness_points(
    history: Sequence[SnapshotRow], now: dt.datetime, current_age: float | None
) -> list[tuple[dt.datetime, float]]:
    """(time, data age in seconds) along the published snapshots, oldest first, ending at ``now``."""
    served = sorted(history, key=lambda s: s.published_at or s.built_at)
    points: list[tuple[dt.datetime, float]] = []
    for i, snap in enumerate(served):
        start = snap.published_at or snap.built_at
        points.append((start, max(0.0, (start - snap.built_at).total_seconds())))
        end = (served[i + 1].published_at or served[i + 1].built_at) if i + 1 < len(served) else now
        age = (end - snap.built_at).total_seconds()
        if i + 1 == len(served) and current_age is not None:
            age = current_age
        points.append((end, max(0.0, age)))
    return points


def _label(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g}{unit}"
    return f"{seconds:.0f}s"


def _ms(value: float) -> str:
    return f"{value:.3g} ms"


def latency_points(series: Sequence[LatencyPoint]) -> list[tuple[dt.datetime, float]]:
    """(bucket end, p99 in milliseconds), oldest first."""
    return [(p.at, p.p99_ms) for p in series]


def freshness_svg(points: Sequence[tuple[dt.datetime, float]], sla: float | None, ident: str, title: str) -> Markup:
    """The data-age chart; without points, a one-line note that nothing has been published yet."""
    if not points:
        return Markup('<p class="muted small">No snapshot published yet: nothing to chart.</p>')
    return _svg(points, sla, ident, title, _label, "age", "now")


def latency_svg(points: Sequence[tuple[dt.datetime, float]], sla_ms: float | None, ident: str, title: str) -> Markup:
    """The p99 latency chart (milliseconds); without points, a note that no read is recorded yet."""
    if not points:
        return Markup('<p class="muted small">No read recorded in this period: no latency to chart.</p>')
    if len(points) == 1:  # one interval: drawn as a short level line, not a lone dot
        at, value = points[0]
        points = [(at - dt.timedelta(minutes=1), value), (at, value)]
    return _svg(points, sla_ms, ident, title, _ms, "p99", f"{points[-1][0]:%H:%M}")


def _svg(
    points: Sequence[tuple[dt.datetime, float]],
    sla: float | None,
    ident: str,
    title: str,
    label: Callable[[float], str],
    kind: str,
    last: str,
) -> Markup:
    t0 = points[0][0].timestamp()
    t1 = max(points[-1][0].timestamp(), t0 + 1.0)
    top = max([a for _, a in points] + ([sla] if sla else [])) * 1.1 or 1.0
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(t: dt.datetime) -> float:
        return LEFT + (t.timestamp() - t0) / (t1 - t0) * pw

    def y(value: float) -> float:
        return TOP + ph - value / top * ph

    line = " ".join(f"{x(t):.1f},{y(a):.1f}" for t, a in points)
    parts = [
        f'<line x1="{LEFT}" y1="{TOP + ph}" x2="{W - RIGHT}" y2="{TOP + ph}" stroke="#c8ced9"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + ph}" stroke="#c8ced9"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end" class="axis">{label(top)}</text>',
        f'<text x="{LEFT - 4}" y="{TOP + ph}" text-anchor="end" class="axis">0</text>',
        f'<text x="{LEFT}" y="{H - 6}" class="axis">{points[0][0]:%m-%d %H:%M}</text>',
        f'<text x="{W - RIGHT}" y="{H - 6}" text-anchor="end" class="axis">{last}</text>',
        f'<polyline class="{kind}" points="{line}" fill="none" stroke="#2450b2" stroke-width="2"/>',
    ]
    if sla:
        ys = y(sla)
        parts.append(
            f'<line class="sla" x1="{LEFT}" y1="{ys:.1f}" x2="{W - RIGHT}" y2="{ys:.1f}" stroke="#a4161a" '
            f'stroke-dasharray="4 3"/><text x="{W - RIGHT}" y="{ys - 3:.1f}" text-anchor="end" class="axis sla">'
            f"SLA {label(sla)}</text>"
        )
    return Markup(
        f'<svg class="spark" id="{escape(ident)}" role="img" aria-label="{escape(title)}" viewBox="0 0 {W} {H}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{"".join(parts)}</svg>'
    )
