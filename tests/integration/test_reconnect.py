"""Reconnecting: dropped connections, a restarted server, --send on every connect."""

import json
import re
import signal
import unittest

from harness import IntegrationTest

FAST_BACKOFF = ["--backoff-min", "50ms", "--backoff-max", "200ms"]


class Reconnect(IntegrationTest):

    def check_drop_and_reconnect(self, kind):
        server = self.start_server(kind)
        run = self.run_wsgather(*FAST_BACKOFF, "-n", "15", server.url("/count?n=5&close=drop"))
        self.assertStatus(run, 0)
        lines = self.lines_of(run)
        self.assertEqual([l["seq"] for l in lines], list(range(1, 16)))
        self.assertEqual([l["conn"] for l in lines], [1] * 5 + [2] * 5 + [3] * 5)
        self.assertEqual([l["data"]["i"] for l in lines], list(range(1, 6)) * 3)
        self.assertIn("server dropped the connection without a close frame", run.err_text)
        # Each wait is within [--backoff-min, --backoff-max].
        delays = [int(m) for m in re.findall(r"reconnecting in (\d+)ms", run.err_text)]
        self.assertGreaterEqual(len(delays), 2, run.describe())
        self.assertTrue(all(50 <= d <= 200 for d in delays), delays)
        self.assertEqual(len(server.events.wait_count(r"^OPEN /count", 3)), 3)

    def test_drop_reconnects_beast(self):
        self.check_drop_and_reconnect("beast")

    def test_drop_reconnects_python(self):
        self.check_drop_and_reconnect("python")

    def test_close_1000_reconnects_without_no_reconnect(self):
        server = self.start_server("beast")
        run = self.run_wsgather(*FAST_BACKOFF, "-n", "6", server.url("/count?n=3"))
        self.assertStatus(run, 0)
        lines = self.lines_of(run)
        self.assertEqual([(l["seq"], l["conn"], l["data"]["i"]) for l in lines],
                         [(1, 1, 1), (2, 1, 2), (3, 1, 3), (4, 2, 1), (5, 2, 2), (6, 2, 3)])
        self.assertIn("server closed the connection (code 1000); reconnecting in", run.err_text)

    def test_server_restart_on_same_port(self):
        server = self.start_server("beast")
        port = server.port
        target = "/count?n=1000000&rate=50&close=none"
        proc, out, err = self.start_wsgather(*FAST_BACKOFF, server.url(target))
        server.wait_for(r"^OPEN /count")
        out.wait_lines(3)
        server.stop()  # SIGKILL: no close frame, the kernel ends the TCP connection
        err.wait_for(r"reconnecting in")
        server = self.start_server("beast", port=port)
        server.wait_for(r"^OPEN /count")
        err.wait_for(r"connected to .*\(conn 2\)")
        # Wait for some lines of the second connection, then stop cleanly.
        out.wait_until(lambda data: data.count(b'"conn":2,') >= 3, what="3 lines of conn 2")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(proc), 0)
        lines = self.lines_of(out.wait_eof())
        self.assertEqual([l["seq"] for l in lines], list(range(1, len(lines) + 1)))
        conns = [l["conn"] for l in lines]
        self.assertEqual(sorted(set(conns)), [1, 2])
        self.assertEqual(conns, sorted(conns))
        second = [l for l in lines if l["conn"] == 2]
        self.assertEqual([l["data"]["i"] for l in second], list(range(1, len(second) + 1)))
        server.wait_for("^CLOSE " + re.escape(target) + " 1000$")

    def test_send_is_repeated_on_every_connect_in_order(self):
        subscribe = '{"op":"subscribe","channel":"x"}'
        for kind in ("beast", "python"):
            with self.subTest(server=kind):
                server = self.start_server(kind)
                port = server.port
                proc, out, err = self.start_wsgather(*FAST_BACKOFF, "-s", subscribe, "-s", "b c",
                                                     "e=" + server.url("/echo"))
                for restart in range(2):
                    server.wait_for(r"^OPEN /echo$")
                    self.assertEqual(server.wait_for(r"^RECV"), f"RECV /echo {subscribe}")
                    self.assertEqual(server.wait_for(r"^RECV"), "RECV /echo b c")
                    out.wait_lines(2 * (restart + 1))
                    if restart == 0:
                        server.stop()
                        err.wait_for(r"reconnecting in")
                        server = self.start_server(kind, port=port)
                proc.send_signal(signal.SIGTERM)
                self.assertEqual(self.wait_exit(proc), 0)
                lines = self.lines_of(out.wait_eof())
                self.assertEqual([(l["seq"], l["conn"], l["type"], l["data"]) for l in lines], [
                    (1, 1, "json", json.loads(subscribe)),
                    (2, 1, "text", "b c"),
                    (3, 2, "json", json.loads(subscribe)),
                    (4, 2, "text", "b c"),
                ])
                server.wait_for(r"^CLOSE /echo 1000$")

    def test_connection_refused_retries_until_server_appears(self):
        # A server that is started, noted and killed leaves a port nobody listens on.
        server = self.start_server("beast")
        port = server.port
        server.stop()
        proc, out, err = self.start_wsgather(*FAST_BACKOFF, f"ws://127.0.0.1:{port}/count?n=2&close=none")
        err.wait_for(r"cannot connect to 127\.0\.0\.1:%d: .*reconnecting in" % port)
        err.wait_for(r"cannot connect to .*reconnecting in")
        server = self.start_server("beast", port=port)
        out.wait_lines(2)
        proc.send_signal(signal.SIGINT)
        self.assertEqual(self.wait_exit(proc), 0)
        lines = self.lines_of(out.wait_eof())
        self.assertEqual([(l["seq"], l["conn"]) for l in lines], [(1, 1), (2, 1)])

    def test_max_retries_gives_up(self):
        server = self.start_server("beast")
        port = server.port
        server.stop()
        run = self.run_wsgather(*FAST_BACKOFF, "--max-retries", "3", f"ws://127.0.0.1:{port}/count")
        self.assertStatus(run, 1)
        self.assertEqual(run.stdout, b"")
        self.assertIn("giving up after 3 failed attempts", run.err_text)
        self.assertEqual(sum("reconnecting in" in line for line in run.err_lines), 2, run.describe())

    def test_no_reconnect_after_drop_fails(self):
        server = self.start_server("beast")
        run = self.run_wsgather(*FAST_BACKOFF, "--no-reconnect", server.url("/count?n=2&close=drop"))
        self.assertStatus(run, 1)
        self.assertEqual(len(self.lines_of(run)), 2)
        self.assertIn("without a close frame", run.err_text)
        self.assertNotIn("reconnecting", run.err_text)


if __name__ == "__main__":
    unittest.main()
