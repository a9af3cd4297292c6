"""A WebSocket server that breaks the protocol on purpose, for test_hostile.py.

    /usr/bin/python3 hostile_server.py [--port N]

No WebSocket library: the HTTP upgrade and the frames are written by hand
here, so that each path can break exactly one rule of RFC 6455. Listens on
127.0.0.1 (port 0 unless --port), prints `PORT <n>`, then flushed event lines:

    OPEN <target>          the answer to the upgrade request was sent (a good
                           one or, on the handshake paths, a bad one)
    CLOSE <target> <code>  the client's close frame arrived (1005: no code)
    EOF <target>           the client closed TCP without a close frame

Paths that misbehave after a valid handshake; each first sends the two
HELLO messages (one JSON text, one plain text), then breaks the rule, then
reads the client's frames until it closes:

    /invalid-utf8                 text frame that is not UTF-8
    /reserved-bits?bit=1|2|3      text frame with RSV1, RSV2 or RSV3 set
    /masked                       a masked frame (a server must not mask)
    /big-control                  ping with a 126-byte payload (16-bit length)
    /fragmented-control           ping with FIN=0
    /continuation-without-start   continuation frame with no message begun
    /interleaved-message          a new text frame inside a fragmented one
    /bad-opcode?op=N              frame with reserved opcode N (default 3)
    /non-canonical-length         5-byte text frame written with a 16-bit length
    /bad-close-code?code=N        close frame with code N (default 999)
    /too-big?size=N&fragments=K   a text message of N bytes (default 2048) in
                                  K frames (default 1)

Paths that break the opening handshake (no HELLO, nothing sent after it):

    /bad-accept                   101 with a wrong Sec-WebSocket-Accept
    /status-200                   200 OK with a body instead of 101
    /unrequested-subprotocol?protocol=P
                                  101 selecting subprotocol P (default x-chat)
    /unrequested-extension?name=E 101 enabling extension E (default
                                  permessage-deflate)

Every path above takes `times=N`: only the first N connections to that exact
target misbehave (default: all). Later ones get a valid handshake, the HELLO
messages and then silence until the client closes, so that a test can end
in a known state.

    /good?interval_ms=M           well-behaved: `{"n":k}` for k = 1, 2, ...
                                  every M ms (default 50), forever

Anything else gets HTTP 404. Pings from the client are answered; a client
close frame is answered with the same code, then TCP is closed.
"""

import argparse
import asyncio
import base64
import hashlib
import struct
import sys
from urllib.parse import parse_qs, urlsplit

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
HELLO = ['{"hello":1}', "hello two"]

# Opcodes.
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

# A connection the client leaves open and silent is dropped after this long,
# so that a test that failed cannot leave tasks behind for ever.
IDLE_LIMIT = 60.0

AFTER_HANDSHAKE = {
    "/invalid-utf8", "/reserved-bits", "/masked", "/big-control", "/fragmented-control",
    "/continuation-without-start", "/interleaved-message", "/bad-opcode", "/non-canonical-length",
    "/bad-close-code", "/too-big",
}
IN_HANDSHAKE = {"/bad-accept", "/status-200", "/unrequested-subprotocol", "/unrequested-extension"}


def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def frame(opcode, payload=b"", fin=True, rsv=0, mask=None, length_form=None):
    """One frame. rsv: bits 0b100 (RSV1), 0b010 (RSV2), 0b001 (RSV3).

    length_form forces the length encoding: 7, 16 or 64 bits (default: the
    shortest, as RFC 6455 requires).
    """
    if isinstance(payload, str):
        payload = payload.encode()
    head = bytearray([(0x80 if fin else 0) | (rsv << 4) | opcode])
    n = len(payload)
    if length_form is None:
        length_form = 7 if n < 126 else 16 if n < 65536 else 64
    mask_bit = 0x80 if mask is not None else 0
    if length_form == 7:
        head.append(mask_bit | n)
    elif length_form == 16:
        head.append(mask_bit | 126)
        head += struct.pack("!H", n)
    else:
        head.append(mask_bit | 127)
        head += struct.pack("!Q", n)
    if mask is not None:
        head += mask
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes(head) + payload


def accept_key(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def violation(path, params):
    """The bytes that break the rule of an after-handshake path."""
    if path == "/invalid-utf8":
        return frame(TEXT, b"caf\xc3\x28 \xff")
    if path == "/reserved-bits":
        bit = int(params.get("bit", "1"))
        return frame(TEXT, "reserved", rsv={1: 0b100, 2: 0b010, 3: 0b001}[bit])
    if path == "/masked":
        return frame(TEXT, "masked", mask=b"\x12\x34\x56\x78")
    if path == "/big-control":
        return frame(PING, b"p" * 126)
    if path == "/fragmented-control":
        return frame(PING, "half", fin=False)
    if path == "/continuation-without-start":
        return frame(CONT, "orphan")
    if path == "/interleaved-message":
        return frame(TEXT, "part one", fin=False) + frame(TEXT, "another message")
    if path == "/bad-opcode":
        return frame(int(params.get("op", "3")), "reserved opcode")
    if path == "/non-canonical-length":
        return frame(TEXT, "short", length_form=16)
    if path == "/bad-close-code":
        return frame(CLOSE, struct.pack("!H", int(params.get("code", "999"))))
    if path == "/too-big":
        size = int(params.get("size", "2048"))
        fragments = int(params.get("fragments", "1"))
        payload = b"x" * size
        step = -(-size // fragments)
        pieces = [payload[i:i + step] for i in range(0, size, step)]
        return b"".join(frame(TEXT if i == 0 else CONT, piece, fin=(i == len(pieces) - 1))
                        for i, piece in enumerate(pieces))
    raise ValueError(path)


def handshake_answer(path, params, key):
    """The HTTP answer to the upgrade request, as bytes; misbehaving when `path` says so."""
    if path == "/status-200":
        body = b"no WebSocket here\n"
        return (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body)) + body
    accept = accept_key(key)
    extra = ""
    if path == "/bad-accept":
        accept = accept_key(key + "x")  # well-formed, but for another key
    elif path == "/unrequested-subprotocol":
        extra = f"Sec-WebSocket-Protocol: {params.get('protocol', 'x-chat')}\r\n"
    elif path == "/unrequested-extension":
        extra = f"Sec-WebSocket-Extensions: {params.get('name', 'permessage-deflate')}\r\n"
    return ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept}\r\n{extra}\r\n").encode()


class Server:
    def __init__(self):
        self.connections = {}  # target -> connections so far

    async def read_request(self, reader):
        """The request line's target and the headers (lower-case names); None if unreadable."""
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            return None
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            return None
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        return parts[1], headers

    async def handle(self, reader, writer):
        try:
            await self.serve(reader, writer)
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass

    async def serve(self, reader, writer):
        request = await self.read_request(reader)
        if request is None:
            return
        target, headers = request
        parts = urlsplit(target)
        path = parts.path
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        key = headers.get("sec-websocket-key")
        if (path not in AFTER_HANDSHAKE | IN_HANDSHAKE | {"/good"}) or not key:
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\n404\n")
            await writer.drain()
            return

        number = self.connections.get(target, 0) + 1
        self.connections[target] = number
        misbehave = path != "/good" and ("times" not in params or number <= int(params["times"]))

        answer_path = path if misbehave and path in IN_HANDSHAKE else "/good"
        # Small writes, not drained: the transport sends them, and a client
        # that has gone already shows as EOF in read_frames().
        writer.write(handshake_answer(answer_path, params, key))
        emit(f"OPEN {target}")

        if path == "/good":
            sender = asyncio.create_task(self.send_numbered(writer, int(params.get("interval_ms", "50")) / 1000))
        elif misbehave and path in IN_HANDSHAKE:
            sender = None
        else:
            data = b"".join(frame(TEXT, text) for text in HELLO)
            if misbehave:
                data += violation(path, params)
            writer.write(data)
            sender = None
        try:
            await self.read_frames(reader, writer, target)
        finally:
            if sender is not None:
                sender.cancel()
                try:
                    await sender
                except (asyncio.CancelledError, ConnectionError, OSError):
                    pass

    async def send_numbered(self, writer, interval):
        loop = asyncio.get_running_loop()
        start = loop.time()
        k = 0
        while True:
            k += 1
            writer.write(frame(TEXT, '{"n":%d}' % k))
            await writer.drain()
            await asyncio.sleep(max(0.0, start + k * interval - loop.time()))

    async def read_frames(self, reader, writer, target):
        """Reads the client's frames until its close frame (answered) or EOF."""
        while True:
            try:
                head = await asyncio.wait_for(reader.readexactly(2), IDLE_LIMIT)
                n = head[1] & 0x7F
                if n == 126:
                    n = struct.unpack("!H", await reader.readexactly(2))[0]
                elif n == 127:
                    n = struct.unpack("!Q", await reader.readexactly(8))[0]
                mask = await reader.readexactly(4) if head[1] & 0x80 else None
                payload = await reader.readexactly(n)
            except (asyncio.IncompleteReadError, ConnectionError, OSError):
                emit(f"EOF {target}")
                return
            except asyncio.TimeoutError:
                emit(f"IDLE {target}")
                return
            if mask is not None:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            opcode = head[0] & 0x0F
            if opcode == CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                emit(f"CLOSE {target} {code}")
                writer.write(frame(CLOSE, payload[:2]))
                await writer.drain()
                return
            if opcode == PING:
                writer.write(frame(PONG, payload))
                await writer.drain()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    state = Server()
    server = await asyncio.start_server(state.handle, "127.0.0.1", args.port)
    emit(f"PORT {server.sockets[0].getsockname()[1]}")
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
