"""Interop server on Python's websockets (10.4, asyncio API).

    /usr/bin/python3 websockets_server.py [--port N]

Speaks the contract described at the top of tests/integration/test_interop.py:
prints `PORT <n>`, then event lines. permessage-deflate is websockets'
default; v2.wsgather is selected when offered.
"""

import argparse
import asyncio
import http
from urllib.parse import urlsplit

import websockets
from websockets.exceptions import ConnectionClosed

import contract as c


async def refuse_unknown(target, _headers):
    if urlsplit(target).path not in c.PATHS:
        return http.HTTPStatus.NOT_FOUND, [], b"404\n"
    return None


async def handler(ws, _path=None):
    target = ws.path
    path = urlsplit(target).path
    if path == "/headers":
        c.emit(f"HEADER {target} {c.HEADER}: {ws.request_headers.get(c.HEADER, '')}")
    if ws.subprotocol:
        c.emit(f"PROTO {target} {ws.subprotocol}")
    for extension in ws.extensions:
        c.emit(f"EXT {target} {extension.name}")
    c.emit(f"OPEN {target}")
    try:
        if path == "/json":
            await ws.send(c.JSON)
        elif path == "/text":
            await ws.send(c.TEXT)
        elif path == "/binary":
            await ws.send(c.BINARY)
        elif path == "/big":
            await ws.send(c.BIG)
        elif path == "/headers":
            await ws.send(ws.request_headers.get(c.HEADER, ""))
        elif path == "/close":
            await ws.close(c.CLOSE_CODE, c.CLOSE_REASON)
        async for _ in ws:
            pass
    except ConnectionClosed:
        pass
    c.emit(c.close_event(target, ws.close_code))


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = await websockets.serve(handler, "127.0.0.1", args.port, process_request=refuse_unknown,
                                    subprotocols=[c.SUBPROTOCOL], compression="deflate",
                                    max_size=None, ping_interval=None)
    c.emit(f"PORT {server.sockets[0].getsockname()[1]}")
    await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
