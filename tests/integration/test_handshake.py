"""The opening handshake: HTTP refusals, Retry-After, subprotocols, headers."""

import base64
import email.utils
import json
import signal
import socket
import time
import unittest
from urllib.parse import quote

from harness import VERSION, IntegrationTest

FAST_BACKOFF = ["--backoff-min", "10ms", "--backoff-max", "20ms"]


class Refusals(IntegrationTest):

    def test_permanent_refusals_give_up_at_once(self):
        for kind in ("beast", "python"):
            server = self.start_server(kind)
            for code, phrase in ((401, "Unauthorized"), (403, "Forbidden"), (404, "Not Found")):
                with self.subTest(server=kind, code=code):
                    # No --no-reconnect, and a --max-retries that would allow more.
                    run = self.run_wsgather(*FAST_BACKOFF, "--max-retries", "5", server.url(f"/status/{code}"),
                                            timeout=10)
                    self.assertStatus(run, 1)
                    self.assertEqual(run.stdout, b"")
                    self.assertIn(f"server refused the WebSocket upgrade: HTTP {code} {phrase}; giving up",
                                  run.err_text)
                    self.assertNotIn("reconnecting", run.err_text)
                    self.assertNotIn("failed attempt", run.err_text)

    def test_retry_after_is_honoured(self):
        server = self.start_server("beast")
        run = self.run_wsgather(*FAST_BACKOFF, "--max-retries", "2", server.url("/status/503?retry_after=1"),
                                timeout=15)
        self.assertStatus(run, 1)
        self.assertEqual(run.stdout, b"")
        # Two attempts with one Retry-After wait of 1 s between them.
        self.assertGreaterEqual(run.elapsed, 0.9, run.describe())
        self.assertIn("HTTP 503 Service Unavailable (Retry-After: 1); reconnecting in 1s", run.err_text)
        self.assertIn("giving up after 2 failed attempts", run.err_text)

    def test_retry_after_python_server(self):
        server = self.start_server("python")
        run = self.run_wsgather(*FAST_BACKOFF, "--max-retries", "2", server.url("/status/429?retry_after=1"),
                                timeout=15)
        self.assertStatus(run, 1)
        self.assertGreaterEqual(run.elapsed, 0.9, run.describe())
        self.assertIn("HTTP 429 Too Many Requests (Retry-After: 1); reconnecting in 1s", run.err_text)

    def test_retry_after_http_date(self):
        server = self.start_server("beast")
        when = email.utils.formatdate(time.time() + 3, usegmt=True)
        run = self.run_wsgather(*FAST_BACKOFF, "--max-retries", "2",
                                server.url("/status/503?retry_after=" + quote(when)), timeout=15)
        self.assertStatus(run, 1)
        # The date has whole seconds: the wait is between 2 and 3 s.
        self.assertGreaterEqual(run.elapsed, 1.5, run.describe())
        self.assertIn(f"(Retry-After: {when})", run.err_text)

    def test_429_and_5xx_are_retried(self):
        server = self.start_server("beast")
        for code in (429, 500, 502, 503):
            with self.subTest(code=code):
                run = self.run_wsgather(*FAST_BACKOFF, "--max-retries", "3", server.url(f"/status/{code}"),
                                        timeout=10)
                self.assertStatus(run, 1)
                self.assertEqual(run.stdout, b"")
                self.assertIn(f"HTTP {code} ", run.err_text)
                self.assertEqual(sum("reconnecting in" in line for line in run.err_lines), 2, run.describe())
                self.assertIn("giving up after 3 failed attempts", run.err_text)

    def test_refusal_with_no_reconnect(self):
        server = self.start_server("beast")
        run = self.run_wsgather("--no-reconnect", server.url("/status/503"), timeout=10)
        self.assertStatus(run, 1)
        self.assertIn("HTTP 503", run.err_text)
        self.assertNotIn("reconnecting", run.err_text)


class Timeouts(IntegrationTest):

    def silent_listener(self):
        """A TCP port whose connections the kernel accepts and nobody answers."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(sock.close)
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        return sock.getsockname()[1]

    def test_websocket_handshake_timeout(self):
        port = self.silent_listener()
        run = self.run_wsgather("--connect-timeout", "500ms", "--no-reconnect", f"ws://127.0.0.1:{port}/x",
                                timeout=15)
        self.assertStatus(run, 1)
        self.assertGreaterEqual(run.elapsed, 0.45, run.describe())
        self.assertIn(f"WebSocket handshake with 127.0.0.1:{port}: no answer within 500ms", run.err_text)

    def test_tls_handshake_timeout(self):
        port = self.silent_listener()
        run = self.run_wsgather("--connect-timeout", "500ms", "--no-reconnect", f"wss://localhost:{port}/x",
                                timeout=15)
        self.assertStatus(run, 1)
        self.assertGreaterEqual(run.elapsed, 0.45, run.describe())
        self.assertIn(f"TLS handshake with localhost:{port}: no answer within 500ms", run.err_text)

    def test_signal_during_handshake_stops_at_once(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(listener.close)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.settimeout(5)
        port = listener.getsockname()[1]
        for scheme in ("ws", "wss"):
            with self.subTest(scheme=scheme):
                proc, out, err = self.start_wsgather("--connect-timeout", "60s", f"{scheme}://localhost:{port}/x")
                # The first bytes of its handshake (HTTP request or TLS
                # ClientHello) show that wsgather is waiting for an answer.
                conn, _ = listener.accept()
                self.addCleanup(conn.close)
                conn.settimeout(5)
                self.assertTrue(conn.recv(1))
                start = time.monotonic()
                proc.send_signal(signal.SIGINT)
                self.assertEqual(self.wait_exit(proc, timeout=5), 0, err.lines)
                self.assertLess(time.monotonic() - start, 5)
                self.assertEqual(out.wait_eof(), b"")


class Subprotocols(IntegrationTest):

    def test_selected_subprotocol(self):
        server = self.start_server("beast")
        run = self.run_wsgather("--subprotocol", "a", "--subprotocol", "b", "--no-reconnect",
                                server.url("/subprotocol?select=b"))
        self.assertStatus(run, 0)
        [line] = self.lines_of(run)
        self.assertEqual((line["type"], line["data"]), ("json", "a, b"))
        self.assertIn("subprotocol b", run.err_text)

    def test_no_subprotocol_offered_none_selected(self):
        server = self.start_server("beast")
        run = self.run_wsgather("--no-reconnect", server.url("/subprotocol"))
        self.assertStatus(run, 0)
        [line] = self.lines_of(run)
        self.assertEqual(line["data"], "")
        self.assertNotIn("subprotocol", run.err_text.replace("/subprotocol", ""))

    def test_unoffered_subprotocol_fails(self):
        server = self.start_server("beast")
        run = self.run_wsgather("--subprotocol", "a", "--no-reconnect", server.url("/subprotocol?select=zzz"))
        self.assertStatus(run, 1)
        self.assertEqual(run.stdout, b"")
        self.assertIn("server selected subprotocol 'zzz', not one of those offered (a)", run.err_text)

    def test_subprotocol_selected_without_offer_fails(self):
        server = self.start_server("beast")
        run = self.run_wsgather("--no-reconnect", server.url("/subprotocol?select=zzz"))
        self.assertStatus(run, 1)
        self.assertEqual(run.stdout, b"")
        self.assertIn("'zzz'", run.err_text)


class Headers(IntegrationTest):

    def headers_seen(self, server):
        """The HEADER events of the first /headers connection, as (name, value)."""
        server.wait_for(r"^OPEN /headers")
        pairs = []
        for line in server.events.lines:
            if line.startswith("OPEN "):
                break
            if line.startswith("HEADER "):
                name, _, value = line[len("HEADER "):].partition(": ")
                pairs.append((name, value))
        return pairs

    def test_custom_and_default_headers(self):
        for kind in ("beast", "python"):
            with self.subTest(server=kind):
                server = self.start_server(kind)
                run = self.run_wsgather("-H", "X-Token: abc", "-H", "X-Empty:", "-s", "hi", "-n", "1",
                                        server.url("/headers"))
                self.assertStatus(run, 0)
                [line] = self.lines_of(run)
                self.assertEqual(line["data"], "hi")
                headers = self.headers_seen(server)
                self.assertIn(("X-Token", "abc"), headers)
                self.assertIn(("User-Agent", f"wsgather/{VERSION}"), headers)
                self.assertIn(("Host", f"127.0.0.1:{server.port}"), headers)
                self.assertEqual([n for n, _ in headers if n.lower() == "x-empty"], ["X-Empty"])
                self.assertEqual(server.wait_for(r"^RECV"), "RECV /headers hi")

    def test_header_replaces_user_agent(self):
        server = self.start_server("beast")
        run = self.run_wsgather("-H", "user-agent: probe/2", "-s", "x", "-n", "1", server.url("/headers"))
        self.assertStatus(run, 0)
        agents = [(n, v) for n, v in self.headers_seen(server) if n.lower() == "user-agent"]
        self.assertEqual(agents, [("user-agent", "probe/2")])

    def test_basic_auth_from_url(self):
        server = self.start_server("python")
        run = self.run_wsgather("-s", "x", "-n", "1", f"ws://user:s3cret@127.0.0.1:{server.port}/headers")
        self.assertStatus(run, 0)
        expected = "Basic " + base64.b64encode(b"user:s3cret").decode()
        self.assertIn(("Authorization", expected), self.headers_seen(server))
        self.assertNotIn("s3cret", run.err_text)
        self.assertIn("user:***@", run.err_text)
        [line] = self.lines_of(run)
        self.assertEqual(line["feed"], f"127.0.0.1:{server.port}/headers")

    def test_request_target_sent_as_written(self):
        server = self.start_server("beast")
        target = "/echo?b=2&a=%20x&a=1"
        run = self.run_wsgather("-s", json.dumps({"k": [1, 2]}), "-n", "1", server.url(target))
        self.assertStatus(run, 0)
        self.assertEqual(server.wait_for(r"^OPEN "), f"OPEN {target}")
        [line] = self.lines_of(run)
        self.assertEqual(line["data"], {"k": [1, 2]})


if __name__ == "__main__":
    unittest.main()
