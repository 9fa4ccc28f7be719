"""OpenLineage run events for every build: START, COMPLETE, FAIL, with schema and column lineage.

Where events go is configuration, not spec: ``C360_OPENLINEAGE_URL`` (an HTTP endpoint
such as Marquez's ``http://host:5000/api/v1/lineage``) and/or ``C360_OPENLINEAGE_FILE``
(JSON Lines, one event per line); ``C360_OPENLINEAGE_NAMESPACE`` names the namespace
(default ``c360``) and ``C360_OPENLINEAGE_API_KEY`` is sent as a bearer token. With
neither destination set nothing is emitted and the OpenLineage client is not imported.

Events are built with the ``openlineage-python`` client's models. Emitting is best
effort: a lineage backend that is down is logged and never fails a build.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import httpx
from pydantic import SecretStr
from sqlglot import exp

from c360.core.clock import utcnow
from c360.core.errors import MissingDependency
from c360.governance.openlineage_naming import _FILE_CONNECTORS as _FILE_CONNECTORS
from c360.governance.openlineage_naming import _SAAS_HOSTS as _SAAS_HOSTS
from c360.governance.openlineage_naming import _host_port as _host_port
from c360.governance.openlineage_naming import source_dataset
from c360.spec.expressions import ExpressionError, parse_expression
from c360.spec.models import ProductSpec

if TYPE_CHECKING:
    from openlineage.client.event_v2 import RunEvent

log = logging.getLogger(__name__)

State = Literal["START", "COMPLETE", "FAIL"]
ENV_URL = "C360_OPENLINEAGE_URL"
ENV_FILE = "C360_OPENLINEAGE_FILE"
ENV_NAMESPACE = "C360_OPENLINEAGE_NAMESPACE"
ENV_API_KEY = "C360_OPENLINEAGE_API_KEY"
PRODUCER = "https://pypi.org/project/c360/"


@dataclass(frozen=True)
class LineageConfig:
    """Where run events go. Read once, from the environment or a mapping (e.g. a config file)."""

    url: str | None = None
    file: Path | None = None
    namespace: str = "c360"
    api_key: SecretStr | None = field(default=None, repr=False)
    timeout: float = 5.0

    @property
    def enabled(self) -> bool:
        return bool(self.url or self.file)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> LineageConfig:
        """From plain keys: ``url``, ``file``, ``namespace``, ``api_key``, ``timeout``."""
        key = values.get("api_key")
        file = values.get("file")
        return cls(
            url=values.get("url") or None,
            file=Path(file) if file else None,
            namespace=str(values.get("namespace") or "c360"),
            api_key=SecretStr(str(key)) if key else None,
            timeout=float(values.get("timeout", 5.0)),
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LineageConfig:
        env = os.environ if environ is None else environ
        return cls.from_mapping(
            {
                "url": env.get(ENV_URL),
                "file": env.get(ENV_FILE),
                "namespace": env.get(ENV_NAMESPACE),
                "api_key": env.get(ENV_API_KEY),
            }
        )


def run_uuid(run_id: str) -> str:
    """OpenLineage wants a UUID per run; c360's run ids map to one, the same every time."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"c360:run:{run_id}"))


def _c360_version() -> str:
    try:
        return version("c360")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


def column_transformations(expr: str) -> list[tuple[str, str, str, str]]:
    """(source, column, type, subtype) per column an expression reads, in OpenLineage's terms.

    A column only tested in a ``FILTER (WHERE ...)`` or a ``CASE WHEN`` condition influences the
    value without flowing into it (INDIRECT); one inside an aggregate is aggregated; a bare column
    is copied (IDENTITY).
    """
    try:
        node = parse_expression(expr)
    except ExpressionError:
        return []
    out: list[tuple[str, str, str, str]] = []
    for col in node.find_all(exp.Column):
        if isinstance(col.this, exp.Star):
            continue
        kind, sub = "DIRECT", "TRANSFORMATION"
        if col is node:
            sub = "IDENTITY"
        parent: Any = col
        while parent is not None and parent is not node:
            up = parent.parent
            if isinstance(up, exp.Filter) and parent is up.expression:
                kind, sub = "INDIRECT", "FILTER"
                break
            if isinstance(up, exp.If) and parent is up.this:
                kind, sub = "INDIRECT", "CONDITIONAL"
                break
            if isinstance(up, exp.AggFunc) and sub != "IDENTITY":
                sub = "AGGREGATION"
            parent = up
        item = (col.table, col.name, kind, sub)
        if item not in out:
            out.append(item)
    return out


def build_event(
    product: ProductSpec,
    state: State,
    run_id: str,
    *,
    namespace: str = "c360",
    when: dt.datetime | None = None,
    error: str | None = None,
    customers: int | None = None,
    base_dir: Path | None = None,
) -> RunEvent:
    """One run event of the build of ``product``, with the client's models.

    Inputs are the real source systems, named by :func:`source_dataset`; the output is the
    snapshot in ``namespace``.
    """
    try:
        from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
        from openlineage.client.facet_v2 import column_lineage_dataset as cl
        from openlineage.client.facet_v2 import (
            documentation_job,
            error_message_run,
            output_statistics_output_dataset,
            processing_engine_run,
            schema_dataset,
        )
    except ImportError:
        raise MissingDependency("openlineage-python", "lineage") from None

    names = {
        n: source_dataset(n, src, product=product.product, base_dir=base_dir) for n, src in product.sources.items()
    }
    inputs = []
    for name, src in product.sources.items():
        fields = [
            schema_dataset.SchemaDatasetFacetFields(
                name=c, type=col.type, description=col.description, ordinal_position=i
            )
            for i, (c, col) in enumerate(src.columns.items(), start=1)
        ]
        inputs.append(
            InputDataset(
                names[name][0], names[name][1], facets={"schema": schema_dataset.SchemaDatasetFacet(fields=fields)}
            )
        )
    out_fields = [
        schema_dataset.SchemaDatasetFacetFields(
            name="customer_id", type="string", ordinal_position=1, description="Stable surrogate id of the customer"
        )
    ]
    lineage: dict[str, cl.Fields] = {}
    for i, (fname, f) in enumerate(product.fields.items(), start=2):
        out_fields.append(
            schema_dataset.SchemaDatasetFacetFields(
                name=fname, type=f.type, description=f.description, ordinal_position=i
            )
        )
        inputs_of = [
            cl.InputField(
                *names.get(src, (namespace, f"{product.product}.source.{src}")),
                column,
                transformations=[cl.Transformation(type=kind, subtype=sub)],
            )
            for src, column, kind, sub in column_transformations(f.expr)
        ]
        lineage[fname] = cl.Fields(inputFields=inputs_of, transformationDescription=" ".join(f.expr.split()))
    out_facets: dict[str, Any] = {
        "schema": schema_dataset.SchemaDatasetFacet(fields=out_fields),
        "columnLineage": cl.ColumnLineageDatasetFacet(fields=lineage),
    }
    output_facets: dict[str, Any] = {}
    if customers is not None:
        output_facets["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
            rowCount=customers
        )
    output = OutputDataset(namespace, f"{product.product}.snapshot", facets=out_facets, outputFacets=output_facets)
    run_facets: dict[str, Any] = {
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet(version=_c360_version(), name="c360")
    }
    if error is not None:
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(message=error, programmingLanguage="python")
    job_facets: dict[str, Any] = {}
    if product.description:
        job_facets["documentation"] = documentation_job.DocumentationJobFacet(description=product.description)
    return RunEvent(
        eventType=RunState[state],
        eventTime=(when or utcnow()).astimezone(dt.UTC).isoformat(),
        run=Run(runId=run_uuid(run_id), facets=run_facets),
        job=Job(namespace=namespace, name=f"{product.product}.build", facets=job_facets),
        inputs=inputs,
        outputs=[output],
        producer=PRODUCER,
    )


def event_json(event: RunEvent) -> str:
    from openlineage.client.serde import Serde

    return Serde.to_json(event)


class LineageEmitter:
    """Sends a build's run events to the configured file and/or endpoint."""

    def __init__(self, product: ProductSpec, config: LineageConfig, base_dir: Path | None = None) -> None:
        self.product = product
        self.config = config
        self.base_dir = base_dir
        self.errors: list[str] = []  # delivery failures, kept for the run's summary

    def emit(self, state: State, run_id: str, *, error: str | None = None, customers: int | None = None) -> None:
        if not self.config.enabled:
            return
        body = event_json(
            build_event(
                self.product,
                state,
                run_id,
                namespace=self.config.namespace,
                error=error,
                customers=customers,
                base_dir=self.base_dir,
            )
        )
        if self.config.file is not None:
            try:
                self.config.file.parent.mkdir(parents=True, exist_ok=True)
                with self.config.file.open("a", encoding="utf-8") as fh:
                    fh.write(body + "\n")
            except OSError as exc:
                self._failed(f"cannot write OpenLineage events to {self.config.file}: {exc}")
        if self.config.url:
            headers = {"Content-Type": "application/json"}
            if self.config.api_key is not None:
                headers["Authorization"] = f"Bearer {self.config.api_key.get_secret_value()}"
            try:
                resp = httpx.post(self.config.url, content=body, headers=headers, timeout=self.config.timeout)
                if resp.status_code >= 400:
                    self._failed(f"OpenLineage endpoint {self.config.url} answered {resp.status_code}")
            except httpx.HTTPError as exc:
                self._failed(f"cannot reach OpenLineage endpoint {self.config.url}: {type(exc).__name__}")

    def _failed(self, message: str) -> None:
        log.warning("%s", message)
        self.errors.append(message)

    def start(self, run_id: str) -> None:
        self.emit("START", run_id)

    def complete(self, run_id: str, customers: int | None = None) -> None:
        self.emit("COMPLETE", run_id, customers=customers)

    def fail(self, run_id: str, error: str) -> None:
        self.emit("FAIL", run_id, error=error)


def emitter(
    product: ProductSpec, config: LineageConfig | None = None, *, base_dir: Path | None = None
) -> LineageEmitter:
    """The build's emitter, configured from the environment unless ``config`` is given.

    Lineage configured without the OpenLineage client installed is warned of (and kept in
    the emitter's ``errors``) and nothing is emitted: lineage never fails a build.
    """
    cfg = config or LineageConfig.from_env()
    if cfg.enabled:
        try:
            import openlineage.client  # noqa: F401
        except ImportError:
            message = (
                f"OpenLineage is configured ({ENV_URL} / {ENV_FILE}) but the 'openlineage-python' "
                "package is not installed; no lineage is emitted. Install it with: "
                "pip install 'c360[lineage]'"
            )
            warnings.warn(message, RuntimeWarning, stacklevel=2)
            log.warning("%s", message)
            quiet = LineageEmitter(product, LineageConfig(namespace=cfg.namespace), base_dir)
            quiet.errors.append(message)
            return quiet
    return LineageEmitter(product, cfg, base_dir)
