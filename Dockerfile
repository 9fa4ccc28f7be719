# c360: serve (and build) a governed Customer 360 product from your own infrastructure.
#   docker build -t c360 .
#   docker run -p 8360:8360 -v $PWD/product:/product -e C360_STORE_URL=postgresql://... c360
# Runs as the numeric user 10001 (no root, no shell login), with a read-only root filesystem where the
# orchestrator allows it: scratch goes to /tmp and the serving files to /var/cache/c360/serving.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HOME=/tmp C360_SERVING_DIR=/var/cache/c360/serving C360_LOG_FORMAT=logfmt
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
# PostgreSQL is the production store; add the extras of the sources you read, e.g. [postgres,stripe].
ARG EXTRAS=postgres
RUN pip install ".[${EXTRAS}]" \
 && groupadd --system --gid 10001 c360 \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin c360 \
 && install -d -o 10001 -g 10001 -m 0700 /var/cache/c360/serving
USER 10001:10001
EXPOSE 8360
# Ready means a snapshot is loaded (503 before the first build has published one).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8360/readyz', timeout=2).status != 200)"]
ENTRYPOINT ["c360"]
CMD ["serve", "/product/product.yaml", "--host", "0.0.0.0", "--port", "8360", "--workers", "2"]
