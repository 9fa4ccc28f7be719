"""Earlier majors kept serving: which are due, and the recorded spec that defines each.

A breaking change ships as a new major. Consumers whose subscriptions pin an earlier
major keep reading that major's *shape* (its field names, types, units and their access
policy) until its sunset: every build computes, besides the current snapshot, one view
per pinned major with the fields of that major's last recorded spec, over the same
customers and the same identity map.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from c360.core.errors import C360Error
from c360.governance.contracts import history
from c360.governance.sla import current_major, sunset_at
from c360.spec.diff import parse_version
from c360.spec.models import ProductSpec
from c360.spec.validate import Spec, load_spec_text
from c360.store import Store


@dataclass(frozen=True)
class Major:
    """An earlier major still served: its spec and the consumers pinned to it."""

    major: int
    spec: Spec
    consumers: tuple[str, ...]


def due(product: ProductSpec, now: dt.datetime) -> dict[int, tuple[str, ...]]:
    """Earlier majors pinned by a subscription and not past their sunset → their consumers."""
    current = current_major(product)
    out: dict[int, set[str]] = {}
    for sub in product.subscriptions:
        if sub.major is None or sub.major >= current:
            continue
        date = product.lifecycle.sunset.get(sub.major)
        if date is not None and now > sunset_at(date):
            continue
        out.setdefault(sub.major, set()).add(sub.consumer)
    return {m: tuple(sorted(cs)) for m, cs in sorted(out.items())}


def beside(spec: Spec, version: str, text: str) -> Spec:
    """A recorded spec's ``text`` read as if it lay beside ``spec`` (``product@1.4.0.yaml``)."""
    return load_spec_text(text, spec.path.with_name(f"{spec.path.stem}@{version}{spec.path.suffix}"))


def recorded_spec(store: Store, spec: Spec, major: int) -> Spec | None:
    """The last recorded spec version of ``major`` of ``spec``'s product, parsed and validated.

    It is read :func:`beside` ``spec``, so that relative paths of file sources resolve as they
    do for the current spec.
    """
    product = spec.model.product
    versions = [v for v in history(store) if v.product == product and parse_version(v.version)[0] == major]
    if not versions:
        return None
    last = versions[-1]
    try:
        return beside(spec, last.version, last.text)
    except C360Error as exc:
        raise C360Error(
            f"the recorded spec {last.version} (major {major}) no longer validates, so "
            f"its consumers cannot be served their shape: {exc}"
        ) from exc


def pinned(store: Store, spec: Spec, now: dt.datetime) -> list[Major]:
    """Every earlier major the build must also materialise; a clear error when one was never recorded."""
    out = []
    for major, consumers in due(spec.model, now).items():
        old = recorded_spec(store, spec, major)
        if old is None:
            raise C360Error(
                f"subscriptions of {', '.join(consumers)} pin major {major} of {spec.model.product}, "
                f"but no spec of major {major} was ever built or applied on this store, so its shape "
                f"is unknown; apply the major-{major} spec first, or move them to major "
                f"{current_major(spec.model)} and drop their pin"
            )
        out.append(Major(major, old, consumers))
    return out
