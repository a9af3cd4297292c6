"""wsgather through a fault-injecting TCP proxy (fault_proxy.py).

The proxy sits between wsgather and the Beast test server and gives each
connection one fault from a plan: a reset or a FIN in the middle of a
WebSocket frame, a frame header overwritten with garbage, a TLS stream cut
mid-record or mid-handshake, one byte per TCP segment, held-back data. The
connection after the fault passes cleanly.

Every case checks that wsgather either reconnects (the log says why and
"reconnecting in", and the next connection's messages follow) or ends with
one clear error line and the documented status; that it neither crashes nor
hangs (each run is bounded by -n and -t, and killed by the harness after
RUN_TIMEOUT); that every stdout line is complete JSON; and that what it wrote
is exactly what the server sent before the fault, in order. /count's messages
are known byte for byte (count_message, shared with py_server.py), so the
data is compared exactly, as parsed JSON and as the text in the line.
"""

import json
import re
import unittest

from fault_proxy import (AfterHead, AtByte, Bursts, Clean, Close, Corrupt, FaultProxy, InTlsRecord,
                         Latency, Reset, Segments, Stall)
from harness import IntegrationTest, WithCertificates
from py_server import count_message

FAST_BACKOFF = ["--backoff-min", "50ms", "--backoff-max", "200ms"]
# Every run ends by itself: at its -n, or at this at the latest (which the
# log checks then report as a failure).
BOUND = ["-t", "10s"]

# /count?size=100: a text frame of 2 header bytes and 100 payload bytes.
SIZE = 100
FRAME = 2 + SIZE
# /count?size=300 over TLS 1.3: a frame of 4 header bytes (16-bit length) and
# 300 payload bytes, one record each, of 300 + 4 + 1 (content type) + 16
# (AEAD tag) bytes.
TLS_SIZE = 300
TLS_RECORD = TLS_SIZE + 4 + 1 + 16

RECONNECTING = r"; reconnecting in \d+ms"


class FaultProxyTest(WithCertificates, IntegrationTest):

    # -- helpers

    def start_proxy(self, server, plan):
        proxy = FaultProxy(server.port, plan).start()
        self.addCleanup(proxy.stop)
        return proxy

    def assertEnded(self, run, status):
        """The run ended by itself with `status`: no crash, no sanitizer report."""
        self.assertIsNotNone(run.status, run.describe())
        self.assertGreaterEqual(run.status, 0, "killed by a signal" + run.describe())
        for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            self.assertNotIn(marker, run.err_text, run.describe())
        self.assertStatus(run, status)

    def assertLog(self, run, patterns):
        """stderr is exactly these lines, each matching its regex in full."""
        lines = run.err_lines
        self.assertEqual(len(lines), len(patterns), f"log lines {lines!r} against {patterns!r}" + run.describe())
        for line, pattern in zip(lines, patterns):
            self.assertRegex(line, "^" + pattern + "$", run.describe())

    def assertMessages(self, run, feed, expected, size):
        """The feed's lines are exactly `expected`, a list of (conn, k) of /count?size=size."""
        raw = run.stdout.decode("utf-8").splitlines()
        lines = self.lines_of(run)  # every line complete, valid JSON, in shape
        mine = [(line, text) for line, text in zip(lines, raw) if line["feed"] == feed]
        got = [(line["seq"], line["conn"], line["type"]) for line, _ in mine]
        want = [(seq, conn, "json") for seq, (conn, _) in enumerate(expected, 1)]
        self.assertEqual(got, want, run.describe())
        for (line, text), (_, k) in zip(mine, expected):
            payload = count_message(k, size)
            self.assertEqual(line["data"], json.loads(payload), text)
            self.assertTrue(text.endswith(',"data":' + payload + "}"), text)

    def assertPrefixOfConn1(self, run, feed, complete):
        """Conn 1's lines are /count's first messages, all `complete` frames that got through."""
        ks = [json.loads(text)["data"]["i"] for text in run.stdout.decode().splitlines()
              if json.loads(text)["feed"] == feed and json.loads(text)["conn"] == 1]
        self.assertEqual(ks, list(range(1, len(ks) + 1)), "conn 1 is not a prefix of what was sent" + run.describe())
        self.assertEqual(len(ks), complete,
                         "the complete frames before the fault were not all written" + run.describe())

    def connected(self, feed, url, conn):
        return re.escape(f"[{feed}] connected to {url} (conn {conn})")

    # -- faults in the middle of a frame, then a clean connection

    def check_cut_mid_frame(self, fault, reason, coalesce):
        server = self.start_server("beast")
        # Five whole frames, then 50 bytes into the sixth.
        proxy = self.start_proxy(server, [fault(AfterHead(5 * FRAME + 50)), Clean()])
        url = proxy.url(f"/count?n=20&size={SIZE}&close=none")
        run = self.run_wsgather(*FAST_BACKOFF, *BOUND, "--coalesce", coalesce, "-n", 25, "f=" + url)
        self.assertEnded(run, 0)
        self.assertPrefixOfConn1(run, "f", 5)
        self.assertMessages(run, "f", [(1, k) for k in range(1, 6)] + [(2, k) for k in range(1, 21)], SIZE)
        self.assertLog(run, [
            self.connected("f", url, 1),
            re.escape("[f] warning: " + reason) + RECONNECTING,
            self.connected("f", url, 2),
            re.escape("wsgather: stopping: reached --count"),
        ])
        first, second = proxy.connection(1), proxy.connection(2)
        first.wait_faulted()
        first.wait_done()
        self.assertEqual(first.fault_at, first.head_end + 5 * FRAME + 50, first)
        self.assertEqual(first.s2c_bytes, first.fault_at, first)
        second.wait_done()
        self.assertIsNone(second.fault_at, second)
        self.assertEqual(proxy.count, 2)
        # The server saw the first connection end without a close frame, and
        # wsgather's 1000 on the second.
        target = re.escape(f"/count?n=20&size={SIZE}&close=none")
        server.events.wait_count(f"^CLOSE {target} none$", 1)
        server.events.wait_count(f"^CLOSE {target} 1000$", 1)

    def test_reset_mid_frame_reconnects(self):
        for coalesce in ("auto", "5ms"):
            with self.subTest(coalesce=coalesce):
                self.check_cut_mid_frame(Reset, "connection lost: Connection reset by peer", coalesce)

    def test_fin_mid_frame_reconnects(self):
        for coalesce in ("auto", "5ms"):
            with self.subTest(coalesce=coalesce):
                self.check_cut_mid_frame(Close, "server dropped the connection without a close frame", coalesce)

    def test_reset_mid_frame_without_reconnect_is_one_error(self):
        server = self.start_server("beast")
        proxy = self.start_proxy(server, [Reset(AfterHead(5 * FRAME + 50))])
        url = proxy.url(f"/count?n=20&size={SIZE}&close=none")
        run = self.run_wsgather(*BOUND, "--no-reconnect", "f=" + url)
        self.assertEnded(run, 1)
        self.assertMessages(run, "f", [(1, k) for k in range(1, 6)], SIZE)
        self.assertLog(run, [
            self.connected("f", url, 1),
            re.escape("[f] error: connection lost: Connection reset by peer"),
        ])
        self.assertEqual(proxy.count, 1)

    def test_garbage_frame_header_reconnects(self):
        # The third frame's first byte (0x81: FIN, text) becomes a reserved
        # opcode, or gets a reserved bit that no extension negotiated.
        broke = r"server broke the WebSocket protocol \(closed with 1002\): the WebSocket frame contained "
        for garbage, reason in ((b"\x83", broke + "an illegal opcode"), (b"\xc1", broke + "illegal reserved bits")):
            with self.subTest(garbage=garbage):
                server = self.start_server("beast")
                proxy = self.start_proxy(server, [Corrupt(AfterHead(2 * FRAME), garbage), Clean()])
                url = proxy.url(f"/count?n=20&size={SIZE}&close=none")
                run = self.run_wsgather(*FAST_BACKOFF, *BOUND, "-n", 22, "f=" + url)
                self.assertEnded(run, 0)
                self.assertPrefixOfConn1(run, "f", 2)
                self.assertMessages(run, "f", [(1, 1), (1, 2)] + [(2, k) for k in range(1, 21)], SIZE)
                self.assertLog(run, [
                    self.connected("f", url, 1),
                    re.escape("[f] warning: ") + reason + RECONNECTING,
                    self.connected("f", url, 2),
                    re.escape("wsgather: stopping: reached --count"),
                ])
                first = proxy.connection(1)
                first.wait_done()
                self.assertEqual(first.fault_at, first.head_end + 2 * FRAME, first)
                # wsgather failed the connection as RFC 6455 7.1.7 says: with
                # close code 1002 (protocol error).
                target = re.escape(f"/count?n=20&size={SIZE}&close=none")
                server.events.wait_count(f"^CLOSE {target} 1002$", 1)

    def test_garbage_length_fails_before_reading_the_payload(self):
        # The third frame's header claims 4 GiB (64-bit length), or a length
        # with the most significant bit set, which RFC 6455 5.2 forbids.
        # Either must fail at once, without waiting for (or allocating) the
        # payload: wsgather closes with 1009 (message too big: Beast checks
        # the size limit, which the forbidden length also exceeds) and
        # reconnects.
        for length in (1 << 32, 1 << 63):
            with self.subTest(length=length):
                server = self.start_server("beast")
                garbage = b"\x81\x7f" + length.to_bytes(8, "big")
                proxy = self.start_proxy(server, [Corrupt(AfterHead(2 * FRAME), garbage), Clean()])
                url = proxy.url(f"/count?n=20&size={SIZE}&close=none")
                run = self.run_wsgather(*FAST_BACKOFF, *BOUND, "-n", 22, "f=" + url)
                self.assertEnded(run, 0)
                self.assertPrefixOfConn1(run, "f", 2)
                self.assertMessages(run, "f", [(1, 1), (1, 2)] + [(2, k) for k in range(1, 21)], SIZE)
                self.assertLog(run, [
                    self.connected("f", url, 1),
                    re.escape("[f] warning: a message exceeded the maximum message size (16MiB)") + RECONNECTING,
                    self.connected("f", url, 2),
                    re.escape("wsgather: stopping: reached --count"),
                ])
                target = re.escape(f"/count?n=20&size={SIZE}&close=none")
                server.events.wait_count(f"^CLOSE {target} 1009$", 1)

    def test_stall_mid_frame_is_found_by_the_ping(self):
        # Half a frame, then nothing: the server seems frozen in the middle of
        # a message. The ping goes out, the pong never comes back.
        server = self.start_server("beast")
        proxy = self.start_proxy(server, [Stall(AfterHead(5 * FRAME + 50)), Clean()])
        url = proxy.url(f"/count?n=20&size={SIZE}&close=none")
        run = self.run_wsgather(*FAST_BACKOFF, *BOUND, "--ping-interval", "200ms", "--ping-timeout", "300ms",
                                "-n", 25, "f=" + url)
        self.assertEnded(run, 0)
        self.assertPrefixOfConn1(run, "f", 5)
        self.assertMessages(run, "f", [(1, k) for k in range(1, 6)] + [(2, k) for k in range(1, 21)], SIZE)
        self.assertLog(run, [
            self.connected("f", url, 1),
            re.escape("[f] warning: no answer within 300ms of a ping: the server is unresponsive") + RECONNECTING,
            self.connected("f", url, 2),
            re.escape("wsgather: stopping: reached --count"),
        ])
        first = proxy.connection(1)
        first.wait_done()
        self.assertEqual(first.s2c_bytes, first.head_end + 5 * FRAME + 50, first)
        self.assertGreater(first.dropped, 0, first)  # the rest of the messages, and the pong
        # The server got the ping (it answered; the proxy dropped the pong).
        self.assertGreater(first.c2s_bytes, 0, first)

    def test_fault_in_the_upgrade_answer_reconnects(self):
        # 20 bytes into "HTTP/1.1 101 Switching Protocols\r\n...".
        for fault, reason in ((Reset, "Connection reset by peer"), (Close, "the server closed the connection before its answer was complete")):
            with self.subTest(fault=fault.__name__):
                server = self.start_server("beast")
                proxy = self.start_proxy(server, [fault(AtByte(20)), Clean()])
                url = proxy.url(f"/count?n=10&size={SIZE}&close=none")
                run = self.run_wsgather(*FAST_BACKOFF, *BOUND, "-n", 10, "f=" + url)
                self.assertEnded(run, 0)
                # conn counts connections that opened: the clean one is conn 1.
                self.assertMessages(run, "f", [(1, k) for k in range(1, 11)], SIZE)
                self.assertLog(run, [
                    re.escape(f"[f] warning: WebSocket handshake with 127.0.0.1:{proxy.port} failed: {reason}")
                    + RECONNECTING,
                    self.connected("f", url, 1),
                    re.escape("wsgather: stopping: reached --count"),
                ])
                first = proxy.connection(1)
                first.wait_done()
                self.assertEqual((first.fault_at, first.s2c_bytes), (20, 20), first)
                self.assertLess(first.fault_at, first.head_end, first)  # inside the HTTP head
                self.assertEqual(proxy.count, 2)

    def test_fault_in_every_upgrade_answer_gives_up(self):
        server = self.start_server("beast")
        proxy = self.start_proxy(server, [Close(AtByte(20)), Close(AtByte(20)), Clean()])
        url = proxy.url("/count?n=10&close=none")
        run = self.run_wsgather(*FAST_BACKOFF, *BOUND, "--max-retries", 2, "f=" + url)
        self.assertEnded(run, 1)
        self.assertEqual(run.stdout, b"")
        failed = re.escape(f"WebSocket handshake with 127.0.0.1:{proxy.port} failed: the server closed the connection before its answer was complete")
        self.assertLog(run, [
            re.escape("[f] warning: ") + failed + RECONNECTING,
            re.escape("[f] error: ") + failed + re.escape("; giving up after 2 failed attempts"),
        ])
        self.assertEqual(proxy.count, 2)

    # -- TLS streams cut short: no close_notify

    def test_tls_truncated_after_handshake_reconnects(self):
        # Two whole message records, then the third cut: in the middle, or
        # right before its header (a clean cut at a record boundary).
        for into in (5 + 100, 0):
            with self.subTest(into=into):
                server = self.start_tls_server()
                proxy = self.start_proxy(server, [Close(InTlsRecord(3, into, length=TLS_RECORD)), Clean()])
                url = proxy.url(f"/count?n=20&size={TLS_SIZE}&close=none", scheme="wss", host="localhost")
                run = self.run_wsgather(*FAST_BACKOFF, *BOUND, "--ca-file", self.certs["ca"], "-n", 22, "f=" + url)
                self.assertEnded(run, 0)
                self.assertPrefixOfConn1(run, "f", 2)
                self.assertMessages(run, "f", [(1, 1), (1, 2)] + [(2, k) for k in range(1, 21)], TLS_SIZE)
                self.assertLog(run, [
                    self.connected("f", url, 1),
                    re.escape("[f] warning: server dropped the connection without a close frame") + RECONNECTING,
                    self.connected("f", url, 2),
                    re.escape("wsgather: stopping: reached --count"),
                ])
                first = proxy.connection(1)
                first.wait_done()
                records = [r for r in first.records if r.length == TLS_RECORD]
                self.assertGreaterEqual(len(records), 3, first.records)
                self.assertEqual(first.fault_at, records[2].offset + into, first)
                self.assertEqual(first.s2c_bytes, first.fault_at, first)

    def test_tls_truncated_handshake_reconnects(self):
        # In the ServerHello (the first record, in clear), and in the second
        # encrypted record of the server's first flight (its certificate).
        for at, record in ((AtByte(50), 1), (InTlsRecord(4, 20), 4)):
            with self.subTest(at=at):
                server = self.start_tls_server()
                proxy = self.start_proxy(server, [Close(at), Clean()])
                url = proxy.url("/count?n=10&close=none", scheme="wss", host="localhost")
                run = self.run_wsgather(*FAST_BACKOFF, *BOUND, "--ca-file", self.certs["ca"], "-n", 10, "f=" + url)
                self.assertEnded(run, 0)
                self.assertMessages(run, "f", [(1, k) for k in range(1, 11)], 0)
                self.assertLog(run, [
                    re.escape(f"[f] warning: TLS handshake with localhost:{proxy.port} failed: stream truncated")
                    + RECONNECTING,
                    self.connected("f", url, 1),
                    re.escape("wsgather: stopping: reached --count"),
                ])
                first = proxy.connection(1)
                first.wait_done()
                cut = first.records[record - 1]
                self.assertTrue(cut.offset < first.fault_at < cut.end, (first.fault_at, first.records))
                if record == 1:
                    self.assertEqual(cut.type, 22)  # handshake, in clear
                self.assertEqual(proxy.count, 2)

    def test_tls_truncated_handshake_without_reconnect_is_one_error(self):
        server = self.start_tls_server()
        proxy = self.start_proxy(server, [Close(AtByte(50))])
        url = proxy.url("/count?n=10&close=none", scheme="wss", host="localhost")
        run = self.run_wsgather(*BOUND, "--ca-file", self.certs["ca"], "--no-reconnect", "f=" + url)
        self.assertEnded(run, 1)
        self.assertEqual(run.stdout, b"")
        self.assertLog(run, [
            re.escape(f"[f] error: TLS handshake with localhost:{proxy.port} failed: stream truncated"),
        ])
        self.assertEqual(proxy.count, 1)

    # -- lossless: the bytes arrive late or in pieces, but all of them

    def test_one_byte_segments_lose_nothing(self):
        # Small frames, and frames with a 16-bit length; pings (and their
        # pongs) go through the trickle too.
        for coalesce in ("auto", "5ms"):
            with self.subTest(coalesce=coalesce):
                server = self.start_server("beast")
                proxy = self.start_proxy(server, [Segments(delay=0.0005), Segments(delay=0.0005)])
                a = proxy.url("/count?n=20&close=none")
                b = proxy.url("/count?n=4&size=300&close=none")
                run = self.run_wsgather(*BOUND, "--coalesce", coalesce, "--ping-interval", "100ms",
                                        "--ping-timeout", "5s", "-n", 24, "a=" + a, "b=" + b)
                self.assertEnded(run, 0)
                self.assertMessages(run, "a", [(1, k) for k in range(1, 21)], 0)
                self.assertMessages(run, "b", [(1, k) for k in range(1, 5)], 300)
                self.assertNotIn("reconnecting", run.err_text, run.describe())
                self.assertEqual(proxy.count, 2)
                for index in (1, 2):
                    proxy.connection(index).wait_done()

    def test_one_byte_segments_over_tls_lose_nothing(self):
        server = self.start_tls_server()
        proxy = self.start_proxy(server, [Segments()])
        url = proxy.url(f"/count?n=10&size={TLS_SIZE}&close=none", scheme="wss", host="localhost")
        run = self.run_wsgather(*BOUND, "--ca-file", self.certs["ca"], "-n", 10, "f=" + url)
        self.assertEnded(run, 0)
        self.assertMessages(run, "f", [(1, k) for k in range(1, 11)], TLS_SIZE)
        self.assertLog(run, [self.connected("f", url, 1), re.escape("wsgather: stopping: reached --count")])
        proxy.connection(1).wait_done()

    def test_latency_below_ping_timeout_loses_nothing(self):
        # Every server byte 300 ms late, pongs included. After the messages
        # the feed is idle; its ping at about 1.2 s is answered 300 ms later,
        # within the 1 s ping timeout, checked at about 2.2 s: no reconnect.
        server = self.start_server("beast")
        proxy = self.start_proxy(server, [Latency(0.3)])
        url = proxy.url(f"/count?n=10&size={SIZE}&rate=50&close=none")
        run = self.run_wsgather("--ping-interval", "100ms", "--ping-timeout", "1s", "-t", "2500ms", "f=" + url)
        self.assertEnded(run, 0)
        self.assertMessages(run, "f", [(1, k) for k in range(1, 11)], SIZE)
        self.assertLog(run, [self.connected("f", url, 1), re.escape("wsgather: stopping: reached --duration")])
        connection = proxy.connection(1)
        connection.wait_done()
        self.assertGreaterEqual(min(connection.delays), 0.29, connection.delays)
        self.assertEqual(proxy.count, 1)

    def test_late_pongs_on_a_busy_feed_keep_it(self):
        # Every server byte 500 ms late, longer than the 300 ms ping timeout;
        # but messages keep coming, every 20 ms: a busy connection is never
        # dropped for a late pong (docs/cli.md, --ping-timeout).
        server = self.start_server("beast")
        proxy = self.start_proxy(server, [Latency(0.5)])
        url = proxy.url(f"/count?n=30&size={SIZE}&rate=50&close=none")
        run = self.run_wsgather(*BOUND, "--ping-interval", "100ms", "--ping-timeout", "300ms", "-n", 30, "f=" + url)
        self.assertEnded(run, 0)
        self.assertMessages(run, "f", [(1, k) for k in range(1, 31)], SIZE)
        self.assertLog(run, [self.connected("f", url, 1), re.escape("wsgather: stopping: reached --count")])
        self.assertEqual(proxy.count, 1)

    def test_bursts_lose_nothing(self):
        # Server bytes held back and released every 300 ms: a calm feed, and
        # one of 10,000 messages a second, whose bursts make it busy (reads
        # coalesced, --coalesce auto) and calm again.
        for n, rate in ((30, 100), (3000, 10000)):
            with self.subTest(n=n, rate=rate):
                server = self.start_server("beast")
                proxy = self.start_proxy(server, [Bursts(0.3)])
                url = proxy.url(f"/count?n={n}&size={SIZE}&rate={rate}&close=none")
                run = self.run_wsgather(*BOUND, "-n", n, "f=" + url)
                self.assertEnded(run, 0)
                self.assertMessages(run, "f", [(1, k) for k in range(1, n + 1)], SIZE)
                self.assertLog(run, [self.connected("f", url, 1), re.escape("wsgather: stopping: reached --count")])
                connection = proxy.connection(1)
                connection.wait_done()
                self.assertGreaterEqual(max(connection.delays), 0.1, connection.delays)


if __name__ == "__main__":
    unittest.main()
