"""Redis serving's request reads: one pipelined connection per event loop, reads batched per turn.

Used by :class:`c360.api.serving_redis.RedisView` for the single-customer ``GET``, which the
API answers on its event loop: the read never blocks the loop (see :class:`Batcher`).
"""

from __future__ import annotations

import asyncio
import ssl
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from c360.core.errors import MissingDependency


def _unavailable(exc: BaseException) -> Exception:
    from c360.api.service import ApiError

    return ApiError(
        503, "serving_store_unavailable", f"the serving store (Redis) is unavailable: {exc}", [(b"retry-after", b"5")]
    )


READ_TIMEOUT = 2.0  # seconds a request waits for Redis before it answers 503


Reply = Callable[[Any], None]  # takes a command's reply, or the exception that stands for it


class _Link(asyncio.Protocol):
    """One pipelined connection to Redis: commands written back to back, replies taken in order.

    Each command's reply goes straight to its callback as it is parsed (hiredis), on the
    loop's own turn: no task and no future per command.
    """

    def __init__(self) -> None:
        import hiredis

        self.parser = hiredis.Reader()
        self.reply_error = hiredis.ReplyError
        self.waiting: deque[Reply] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed(data)
        while (reply := self.parser.gets()) is not False:
            if not self.waiting:  # a reply nobody asked for: the stream can no longer be trusted
                self.expire()
                return
            self.waiting.popleft()(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc or ConnectionError("Redis closed the connection")
        lost = ConnectionError(f"lost the connection to Redis: {self.lost}")
        while self.waiting:
            self.waiting.popleft()(lost)

    def send(self, commands: Sequence[Sequence[str | bytes]], replies: Sequence[Reply]) -> None:
        import hiredis

        assert self.transport is not None
        self.waiting.extend(replies)
        self.transport.write(b"".join(hiredis.pack_command(tuple(c)) for c in commands))  # type: ignore[arg-type]

    async def ask(self, command: Sequence[str | bytes]) -> Any:
        """One command's reply (connection set-up: AUTH, SELECT)."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.send([command], [lambda r: fut.set_exception(r) if isinstance(r, BaseException) else fut.set_result(r)])
        return await asyncio.wait_for(fut, READ_TIMEOUT)

    def expire(self) -> None:
        if self.transport is not None:
            self.transport.abort()


Waiters = dict[str, list["asyncio.Future[bytes | None]"]]  # field -> the reads waiting for it


def _fail(names: Waiters, exc: BaseException) -> None:
    for futs in names.values():
        for fut in futs:
            if not fut.done():
                fut.set_exception(_unavailable(exc))


def _deliver(names: Waiters, reply: Any) -> None:
    """One ``HMGET``'s reply (or its failure) to every read waiting on it."""
    if isinstance(reply, BaseException):
        _fail(names, reply)
        return
    for futs, value in zip(names.values(), reply, strict=True):
        for fut in futs:
            if not fut.done():
                fut.set_result(value)


class Batcher:
    """The single-customer reads of one event loop, sent to Redis together.

    A read waits for the loop's next turn; by then every request that arrived in the same
    turn has asked too, and they all go as one ``HMGET`` per hash, on one pipelined
    connection. At one request at a time that is one round trip; under load a worker no
    longer blocks a round trip per request, and Redis answers one command for many. A batch
    still being answered does not hold up the next one. A batch not answered within
    ``READ_TIMEOUT`` drops the connection (every read on it answers 503); the next batch
    connects again.
    """

    def __init__(self, url: str) -> None:
        from redis.connection import parse_url

        try:
            import hiredis  # noqa: F401  (the reply parser of the read connection)
        except ImportError:  # pragma: no cover - the redis extra installs it
            raise MissingDependency("hiredis", "redis") from None
        opts: dict[str, Any] = parse_url(url)  # type: ignore[no-untyped-call]
        self.path: str | None = opts.get("path")
        self.host: str = opts.get("host", "localhost")
        self.port: int = int(opts.get("port", 6379))
        self.tls = url.startswith("rediss://")
        self.setup: list[tuple[str, ...]] = []
        if opts.get("password"):
            user = opts.get("username")
            self.setup.append(("AUTH", user, opts["password"]) if user else ("AUTH", opts["password"]))
        if opts.get("db"):
            self.setup.append(("SELECT", str(opts["db"])))
        self.link: _Link | None = None
        self.connecting = asyncio.Lock()
        self.pending: dict[str, Waiters] = {}
        self.scheduled = False
        self.sending: set[asyncio.Task[None]] = set()

    def hget(self, key: str, name: str) -> asyncio.Future[bytes | None]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bytes | None] = loop.create_future()
        self.pending.setdefault(key, {}).setdefault(name, []).append(fut)
        if not self.scheduled:
            self.scheduled = True
            loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        self.scheduled = False
        batch, self.pending = self.pending, {}
        link = self.link
        if link is not None and link.lost is None:
            self._dispatch(link, batch)
            return
        task = asyncio.ensure_future(self._connect_then(batch))
        self.sending.add(task)
        task.add_done_callback(self.sending.discard)

    def _dispatch(self, link: _Link, batch: dict[str, Waiters]) -> None:
        timer = asyncio.get_running_loop().call_later(READ_TIMEOUT, link.expire)
        replies: list[Reply] = [partial(_deliver, names) for names in batch.values()]
        last = replies[-1]

        def last_reply(reply: Any) -> None:
            timer.cancel()
            last(reply)

        replies[-1] = last_reply
        link.send([("HMGET", key, *names) for key, names in batch.items()], replies)

    async def _connect_then(self, batch: dict[str, Waiters]) -> None:
        try:
            link = await self._link()
        except BaseException as exc:  # Redis down or refusing; or this task cancelled
            for names in batch.values():
                _fail(names, exc)
            if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                raise
            return
        self._dispatch(link, batch)

    async def _link(self) -> _Link:
        async with self.connecting:
            if self.link is None or self.link.lost is not None:
                loop = asyncio.get_running_loop()
                if self.path:
                    made = loop.create_unix_connection(_Link, self.path)
                else:
                    made = loop.create_connection(
                        _Link, self.host, self.port, ssl=ssl.create_default_context() if self.tls else None
                    )
                _, fresh = await asyncio.wait_for(made, READ_TIMEOUT)
                for command in self.setup:
                    await fresh.ask(command)
                self.link = fresh
            return self.link


_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Batcher]] = weakref.WeakKeyDictionary()


def batcher(url: str) -> Batcher:
    """The running event loop's batcher for the Redis at ``url``."""
    per_url = _batchers.setdefault(asyncio.get_running_loop(), {})
    found = per_url.get(url)
    if found is None:
        found = per_url[url] = Batcher(url)
    return found
