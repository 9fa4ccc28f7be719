"""The product spec as typed models: what the YAML file may say, and nothing else."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FieldType = Literal["string", "integer", "decimal", "boolean", "timestamp", "date", "json"]
ColumnType = Literal["string", "integer", "decimal", "boolean", "timestamp", "date", "money", "json"]
Grain = Literal["account", "person"]
Delivery = Literal["materialised", "live"]
# How a granted field may be masked for a consumer: j***@acme.com, a keyed hash, the year only,
# the last four characters, or nothing at all (the field is present, its value null).
MaskKind = Literal["email", "hash", "year", "last4", "redact"]
Right = Literal["erasure", "subject_access", "owner", "dpo", "steward", "viewer"]
CheckKind = Literal["not_null", "unique", "accepted_values", "range", "freshness"]

IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")
DURATION = re.compile(r"^(\d+)(s|m|h|d)$")
RATE = re.compile(r"^(\d+)/(s|m|h)$")

# Keys of a source that are c360's own; every other key is an option of its connector.
SOURCE_KEYS = frozenset({"connector", "stream", "key", "columns", "identity", "belongs_to", "description", "owner"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Owner(_Model):
    team: str
    email: str | None = None


class Currency(_Model):
    unit: str = "GBP"
    rates: dict[str, Decimal] = Field(default_factory=dict)

    @field_validator("unit")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.upper()

    @field_validator("rates")
    @classmethod
    def _upper_rates(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        return {k.upper(): r for k, r in v.items()}


OnInvalid = Literal["quarantine", "null"]
# How a string column's letters are cased once read (``title``: each word capitalised).
Case = Literal["lower", "upper", "title"]


def _yaml_null(v: Any) -> Any:
    # `on_invalid: null` reads as YAML's null; written, it means the policy "null".
    return "null" if v is None else v


class ColumnSpec(_Model):
    """How one source column is read and normalised."""

    type: ColumnType = "string"
    from_: str | None = Field(default=None, alias="from")
    currency: str | None = None
    currency_column: str | None = None
    minor_units: bool = False
    map: str | dict[str, str] | None = None
    description: str | None = None
    pii: bool = False
    # A value that cannot be read as ``type``: its record is quarantined, or (``null``) the
    # record is kept with this field null and the value reported. Unset: the source's choice.
    on_invalid: OnInvalid | None = None
    # ``on_error`` is the same choice under the name the column's other value options use;
    # give one of the two (both, they must agree).
    on_error: OnInvalid | None = None
    # How a date or timestamp column writes its values when they are not ISO 8601 (strftime
    # codes: "%d/%m/%Y" reads 08/11/2025 as the 8th of November).
    format: str | None = None
    # Value hygiene of a string column, applied in this order before any vocabulary ``map``:
    # spaces stripped at both ends, runs of white space made one space, letters cased.
    trim: bool = False
    collapse_spaces: bool = False
    case: Case | None = None

    _on_invalid = field_validator("on_invalid", "on_error", mode="before")(_yaml_null)

    @property
    def invalid_policy(self) -> OnInvalid | None:
        """What a bad value of this column costs, when the column says (else the source's choice)."""
        return self.on_error or self.on_invalid

    @property
    def invalid_key(self) -> str:
        """The spec key that set :attr:`invalid_policy` (for messages)."""
        return "on_error" if self.on_error is not None else "on_invalid"

    @property
    def hygiene(self) -> bool:
        return self.trim or self.collapse_spaces or self.case is not None

    @model_validator(mode="after")
    def _money(self) -> ColumnSpec:
        if self.on_error is not None and self.on_invalid is not None and self.on_error != self.on_invalid:
            raise ValueError(
                f"'on_error: {self.on_error}' and 'on_invalid: {self.on_invalid}' disagree; give one of them"
            )
        if self.type == "money" and not (self.currency or self.currency_column):
            raise ValueError("a money column needs 'currency' (e.g. GBP) or 'currency_column'")
        if self.format is not None:
            if self.type not in ("date", "timestamp"):
                raise ValueError("'format' belongs to a date or timestamp column")
            if "%" not in self.format:
                raise ValueError(f"expected a format in strftime codes such as %d/%m/%Y, found {self.format!r}")
        return self


class BelongsTo(_Model):
    source: str
    column: str


class SourceSpec(BaseModel):
    """A source: its connector and stream, key, columns and identity attributes.

    Keys beyond these are the connector's own options (``path``, ``dsn``, ...).
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    connector: str
    stream: str | None = None
    key: str
    columns: dict[str, ColumnSpec] = Field(default_factory=dict)
    # Identity attribute → the column holding it, or several columns (a second e-mail, a mobile).
    identity: dict[str, str | list[str]] = Field(default_factory=dict)
    belongs_to: BelongsTo | None = None
    description: str | None = None
    owner: str | None = None
    # What a bad value costs (see ColumnSpec.on_invalid), and the share of a build's records
    # that may be quarantined before the build fails keeping the previous snapshot (unset:
    # the product's ``quarantine_threshold``).
    on_invalid: OnInvalid = "quarantine"
    quarantine_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    # The column that says which of two rows with one key is newer; unset, the later row wins.
    updated_at: str | None = None
    # Whether a build may publish when this source fails to sync: ``true`` (default) blocks the
    # publish; ``false`` builds with what staging holds from its last good sync, and says so.
    required: bool = True

    _on_invalid = field_validator("on_invalid", mode="before")(_yaml_null)

    @field_validator("columns", mode="before")
    @classmethod
    def _short_columns(cls, v: Any) -> Any:
        # `Name: string` is shorthand for `Name: {type: string}`.
        if isinstance(v, dict):
            return {k: ({"type": c} if isinstance(c, str) else c) for k, c in v.items()}
        return v

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    @property
    def identity_columns(self) -> list[tuple[str, str]]:
        """Every (identity attribute, column) pair: an attribute read from two columns gives two."""
        return [(attr, c) for attr, cols in self.identity.items() for c in ([cols] if isinstance(cols, str) else cols)]

    def identity_of(self, attr: str) -> list[str]:
        """The columns that hold identity attribute ``attr`` (none when the source has none)."""
        cols = self.identity.get(attr)
        return [] if cols is None else [cols] if isinstance(cols, str) else list(cols)

    def column_path(self, column: str) -> str:
        spec = self.columns.get(column)
        return spec.from_ or column if spec else column


class MatchSpec(_Model):
    """Match probabilities at which records link.

    ``threshold`` links account records with each other (and, as duplicates, two records of a
    source that keeps its records apart). People (a workspace, a person's tickets) join the
    customer their evidence favours when it is at least 6 bits strong and no other customer
    is within 3 bits. Pairs from the lower of ``review_threshold`` and ``attach_threshold``
    up that did not link are listed for stewards.
    """

    threshold: float = Field(default=0.9, ge=0.0, le=1.0)
    attach_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    review_threshold: float | None = Field(default=None, ge=0.0, le=1.0)


Strength = Literal["key", "evidence"]


class IdentifierSpec(_Model):
    """How records compare a declared identifier (an identity attribute that is not a built-in one).

    ``key``: records sharing the value are one customer (a product workspace id), unless a
    constraint keeps them apart. ``evidence``: sharing it only adds weight (a support desk's
    organisation id, which a group's subsidiaries may share). ``transform`` puts each value in
    one form first (``trim``, ``lower``, ``digits``, ``salesforce_id``, ``e164``, ``domain``,
    ``email``, ``regex`` with ``pattern``), applied left to right.
    """

    strength: Strength = "key"
    transform: list[str] = Field(default_factory=lambda: ["trim"])
    pattern: str | None = None

    @field_validator("transform", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class IdentitySpec(_Model):
    rules: list[str] = Field(default_factory=list)
    match: MatchSpec = Field(default_factory=MatchSpec)
    identifiers: dict[str, IdentifierSpec] = Field(default_factory=dict)
    # Sources whose records are different customers unless direct evidence says they are
    # duplicates (a CRM's accounts). Default: at account grain, every source without people.
    distinct: list[str] | None = None

    @field_validator("identifiers", mode="before")
    @classmethod
    def _short_identifiers(cls, v: Any) -> Any:
        # `workspace_id: key` is shorthand for `workspace_id: {strength: key}`.
        if isinstance(v, dict):
            return {k: ({"strength": c} if isinstance(c, str) else c) for k, c in v.items()}
        return v


class CheckSpec(_Model):
    """A quality expectation on a field, run before every publish.

    ``level: error`` blocks the publish; ``warn`` publishes and reports.
    """

    check: CheckKind
    values: list[Any] | None = None  # accepted_values
    min: float | None = None  # range
    max: float | None = None
    # freshness: the sources feeding the field (or ``source``) were synced within ``max_age`` of
    # the build's as-of time; with ``column``, the newest value of that timestamp column was.
    max_age: str | None = None
    source: str | None = None
    column: str | None = None
    level: Literal["error", "warn"] = "error"

    @model_validator(mode="after")
    def _args(self) -> CheckSpec:
        if self.check == "accepted_values" and not self.values:
            raise ValueError("accepted_values needs 'values'")
        if self.check == "range" and self.min is None and self.max is None:
            raise ValueError("range needs 'min' and/or 'max'")
        if self.check == "freshness" and (self.max_age is None or not DURATION.match(self.max_age)):
            raise ValueError("freshness needs 'max_age' as a duration such as 15m, 24h or 7d")
        if self.check != "freshness" and (self.max_age or self.source or self.column):
            raise ValueError("'max_age', 'source' and 'column' belong to a freshness check")
        if self.column is not None and self.source is None:
            raise ValueError("a freshness check's 'column' needs its 'source'")
        return self


class FieldSpec(_Model):
    type: FieldType
    expr: str
    description: str = Field(min_length=1)
    unit: str | None = None
    pii: bool = False
    owner: str | None = None
    checks: list[CheckSpec] = Field(default_factory=list)


class ConsumerSpec(_Model):
    """A consumer and its base access policy: granted fields, masks, an optional row filter."""

    fields: list[str]
    delivery: Delivery = "materialised"
    description: str | None = None
    owner: str | None = None
    masks: dict[str, MaskKind] = Field(default_factory=dict)
    row_filter: str | None = None  # SQL over the product's fields, e.g. "marketing_opt_in"
    rate_limit: str | None = None  # e.g. "100/s", "6000/m"
    allow_stale: bool = False  # a live read may fall back to the materialised value, marked stale
    rights: list[Right] = Field(default_factory=list)
    webhook: str | None = None  # where erasure events are delivered (signed)

    @field_validator("rate_limit")
    @classmethod
    def _rate(cls, v: str | None) -> str | None:
        if v is not None and not RATE.match(v):
            raise ValueError("expected a rate such as 100/s or 6000/m")
        return v


class PolicySpec(_Model):
    """An extra access policy for some consumers; a consumer's policies combine as a union."""

    name: str
    consumers: list[str]
    fields: list[str]
    masks: dict[str, MaskKind] = Field(default_factory=dict)
    row_filter: str | None = None


class SubscriptionSpec(_Model):
    consumer: str
    fields: list[str]
    purpose: str
    freshness: str | None = None
    latency_p99_ms: float | None = None
    major: int | None = None  # the major version the consumer is pinned to

    @field_validator("freshness")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v is not None and not DURATION.match(v):
            raise ValueError("expected a duration such as 15m, 24h or 7d")
        return v


class LifecycleSpec(_Model):
    """When older major versions stop being served (RFC 8594 Sunset), by major version."""

    sunset: dict[int, dt.date] = Field(default_factory=dict)


class ErasureSpec(_Model):
    delete: list[str] = Field(default_factory=list)
    anonymise: list[str] = Field(default_factory=list)
    retain: dict[str, str] = Field(default_factory=dict)  # field → legal basis for keeping it
    notify_sources: list[str] = Field(default_factory=list)  # systems of record to tell


class ProductSpec(_Model):
    product: str
    version: str
    owner: Owner
    grain: Grain = "account"
    description: str | None = None
    currency: Currency = Field(default_factory=Currency)
    vocabularies: dict[str, dict[str, str]] = Field(default_factory=dict)
    sources: dict[str, SourceSpec]
    identity: IdentitySpec = Field(default_factory=IdentitySpec)
    fields: dict[str, FieldSpec]
    consumers: dict[str, ConsumerSpec] = Field(default_factory=dict)
    policies: list[PolicySpec] = Field(default_factory=list)
    subscriptions: list[SubscriptionSpec] = Field(default_factory=list)
    erasure: ErasureSpec = Field(default_factory=ErasureSpec)
    lifecycle: LifecycleSpec = Field(default_factory=LifecycleSpec)
    # A build fails (and the previous snapshot stays) when more than this share of one
    # source's records is quarantined: a renamed key column or a wrong encoding, not data.
    quarantine_threshold: float = Field(default=0.1, ge=0.0, le=1.0)

    @field_validator("product")
    @classmethod
    def _product_name(cls, v: str) -> str:
        if not IDENT.match(v):
            raise ValueError("expected a lower-case identifier such as customer_360")
        return v

    @field_validator("version")
    @classmethod
    def _semver(cls, v: Any) -> str:
        if not SEMVER.match(str(v)):
            raise ValueError("expected a semantic version such as 1.0.0")
        return str(v)

    @property
    def field_names(self) -> list[str]:
        return ["customer_id", *self.fields]


def duration_seconds(text: str) -> int:
    """``"15m"`` → 900."""
    m = DURATION.match(text)
    if not m:
        raise ValueError(f"not a duration: {text!r}")
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
