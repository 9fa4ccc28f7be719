"""A field's lineage as an inline SVG: source system columns → the field's expression → the field.

Drawn from :func:`c360.governance.lineage.field_lineage` (derived from the field's SQL), laid out
in three columns; the drawing scales with its container (``viewBox``), so it fits a phone.
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup

from c360.governance.lineage import field_lineage
from c360.spec.models import ProductSpec

WIDTH = 760
ROW = 52
BOX_H = 40
LEFT_W, MID_W, RIGHT_W = 250, 230, 170
LEFT_X, MID_X, RIGHT_X = 10, 300, WIDTH - 10 - 170
PALETTE = ("#dbe7ff", "#dff5e3", "#ffeccc", "#f5dff5", "#e3f3f7", "#f7e3e3")


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _box(x: int, y: int, w: int, fill: str, title: str, lines: list[str], cls: str) -> str:
    texts = "".join(
        f'<text x="{x + 10}" y="{y + 16 + 15 * i}" class="{"t1" if i == 0 else "t2"}">{escape(line)}</text>'
        for i, line in enumerate(lines[:2])
    )
    return (
        f'<g class="node {cls}"><title>{escape(title)}</title>'
        f'<rect x="{x}" y="{y}" width="{w}" height="{BOX_H}" rx="6" fill="{fill}" stroke="#7a869a"/>'
        f"{texts}</g>"
    )


def _edge(x1: int, y1: int, x2: int, y2: int) -> str:
    mid = (x1 + x2) // 2
    return (
        f'<path d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}" fill="none" stroke="#7a869a" '
        f'stroke-width="1.5" marker-end="url(#arrow)"/>'
    )


def lineage_svg(product: ProductSpec, name: str) -> Markup:
    """The SVG drawing of ``name``'s lineage."""
    items = field_lineage(product, name)
    expr = "identity resolution" if name == "customer_id" else " ".join(product.fields[name].expr.split())
    n = max(len(items), 1)
    height = max(n * ROW + 20, BOX_H + 40)
    colours: dict[str, str] = {}
    parts: list[str] = []
    mid_y = height // 2 - BOX_H // 2
    right_y = mid_y
    for i, item in enumerate(items):
        y = 10 + i * ROW + (height - 20 - n * ROW) // 2
        source = str(item.get("source"))
        fill = colours.setdefault(source, PALETTE[len(colours) % len(PALETTE)])
        column = str(item.get("column"))
        if "connector" in item:
            detail = f"{item['connector']} {item.get('stream') or ''}".strip()
            title = f"{source}.{column} ({detail}; read from {item.get('path')})"
        else:
            detail = str(item.get("transform", ""))
            title = f"{source}.{column}: {detail}"
        parts.append(
            _box(LEFT_X, y, LEFT_W, fill, title, [_clip(f"{source}.{column}", 32), _clip(detail, 36)], "source")
        )
        parts.append(_edge(LEFT_X + LEFT_W, y + BOX_H // 2, MID_X, mid_y + BOX_H // 2))
    parts.append(_box(MID_X, mid_y, MID_W, "#f3f5f9", expr, ["expression", _clip(expr, 30)], "expr"))
    parts.append(_edge(MID_X + MID_W, mid_y + BOX_H // 2, RIGHT_X, right_y + BOX_H // 2))
    field_type = "string" if name == "customer_id" else product.fields[name].type
    parts.append(_box(RIGHT_X, right_y, RIGHT_W, "#1d2330", f"field {name}", [_clip(name, 20), field_type], "field"))
    desc = f"Lineage of {name}: " + ", ".join(f"{i.get('source')}.{i.get('column')}" for i in items)
    return Markup(
        f'<svg class="lineage" role="img" aria-label="{escape(desc)}" viewBox="0 0 {WIDTH} {height}" '
        f'xmlns="http://www.w3.org/2000/svg"><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        f'markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        f'fill="#7a869a"/></marker></defs>{"".join(parts)}</svg>'
    )
