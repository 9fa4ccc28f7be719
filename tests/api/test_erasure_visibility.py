"""An erasure reaches running servers: no worker serves the subject once it is applied.

A server in another process (``c360 serve``, two workers) is started on each store; ``c360
erase`` then removes a person from their account and a whole customer, and every way of
reading (one customer, a batch, a page, a lookup by email) must stop answering with the
subject within the bound the README states (``ERASURE_POLL_SECONDS``, with slack for a
loaded test machine). In the same process, ``POST /v1/erasures`` applies the erasure to
the worker that answers before it answers, and every other worker applies it incrementally.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from c360.api import create_app
from c360.api.state import ERASURE_POLL_SECONDS
from c360.cli import app as cli
from c360.store import Store
from tests.api.servers import running
from tests.governance.test_erasure import Case, case, pg_demo_template  # noqa: F401

# Both serving modes: the shared serving file and each process's own memory.
pytestmark = pytest.mark.usefixtures("serving_mode")

SLACK = 10.0  # a loaded, shared test machine; the bound itself is ERASURE_POLL_SECONDS
runner = CliRunner()


@dataclass(frozen=True)
class Subjects:
    person_account: str  # the account whose billing contact is erased (the account stays)
    email: str
    customer: str  # erased whole
    customer_email: str


def _subjects(store: Store) -> Subjects:
    """Two accounts, each with a billing contact email no other account has."""
    version = store.current_version()
    assert version is not None
    records = {cid: orjson.loads(d) for cid, d in store.snapshot_rows(version)}
    by_email: dict[str, list[str]] = {}
    for cid, r in records.items():
        if r.get("billing_contact_email"):
            by_email.setdefault(r["billing_contact_email"].strip().lower(), []).append(cid)
    single = sorted((e, ids[0]) for e, ids in by_email.items() if len(ids) == 1)
    (e1, c1), (e2, c2) = single[0], single[-1]
    return Subjects(c1, e1, c2, e2)


def _still_served(http: httpx.Client, key: str, s: Subjects) -> list[str]:
    """Every answer that still shows an erased subject (empty once the erasures are applied)."""
    auth = {"Authorization": f"Bearer {key}"}
    seen = []
    one = http.get(f"/v1/customers/{s.person_account}", headers=auth)
    if one.status_code != 200 or s.email in one.text.lower():
        seen.append(f"GET person's account: {one.status_code}")
    gone = http.get(f"/v1/customers/{s.customer}", headers=auth)
    if gone.status_code != 404:
        seen.append(f"GET erased customer: {gone.status_code} {gone.text[:200]}")
    batch = http.post("/v1/customers:batchGet", headers=auth, json={"ids": [s.person_account, s.customer]}).json()
    if batch["not_found"] != [s.customer] or s.email in orjson.dumps(batch).decode().lower():
        seen.append("batchGet")
    page = http.get("/v1/customers", headers=auth, params={"limit": 1000}).json()
    ids = [i["customer_id"] for i in page["items"]]
    if s.customer in ids or s.person_account not in ids or s.email in orjson.dumps(page).decode().lower():
        seen.append("page")
    for email in (s.email, s.customer_email):
        if http.get("/v1/customers:lookup", headers=auth, params={"email": email}).status_code != 404:
            seen.append(f"lookup by email {email}")
    return seen


@contextmanager
def _server(c: Case, log: Path) -> Iterator[httpx.Client]:
    """``c360 serve`` with two workers in a process of its own, until the block ends."""
    with (
        running(c.dir / "product.yaml", c.url, log, workers=2) as port,
        httpx.Client(
            # Fresh connections each request, so the two workers both answer.
            base_url=f"http://127.0.0.1:{port}",
            timeout=10,
            limits=httpx.Limits(max_keepalive_connections=0),
        ) as http,
    ):
        yield http


def test_c360_erase_reaches_a_server_in_another_process(case: Case, tmp_path: Path) -> None:  # noqa: F811
    s = _subjects(case.store)
    key = case.store.create_key("finance")
    with _server(case, tmp_path / "serve.log") as http:
        before = _still_served(http, key, s)
        # Before the erasures every answer shows them (so the checks below can see a difference).
        assert len(before) == 6, before
        spec = str(case.dir / "product.yaml")
        for who in (["--email", s.email], ["--customer", s.customer]):
            result = runner.invoke(cli, ["erase", spec, *who, "--reason", "Art. 17 request", "--store", case.url])
            assert result.exit_code == 0, result.output
        # Every worker has applied it, not just the one that answered first: eight clean rounds
        # in a row, each of fresh connections that the workers share between them.
        deadline = time.monotonic() + ERASURE_POLL_SECONDS + SLACK
        clean, left = 0, before
        while clean < 8 and time.monotonic() < deadline:
            left = _still_served(http, key, s)
            clean = 0 if left else clean + 1
            time.sleep(0.05)
        assert clean == 8, f"still served after the bound: {left}"


def _app(c: Case) -> Any:
    return create_app(c.spec, c.store, refresh_seconds=0, mask_key=b"k", jwt=None)


def _page(client: TestClient, key: str, **params: str) -> dict[str, dict[str, Any]]:
    got = client.get("/v1/customers", headers={"Authorization": f"Bearer {key}"}, params={"limit": "1000", **params})
    assert got.status_code == 200, got.text
    return {i["customer_id"]: i for i in got.json()["items"]}


def test_post_erasures_is_applied_before_it_answers_and_by_every_worker(case: Case) -> None:  # noqa: F811
    s = _subjects(case.store)
    keys = {c: case.store.create_key(c) for c in ("finance", "churn_model", "marketing")}
    key = keys["finance"]
    version = case.store.current_version()
    # Two workers of one server, neither refreshing on its own.
    with TestClient(_app(case)) as one, TestClient(_app(case)) as other:
        auth = {"Authorization": f"Bearer {key}"}
        before = {c: _page(other, k) for c, k in keys.items()}
        built_at = one.get("/v1/customers", headers=auth, params={"limit": 1}).json()["built_at"]
        for body in ({"email": s.email}, {"customer_id": s.customer}):
            done = one.post("/v1/erasures", headers=auth, json={**body, "reason": "Art. 17 request"})
            assert done.status_code == 200 and done.json()["committed"] is True, done.text
        assert _still_served(one, key, s) == []  # the worker that answered: at once
        assert len(_still_served(other, key, s)) == 6  # another worker, until it polls
        other.app.state.c360.refresh()  # type: ignore[attr-defined]
        assert _still_served(other, key, s) == []
        # Applied in place: the same snapshot version, not a reload of a new one.
        for client in (one, other):
            state = client.app.state.c360  # type: ignore[attr-defined]
            assert state.snapshot.version == version and not state.snapshot.holds(s.customer)
        # Each consumer's change feed lists exactly the customers whose projection changed: finance
        # sees the billing contact cleared; a consumer not granted it sees no change for that.
        for c, k in keys.items():
            after = _page(other, k)
            changed = sorted(i for i, item in after.items() if before[c].get(i) != item)
            assert sorted(_page(other, k, changed_since=built_at)) == changed, c
            assert (s.person_account in changed) == (c == "finance"), c
