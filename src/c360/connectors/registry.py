"""Which connectors exist, where they live, and which optional extra each needs.

Connector modules are imported lazily, so a missing optional client only matters
to the sources that use it, and the error says which extra to install.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from c360.connectors.base import Connector, ConnectorOptions
from c360.core.errors import MissingDependency, TerminalSourceError
from c360.core.text import closest


@dataclass(frozen=True)
class ConnectorEntry:
    name: str
    module: str
    cls: str
    description: str
    package: str | None = None  # the optional client's import name
    extra: str | None = None  # the pip extra that installs it

    @property
    def installed(self) -> bool:
        return self.package is None or importlib.util.find_spec(self.package) is not None


_ENTRIES = [
    ConnectorEntry("csv", "c360.connectors.files", "CsvConnector", "CSV files (a file or a folder of them)"),
    ConnectorEntry("jsonl", "c360.connectors.files", "JsonlConnector", "JSON Lines files"),
    ConnectorEntry("json", "c360.connectors.files", "JsonConnector", "JSON files holding an array of records"),
    ConnectorEntry(
        "excel",
        "c360.connectors.excel",
        "ExcelConnector",
        "Excel workbooks (.xlsx), one stream per sheet",
        "openpyxl",
        "excel",
    ),
    ConnectorEntry("parquet", "c360.connectors.parquet", "ParquetConnector", "Parquet files", "pyarrow", None),
    ConnectorEntry(
        "eventlog", "c360.connectors.eventlog", "EventLogConnector", "JSONL event logs, incremental by event time"
    ),
    ConnectorEntry("sqlite", "c360.connectors.sqlite", "SqliteConnector", "SQLite databases"),
    ConnectorEntry("postgres", "c360.connectors.postgres", "PostgresConnector", "PostgreSQL", "psycopg", "postgres"),
    ConnectorEntry(
        "redshift",
        "c360.connectors.postgres",
        "RedshiftConnector",
        "Amazon Redshift (PostgreSQL wire protocol)",
        "psycopg",
        "postgres",
    ),
    ConnectorEntry("mysql", "c360.connectors.mysql", "MySqlConnector", "MySQL and MariaDB", "pymysql", "mysql"),
    ConnectorEntry(
        "snowflake", "c360.connectors.snowflake", "SnowflakeConnector", "Snowflake", "snowflake.connector", "snowflake"
    ),
    ConnectorEntry(
        "bigquery",
        "c360.connectors.bigquery",
        "BigQueryConnector",
        "Google BigQuery",
        "google.cloud.bigquery",
        "bigquery",
    ),
    ConnectorEntry("salesforce", "c360.connectors.salesforce", "SalesforceConnector", "Salesforce REST (SOQL)"),
    ConnectorEntry("zendesk", "c360.connectors.zendesk", "ZendeskConnector", "Zendesk Support incremental exports"),
    ConnectorEntry("stripe", "c360.connectors.stripe", "StripeConnector", "Stripe (official SDK)", "stripe", "stripe"),
    ConnectorEntry("hubspot", "c360.connectors.hubspot", "HubSpotConnector", "HubSpot CRM search API"),
    ConnectorEntry("rest", "c360.connectors.rest", "RestConnector", "Any REST API, declarative pagination and auth"),
    ConnectorEntry(
        "graphql", "c360.connectors.graphql", "GraphQLConnector", "GraphQL APIs with relay-style cursor connections"
    ),
    ConnectorEntry(
        "kafka", "c360.connectors.kafka", "KafkaConnector", "Apache Kafka topics", "confluent_kafka", "kafka"
    ),
    ConnectorEntry("s3", "c360.connectors.s3", "S3Connector", "Amazon S3 objects (CSV, JSONL, Parquet)", "boto3", "s3"),
    ConnectorEntry("memory", "c360.connectors.memory", "MemoryConnector", "In-memory streams (tests and examples)"),
]

REGISTRY: dict[str, ConnectorEntry] = {e.name: e for e in _ENTRIES}


def entry(name: str) -> ConnectorEntry:
    try:
        return REGISTRY[name]
    except KeyError:
        hint = closest(name, REGISTRY)
        more = f"; did you mean '{hint}'?" if hint else ""
        raise TerminalSourceError(
            name, f"unknown connector '{name}'{more} (known: {', '.join(sorted(REGISTRY))})"
        ) from None


def connector_class(name: str) -> type[Any]:
    e = entry(name)
    if not e.installed:
        assert e.package is not None
        raise MissingDependency(e.package.split(".")[0], e.extra or "all")
    module = importlib.import_module(e.module)
    cls: type[Any] = getattr(module, e.cls)
    return cls


def options_model(name: str) -> type[ConnectorOptions]:
    model: type[ConnectorOptions] = connector_class(name).Options
    return model


def make_connector(name: str, options: dict[str, Any] | ConnectorOptions, *, base_dir: Path) -> Connector:
    """Build a connector from its name and (raw or validated) options."""
    cls = connector_class(name)
    opts = options if isinstance(options, ConnectorOptions) else cls.Options.model_validate(options)
    conn: Connector = cls(opts, base_dir=base_dir)
    return conn
