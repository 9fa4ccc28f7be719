"""The server's poller: one cheap look per tick, the full refresh only when something changed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from c360.api.state import ServerState
from c360.core.ids import hash_key
from c360.governance.erasure import SubjectRef, erase
from c360.spec.validate import Spec
from c360.store import Store
from c360.store import keys as keystore
from tests.api.conftest import MASK_KEY, policy_spec
from tests.api.stores import copy_store
from tests.api.test_serving_file import _republish
from tests.conftest import BuiltDemo


@pytest.fixture()
def own(built_demo: BuiltDemo, tmp_path: Path) -> Iterator[tuple[Spec, Store]]:
    store = copy_store(built_demo.store_url, f"sqlite:///{tmp_path}/store.db")
    try:
        yield policy_spec(built_demo), store
    finally:
        store.close()


def test_the_change_mark_moves_on_a_publish_an_erasure_and_every_key_change(own: tuple[Spec, Store]) -> None:
    spec, store = own
    watch = store.change_watch()
    try:
        marks = [watch.mark()]
        assert watch.mark() == marks[0]  # nothing changed, nothing moves
        store.create_key("finance")
        marks.append(watch.mark())
        keystore.rotate(store, "finance", grace_hours=1)
        marks.append(watch.mark())
        store.revoke_keys("finance")
        marks.append(watch.mark())
        _republish(store, spec)
        marks.append(watch.mark())
        cid = next(iter(store.snapshot_rows(store.current_version() or 0)))[0]
        erase(store, spec, SubjectRef(customer_id=cid), reason="Art. 17", actor="test")
        marks.append(watch.mark())
        assert len(set(marks)) == len(marks), marks
        assert marks[-2][0] == store.current_version()
    finally:
        watch.close()


def test_an_idle_server_looks_but_does_not_reload_until_something_changes(
    own: tuple[Spec, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, store = own
    monkeypatch.setenv("C360_SERVING", "memory")
    state = ServerState(spec, store, MASK_KEY, refresh_seconds=0.05)
    full = 0
    refresh = state.refresh

    def counted() -> None:
        nonlocal full
        full += 1
        refresh()

    monkeypatch.setattr(state, "refresh", counted)
    state.start()
    try:
        time.sleep(0.3)  # start's load, and the first look's (nothing seen yet)
        settled = full
        assert settled <= 2
        time.sleep(0.6)  # a dozen more looks find nothing new
        assert full == settled
        key = store.create_key("finance")
        deadline = time.monotonic() + 5
        while hash_key(key) not in state.keys and time.monotonic() < deadline:
            time.sleep(0.02)
        assert hash_key(key) in state.keys and full == settled + 1
    finally:
        state.stop()
