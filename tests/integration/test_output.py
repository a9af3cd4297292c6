"""Output format: the exact JSON lines for /mixed, --format raw, -o FILE."""

import datetime
import os
import unittest

from harness import IntegrationTest


def mixed_lines(feed):
    """What /mixed must produce, with "TS" in place of each timestamp."""
    head = '{"feed":"%s","seq":%%d,"conn":1,"ts":"TS",' % feed
    return [
        (head % 1) + '"type":"json","data":{"a":1}}',
        (head % 2) + '"type":"text","data":"hello \\"world\\""}',
        (head % 3) + '"type":"json","data":{"b":[1,2.50,true,null],"c":"x\\ty"}}',
        (head % 4) + '"type":"binary","data":"AAEC/w=="}',
        (head % 5) + '"type":"text","data":""}',
        (head % 6) + '"type":"text","data":"line1\\nline2"}',
        (head % 7) + '"type":"json","data":42}',
    ]


MIXED_RAW = (b'{"a":1}\n'
             b'hello "world"\n'
             b'{\n  "b": [1, 2.50, true, null],\n  "c": "x\\ty"\n}\n'
             b'\x00\x01\x02\xff\n'
             b'\n'
             b'line1\nline2\n'
             b'42\n')


class MixedOutput(IntegrationTest):

    def check_mixed(self, kind):
        server = self.start_server(kind)
        run = self.run_wsgather("--no-reconnect", server.url("/mixed"))
        self.assertStatus(run, 0)
        lines = self.lines_of(run)
        self.assertEqual(len(lines), 7, run.describe())
        self.assertOutputExceptTs(run.stdout, mixed_lines(f"127.0.0.1:{server.port}/mixed"))
        # Timestamps never go backwards within a feed.
        stamps = [line["ts"] for line in lines]
        self.assertEqual(stamps, sorted(stamps))
        self.assertIn("connected to", run.err_text)
        # The server's close 1000 ended the feed normally.
        server.wait_for(r"^CLOSE /mixed ")

    def test_mixed_beast_server(self):
        self.check_mixed("beast")

    def test_mixed_python_server(self):
        self.check_mixed("python")

    def test_named_feed(self):
        server = self.start_server("python")
        run = self.run_wsgather("--no-reconnect", "m=" + server.url("/mixed?x=1"))
        self.assertStatus(run, 0)
        self.assertOutputExceptTs(run.stdout, mixed_lines("m"))
        self.assertTrue(all(line.startswith("[m] ") for line in run.err_lines), run.describe())

    def test_default_name_drops_query_keeps_port(self):
        server = self.start_server("beast")
        run = self.run_wsgather("--no-reconnect", server.url("/count?n=1"))
        self.assertStatus(run, 0)
        [line] = self.lines_of(run)
        self.assertEqual(line["feed"], f"127.0.0.1:{server.port}/count")
        self.assertEqual((line["seq"], line["conn"], line["type"], line["data"]), (1, 1, "json", {"i": 1}))

    def test_raw_format(self):
        for kind in ("beast", "python"):
            with self.subTest(server=kind):
                server = self.start_server(kind)
                run = self.run_wsgather("--no-reconnect", "--format", "raw", server.url("/mixed"))
                self.assertStatus(run, 0)
                self.assertEqual(run.stdout, MIXED_RAW)

    def test_output_file_appends(self):
        server = self.start_server("beast")
        path = os.path.join(self.tmp, "out.jsonl")
        with open(path, "wb") as f:
            f.write(b"existing line\n")
        feed = f"127.0.0.1:{server.port}/mixed"
        for _ in range(2):
            run = self.run_wsgather("--no-reconnect", "-o", path, server.url("/mixed"))
            self.assertStatus(run, 0)
            self.assertEqual(run.stdout, b"", "nothing on stdout with -o")
        with open(path, "rb") as f:
            content = f.read()
        self.assertTrue(content.startswith(b"existing line\n"))
        self.assertOutputExceptTs(content[len(b"existing line\n"):], mixed_lines(feed) * 2)

    def test_output_file_created_with_mode_0644(self):
        server = self.start_server("beast")
        path = os.path.join(self.tmp, "new.jsonl")
        old_umask = os.umask(0o022)
        try:
            run = self.run_wsgather("--no-reconnect", "-o", path, server.url("/count?n=2"))
        finally:
            os.umask(old_umask)
        self.assertStatus(run, 0)
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o644)
        with open(path, "rb") as f:
            self.assertEqual([line["data"] for line in self.lines_of(f.read())], [{"i": 1}, {"i": 2}])

    def test_unwritable_output_file_fails(self):
        server = self.start_server("beast")
        path = os.path.join(self.tmp, "no-such-dir", "out.jsonl")
        run = self.run_wsgather("--no-reconnect", "-o", path, server.url("/count?n=1"))
        self.assertStatus(run, 1)
        self.assertIn(path, run.err_text)
        self.assertEqual(run.stdout, b"")


class Payloads(IntegrationTest):
    """Arbitrary text sent with -s to /echo comes back as a line."""

    CASES = [
        # (sent, expected "type", expected "data" as JSON text)
        ('{"a" : [1 , 2.0e5, -0, "\\u00e9\\n"] }', "json", '{"a":[1,2.0e5,-0,"\\u00e9\\n"]}'),
        ("  42  ", "json", "42"),
        ("\t[ ]\r\n", "json", "[]"),
        ('"just a string"', "json", '"just a string"'),
        ("null", "json", "null"),
        ("tru", "text", '"tru"'),
        ('{"a":1} {"b":2}', "text", '"{\\"a\\":1} {\\"b\\":2}"'),
        ('{"a":1,}', "text", '"{\\"a\\":1,}"'),
        ("01", "text", '"01"'),
        ("héllo ✓", "text", '"héllo ✓"'),
        ('{"k":"héllo"}', "json", '{"k":"héllo"}'),
        ("x\x01y\\z", "text", '"x\\u0001y\\\\z"'),
        ("[" * 512 + "]" * 512, "json", "[" * 512 + "]" * 512),
        ("[" * 513 + "]" * 513, "text", '"' + "[" * 513 + "]" * 513 + '"'),
    ]

    def test_echoed_payloads(self):
        server = self.start_server("beast")
        args = []
        for sent, _, _ in self.CASES:
            args += ["-s", sent]
        run = self.run_wsgather("-n", len(self.CASES), "e=" + server.url("/echo"), *args)
        self.assertStatus(run, 0)
        expected = ['{"feed":"e","seq":%d,"conn":1,"ts":"TS","type":"%s","data":%s}' % (k, kind, data)
                    for k, (_, kind, data) in enumerate(self.CASES, 1)]
        self.assertOutputExceptTs(run.stdout, expected)

    def test_timestamps_are_utc_now(self):
        server = self.start_server("beast")
        before = datetime.datetime.now(datetime.timezone.utc)
        run = self.run_wsgather("--no-reconnect", server.url("/count?n=3"))
        after = datetime.datetime.now(datetime.timezone.utc)
        self.assertStatus(run, 0)
        for line in self.lines_of(run):
            ts = datetime.datetime.strptime(line["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
            # Same clock: only rounding to microseconds separates them.
            self.assertLessEqual(before - datetime.timedelta(milliseconds=1), ts)
            self.assertLessEqual(ts, after + datetime.timedelta(milliseconds=1))

    def test_fragmented_messages(self):
        server = self.start_server("python")
        run = self.run_wsgather("--no-reconnect", "f=" + server.url("/fragmented"))
        self.assertStatus(run, 0)
        self.assertOutputExceptTs(run.stdout, [
            '{"feed":"f","seq":1,"conn":1,"ts":"TS","type":"json","data":{"a":[1,2]}}',
            '{"feed":"f","seq":2,"conn":1,"ts":"TS","type":"text","data":"héllo wörld"}',
            '{"feed":"f","seq":3,"conn":1,"ts":"TS","type":"binary","data":"AAEC/w=="}',
            '{"feed":"f","seq":4,"conn":1,"ts":"TS","type":"json","data":7}',
        ])

    def test_large_message(self):
        server = self.start_server("beast")
        size = 8 * 1024 * 1024
        run = self.run_wsgather("--no-reconnect", server.url(f"/count?n=2&size={size}"))
        self.assertStatus(run, 0)
        lines = self.lines_of(run)
        self.assertEqual([l["data"]["i"] for l in lines], [1, 2])
        self.assertEqual([len(l["data"]["pad"]) for l in lines], [size - len('{"i":1,"pad":""}')] * 2)

    def test_large_payloads_between_small_ones(self):
        # Payloads of 2 KiB and more that need no change are written from
        # where they were received, the rest is copied: the lines must come
        # out whole and in order either way, in both formats.
        pad = "x" * 3000
        sent = ['{"k":1}', '{"pad":"%s"}' % pad, '{ "pad" : "%s" }' % pad, "text " + pad, '{"k":2}',
                '{"pad":"%s"}' % pad]
        data = ['{"k":1}', '{"pad":"%s"}' % pad, '{"pad":"%s"}' % pad, None, '{"k":2}', '{"pad":"%s"}' % pad]
        for fmt in ("jsonl", "raw"):
            with self.subTest(format=fmt):
                server = self.start_server("python")
                args = [a for message in sent for a in ("--send", message)]
                run = self.run_wsgather("-n", len(sent), "--format", fmt, *args, "e=" + server.url("/echo"))
                self.assertStatus(run, 0)
                if fmt == "raw":
                    self.assertEqual(run.stdout.decode(), "".join(m + "\n" for m in sent))
                    continue
                head = '{"feed":"e","seq":%d,"conn":1,"ts":"TS",'
                self.assertOutputExceptTs(run.stdout, [
                    (head % i) + ('"type":"text","data":"%s"}' % m if d is None else '"type":"json","data":%s}' % d)
                    for i, (m, d) in enumerate(zip(sent, data), 1)])

    def test_message_over_limit_fails_connection(self):
        server = self.start_server("beast")
        run = self.run_wsgather("--no-reconnect", "--max-message-size", "1KiB",
                                server.url("/count?n=3&size=2000"))
        self.assertStatus(run, 1)
        self.assertEqual(run.stdout, b"")
        self.assertIn("a message exceeded the maximum message size (1KiB)", run.err_text)
        server.wait_for(r"^CLOSE /count\S* 1009$")

    def test_message_at_limit_passes(self):
        server = self.start_server("beast")
        run = self.run_wsgather("--no-reconnect", "--max-message-size", "1KiB", server.url("/count?n=3&size=1024"))
        self.assertStatus(run, 0)
        self.assertEqual(len(self.lines_of(run)), 3)


class Compression(IntegrationTest):

    def test_compressed_feed(self):
        server = self.start_server("python", "--compress")
        run = self.run_wsgather("--no-reconnect", "--compress", "c=" + server.url("/count?n=3000&size=300"),
                                "m=" + server.url("/mixed"))
        self.assertStatus(run, 0)
        lines = self.lines_of(run)
        self.assertEqual(self.assertSeqContiguous(lines), {"c": 3000, "m": 7})
        self.assertEqual([l["data"]["i"] for l in lines if l["feed"] == "c"], list(range(1, 3001)))
        mixed = b"".join(line + b"\n" for line in run.stdout.splitlines() if line.startswith(b'{"feed":"m"'))
        self.assertOutputExceptTs(mixed, mixed_lines("m"))

    def test_compress_offered_to_server_without_it(self):
        server = self.start_server("beast")
        run = self.run_wsgather("--no-reconnect", "--compress", server.url("/mixed"))
        self.assertStatus(run, 0)
        self.assertOutputExceptTs(run.stdout, mixed_lines(f"127.0.0.1:{server.port}/mixed"))


class Logs(IntegrationTest):

    def test_default_logs(self):
        server = self.start_server("beast")
        run = self.run_wsgather("--no-reconnect", "a=" + server.url("/count?n=1"), "b=" + server.url("/count?n=1"))
        self.assertStatus(run, 0)
        self.assertEqual(sorted(run.err_lines), sorted([
            f"[a] connected to ws://127.0.0.1:{server.port}/count?n=1 (conn 1)",
            "[a] server closed the connection (code 1000)",
            f"[b] connected to ws://127.0.0.1:{server.port}/count?n=1 (conn 1)",
            "[b] server closed the connection (code 1000)",
        ]))

    def test_quiet_logs_errors_only(self):
        server = self.start_server("beast")
        run = self.run_wsgather("-q", "-n", "6", "--backoff-min", "10ms", "--backoff-max", "20ms",
                                server.url("/count?n=2&close=drop"))
        self.assertStatus(run, 0)
        self.assertEqual(len(self.lines_of(run)), 6)
        self.assertEqual(run.stderr, b"")
        run = self.run_wsgather("-q", "e=" + server.url("/status/404"))
        self.assertStatus(run, 1)
        self.assertEqual(run.err_lines,
                         ["[e] error: server refused the WebSocket upgrade: HTTP 404 Not Found; giving up"])

    def test_verbose_keeps_normal_logs(self):
        server = self.start_server("beast")
        run = self.run_wsgather("-v", "--no-reconnect", "a=" + server.url("/count?n=1"))
        self.assertStatus(run, 0)
        self.assertIn("[a] connected to", run.err_text)


if __name__ == "__main__":
    unittest.main()
