"""What a server process holds in memory: the published snapshot, pre-projected per consumer.

Masks and row filters are applied here, once per snapshot, into each consumer's
pre-serialised bytes: a request is a dict hit, never a policy evaluation. The served
snapshot is swapped as a whole when a new version is published, so a request sees
one version from start to finish.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson
from sqlalchemy import select

from c360.core.clock import iso
from c360.governance.access import ConsumerPolicy, policy_for
from c360.governance.contracts import history
from c360.governance.majors import beside
from c360.governance.sla import pinned_major
from c360.spec.diff import parse_version
from c360.spec.models import ProductSpec
from c360.spec.validate import Spec
from c360.store import Store
from c360.store import identity as idmap
from c360.store.schema import snapshots

JSON = b"application/json"


@dataclass(frozen=True)
class ConsumerView:
    """One consumer's side of a snapshot: only the customers it may see, as it may see them."""

    rows: dict[str, bytes]  # customer_id → the serialised projection (masks applied)
    ids: tuple[str, ...]  # sorted, for keyset paging
    emails: dict[str, tuple[str, ...]]  # lower-cased email → ids, from fields granted in the clear


@dataclass(frozen=True)
class Snapshot:
    version: int
    as_of: str
    built_at: str
    built_ts: float
    views: dict[str, ConsumerView]
    aliases: dict[str, str]
    hashes: dict[str, int]  # customer → hash of its stored record (changes between versions)
    changed: dict[str, float]  # customer → when its record last changed (epoch seconds)
    changes_known_since: float  # changes before this are not known: such a feed returns everyone
    headers: dict[str, str] = field(default_factory=dict)
    raw_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    # Consumers pinned to an earlier major: the spec and policy of the shape they are served,
    # or why that shape is not in this snapshot.
    specs: dict[str, Spec] = field(default_factory=dict)
    policies: dict[str, ConsumerPolicy] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)

    @property
    def customers(self) -> int:
        return len(self.hashes)


def _headers(version: int, as_of: str) -> tuple[dict[str, str], list[tuple[bytes, bytes]]]:
    h = {"X-C360-Snapshot": str(version), "X-C360-As-Of": as_of, "X-C360-Mode": "materialised"}
    return h, [(k.lower().encode(), v.encode()) for k, v in h.items()]


EMPTY = Snapshot(0, "", "", 0.0, {}, {}, {}, {}, 0.0, *_headers(0, ""))


def email_fields(product: ProductSpec) -> frozenset[str]:
    """Fields that hold an identity email as it is: a bare reference to a source's email column."""
    from sqlglot import exp

    from c360.spec.expressions import parse_expression

    out = set()
    for name, f in product.fields.items():
        node = parse_expression(f.expr)
        if (
            isinstance(node, exp.Column)
            and node.table in product.sources
            and product.sources[node.table].identity.get("email") == node.name
        ):
            out.add(name)
    return frozenset(out)


def build_views(
    product: ProductSpec,
    policies: dict[str, ConsumerPolicy],
    rows: Iterator[tuple[str, bytes]],
    mask_key: bytes,
    hashes: dict[str, int],
) -> dict[str, ConsumerView]:
    """Project every stored record for every consumer; fills ``hashes`` on the way."""
    emails = email_fields(product)
    out_rows: dict[str, dict[str, bytes]] = {c: {} for c in policies}
    out_emails: dict[str, dict[str, list[str]]] = {c: {} for c in policies}
    live = {c: p for c, p in policies.items() if not p.denied}
    for cid, data in rows:
        hashes[cid] = hash(data)
        record = orjson.loads(data)
        for consumer, policy in live.items():
            acc = policy.access(record)
            if acc is None:
                continue  # a row filter hides it: for this consumer the customer does not exist
            out_rows[consumer][cid] = orjson.dumps(acc.apply(record, mask_key))
            for f in emails & acc.unmasked:
                value = record.get(f)
                if isinstance(value, str) and value:
                    out_emails[consumer].setdefault(value.strip().lower(), []).append(cid)
    return {
        c: ConsumerView(
            out_rows[c],
            tuple(sorted(out_rows[c])),
            {e: tuple(ids) for e, ids in out_emails[c].items()},
        )
        for c in policies
    }


def retained_versions(store: Store, upto: int) -> list[tuple[int, dt.datetime]]:
    """Published or retired versions up to ``upto`` whose records are still kept, oldest first."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(snapshots.c.version, snapshots.c.built_at, snapshots.c.customers)
            .where(snapshots.c.status.in_(["published", "retired"]), snapshots.c.version < upto)
            .order_by(snapshots.c.version.desc())
            .limit(4)
        ).all()
    out = []
    for version, built_at, _ in rows:
        out.append((int(version), built_at if built_at.tzinfo else built_at.replace(tzinfo=dt.UTC)))
    return out[::-1]


def _history(
    store: Store, current: dict[str, int], current_ts: float, version: int
) -> tuple[dict[str, float], float]:
    """When each customer's record last changed, from the versions the store still keeps.

    A record equal in every kept version changed at or before the oldest of them; a
    change feed asked about earlier times therefore includes it (over-reporting is safe,
    missing a change is not).
    """
    changed = dict.fromkeys(current, current_ts)
    known_since = current_ts
    stable = set(current)
    for v, built_at in reversed(retained_versions(store, version)):
        older = {cid: hash(data) for cid, data in store.snapshot_rows(v)}
        if not older:
            break  # pruned: nothing older is known
        ts = built_at.timestamp()
        stable = {c for c in stable if older.get(c) == current[c]}
        for c in stable:
            changed[c] = ts
        known_since = ts
        if not stable:
            break
    return changed, known_since


@dataclass
class Shapes:
    """Which records each consumer is served from, and with which spec and policy."""

    main: dict[str, ConsumerPolicy]  # consumers served the snapshot's own records
    majors: dict[int, tuple[Spec, dict[str, ConsumerPolicy]]]  # earlier majors' views
    specs: dict[str, Spec]  # consumers served with a spec other than the current one
    policies: dict[str, ConsumerPolicy]  # and their policy in that spec
    unavailable: dict[str, str]


def shapes(spec: Spec, store: Store, version: int, spec_version: str,
           policies: dict[str, ConsumerPolicy]) -> Shapes:
    """Match consumers to the shapes snapshot ``version`` holds.

    A consumer whose subscription pins an earlier major reads that major's view, projected
    by that major's own policy for it; everyone else reads the snapshot's records. A pinned
    major the snapshot lacks (it was built before the pin) is reported, never papered over
    with the current shape.
    """
    texts = {v.version: v.text for v in history(store) if v.product == spec.model.product}
    loaded: dict[str, Spec] = {spec.model.version: spec}

    def recorded(v: str) -> Spec:
        if v not in loaded:
            loaded[v] = beside(spec, v, texts[v])
        return loaded[v]

    own = parse_version(spec_version)[0]
    views = store.view_majors(version)
    out = Shapes({}, {}, {}, {}, {})
    for consumer, policy in policies.items():
        want = pinned_major(spec.model, consumer)
        if want is None:
            out.main[consumer] = policy
            continue
        if want == own and spec_version in texts:  # a snapshot built before the new major
            old = recorded(spec_version)
            out.main[consumer] = out.policies[consumer] = policy_for(old.model, consumer)
        elif want in views and views[want] in texts:
            old = recorded(views[want])
            out.majors.setdefault(want, (old, {}))[1][consumer] = out.policies[consumer] = policy_for(
                old.model, consumer)
        else:
            out.unavailable[consumer] = (
                f"snapshot {version} holds no major-{want} view for consumer '{consumer}' (it was built "
                "before the pin or the major's spec was never recorded); run a build")
            continue
        out.specs[consumer] = old
    return out


def load_snapshot(
    spec: Spec,
    store: Store,
    mask_key: bytes,
    previous: Snapshot = EMPTY,
    policies: dict[str, ConsumerPolicy] | None = None,
) -> Snapshot:
    info = store.current_snapshot()
    if info is None:
        return EMPTY
    if policies is None:
        policies = {c: policy_for(spec.model, c) for c in spec.model.consumers}
    served = shapes(spec, store, info.version, info.spec_version, policies)
    hashes: dict[str, int] = {}
    views = build_views(spec.model, served.main, store.snapshot_rows(info.version), mask_key, hashes)
    for major, (old, pinned) in served.majors.items():
        views.update(build_views(old.model, pinned, store.view_rows(info.version, major), mask_key, {}))
    built_ts = float(int(info.built_at.timestamp()))
    if previous.version:
        # A version loaded before in this process: unchanged records keep their change time.
        changed = {
            c: (previous.changed[c] if previous.hashes.get(c) == h else built_ts)
            for c, h in hashes.items()
        }
        known_since = previous.changes_known_since
    else:
        changed, known_since = _history(store, hashes, built_ts, info.version)
    as_of = iso(info.as_of)
    return Snapshot(
        info.version,
        as_of,
        iso(info.built_at),
        built_ts,
        views,
        idmap.aliases(store),
        hashes,
        changed,
        known_since,
        *_headers(info.version, as_of),
        served.specs,
        served.policies,
        served.unavailable,
    )


@dataclass
class ServerState:
    """The served snapshot and keys of one server process, refreshed in the background."""

    spec: Spec
    store: Store
    mask_key: bytes
    refresh_seconds: float = 1.0
    snapshot: Snapshot = EMPTY
    policies: dict[str, ConsumerPolicy] = field(default_factory=dict)
    keys: dict[str, tuple[str, float | None]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        if not self.policies:
            self.policies = {c: policy_for(self.spec.model, c) for c in self.spec.model.consumers}

    def policy(self, consumer: str) -> ConsumerPolicy:
        """The consumer's policy; an unknown consumer (a token naming one) is denied everything.

        A consumer pinned to an earlier major gets that major's policy for it.
        """
        p = self.snapshot.policies.get(consumer) or self.policies.get(consumer)
        return p if p is not None else policy_for(self.spec.model, consumer)

    def spec_for(self, consumer: str) -> Spec:
        """The spec whose shape ``consumer`` is served: its pinned major's, else the current one."""
        return self.snapshot.specs.get(consumer, self.spec)

    def refresh(self) -> None:
        version = self.store.current_version()
        if version is not None and version != self.snapshot.version:
            self.snapshot = load_snapshot(
                self.spec, self.store, self.mask_key, self.snapshot, self.policies
            )
        self.keys = {
            h: (c, e.timestamp() if e else None) for h, (c, e) in self.store.active_keys().items()
        }

    def start(self) -> None:
        self.refresh()
        if self._thread is None and self.refresh_seconds > 0:
            self._thread = threading.Thread(target=self._loop, name="c360-refresh", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            try:
                self.refresh()
            except Exception:  # a store hiccup must not kill serving; the next tick retries
                continue
