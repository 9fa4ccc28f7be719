"""Which shape of a snapshot each consumer is served: its own records, or an earlier major's view."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from c360.governance.access import ConsumerPolicy, policy_for
from c360.governance.contracts import history
from c360.governance.majors import beside
from c360.governance.sla import pinned_major
from c360.spec.diff import parse_version
from c360.spec.validate import Spec
from c360.store import Store, snapshots_repo


def retained_versions(store: Store, upto: int) -> list[tuple[int, dt.datetime]]:
    """Published or retired versions up to ``upto`` whose records are still kept, oldest first."""
    return snapshots_repo.retained_versions(store, upto)


@dataclass
class Shapes:
    """Which records each consumer is served from, and with which spec and policy."""

    main: dict[str, ConsumerPolicy]  # consumers served the snapshot's own records
    majors: dict[int, tuple[Spec, dict[str, ConsumerPolicy]]]  # earlier majors' views
    specs: dict[str, Spec]  # consumers served with a spec other than the current one
    policies: dict[str, ConsumerPolicy]  # and their policy in that spec
    unavailable: dict[str, str]


def shapes(spec: Spec, store: Store, version: int, spec_version: str, policies: dict[str, ConsumerPolicy]) -> Shapes:
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
                old.model, consumer
            )
        else:
            out.unavailable[consumer] = (
                f"snapshot {version} holds no major-{want} view for consumer '{consumer}' (it was built "
                "before the pin or the major's spec was never recorded); run a build"
            )
            continue
        out.specs[consumer] = old
    return out
