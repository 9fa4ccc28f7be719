"""``c360 sources discover`` lists the Customer 360 streams of the SaaS connectors."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from c360.cli import app
from tests.conftest import BuiltDemo
from tests.connectors.fakes.oauth import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, TokenIssuer
from tests.connectors.fakes.zendesk import ZendeskFake
from tests.connectors.httpfake import FakeServer, serve

runner = CliRunner()


@pytest.fixture
def zendesk() -> Iterator[FakeServer]:
    with serve(ZendeskFake(issuer=TokenIssuer(path="/oauth/tokens"))) as srv:
        yield srv


def test_discover_lists_new_streams_with_oauth_from_env_and_file(
    built_demo: BuiltDemo, tmp_path: Path, zendesk: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = tmp_path / "demo"
    shutil.copytree(built_demo.dir, d)
    (d / "zd_secret").write_text(CLIENT_SECRET + "\n")
    monkeypatch.setenv("ZD_REFRESH_TOKEN", REFRESH_TOKEN)
    spec = yaml.safe_load((d / "product.yaml").read_text())
    spec["sources"]["support_zd"] = {
        "description": "Zendesk through OAuth",
        "connector": "zendesk",
        "stream": "users",
        "base_url": zendesk.url,
        "key": "id",
        "identity": {"email": "email"},
        "oauth": {
            "grant": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret_file": "zd_secret",
            "refresh_token": "${ZD_REFRESH_TOKEN}",
        },
        "columns": {"id": "string", "email": "string"},
    }
    (d / "product.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    result = runner.invoke(app, ["sources", "check", str(d / "product.yaml"), "--source", "support_zd"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["sources", "discover", str(d / "product.yaml"), "support_zd"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for stream in ("tickets", "users", "organizations", "satisfaction_ratings", "ticket_metrics"):
        assert stream in result.output
    assert REFRESH_TOKEN not in result.output and CLIENT_SECRET not in result.output
    assert isinstance(zendesk.handler, ZendeskFake) and zendesk.handler.issuer is not None
    assert zendesk.handler.issuer.grants[0]["client_secret"] == CLIENT_SECRET
