"""A fault-injecting TCP proxy for the integration tests.

    proxy = FaultProxy(upstream_port, [Reset(AfterHead(560)), Clean()]).start()
    ... wsgather ws://127.0.0.1:{proxy.port}/count?n=20 ...
    first = proxy.connection(1)          # waits (bounded) for the 1st connection
    first.wait_done()                    # and for both its sides to be closed
    proxy.stop()

It listens on 127.0.0.1, port 0 (`port` tells which), and forwards every
connection it accepts to the upstream server. Connection i gets `plan[i-1]`,
one fault for its whole life; connections beyond the plan pass cleanly. The
proxy never looks into TLS: a wss:// client still verifies the upstream
server's certificate, and a fault cut into a TLS stream is a fault of the
transport (no close_notify, a record cut short).

Faults:

- `Clean()`: bytes pass as they come.
- `Reset(at)`: forward server->client bytes up to position `at`, wait until the
  client's kernel has acknowledged them, then reset the client side
  (SO_LINGER 0: RST, not FIN). The upstream side is closed.
- `Close(at)`: forward up to `at`, then a clean FIN to the client (half-close:
  what the client still sends is read and dropped, so no RST follows). The
  upstream side is closed. In a TLS stream: a truncation without close_notify.
- `Corrupt(at, garbage)`: overwrite the server->client bytes from `at` on with
  `garbage`; everything else passes.
- `Stall(at)`: forward up to `at`, then nothing more to the client: the server
  seems frozen (what it sends is read and dropped; the client's bytes, pings
  included, still reach it). The connection ends when the client hangs up.
- `Segments(delay)`: both directions one byte per send, TCP_NODELAY, `delay`
  seconds between bytes, for the whole connection (handshakes included).
- `Latency(seconds)`: every server->client chunk (and the final FIN) is held
  for `seconds` after it arrived; order and content are kept.
- `Bursts(every)`: server->client bytes are held and released together at
  every multiple of `every` seconds from the connection's start.

Positions, in the server->client stream:

- `AtByte(k)`: after k bytes from the start.
- `AfterHead(k)`: k bytes after the end of the HTTP response head
  (the "\\r\\n\\r\\n" of a plain ws:// upgrade answer).
- `InTlsRecord(nth, into=0, length=None)`: `into` bytes into the nth TLS
  record (1-based, header included: into=5 is just past the header), counting
  only records whose length field is `length` when it is given.

Bytes the proxy cannot place yet (a TLS record header cut across two reads)
are held back until it can, so a cut lands exactly where it is asked to.

Every connection keeps a record of what happened (`Connection`): bytes
forwarded each way, the offset of the fault, the TLS records seen, the HTTP
head's end, timestamped events. Waits on it are bounded and raise
ProxyError when time runs out.
"""

import fcntl
import os
import select
import socket
import struct
import termios
import threading
import time

# How long a wait on the proxy lasts unless told otherwise.
WAIT = 5.0
# A send that cannot go on for this long ends the connection.
SEND_TIMEOUT = 10.0
# How long the proxy waits for the client to acknowledge bytes before a reset.
ACK_WAIT = 2.0
# How long a half-closed client has to finish before the proxy drops it.
DRAIN_TIMEOUT = 10.0


class ProxyError(AssertionError):
    """A bounded wait on the proxy ran out, or the proxy broke."""


# --------------------------------------------------------------------------
# Positions in the server->client stream

class AtByte:
    def __init__(self, k):
        if k < 0:
            raise ValueError(k)
        self.k = k

    def resolve(self, scan):
        return self.k, self.k

    def __repr__(self):
        return f"AtByte({self.k})"


class AfterHead:
    def __init__(self, k):
        if k < 0:
            raise ValueError(k)
        self.k = k

    def resolve(self, scan):
        if scan.head_end is None:
            # The head ends after every byte seen so far: all of them may go.
            return None, scan.received
        cut = scan.head_end + self.k
        return cut, cut

    def __repr__(self):
        return f"AfterHead({self.k})"


class InTlsRecord:
    def __init__(self, nth, into=0, length=None):
        if nth < 1 or into < 0:
            raise ValueError((nth, into))
        self.nth, self.into, self.length = nth, into, length

    def resolve(self, scan):
        matching = [r for r in scan.records if self.length is None or r.length == self.length]
        if len(matching) >= self.nth:
            cut = matching[self.nth - 1].offset + self.into
            return cut, cut
        # A record not seen yet starts at or after the header being read.
        return None, scan.partial_header_at if scan.partial_header_at is not None else scan.received

    def __repr__(self):
        return f"InTlsRecord(nth={self.nth}, into={self.into}, length={self.length})"


# --------------------------------------------------------------------------
# Faults

class Fault:
    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class Clean(Fault):
    pass


class Reset(Fault):
    def __init__(self, at):
        self.at = at


class Close(Fault):
    def __init__(self, at):
        self.at = at


class Corrupt(Fault):
    def __init__(self, at, garbage):
        if not garbage:
            raise ValueError("no garbage")
        self.at = at
        self.garbage = bytes(garbage)


class Stall(Fault):
    def __init__(self, at):
        self.at = at


class Segments(Fault):
    def __init__(self, delay=0.0):
        self.delay = delay


class Latency(Fault):
    def __init__(self, seconds):
        self.seconds = seconds


class Bursts(Fault):
    def __init__(self, every):
        self.every = every


# --------------------------------------------------------------------------
# What a connection saw

class TlsRecord:
    __slots__ = ("offset", "type", "length")

    def __init__(self, offset, type_, length):
        self.offset, self.type, self.length = offset, type_, length

    @property
    def end(self):
        return self.offset + 5 + self.length

    def __repr__(self):
        return f"TlsRecord(offset={self.offset}, type={self.type}, length={self.length})"


class _Scan:
    """Follows the server->client stream: the HTTP head's end, TLS records."""

    def __init__(self):
        self.received = 0
        self.head_end = None
        self._tail = b""  # the last bytes, for a "\r\n\r\n" cut across reads
        self.is_tls = None  # decided by the first byte (0x16: a TLS handshake record)
        self.records = []
        self.partial_header_at = None
        self._header = b""
        self._skip = 0

    def feed(self, data):
        start = self.received
        self.received += len(data)
        if self.is_tls is None and data:
            self.is_tls = data[0] == 0x16
        if self.head_end is None and not self.is_tls:
            window = self._tail + data
            i = window.find(b"\r\n\r\n")
            if i >= 0:
                self.head_end = start - len(self._tail) + i + 4
            self._tail = window[-3:]
        if self.is_tls:
            self._feed_records(start, data)

    def _feed_records(self, start, data):
        i = 0
        while i < len(data):
            if self._skip:
                n = min(self._skip, len(data) - i)
                self._skip -= n
                i += n
                continue
            if not self._header:
                self.partial_header_at = start + i
            take = min(5 - len(self._header), len(data) - i)
            self._header += data[i:i + take]
            i += take
            if len(self._header) == 5:
                type_, _version, length = struct.unpack("!BHH", self._header)
                self.records.append(TlsRecord(self.partial_header_at, type_, length))
                self._header = b""
                self.partial_header_at = None
                self._skip = length


class Connection:
    """One proxied connection: its fault, and a record of what happened."""

    def __init__(self, proxy, index, fault, client):
        self.proxy = proxy
        self.index = index
        self.fault = fault
        self.client = client
        self.upstream = None
        self.start = time.monotonic()
        self.s2c_bytes = 0  # forwarded to the client
        self.c2s_bytes = 0  # forwarded to the server
        self.fault_at = None  # the stream offset where the fault was applied
        self.dropped = 0  # Stall: server bytes read and never forwarded
        self.delays = []  # Latency/Bursts: how long each chunk was held, seconds
        self.events = []  # (seconds since start, text)
        self.error = None  # an unexpected exception in the proxy itself
        self._scan = _Scan()
        self._cond = threading.Condition()
        self._done = False
        self._faulted = False
        self.thread = threading.Thread(target=self._run, name=f"proxy-conn-{index}", daemon=True)

    # -- what the tests look at

    @property
    def records(self):
        """TLS records the server sent (all of them the proxy read, forwarded or not)."""
        return list(self._scan.records)

    @property
    def head_end(self):
        return self._scan.head_end

    @property
    def done(self):
        with self._cond:
            return self._done

    @property
    def faulted(self):
        with self._cond:
            return self._faulted

    def event_texts(self):
        with self._cond:
            return [text for _, text in self.events]

    def _wait(self, check, timeout, what):
        deadline = time.monotonic() + timeout
        with self._cond:
            while not check():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ProxyError(f"proxy connection {self.index} ({self.fault!r}): no {what} within "
                                     f"{timeout}s; events {self.events!r}")
                self._cond.wait(left)

    def wait_faulted(self, timeout=WAIT):
        """Waits until the fault has been applied (Reset, Close, Corrupt, Stall)."""
        self._wait(lambda: self._faulted or self._done, timeout, "fault")
        if not self._faulted:
            raise ProxyError(f"proxy connection {self.index} ended before its fault {self.fault!r}: "
                             f"events {self.events!r}")

    def wait_done(self, timeout=WAIT):
        """Waits until both sides are closed."""
        self._wait(lambda: self._done, timeout, "end")
        if self.error is not None:
            raise ProxyError(f"proxy connection {self.index} failed: {self.error!r}")

    def __repr__(self):
        return (f"Connection({self.index}, {self.fault!r}, s2c={self.s2c_bytes}, c2s={self.c2s_bytes}, "
                f"fault_at={self.fault_at}, events={self.events!r})")

    # -- the proxy's side

    def _event(self, text):
        with self._cond:
            self.events.append((round(time.monotonic() - self.start, 4), text))
            self._cond.notify_all()

    def _run(self):
        try:
            self._serve()
        except Exception as e:  # the proxy's own bug, reported by wait_done
            self.error = e
            self._event(f"proxy error {e!r}")
        finally:
            for sock in (self.client, self.upstream):
                if sock is not None:
                    try:
                        sock.close()
                    except OSError:
                        pass
            with self._cond:
                self._done = True
                self.events.append((round(time.monotonic() - self.start, 4), "done"))
                self._cond.notify_all()

    def _serve(self):
        fault = self.fault
        try:
            self.upstream = socket.create_connection(self.proxy.upstream, timeout=WAIT)
        except OSError as e:
            self._event(f"upstream connect failed: {e}")
            return
        for sock in (self.client, self.upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(SEND_TIMEOUT)
        self._event("upstream connected")

        self._client_reading = True
        self._upstream_reading = True
        self._client_writing = True  # False once the client got FIN or RST
        self._held = bytearray()  # server->client bytes not yet placed (see the positions)
        self._held_at = 0  # stream offset of _held[0]
        self._pending = []  # Latency/Bursts: [due time, bytes or None for FIN]
        self._overwrite = b""  # Corrupt: garbage still to write over the stream
        self._drain_until = None
        segments = isinstance(fault, Segments)
        wake = self.proxy._wake_r

        while True:
            if self._drain_until is not None and time.monotonic() > self._drain_until:
                self._event("client did not finish after the fault: dropped")
                return
            if not self._client_reading and not self._upstream_reading and not self._pending:
                return
            watch = [wake]
            if self._client_reading:
                watch.append(self.client)
            if self._upstream_reading:
                watch.append(self.upstream)
            timeout = None
            if self._pending:
                timeout = max(0.0, self._pending[0][0] - time.monotonic())
            if self._drain_until is not None:
                left = max(0.0, self._drain_until - time.monotonic())
                timeout = left if timeout is None else min(timeout, left)
            readable, _, _ = select.select(watch, [], [], timeout)
            if wake in readable:
                self._event("proxy stopped")
                return
            if self.client in readable:
                self._from_client(segments)
            if self.upstream in readable and self._upstream_reading:
                self._from_upstream()
            self._deliver_due()

    # client -> server

    def _from_client(self, segments):
        try:
            data = self.client.recv(65536)
        except OSError as e:
            self._event(f"client read failed: {e}")
            data = b""
            self._client_writing = False
        if not data:
            self._event("client EOF")
            self._client_reading = False
            self._shutdown(self.upstream, socket.SHUT_WR)
            return
        if self.upstream.fileno() < 0:
            return  # after a Reset or Close: read and dropped
        if not self._send(self.upstream, data, segments, "upstream"):
            self._upstream_reading = False
            return
        self.c2s_bytes += len(data)

    # server -> client

    def _from_upstream(self):
        try:
            data = self.upstream.recv(65536)
        except OSError as e:
            self._event(f"upstream read failed: {e}")
            data = b""
        fault = self.fault
        if not data:
            self._event("upstream EOF")
            self._upstream_reading = False
            if isinstance(fault, (Latency, Bursts)):
                self._pending.append([self._due(), None])
            elif not self._faulted:
                self._flush_held()
                self._shutdown(self.client, socket.SHUT_WR)
                self._client_writing = False
            return
        self._scan.feed(data)
        if isinstance(fault, (Latency, Bursts)):
            self._pending.append([self._due(), data, time.monotonic()])
            return
        if isinstance(fault, Segments):
            self._to_client(data, fault.delay)
            return
        if isinstance(fault, Stall) and self._faulted:
            self.dropped += len(data)
            return
        if isinstance(fault, Clean) or self._faulted and not self._overwrite:
            self._to_client(data)
            return
        self._held += data
        self._place()

    def _place(self):
        """Forwards what may go before the fault's position; applies the fault there."""
        fault = self.fault
        if not self._faulted:
            cut, limit = fault.at.resolve(self._scan)
            if cut is not None:
                limit = cut
            if cut is not None and cut < self._held_at:
                raise ProxyError(f"position {fault.at!r} at {cut} is behind bytes already forwarded")
            end = self._held_at + len(self._held)
            n = max(0, min(limit, end) - self._held_at)
            if n:
                self._to_client(bytes(self._held[:n]))
                del self._held[:n]
                self._held_at += n
            if cut is None or self._held_at < cut:
                return
            self.fault_at = cut
            if isinstance(fault, Reset):
                self._reset_client()
                return
            if isinstance(fault, Close):
                self._close_client()
                return
            if isinstance(fault, Stall):
                self.dropped += len(self._held)
                self._held_at += len(self._held)
                self._held.clear()
                self._event(f"stalled after {self.s2c_bytes} bytes")
                with self._cond:
                    self._faulted = True
                    self._cond.notify_all()
                return
            # Corrupt
            with self._cond:
                self._faulted = True
                self._cond.notify_all()
            self._overwrite = fault.garbage
            self._event(f"corrupting {len(fault.garbage)} bytes at offset {cut}")
        if isinstance(fault, Corrupt) and self._held:
            data = bytearray(self._held)
            n = min(len(self._overwrite), len(data))
            data[:n] = self._overwrite[:n]
            self._overwrite = self._overwrite[n:]
            self._held_at += len(self._held)
            self._held.clear()
            self._to_client(bytes(data))

    def _flush_held(self):
        if self._held and not self._faulted:
            # The stream ended before the position: it never came.
            self._event(f"stream ended at {self._scan.received} before {self.fault.at!r}")
            self._to_client(bytes(self._held))
            self._held_at += len(self._held)
            self._held.clear()

    def _reset_client(self):
        # Bytes the client has not acknowledged would be thrown away by the
        # RST; wait until its kernel has them all (bounded).
        deadline = time.monotonic() + ACK_WAIT
        while _unacknowledged(self.client) > 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        left = _unacknowledged(self.client)
        self.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.client.close()
        self._client_reading = False
        self._client_writing = False
        self._close_upstream()
        self._event(f"reset the client after {self.s2c_bytes} bytes"
                    + (f" ({left} unacknowledged)" if left else ""))
        with self._cond:
            self._faulted = True
            self._cond.notify_all()

    def _close_client(self):
        self._shutdown(self.client, socket.SHUT_WR)
        self._client_writing = False
        self._close_upstream()
        self._drain_until = time.monotonic() + DRAIN_TIMEOUT
        self._event(f"FIN to the client after {self.s2c_bytes} bytes")
        with self._cond:
            self._faulted = True
            self._cond.notify_all()

    def _close_upstream(self):
        self._upstream_reading = False
        self._shutdown(self.upstream, socket.SHUT_RDWR)
        try:
            self.upstream.close()
        except OSError:
            pass

    # Latency, Bursts

    def _due(self):
        now = time.monotonic()
        fault = self.fault
        if isinstance(fault, Latency):
            due = now + fault.seconds
        else:
            slots = int((now - self.start) / fault.every) + 1
            due = self.start + slots * fault.every
        # Never before what is already waiting: order is kept.
        if self._pending:
            due = max(due, self._pending[-1][0])
        return due

    def _deliver_due(self):
        now = time.monotonic()
        while self._pending and self._pending[0][0] <= now:
            item = self._pending.pop(0)
            if item[1] is None:
                self._event("FIN to the client (delayed)")
                self._shutdown(self.client, socket.SHUT_WR)
                self._client_writing = False
                continue
            self.delays.append(now - item[2])
            self._to_client(item[1])

    # sending

    def _to_client(self, data, delay=None):
        if not self._client_writing:
            return
        segments = delay is not None
        if self._send(self.client, data, segments, "client", delay or 0.0):
            self.s2c_bytes += len(data)
        else:
            self._client_writing = False

    def _send(self, sock, data, segments, name, delay=None):
        if delay is None:
            delay = self.fault.delay if isinstance(self.fault, Segments) else 0.0
        try:
            if not segments:
                sock.sendall(data)
                return True
            for i in range(len(data)):
                sock.sendall(data[i:i + 1])
                if delay:
                    time.sleep(delay)  # pacing the bytes, not waiting for anything
            return True
        except OSError as e:
            self._event(f"{name} write failed: {e}")
            return False

    def _shutdown(self, sock, how):
        try:
            sock.shutdown(how)
        except OSError:
            pass


def _unacknowledged(sock):
    """Bytes sent on `sock` that the peer has not acknowledged yet (Linux SIOCOUTQ)."""
    try:
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
    except OSError:
        return 0


# --------------------------------------------------------------------------
# The proxy

class FaultProxy:
    """Forwards 127.0.0.1:port to upstream, one fault per connection by plan."""

    def __init__(self, upstream_port, plan=(), upstream_host="127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self.plan = list(plan)
        self.connections = []
        self._cond = threading.Condition()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        # Written once at stop and never read: every select sees it readable.
        self._wake_r, self._wake_w = os.pipe()
        self._stopped = False
        self._thread = threading.Thread(target=self._accept_loop, name="proxy-accept", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def url(self, target, scheme="ws", host="127.0.0.1"):
        return f"{scheme}://{host}:{self.port}{target}"

    def _accept_loop(self):
        while True:
            readable, _, _ = select.select([self._listener, self._wake_r], [], [])
            if self._wake_r in readable:
                return
            try:
                client, _ = self._listener.accept()
            except OSError:
                continue
            with self._cond:
                index = len(self.connections) + 1
                fault = self.plan[index - 1] if index <= len(self.plan) else Clean()
                connection = Connection(self, index, fault, client)
                self.connections.append(connection)
                self._cond.notify_all()
            connection._event(f"accepted, fault {fault!r}")
            connection.thread.start()

    def connection(self, index, timeout=WAIT):
        """The index-th connection (1-based), waiting for it to be accepted."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.connections) < index:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ProxyError(f"proxy: no connection {index} within {timeout}s "
                                     f"(accepted {len(self.connections)})")
                self._cond.wait(left)
            return self.connections[index - 1]

    @property
    def count(self):
        with self._cond:
            return len(self.connections)

    def stop(self):
        """Ends the accept loop and every connection; waits (bounded) for their threads."""
        if self._stopped:
            return
        self._stopped = True
        os.write(self._wake_w, b"x")
        self._thread.join(WAIT)
        with self._cond:
            connections = list(self.connections)
        for connection in connections:
            connection.thread.join(WAIT)
        self._listener.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
