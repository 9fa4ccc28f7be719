"""The image: a numeric non-root user, a health check on /readyz; checkov's Dockerfile checks pass."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

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


def _instruction(text: str, name: str) -> str:
    """The last ``name`` instruction of the Dockerfile, its continuation lines joined."""
    found = re.findall(rf"^{name}\s+((?:.*\\\n)*.*)$", text, re.M)
    assert found, f"the Dockerfile has no {name}"
    return str(found[-1]).replace("\\\n", " ")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(600)
def test_the_dockerfile_steps_install_and_serve_a_ready_product(tmp_path: Path) -> None:
    """No daemon and no base image here: the image's own steps, run in a fresh venv instead.

    The COPY'd files alone are installed with the Dockerfile's pip line and default extras; the
    ENTRYPOINT and CMD serve a demo product built into a temp folder, and the HEALTHCHECK's
    request answers 200 once it is ready.
    """
    if not os.environ.get("CI") and not os.environ.get("C360_CONTAINER_TEST"):
        pytest.skip("installs the project into a fresh venv (minutes); runs under CI=true or C360_CONTAINER_TEST=1")
    text = DOCKERFILE.read_text()
    root = DOCKERFILE.parent
    app = tmp_path / "app"
    app.mkdir()
    for line in re.findall(r"^COPY\s+(.+)$", text, re.M):
        *sources, dest = line.split()
        for src in sources:
            target = app / dest if dest not in ("./", ".") else app
            if (root / src).is_dir():
                shutil.copytree(root / src, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy(root / src, app / Path(src).name)
    extras = re.search(r"^ARG\s+EXTRAS=(\S+)", text, re.M)
    assert extras, "the Dockerfile declares its default extras"
    run = _instruction(text, "RUN")
    pip = re.search(r'pip install "\.\[\$\{EXTRAS\}\]"', run)
    assert pip, f"the Dockerfile installs the project with its extras: {run[:120]}"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", f".[{extras.group(1)}]"], cwd=app, check=True, timeout=540)
    c360 = venv / "bin" / "c360"
    demo = tmp_path / "product"
    built = subprocess.run(
        [str(c360), "demo", "--dir", str(demo), "--accounts", "50", "--no-serve"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    entry = json.loads(_instruction(text, "ENTRYPOINT"))
    cmd = json.loads(_instruction(text, "CMD"))
    port = _free_port()
    args = [a.replace("/product/product.yaml", str(demo / "product.yaml")) for a in cmd]
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--port") + 1] = str(port)
    env = {**os.environ, "HOME": str(tmp_path), "C360_SERVING_DIR": str(tmp_path / "serving")}
    env.pop("VIRTUAL_ENV", None)
    check = _instruction(text, "HEALTHCHECK")
    url = re.search(r"http://127\.0\.0\.1:8360(/\w+)", check)
    assert url and url.group(1) == "/readyz"
    server = subprocess.Popen(
        [str(venv / "bin" / entry[0]), *args], cwd=demo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        status = 0
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{url.group(1)}", timeout=2) as r:
                    status = r.status
            except OSError:
                status = 0
            if status == 200 or server.poll() is not None:
                break
            time.sleep(0.5)
        assert status == 200, "not ready: " + (
            server.stdout.read1(8000).decode() if server.poll() is not None and server.stdout else ""
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
