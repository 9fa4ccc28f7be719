"""Erasure dry runs on both stores: audited, rate-limited per consumer, counts unless a DPO asks."""

from __future__ import annotations

import json
from typing import Any

import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from c360.api.erasures import router as erasures_router
from c360.api.state import ServerState
from c360.cli import app as cli
from c360.core import jsonutil
from c360.governance import audit
from c360.spec.validate import Spec, load_spec
from tests.governance.test_erasure import Case, case, dump, pg_demo_template, pick_person  # noqa: F401

AUDIT_TABLES = ("audit_log", "audit_head")
DRY_RUNS_PER_MINUTE = 10


def client_for(case: Case, spec: Spec | None = None) -> TestClient:  # noqa: F811
    app = FastAPI()
    app.include_router(erasures_router)
    app.state.c360 = ServerState(spec or case.spec, case.store, b"k", refresh_seconds=0)
    return TestClient(app)


def bearer(case: Case, consumer: str) -> dict[str, str]:  # noqa: F811
    return {"Authorization": f"Bearer {case.store.create_key(consumer)}"}


def audit_rows(case: Case, kind: str) -> list[Any]:  # noqa: F811
    with case.store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT at, kind, actor, subject, detail FROM audit_log WHERE kind = :k ORDER BY seq"), {"k": kind}
        ).all()
    return list(rows)


def without_audit(case: Case) -> dict[str, Any]:  # noqa: F811
    return {t: rows for t, rows in dump(case.store).items() if t not in AUDIT_TABLES}


def test_an_api_dry_run_answers_counts_only_and_is_audited(case: Case) -> None:  # noqa: F811
    person = pick_person(case.store, case.spec)
    client, auth = client_for(case), bearer(case, "finance")
    before = without_audit(case)
    got = client.post(
        "/v1/erasures", headers=auth, json={"email": person.email, "reason": "Art. 17 request", "dry_run": True}
    )
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["committed"] is False
    by_source: dict[str, int] = {}
    for s, _ in person.keys:
        by_source[s] = by_source.get(s, 0) + 1
    assert all(body["records_by_source"][s] >= n for s, n in by_source.items())
    assert body["customers"] >= 1
    # No keys, customer ids, fields or plan: only the counts.
    assert set(body) == {"committed", "subject", "records_by_source", "customers"}
    assert not any(k in got.text for _, k in person.keys if len(k) > 3) and person.email not in got.text
    assert without_audit(case) == before  # nothing but the audit row changed
    [row] = audit_rows(case, "erasure_dry_run")
    detail = jsonutil.loads(row.detail)
    assert row.actor == "consumer:finance" and row.subject == body["subject"] and row.at
    assert detail["selector"] == "email" and detail["found"] is True and detail["shown"] == "counts"
    assert detail["records_by_source"] == body["records_by_source"] and detail["customers"] == body["customers"]
    assert person.email not in row.detail and len(detail["reason_sha256"]) == 64
    check = audit.verify(case.store)
    assert check.ok, check.problem


def test_a_dry_run_for_nobody_is_audited_too(case: Case) -> None:  # noqa: F811
    client, auth = client_for(case), bearer(case, "finance")
    got = client.post(
        "/v1/erasures", headers=auth, json={"email": "nobody@nowhere.example", "reason": "probe", "dry_run": True}
    )
    assert got.status_code == 404
    [row] = audit_rows(case, "erasure_dry_run")
    detail = jsonutil.loads(row.detail)
    assert detail["found"] is False and detail["selector"] == "email" and row.subject.startswith("p_")
    assert "nobody@nowhere.example" not in row.detail
    # The same address gives the same pseudonym: a DPO can see one consumer probing one person.
    client.post(
        "/v1/erasures", headers=auth, json={"email": "NOBODY@nowhere.example", "reason": "probe", "dry_run": True}
    )
    assert len({r.subject for r in audit_rows(case, "erasure_dry_run")}) == 1


def test_dry_runs_are_rate_limited_per_consumer(case: Case) -> None:  # noqa: F811
    doc = yaml.safe_load(case.spec.text)
    doc["consumers"]["marketing"]["rights"] = ["erasure"]
    (case.dir / "two.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    spec = load_spec(case.dir / "two.yaml")
    person = pick_person(case.store, spec)
    client = client_for(case, spec)
    finance, marketing = bearer(case, "finance"), bearer(case, "marketing")
    body = {"email": person.email, "reason": "Art. 17 request", "dry_run": True}
    for _ in range(DRY_RUNS_PER_MINUTE):
        assert client.post("/v1/erasures", headers=finance, json=body).status_code == 200
    over = client.post("/v1/erasures", headers=finance, json=body)
    assert over.status_code == 429 and over.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    # Refused before the look-up: no answer, so nothing to audit.
    assert len(audit_rows(case, "erasure_dry_run")) == DRY_RUNS_PER_MINUTE
    # Another consumer has its own allowance.
    assert client.post("/v1/erasures", headers=marketing, json=body).status_code == 200


def test_the_limiter_is_a_sliding_window() -> None:
    from c360.api import erasures

    assert erasures.DRY_RUNS_PER_MINUTE == DRY_RUNS_PER_MINUTE
    DryRunLimiter = erasures.DryRunLimiter
    now = [1000.0]
    limiter = DryRunLimiter(limit=2, window=60.0, clock=lambda: now[0])
    assert limiter.retry_after("a") is None and limiter.retry_after("a") is None
    assert limiter.retry_after("a") == 60 and limiter.retry_after("b") is None
    now[0] += 59.2
    assert limiter.retry_after("a") == 1
    now[0] += 1.0  # both of the first minute's dry runs have left the window
    assert limiter.retry_after("a") is None and limiter.retry_after("a") is None
    assert limiter.retry_after("a") == 60


def test_a_consumer_holding_the_dpo_right_sees_the_plan(case: Case) -> None:  # noqa: F811
    """The DPO right (`rights: [dpo]`) shows which records a dry run would change."""
    person = pick_person(case.store, case.spec)
    finance = case.spec.model.consumers["finance"]
    case.spec.model.consumers["finance"] = finance.model_construct(
        **{**dict(finance), "rights": [*finance.rights, "dpo"]}
    )
    try:
        got = client_for(case).post(
            "/v1/erasures",
            headers=bearer(case, "finance"),
            json={"email": person.email, "reason": "Art. 17 request", "dry_run": True},
        )
    finally:
        case.spec.model.consumers["finance"] = finance
    assert got.status_code == 200
    assert {(c["source"], c["key"]) for c in got.json()["changes"]} >= set(person.keys)
    [row] = audit_rows(case, "erasure_dry_run")
    assert jsonutil.loads(row.detail)["shown"] == "plan"


def test_a_cli_dry_run_shows_the_plan_and_is_audited(case: Case) -> None:  # noqa: F811
    person = pick_person(case.store, case.spec)
    before = without_audit(case)
    result = CliRunner().invoke(
        cli,
        [
            "erase",
            str(case.dir / "product.yaml"),
            "--email",
            person.email,
            "--reason",
            "Art. 17 request",
            "--dry-run",
            "--store",
            case.url,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert {(c["source"], c["key"]) for c in plan["changes"]} >= set(person.keys)
    assert without_audit(case) == before
    [row] = audit_rows(case, "erasure_dry_run")
    detail = jsonutil.loads(row.detail)
    assert row.actor.startswith("cli:") and row.subject == plan["subject"]
    assert detail["found"] is True and detail["shown"] == "plan" and person.email not in row.detail
    # A look-up of nobody from the command line is audited as well.
    result = CliRunner().invoke(
        cli,
        [
            "erase",
            str(case.dir / "product.yaml"),
            "--email",
            "nobody@nowhere.example",
            "--reason",
            "probe",
            "--dry-run",
            "--store",
            case.url,
        ],
    )
    assert result.exit_code == 1 and "nothing to erase" in result.output
    assert [jsonutil.loads(r.detail)["found"] for r in audit_rows(case, "erasure_dry_run")] == [True, False]


def test_a_real_erasure_is_not_held_by_the_dry_run_allowance(case: Case) -> None:  # noqa: F811
    person = pick_person(case.store, case.spec)
    client, auth = client_for(case), bearer(case, "finance")
    body = {"email": person.email, "reason": "Art. 17 request", "dry_run": True}
    for _ in range(DRY_RUNS_PER_MINUTE + 1):
        client.post("/v1/erasures", headers=auth, json=body)
    done = client.post("/v1/erasures", headers=auth, json={**body, "dry_run": False})
    assert done.status_code == 200 and done.json()["committed"] is True


def test_erasing_someone_absent_is_a_404_and_audited(case: Case) -> None:  # noqa: F811
    auth = bearer(case, "finance")
    before = without_audit(case)
    got = client_for(case).post(
        "/v1/erasures", headers=auth, json={"email": "nobody-here@example.org", "reason": "Art. 17 request"}
    )
    assert got.status_code == 404 and got.json()["error"]["code"] == "not_found"
    [row] = audit_rows(case, "erasure_not_found")
    assert row.actor == "consumer:finance" and "nobody-here" not in str(row.subject) + row.detail
    assert jsonutil.loads(row.detail)["selector"] == "email"
    assert without_audit(case) == before
    assert audit.verify(case.store).ok
