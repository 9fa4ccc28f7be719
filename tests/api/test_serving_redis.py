"""Redis serving: one snapshot's answers in Redis for many replicas, as the serving file answers."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from c360.api import serving, serving_redis, serving_redis_write
from c360.api.serving_redis import RedisServing, RedisView
from c360.governance.erasure import SubjectRef, erase
from c360.spec.validate import Spec
from c360.store import Store
from tests.api.conftest import policy_spec
from tests.api.stores import copy_store
from tests.api.test_serving_file import _app, _everything, _republish, _state
from tests.conftest import BuiltDemo, need_module, need_service

URL = os.environ.get("C360_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture()
def product(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A product key of this test's own in Redis; only its keys are deleted afterwards."""
    need_module("redis")
    need_service("redis", "127.0.0.1", 6379)
    name = f"test{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("C360_REDIS_PRODUCT", name)
    r = serving_redis.client(URL)
    try:
        yield name
    finally:
        keys = list(r.scan_iter(match=f"c360:{name}:*", count=1000))
        if keys:
            r.unlink(*keys)


@pytest.fixture()
def own(built_demo: BuiltDemo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Spec, Store]]:
    monkeypatch.delenv("C360_SERVING_DIR", raising=False)
    store = copy_store(built_demo.store_url, f"sqlite:///{tmp_path}/store.db")
    try:
        yield policy_spec(built_demo), store
    finally:
        store.close()


def _redis_mode(monkeypatch: pytest.MonkeyPatch, url: str = URL) -> None:
    monkeypatch.setenv("C360_SERVING", "redis")
    monkeypatch.setenv("C360_REDIS_URL", url)


def _keys_of(product: str) -> set[str]:
    r = serving_redis.client(URL)
    return {k.decode() for k in r.scan_iter(match=f"c360:{product}:*", count=1000)}


@pytest.mark.parametrize("mode", ["file", "redis"])
def test_redis_answers_as_the_serving_file_does(
    own: tuple[Spec, Store], product: str, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GET one (with its ETag), paging, lookup by e-mail and the change feed, the same in both modes."""
    spec, store = own
    keys = {c: store.create_key(c) for c in spec.model.consumers}
    monkeypatch.setenv("C360_SERVING", "file")
    with TestClient(_app(spec, store)) as client:
        by_file = _everything(client, keys)
    if mode == "redis":
        _redis_mode(monkeypatch)
    with TestClient(_app(spec, store)) as client:
        state = _state(client)
        assert state.serving == mode
        if mode == "redis":
            snap = state.snapshot
            assert isinstance(snap.file, RedisServing) and snap.customers > 0
            assert all(isinstance(v, RedisView) for v in snap.views.values())
            assert serving_redis.client(URL).get(f"c360:{product}:current") == snap.file.prefix.encode()
            view = snap.views["finance"]
            assert isinstance(view, RedisView)
            ids = list(view.after(None))
            assert ids == sorted(ids) and list(replace(view, batch=7).after(None)) == ids  # many ZRANGEBYLEX batches
            assert list(replace(view, batch=7).after(ids[9])) == ids[10:]
        got = _everything(client, keys)
        assert got == by_file
        cid = next(iter(state.snapshot.views["finance"].after(None)))
        auth = {"Authorization": f"Bearer {keys['finance']}"}
        first = client.get(f"/v1/customers/{cid}", headers=auth)
        again = client.get(f"/v1/customers/{cid}", headers={**auth, "If-None-Match": first.headers["etag"]})
        assert first.status_code == 200 and again.status_code == 304


def test_one_replica_writes_and_another_opens_it(
    own: tuple[Spec, Store], product: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, store = own
    _redis_mode(monkeypatch)
    with TestClient(_app(spec, store)) as one, TestClient(_app(spec, store)) as two:
        a, b = _state(one).snapshot.file, _state(two).snapshot.file
        assert isinstance(a, RedisServing) and isinstance(b, RedisServing) and a.prefix == b.prefix
        assert not any(k.endswith(f":lock:{a.fp}") for k in _keys_of(product))


@pytest.mark.parametrize("writer", ["inline", "child"])
def test_a_new_version_switches_the_pointer_and_old_prefixes_go(
    own: tuple[Spec, Store], product: str, monkeypatch: pytest.MonkeyPatch, writer: str
) -> None:
    """The same whether the worker writes a version itself or a child process does (a big snapshot)."""
    spec, store = own
    _redis_mode(monkeypatch)
    children: list[list[str]] = []
    if writer == "child":
        monkeypatch.setattr(serving, "INLINE_MAX", 0)
        run = serving_redis_write.subprocess.run

        def spy(command: list[str], **kw: Any) -> Any:
            children.append(command)
            return run(command, **kw)

        monkeypatch.setattr(serving_redis_write.subprocess, "run", spy)
    key = store.create_key("finance")
    auth = {"Authorization": f"Bearer {key}"}
    r = serving_redis.client(URL)
    with TestClient(_app(spec, store)) as client:
        state = _state(client)
        first = state.snapshot
        assert isinstance(first.file, RedisServing)
        cid = next(iter(first.views["finance"].after(None)))
        v2 = _republish(store, spec, {"account_name": "Renamed Ltd"})
        state.refresh()
        second = state.snapshot.file
        assert state.snapshot.version == v2 and isinstance(second, RedisServing) and second.prefix != first.file.prefix
        assert r.get(f"c360:{product}:current") == second.prefix.encode()
        got = client.get(f"/v1/customers/{cid}", headers=auth)
        assert got.json()["account_name"] == "Renamed Ltd" and got.headers["x-c360-snapshot"] == str(v2)
        since = client.get(
            "/v1/customers", headers=auth, params={"changed_since": first.built_at, "limit": "1000"}
        ).json()
        assert [i["customer_id"] for i in since["items"]] == [cid]
        _republish(store, spec)
        state.refresh()
        prefixes = {":".join(k.split(":")[:3]) for k in _keys_of(product) if k.count(":") > 2}
        third = state.snapshot.file
        assert isinstance(third, RedisServing)
        # The first version's keys are gone; the second's stay for replicas still on it.
        assert prefixes == {second.prefix, third.prefix}
    assert len(children) == (3 if writer == "child" else 0)  # each version written by a child process


def test_an_erased_customer_is_never_served_by_any_replica(
    own: tuple[Spec, Store], product: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, store = own
    _redis_mode(monkeypatch)
    auth = {"Authorization": f"Bearer {store.create_key('finance')}"}
    r = serving_redis.client(URL)
    with TestClient(_app(spec, store)) as client, TestClient(_app(spec, store)) as other:
        state = _state(client)
        view = state.snapshot.views["finance"]
        assert isinstance(view, RedisView)
        emails: dict[str, list[str]] = {}
        for c in view.after(None):
            e = orjson.loads(view.get(c) or b"{}").get("billing_contact_email")
            if isinstance(e, str):
                emails.setdefault(e, []).append(c)
        cid = next(cs[0] for cs in emails.values() if len(cs) == 1)
        body = client.get(f"/v1/customers/{cid}", headers=auth).json()
        email = body["billing_contact_email"]
        erase(store, spec, SubjectRef(customer_id=cid), reason="Art. 17", actor="test")

        def check(c: TestClient) -> None:
            s = _state(c).snapshot
            got = c.get(f"/v1/customers/{cid}", headers=auth)
            if s.holds(cid):
                assert got.status_code == 200 and got.json() != body
            else:
                assert got.status_code == 404 and cid not in set(s.views["finance"].after(None))  # type: ignore[union-attr]
            found = c.get("/v1/customers:lookup", headers=auth, params={"email": email})
            assert found.status_code == 404 or cid not in [i["customer_id"] for i in found.json()["items"]]
            batch = c.post("/v1/customers:batchGet", headers=auth, json={"ids": [cid]}).json()
            assert [i for i in batch["items"] if i == body] == []  # not in the batch as it was served before
            assert (batch["not_found"] == [cid]) is (not s.holds(cid))

        # The other replica has not polled yet: Redis itself no longer holds the erased answer.
        assert state.apply_edits() == 1
        check(client)
        check(other)
        prefix = view.file.prefix
        stored = r.hget(f"{prefix}:r:finance", cid)
        assert stored is None or orjson.loads(stored) != body
        everything = b"".join(
            r.dump(k) or b"" for k in r.scan_iter(match=f"c360:{product}:*", count=1000) if not k.endswith(b":meta")
        )
        assert email.encode() not in everything
        _state(other).refresh()
        check(other)
        # A replica started afterwards serves the erased snapshot from Redis.
        with TestClient(_app(spec, store)) as late:
            check(late)


def test_redis_down_answers_503_and_readiness_is_red(
    own: tuple[Spec, Store], product: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, store = own
    _redis_mode(monkeypatch)
    auth = {"Authorization": f"Bearer {store.create_key('finance')}"}
    dead = f"redis://127.0.0.1:{_closed_port()}/0"
    with TestClient(_app(spec, store)) as client:
        state = _state(client)
        assert client.get("/readyz").status_code == 200
        rs = state.snapshot.file
        assert isinstance(rs, RedisServing)
        cid = next(iter(state.snapshot.views["finance"].after(None)))
        alive, rs.r = rs.r, serving_redis.client(dead)  # Redis goes away under a serving replica
        for path, params in [
            (f"/v1/customers/{cid}", {}),
            ("/v1/customers", {"limit": "5"}),
            ("/v1/customers:lookup", {"email": "someone@example.com"}),
        ]:
            got = client.get(path, headers=auth, params=params)
            assert got.status_code == 503, (path, got.text)
            assert got.json()["error"]["code"] == "serving_store_unavailable"
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "Redis" in ready.json()["error"]["message"]
        rs.r = alive
        assert client.get(f"/v1/customers/{cid}", headers=auth).status_code == 200
        assert client.get("/readyz").status_code == 200
    # A replica that starts while Redis is down serves nothing and says why.
    _redis_mode(monkeypatch, dead)
    with TestClient(_app(spec, store)) as client:
        state = _state(client)
        assert state.snapshot.version == 0 and state.problem is not None and "Redis" in state.problem
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "Redis" in ready.json()["error"]["message"]
        for path in ["/v1/customers/anyone", "/v1/customers"]:
            got = client.get(path, headers=auth)
            assert got.status_code == 503 and got.json()["error"]["code"] == "serving_store_unavailable"


def test_redis_mode_needs_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_SERVING", "redis")
    monkeypatch.delenv("C360_REDIS_URL", raising=False)
    with pytest.raises(ValueError, match="C360_REDIS_URL"):
        serving.mode()
    monkeypatch.setenv("C360_REDIS_URL", URL)
    assert serving.mode() == "redis"


def _batcher_test(url: str, body: Any) -> Any:
    """Run ``body(batcher)`` on an event loop of its own, with the batcher of ``url``."""

    async def main() -> Any:
        return await body(serving_redis.batcher(serving_redis.client(url)))

    return asyncio.run(main())


def test_reads_of_one_loop_turn_go_to_redis_as_one_write(product: str) -> None:
    """Twenty concurrent reads of one hash are one HMGET; two hashes are one pipelined write."""
    r = serving_redis.client(URL)
    one, two = f"c360:{product}:r:a", f"c360:{product}:r:b"
    r.hset(one, mapping={f"c{i}": f"body {i}" for i in range(20)})
    r.hset(two, mapping={"x": "other"})
    writes: list[list[tuple[Any, ...]]] = []

    async def body(b: serving_redis.Batcher) -> Any:
        first = await b.hget(one, "c0")  # connects
        send = b.link.send  # type: ignore[union-attr]

        def spy(commands: Any, replies: Any) -> None:
            writes.append([tuple(c) for c in commands])
            send(commands, replies)

        b.link.send = spy  # type: ignore[union-attr,method-assign]
        many = await asyncio.gather(*[b.hget(one, f"c{i}") for i in [*range(20), 3, 99]])
        mixed = await asyncio.gather(b.hget(one, "c5"), b.hget(two, "x"), b.hget(two, "nobody"))
        return first, many, mixed

    first, many, mixed = _batcher_test(URL, body)
    assert first == b"body 0"
    assert many == [f"body {i}".encode() for i in range(20)] + [b"body 3", None]
    assert mixed == [b"body 5", b"other", None]
    assert writes == [
        [("HMGET", one, *[f"c{i}" for i in range(20)], "c99")],  # c3 asked twice, sent once
        [("HMGET", one, "c5"), ("HMGET", two, "x", "nobody")],
    ]


def test_a_read_answers_503_when_redis_is_down_or_the_connection_drops(product: str) -> None:
    from c360.api.service import ApiError

    async def down(b: serving_redis.Batcher) -> Any:
        return await b.hget("any", "one")

    with pytest.raises(ApiError) as err:
        _batcher_test(f"redis://127.0.0.1:{_closed_port()}/0", down)
    assert err.value.status == 503 and err.value.code == "serving_store_unavailable"

    key = f"c360:{product}:r:a"
    serving_redis.client(URL).hset(key, "c1", "kept")

    async def dropped(b: serving_redis.Batcher) -> Any:
        assert await b.hget(key, "c1") == b"kept"
        link = b.link
        assert link is not None
        asked = b.hget(key, "c1")
        await asyncio.sleep(0)  # the batch is written ...
        link.expire()  # ... and its connection goes before the reply is read
        with pytest.raises(ApiError) as lost:
            await asked
        again = await b.hget(key, "c1")  # the next read connects again
        return lost.value.status, again, b.link is not link

    assert _batcher_test(URL, dropped) == (503, b"kept", True)


def test_the_read_connection_selects_the_urls_database(product: str) -> None:
    url = URL.rsplit("/", 1)[0] + "/3"
    key = f"c360:{product}:r:db3"
    r3 = serving_redis.client(url)
    r3.hset(key, "c1", "in db 3")
    try:

        async def body(b: serving_redis.Batcher) -> Any:
            return await b.hget(key, "c1")

        assert _batcher_test(url, body) == b"in db 3"
        assert serving_redis.client(URL).hget(key, "c1") is None
    finally:
        r3.delete(key)


def test_concurrent_gets_through_the_app_each_get_their_own_customer(
    own: tuple[Spec, Store], product: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many GETs at once on one event loop share Redis writes and still answer each its own id."""
    spec, store = own
    auth = {"Authorization": f"Bearer {store.create_key('finance')}"}
    monkeypatch.setenv("C360_SERVING", "file")
    with TestClient(_app(spec, store)) as client:
        ids = [*list(_state(client).snapshot.views["finance"].after(None))[:40], "nobody-at-all"]
        want = [(r.status_code, r.content) for r in (client.get(f"/v1/customers/{c}", headers=auth) for c in ids)]
    _redis_mode(monkeypatch)
    app = _app(spec, store)

    async def main() -> list[tuple[int, bytes]]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://c360") as http:
                got = await asyncio.gather(*[http.get(f"/v1/customers/{c}", headers=auth) for c in ids])
        return [(g.status_code, g.content) for g in got]

    assert asyncio.run(main()) == want
    assert want[-1][0] == 404 and all(s == 200 for s, _ in want[:-1])
