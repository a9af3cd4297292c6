"""Ending a run: --count, --duration, SIGTERM/SIGINT drains, a reader that goes away."""

import os
import re
import signal
import socket
import subprocess
import time
import unittest

from harness import WSGATHER, IntegrationTest, kill_process

ENDLESS_FAST = "/count?n=100000000&close=none"
ENDLESS_SLOW = "/count?n=1000000&rate=20&close=none"


class Count(IntegrationTest):

    def test_count_exact_on_one_feed(self):
        server = self.start_server("beast")
        # close=none: the only close is wsgather's own.
        run = self.run_wsgather("-n", "5", server.url("/count?n=1000&close=none"))
        self.assertStatus(run, 0)
        lines = self.lines_of(run)
        self.assertEqual([l["data"]["i"] for l in lines], [1, 2, 3, 4, 5])
        self.assertIn("wsgather: stopping: reached --count", run.err_text)
        server.wait_for(r"^CLOSE /count\?n=1000&close=none 1000$")

    def test_count_exact_across_feeds(self):
        beast = self.start_server("beast")
        python = self.start_server("python")
        feeds = [f"b{k}=" + beast.url(ENDLESS_FAST) for k in range(3)] + \
                [f"p{k}=" + python.url("/count?n=100000&close=none") for k in range(2)]
        for count, threads in ((1, 1), (777, 1), (5000, 1), (1, 3), (777, 3), (5000, 3)):
            with self.subTest(count=count, threads=threads):
                run = self.run_wsgather("-n", count, "--threads", threads, *feeds)
                self.assertStatus(run, 0)
                lines = self.lines_of(run)
                self.assertEqual(len(lines), count)
                for name, n in self.assertSeqContiguous(lines).items():
                    got = [l["data"]["i"] for l in lines if l["feed"] == name]
                    self.assertEqual(got, list(range(1, n + 1)))

    def test_count_with_few_messages_ends_when_feeds_end(self):
        # --count 100 but the server only has 3: all feeds ended normally, exit 0.
        server = self.start_server("beast")
        run = self.run_wsgather("--no-reconnect", "-n", "100", server.url("/count?n=3"))
        self.assertStatus(run, 0)
        self.assertEqual(len(self.lines_of(run)), 3)

    def test_count_stops_feeds_that_are_connecting_or_waiting(self):
        server = self.start_server("beast")
        dead = self.start_server("beast")
        dead_port = dead.port
        dead.stop()  # nobody listens there any more: connection refused, then backoff
        hanging = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(hanging.close)
        hanging.bind(("127.0.0.1", 0))
        hanging.listen(4)  # never accepted: the WebSocket handshake hangs
        run = self.run_wsgather("-n", "3", "--connect-timeout", "60s", "--backoff-min", "30s",
                                "--backoff-max", "60s",
                                f"hang=ws://127.0.0.1:{hanging.getsockname()[1]}/x",
                                f"refused=ws://127.0.0.1:{dead_port}/x",
                                "ok=" + server.url("/count?n=10&rate=20"), timeout=15)
        self.assertStatus(run, 0)
        self.assertLess(run.elapsed, 10, run.describe())  # nominally 0.1 s
        self.assertEqual(self.assertSeqContiguous(self.lines_of(run)), {"ok": 3})


class Duration(IntegrationTest):

    def test_duration_stops_endless_feed(self):
        server = self.start_server("beast")
        run = self.run_wsgather("-t", "1s", server.url(ENDLESS_SLOW), timeout=15)
        self.assertStatus(run, 0)
        self.assertGreaterEqual(run.elapsed, 0.9, run.describe())
        self.assertLess(run.elapsed, 5.0, run.describe())  # generous: nominally 1 s
        lines = self.lines_of(run)
        self.assertGreater(len(lines), 5)  # 20/s for about a second
        self.assertSeqContiguous(lines)
        self.assertIn("stopping: reached --duration", run.err_text)
        server.wait_for("^CLOSE " + re.escape(ENDLESS_SLOW) + " 1000$")

    def test_duration_with_fast_feed_only_complete_lines(self):
        server = self.start_server("beast")
        run = self.run_wsgather("-t", "500ms", server.url(ENDLESS_FAST), timeout=15)
        self.assertStatus(run, 0)
        lines = self.lines_of(run)  # fails on a partial last line
        self.assertGreater(len(lines), 100)
        self.assertSeqContiguous(lines)

    def test_gave_up_feed_makes_duration_run_fail(self):
        server = self.start_server("beast")
        run = self.run_wsgather("-t", "1s", server.url("/status/404"), server.url(ENDLESS_SLOW), timeout=15)
        self.assertStatus(run, 1)
        self.assertGreater(len(self.lines_of(run)), 5)


class Signals(IntegrationTest):

    def drain_on(self, sig, kind="beast", threads=1):
        server = self.start_server(kind)
        slow = "/count?n=1000000&rate=100&close=none"
        proc, out, err = self.start_wsgather("--threads", threads, "fast=" + server.url(ENDLESS_FAST),
                                             "slow=" + server.url(slow))
        server.events.wait_count(r"^OPEN ", 2)
        out.wait_lines(1000)
        proc.send_signal(sig)
        self.assertEqual(self.wait_exit(proc), 0, err.lines)
        data = out.wait_eof()
        lines = self.lines_of(data)
        counts = self.assertSeqContiguous(lines)
        self.assertGreaterEqual(sum(counts.values()), 1000)  # what wait_lines saw
        self.assertEqual(sorted(counts), ["fast", "slow"])
        for name in ("fast", "slow"):
            got = [l["data"]["i"] for l in lines if l["feed"] == name]
            self.assertEqual(got, list(range(1, len(got) + 1)))
        why = "interrupted" if sig == signal.SIGINT else "terminated"
        err.wait_for(f"wsgather: stopping: {why}")
        # Both WebSockets were closed with 1000 by wsgather.
        for target in (ENDLESS_FAST, slow):
            server.events.wait_count("^CLOSE " + re.escape(target) + " 1000$", 1)

    def test_sigterm_drains(self):
        self.drain_on(signal.SIGTERM)

    def test_sigterm_drains_feeds_on_two_threads(self):
        self.drain_on(signal.SIGTERM, threads=2)

    def test_sigint_drains(self):
        self.drain_on(signal.SIGINT)

    def test_sigterm_drains_python_server(self):
        self.drain_on(signal.SIGTERM, "python")

    def test_second_sigint_status_130(self):
        server = self.start_server("beast")
        proc, out, err = self.start_wsgather("--ping-interval", "0", server.url("/mute"))
        err.wait_for(r"connected to")
        proc.send_signal(signal.SIGINT)
        err.wait_for(r"stopping: interrupted")
        proc.send_signal(signal.SIGINT)
        self.assertEqual(self.wait_exit(proc), 128 + signal.SIGINT)

    def test_sigterm_with_stalled_reader_drains_everything(self):
        server = self.start_server("beast")
        proc = subprocess.Popen([WSGATHER, "--buffer", "16", "--ping-interval", "100ms", "--ping-timeout", "150ms",
                                 server.url(ENDLESS_FAST)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                bufsize=0)  # communicate() below would skip a read-ahead buffer
        self.addCleanup(kill_process, proc)
        first = proc.stdout.readline()
        self.assertTrue(first.endswith(b"\n"))
        # Stop reading: the pipe and then the channel fill, the feed pauses.
        # (Load shaping, not synchronisation: the checks hold at any moment.)
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        rest, stderr = proc.communicate(timeout=15)
        self.assertEqual(proc.returncode, 0, stderr)
        lines = self.lines_of(first + rest)
        self.assertSeqContiguous(lines)
        self.assertEqual([l["data"]["i"] for l in lines], list(range(1, len(lines) + 1)))
        # The time spent paused is not held against the server.
        self.assertNotIn(b"unresponsive", stderr)
        self.assertEqual({l["conn"] for l in lines}, {1})
        server.wait_for("^CLOSE " + re.escape(ENDLESS_FAST) + " 1000$")

    def test_sigterm_while_reconnecting(self):
        server = self.start_server("beast")
        port = server.port
        server.stop()
        proc, out, err = self.start_wsgather("--backoff-min", "10s", "--backoff-max", "20s",
                                             f"ws://127.0.0.1:{port}/count")
        err.wait_for(r"reconnecting in")
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(proc), 0)
        self.assertLess(time.monotonic() - start, 5.0, "the backoff wait was not abandoned")
        self.assertEqual(out.wait_eof(), b"")

    def test_second_signal_exits_at_once(self):
        # /mute never answers the close: the first SIGTERM waits for it,
        # the second ends the run with 128 + 15.
        server = self.start_server("beast")
        proc, out, err = self.start_wsgather("--ping-interval", "0", server.url("/mute"))
        server.wait_for(r"^OPEN /mute$")
        err.wait_for(r"connected to")
        proc.send_signal(signal.SIGTERM)
        err.wait_for(r"stopping: terminated")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(proc), 128 + signal.SIGTERM)


class ReaderGoesAway(IntegrationTest):

    def test_closed_stdout_ends_quietly(self):
        server = self.start_server("beast")
        start = time.monotonic()
        proc = subprocess.Popen([WSGATHER, "-q", server.url(ENDLESS_FAST)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(kill_process, proc)
        first = [proc.stdout.readline() for _ in range(5)]
        self.assertTrue(all(line.endswith(b"\n") for line in first), first)
        proc.stdout.close()  # like `| head -n 5`
        try:
            status = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.fail("wsgather kept running after its reader went away")
        stderr = proc.stderr.read()
        self.assertEqual(status, 0, stderr)
        self.assertEqual(stderr, b"")
        self.assertLess(time.monotonic() - start, 10)
        self.assertEqual([l["seq"] for l in self.lines_of(b"".join(first))], [1, 2, 3, 4, 5])

    def test_pipe_to_head_in_shell(self):
        server = self.start_server("beast")
        script = f'set -o pipefail; "$1" "$2" 2>"$3" | head -n 5'
        errfile = os.path.join(self.tmp, "stderr")
        result = subprocess.run(["bash", "-c", script, "bash", WSGATHER, server.url(ENDLESS_FAST), errfile],
                                stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(len(result.stdout.splitlines()), 5)
        with open(errfile) as f:
            logs = f.read().splitlines()
        # Without -q the connection is logged; nothing about the closed pipe.
        self.assertTrue(all("connected to" in line for line in logs), logs)


class ExitStatus(IntegrationTest):

    def test_output_write_failure(self):
        server = self.start_server("beast")
        run = self.run_wsgather("-o", "/dev/full", server.url(ENDLESS_FAST))
        self.assertStatus(run, 1)
        self.assertEqual(run.err_lines[-1], "wsgather: error: cannot write to /dev/full: No space left on device")

    def test_successful_connects_reset_max_retries(self):
        server = self.start_server("beast")
        run = self.run_wsgather("--backoff-min", "10ms", "--backoff-max", "20ms", "--max-retries", "1",
                                "-n", "8", server.url("/count?n=2&close=drop"))
        self.assertStatus(run, 0)
        self.assertEqual([l["conn"] for l in self.lines_of(run)], [1, 1, 2, 2, 3, 3, 4, 4])

    def test_close_codes_with_no_reconnect(self):
        server = self.start_server("beast")
        for close, status in (("1000", 0), ("1001", 0), ("4000", 1), ("1011", 1)):
            with self.subTest(close=close):
                run = self.run_wsgather("--no-reconnect", server.url(f"/count?n=2&close={close}"))
                self.assertStatus(run, status)
                self.assertEqual(len(self.lines_of(run)), 2)
                self.assertIn(f"server closed the connection (code {close})", run.err_text)

    def test_one_bad_close_fails_the_run(self):
        server = self.start_server("beast")
        run = self.run_wsgather("--no-reconnect", "a=" + server.url("/count?n=2"),
                                "b=" + server.url("/count?n=2&close=4001"))
        self.assertStatus(run, 1)
        self.assertEqual(self.assertSeqContiguous(self.lines_of(run)), {"a": 2, "b": 2})


if __name__ == "__main__":
    unittest.main()
