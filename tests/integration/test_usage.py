"""Usage errors: exit 2, one stderr line naming the bad value, no connection."""

import concurrent.futures
import itertools
import os
import re
import subprocess
import time
import unittest

from harness import VERSION, WSGATHER, IntegrationTest, Run

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


def shown(value):
    """`value` as wsgather's one-line messages write it (log::one_line escapes controls)."""
    escapes = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    return "".join(escapes.get(c, f"\\x{ord(c):02x}" if ord(c) < 0x20 or ord(c) == 0x7F else c) for c in value)


def quoted(value):
    return f"'{shown(value)}'"


# Hostile command lines, table-driven: every row must give exit status 2 and
# one stderr line that names the bad value (quoted as wsgather quotes it) and
# its option. Each table ends with one probe that no row connected anywhere.

# A bad URL next to a good one. The value is the URL as written.
MALFORMED_URLS = [
    # no scheme
    "127.0.0.1:8080/x", "example.com/feed", "//127.0.0.1/x", "localhost:8080/x", "",
    # no host
    "ws:/x", "ws:x", "ws:///x", "ws://:80/x", "ws://user@/x", "wss://:443/",
    # bad port
    "ws://127.0.0.1:99999/x", "ws://127.0.0.1:65536/x", "ws://127.0.0.1:abc/x", "ws://127.0.0.1:-1/x",
    "ws://127.0.0.1:/x", "ws://127.0.0.1:00000/x", "ws://[::1]:99999/x",
    # Boost.URL 1.81 alone would keep the leading digits and connect to :80, :8 and :9.
    "ws://127.0.0.1:80:90/x", "ws://127.0.0.1:8a0/x", "ws://127.0.0.1:9:/x",
    # fragments, even empty ones
    "ws://127.0.0.1/x#", "wss://127.0.0.1/x?a=1#top",
    # spaces and control characters
    "ws://127.0.0.1/a b", "ws://127.0.0.1 /x", " ws://127.0.0.1/x", "ws://127.0.0.1/x\n", "ws://127.0.0.1/x\tb",
    "ws://127.0.0.1/\x01",
    # IPv6 brackets
    "ws://::1]/x", "ws://[::1]]/x", "ws://[::1/x", "ws://[/x", "ws://[zz]/x", "ws://[v1.x]/x",
    # bad percent-encoding
    "ws://127.0.0.1/%zz",
]

# (option, value): durations. Every option is checked with a few bad values;
# the parser's corners go through one option each (--coalesce has its own check).
DURATION_OPTIONS = ["--connect-timeout", "--ping-interval", "--ping-timeout", "--backoff-min", "--backoff-max",
                    "--duration", "--coalesce"]
BAD_DURATIONS = [(option, value) for option in DURATION_OPTIONS for value in ("-1s", "1e999s", "99999999h")] + [
    ("--ping-timeout", value) for value in ("abc", "1x", "9999999999999999999999999", "inf", "nan", "1.5.2", "1 s",
                                            " 1s", "1S", "0x10", ".s", "1h30m", "1e3s", "-1")] + [
    ("--coalesce", value) for value in ("abc", "1x", "inf", "-1", "1e3ms")] + [
    ("-t", "-5"), ("--connect-timeout", "0.0001s"), ("--backoff-min", "0.4ms"), ("--ping-interval", "0.0001"),
    ("--connect-timeout", ""), ("--ping-interval", ""), ("--ping-timeout", ""), ("--backoff-min", ""),
    ("--backoff-max", ""), ("--coalesce", ""), ("--duration", ""), ("-t", ""),
]

BAD_SIZES = ["", "abc", "-1", "1TB", "1TB?", "99999999999999999999GiB", "99999999999999999999", "1e3", "0.1",
             "KiB", "1 KiB", "16MiBx", "2PiB", "1000000GiB", "0B", "1.0000001KiB"]

COUNT_OPTIONS = ["-n", "--buffer", "--max-retries", "--threads"]
BAD_COUNTS = [(option, value) for option in COUNT_OPTIONS for value in ("-1", "x", "18446744073709551616")] + [
    ("-n", "0"), ("--threads", "0"), ("--buffer", "99999999999999999999")] + [
    (option, value) for option in ("--count", "--threads")
    for value in ("1.0", "+1", " 1", "1 ", "1e3", "0x10", "00")] + [
    ("--buffer", ""), ("--threads", ""), ("--threads", "257"), ("--threads", "18446744073709551615"),
    ("-n", ""), ("--count", ""), ("--max-retries", ""),
]

BAD_HEADERS = [
    "", "NoColon", ": value", ":", "X : y", " X: y", "\u00c4: x", "X\x01: y",
    "Upgrade: websocket", "upgrade: h2c", "Sec-WebSocket-Key: abc", "sec-websocket-version: 13",
    "Sec-WebSocket-Extensions: permessage-deflate", "CONNECTION: Upgrade",
    "X: a\r\nInjected: b", "X: a\nb", "X: a\rb", "X: \r\n",
    "Sec-WebSocket-Accept: x", "Sec-WebSocket-Foo: x",
    # RFC 9110 allows no control characters but tab in a field value.
    "X: a\x01b", "X: a\x7fb",
]


class HostileCommandLines(IntegrationTest):
    """Every malformed value on the command line: status 2, one line naming it."""

    def setUp(self):
        super().setUp()
        self.server = self.start_server("beast")
        self.good = self.server.url("/echo?from=hostile-command")

    def tearDown(self):
        # One probe per table: no row reached the server.
        probe = f"/count?n=1&probe={next(_probe_ids)}"
        run = self.run_wsgather("-n", "1", self.server.url(probe))
        self.assertStatus(run, 0)
        self.assertEqual(self.server.wait_for(r"^OPEN "), f"OPEN {probe}", "a rejected command connected")
        super().tearDown()

    @staticmethod
    def run_one(args):
        """Runs wsgather to its end (killed after 10 s); for a pool thread, so no assertions."""
        start = time.monotonic()
        try:
            done = subprocess.run([WSGATHER, *args], stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
            return Run(args, done.returncode, done.stdout, done.stderr, time.monotonic() - start)
        except subprocess.TimeoutExpired as e:  # killed and reaped by subprocess.run
            return Run(args, None, e.stdout or b"", e.stderr or b"", time.monotonic() - start)

    def check_table(self, rows):
        """rows: (subtest labels, args, names). Runs the commands four at a time, then checks each."""
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            runs = list(pool.map(self.run_one, [args for _, args, _ in rows]))
        for (labels, _, names), run in zip(rows, runs):
            with self.subTest(**labels):
                self.check_rejected(run, names)

    def check_rejected(self, run, names):
        self.assertStatus(run, 2)
        self.assertEqual(run.stdout, b"", run.describe())
        self.assertEqual(len(run.err_lines), 1, run.describe())
        self.assertTrue(run.stderr.endswith(b"\n") and run.stderr.count(b"\n") == 1, run.describe())
        [line] = run.err_lines
        self.assertTrue(line.startswith("wsgather: "), line)
        for name in names:
            self.assertIn(name, line, run.describe())

    def test_malformed_urls(self):
        self.check_table([(dict(url=url), [self.good, url], [quoted(url)]) for url in MALFORMED_URLS])

    def test_unsupported_schemes_are_named(self):
        self.check_table([(dict(url=url), [self.good, url], [quoted(url), f"scheme '{scheme}'", "ws:// or wss://"])
                          for url, scheme in (("https://127.0.0.1/x", "https"), ("ftp://127.0.0.1/x", "ftp"),
                                              ("file:///x", "file"), ("wsx://127.0.0.1/x", "wsx"),
                                              ("mailto:a@b", "mailto"), ("WSS+x://h/", "wss+x"))])

    def test_bad_feed_names(self):
        url = self.server.url("/count")
        default_name = self.good.split("://", 1)[1].split("?", 1)[0]  # host:port/path, as wsgather names it
        cases = [
            (f"={url}", ["''", quoted(f"={url}")]),
            (f"a b={url}", [quoted("a b")]),
            (f"a\tb={url}", [quoted("a\tb")]),
            (f"a\x01={url}", [quoted("a\x01")]),
            (f"a\x7f={url}", [quoted("a\x7f")]),
            # The name is "a"; the rest is not a URL.
            (f"a=b={url}", [quoted(f"b={url}")]),
            ("a=ws://", [quoted("ws://")]),
            # A name that clashes with the other feed's default name.
            (f"{default_name}={url}", [f"duplicate feed name {quoted(default_name)}"]),
            ("a=", [quoted("a="), "no URL"]),
        ]
        self.check_table([(dict(argument=argument), [self.good, argument], names) for argument, names in cases])

    def test_bad_durations(self):
        self.check_table([(dict(option=option, value=value), [option, value, self.good],
                           [quoted(value), "--duration" if option == "-t" else option])
                          for option, value in BAD_DURATIONS])

    def test_bad_durations_after_equals(self):
        self.check_table([(dict(option=option), [f"{option}=-1s", self.good], [quoted("-1s"), option])
                          for option in DURATION_OPTIONS])

    def test_bad_sizes(self):
        self.check_table([(dict(value=value), ["--max-message-size", value, self.good],
                           [quoted(value), "--max-message-size"]) for value in BAD_SIZES])

    def test_bad_counts(self):
        self.check_table([(dict(option=option, value=value), [option, value, self.good],
                           [quoted(value), "--count" if option == "-n" else option])
                          for option, value in BAD_COUNTS])

    def test_bad_headers(self):
        self.check_table([(dict(header=header), ["-H", header, self.good], [quoted(header), "--header"])
                          for header in BAD_HEADERS])

    def test_other_empty_values(self):
        self.check_table([(dict(option=option), [option, "", self.good], ["''", option])
                          for option in ("--format", "--subprotocol")])
        # Given empty, these are errors, not the option left out (stdout, the system store, no certificate).
        self.check_table([(dict(option=option), [option, "", self.good], ["''", "--output" if option == "-o" else option])
                          for option in ("-o", "--ca-file", "--cert", "--key")])

    def test_empty_value_after_equals(self):
        # CLI11 alone would take the next argument (a URL) as the value.
        self.check_table([(dict(option=option), [f"{option}=", self.good, self.server.url("/count")], ["''", option])
                          for option in DURATION_OPTIONS + ["--max-message-size", "--count", "--buffer",
                                                            "--max-retries", "--threads", "--output", "--ca-file"]])


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
