"""Many feeds at once: per-feed sequence numbers, names, no loss, exit status."""

import unittest

from harness import IntegrationTest

N = 2000


class ManyFeeds(IntegrationTest):

    def check_feeds(self, lines, expected_names, n):
        by_feed = {}
        for line in lines:
            by_feed.setdefault(line["feed"], []).append(line)
        self.assertEqual(sorted(by_feed), sorted(expected_names))
        for name, feed_lines in by_feed.items():
            with self.subTest(feed=name):
                self.assertEqual([l["seq"] for l in feed_lines], list(range(1, n + 1)))
                self.assertEqual([l["data"] for l in feed_lines], [{"i": k} for k in range(1, n + 1)])
                self.assertTrue(all(l["conn"] == 1 and l["type"] == "json" for l in feed_lines))

    def test_four_feeds_on_two_servers(self):
        beast = self.start_server("beast")
        python = self.start_server("python")
        target = f"/count?n={N}"
        urls = [
            "b1=" + beast.url(target),
            "b2=" + beast.url(target),  # same host, port and path: needs a name of its own
            "p1=" + python.url(target),
            python.url(target),  # default name
        ]
        run = self.run_wsgather("--no-reconnect", *urls)
        self.assertStatus(run, 0)
        lines = self.lines_of(run)
        self.assertEqual(len(lines), 4 * N)
        self.check_feeds(lines, ["b1", "b2", "p1", f"127.0.0.1:{python.port}/count"], N)
        # Feeds run at once: their lines interleave rather than come feed by feed.
        names_in_order = [line["feed"] for line in lines]
        switches = sum(1 for a, b in zip(names_in_order, names_in_order[1:]) if a != b)
        self.assertGreater(switches, 3, "the feeds' lines never interleave")

    def check_count_feeds(self, names, *options):
        """Feeds named b* on a Beast server and p* on a python one, N messages
        each; every message arrives once and in order. Returns the servers."""
        beast = self.start_server("beast")
        python = self.start_server("python")
        target = f"/count?n={N}"
        urls = [name + "=" + (beast if name[0] == "b" else python).url(target) for name in names]
        run = self.run_wsgather("--no-reconnect", *options, *urls)
        self.assertStatus(run, 0)
        lines = self.lines_of(run)
        self.assertEqual(len(lines), len(names) * N)
        self.check_feeds(lines, names, N)
        return beast, python

    def test_feeds_spread_over_three_threads(self):
        # --threads 3: feeds 1 and 4 on the first I/O thread, 2 and 5 on the
        # second, 3 on the third; one channel, one writer, nothing lost.
        beast, python = self.check_count_feeds(["b1", "p2", "b3", "p4", "b5"], "--threads", "3")
        beast.events.wait_count(r"^CLOSE /count", 3)
        python.events.wait_count(r"^CLOSE /count", 2)

    def test_coalesced_reads_lose_nothing(self):
        # --coalesce: a busy feed's next read waits 5 ms for more to arrive;
        # every message still comes, once and in order, and each feed ends
        # at its server's close.
        self.check_count_feeds(["b1", "b2", "p1"], "--coalesce", "5ms")

    def test_only_busy_feeds_coalesce_by_default(self):
        # --coalesce auto: a feed of more than 10,000 messages a second has its
        # reads wait 1 ms; one of 200 a second is read message by message.
        # --coalesce 0 never waits. Nothing is lost either way.
        beast = self.start_server("beast")
        fast, slow = "fast=" + beast.url(f"/count?n={N}"), "slow=" + beast.url("/count?n=100&rate=200")
        busy_line = "[fast] busy: reads wait up to 1ms for more (--coalesce auto)"
        for options, expect_busy in (([], True), (["--coalesce", "0"], False)):
            with self.subTest(options=options):
                run = self.run_wsgather("-v", "--no-reconnect", *options, fast, slow)
                self.assertStatus(run, 0)
                self.assertEqual(self.assertSeqContiguous(self.lines_of(run)), {"fast": N, "slow": 100})
                self.assertEqual(busy_line in run.err_lines, expect_busy, run.err_text)
                self.assertEqual([l for l in run.err_lines if l.startswith("[slow]") and "busy" in l], [])

    def test_default_names_on_different_paths_and_ports(self):
        beast = self.start_server("beast")
        python = self.start_server("python")
        run = self.run_wsgather("--no-reconnect", beast.url("/count?n=3"), beast.url("/mixed"),
                                python.url("/count?n=3"), python.url("/mixed"))
        self.assertStatus(run, 0)
        lines = self.lines_of(run)
        counts = self.assertSeqContiguous(lines)
        self.assertEqual(counts, {
            f"127.0.0.1:{beast.port}/count": 3,
            f"127.0.0.1:{beast.port}/mixed": 7,
            f"127.0.0.1:{python.port}/count": 3,
            f"127.0.0.1:{python.port}/mixed": 7,
        })

    def test_same_default_name_is_a_usage_error(self):
        beast = self.start_server("beast")
        run = self.run_wsgather("--no-reconnect", beast.url("/count?n=1"), beast.url("/count?n=2"))
        self.assertStatus(run, 2)
        self.assertEqual(run.stdout, b"")
        self.assertIn(f"duplicate feed name '127.0.0.1:{beast.port}/count'", run.err_text)

    def test_root_path_default_name(self):
        beast = self.start_server("beast")
        run = self.run_wsgather(beast.url("/"), beast.url(""))
        self.assertStatus(run, 2)
        self.assertIn(f"duplicate feed name '127.0.0.1:{beast.port}'", run.err_text)

    def test_failed_feed_does_not_stop_the_others(self):
        beast = self.start_server("beast")
        run = self.run_wsgather(beast.url("/status/404"), "--no-reconnect", beast.url("/count?n=500"))
        # The 404 feed gives up (status 1); the other one delivers everything.
        self.assertStatus(run, 1)
        lines = self.lines_of(run)
        self.assertEqual(self.assertSeqContiguous(lines), {f"127.0.0.1:{beast.port}/count": 500})
        self.assertIn("HTTP 404", run.err_text)

    def test_many_small_feeds(self):
        beast = self.start_server("beast")
        feeds = [f"f{k}=" + beast.url(f"/count?n=50&k={k}") for k in range(40)]
        run = self.run_wsgather("--no-reconnect", *feeds)
        self.assertStatus(run, 0)
        lines = self.lines_of(run)
        self.check_feeds(lines, [f"f{k}" for k in range(40)], 50)
        opens = beast.events.wait_count(r"^OPEN ", 40)
        self.assertEqual(sorted(opens), sorted(f"OPEN /count?n=50&k={k}" for k in range(40)))


if __name__ == "__main__":
    unittest.main()
