"""The Kafka connector against librdkafka's mock cluster (a real Kafka-protocol broker)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from c360.connectors import make_connector
from c360.connectors.base import Batch
from c360.connectors.kafka import KafkaConnector, KafkaOptions
from c360.core.errors import TerminalSourceError, TransientSourceError
from tests.conftest import need_module, need_service


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Any, str]]:
    need_module("confluent_kafka")
    from confluent_kafka import Producer

    producer = Producer({"test.mock.num.brokers": 1, "log_level": 3})
    broker = next(iter(producer.list_topics(timeout=10).brokers.values()))
    need_service("Kafka mock cluster", broker.host, broker.port)
    yield producer, f"{broker.host}:{broker.port}"
    producer.flush(5)


_topics = iter(range(1_000))


@pytest.fixture
def topic(cluster: tuple[Any, str]) -> str:
    return f"customers-{next(_topics)}"


def produce(producer: Any, topic: str, messages: list[tuple[str | None, Any]]) -> None:
    for key, value in messages:
        payload = value if value is None or isinstance(value, bytes) else json.dumps(value).encode()
        producer.produce(topic, key=key, value=payload)
    assert producer.flush(10) == 0


def connector(bootstrap: str, topic: str, **extra: Any) -> KafkaConnector:
    opts = {"bootstrap_servers": bootstrap, "topic": topic, "poll_timeout": 0.5, **extra}
    return KafkaConnector(KafkaOptions.model_validate(opts), base_dir=Path("."))


def read_all(conn: KafkaConnector, since: str | None = None, batch_size: int = 1000) -> list[Batch]:
    batches = list(conn.read("customers", key="id", since=since, batch_size=batch_size))
    return batches


def customers(n: int, start: int = 0, **extra: Any) -> list[tuple[str | None, Any]]:
    return [(f"c{i}", {"id": f"c{i}", "name": f"Customer {i}", **extra}) for i in range(start, n)]


def test_full_read_stops_at_the_end_of_every_partition(cluster: tuple[Any, str], topic: str) -> None:
    producer, bootstrap = cluster
    produce(producer, topic, customers(20))
    conn = connector(bootstrap, topic)
    batches = read_all(conn, batch_size=6)
    records = [r for b in batches for r in b.records]
    assert sorted(r.key for r in records) == sorted(f"c{i}" for i in range(20))
    assert records[0].data["name"].startswith("Customer")
    assert len(batches) >= 4
    assert all(len(b.records) <= 6 for b in batches)
    cursor = json.loads(batches[-1].cursor or "")
    assert sum(cursor.values()) == 20  # next offset per partition: every message consumed
    assert set(cursor) == {"0", "1", "2", "3"}  # the mock auto-creates 4 partitions
    conn.close()


def test_incremental_read_returns_new_messages_and_tombstones(cluster: tuple[Any, str], topic: str) -> None:
    producer, bootstrap = cluster
    produce(producer, topic, customers(8))
    conn = connector(bootstrap, topic)
    cursor = read_all(conn)[-1].cursor
    produce(producer, topic, [("c3", {"id": "c3", "name": "Renamed"}), ("c5", None)])
    batches = read_all(conn, since=cursor)
    records = {r.key: r for b in batches for r in b.records}
    assert set(records) == {"c3", "c5"}
    assert records["c3"].data["name"] == "Renamed" and not records["c3"].deleted
    assert records["c5"].deleted and records["c5"].data == {}
    cursor2 = batches[-1].cursor
    assert sum(json.loads(cursor2 or "").values()) == 10
    # nothing new: an empty read that keeps the cursor
    again = read_all(conn, since=cursor2)
    assert [r for b in again for r in b.records] == []
    assert json.loads(again[-1].cursor or "") == json.loads(cursor2 or "")
    conn.close()


def test_malformed_messages_are_quarantined_with_their_offset(cluster: tuple[Any, str], topic: str) -> None:
    producer, bootstrap = cluster
    produce(
        producer,
        topic,
        [
            ("c1", {"id": "c1"}),
            ("c2", b"{not json"),
            ("c3", b"[1, 2]"),
            (None, {"name": "no key anywhere"}),
            (None, None),
            ("c4", {"id": "c4"}),
        ],
    )
    batches = read_all(connector(bootstrap, topic))
    assert sorted(r.key for b in batches for r in b.records) == ["c1", "c4"]
    bad = sorted((q for b in batches for q in b.quarantined), key=lambda q: q.reason)
    reasons = [q.reason for q in bad]
    assert len(bad) == 4
    assert any(r.startswith("a tombstone") for r in reasons)
    assert any("expected a JSON object, found list" in r for r in reasons)
    assert any("missing key 'id'" in r for r in reasons)
    not_json = next(q for q in bad if q.reason.startswith("not valid JSON"))
    assert not_json.raw == "{not json"
    assert not_json.location.startswith(f"{topic}[") and "]@" in not_json.location


def test_key_field_and_message_keys(cluster: tuple[Any, str], topic: str) -> None:
    producer, bootstrap = cluster
    produce(producer, topic, [("m1", {"customer": {"id": "A"}}), ("m2", {"other": 1})])
    records = [r for b in read_all(connector(bootstrap, topic, key_field="customer.id")) for r in b.records]
    # key_field wins; without it in the value the message key is the record key
    assert sorted(r.key for r in records) == ["A", "m2"]


def test_group_offsets_follow_the_committed_cursor(cluster: tuple[Any, str], topic: str) -> None:
    from confluent_kafka import TopicPartition

    producer, bootstrap = cluster
    produce(producer, topic, customers(6))
    conn = connector(bootstrap, topic, group_id=f"sync-{topic}")
    cursor = read_all(conn)[-1].cursor or ""
    list(conn.read("customers", key="id", since=cursor))
    committed = conn.consumer.committed([TopicPartition(topic, p) for p in range(4)], timeout=10)
    assert {str(tp.partition): tp.offset for tp in committed} == json.loads(cursor)
    conn.close()


def test_lookup_is_refused_with_the_reason(cluster: tuple[Any, str], topic: str) -> None:
    _, bootstrap = cluster
    with pytest.raises(TerminalSourceError, match="a log cannot be searched by key"):
        connector(bootstrap, topic).lookup("customers", key="id", keys=["c1"])


def test_discover_check_and_missing_topic(cluster: tuple[Any, str], topic: str) -> None:
    producer, bootstrap = cluster
    produce(producer, topic, customers(1))
    conn = connector(bootstrap, topic)
    conn.check()
    assert [s.name for s in conn.discover()] == [topic]
    everything = make_connector("kafka", {"bootstrap_servers": bootstrap}, base_dir=Path("."))
    assert topic in [s.name for s in everything.discover()]
    with pytest.raises(TerminalSourceError, match="topic 'never-created' cannot be read"):
        list(everything.read("never-created", key="id"))
    with pytest.raises(TerminalSourceError, match="partition"):
        list(conn.read("customers", key="id", since="[1, 2]"))
    everything.close()
    conn.close()


def test_unreachable_brokers_are_transient() -> None:
    need_module("confluent_kafka")
    conn = connector("127.0.0.1:1", "customers", timeout=1.0)
    with pytest.raises(TransientSourceError, match="bootstrap_servers"):
        conn.check()
    conn.close()
