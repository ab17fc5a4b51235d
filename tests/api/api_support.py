"""Test support for the API: a real uvicorn server in a thread, a TCP proxy to take Neo4j away.

Tests talk HTTP to the app exactly as clients do (httpx over loopback); the app talks Bolt to
the real Neo4j of the session fixture, directly or through ``TcpProxy`` when a test needs to
cut the connection (Neo4j "away") or slow it down (deadline) and later restore it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any, Self

import httpx
import uvicorn
from fastapi import FastAPI

__all__ = ["ADMIN", "ANALYST", "KEYS", "VIEWER", "ApiServer", "Client", "TcpProxy", "free_port"]

VIEWER = "viewer-key-7f3a9c21d4e8b6a0f5c2"
ANALYST = "analyst-key-2b8e4d6f0a1c3e5b7d9f"
ADMIN = "admin-key-9c1e3a5b7d2f4e6a8c0b1"
KEYS: dict[str, dict[str, str]] = {
    VIEWER: {"user": "vera", "role": "viewer"},
    ANALYST: {"user": "alice", "role": "analyst"},
    ADMIN: {"user": "adam", "role": "admin"},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ApiServer:
    """uvicorn serving ``app`` on a free loopback port, in a background thread."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", proxy_headers=False,
                                access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}", daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)

    def client(self, key: str | None = None, *, bearer: bool = False, timeout: float = 30.0) -> Client:
        return Client(self.url, key, bearer=bearer, timeout=timeout)


class Client:
    """A GraphQL client with one credential."""

    def __init__(self, url: str, key: str | None, *, bearer: bool = False, timeout: float = 30.0) -> None:
        headers = {}
        if key is not None:
            headers = {"Authorization": f"Bearer {key}"} if bearer else {"X-API-Key": key}
        self.http = httpx.Client(base_url=url, headers=headers, timeout=timeout)

    def post(self, query: str, variables: dict[str, Any] | None = None, operation_name: str | None = None) -> httpx.Response:
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        if operation_name is not None:
            body["operationName"] = operation_name
        return self.http.post("/graphql", json=body)

    def gql(self, query: str, variables: dict[str, Any] | None = None, operation_name: str | None = None) -> dict[str, Any]:
        """The JSON body; fails the test on a non-200 status."""
        r = self.post(query, variables, operation_name)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of an answer that must have no errors."""
        body = self.gql(query, variables)
        assert "errors" not in body, body["errors"]
        return body["data"]

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TcpProxy:
    """A loopback TCP proxy in its own thread; ``stop()`` cuts every connection, ``start()`` again."""

    def __init__(self, target_host: str, target_port: int, delay_s: float = 0.0) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.delay_s = delay_s
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=f"proxy-{self.port}", daemon=True)
        self.thread.start()
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    def start(self) -> TcpProxy:
        self._call(self._start())
        return self

    def stop(self) -> None:
        self._call(self._stop())

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for w in list(self._writers):
            w.close()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update({writer, up_writer})

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    if self.delay_s:
                        await asyncio.sleep(self.delay_s)
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.discard(writer)
        self._writers.discard(up_writer)
