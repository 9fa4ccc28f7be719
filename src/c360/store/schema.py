"""The governed store's tables (SQLAlchemy Core). Alembic migrations create and evolve them."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# Raw records as each source sent them, one row per (source, key); tombstones kept, payload dropped.
staged_records = Table(
    "staged_records",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("payload", LargeBinary, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("fetched_at", DateTime(timezone=True), nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
)

sync_state = Table(
    "sync_state",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("cursor", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(40), nullable=False, index=True),
    Column("source", String(64), nullable=False),
    Column("location", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(40), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("summary", Text),
)

customers = Table(
    "customers",
    metadata,
    Column("customer_id", String(32), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False, default="active"),  # active | merged | retired
    Column("merged_into", String(32)),
    Column("run_id", String(40), nullable=False),
)

# The identity map: every staged source record → the customer it belongs to, with its evidence.
identity_map = Table(
    "identity_map",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("customer_id", String(32), nullable=False, index=True),
    Column("method", String(32), nullable=False),  # rule | match | belongs_to | pinned | singleton
    Column("score", Float),
    Column("evidence", Text),
    Column("run_id", String(40), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

identity_events = Table(
    "identity_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(40), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # new | merge | split | retire
    Column("customer_id", String(32), nullable=False),
    Column("other_id", String(32)),
    Column("detail", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Steward decisions every run honours: two records always together (link) or never (unlink).
identity_pins = Table(
    "identity_pins",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(8), nullable=False),  # link | unlink
    Column("left_rid", String(320), nullable=False),
    Column("right_rid", String(320), nullable=False),
    Column("reason", Text),
    Column("created_by", String(128)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Borderline pairs of the last resolution run (between the review and the match threshold).
identity_review = Table(
    "identity_review",
    metadata,
    Column("left_rid", String(320), primary_key=True),
    Column("right_rid", String(320), primary_key=True),
    Column("probability", Float, nullable=False),
    Column("evidence", Text),
    Column("run_id", String(40), nullable=False),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("run_id", String(40), nullable=False),
    Column("spec_version", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # building | published | failed | retired
    Column("built_at", DateTime(timezone=True), nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True)),
    Column("customers", Integer, nullable=False, default=0),
)

snapshot_records = Table(
    "snapshot_records",
    metadata,
    Column("version", Integer, ForeignKey("snapshots.version", ondelete="CASCADE"), primary_key=True),
    Column("customer_id", String(32), primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

# An earlier major's shape of a snapshot, for consumers whose subscriptions pin that major: the
# same customers, computed by the fields of the major's last recorded spec (revision 0004).
snapshot_majors = Table(
    "snapshot_majors",
    metadata,
    Column("version", Integer, ForeignKey("snapshots.version", ondelete="CASCADE"), primary_key=True),
    Column("major", Integer, primary_key=True, autoincrement=False),
    Column("spec_version", String(32), nullable=False),
    Column("customers", Integer, nullable=False, default=0),
)

snapshot_views = Table(
    "snapshot_views",
    metadata,
    Column("version", Integer, ForeignKey("snapshots.version", ondelete="CASCADE"), primary_key=True),
    Column("major", Integer, primary_key=True, autoincrement=False),
    Column("customer_id", String(32), primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

# Records of a snapshot changed in place, after it was built (an erasure), in commit order: each
# serving worker polls for rows past the last it applied and re-reads just those customers, so
# an erasure reaches running servers without a new version (revision 0005).
snapshot_edits = Table(
    "snapshot_edits",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("version", Integer, nullable=False),
    Column("customer_id", String(32), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# One row: the snapshot readers see. Publishing is flipping this pointer in one transaction.
published = Table(
    "published",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, ForeignKey("snapshots.version"), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
)

consumer_keys = Table(
    "consumer_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("consumer", String(64), nullable=False, index=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(24), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)

spec_versions = Table(
    "spec_versions",
    metadata,
    Column("version", String(32), primary_key=True),
    Column("product", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
    Column("applied_by", String(128)),
)

Index("ix_staged_live", staged_records.c.source, staged_records.c.deleted)

# -- audit and erasure (revision 0002) -------------------------------------------------------

# The hash-chained audit log: each row's HMAC covers its content and the previous row's hash.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False),  # ISO-8601 UTC, kept as text so the MAC is exact
    Column("kind", String(32), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("subject", String(64)),  # a pseudonymous id only, never personal data
    Column("detail", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# One row: the chain's head. Appenders lock it, so the chain has one order under concurrency.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

erasures = Table(
    "erasures",
    metadata,
    Column("erasure_id", String(40), primary_key=True),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("scope", String(16), nullable=False),  # customer | person
    Column("subject", String(64), nullable=False, index=True),  # pseudonym
    Column("reason", Text, nullable=False),
    Column("report", Text, nullable=False),  # counts and systems to notify; no identifiers
)

# Facts kept after an erasure under a pseudonym, each with the legal basis for keeping it.
erasure_retained = Table(
    "erasure_retained",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("erasure_id", String(40), nullable=False, index=True),
    Column("subject", String(64), nullable=False),
    Column("field", String(64), nullable=False),
    Column("value", Text),
    Column("basis", Text, nullable=False),
)

# Keyed hashes of erased identifiers: arriving records that match are dropped or anonymised.
suppression = Table(
    "suppression",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),  # key | email
    Column("action", String(16), nullable=False),  # drop | anonymise
    Column("erasure_id", String(40), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# The transactional outbox: erasure events to deliver to each subscribed consumer's webhook.
erasure_outbox = Table(
    "erasure_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("erasure_id", String(40), nullable=False, index=True),
    Column("consumer", String(64), nullable=False),
    Column("url", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("state", String(16), nullable=False),  # pending | delivered
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("delivered_at", DateTime(timezone=True)),
)

# The trained matching model of a run. Later builds score with the newest one, so that ids do
# not move because parameters were re-estimated on slightly different data.
identity_models = Table(
    "identity_models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(40), nullable=False),
    Column("grain", String(16), nullable=False),
    Column("records", Integer, nullable=False),
    Column("model", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Serving latency over time: each API worker writes, once per interval in which it answered
# reads, the count and quantiles of each consumer's reads (revision 0006). Idle workers write
# nothing; rows older than the retention are pruned by the workers themselves.
latency_history = Table(
    "latency_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),  # the end of the interval
    Column("consumer", String(64), nullable=False),
    Column("worker", String(96), nullable=False),  # host:pid
    Column("seconds", Float, nullable=False),  # the interval's length
    Column("reads", Integer, nullable=False),
    Column("p50_ms", Float, nullable=False),
    Column("p99_ms", Float, nullable=False),
    Column("max_ms", Float, nullable=False),
    Index("ix_latency_history_consumer_at", "consumer", "at"),
)
