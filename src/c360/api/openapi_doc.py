"""The API's OpenAPI document: the shapes its answers share, and only the status codes it gives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from c360.api.service import ID

JSON = "application/json"

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}
_CUSTOMER = {
    "type": "object",
    "description": "The caller's projection: only its granted fields",
    "additionalProperties": True,
}
_ITEMS: dict[str, Any] = {
    "type": "object",
    "required": ["items"],
    "properties": {"items": {"type": "array", "items": _CUSTOMER}},
    "additionalProperties": True,
}


def _err(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ERROR}}}


def _ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


COMMON: dict[int | str, dict[str, Any]] = {
    400: _err("Bad input: a malformed id, an unknown query parameter, an oversize batch"),
    401: _err("No key or token, or one that is unknown, revoked or expired"),
    403: _err("The consumer is not granted what it asked for"),
    429: _err("The consumer is over its rate limit; see Retry-After"),
}


# What FastAPI documents but this app never answers: request validation fails with 400 here.
_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_INVALID = _err("Bad input: the request does not match its parameters or body")
_STORE_DOWN = _err("The store cannot be reached; see Retry-After")
# Operations that never touch the store, so never answer its 503.
_STORELESS = frozenset({"getHealth"})


def truthful_openapi(build: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """``app.openapi`` that documents only the status codes the routes answer, once.

    FastAPI adds ``422`` to every operation with parameters; the validation handler above answers
    those requests ``400`` with the error body, so ``422`` goes (and its schemas with it), a ``400``
    stands in where the operation declared none, and a store that is down is a ``503`` for every
    operation that reads it. The ``customer_id`` path parameter declares the id pattern the
    service enforces (:data:`c360.api.service.ID`): documented, not validated by FastAPI, so a
    malformed id is still the service's ``invalid_id`` answer.
    """
    done: list[int] = []  # id() of the document already made truthful

    def openapi() -> dict[str, Any]:
        doc = build()
        if done and done[0] == id(doc):
            return doc
        for ops in doc.get("paths", {}).values():
            for op in ops.values():
                if not isinstance(op, dict) or "responses" not in op:
                    continue
                responses = op["responses"]
                if responses.pop("422", None) is not None:
                    responses.setdefault("400", _INVALID)
                if op.get("operationId") not in _STORELESS:
                    responses.setdefault("503", _STORE_DOWN)
                op["responses"] = dict(sorted(responses.items()))
                for param in op.get("parameters", []):
                    if param.get("in") == "path" and param.get("name") == "customer_id":
                        param["schema"] = {**param.get("schema", {}), "pattern": ID.pattern, "maxLength": 64}
        schemas = doc.get("components", {}).get("schemas", {})
        for name in _VALIDATION_SCHEMAS:  # the error list first: it is what refers to the item
            if name in schemas and f'"#/components/schemas/{name}"'.encode() not in orjson.dumps(doc):
                del schemas[name]
        done[:] = [id(doc)]
        return doc

    return openapi
