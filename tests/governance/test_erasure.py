"""Erasure on both stores: all or nothing under faults, no residue, never resurrected."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, select, text

from c360.api.state import ServerState
from c360.connectors.base import get_path
from c360.core import jsonutil
from c360.core.errors import NotFound, StoreError
from c360.governance import audit
from c360.governance.erasure import STEPS, SubjectRef, erase, requests
from c360.governance.suppression import email_paths, person_paths
from c360.pipeline.build import build
from c360.spec.validate import Spec, load_spec
from c360.store import Store
from c360.store import identity as idmap
from c360.store.schema import erasure_retained, identity_map, snapshot_records, staged_records, suppression
from tests.conftest import BuiltDemo, need_service

AS_OF = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PG_KEY = "pg-test-audit-key-0123456789abcdef"
WEBHOOK = "http://127.0.0.1:9/hook"  # nothing listens on the discard port: deliveries stay pending


# -- fixtures shared by the erasure, outbox and CLI tests ------------------------------------------


def demo_spec_text(base: Path) -> str:
    """The demo spec, with finance subscribed to erasure events and granted the erasure right."""
    doc = yaml.safe_load((base / "product.yaml").read_text())
    doc["consumers"]["finance"]["webhook"] = WEBHOOK
    doc["consumers"]["finance"]["rights"] = ["erasure"]
    return yaml.safe_dump(doc, sort_keys=False)


def pg_admin() -> Any:
    return create_engine(PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")


def pg_create(template: str | None = None) -> str:
    name = f"c360_er_{uuid.uuid4().hex[:10]}"
    eng = pg_admin()
    with eng.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    eng.dispose()
    return name


def pg_drop(name: str) -> None:
    eng = pg_admin()
    with eng.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    eng.dispose()


def pg_url(name: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


@pytest.fixture(scope="session")
def pg_demo_template(built_demo: BuiltDemo) -> Iterator[str]:
    """The demo built once into a PostgreSQL database that each test copies (CREATE ... TEMPLATE)."""
    need_service("PostgreSQL", "127.0.0.1", 5432)
    name = pg_create()
    old = os.environ.get("C360_AUDIT_KEY")
    os.environ["C360_AUDIT_KEY"] = PG_KEY
    try:
        (built_demo.dir / "pg.yaml").write_text(demo_spec_text(built_demo.dir))
        store = Store.open(pg_url(name))
        build(load_spec(built_demo.dir / "pg.yaml"), store, as_of=AS_OF)
        store.close()
    finally:
        if old is None:
            os.environ.pop("C360_AUDIT_KEY", None)
        else:
            os.environ["C360_AUDIT_KEY"] = old
    yield name
    pg_drop(name)


@dataclass
class Case:
    kind: str  # sqlite | postgresql
    dir: Path
    url: str
    spec: Spec
    store: Store

    def reopen(self) -> Store:
        self.store.close()
        self.store = Store.open(self.url)
        return self.store


@pytest.fixture(params=["sqlite", "postgresql"])
def case(
    request: pytest.FixtureRequest, built_demo: BuiltDemo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Case]:
    """A private copy of the built demo on each store, with erasure consumers in its spec."""
    d = tmp_path / "demo"
    shutil.copytree(built_demo.dir, d, ignore=shutil.ignore_patterns("pg.yaml"))
    (d / "product.yaml").write_text(demo_spec_text(d))
    spec = load_spec(d / "product.yaml")
    if request.param == "sqlite":
        url = f"sqlite:///{d}/store.db"
        store = Store.open(url)
        yield Case("sqlite", d, url, spec, store)
        store.close()
        return
    template = request.getfixturevalue("pg_demo_template")
    monkeypatch.setenv("C360_AUDIT_KEY", PG_KEY)
    name = pg_create(template)
    url = pg_url(name)
    store = Store.open(url)
    try:
        yield Case("postgresql", d, url, spec, store)
    finally:
        store.close()
        pg_drop(name)


@dataclass(frozen=True)
class Person:
    email: str
    name: str | None
    keys: list[tuple[str, str]]  # (source, key) of the records that carry the email


def pick_person(store: Store, spec: Spec, min_records: int = 2) -> Person:
    """A person of the demo whose email appears in several records (billing contact and user)."""
    by_email: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for name, src in spec.model.sources.items():
        for path in email_paths(src):
            for row in store.staged(name):
                v = get_path(row.payload, path)
                if isinstance(v, str) and "@" in v:
                    by_email.setdefault(v.strip().lower(), []).append((name, row.key, row.payload))
    ranked = sorted(by_email.items(), key=lambda kv: (-len({s for s, _, _ in kv[1]}), kv[0]))
    for email, recs in ranked:
        if len(recs) < min_records:
            continue
        name = None
        for s, _, payload in recs:
            for path in person_paths(spec.model.sources[s]):
                v = get_path(payload, path)
                if isinstance(v, str) and " " in v and "@" not in v and not any(ch.isdigit() for ch in v):
                    name = v
        return Person(email, name, [(s, k) for s, k, _ in recs])
    raise AssertionError("the demo has no person with several records")


def dump(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to compare a store before and after."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with store.engine.connect() as conn:
        for table in sorted(inspect(conn).get_table_names()):
            rows = conn.execute(text(f'SELECT * FROM "{table}"')).all()
            out[table] = sorted(
                (tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows), key=repr
            )
    return out


def residue(store: Store, needles: list[str]) -> list[str]:
    """Every table and column holding any needle (case-insensitive), as ``table.column: needle``."""
    hits = []
    lowered = [n.lower() for n in needles]
    with store.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            result = conn.execute(text(f'SELECT * FROM "{table}"'))
            columns = list(result.keys())
            for values in result:
                for col, v in zip(columns, values, strict=True):
                    if v is None:
                        continue
                    s = bytes(v).decode("utf-8", "replace") if isinstance(v, bytes | memoryview) else str(v)
                    hits += [f"{table}.{col}: {n}" for n in lowered if n in s.lower()]
    return hits


def store_files(directory: Path) -> list[Path]:
    """The files a SQLite store writes: the database, its WAL and shared memory, key, models."""
    files = [p for p in directory.glob("store.db*")] + [directory / "audit.key"]
    files += sorted((directory / "models").glob("*")) if (directory / "models").exists() else []
    return [p for p in files if p.is_file()]


def file_residue(files: list[Path], needles: list[str]) -> list[str]:
    """Every file whose bytes hold a needle (as written, or in lower case)."""
    hits = []
    for path in files:
        data = path.read_bytes()
        low = data.lower()
        hits += [f"{path.name}: {n}" for n in needles if n.encode() in data or n.lower().encode() in low]
    return hits


# -- the tests ------------------------------------------------------------------------------------


def test_dry_run_shows_every_change_and_changes_nothing(case: Case) -> None:
    person = pick_person(case.store, case.spec)
    before = dump(case.store)
    result = erase(case.store, case.spec, SubjectRef(email=person.email), reason="Art. 17 request", dry_run=True)
    assert not result.committed
    planned = {(r.source, r.key) for r in result.plan.records if r.action == "anonymise"}
    assert set(person.keys) <= planned
    assert result.plan.scope == "person" and result.plan.snapshot_rows
    assert dump(case.store) == before


def test_a_person_is_removed_from_their_account(case: Case) -> None:
    store, spec = case.store, case.spec
    person = pick_person(store, spec)
    cid = str(
        next(
            iter(
                store.engine.connect().execute(
                    select(identity_map.c.customer_id).where(
                        identity_map.c.source == person.keys[0][0], identity_map.c.key == person.keys[0][1]
                    )
                )
            )
        ).customer_id
    )
    version = store.current_version()
    assert version is not None
    record_before = jsonutil.loads(dict(store.snapshot_rows(version))[cid])
    # A steward decision naming the person's record must go with it.
    own = f"{person.keys[0][0]}:{person.keys[0][1]}"
    idmap.add_pin(store, "unlink", own, "crm:some-other-account", "checked by hand", "steward")
    result = erase(store, spec, SubjectRef(email=person.email), reason="Art. 17 request, ticket 4711")
    assert result.committed
    record_after = jsonutil.loads(dict(store.snapshot_rows(version))[cid])
    # The account stays, its retained facts unchanged; the person's email is gone from it.
    assert record_after["mrr"] == record_before["mrr"] and record_after["ltv"] == record_before["ltv"]
    assert person.email not in jsonutil.dumps(record_after).decode().lower()
    if record_before["billing_contact_email"] and record_before["billing_contact_email"].lower() == person.email:
        assert record_after["billing_contact_email"] is None
    with store.engine.connect() as conn:
        staged = {(s, k) for s, k in conn.execute(select(staged_records.c.source, staged_records.c.key))}
        mapped = {(s, k) for s, k in conn.execute(select(identity_map.c.source, identity_map.c.key))}
        sup = conn.execute(select(suppression)).all()
    assert not set(person.keys) & staged and not set(person.keys) & mapped
    # The person's records stay counted, under pseudonymous keys.
    for r in result.plan.records:
        if r.action == "anonymise" and r.new_key:
            assert (r.source, r.new_key) in staged
    assert {s.action for s in sup} == {"anonymise"} and all(len(s.digest) == 64 for s in sup)
    assert not residue(store, [person.email, *[k for _, k in person.keys if len(k) > 6]])
    assert not [p for p in idmap.pins(store) if own in (p.left, p.right)]
    check = audit.verify(store)
    assert check.ok, check.problem
    with store.engine.connect() as conn:
        last = conn.execute(text("SELECT kind, subject, detail FROM audit_log ORDER BY seq DESC")).first()
    assert last is not None and last.kind == "erasure" and last.subject == result.plan.subject
    assert person.email not in last.detail
    [req] = requests(store)
    assert req.deliveries == {"finance": "pending (0 attempt(s))"} and req.scope == "person"


def test_erasing_a_customer_keeps_only_retained_facts_under_a_pseudonym(case: Case) -> None:
    store, spec = case.store, case.spec
    version = store.current_version()
    assert version is not None
    records = {c: jsonutil.loads(d) for c, d in store.snapshot_rows(version)}
    cid = next(c for c, r in sorted(records.items()) if r["ltv"])
    result = erase(store, spec, SubjectRef(customer_id=cid), reason="Art. 17 request")
    assert cid not in dict(store.snapshot_rows(version))
    with store.engine.connect() as conn:
        assert conn.execute(select(identity_map).where(identity_map.c.customer_id == cid)).first() is None
        assert conn.execute(select(snapshot_records).where(snapshot_records.c.customer_id == cid)).first() is None
        kept = {r.field: r for r in conn.execute(select(erasure_retained))}
    assert jsonutil.loads(kept["ltv"].value) == records[cid]["ltv"]
    assert kept["ltv"].basis == "accounting obligation" and kept["ltv"].subject == result.plan.subject
    assert jsonutil.loads(kept["account_name"].value) == f"erased:{result.plan.subject}"
    assert "billing_contact_email" not in kept
    assert audit.verify(store).ok


@pytest.mark.parametrize("step", STEPS)
def test_an_exception_at_any_step_changes_nothing(case: Case, step: str) -> None:
    person = pick_person(case.store, case.spec)
    before = dump(case.store)

    def fail(at: str) -> None:
        if at == step:
            raise RuntimeError(f"disk full at {at}")

    with pytest.raises(RuntimeError, match=f"disk full at {step}"):
        erase(case.store, case.spec, SubjectRef(email=person.email), reason="r", hook=fail)
    assert dump(case.store) == before


def test_a_killed_process_at_any_step_changes_nothing_and_after_commit_everything(case: Case) -> None:
    person = pick_person(case.store, case.spec)
    before = dump(case.store)
    case.store.close()
    for step in STEPS:
        pid = os.fork()
        if pid == 0:  # the child: erase, and die without a word at ``step``
            try:
                child = Store.open(case.url)

                def die(at: str, step: str = step) -> None:
                    if at == step:
                        os.kill(os.getpid(), signal.SIGKILL)

                erase(child, case.spec, SubjectRef(email=person.email), reason="r", hook=die)
            finally:
                os._exit(3)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, step
        assert dump(case.reopen()) == before, f"killed at {step}"
        case.store.close()
    pid = os.fork()
    if pid == 0:
        try:
            erase(Store.open(case.url), case.spec, SubjectRef(email=person.email), reason="r")
            os.kill(os.getpid(), signal.SIGKILL)  # killed just after the commit
        finally:
            os._exit(3)
    os.waitpid(pid, 0)
    store = case.reopen()
    after = dump(store)
    assert after != before and len(after["erasures"]) == 1
    assert not residue(store, [person.email])


def test_no_residue_in_any_table_or_store_file(case: Case) -> None:
    store, spec = case.store, case.spec
    person = pick_person(store, spec)
    needles = [person.email, *[k for _, k in person.keys if len(k) > 6]]
    if person.name:
        needles.append(person.name)
    assert residue(store, needles)  # the scan finds them before the erasure
    result = erase(store, spec, SubjectRef(email=person.email), reason="Art. 17 request")
    version = store.current_version()
    assert version is not None
    cid = next(r for r in result.plan.records if r.customer_id).customer_id
    whole = erase(store, spec, SubjectRef(customer_id=str(cid)), reason="Art. 17 request")
    assert whole.plan.removed == [cid]
    assert residue(store, needles) == []
    if case.kind == "sqlite":
        assert result.wal_checkpointed and whole.wal_checkpointed
        store.close()
        files = store_files(case.dir)
        assert {p.name for p in files} >= {"store.db", "audit.key"}
        assert file_residue(files, needles) == []


def test_a_resync_and_rebuild_never_resurrect_the_subject(case: Case) -> None:
    store, spec = case.store, case.spec
    person = pick_person(store, spec)
    needles = [person.email, *[k for _, k in person.keys if len(k) > 6]]
    erase(store, spec, SubjectRef(email=person.email), reason="Art. 17 request")
    report = build(spec, store, full=True, as_of=AS_OF)  # every source read again, unchanged
    assert report.version is not None
    # The anonymised records arrive anonymised again: nothing new, nothing changed.
    assert all(s.counts.new == 0 and s.counts.changed == 0 for s in report.synced), report.synced
    assert residue(store, needles) == []
    snapshot = {c: jsonutil.loads(d) for c, d in store.snapshot_rows(report.version)}
    assert person.email not in jsonutil.dumps(snapshot).decode().lower()
    assert audit.verify(store).ok


def test_a_person_grain_customer_goes_and_stays_gone(case: Case) -> None:
    doc = yaml.safe_load(case.spec.text)
    doc["grain"] = "person"
    (case.dir / "person.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    spec = load_spec(case.dir / "person.yaml")
    person = pick_person(case.store, spec)
    result = erase(case.store, spec, SubjectRef(email=person.email), reason="Art. 17 request")
    assert result.plan.scope == "customer" and result.plan.removed
    report = build(spec, case.store, full=True, as_of=AS_OF)
    assert report.version is not None
    assert residue(case.store, [person.email]) == []
    with case.store.engine.connect() as conn:
        keys = {(s, k) for s, k in conn.execute(select(staged_records.c.source, staged_records.c.key))}
    assert not set(person.keys) & keys


def test_a_publish_overtaken_by_an_erasure_is_refused(case: Case) -> None:
    if case.kind != "sqlite":
        pytest.skip("the guard is dialect-neutral SQL; one store is enough for this slow test")
    person = pick_person(case.store, case.spec)
    before = case.store.current_version()

    def erase_midway(stage: str) -> None:
        if stage == "materialise":
            erase(case.store, case.spec, SubjectRef(email=person.email), reason="r")

    with pytest.raises(StoreError, match="committed while this build ran"):
        build(case.spec, case.store, as_of=AS_OF, fail_after=erase_midway)
    assert case.store.current_version() == before


def test_unknown_subject_is_a_clear_error(case: Case) -> None:
    # Not found is not a store failure: it is a NotFound, never a StoreError.
    with pytest.raises(NotFound, match="nothing to erase"):
        erase(case.store, case.spec, SubjectRef(email="nobody@nowhere.example"), reason="r")
    with pytest.raises(NotFound, match="no customer 'c_nope'"):
        erase(case.store, case.spec, SubjectRef(customer_id="c_nope"), reason="r")


def test_post_erasures_needs_the_erasure_right(case: Case) -> None:
    app = FastAPI()
    from c360.api.erasures import router

    app.include_router(router)
    app.state.c360 = ServerState(case.spec, case.store, b"k", refresh_seconds=0)
    finance, marketing = case.store.create_key("finance"), case.store.create_key("marketing")
    person = pick_person(case.store, case.spec)
    client = TestClient(app)
    body = {"email": person.email, "reason": "Art. 17 request"}
    assert client.post("/v1/erasures", json=body).status_code == 401
    denied = client.post("/v1/erasures", json=body, headers={"Authorization": f"Bearer {marketing}"})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
    dry = client.post("/v1/erasures", json={**body, "dry_run": True}, headers={"Authorization": f"Bearer {finance}"})
    assert dry.status_code == 200 and dry.json()["committed"] is False
    # Only the erasure right: counts, never which records (that is the DPO's).
    assert "changes" not in dry.json() and set(dry.json()["records_by_source"]) >= {s for s, _ in person.keys}
    done = client.post("/v1/erasures", json=body, headers={"Authorization": f"Bearer {finance}"})
    assert done.status_code == 200 and done.json()["committed"] is True
    assert residue(case.store, [person.email]) == []
    again = client.post("/v1/erasures", json=body, headers={"Authorization": f"Bearer {finance}"})
    assert again.status_code == 404
    [req] = requests(case.store)
    assert req.actor == "consumer:finance"
