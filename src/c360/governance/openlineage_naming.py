"""How a source's dataset is named in OpenLineage events: one naming rule per connector kind.

The rules follow the OpenLineage naming spec: ``(namespace, name)`` of the real system a
source reads, never c360's own copy. Credentials in a DSN are never part of a name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from c360.spec.models import SourceSpec

__all__ = ["NAMING", "source_dataset"]

_FILE_CONNECTORS = frozenset({"csv", "jsonl", "json", "parquet", "excel", "xlsx", "file", "eventlog"})
_SAAS_HOSTS = {"hubspot": "https://api.hubapi.com", "stripe": "https://api.stripe.com"}


def _host_port(host: str | None, port: Any, default_port: int) -> str:
    return f"{host or '127.0.0.1'}:{port or default_port}"


class _Source:
    """What a naming rule reads of one source: its options as text, its table, its stream."""

    def __init__(self, name: str, src: SourceSpec, kind: str, base_dir: Path | None) -> None:
        self.name, self.src, self.kind, self.base_dir = name, src, kind, base_dir
        self.o: Mapping[str, Any] = src.options
        self.table = str(src.stream or self.o.get("table") or name)

    def text(self, key: str) -> str | None:
        value = self.o.get(key)
        if value is None:
            return None
        secret = getattr(value, "get_secret_value", None)
        return str(secret() if callable(secret) else value)


Named = tuple[str, str] | None  # None: no rule applies, the default name is used
Rule = Callable[[_Source], Named]


def _postgres(s: _Source) -> Named:
    scheme, default = ("redshift", 5439) if s.kind == "redshift" else ("postgres", 5432)
    dsn = s.text("dsn")
    if dsn:
        u = urlsplit(dsn)
        host, port, db = u.hostname, u.port, u.path.lstrip("/") or None
    else:
        host, port, db = s.text("host"), s.o.get("port"), None
    db = s.text("dbname") or db or s.text("user") or "postgres"
    schema = s.text("schema_name") or "public"
    return f"{scheme}://{_host_port(host, port, default)}", f"{db}.{schema}.{s.table}"


def _mysql(s: _Source) -> Named:
    db = s.text("database")
    return f"mysql://{_host_port(s.text('host'), s.o.get('port'), 3306)}", f"{db}.{s.table}" if db else s.table


def _s3(s: _Source) -> Named:
    prefix = s.text("prefix") or ""
    stream = s.src.stream
    key = prefix if stream is None and prefix else f"{prefix}{stream or ''}" or s.table
    return f"s3://{s.text('bucket')}", key


def _snowflake(s: _Source) -> Named:
    db, schema = s.text("database") or "", s.text("schema_name") or "PUBLIC"
    return f"snowflake://{s.text('account')}", f"{db}.{schema}.{s.table}" if db else f"{schema}.{s.table}"


def _bigquery(s: _Source) -> Named:
    return "bigquery", f"{s.text('project')}.{s.text('dataset')}.{s.table}"


def _kafka(s: _Source) -> Named:
    first = (s.text("bootstrap_servers") or "").split(",")[0].strip()
    return f"kafka://{first}", str(s.text("topic") or s.src.stream or s.name)


def _file(s: _Source) -> Named:
    path = Path(s.text("path") or s.name)
    if not path.is_absolute() and s.base_dir is not None:
        path = (s.base_dir / path).resolve()
    # SQLite: the database file is the dataset's container; the table follows it.
    return "file", f"{path}/{s.table}" if s.kind == "sqlite" else str(path)


def _salesforce(s: _Source) -> Named:
    return (s.text("instance_url") or "https://login.salesforce.com").rstrip("/"), s.table


def _zendesk(s: _Source) -> Named:
    base = s.text("base_url") or f"https://{s.text('subdomain')}.zendesk.com"
    return base.rstrip("/"), s.table


def _saas(s: _Source) -> Named:
    return (s.text("base_url") or _SAAS_HOSTS[s.kind]).rstrip("/"), s.table


def _http(s: _Source) -> Named:
    url = s.text("base_url") or s.text("url") or s.text("endpoint")
    if not url:
        return None
    u = urlsplit(url)
    return f"{u.scheme}://{u.netloc}", (u.path.rstrip("/") + "/" + s.table) if s.src.stream else (u.path or s.table)


NAMING: dict[str, Rule] = {
    "postgres": _postgres,
    "postgresql": _postgres,
    "redshift": _postgres,
    "mysql": _mysql,
    "mariadb": _mysql,
    "s3": _s3,
    "snowflake": _snowflake,
    "bigquery": _bigquery,
    "kafka": _kafka,
    "sqlite": _file,
    **dict.fromkeys(_FILE_CONNECTORS, _file),
    "salesforce": _salesforce,
    "zendesk": _zendesk,
    **dict.fromkeys(_SAAS_HOSTS, _saas),
    "rest": _http,
    "http": _http,
    "graphql": _http,
}


def source_dataset(
    name: str, src: SourceSpec, *, product: str = "c360", base_dir: Path | None = None
) -> tuple[str, str]:
    """``(namespace, name)`` of a source's dataset, per the OpenLineage naming spec.

    PostgreSQL ``postgres://host:port`` + ``db.schema.table``; MySQL ``mysql://host:port`` +
    ``db.table``; S3 ``s3://bucket`` + key; files ``file`` + absolute path (relative paths
    resolved against ``base_dir``, the spec's folder); Snowflake ``snowflake://account`` +
    ``db.schema.table``; BigQuery ``bigquery`` + ``project.dataset.table``; Kafka
    ``kafka://host:port`` + topic; the SaaS APIs by their hosts (``https://acme.my.salesforce.com``)
    + the object. A connector without a naming rule keeps ``c360`` + ``<product>.source.<name>``.
    Credentials in a DSN are never part of a name.
    """
    kind = src.connector.lower()
    rule = NAMING.get(kind)
    named = rule(_Source(name, src, kind, base_dir)) if rule is not None else None
    return named if named is not None else ("c360", f"{product}.source.{name}")
