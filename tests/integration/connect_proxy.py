"""An HTTP CONNECT proxy for the integration tests of proxy support.

    /usr/bin/python3 connect_proxy.py [--auth USER:PASS] [--refuse CODE]

Listens on 127.0.0.1, port 0, prints `PORT <n>`, then flushed event lines:

    CONNECT <authority> <auth>   a request came; <auth> is its
                                 Proxy-Authorization value as sent, or `-`.
                                 Another method shows as `<METHOD> <target> <auth>`.
    REFUSED <code> <authority>   the request was answered with that error
    CLOSED <authority>           a tunnel ended (both directions closed)

A CONNECT that passes is answered `HTTP/1.1 200 Connection established`
and the bytes are then relayed both ways as they come. An end of stream on
one side is passed on as such (half-close); the tunnel ends once both
directions have ended, or at once when a side fails.

Refusals, checked in this order; each answer has a short body and
`Connection: close`, and the connection is then closed:

    400  the request head cannot be read (authority `-`)
    405  a method other than CONNECT
    400  the authority is not host:port (IPv6 in brackets)
    407  --auth is given and Proxy-Authorization is not Basic USER:PASS
         (with `Proxy-Authenticate: Basic realm="test"`)
    403  a target host other than 127.0.0.1, ::1 or localhost: the tests
         never reach beyond this machine through it
    CODE every request that got this far, with --refuse CODE
    502  the target does not accept the connection

Exits on SIGTERM or SIGINT.
"""

import argparse
import asyncio
import base64
import binascii
import http
import signal
import sys

LOCAL_HOSTS = {"127.0.0.1", "::1", "localhost"}

# A client that sends no complete request head within this long is dropped.
REQUEST_TIMEOUT = 10.0


def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def split_authority(authority):
    """("host", port) from "host:port" or "[v6]:port"; None if malformed."""
    host, sep, port = authority.rpartition(":")
    if not sep or not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        return None  # IPv6 without brackets
    if not host:
        return None
    return host, int(port)


def credentials_match(value, expected):
    """Whether a Proxy-Authorization value is Basic with the `user:pass` expected."""
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        return base64.b64decode(token.strip(), validate=True) == expected.encode()
    except (binascii.Error, ValueError):
        return False


class BadRequest(Exception):
    """The request head is cut short, too long, too slow or malformed."""


async def read_request(reader):
    """(method, target, headers with lower-case names), or None if the
    client closed without sending anything."""
    try:
        raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT)
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            return None
        raise BadRequest() from e
    except (asyncio.TimeoutError, asyncio.LimitOverrunError) as e:
        raise BadRequest() from e
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise BadRequest()
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return parts[0], parts[1], headers


async def refuse(writer, code, authority, extra=""):
    emit(f"REFUSED {code} {authority}")
    try:
        reason = http.HTTPStatus(code).phrase
    except ValueError:
        reason = "Refused"
    body = f"{code}\n".encode()
    writer.write((f"HTTP/1.1 {code} {reason}\r\n{extra}Content-Type: text/plain\r\n"
                  f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body)
    await writer.drain()


async def pipe(reader, writer):
    """Copies until the reader's end of stream, then passes that end on."""
    while True:
        data = await reader.read(65536)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    if writer.can_write_eof():
        writer.write_eof()


async def close(writer):
    writer.close()
    try:
        await writer.wait_closed()
    except (ConnectionError, OSError):
        pass


class Proxy:
    def __init__(self, auth, refuse_code):
        self.auth = auth
        self.refuse_code = refuse_code

    async def handle(self, reader, writer):
        try:
            await self.serve(reader, writer)
        except (ConnectionError, OSError):
            pass
        finally:
            await close(writer)

    async def serve(self, reader, writer):
        try:
            request = await read_request(reader)
        except BadRequest:
            await refuse(writer, 400, "-")
            return
        if request is None:
            return
        method, authority, headers = request
        emit(f"{method} {authority} {headers.get('proxy-authorization') or '-'}")

        if method != "CONNECT":
            await refuse(writer, 405, authority)
            return
        target = split_authority(authority)
        if target is None:
            await refuse(writer, 400, authority)
            return
        if self.auth is not None and not credentials_match(headers.get("proxy-authorization", ""), self.auth):
            await refuse(writer, 407, authority, 'Proxy-Authenticate: Basic realm="test"\r\n')
            return
        host, port = target
        if host.lower() not in LOCAL_HOSTS:
            await refuse(writer, 403, authority)
            return
        if self.refuse_code is not None:
            await refuse(writer, self.refuse_code, authority)
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
        except OSError:
            await refuse(writer, 502, authority)
            return

        try:
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            # Bytes the client sent right after its request (a TLS
            # ClientHello, say) wait in `reader`'s buffer and go first.
            relays = [asyncio.create_task(pipe(reader, upstream_writer)),
                      asyncio.create_task(pipe(upstream_reader, writer))]
            try:
                # A failure on either side ends both directions at once;
                # a clean end of stream lets the other direction finish.
                done, pending = await asyncio.wait(relays, return_when=asyncio.FIRST_EXCEPTION)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*relays, return_exceptions=True)
            finally:
                for task in relays:
                    task.cancel()
        finally:
            await close(upstream_writer)
            emit(f"CLOSED {authority}")


def status_code(text):
    code = int(text)
    if not 100 <= code <= 599:
        raise argparse.ArgumentTypeError(f"not an HTTP status code: {text}")
    return code


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--auth", metavar="USER:PASS", help="require these Basic credentials")
    parser.add_argument("--refuse", metavar="CODE", type=status_code, help="answer every CONNECT with CODE")
    args = parser.parse_args()
    if args.auth is not None and ":" not in args.auth:
        parser.error("--auth takes USER:PASS")

    proxy = Proxy(args.auth, args.refuse)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    emit(f"PORT {server.sockets[0].getsockname()[1]}")
    await stop.wait()
    # Not wait_closed(): from Python 3.12 on it waits for the open tunnels,
    # which asyncio.run() cancels instead.
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
