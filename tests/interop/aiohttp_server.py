"""Interop server on aiohttp (web.WebSocketResponse).

    /usr/bin/python3 aiohttp_server.py [--port N]

Speaks the contract described at the top of tests/integration/test_interop.py:
prints `PORT <n>`, then event lines. permessage-deflate is accepted when
offered (compress=True); v2.wsgather is selected when offered.
"""

import argparse
import asyncio

from aiohttp import web

import contract as c


async def handler(request):
    target, path = request.path_qs, request.path
    if path not in c.PATHS:
        raise web.HTTPNotFound()
    ws = web.WebSocketResponse(protocols=(c.SUBPROTOCOL,), compress=True, max_msg_size=0, autoping=True)
    await ws.prepare(request)
    if path == "/headers":
        c.emit(f"HEADER {target} {c.HEADER}: {request.headers.get(c.HEADER, '')}")
    if ws.ws_protocol:
        c.emit(f"PROTO {target} {ws.ws_protocol}")
    if ws.compress:  # the negotiated window bits, 0 when not negotiated
        c.emit(f"EXT {target} permessage-deflate")
    c.emit(f"OPEN {target}")
    if path == "/json":
        await ws.send_str(c.JSON)
    elif path == "/text":
        await ws.send_str(c.TEXT)
    elif path == "/binary":
        await ws.send_bytes(c.BINARY)
    elif path == "/big":
        await ws.send_str(c.BIG)
    elif path == "/headers":
        await ws.send_str(request.headers.get(c.HEADER, ""))
    elif path == "/close":
        await ws.close(code=c.CLOSE_CODE, message=c.CLOSE_REASON.encode())
    async for _ in ws:
        pass
    c.emit(c.close_event(target, ws.close_code))
    return ws


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port)
    await site.start()
    c.emit(f"PORT {runner.addresses[0][1]}")
    await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
