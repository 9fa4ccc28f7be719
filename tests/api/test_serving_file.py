"""The serving file: written once per snapshot beside the store, shared, verified, swapped whole."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from c360.api import create_app, serving
from c360.api.serving import FileView, ServingFile, ServingFileError
from c360.api.state import ServerState
from c360.governance.erasure import SubjectRef, erase
from c360.spec.validate import Spec
from c360.store import Store
from tests.api.conftest import MASK_KEY, policy_spec
from tests.api.stores import copy_store
from tests.conftest import BuiltDemo


@pytest.fixture()
def own(built_demo: BuiltDemo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Spec, Store]]:
    """A private copy of the built demo's store (a SQLite file in ``tmp_path``), in file mode."""
    monkeypatch.setenv("C360_SERVING", "file")
    monkeypatch.delenv("C360_SERVING_DIR", raising=False)
    store = copy_store(built_demo.store_url, f"sqlite:///{tmp_path}/store.db")
    try:
        yield policy_spec(built_demo), store
    finally:
        store.close()


def _app(spec: Spec, store: Store) -> Any:
    return create_app(spec, store, refresh_seconds=0, mask_key=MASK_KEY, jwt=None)


def _state(client: TestClient) -> ServerState:
    state: ServerState = client.app.state.c360  # type: ignore[attr-defined]
    return state


def _republish(store: Store, spec: Spec, change: dict[str, Any] | None = None) -> int:
    """A new published version: the current records, ``change`` applied to the first one."""
    current = store.current_version()
    assert current is not None
    rows = [(cid, orjson.loads(data)) for cid, data in store.snapshot_rows(current)]
    if change:
        rows[0] = (rows[0][0], {**rows[0][1], **change})
    version = store.begin_snapshot("test", spec.model.version, dt.datetime(2026, 6, 2, tzinfo=dt.UTC))
    store.write_snapshot(version, rows)
    store.publish(version)
    return version


def _expected_path(state: ServerState, store: Store, spec: Spec) -> Path:
    info = store.current_snapshot()
    assert info is not None and state.directory is not None
    return state.directory / serving.file_name(
        info.version, serving.fingerprint(info.version, info.run_id, spec, MASK_KEY)
    )


def test_the_file_is_written_beside_the_store_and_answers_as_memory_does(
    own: tuple[Spec, Store], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, store = own
    keys = {c: store.create_key(c) for c in spec.model.consumers}
    with TestClient(_app(spec, store)) as client:
        state = _state(client)
        assert state.serving == "file" and state.directory == tmp_path / "store.db.serving"
        snap = state.snapshot
        assert snap.file is not None and snap.file.path.parent == tmp_path / "store.db.serving"
        assert snap.hashes == {} and snap.customers == snap.file.customers > 0
        assert snap.file.header["version"] == snap.version and snap.file.header["sentinel"] == serving.SENTINEL
        assert all(isinstance(v, FileView) for v in snap.views.values())
        by_file = _everything(client, keys)
    monkeypatch.setenv("C360_SERVING", "memory")
    with TestClient(_app(spec, store)) as client:
        assert _state(client).serving == "memory" and _state(client).snapshot.file is None
        assert _everything(client, keys) == by_file


def _everything(client: TestClient, keys: dict[str, str]) -> dict[str, Any]:
    """Every answer a consumer can get: pages, each customer with its ETag, email lookups."""
    out: dict[str, Any] = {}
    for consumer, key in keys.items():
        auth = {"Authorization": f"Bearer {key}"}
        items: list[Any] = []
        cursor = None
        status = 0
        while True:
            params = {"limit": "7", **({"cursor": cursor} if cursor else {})}
            r = client.get("/v1/customers", headers=auth, params=params)
            status = r.status_code
            if status != 200:
                break
            page = r.json()
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        got: dict[str, Any] = {"page": (status, items)}
        for item in items[:15]:
            cid = item.get("customer_id")
            if isinstance(cid, str):
                r = client.get(f"/v1/customers/{cid}", headers=auth)
                got[cid] = (r.status_code, r.content, r.headers.get("etag"))
            email = item.get("billing_contact_email")
            if isinstance(email, str) and "@" in email:
                r = client.get("/v1/customers:lookup", headers=auth, params={"email": email.upper()})
                got[f"email:{email}"] = (r.status_code, r.content)
        ids = [i["customer_id"] for i in items[:20] if isinstance(i.get("customer_id"), str)]
        if ids:  # one batch: twice the first, one missing, in an order of its own
            asked = [ids[0], "c_no_such_customer", *reversed(ids), ids[0]]
            r = client.post("/v1/customers:batchGet", headers=auth, json={"ids": asked})
            got["batch"] = (r.status_code, r.content)
            if r.status_code == 200:  # (a rate-limited consumer is refused, the same in every mode)
                assert r.json()["not_found"] == ["c_no_such_customer"], r.text
                assert [i["customer_id"] for i in r.json()["items"]] == [ids[0], *reversed(ids), ids[0]]
        changes = client.get(
            "/v1/customers", headers=auth, params={"changed_since": "2026-01-01T00:00:00Z", "limit": "1000"}
        )
        got["changes"] = (changes.status_code, changes.content)
        out[consumer] = got
    return out


@pytest.mark.parametrize("writer", ["inline", "child"])
def test_a_new_version_swaps_files_and_old_files_are_removed(
    own: tuple[Spec, Store], writer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if writer == "child":
        monkeypatch.setattr(serving, "INLINE_MAX", 0)
    spec, store = own
    key = store.create_key("finance")
    with TestClient(_app(spec, store)) as client:
        state = _state(client)
        first = state.snapshot
        assert first.file is not None
        cid = next(iter(first.views["finance"].after(None)))
        v2 = _republish(store, spec, {"account_name": "Renamed Ltd"})
        state.refresh()
        assert state.snapshot.version == v2 and state.snapshot.file is not first.file
        r = client.get(f"/v1/customers/{cid}", headers={"Authorization": f"Bearer {key}"})
        assert r.json()["account_name"] == "Renamed Ltd" and r.headers["x-c360-snapshot"] == str(v2)
        # The change feed since the first build lists the renamed customer, and only it.
        since = client.get(
            "/v1/customers",
            headers={"Authorization": f"Bearer {key}"},
            params={"changed_since": first.built_at, "limit": "1000"},
        ).json()
        assert [i["customer_id"] for i in since["items"]] == [cid]
        v3 = _republish(store, spec)
        state.refresh()
        assert state.snapshot.version == v3
        names = sorted(p.name.split("-")[0] for p in state.directory.iterdir() if p.suffix == ".lmdb")  # type: ignore[union-attr]
        assert names == [f"v{v2}", f"v{v3}"]  # v1's file is gone; v2's kept for workers still on it


@pytest.mark.parametrize("damage", ["truncated", "garbage", "other_snapshot"])
def test_a_bad_file_is_refused_and_the_previous_snapshot_stays_served(own: tuple[Spec, Store], damage: str) -> None:
    spec, store = own
    key = store.create_key("finance")
    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(_app(spec, store)) as client:
        state = _state(client)
        state.retry_seconds = 0
        v1 = state.snapshot.version
        first = state.snapshot.file
        assert first is not None
        cid = next(iter(state.snapshot.views["finance"].after(None)))
        _republish(store, spec)
        path = _expected_path(state, store, spec)
        info = store.current_snapshot()
        assert info is not None
        if damage == "truncated":
            fp = serving.fingerprint(info.version, info.run_id, spec, MASK_KEY)
            serving.write(path, spec, store, MASK_KEY, fp, info.version)
            with path.open("r+b") as f:
                f.truncate(path.stat().st_size // 2)
            reason = "truncated"
        elif damage == "garbage":
            path.write_bytes(b"not an lmdb file" * 1000)
            reason = "cannot be read"
        else:
            shutil.copyfile(first.path, path)
            reason = f"holds snapshot {v1}"
        state.refresh()
        assert state.snapshot.version == v1 and state.problem is not None and reason in state.problem
        ready = client.get("/readyz")
        assert ready.status_code == 503 and reason in ready.json()["error"]["message"]
        r = client.get(f"/v1/customers/{cid}", headers=auth)
        assert r.status_code == 200 and r.headers["x-c360-snapshot"] == str(v1)
        # The operator removes the bad file: the next poll writes a good one and serves it.
        path.unlink()
        state.refresh()
        assert state.problem is None and state.snapshot.version == info.version
        assert client.get("/readyz").status_code == 200


def test_a_file_is_checked_against_its_header() -> None:
    with pytest.raises(ServingFileError, match="missing"):
        ServingFile(Path("/nonexistent/v1-x.lmdb"), version=1, fp="x", max_dbs=4)


@pytest.mark.parametrize("writer", ["inline", "child"])
def test_an_erased_customer_is_never_served_from_the_file(
    own: tuple[Spec, Store], writer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if writer == "child":  # big snapshots are written by a child process: the overlay goes to it
        monkeypatch.setattr(serving, "INLINE_MAX", 0)
    spec, store = own
    finance = store.create_key("finance")
    auth = {"Authorization": f"Bearer {finance}"}
    with TestClient(_app(spec, store)) as client, TestClient(_app(spec, store)) as other:
        state = _state(client)
        old = state.snapshot.file
        assert old is not None
        view = state.snapshot.views["finance"]
        assert isinstance(view, FileView)
        emails: dict[str, list[str]] = {}
        for c in view.after(None):
            e = orjson.loads(view.get(c) or b"{}").get("billing_contact_email")
            if isinstance(e, str):
                emails.setdefault(e, []).append(c)
        # A customer whose e-mail no other stored record holds (in any field, for any consumer):
        # its bytes must leave the file with it.
        stored = [data for _, data in store.snapshot_rows(state.snapshot.version)]
        cid = next(cs[0] for e, cs in emails.items() if len(cs) == 1 and sum(e.encode() in d for d in stored) == 1)
        body = client.get(f"/v1/customers/{cid}", headers=auth).json()
        email = body["billing_contact_email"]
        erase(store, spec, SubjectRef(customer_id=cid), reason="Art. 17", actor="test")

        def check(c: TestClient) -> None:
            s = _state(c).snapshot
            r = c.get(f"/v1/customers/{cid}", headers=auth)
            if s.holds(cid):
                assert r.status_code == 200 and r.json() != body
            else:
                assert r.status_code == 404 and cid not in set(s.views["finance"].after(None))  # type: ignore[union-attr]
            found = c.get("/v1/customers:lookup", headers=auth, params={"email": email})
            assert found.status_code == 404 or cid not in [i["customer_id"] for i in found.json()["items"]]

        # At once, from the overlay: the file still holds the old answer, the overlay wins over it.
        assert state.apply_edits() == 1
        check(client)
        raw = old.txn().get(cid.encode(), db=old.dbs["finance"][0])
        assert raw is not None and orjson.loads(raw) == body
        # Then the file is rewritten with the erasure in it, and the old one is deleted.
        state.refresh()
        new = state.snapshot.file
        assert new is not None and new is not old and state.snapshot.version == old.header["version"]
        assert not old.path.exists()
        check(client)
        after = new.txn().get(cid.encode(), db=new.dbs["finance"][0])
        assert after is None or orjson.loads(after) != body
        # Another worker applies the overlay, then opens the file the first one wrote.
        _state(other).refresh()
        assert _state(other).snapshot.file is new
        check(other)
        on_disk = b"".join(p.read_bytes() for p in new.path.parent.glob("*.lmdb"))
        assert email.encode() not in on_disk


def test_an_in_memory_store_is_served_from_memory(built_demo: BuiltDemo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_SERVING", "file")
    store = Store.open("sqlite://")
    try:
        state = ServerState(policy_spec(built_demo), store, MASK_KEY, 0)
        assert state.serving == "memory" and state.directory is None
    finally:
        store.close()


def test_serving_dir_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/s.db")
    try:
        monkeypatch.delenv("C360_SERVING_DIR", raising=False)
        assert serving.serving_dir(store) == tmp_path / "s.db.serving"
        monkeypatch.setenv("C360_SERVING_DIR", str(tmp_path / "elsewhere"))
        got = serving.serving_dir(store)
        assert got is not None and got.parent == tmp_path / "elsewhere"
        monkeypatch.setenv("C360_SERVING", "bogus")
        with pytest.raises(ValueError, match="C360_SERVING"):
            serving.mode()
    finally:
        store.close()
