"""The opening handshake: HTTP refusals, Retry-After, subprotocols, headers."""

import base64
import email.utils
import json
import re
import signal
import socket
import time
import unittest
from urllib.parse import quote

from harness import VERSION, IntegrationTest, make_certificates

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


def redirect_to(location, status=302):
    """A /status path that answers with a redirect to `location`."""
    return f"/status/{status}?location=" + quote(location, safe="")


class Redirects(IntegrationTest):

    def test_follows_five_redirects_and_logs_each(self):
        server = self.start_server("python")
        target = "/count?n=2"
        for status in (301, 302, 303, 307, 308):
            target = redirect_to(target, status)
        run = self.run_wsgather("-n", "2", "f=" + server.url(target))
        self.assertStatus(run, 0)
        self.assertEqual([(l["seq"], l["conn"], l["data"]) for l in self.lines_of(run)],
                         [(1, 1, {"i": 1}), (2, 1, {"i": 2})])
        hops = [line for line in run.err_lines if "redirected to" in line]
        phrases = {301: "Moved Permanently", 302: "Found", 303: "See Other", 307: "Temporary Redirect",
                   308: "Permanent Redirect"}
        self.assertEqual(len(hops), 5, run.describe())
        for k, (line, status) in enumerate(zip(hops, (308, 307, 303, 302, 301)), start=1):
            self.assertTrue(line.startswith(f"[f] HTTP {status} {phrases[status]}: redirected to "
                                            f"ws://127.0.0.1:{server.port}/"), line)
            self.assertTrue(line.endswith(f"({k} of at most 5)"), line)
        self.assertIn(f"[f] connected to ws://127.0.0.1:{server.port}/count?n=2 (conn 1)", run.err_lines)

    def test_more_than_five_redirects_is_an_error(self):
        server = self.start_server("python")
        target = "/count?n=1"
        for _ in range(6):
            target = redirect_to(target)
        run = self.run_wsgather(*FAST_BACKOFF, "--max-retries", "2", "f=" + server.url(target))
        self.assertStatus(run, 1)
        self.assertEqual(run.stdout, b"")
        self.assertEqual(len([l for l in run.err_lines if "redirected to" in l]), 10, run.describe())
        self.assertRegex(run.err_text, r"\[f\] warning: HTTP 302 Found: too many redirects \(more than 5\), "
                                       r"the last to ws://127\.0\.0\.1:\d+/count\?n=1; "
                                       r"reconnecting in \d+ms")
        self.assertIn("giving up after 2 failed attempts", run.err_text)
        # Each attempt starts again at the URL given: six answers per attempt.
        self.assertEqual(len([e for e in server.events.lines if e.startswith("HTTP ")]), 12)

    def test_loop_is_an_error_and_other_feeds_keep_flowing(self):
        server = self.start_server("python")
        good = self.start_server("beast")
        proc, out, err = self.start_wsgather(*FAST_BACKOFF, "loop=" + server.url("/loop"),
                                             "good=" + good.url("/count?n=3&close=none"))
        line = err.wait_for(r"^\[loop\] warning: ")
        loop = re.escape(f"ws://127.0.0.1:{server.port}/loop")
        self.assertRegex(line, rf"^\[loop\] warning: HTTP 302 Found: redirect loop: {loop} leads back to {loop}; "
                               r"reconnecting in \d+ms$")
        err.wait_count(r"^\[loop\] warning: HTTP 302 Found: redirect loop", 3)
        out.wait_lines(3)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(proc), 0)
        lines = self.lines_of(out.wait_eof())
        self.assertEqual([(l["feed"], l["data"]) for l in lines], [("good", {"i": k}) for k in (1, 2, 3)])

    def test_relative_and_cross_server_redirects(self):
        first = self.start_server("python")
        second = self.start_server("python")
        # A relative Location resolves against the URL that answered.
        run = self.run_wsgather("-n", "1", first.url("/status/307?location=..%2Fcount%3Fn%3D1"))
        self.assertStatus(run, 0)
        self.assertIn(f"redirected to ws://127.0.0.1:{first.port}/count?n=1 (1 of at most 5)", run.err_text)
        first.wait_for(r"^OPEN /count\?n=1$")
        # On to another server.
        run = self.run_wsgather("-n", "1", first.url(redirect_to(second.url("/count?n=1"))))
        self.assertStatus(run, 0)
        self.assertEqual([l["data"] for l in self.lines_of(run)], [{"i": 1}])
        second.wait_for(r"^OPEN /count\?n=1$")

    def test_credentials_go_only_to_their_own_server(self):
        first = self.start_server("python")
        second = self.start_server("python")
        common = ["-H", "Authorization: Bearer t0ken", "-H", "Cookie: c=1", "-H", "X-Api-Key: k3y",
                  "--secret-header", "x-api-key", "-H", "X-Plain: p", "-s", "hi", "-n", "1"]
        # Same server: the URL's user info and every header follow the redirect.
        run = self.run_wsgather(*common, f"ws://u:pw@127.0.0.1:{first.port}" + redirect_to("/headers"))
        self.assertStatus(run, 0)
        seen = dict(Headers.headers_seen(self, first))
        self.assertEqual(seen["Authorization"], "Bearer t0ken")
        self.assertEqual((seen["Cookie"], seen["X-Api-Key"], seen["X-Plain"]), ("c=1", "k3y", "p"))
        # Another server: secrets stay behind, the rest follows.
        run = self.run_wsgather(*common, f"ws://u:pw@127.0.0.1:{first.port}" + redirect_to(second.url("/headers")))
        self.assertStatus(run, 0)
        names = [name.lower() for name, _ in Headers.headers_seen(self, second)]
        self.assertIn("x-plain", names)
        for secret in ("authorization", "cookie", "x-api-key"):
            self.assertNotIn(secret, names)

    def test_refused_redirects(self):
        server = self.start_server("python")
        for location, problem in (
                ("http://127.0.0.1:1/", "cannot follow the redirect: unsupported scheme 'http' in "
                                        "'http://127.0.0.1:1/': use ws:// or wss://"),
                ("wss://127.0.0.1:1/", "cannot follow the redirect to wss://127.0.0.1:1/: a run without wss:// "
                                       "feeds has no TLS set up; give that URL instead"),
                ("ws://[::1", "cannot follow the redirect to 'ws://[::1': not a URL")):
            with self.subTest(location=location):
                run = self.run_wsgather("--max-retries", "1", "f=" + server.url(redirect_to(location, 301)))
                self.assertStatus(run, 1)
                self.assertEqual(run.err_lines, [f"[f] error: HTTP 301 Moved Permanently: {problem}; "
                                                 f"giving up after 1 failed attempt"])

    def test_no_downgrade_from_wss_to_ws(self):
        certs = make_certificates(self.tmp)
        server = self.start_server("beast", "--tls", certs["cert"], certs["key"])
        plain = self.start_server("beast")
        run = self.run_wsgather("--ca-file", certs["ca"], "--max-retries", "1",
                                f"f=wss://localhost:{server.port}" + redirect_to(plain.url("/count?n=1")))
        self.assertStatus(run, 1)
        self.assertEqual(run.err_lines, [f"[f] error: HTTP 302 Found: refused to follow the redirect from wss:// to "
                                         f"ws://127.0.0.1:{plain.port}/count?n=1; giving up after 1 failed attempt"])

    def test_redirect_without_location_is_a_refusal(self):
        server = self.start_server("beast")
        run = self.run_wsgather("--max-retries", "1", "f=" + server.url("/status/302"))
        self.assertStatus(run, 1)
        self.assertIn("[f] error: server refused the WebSocket upgrade: HTTP 302 Found; giving up after 1 failed "
                      "attempt", run.err_lines)


class Secrets(IntegrationTest):

    def test_verbose_logs_show_no_secret(self):
        server = self.start_server("python")
        run = self.run_wsgather("-v", "-H", "Authorization: Bearer t0ken", "-H", "cookie: c=s3cret",
                                "-H", "X-Api-Key: k3y", "--secret-header", "X-API-KEY", "-H", "X-Plain: visible",
                                "-s", "hi", "-n", "1", f"f=ws://u:pw@127.0.0.1:{server.port}/headers")
        self.assertStatus(run, 0)
        request = [l for l in run.err_lines if l.startswith("[f] handshake request: GET /headers; ")]
        self.assertEqual(len(request), 1, run.describe())
        for shown in ("Authorization: ***", "cookie: ***", "X-Api-Key: ***", "X-Plain: visible"):
            self.assertIn(shown, request[0])
        self.assertIn("[f] handshake answer: HTTP 101 Switching Protocols; ", run.err_text)
        for secret in ("t0ken", "s3cret", "k3y", "pw@", base64.b64encode(b"u:pw").decode()):
            self.assertNotIn(secret, run.err_text)
        seen = dict(Headers.headers_seen(self, server))
        self.assertEqual((seen["Authorization"], seen["cookie"], seen["X-Api-Key"]), ("Bearer t0ken", "c=s3cret", "k3y"))

    def test_errors_show_no_secret(self):
        run = self.run_wsgather("-H", "Authorization: Bearer t0ken\r", "ws://127.0.0.1:1/")
        self.assertStatus(run, 2)
        self.assertEqual(run.err_lines, ["wsgather: invalid header 'Authorization: ***' for --header: line breaks "
                                         "are not allowed in a value"])
        run = self.run_wsgather("--secret-header", "X-Key", "-H", "x-key: k3y\n", "ws://127.0.0.1:1/")
        self.assertStatus(run, 2)
        self.assertEqual(run.err_lines, ["wsgather: invalid header 'x-key: ***' for --header: line breaks are not "
                                         "allowed in a value"])

    def test_bad_secret_header_name(self):
        run = self.run_wsgather("--secret-header", "X-Key: v", "ws://127.0.0.1:1/")
        self.assertStatus(run, 2)
        self.assertEqual(run.err_lines, ["wsgather: invalid header name 'X-Key: v' for --secret-header: use a name "
                                         "alone, without ':' or a value"])


if __name__ == "__main__":
    unittest.main()
