"""Interop server on Autobahn|Python (asyncio flavour, WebSocketServerProtocol).

    /usr/bin/python3 autobahn_server.py [--port N]

Speaks the contract described at the top of tests/integration/test_interop.py:
prints `PORT <n>`, then event lines. permessage-deflate is accepted when
offered (perMessageCompressionAccept); v2.wsgather is selected when offered.
"""

import argparse
import asyncio
from urllib.parse import urlsplit

from autobahn.asyncio.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateOfferAccept
from autobahn.websocket.types import ConnectionDeny

import contract as c


def accept_deflate(offers):
    for offer in offers:
        if isinstance(offer, PerMessageDeflateOffer):
            return PerMessageDeflateOfferAccept(offer)
    return None


class Protocol(WebSocketServerProtocol):

    path = None

    def onConnect(self, request):
        self.target = self.http_request_uri
        self.path = urlsplit(self.target).path
        if self.path not in c.PATHS:
            raise ConnectionDeny(ConnectionDeny.NOT_FOUND)
        self.header = request.headers.get(c.HEADER, "")  # Autobahn lower-cases header names
        return c.SUBPROTOCOL if c.SUBPROTOCOL in request.protocols else None

    def onOpen(self):
        path, target = self.path, self.target
        if path == "/headers":
            c.emit(f"HEADER {target} {c.HEADER}: {self.header}")
        if self.websocket_protocol_in_use:
            c.emit(f"PROTO {target} {self.websocket_protocol_in_use}")
        for extension in self.websocket_extensions_in_use:
            c.emit(f"EXT {target} {extension.EXTENSION_NAME}")
        c.emit(f"OPEN {target}")
        if path == "/json":
            self.sendMessage(c.JSON.encode())
        elif path == "/text":
            self.sendMessage(c.TEXT.encode())
        elif path == "/binary":
            self.sendMessage(c.BINARY, isBinary=True)
        elif path == "/big":
            self.sendMessage(c.BIG.encode())
        elif path == "/headers":
            self.sendMessage(self.header.encode())
        elif path == "/close":
            self.sendClose(code=c.CLOSE_CODE, reason=c.CLOSE_REASON)

    def onMessage(self, payload, isBinary):
        pass

    def onClose(self, wasClean, code, reason):
        if self.path in c.PATHS:  # not for refused handshakes
            c.emit(c.close_event(self.target, code))


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    factory = WebSocketServerFactory()
    factory.protocol = Protocol
    factory.setProtocolOptions(perMessageCompressionAccept=accept_deflate, maxMessagePayloadSize=0,
                               maxFramePayloadSize=0, autoPingInterval=0)
    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", args.port)
    c.emit(f"PORT {server.sockets[0].getsockname()[1]}")
    await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
