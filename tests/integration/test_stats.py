"""--stats: a JSON line of per-feed counters on stderr every DUR, and a
summary at the end (also with -v)."""

import json
import unittest

from harness import IntegrationTest


class Stats(IntegrationTest):

    def test_periodic_lines_and_summary(self):
        server = self.start_server("beast")
        run = self.run_wsgather("--stats", "200ms", "-t", "1.1s", "--backoff-min", "100ms", "--backoff-max", "100ms",
                                "a=" + server.url("/count?n=100000&rate=400&close=none&size=10"),
                                "down=ws://127.0.0.1:1/x")
        self.assertStatus(run, 0)
        lines = self.counter_lines(run.err_lines)
        periodic, summary = lines[:-1], lines[-1]
        self.assertTrue(3 <= len(periodic) <= 6, run.describe())
        self.assertEqual([l["type"] for l in lines], ["stats"] * len(periodic) + ["summary"])
        messages = [l["feeds"]["a"]["messages"] for l in lines]
        self.assertEqual(messages, sorted(messages), "counters only grow")
        self.assertGreater(messages[0], 0)
        # The summary counts exactly what was written.
        output = self.lines_of(run)
        self.assertEqual(summary["feeds"]["a"]["messages"], len(output))
        # Bytes as received: never less than the payloads with their spaces taken out.
        self.assertGreaterEqual(summary["feeds"]["a"]["bytes"],
                                sum(len(json.dumps(l["data"], separators=(",", ":"))) for l in output))
        self.assertGreaterEqual(summary["feeds"]["a"]["last_message_age_ms"], 0)
        down = summary["feeds"]["down"]
        self.assertEqual((down["messages"], down["bytes"], down["drops"], down["last_message_age_ms"]),
                         (0, 0, 0, None))
        self.assertGreaterEqual(down["reconnects"], 3)

    def test_verbose_prints_the_summary_only(self):
        server = self.start_server("beast")
        run = self.run_wsgather("-v", "--no-reconnect", "c=" + server.url("/count?n=3"))
        self.assertStatus(run, 0)
        [summary] = self.counter_lines(run.err_lines)
        self.assertEqual(summary["type"], "summary")
        self.assertEqual(summary["queue"], 0)
        self.assertEqual(summary["feeds"]["c"]["messages"], 3)

    def test_no_summary_by_default(self):
        server = self.start_server("beast")
        run = self.run_wsgather("--no-reconnect", "c=" + server.url("/count?n=3"))
        self.assertStatus(run, 0)
        self.assertEqual(self.counter_lines(run.err_lines), [])

    def test_a_device_needs_no_sync(self):
        # fsync(/dev/null) fails with EINVAL: a clean stop must not call that a write failure.
        server = self.start_server("beast")
        run = self.run_wsgather("--no-reconnect", "-o", "/dev/null", "c=" + server.url("/count?n=3"))
        self.assertStatus(run, 0)
        self.assertEqual(run.stdout, b"")

    def test_zero_interval_is_refused(self):
        run = self.run_wsgather("--stats", "0", "ws://127.0.0.1:1/")
        self.assertStatus(run, 2)
        self.assertEqual(run.err_lines, ["wsgather: invalid duration '0' for --stats: must be more than zero"])


if __name__ == "__main__":
    unittest.main()
