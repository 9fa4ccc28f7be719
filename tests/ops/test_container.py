"""The image: a numeric non-root user, a health check on /readyz; checkov's Dockerfile checks pass."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.ops.test_helm import _tool

DOCKERFILE = Path(__file__).parents[2] / "Dockerfile"


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    text = DOCKERFILE.read_text()
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] == "10001"  # numeric: runAsNonRoot can verify it
    assert "--uid 10001" in text


def test_the_health_check_asks_for_readiness() -> None:
    text = DOCKERFILE.read_text()
    check = re.search(r"^HEALTHCHECK .*?(?<!\\)\n", text, re.M | re.S)
    assert check and "/readyz" in check.group(0) and "CMD" in check.group(0)


def test_checkov_passes_the_dockerfile(tmp_path: Path) -> None:
    checkov = _tool("checkov")
    done = subprocess.run(
        [checkov, "-f", str(DOCKERFILE), "--framework", "dockerfile", "-o", "json", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    failed = [c["check_id"] for c in report.get("results", {}).get("failed_checks", [])]
    assert not failed and done.returncode == 0, (failed, done.stderr[-2000:])
