"""``c360.Product`` over the same library calls as the ``c360`` commands."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from c360 import Product
from c360.core.errors import SpecError
from tests.conftest import BuiltDemo


@pytest.fixture
def product(built_demo: BuiltDemo, tmp_path: Path) -> Product:
    for p in built_demo.dir.iterdir():
        if p.is_file() and not p.name.startswith("store.db"):
            shutil.copy2(p, tmp_path / p.name)
    return Product.load(tmp_path / "product.yaml", store_url=f"sqlite:///{tmp_path}/store.db")


def test_load_validate_build_plan_erase(product: Product) -> None:
    product.validate()
    assert product.name and product.version and product.problems() == []
    assert isinstance(product.notes(), list)

    report = product.build(as_of="2026-06-01T00:00:00Z")
    assert report.version is not None and report.customers > 0

    plan = product.plan()
    assert plan.exit_code == 0  # the built spec against itself: nothing changed

    store = product.store()
    try:
        rows = dict(store.snapshot_rows(report.version))
    finally:
        store.close()
    import orjson

    email = next(v for data in rows.values() if (v := orjson.loads(data).get("billing_contact_email")))
    dry = product.erase(email=email, reason="test, dry run", dry_run=True)
    assert not dry.committed and dry.plan.records
    done = product.erase(email=email, reason="test")
    assert done.committed


def test_plan_against_another_spec(product: Product, tmp_path: Path) -> None:
    changed = tmp_path / "changed.yaml"
    text = product.path.read_text()
    grant = "fields: [customer_id, account_name, segment]\n    rights: [owner]"
    assert grant in text
    changed.write_text(text.replace(grant, "fields: [customer_id, account_name]\n    rights: [owner]"))
    result = Product.load(changed).plan(against=product)
    assert result.exit_code == 1  # a grant withdrawn is breaking


def test_invalid_spec_raises_spec_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("product: x\nversion: 1.0.0\nsources: {}\nfieldz: {}\n")
    with pytest.raises(SpecError) as caught:
        Product.load(bad)
    assert caught.value.issues


def test_build_accepts_a_datetime(product: Product) -> None:
    report = product.build(as_of=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    assert report.version is not None
