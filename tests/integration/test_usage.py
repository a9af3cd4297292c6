"""Usage errors: exit 2, one stderr line naming the bad value, no connection."""

import itertools
import os
import re
import unittest

from harness import VERSION, IntegrationTest

_probe_ids = itertools.count(1)


class UsageErrors(IntegrationTest):

    def setUp(self):
        super().setUp()
        self.server = self.start_server("beast")
        self.good = self.server.url("/echo?from=bad-command")

    def assertNoConnection(self):
        """No connection was made by the bad command.

        Instead of sleeping and looking for nothing, run a valid wsgather
        against the same server and check that its OPEN is the first one.
        """
        probe = f"/count?n=1&probe={next(_probe_ids)}"
        run = self.run_wsgather("-n", "1", self.server.url(probe))
        self.assertStatus(run, 0)
        self.assertEqual(self.server.wait_for(r"^OPEN "), f"OPEN {probe}",
                         "the bad command connected to the server")

    def check_usage_error(self, args, names):
        run = self.run_wsgather(*args, timeout=10)
        self.assertStatus(run, 2)
        self.assertEqual(run.stdout, b"")
        self.assertEqual(len(run.err_lines), 1, run.describe())
        [line] = run.err_lines
        self.assertTrue(line.startswith("wsgather: "), line)
        for name in names:
            self.assertIn(name, line)
        self.assertNoConnection()
        return line

    def test_bad_url(self):
        for url in ("ws://", "ws://[::1", "ws//host/x", "ws://127.0.0.1:0/x", "ws://127.0.0.1/x#frag"):
            with self.subTest(url=url):
                self.check_usage_error([self.good, url], [url])

    def test_http_scheme(self):
        url = self.server.url("/echo", scheme="http")
        line = self.check_usage_error([self.good, url], [url, "'http'"])
        self.assertIn("ws:// or wss://", line)

    def test_bad_feed_name(self):
        self.check_usage_error([self.good, "=" + self.good], ["="])

    def test_duplicate_names(self):
        line = self.check_usage_error(["a=" + self.good, "a=" + self.server.url("/count")], ["'a'"])
        self.assertIn("duplicate feed name", line)

    def test_bad_durations(self):
        cases = [
            ("--ping-interval", "5x"),
            ("--ping-timeout", "0"),
            ("--duration", "soon"),
            ("-t", "0"),
            ("--connect-timeout", "10q"),
            ("--connect-timeout", "0ms"),
            ("--backoff-max", "1d"),
            ("--coalesce", "2 ms"),
            ("--coalesce", "2s"),
        ]
        for option, value in cases:
            with self.subTest(option=option, value=value):
                long_name = "--duration" if option == "-t" else option
                self.check_usage_error([option, value, self.good], [f"'{value}'", long_name])

    def test_backoff_min_above_max(self):
        self.check_usage_error(["--backoff-min", "5s", "--backoff-max", "1s", self.good], ["5s", "1s"])

    def test_bad_size(self):
        for value in ("12XB", "1.5", "0", "-1"):
            with self.subTest(value=value):
                self.check_usage_error([f"--max-message-size={value}", self.good], [f"'{value}'"])

    def test_bad_numbers(self):
        for option, value in (("--count", "0"), ("--count", "-3"), ("--count", "ten"), ("--buffer", "0"),
                              ("--max-retries", "1.5"), ("--max-retries", "0")):
            with self.subTest(option=option, value=value):
                self.check_usage_error([f"{option}={value}", self.good], [f"'{value}'"])

    def test_bad_format(self):
        self.check_usage_error(["--format", "xml", self.good], ["'xml'", "--format"])

    def test_bad_headers(self):
        for header in ("X-Token abc", "Bad Name: x", "Sec-WebSocket-Protocol: a", "Connection: close"):
            with self.subTest(header=header):
                self.check_usage_error(["-H", header, self.good], [header])

    def test_bad_subprotocol(self):
        self.check_usage_error(["--subprotocol", "a b", self.good], ["'a b'"])

    def test_missing_url(self):
        line = self.check_usage_error(["-n", "1"], ["no feed URL"])
        self.assertIn("--help", line)

    def test_unknown_option(self):
        self.check_usage_error(["--frobnicate", self.good], ["--frobnicate"])

    def test_quiet_and_verbose(self):
        self.check_usage_error(["-q", "-v", self.good], ["--quiet", "--verbose"])

    def test_key_without_cert(self):
        self.check_usage_error(["--key", "k.pem", self.good], ["k.pem"])

    def test_unreadable_ca_file(self):
        missing = os.path.join(self.tmp, "missing-ca.pem")
        self.check_usage_error(["--ca-file", missing, self.good], [missing])

    def test_unreadable_client_cert(self):
        missing = os.path.join(self.tmp, "missing-cert.pem")
        self.check_usage_error(["--cert", missing, self.good], [missing])

    def test_first_error_only(self):
        # Several bad values: still one line.
        self.check_usage_error(["--format", "xml", "--count", "0", "http://x/", self.good], [])


class HelpAndVersion(IntegrationTest):

    def test_help(self):
        for flag in ("--help", "-h"):
            with self.subTest(flag=flag):
                run = self.run_wsgather(flag)
                self.assertStatus(run, 0)
                self.assertEqual(run.stderr, b"")
                text = run.stdout.decode()
                self.assertIn("Examples", text)
                self.assertIn("Usage: wsgather", text)
                for option in ("--count", "--duration", "--ca-file", "--no-reconnect", "--format"):
                    self.assertIn(option, text)

    def test_version(self):
        for flag in ("-V", "--version"):
            with self.subTest(flag=flag):
                run = self.run_wsgather(flag)
                self.assertStatus(run, 0)
                self.assertEqual(run.stdout, f"wsgather {VERSION}\n".encode())
                self.assertEqual(run.stderr, b"")
                self.assertRegex(VERSION, re.compile(r"^\d+\.\d+\.\d+$"))


if __name__ == "__main__":
    unittest.main()
