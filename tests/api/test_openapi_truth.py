"""The OpenAPI document tells the truth: every status a route answers is declared for it, none it
never answers (FastAPI's 422) is, and a client generated from it works against a real server."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from c360.api import create_app
from c360.api.service import ID, MAX_BATCH
from c360.spec.validate import load_spec
from c360.store import Store
from tests.api import servers
from tests.conftest import BuiltDemo

ROOT = Path(__file__).parents[2]
CONSUMERS = ("finance", "support", "marketing", "churn_model", "product_owner")
GENERATOR = "openapi-python-client"
FLAGS = ("--config", "config.yaml", "--fail-on-warning")


@dataclass
class Demo:
    spec_path: Path
    store_url: str
    keys: dict[str, str]
    records: dict[str, dict[str, Any]]  # the published snapshot, unprojected


@pytest.fixture(scope="module")
def demo(built_demo: BuiltDemo, tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """A private copy of the built demo (its keys are added to the copy only)."""
    d = tmp_path_factory.mktemp("openapi-truth")
    for p in built_demo.dir.iterdir():
        if p.is_file() and not p.name.startswith("store.db-"):
            shutil.copy2(p, d / p.name)
    url = f"sqlite:///{d}/store.db"
    store = Store.open(url)
    keys = {c: store.create_key(c) for c in CONSUMERS}
    version = store.current_version()
    assert version is not None
    records = {cid: orjson.loads(data) for cid, data in store.snapshot_rows(version)}
    store.close()
    return Demo(d / "product.yaml", url, keys, records)


@pytest.fixture(scope="module")
def client(demo: Demo) -> Iterator[TestClient]:
    store = Store.open(demo.store_url)
    app = create_app(load_spec(demo.spec_path), store, refresh_seconds=0, mask_key=b"k" * 32, jwt=None)
    with TestClient(app) as c:
        yield c
    store.close()


@pytest.fixture(scope="module")
def doc(client: TestClient) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/openapi.json").json()
    return body


def operation(doc: dict[str, Any], method: str, path: str) -> tuple[str, dict[str, Any] | None]:
    """The document's path template matching ``path``, and its operation for ``method`` (None: none)."""
    for template, ops in doc["paths"].items():
        if re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)), path):
            return template, ops.get(method.lower())
    raise AssertionError(f"{path} is in no path of the document")


def test_no_operation_declares_422(doc: dict[str, Any]) -> None:
    declared = {(m, p): set(op["responses"]) for p, ops in doc["paths"].items() for m, op in ops.items()}
    assert declared and not [k for k, codes in declared.items() if "422" in codes]
    schemas = doc.get("components", {}).get("schemas", {})
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert b"HTTPValidationError" not in orjson.dumps(doc)
    # Where FastAPI declared its 422, the 400 this app answers instead is declared, with the error body.
    for path, method in (("/v1/customers:batchGet", "post"), ("/v1/erasures", "post"), ("/v1/customers", "get")):
        bad = doc["paths"][path][method]["responses"]["400"]
        assert bad["content"]["application/json"]["schema"]["required"] == ["error"], path


def test_the_customer_id_declares_the_enforced_pattern(doc: dict[str, Any], client: TestClient, demo: Demo) -> None:
    params = doc["paths"]["/v1/customers/{customer_id}"]["get"]["parameters"]
    (schema,) = [p["schema"] for p in params if p["name"] == "customer_id" and p["in"] == "path"]
    assert schema["pattern"] == ID.pattern and schema["type"] == "string"
    headers = {"Authorization": f"Bearer {demo.keys['finance']}"}
    # What is accepted at run time is the service's rule, unchanged: the document agrees with it on each id.
    for cid in (
        "a",
        "A.b-c_9",
        "x" * 64,
        "x" * 65,
        "_lead",
        "-lead",
        "has space",
        "ümlaut",
        "c.",
        next(iter(demo.records)),
    ):
        for query in ("", "?mode=materialised"):  # the raw fast path and FastAPI's route
            r = client.get(f"/v1/customers/{httpx.URL(path=cid).raw_path.decode()}{query}", headers=headers)
            documented = re.search(schema["pattern"], cid) is not None and len(cid) <= schema["maxLength"]
            assert documented == (r.status_code != 400), (cid, query, r.status_code, r.text)
            if not documented:
                assert r.json()["error"]["code"] == "invalid_id"


def test_every_status_observed_is_declared(doc: dict[str, Any], client: TestClient, demo: Demo) -> None:
    cid = sorted(demo.records)[0]
    email = next(str(r["billing_contact_email"]) for r in demo.records.values() if r.get("billing_contact_email"))
    owner, finance = demo.keys["product_owner"], demo.keys["finance"]
    etag = client.get(f"/v1/customers/{cid}", headers={"Authorization": f"Bearer {finance}"}).headers["etag"]
    cases: list[tuple[str, str, str | None, dict[str, Any]]] = [
        # (method, path, key, extra request arguments)
        ("GET", f"/v1/customers/{cid}", finance, {}),
        ("GET", f"/v1/customers/{cid}?mode=materialised", finance, {}),
        ("GET", f"/v1/customers/{cid}", finance, {"headers": {"If-None-Match": etag}}),
        ("GET", "/v1/customers/bad!id", finance, {}),
        ("GET", f"/v1/customers/{cid}?bogus=1", finance, {}),
        ("GET", f"/v1/customers/{cid}?mode=sideways", finance, {}),
        ("GET", f"/v1/customers/{cid}", None, {}),
        ("GET", f"/v1/customers/{cid}", "not-a-key", {}),
        ("GET", "/v1/customers/c_no_such_customer", finance, {}),
        ("DELETE", f"/v1/customers/{cid}", finance, {}),
        ("POST", "/v1/customers:batchGet", finance, {"json": {"ids": [cid, "c_no_such_customer"]}}),
        ("POST", "/v1/customers:batchGet", finance, {"json": {"ids": []}}),
        ("POST", "/v1/customers:batchGet", finance, {"json": {"ids": [cid] * (MAX_BATCH + 1)}}),
        ("POST", "/v1/customers:batchGet", finance, {"json": {"ids": [cid], "extra": 1}}),
        ("POST", "/v1/customers:batchGet", finance, {"json": {"ids": ["bad!id"]}}),
        (
            "POST",
            "/v1/customers:batchGet",
            finance,
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
        ),
        ("POST", "/v1/customers:batchGet", None, {"json": {"ids": [cid]}}),
        ("GET", "/v1/customers:batchGet", finance, {}),
        ("GET", f"/v1/customers:lookup?email={email}", finance, {}),
        ("GET", "/v1/customers:lookup?email=nobody@example.invalid", finance, {}),
        ("GET", "/v1/customers:lookup?source=billing", finance, {}),
        ("GET", "/v1/customers:lookup?source=nowhere&key=1", finance, {}),
        ("GET", f"/v1/customers:lookup?email={email}", demo.keys["support"], {}),
        ("GET", "/v1/customers?limit=5", finance, {}),
        ("GET", "/v1/customers?limit=0", finance, {}),
        ("GET", "/v1/customers?cursor=garbage", finance, {}),
        ("GET", "/v1/customers?changed_since=yesterday", finance, {}),
        ("GET", "/v1/schema", finance, {}),
        ("GET", "/v1/schema?x=1", finance, {}),
        ("PUT", "/v1/schema", finance, {}),
        ("GET", "/v1/subscriptions", owner, {}),
        ("GET", "/v1/subscriptions", finance, {}),
        ("GET", "/healthz", None, {}),
        ("POST", "/healthz", None, {}),
        ("GET", "/readyz", None, {}),
        ("GET", "/metrics", owner, {}),
        ("GET", "/metrics", finance, {}),
        ("GET", "/metrics", None, {}),
        ("POST", "/v1/erasures", None, {"json": {"email": email, "reason": "test"}}),
        ("POST", "/v1/erasures", finance, {"json": {"email": email, "reason": "test"}}),
        ("POST", "/v1/erasures", finance, {"json": {"email": email}}),
    ]
    observed: set[int] = set()
    for method, path, key, kw in cases:
        headers = {**({"Authorization": f"Bearer {key}"} if key else {}), **kw.pop("headers", {})}
        r = client.request(method, path, headers=headers, **kw)
        observed.add(r.status_code)
        template, op = operation(doc, method, path.split("?")[0])
        if op is None:
            # No such operation: the answer is 405, and its Allow names exactly the documented methods.
            allowed = {m.upper() for m in doc["paths"][template]}
            assert r.status_code == 405, (method, path, r.status_code)
            assert set(r.headers["allow"].replace(" ", "").split(",")) == allowed, (method, path)
            continue
        assert str(r.status_code) in op["responses"], (method, path, r.status_code, sorted(op["responses"]), r.text)
        assert r.status_code != 422
        if r.status_code >= 400:
            assert set(r.json()) == {"error"}, (method, path, r.text)  # the declared error body
    # The cases reach the answers that matter, so the check above is not vacuous.
    assert {200, 304, 400, 401, 403, 404, 405} <= observed, sorted(observed)


# -- a client generated from the document, against a real server ------------------------------


def generator() -> str:
    """``openapi-python-client`` (``tests/tools.sh openapi-client`` installs it, in CI it is installed now)."""
    places = [os.environ.get("C360_OPENAPI_CLIENT_BIN", ""), str(ROOT / ".venv" / "openapi-client" / "bin")]

    def found() -> str | None:
        for place in places:
            if place and os.access(Path(place) / GENERATOR, os.X_OK):
                return str(Path(place) / GENERATOR)
        return shutil.which(GENERATOR)

    exe = found()
    if exe is None and os.environ.get("CI"):
        done = subprocess.run(
            ["bash", str(ROOT / "tests" / "tools.sh"), "openapi-client"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, f"tests/tools.sh openapi-client failed:\n{done.stdout}\n{done.stderr}"
        exe = found()
        assert exe is not None, "tests/tools.sh openapi-client installed no openapi-python-client"
    if exe is None:
        pytest.skip(f"{GENERATOR} is not installed (tests/tools.sh openapi-client installs it; in CI it must run)")
    return exe


@pytest.fixture(scope="module")
def server(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("openapi-serve") / "serve.log"
    env = {"C360_SERVING": "memory", "C360_MASK_KEY": "k" * 32}
    proc, port = servers.start(demo.spec_path, demo.store_url, log, env=env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        servers.stop(proc)


def test_a_generated_client_works_against_the_server(server: str, demo: Demo, tmp_path: Path) -> None:
    exe = generator()
    (tmp_path / "openapi.json").write_bytes(httpx.get(f"{server}/openapi.json", timeout=10).content)
    (tmp_path / "config.yaml").write_text("post_hooks: []\n")  # no formatter run on the output
    package = "c360_generated_client"
    done = subprocess.run(
        [exe, "generate", "--path", "openapi.json", "--output-path", package, "--meta", "none", *FLAGS],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    sys.path.insert(0, str(tmp_path))
    try:
        gen = importlib.import_module(package)
        api = importlib.import_module(f"{package}.api.default")
        models = importlib.import_module(f"{package}.models")
        get_customer = importlib.import_module(f"{package}.api.default.get_customer")
        batch_get = importlib.import_module(f"{package}.api.default.batch_get_customers")
        lookup = importlib.import_module(f"{package}.api.default.lookup_customer")
        assert api is not None

        key = demo.keys["finance"]
        client = gen.AuthenticatedClient(base_url=server, token=key, raise_on_unexpected_status=True)
        # the first customers with a billing e-mail (a customer without one has nothing to look up by)
        ids = [c for c in sorted(demo.records) if demo.records[c].get("billing_contact_email")][:3]
        raw = {
            c: httpx.get(f"{server}/v1/customers/{c}", headers={"Authorization": f"Bearer {key}"}).json() for c in ids
        }
        with client:
            got = get_customer.sync(customer_id=ids[0], client=client)
            assert isinstance(got, models.GetCustomerResponse200)
            assert got["customer_id"] == ids[0] and got.to_dict() == raw[ids[0]]
            assert got["account_name"] == demo.records[ids[0]]["account_name"]
            assert "open_tickets" not in got  # finance's projection only

            missing = get_customer.sync(customer_id="c_no_such_customer", client=client)
            assert isinstance(missing, models.GetCustomerResponse404) and missing.error.code == "not_found"
            bad = get_customer.sync(customer_id="bad!id", client=client)
            assert isinstance(bad, models.GetCustomerResponse400) and bad.error.code == "invalid_id"

            batch = batch_get.sync(client=client, body=models.BatchGet(ids=[*ids, "c_no_such_customer"]))
            assert isinstance(batch, models.BatchGetCustomersResponse200)
            assert batch.not_found == ["c_no_such_customer"]
            assert all(isinstance(item, models.BatchGetCustomersResponse200ItemsItem) for item in batch.items)
            assert {item["customer_id"]: item.to_dict() for item in batch.items} == raw
            too_many = batch_get.sync(client=client, body=models.BatchGet(ids=[ids[0]] * (MAX_BATCH + 1)))
            assert isinstance(too_many, models.BatchGetCustomersResponse400)
            assert too_many.error.code == "batch_too_large"

            email = raw[ids[0]]["billing_contact_email"]
            found = lookup.sync(client=client, email=email)
            assert isinstance(found, models.LookupCustomerResponse200)
            assert ids[0] in {item["customer_id"] for item in found.items}
            assert all(isinstance(item, models.LookupCustomerResponse200ItemsItem) for item in found.items)

        anonymous = gen.Client(base_url=server, raise_on_unexpected_status=True)
        with anonymous:
            denied = get_customer.sync(customer_id=ids[0], client=anonymous)
            assert isinstance(denied, models.GetCustomerResponse401) and denied.error.code == "unauthenticated"
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
            del sys.modules[name]
