"""A product spec as a Python object, over the same library calls the ``c360`` commands make.

::

    from c360 import Product

    product = Product.load("product.yaml")
    product.validate()                 # [] or every problem (raises SpecError when loading fails)
    report = product.build()           # c360 build
    plan = product.plan()              # c360 plan
    result = product.erase(email="jane@acme.com", reason="Art. 17", dry_run=True)   # c360 erase
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from c360.core.errors import SpecError, SpecIssue

if TYPE_CHECKING:
    from c360.governance.erasure import Result as ErasureResult
    from c360.pipeline.build import BuildReport
    from c360.spec.diff import Plan
    from c360.spec.validate import Spec
    from c360.store import Store

__all__ = ["Product"]


@dataclass
class Product:
    """A loaded, schema-valid spec and the store it builds into (``store_url``, else the default)."""

    spec: Spec
    store_url: str | None = None

    @classmethod
    def load(cls, path: str | Path, *, store_url: str | None = None) -> Product:
        """Load a spec as ``c360 validate`` does; :class:`SpecError` with every problem if it is invalid."""
        from c360.spec.validate import load_spec

        return cls(load_spec(Path(path)), store_url)

    @property
    def path(self) -> Path:
        return Path(self.spec.path)

    @property
    def model(self) -> Any:
        """The parsed spec (``ProductSpec``)."""
        return self.spec.model

    @property
    def name(self) -> str:
        return str(self.spec.model.product)

    @property
    def version(self) -> str:
        return str(self.spec.model.version)

    def problems(self) -> list[str]:
        """What ``c360 validate`` reports after loading: each field expression's problem."""
        from c360.engine.materialise import check_plan

        return [f"fields.{p}" for p in check_plan(self.spec.model)]

    def validate(self) -> None:
        """Raise :class:`SpecError` naming every problem ``c360 validate`` would, else return."""
        problems = self.problems()
        if problems:
            raise SpecError([SpecIssue(str(self.path), None, "", p) for p in problems])

    def notes(self) -> list[str]:
        """The notes ``c360 validate`` prints (policy remarks that are not errors)."""
        from c360.governance.policy import notes

        return [str(n) for n in notes(self.spec.model)]

    def store(self) -> Store:
        """The product's store, opened (the caller closes it)."""
        from c360.store import Store, default_url

        return Store.open(self.store_url or default_url(self.spec.base_dir))

    def build(
        self,
        *,
        full: bool = False,
        skip_sync: bool = False,
        as_of: dt.datetime | str | None = None,
        retrain: bool = False,
    ) -> BuildReport:
        """``c360 build``: sync, resolve, materialise, check and publish; the build's report."""
        from c360.engine.columns import parse_timestamp
        from c360.pipeline.build import build

        when = parse_timestamp(as_of) if isinstance(as_of, str) else as_of
        store = self.store()
        try:
            return build(self.spec, store, full=full, skip_sync=skip_sync, as_of=when, retrain=retrain)
        finally:
            store.close()

    def plan(self, *, against: str | Path | Product | None = None) -> Plan:
        """``c360 plan``: every change against the published contract (or another spec)."""
        from c360.governance.contracts import plan_against_store
        from c360.spec.diff import diff

        self.validate()
        if against is not None:
            other = against if isinstance(against, Product) else Product.load(against)
            other.validate()
            return diff(other.spec.model, self.spec.model)
        store = self.store()
        try:
            return plan_against_store(store, self.spec.model)
        finally:
            store.close()

    def erase(
        self,
        *,
        reason: str,
        customer: str | None = None,
        email: str | None = None,
        source: str | None = None,
        key: str | None = None,
        dry_run: bool = False,
        vacuum: bool = False,
    ) -> ErasureResult:
        """``c360 erase``: one data subject in one transaction (a dry run changes nothing, and is audited)."""
        from c360.governance.erasure import SubjectRef, erase
        from c360.governance.erasure import dry_run as plan_erasure

        who = SubjectRef(customer_id=customer, email=email, source=source, key=key)
        store = self.store()
        try:
            if dry_run:
                return plan_erasure(store, self.spec, who, reason=reason, shown="plan")
            return erase(store, self.spec, who, reason=reason, compact=vacuum)
        finally:
            store.close()
