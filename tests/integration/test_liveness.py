"""Liveness: a silent peer is detected by ping; a busy one is never dropped."""

import signal
import unittest

from harness import IntegrationTest

SHORT_PINGS = ["--ping-interval", "200ms", "--ping-timeout", "300ms"]


class Liveness(IntegrationTest):

    def test_mute_server_detected(self):
        server = self.start_server("beast")
        run = self.run_wsgather(*SHORT_PINGS, "--no-reconnect", server.url("/mute"), timeout=15)
        self.assertStatus(run, 1)
        self.assertEqual(run.stdout, b"")
        self.assertIn("no answer within 300ms of a ping: the server is unresponsive", run.err_text)
        self.assertLess(run.elapsed, 10, run.describe())  # nominally 0.5 s
        server.wait_for(r"^OPEN /mute$")
        server.wait_for(r"^CLOSE /mute none$")  # the socket was closed

    def test_mute_server_reconnects(self):
        server = self.start_server("beast")
        proc, out, err = self.start_wsgather(*SHORT_PINGS, "--backoff-min", "50ms", "--backoff-max", "100ms",
                                             server.url("/mute"))
        err.wait_for(r"unresponsive; reconnecting in")
        server.events.wait_count(r"^OPEN /mute$", 2)
        err.wait_for(r"connected to .*\(conn 2\)")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(proc), 0)

    def test_busy_connection_not_dropped(self):
        server = self.start_server("beast")
        run = self.run_wsgather("--ping-interval", "100ms", "--ping-timeout", "150ms", "-t", "2s",
                                server.url("/count?n=1000000&rate=200&close=none"), timeout=15)
        self.assertStatus(run, 0)
        lines = self.lines_of(run)
        self.assertGreater(len(lines), 100)
        self.assertEqual({l["conn"] for l in lines}, {1}, run.describe())
        self.assertSeqContiguous(lines)
        self.assertNotIn("unresponsive", run.err_text)
        self.assertEqual(len(server.events.wait_count(r"^OPEN ", 1)), 1)

    def test_idle_but_answering_server_not_dropped(self):
        # /echo sends nothing unless asked, but answers pings: not dead.
        server = self.start_server("beast")
        run = self.run_wsgather(*SHORT_PINGS, "-t", "1500ms", server.url("/echo"), timeout=15)
        self.assertStatus(run, 0)
        self.assertEqual(run.stdout, b"")
        self.assertNotIn("unresponsive", run.err_text)
        self.assertNotIn("reconnecting", run.err_text)
        server.wait_for(r"^CLOSE /echo 1000$")

    def test_idle_python_server_not_dropped(self):
        server = self.start_server("python")
        run = self.run_wsgather(*SHORT_PINGS, "-t", "1500ms", server.url("/echo"), timeout=15)
        self.assertStatus(run, 0)
        self.assertNotIn("reconnecting", run.err_text)
        server.wait_for(r"^CLOSE /echo 1000$")

    def test_server_pings_are_answered(self):
        server = self.start_server("python", "--ping", "0.1")
        run = self.run_wsgather("--ping-interval", "0", "-t", "1500ms", server.url("/echo"),
                                server.url("/count?n=1000000&rate=50&close=none"), timeout=15)
        self.assertStatus(run, 0)
        self.assertNotIn("reconnecting", run.err_text)
        self.assertEqual({l["conn"] for l in self.lines_of(run)}, {1})
        server.events.wait_count(r"^CLOSE /echo 1000$", 1)
        server.events.wait_count(r"^CLOSE /count\S* 1000$", 1)

    def test_pings_disabled(self):
        server = self.start_server("beast")
        run = self.run_wsgather("--ping-interval", "0", "--ping-timeout", "100ms", "-t", "1s",
                                server.url("/mute"), timeout=15)
        self.assertStatus(run, 0)
        self.assertNotIn("unresponsive", run.err_text)


if __name__ == "__main__":
    unittest.main()
