"""wss://: verification against a CA made at test time, failures, --insecure."""

import os
import re
import signal
import unittest

from harness import IntegrationTest, WithCertificates
from test_output import MIXED_RAW


class Tls(WithCertificates, IntegrationTest):

    def test_verified_connection(self):
        server = self.start_tls_server()
        run = self.run_wsgather("--ca-file", self.certs["ca"], "--no-reconnect",
                                server.url("/count?n=3", scheme="wss", host="localhost"))
        self.assertStatus(run, 0)
        lines = self.lines_of(run)
        self.assertEqual([(l["feed"], l["seq"], l["data"]) for l in lines],
                         [(f"localhost:{server.port}/count", k, {"i": k}) for k in (1, 2, 3)])
        self.assertNotIn("warning", run.err_text)

    def test_coalesced_reads_over_tls(self):
        # The coalescing layer sits under TLS: whole records still arrive.
        server = self.start_tls_server()
        run = self.run_wsgather("--ca-file", self.certs["ca"], "--no-reconnect", "--coalesce", "5ms",
                                server.url("/count?n=2000", scheme="wss", host="localhost"))
        self.assertStatus(run, 0)
        lines = self.lines_of(run)
        self.assertEqual([(l["seq"], l["data"]) for l in lines], [(k, {"i": k}) for k in range(1, 2001)])

    def test_mixed_over_tls(self):
        server = self.start_tls_server()
        run = self.run_wsgather("--ca-file", self.certs["ca"], "--no-reconnect", "--format", "raw",
                                server.url("/mixed", scheme="wss", host="localhost"))
        self.assertStatus(run, 0)
        self.assertEqual(run.stdout, MIXED_RAW)

    def test_unknown_ca_gives_up(self):
        server = self.start_tls_server()
        # No --ca-file: the system store does not know the test CA. Not even
        # --no-reconnect is needed: the same certificate would fail again.
        run = self.run_wsgather(server.url("/count?n=3", scheme="wss", host="localhost"))
        self.assertStatus(run, 1)
        self.assertEqual(run.stdout, b"")
        self.assertIn("unable to get local issuer certificate", run.err_text)
        self.assertIn("giving up", run.err_text)
        self.assertEqual(server.event_lines(), [])

    def test_host_name_mismatch_gives_up(self):
        server = self.start_tls_server()
        run = self.run_wsgather("--ca-file", self.certs["ca"], server.url("/count?n=3", scheme="wss"))
        self.assertStatus(run, 1)
        self.assertEqual(run.stdout, b"")
        self.assertRegex(run.err_text, r"(?i)mismatch")
        self.assertEqual(server.event_lines(), [])

    def test_insecure_skips_verification_with_warning(self):
        server = self.start_tls_server()
        for host in ("127.0.0.1", "localhost"):
            with self.subTest(host=host):
                run = self.run_wsgather("-k", "--no-reconnect", server.url("/count?n=3", scheme="wss", host=host))
                self.assertStatus(run, 0)
                self.assertEqual([l["data"]["i"] for l in self.lines_of(run)], [1, 2, 3])
                self.assertRegex(run.err_text, r"warning: TLS certificate verification is off")

    def test_ws_url_against_tls_server_fails(self):
        server = self.start_tls_server()
        run = self.run_wsgather("--no-reconnect", server.url("/count?n=3"))
        self.assertStatus(run, 1)
        self.assertEqual(run.stdout, b"")

    def test_wss_against_plain_server_fails(self):
        server = self.start_server("beast")
        run = self.run_wsgather("--no-reconnect", "--ca-file", self.certs["ca"],
                                server.url("/count?n=3", scheme="wss", host="localhost"))
        self.assertStatus(run, 1)
        self.assertEqual(run.stdout, b"")
        self.assertIn("TLS handshake", run.err_text)

    def test_sigterm_closes_tls_feed_with_1000(self):
        server = self.start_tls_server()
        target = "/count?n=100000000&close=none"
        proc, out, err = self.start_wsgather("--ca-file", self.certs["ca"],
                                             server.url(target, scheme="wss", host="localhost"))
        out.wait_lines(500)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(proc), 0, err.lines)
        lines = self.lines_of(out.wait_eof())
        self.assertSeqContiguous(lines)
        server.wait_for("^CLOSE " + re.escape(target) + " 1000$")

    def test_tls_server_killed_reconnects(self):
        server = self.start_tls_server()
        port = server.port
        proc, out, err = self.start_wsgather("--ca-file", self.certs["ca"], "--backoff-min", "50ms",
                                             "--backoff-max", "200ms",
                                             server.url("/count?n=1000000&rate=50&close=none", scheme="wss",
                                                        host="localhost"))
        out.wait_lines(2)
        server.stop()
        err.wait_for(r"reconnecting in")
        server = self.start_server("beast", "--tls", self.certs["cert"], self.certs["key"], port=port)
        out.wait_until(lambda data: b'"conn":2,' in data, what="a line of conn 2")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(proc), 0)
        lines = self.lines_of(out.wait_eof())
        self.assertSeqContiguous(lines)
        self.assertEqual(sorted({l["conn"] for l in lines}), [1, 2])

    def test_openssl_is_loaded_only_for_wss(self):
        plain = self.start_server("beast")
        secure = self.start_tls_server()
        target = "/count?n=1000000&rate=50&close=none"
        wss = secure.url(target, scheme="wss", host="localhost")
        # --ca-file alone would load it: named TLS files are checked at start.
        for args, loaded in (([plain.url(target)], False), (["--ca-file", self.certs["ca"], wss], True)):
            with self.subTest(args=args):
                proc, out, err = self.start_wsgather(*args)
                out.wait_lines(1)
                with open(f"/proc/{proc.pid}/maps") as maps:
                    libraries = {os.path.basename(line.split()[-1]) for line in maps if "/" in line}
                self.assertEqual("libssl.so.3" in libraries, loaded, sorted(libraries))
                self.assertEqual("libcrypto.so.3" in libraries, loaded, sorted(libraries))
                proc.send_signal(signal.SIGTERM)
                self.assertEqual(self.wait_exit(proc), 0, err.lines)
                self.assertSeqContiguous(self.lines_of(out.wait_eof()))

    def test_client_certificate_options(self):
        server = self.start_tls_server()
        url = server.url("/count?n=1", scheme="wss", host="localhost")
        combined = os.path.join(self.tmp, "combined.pem")
        with open(combined, "w") as f:
            for name in ("cert", "key"):
                with open(self.certs[name]) as part:
                    f.write(part.read())
        with self.subTest("--cert and --key"):
            run = self.run_wsgather("--ca-file", self.certs["ca"], "--cert", self.certs["cert"],
                                    "--key", self.certs["key"], "--no-reconnect", url)
            self.assertStatus(run, 0)
        with self.subTest("--key defaults to the --cert file"):
            run = self.run_wsgather("--ca-file", self.certs["ca"], "--cert", combined, "--no-reconnect", url)
            self.assertStatus(run, 0)
        with self.subTest("a key that does not match"):
            run = self.run_wsgather("--ca-file", self.certs["ca"], "--cert", self.certs["cert"],
                                    "--key", self.certs["ca_key"], url)
            self.assertStatus(run, 2)
            self.assertEqual(len(run.err_lines), 1, run.describe())
            self.assertIn(self.certs["ca_key"], run.err_text)
            self.assertRegex(run.err_text, r"mismatch|does not match")
        with self.subTest("a certificate file without a key"):
            run = self.run_wsgather("--ca-file", self.certs["ca"], "--cert", self.certs["cert"], url)
            self.assertStatus(run, 2)
            self.assertEqual(len(run.err_lines), 1, run.describe())
            self.assertIn(self.certs["cert"], run.err_text)

    def test_garbage_ca_file_is_usage_error(self):
        server = self.start_tls_server()
        bad = os.path.join(self.tmp, "garbage.pem")
        with open(bad, "w") as f:
            f.write("not a certificate\n")
        run = self.run_wsgather("--ca-file", bad, server.url("/count?n=3", scheme="wss", host="localhost"))
        self.assertStatus(run, 2)
        self.assertEqual(len(run.err_lines), 1, run.describe())
        self.assertIn(bad, run.err_text)


if __name__ == "__main__":
    unittest.main()
