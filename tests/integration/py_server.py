"""A second, independent WebSocket server for the integration tests.

    /usr/bin/python3 py_server.py [--port N]

Built on Python's websockets library (10.4, asyncio API), so that wsgather is
checked against a peer other than Beast. It speaks a subset of the Beast
test server's contract (tests/server/test_server.cpp), with the same stdout:
`PORT <n>` once listening, then flushed event lines

    HEADER <name>: <value>   (/headers only, before OPEN)
    OPEN <target>
    RECV <target> <text>
    RECVBIN <target> <hex>
    CLOSE <target> <code>    (`none` when no close frame came)

Paths: /count?n=N&size=S&rate=R&close=1000|CODE|drop|none, /echo, /headers
(prints the request headers, then echoes), /mixed,
/status/CODE?retry_after=X&location=URL, /loop (HTTP 302 to itself).
Anything else gets HTTP 404. An HTTP answer is reported as `HTTP <target> <code>`.

Beyond the Beast server's contract: /fragmented sends a few messages split
into several frames each, then closes with 1000; `--compress` offers
permessage-deflate to clients that ask for it; `--ping SECONDS` pings every
client that often and drops it (close 1011) when a pong is that late.
"""

import argparse
import asyncio
import http
import sys
from urllib.parse import parse_qs, urlsplit

import websockets
from websockets.exceptions import ConnectionClosed


def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# /fragmented: each message is a list of fragments (frames).
FRAGMENTED = [
    ['{"a":', ' [1,', ' 2]', '}'],
    ["h", "é", "llo ", "wörld", ""],
    [b"\x00\x01", b"", b"\x02\xff"],
    ["", "", "7"],
]

MIXED = [
    '{"a":1}',
    'hello "world"',
    '{\n  "b": [1, 2.50, true, null],\n  "c": "x\\ty"\n}',
    bytes([0x00, 0x01, 0x02, 0xFF]),
    "",
    "line1\nline2",
    "42",
]


def count_message(k, size):
    plain = '{"i":%d}' % k
    if size <= len(plain):
        return plain
    head = '{"i":%d,"pad":"' % k
    if size >= len(head) + 2:
        return head + "x" * (size - len(head) - 2) + '"}'
    return plain[:-1] + " " * (size - len(plain)) + "}"


def query(target):
    parts = urlsplit(target)
    return parts.path, {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}


async def process_request(target, headers):
    """Answers /status/CODE and unknown paths with plain HTTP."""
    path, params = query(target)
    answer = None
    if path.startswith("/status/"):
        try:
            code = http.HTTPStatus(int(path[len("/status/"):]))
        except ValueError:
            code = http.HTTPStatus.BAD_REQUEST
        extra = [(name, params[key]) for key, name in (("retry_after", "Retry-After"), ("location", "Location"))
                 if key in params]
        answer = code, extra, f"{code.value}\n".encode()
    elif path == "/loop":
        answer = http.HTTPStatus.FOUND, [("Location", target)], b""
    elif path not in ("/count", "/echo", "/headers", "/mixed", "/fragmented"):
        answer = http.HTTPStatus.NOT_FOUND, [], b"404\n"
    if answer is not None:
        emit(f"HTTP {target} {answer[0].value}")
    return answer


async def read_loop(ws, target, echo):
    """Reports every message (and echoes it for /echo) until the connection ends."""
    try:
        async for message in ws:
            if isinstance(message, bytes):
                emit(f"RECVBIN {target} {message.hex()}")
            else:
                emit(f"RECV {target} {message}")
            if echo:
                await ws.send(message)
    except ConnectionClosed:
        pass
    # 1006: no close frame arrived; 1005: a close frame without a code.
    emit(f"CLOSE {target} {'none' if ws.close_code in (None, 1006) else ws.close_code}")


async def send_script(ws, messages, rate, after):
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        for k, message in enumerate(messages):
            if rate > 0:
                await asyncio.sleep(max(0.0, start + k / rate - loop.time()))
            elif k % 16 == 0:
                # send() only yields when the socket's buffer is full: let the
                # other connections (and this one's reader) run now and then.
                await asyncio.sleep(0)
            await ws.send(message)
        if after == "drop":
            ws.transport.abort()  # TCP close, no close frame
        elif after != "none":
            await ws.close(int(after))
    except ConnectionClosed:
        pass


async def handler(ws, _path=None):
    target = ws.path
    path, params = query(target)
    if path == "/headers":
        for name, value in ws.request_headers.raw_items():
            emit(f"HEADER {name}: {value}")
    emit(f"OPEN {target}")
    reader = asyncio.create_task(read_loop(ws, target, echo=path in ("/echo", "/headers")))
    if path == "/count":
        n = int(params.get("n", "0"))
        size = int(params.get("size", "0"))
        messages = (count_message(k, size) for k in range(1, n + 1))
        await send_script(ws, messages, float(params.get("rate", "0")), params.get("close", "1000"))
    elif path == "/mixed":
        await send_script(ws, MIXED, 0, "1000")
    elif path == "/fragmented":
        await send_script(ws, FRAGMENTED, 0, "1000")
    await reader


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--compress", action="store_true")
    parser.add_argument("--ping", type=float, default=None)
    args = parser.parse_args()
    server = await websockets.serve(handler, "127.0.0.1", args.port, process_request=process_request,
                                    ping_interval=args.ping, ping_timeout=args.ping, max_size=None,
                                    compression="deflate" if args.compress else None)
    port = server.sockets[0].getsockname()[1]
    emit(f"PORT {port}")
    await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
