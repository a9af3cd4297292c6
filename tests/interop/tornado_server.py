"""Interop server on tornado (tornado.websocket.WebSocketHandler).

    /usr/bin/python3 tornado_server.py [--port N]

Speaks the contract described at the top of tests/integration/test_interop.py:
prints `PORT <n>`, then event lines. permessage-deflate is accepted when
offered (get_compression_options); v2.wsgather is selected when offered.
"""

import argparse
import asyncio

import tornado.httpserver
import tornado.netutil
import tornado.web
import tornado.websocket

import contract as c


class Handler(tornado.websocket.WebSocketHandler):

    def get_compression_options(self):
        return {}  # accept permessage-deflate with default settings

    def select_subprotocol(self, subprotocols):
        return c.SUBPROTOCOL if c.SUBPROTOCOL in subprotocols else None

    def open(self, *_args):
        target = self.target = self.request.uri
        path = self.request.path
        if path == "/headers":
            c.emit(f"HEADER {target} {c.HEADER}: {self.request.headers.get(c.HEADER, '')}")
        if self.selected_subprotocol:
            c.emit(f"PROTO {target} {self.selected_subprotocol}")
        # Tornado has no public accessor: its protocol object holds a
        # compressor only when permessage-deflate was negotiated.
        if getattr(self.ws_connection, "_compressor", None) is not None:
            c.emit(f"EXT {target} permessage-deflate")
        c.emit(f"OPEN {target}")
        if path == "/json":
            self.write_message(c.JSON)
        elif path == "/text":
            self.write_message(c.TEXT)
        elif path == "/binary":
            self.write_message(c.BINARY, binary=True)
        elif path == "/big":
            self.write_message(c.BIG)
        elif path == "/headers":
            self.write_message(self.request.headers.get(c.HEADER, ""))
        elif path == "/close":
            self.close(c.CLOSE_CODE, c.CLOSE_REASON)

    def on_message(self, message):
        pass

    def on_close(self):
        c.emit(c.close_event(self.target, self.close_code))


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    app = tornado.web.Application([(path, Handler) for path in c.PATHS])
    sockets = tornado.netutil.bind_sockets(args.port, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    c.emit(f"PORT {sockets[0].getsockname()[1]}")
    await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
