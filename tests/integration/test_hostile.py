"""Hostile servers: each breaks one rule of RFC 6455, in a frame or in the handshake.

Every case runs wsgather with two feeds on hostile_server.py: `bad`, whose
first two connections break the rule (the server's `times=2`) and whose third
is well-behaved, and `good`, a steady numbered feed. The test waits for the
third connection, checks that `good` still advances, then stops wsgather with
SIGTERM, so that the end state is known and every assertion is exact:

- the server saw the close code RFC 6455 asks for (1002 protocol error, 1007
  invalid payload, 1009 too big) after each frame violation, or a plain TCP
  drop (EOF) after each handshake violation, then 1000 from the clean stop;
- wsgather logged one line per failure, naming the problem, with the backoff
  wait, and reconnected;
- the valid messages each connection sent before its violation were written,
  all of them and nothing else; `good` has one connection and contiguous seq.
"""

import itertools
import re
import signal
import unittest

from harness import WAIT, IntegrationTest

BACKOFF = ["--backoff-min", "50ms", "--backoff-max", "200ms"]
# hostile_server.py's HELLO messages, as wsgather writes them.
HELLO = [("json", {"hello": 1}), ("text", "hello two")]
# Connections that misbehave before a well-behaved one.
TIMES = 2
RECONNECTING = r"; reconnecting in \d+ms$"

_runs = itertools.count(1)


def feed_lines(data, feed):
    """Complete output lines of `feed` in raw bytes (an unfinished last line is left out)."""
    marker = b'{"feed":"%s",' % feed.encode()
    return [line for line in data.split(b"\n")[:-1] if line.startswith(marker)]


class HostileServer(IntegrationTest):

    def setUp(self):
        super().setUp()
        self.server = self.start_server("hostile")

    def run_case(self, target, reason, close_code=None, args=()):
        """Runs one case; `reason` is the exact text wsgather must log for each failure.

        close_code None: a handshake violation, after which the client must
        drop TCP without a close frame. Returns the stderr lines for more checks.
        """
        # A run number keeps the server's connection count (times=) and the
        # events of each subtest apart.
        run = next(_runs)
        target += ("&" if "?" in target else "?") + f"times={TIMES}&run={run}"
        good_target = f"/good?run={run}"
        bad_url, good_url = self.server.url(target), self.server.url(good_target)
        proc, out, err = self.start_wsgather(*BACKOFF, *args, f"bad={bad_url}", f"good={good_url}")

        # The third connection is the well-behaved one: its HELLO ends the wait.
        in_handshake = close_code is None
        bad_connections = 1 if in_handshake else TIMES + 1
        self.server.events.wait_count(rf"^OPEN {re.escape(target)}$", TIMES + 1)
        out.wait_until(lambda d: len(feed_lines(d, "bad")) >= len(HELLO) * bad_connections,
                       what="the HELLO messages of the well-behaved connection")
        # The good feed keeps flowing after the failures.
        good_before = len(feed_lines(out.data(), "good"))
        out.wait_until(lambda d: len(feed_lines(d, "good")) >= good_before + 3,
                       what="more lines of the good feed after the failures")

        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(proc), 0, err.lines)
        data = out.wait_eof()
        err_lines = err.wait_eof()
        self.server.events.wait_count(rf"^CLOSE {re.escape(target)} 1000$", 1)
        self.server.events.wait_count(rf"^CLOSE {re.escape(good_target)} 1000$", 1)

        # What the server saw: one close code per violation, or a plain drop.
        failure_event = "EOF " + target if in_handshake else f"CLOSE {target} {close_code}"
        events = [line for line in self.server.events.lines if line.split(" ")[1:2] == [target]]
        self.assertEqual(events, [f"OPEN {target}", failure_event] * TIMES
                         + [f"OPEN {target}", f"CLOSE {target} 1000"])
        self.assertEqual([line for line in self.server.events.lines if line.split(" ")[1:2] == [good_target]],
                         [f"OPEN {good_target}", f"CLOSE {good_target} 1000"])

        # Output: all lines whole; the HELLO of every connection, exactly.
        lines = self.lines_of(data)
        self.assertSeqContiguous(lines)
        bad = [(line["conn"], line["type"], line["data"]) for line in lines if line["feed"] == "bad"]
        self.assertEqual(bad, [(conn, kind, value) for conn in range(1, bad_connections + 1) for kind, value in HELLO])
        good = [line for line in lines if line["feed"] == "good"]
        self.assertGreaterEqual(len(good), good_before + 3)
        self.assertEqual([(line["conn"], line["data"]) for line in good],
                         [(1, {"n": k}) for k in range(1, len(good) + 1)])

        # Logs: one line per failure, exact; the good feed connected once.
        bad_log = [line for line in err_lines if line.startswith("[bad] ")]
        connected = [f"[bad] connected to {bad_url} (conn {k})" for k in range(1, bad_connections + 1)]
        failure = re.compile("^" + re.escape(f"[bad] warning: {reason}") + RECONNECTING)
        if in_handshake:
            expected = [failure] * TIMES + connected
        else:
            expected = [x for k in range(TIMES) for x in (connected[k], failure)] + [connected[-1]]
        self.assertEqual(len(bad_log), len(expected), err_lines)
        for line, want in zip(bad_log, expected):
            if isinstance(want, str):
                self.assertEqual(line, want, err_lines)
            else:
                self.assertRegex(line, want)
        self.assertEqual([line for line in err_lines if not line.startswith("[bad] ")],
                         [f"[good] connected to {good_url} (conn 1)", "wsgather: stopping: terminated"])
        return err_lines

    # -- frames: the client must close with 1002, 1007 or 1009

    def test_invalid_utf8(self):
        self.run_case("/invalid-utf8", "server sent text that is not valid UTF-8 (closed with 1007)", 1007)

    def test_reserved_bits(self):
        for bit in (1, 2, 3):
            with self.subTest(rsv=bit):
                self.run_case(f"/reserved-bits?bit={bit}",
                              "server broke the WebSocket protocol (closed with 1002): the WebSocket frame contained illegal reserved bits", 1002)

    def test_rsv1_when_compression_offered_but_not_accepted(self):
        # --compress offers permessage-deflate; the server's answer does not
        # enable it, so RSV1 is as illegal as without the offer.
        self.run_case("/reserved-bits?bit=1", "server broke the WebSocket protocol (closed with 1002): the WebSocket frame contained illegal reserved bits",
                      1002, args=["--compress"])

    def test_masked_frame(self):
        self.run_case("/masked", "server broke the WebSocket protocol (closed with 1002): the WebSocket frame was masked", 1002)

    def test_control_frame_too_big(self):
        self.run_case("/big-control", "server broke the WebSocket protocol (closed with 1002): the WebSocket control frame size was invalid", 1002)

    def test_fragmented_control_frame(self):
        self.run_case("/fragmented-control", "server broke the WebSocket protocol (closed with 1002): the WebSocket control frame was fragmented", 1002)

    def test_continuation_without_start(self):
        self.run_case("/continuation-without-start",
                      "server broke the WebSocket protocol (closed with 1002): the WebSocket continuation frame was unexpected", 1002)

    def test_new_message_inside_fragmented_one(self):
        self.run_case("/interleaved-message", "server broke the WebSocket protocol (closed with 1002): the WebSocket data frame was unexpected", 1002)

    def test_reserved_opcodes(self):
        for opcode in (3, 11):  # a reserved data and a reserved control opcode
            with self.subTest(opcode=opcode):
                self.run_case(f"/bad-opcode?op={opcode}",
                              "server broke the WebSocket protocol (closed with 1002): the WebSocket frame contained an illegal opcode", 1002)

    def test_non_canonical_length(self):
        self.run_case("/non-canonical-length", "server broke the WebSocket protocol (closed with 1002): the WebSocket frame size was not canonical", 1002)

    def test_invalid_close_code_from_server(self):
        for code in (999, 1005):  # out of range; reserved, never sent in a frame
            with self.subTest(code=code):
                self.run_case(f"/bad-close-code?code={code}",
                              "server broke the WebSocket protocol (closed with 1002): the WebSocket close frame reason code was invalid", 1002)

    def test_message_too_big(self):
        for fragments in (1, 4):  # one frame over the limit; frames each under it
            with self.subTest(fragments=fragments):
                self.run_case(f"/too-big?size=2048&fragments={fragments}",
                              "a message exceeded the maximum message size (1KiB)", 1009,
                              args=["--max-message-size", "1KiB"])

    # -- handshake: the client must drop TCP (no WebSocket connection yet)

    def test_bad_accept(self):
        self.run_case("/bad-accept",
                      f"WebSocket handshake with 127.0.0.1:{self.server.port} failed: "
                      "The WebSocket handshake Sec-WebSocket-Accept field is invalid")

    def test_status_200(self):
        self.run_case("/status-200", "server answered the WebSocket upgrade with HTTP 200 OK, not 101")

    def test_unrequested_subprotocol(self):
        self.run_case("/unrequested-subprotocol?protocol=x-chat",
                      "server selected subprotocol 'x-chat' that was not offered")

    def test_subprotocol_not_among_those_offered(self):
        self.run_case("/unrequested-subprotocol?protocol=x-chat",
                      "server selected subprotocol 'x-chat', not one of those offered (a, b)",
                      args=["--subprotocol", "a", "--subprotocol", "b"])

    def test_unrequested_permessage_deflate(self):
        self.run_case("/unrequested-extension?name=permessage-deflate",
                      "server enabled extension 'permessage-deflate' that was not offered")

    def test_unknown_extension(self):
        for args in ([], ["--compress"]):
            with self.subTest(args=args):
                self.run_case("/unrequested-extension?name=x-frobnicate",
                              "server enabled extension 'x-frobnicate' that was not offered", args=args)

    # -- without reconnecting

    def test_violation_with_no_reconnect_fails_the_run(self):
        run = self.run_wsgather("--no-reconnect", "bad=" + self.server.url("/masked"), timeout=10)
        self.assertStatus(run, 1)
        self.assertEqual([(line["conn"], line["type"], line["data"]) for line in self.lines_of(run)],
                         [(1, kind, value) for kind, value in HELLO])
        self.assertEqual(run.err_lines, [f"[bad] connected to {self.server.url('/masked')} (conn 1)",
                                         "[bad] error: server broke the WebSocket protocol (closed with 1002): the WebSocket frame was masked"])
        self.assertEqual(self.server.wait_for(r"^CLOSE ", timeout=WAIT), "CLOSE /masked 1002")


if __name__ == "__main__":
    unittest.main()
