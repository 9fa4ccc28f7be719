"""A Python client for a served c360 product (``c360 serve``).

::

    from c360 import Client

    with Client("http://127.0.0.1:8360", api_key="...") as c360:
        customer = c360.get("c_8k2m4q7r9t1v")
        print(customer.account_name, customer["mrr"])
        for page in c360.changes(since="2026-06-01T00:00:00Z"):
            for item in page:
                ...

The client retries ``429`` and ``5xx`` answers with exponential backoff, honouring
``Retry-After``; revalidates with ``If-None-Match`` (a ``304`` returns the cached answer);
follows a ``308`` from a merged id to the surviving customer; and types each answer from the
caller's own ``/v1/schema`` (timestamps as :class:`datetime.datetime`, dates as
:class:`datetime.date`, decimals as :class:`decimal.Decimal`; masked fields as served).
Every error it raises is a :class:`ClientError`, itself a :class:`c360.core.errors.C360Error`.
"""

from __future__ import annotations

import builtins
import datetime as dt
import email.utils
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypedDict, cast
from urllib.parse import urljoin

import httpx

from c360.core.errors import C360Error

__all__ = [
    "BadRequest",
    "Client",
    "ClientError",
    "Customer",
    "FieldInfo",
    "Forbidden",
    "Gone",
    "NotFound",
    "Page",
    "RateLimited",
    "Schema",
    "ServerError",
    "TransportFailed",
    "Unauthorized",
]

# --------------------------------------------------------------------------- errors


class ClientError(C360Error):
    """An answer the API refused with (or no answer at all). ``code`` is the API's error code."""

    def __init__(self, status: int, code: str, message: str, response: httpx.Response | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.response = response
        super().__init__(f"{status} {code}: {message}" if status else f"{code}: {message}")


class BadRequest(ClientError):
    """400: a malformed id, an unknown parameter, an oversize batch, a bad cursor."""


class Unauthorized(ClientError):
    """401: no key or token, or one that is unknown, revoked or expired."""


class Forbidden(ClientError):
    """403: the consumer is not granted what it asked for."""


class NotFound(ClientError):
    """404: no such customer, or none this consumer may see."""


class Gone(ClientError):
    """410: the major this consumer is pinned to is past its sunset."""


class RateLimited(ClientError):
    """429 after every retry; ``retry_after`` is the server's last ``Retry-After`` in seconds."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        response: httpx.Response | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, code, message, response)
        self.retry_after = retry_after


class ServerError(ClientError):
    """5xx after every retry (``503 source_unavailable``, ``503 not_ready``, ...)."""


class TransportFailed(ClientError):
    """The server could not be reached (after every retry)."""


_BY_STATUS: dict[int, type[ClientError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    410: Gone,
    429: RateLimited,
}

# --------------------------------------------------------------------------- typed results

_PY_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "decimal": Decimal,
    "boolean": bool,
    "timestamp": dt.datetime,
    "date": dt.date,
    "json": object,
}


@dataclass(frozen=True)
class FieldInfo:
    """One field of the caller's schema."""

    name: str
    type: str
    unit: str | None = None
    description: str | None = None
    pii: bool = False
    masking: Any = None
    lineage: Any = None

    @property
    def python_type(self) -> builtins.type:
        """The Python type of its values (``str`` when masked: a mask is served as text)."""
        return str if self.masking else _PY_TYPES.get(self.type, object)

    def convert(self, value: Any) -> Any:
        """A served JSON value as this field's Python type (left as served if it cannot be)."""
        if value is None or self.masking:
            return value
        try:
            if self.type == "timestamp" and isinstance(value, str):
                return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            if self.type == "date" and isinstance(value, str):
                return dt.date.fromisoformat(value[:10])
            if self.type == "decimal" and isinstance(value, (int, float, str)) and not isinstance(value, bool):
                return Decimal(str(value))
        except (ValueError, InvalidOperation):
            return value
        return value


@dataclass(frozen=True)
class Schema:
    """The caller's ``/v1/schema``: its fields in order, and the rest of the document."""

    consumer: str
    product: str
    version: str
    fields: dict[str, FieldInfo]
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Schema:
        fields = {
            f["name"]: FieldInfo(
                name=f["name"],
                type=f.get("type", "json"),
                unit=f.get("unit"),
                description=f.get("description"),
                pii=bool(f.get("pii")),
                masking=f.get("masking"),
                lineage=f.get("lineage"),
            )
            for f in body.get("fields", [])
        }
        return cls(
            str(body.get("consumer", "")),
            str(body.get("product", "")),
            str(body.get("version", "")),
            fields,
            dict(body),
        )

    def typed_dict(self) -> type:
        """A ``TypedDict`` of this consumer's fields, made at run time (for ``typing.get_type_hints``)."""
        hints: dict[str, Any] = {name: f.python_type | None for name, f in self.fields.items()}
        name = "Customer_" + "".join(ch if ch.isalnum() else "_" for ch in self.consumer or "any")
        made: Any = TypedDict(name, hints, total=False)  # type: ignore[misc]
        return cast(builtins.type, made)


class Customer(Mapping[str, Any]):
    """One customer as the caller is served it: a read-only mapping with typed attribute access.

    ``customer["mrr"]`` and ``customer.mrr`` give the same value, converted by the field's type in
    ``/v1/schema``; :attr:`raw` is the JSON as served. An attribute that is not one of the
    consumer's fields raises :class:`AttributeError`.
    """

    __slots__ = ("_values", "raw", "schema")

    def __init__(self, raw: Mapping[str, Any], schema: Schema | None = None) -> None:
        self.raw = dict(raw)
        self.schema = schema
        fields = schema.fields if schema else {}
        self._values = {k: (fields[k].convert(v) if k in fields else v) for k, v in self.raw.items()}

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"customer has no field '{name}' for this consumer") from None

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._values})

    @property
    def id(self) -> str | None:
        """``customer_id`` (``None`` if the consumer is not served it)."""
        value = self._values.get("customer_id")
        return None if value is None else str(value)

    def __repr__(self) -> str:
        return f"Customer({self._values!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Customer):
            return self._values == other._values
        return isinstance(other, Mapping) and dict(self._values) == dict(other)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class Page(Sequence[Customer]):
    """One page of ``GET /v1/customers``: its customers, the cursor to the next, the snapshot."""

    items: list[Customer]
    next_cursor: str | None
    snapshot: int | None = None
    built_at: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def __getitem__(self, index: Any) -> Any:
        return self.items[index]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Customer]:
        return iter(self.items)


@dataclass(frozen=True)
class BatchResult:
    """``POST /v1/customers:batchGet``: the customers found, and the ids that were not."""

    items: list[Customer]
    not_found: list[str]


# --------------------------------------------------------------------------- the client

Sleeper = Callable[[float], None]


class Client:
    """A client of one c360 product, as one consumer (an API key, or a JWT as ``token``).

    ``http`` may be any :class:`httpx.Client` (FastAPI's ``TestClient`` works); otherwise one is
    made and closed with this client. ``sleep`` is called with each backoff delay (inject one
    in tests). ``max_retries`` counts retries after the first attempt.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        token: str | None = None,
        http: httpx.Client | None = None,
        timeout: float = 10.0,
        max_retries: int = 4,
        backoff: float = 0.25,
        max_backoff: float = 30.0,
        max_redirects: int = 5,
        sleep: Sleeper = time.sleep,
    ) -> None:
        if api_key and token:
            raise ValueError("pass api_key or token, not both")
        self.base_url = base_url.rstrip("/") + "/"
        credential = api_key or token
        self._auth = {"Authorization": f"Bearer {credential}"} if credential else {}
        self._own_http = http is None
        self._http = http if http is not None else httpx.Client(timeout=timeout)
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_redirects = max_redirects
        self._sleep = sleep
        self._cache: dict[str, tuple[str, Any]] = {}  # url -> (etag, parsed body)
        self._schema: Schema | None = None

    # -- lifecycle

    def close(self) -> None:
        if self._own_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the API

    def schema(self, *, refresh: bool = False) -> Schema:
        """The caller's fields (``GET /v1/schema``), fetched once and kept."""
        if self._schema is None or refresh:
            self._schema = Schema.from_json(self._json("GET", "v1/schema"))
        return self._schema

    def get(self, customer_id: str, *, mode: str | None = None) -> Customer:
        """One customer; a merged id is followed to the surviving customer. :class:`NotFound` if none."""
        params = {"mode": mode} if mode else None
        return self._customer(self._json("GET", f"v1/customers/{customer_id}", params=params))

    def batch_get(self, ids: Sequence[str]) -> BatchResult:
        """Up to 500 customers in one call."""
        body = self._json("POST", "v1/customers:batchGet", body={"ids": list(ids)})
        return BatchResult([self._customer(i) for i in body.get("items", [])], list(body.get("not_found", [])))

    def lookup(self, *, source: str | None = None, key: str | None = None, email: str | None = None) -> list[Customer]:
        """The customers a source's key (``source=`` and ``key=``) or an ``email=`` belongs to."""
        if email is not None and (source is not None or key is not None):
            raise ValueError("look up by source and key, or by email, not both")
        if email is None and (source is None or key is None):
            raise ValueError("look up by source= and key= together, or by email=")
        params = {"email": email} if email is not None else {"source": source, "key": key}
        body = self._json("GET", "v1/customers:lookup", params=params)
        return [self._customer(i) for i in body.get("items", [])]

    def lookup_one(self, *, source: str | None = None, key: str | None = None, email: str | None = None) -> Customer:
        """The one customer of :meth:`lookup` (:class:`NotFound` if none)."""
        found = self.lookup(source=source, key=key, email=email)
        if not found:
            raise NotFound(404, "not_found", "no customer matches")
        return found[0]

    def page(self, *, limit: int = 100, cursor: str | None = None, changed_since: str | None = None) -> Page:
        """One page of ``GET /v1/customers``."""
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        if changed_since:
            params["changed_since"] = changed_since
        body = self._json("GET", "v1/customers", params=params)
        return Page(
            [self._customer(i) for i in body.get("items", [])],
            body.get("next_cursor"),
            body.get("snapshot"),
            body.get("built_at"),
            body,
        )

    def changes(self, since: str | dt.datetime | None = None, *, limit: int = 100) -> Iterator[Page]:
        """Every page of customers changed after ``since`` (all of them when ``None``), in id order.

        Pass the ``built_at`` of the last page you synced as the next ``since``.
        """
        if isinstance(since, dt.datetime):
            since = since.isoformat()
        cursor: str | None = None
        while True:
            page = self.page(limit=limit, cursor=cursor, changed_since=since)
            yield page
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def customers(self, *, limit: int = 100) -> Iterator[Customer]:
        """Every customer the caller may see, page by page."""
        for page in self.changes(limit=limit):
            yield from page

    # -- plumbing

    def _customer(self, raw: Mapping[str, Any]) -> Customer:
        return Customer(raw, self.schema())

    def _json(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None) -> Any:
        url = urljoin(self.base_url, path)
        for _ in range(self.max_redirects + 1):
            response = self._send(method, url, params, body)
            if response.status_code in (301, 302, 307, 308) and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                continue
            return self._parse(method, url, params, response)
        raise ClientError(0, "too_many_redirects", f"more than {self.max_redirects} redirects from {path}")

    def _cache_key(self, url: str, params: Mapping[str, Any] | None) -> str:
        return str(httpx.URL(url, params=dict(params) if params else None))

    def _send(self, method: str, url: str, params: Mapping[str, Any] | None, body: Any) -> httpx.Response:
        headers = {**self._auth, "Accept": "application/json"}
        cached = self._cache.get(self._cache_key(url, params)) if method == "GET" else None
        if cached:
            headers["If-None-Match"] = cached[0]
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method,
                    url,
                    params=dict(params) if params else None,
                    json=body,
                    headers=headers,
                    follow_redirects=False,
                )
            except httpx.TransportError as exc:
                if attempt >= self.max_retries:
                    raise TransportFailed(0, "transport_error", str(exc) or type(exc).__name__) from exc
                self._sleep(self._delay(attempt, None))
                attempt += 1
                continue
            status = response.status_code
            if (status == 429 or status >= 500) and attempt < self.max_retries:
                self._sleep(self._delay(attempt, response.headers.get("retry-after")))
                attempt += 1
                continue
            return response

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        wait = _retry_after_seconds(retry_after)
        if wait is None:
            wait = self.backoff * (2**attempt)
        return float(min(max(wait, 0.0), self.max_backoff))

    def _parse(self, method: str, url: str, params: Mapping[str, Any] | None, response: httpx.Response) -> Any:
        key = self._cache_key(url, params)
        status = response.status_code
        if status == 304 and key in self._cache:
            return self._cache[key][1]
        if 200 <= status < 300:
            parsed = response.json() if response.content else None
            etag = response.headers.get("etag")
            if method == "GET" and etag:
                self._cache[key] = (etag, parsed)
            return parsed
        raise _error(response)


def _retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _error(response: httpx.Response) -> ClientError:
    status = response.status_code
    code, message = "error", response.reason_phrase or f"HTTP {status}"
    try:
        payload = response.json()
        err = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(err, dict):
            code = str(err.get("code", code))
            message = str(err.get("message", message))
    except ValueError:
        pass
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ClientError)
    if cls is RateLimited:
        return RateLimited(status, code, message, response, _retry_after_seconds(response.headers.get("retry-after")))
    return cls(status, code, message, response)
