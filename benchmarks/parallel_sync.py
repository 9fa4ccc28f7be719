"""The connectors benchmark's parallel row: four SaaS sources synced at once (``c360 sync
--parallel 4``) versus one after another (``--parallel 1``), through ``c360.pipeline.sync``.

Each source is its own local fake Salesforce org (``tests/connectors/fakes/salesforce.py``)
that answers every request after a fixed latency, as a real API's round trip would, so the
figure shows what overlapping the sources' network waits buys.
"""

from __future__ import annotations

import sys
import tempfile
import textwrap
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NAMES = ("crm_eu", "crm_us", "crm_apac", "crm_latam")


def _spec(urls: list[str], token: str, folder: Path) -> Any:
    from c360.spec.validate import load_spec_text

    sources = "".join(
        textwrap.indent(
            textwrap.dedent(f"""\
            {name}:
              connector: salesforce
              instance_url: {url}
              access_token: {token}
              fields: [Name, Website, BillingPostalCode]
              bulk: false
              stream: Account
              key: Id
              columns: {{Id: string, Name: string}}
              identity: {{name: Name}}
            """),
            "  ",
        )
        for name, url in zip(NAMES, urls, strict=True)
    )
    text = (
        "product: p\nversion: 1.0.0\nowner: {team: t}\nsources:\n"
        + sources
        + "fields:\n  name: {type: string, description: n, expr: min(crm_eu.Name)}\n"
    )
    return load_spec_text(text, folder / "product.yaml")


def parallel_cases(rows: int, latency: float, make_fake: Any) -> list[tuple[str, int, float, int]]:
    """(case, records, seconds, requests) for ``--parallel 1`` and ``--parallel 4``; ``make_fake(n)``
    builds a fake org of ``n`` Accounts."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.connectors.fakes.salesforce import TOKEN
    from tests.connectors.httpfake import serve

    from c360.pipeline.sync import sync
    from c360.store import Store

    out = []
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="c360-bench-par-") as tmp:
        fakes = [make_fake(rows) for _ in NAMES]

        def slow(fake: Any) -> Any:
            def handler(req: Any) -> Any:
                time.sleep(latency)
                return fake(req)

            return handler

        servers = [stack.enter_context(serve(slow(f))) for f in fakes]
        spec = _spec([s.url for s in servers], TOKEN, Path(tmp))
        for parallel in (1, 4):
            store = Store.open(f"sqlite:///{tmp}/store_{parallel}.db")
            served = sum(f.served for f in fakes)
            start = time.perf_counter()
            synced = sync(spec, store, run_id=f"bench-{parallel}", parallel=parallel)
            seconds = time.perf_counter() - start
            records = sum(s.records for s in synced)
            assert records == rows * len(NAMES), records
            out.append((f"saas_x4_p{parallel}", records, seconds, sum(f.served for f in fakes) - served))
    return out
