# c360: serve (and build) a governed Customer 360 product from your own infrastructure.
#   docker build -t c360 .
#   docker run -p 8360:8360 -v $PWD/product:/product -e C360_STORE_URL=postgresql://... c360
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
# PostgreSQL is the production store; add the extras of the sources you read, e.g. [postgres,stripe].
ARG EXTRAS=postgres
RUN pip install ".[${EXTRAS}]" && useradd --create-home --uid 10001 c360
USER c360
EXPOSE 8360
ENTRYPOINT ["c360"]
CMD ["serve", "/product/product.yaml", "--host", "0.0.0.0", "--port", "8360", "--workers", "2"]
