"""uvicorn's httptools protocol with a header-read timeout.

uvicorn closes a keep-alive connection that stays idle after an answer, but not one that
never sends a byte, nor one that trickles its headers a byte at a time: thousands of such
connections hold a server's sockets and memory for ever. Here each connection must send a
whole request head within ``C360_HEADER_TIMEOUT`` seconds of connecting, and again of each
answer; otherwise it is closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from c360.api.serve import header_timeout


class HeaderTimeoutProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timeout = header_timeout()
        self._head_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self._head_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Idle (uvicorn armed its keep-alive timer) rather than serving a pipelined request.
        if self.timeout_keep_alive_task is not None:
            self._arm()
