"""Apache Kafka topics as a source, read with confluent-kafka up to each partition's end.

::

    connector: kafka
    bootstrap_servers: broker-1:9092,broker-2:9092
    topic: customers          # or leave it out: the stream name is the topic
    group_id: c360-customers  # optional: committed offsets follow the sync's cursor
    key_field: id             # optional: the record key comes from the message key otherwise

A read snapshots every partition's high watermark, assigns the partitions at
explicit offsets (no group join, no rebalance) and stops once each partition
has reached its snapshot. The cursor is a JSON map ``{"partition": next offset}``;
pass it back as ``since`` to read only what arrived after it. When a
``group_id`` is set, the offsets in ``since`` (the caller's last committed
cursor) are also committed to that consumer group, so Kafka tooling shows the
sync's lag.

A message with a null value is a tombstone for its message key (the log
compaction convention). A value that is not a JSON object is quarantined as
``topic[partition]@offset``. ``lookup`` is not supported: a log cannot be
searched by key; serve live reads from a keyed source (the table or API the
topic is fed from) instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr

from c360.connectors.base import (
    DEFAULT_BATCH_SIZE,
    Batch,
    ConnectorOptions,
    Quarantined,
    Record,
    StreamInfo,
    record_key,
)
from c360.connectors.filestreams import parse_json
from c360.core.errors import MissingDependency, TerminalSourceError, TransientSourceError


class KafkaOptions(ConnectorOptions):
    bootstrap_servers: str
    topic: str | None = None
    group_id: str | None = None
    value_format: Literal["json"] = "json"
    key_field: str | None = None
    security_protocol: str | None = None  # e.g. SASL_SSL
    sasl_mechanism: str | None = None  # e.g. PLAIN, SCRAM-SHA-512
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    config: dict[str, str] = Field(default_factory=dict)  # extra librdkafka settings
    timeout: float = 10.0  # seconds for metadata and watermark requests
    poll_timeout: float = 1.0  # seconds one consume() call may wait
    max_idle_polls: int = 10  # empty polls before a read that has not reached the end fails


def _kafka() -> Any:
    try:
        import confluent_kafka
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependency("confluent-kafka", "kafka") from exc
    return confluent_kafka


class KafkaConnector:
    """Reads JSON messages from a topic; see the module docstring for the cursor."""

    name: ClassVar[str] = "kafka"
    Options: ClassVar[type[ConnectorOptions]] = KafkaOptions

    def __init__(self, options: ConnectorOptions, *, base_dir: Path = Path(".")) -> None:
        assert isinstance(options, KafkaOptions)
        self.options = options
        self.ck = _kafka()
        self._consumer: Any = None

    # -- protocol ---------------------------------------------------------------
    def check(self) -> None:
        self._metadata(None)

    def discover(self) -> list[StreamInfo]:
        if self.options.topic:
            self._partitions(self.options.topic)
            return [StreamInfo(self.options.topic, key=self.options.key_field)]
        topics = self._metadata(None).topics
        return [StreamInfo(t, key=self.options.key_field) for t in sorted(topics) if not t.startswith("__")]

    def read(
        self, stream: str, *, key: str, since: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[Batch]:
        topic = self.options.topic or stream
        start = self._parse_cursor(since)
        consumer = self.consumer
        tp = self.ck.TopicPartition
        if since is not None and self.options.group_id:
            self._commit(topic, start)
        ends: dict[int, int] = {}
        position: dict[int, int] = {}
        for p in self._partitions(topic):
            low, high = self._call(
                f"watermarks of {topic}[{p}]",
                consumer.get_watermark_offsets,
                tp(topic, p),
                timeout=self.options.timeout,
            )
            # Offsets below the low watermark were deleted by retention: start at what exists.
            position[p] = max(start.get(p, low), low)
            if position[p] < high:
                ends[p] = high
        if not ends:
            yield Batch([], self._cursor(position))
            return
        consumer.assign([tp(topic, p, position[p]) for p in ends])
        try:
            yield from self._consume(topic, key, ends, position, batch_size)
        finally:
            consumer.unassign()

    def lookup(self, stream: str, *, key: str, keys: Sequence[str]) -> list[Record]:
        raise TerminalSourceError(
            self.name,
            f"live lookup is not possible on topic '{self.options.topic or stream}': a log cannot "
            "be searched by key; serve this consumer from a keyed source (the table or API the "
            "topic is fed from) or use materialised delivery",
        )

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    # -- helpers ----------------------------------------------------------------
    @property
    def consumer(self) -> Any:
        if self._consumer is None:
            o = self.options
            conf: dict[str, Any] = {
                "bootstrap.servers": o.bootstrap_servers,
                "group.id": o.group_id or "c360-reader",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                **o.config,
            }
            if o.security_protocol:
                conf["security.protocol"] = o.security_protocol
            if o.sasl_mechanism:
                conf["sasl.mechanism"] = o.sasl_mechanism
            if o.sasl_username:
                conf["sasl.username"] = o.sasl_username
            if o.sasl_password is not None:
                conf["sasl.password"] = o.sasl_password.get_secret_value()
            try:
                self._consumer = self.ck.Consumer(conf)
            except self.ck.KafkaException as exc:
                raise TerminalSourceError(self.name, f"invalid consumer settings: {exc}") from None
        return self._consumer

    def _consume(
        self, topic: str, key: str, ends: dict[int, int], position: dict[int, int], batch_size: int
    ) -> Iterator[Batch]:
        consumer = self.consumer
        records: list[Record] = []
        bad: list[Quarantined] = []
        idle = 0
        while ends:
            # Ask for no more than what is left, so the last poll returns without waiting.
            left = sum(end - position[p] for p, end in ends.items())
            want = max(1, min(batch_size - len(records) - len(bad), left, 100_000))
            messages = consumer.consume(num_messages=want, timeout=self.options.poll_timeout)
            if not messages:
                idle += 1
                self._settle(topic, ends, position, idle)
                continue
            idle = 0
            for msg in messages:
                err = msg.error()
                if err is not None:
                    if err.code() == self.ck.KafkaError._PARTITION_EOF:
                        continue
                    cls = TransientSourceError if err.retriable() else TerminalSourceError
                    raise cls(self.name, f"{topic}: {err.str()}")
                p, offset = msg.partition(), msg.offset()
                if p not in ends or offset < position[p]:
                    continue
                position[p] = offset + 1
                self._message(msg, topic, key, records, bad)
                if position[p] >= ends[p]:
                    del ends[p]
            if len(records) + len(bad) >= batch_size or not ends:
                yield Batch(records, self._cursor(position), bad)
                records, bad = [], []

    def _settle(self, topic: str, ends: dict[int, int], position: dict[int, int], idle: int) -> None:
        """After an empty poll: partitions whose fetch position passed the end are done."""
        tp = self.ck.TopicPartition
        for part in self.consumer.position([tp(topic, p) for p in ends]):
            # Gaps (compaction, transaction markers) can end a partition without a last message.
            if part.offset >= 0 and part.offset >= ends[part.partition]:
                position[part.partition] = part.offset
                del ends[part.partition]
        if ends and idle >= self.options.max_idle_polls:
            waiting = ", ".join(f"{topic}[{p}] at {position[p]} of {e}" for p, e in ends.items())
            raise TransientSourceError(self.name, f"no messages arrived while partitions were behind: {waiting}")

    def _message(self, msg: Any, topic: str, key: str, records: list[Record], bad: list[Quarantined]) -> None:
        where = f"{topic}[{msg.partition()}]@{msg.offset()}"
        raw_key = msg.key()
        msg_key = raw_key.decode("utf-8", "replace") if raw_key is not None else None
        value = msg.value()
        if value is None:
            if msg_key is None:
                bad.append(Quarantined(where, "a tombstone (null value) without a message key"))
            else:
                records.append(Record(msg_key, {}, deleted=True))
            return
        text = value.decode("utf-8", "replace")
        try:
            data = parse_json(text)
        except ValueError as exc:
            bad.append(Quarantined(where, f"not valid JSON: {exc}", text[:500]))
            return
        if not isinstance(data, dict):
            bad.append(Quarantined(where, f"expected a JSON object, found {type(data).__name__}", text[:500]))
            return
        k = record_key(data, self.options.key_field or key) or msg_key
        if k is None:
            bad.append(
                Quarantined(where, f"missing key '{self.options.key_field or key}' and no message key", text[:500])
            )
            return
        records.append(Record(k, data))

    def _commit(self, topic: str, offsets: dict[int, int]) -> None:
        if not offsets:
            return
        tp = self.ck.TopicPartition
        parts = [tp(topic, p, o) for p, o in sorted(offsets.items())]
        self._call(
            f"commit to group '{self.options.group_id}'", self.consumer.commit, offsets=parts, asynchronous=False
        )

    def _metadata(self, topic: str | None) -> Any:
        return self._call("metadata", self.consumer.list_topics, topic, timeout=self.options.timeout)

    def _partitions(self, topic: str) -> list[int]:
        meta = self._metadata(topic).topics.get(topic)
        if meta is None or meta.error is not None:
            reason = meta.error.str() if meta is not None and meta.error is not None else "unknown"
            raise TerminalSourceError(
                self.name, f"topic '{topic}' cannot be read ({reason}); check 'topic' and the ACLs"
            )
        return sorted(meta.partitions)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except self.ck.KafkaException as exc:
            err: Any = exc.args[0] if exc.args else exc
            text = err.str() if hasattr(err, "str") else str(exc)
            fatal = bool(hasattr(err, "fatal") and err.fatal())
            cls = TerminalSourceError if fatal else TransientSourceError
            servers = self.options.bootstrap_servers
            raise cls(self.name, f"{what}: {text}; check 'bootstrap_servers' ({servers})") from None

    def _parse_cursor(self, since: str | None) -> dict[int, int]:
        if since is None:
            return {}
        try:
            raw = json.loads(since)
            return {int(p): int(o) for p, o in raw.items()}
        except (ValueError, AttributeError, TypeError):
            raise TerminalSourceError(self.name, f"cursor {since[:80]!r} is not a partition → offset map") from None

    @staticmethod
    def _cursor(position: dict[int, int]) -> str:
        return json.dumps({str(p): o for p, o in sorted(position.items())})
