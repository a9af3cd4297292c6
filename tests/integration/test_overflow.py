"""--overflow: with a drop policy, a full channel costs messages, each one
counted and reported, and the feeds keep reading their sockets."""

import fcntl
import json
import os
import unittest

from harness import IntegrationTest

N = 3000
SIZE = 200
BUFFER = 16
F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ, named only from Python 3.10 on


class DropPolicies(IntegrationTest):

    def record_into_stuck_output(self, policy, *extra):
        """One feed of N messages into a pipe that nobody reads until wsgather
        has received all of them. Returns (output lines, summary)."""
        server = self.start_server("beast")
        read_end, write_end = os.pipe()
        # The smallest pipe, so that the writer is stuck at once.
        fcntl.fcntl(write_end, F_SETPIPE_SZ, 4096)
        try:
            proc, _, err = self.start_wsgather("--no-reconnect", "--buffer", BUFFER, "--overflow", policy,
                                               "--stats", "50ms", *extra,
                                               "f=" + server.url(f"/count?n={N}&size={SIZE}"), stdout=write_end)
        finally:
            os.close(write_end)
        with os.fdopen(read_end, "rb") as output:
            # Every message received while the output is stuck: under the
            # block policy this would never come.
            err.wait_for(r'"f":\{"messages":%d,' % N)
            data = output.read()
        self.assertEqual(self.wait_exit(proc), 0, "\n".join(err.lines))
        summary = self.counter_lines(err.wait_eof())[-1]
        self.assertEqual(summary["type"], "summary")
        return self.lines_of(data), summary["feeds"]["f"]

    def check_drops(self, lines, counters):
        messages = [line for line in lines if line["type"] != "event"]
        seqs = [line["seq"] for line in messages]
        self.assertEqual(seqs, sorted(set(seqs)), "out of order or repeated")
        self.assertTrue(all(1 <= seq <= N for seq in seqs))
        # A message keeps its seq: its payload says which it was.
        self.assertTrue(all(line["data"]["i"] == line["seq"] for line in messages))
        self.assertEqual(counters["messages"], N)
        self.assertEqual(counters["drops"], N - len(messages))
        # Two batches of BUFFER and a 4 KiB pipe hold far fewer than N.
        self.assertGreater(counters["drops"], N // 2)
        return seqs

    def test_drop_newest_keeps_the_first_messages(self):
        lines, counters = self.record_into_stuck_output("drop-newest")
        seqs = self.check_drops(lines, counters)
        # The first message found the channel empty; the last found it full.
        self.assertEqual(seqs[:BUFFER], list(range(1, BUFFER + 1)))
        self.assertNotIn(N, seqs)

    def test_drop_oldest_keeps_the_last_messages(self):
        lines, counters = self.record_into_stuck_output("drop-oldest")
        seqs = self.check_drops(lines, counters)
        # The channel ended holding the newest messages.
        self.assertEqual(seqs[-BUFFER:], list(range(N - BUFFER + 1, N + 1)))
        self.assertNotIn(N // 2, seqs)

    def test_events_report_every_drop(self):
        for policy in ("drop-newest", "drop-oldest"):
            with self.subTest(policy=policy):
                lines, counters = self.record_into_stuck_output(policy, "--events")
                self.check_drops(lines, counters)
                events = [line["data"] for line in lines if line["type"] == "event"]
                self.assertEqual(events[0]["event"], "connected")
                self.assertEqual(events[-1]["event"], "disconnected")
                dropped = [event for event in events if event["event"] == "dropped"]
                self.assertTrue(dropped)
                self.assertTrue(all(set(event) == {"event", "messages"} for event in dropped), dropped)
                self.assertEqual(sum(event["messages"] for event in dropped), counters["drops"])
                # The last report comes before the disconnection it precedes.
                self.assertEqual(events[-2]["event"], "dropped")

    def test_block_is_the_default_and_drops_nothing(self):
        server = self.start_server("beast")
        run = self.run_wsgather("--no-reconnect", "--buffer", "1", "--stats", "1h", "f=" + server.url("/count?n=500"))
        self.assertStatus(run, 0)
        self.assertEqual(len(self.lines_of(run)), 500)
        summary = self.counter_lines(run.err_lines)[-1]
        self.assertEqual(summary["feeds"]["f"], summary["feeds"]["f"] | {"messages": 500, "drops": 0})

    def test_a_policy_from_the_config_file(self):
        config = os.path.join(self.tmp, "run.json")
        with open(config, "w") as f:
            json.dump({"feeds": [{"url": "ws://127.0.0.1:9/"}], "output": {"overflow": "drop-newest"}}, f)
        run = self.run_wsgather("-c", config, "--check")
        self.assertStatus(run, 0)
        self.assertEqual(json.loads(run.stdout)["output"]["overflow"], "drop-newest")
        run = self.run_wsgather("-c", config, "--check", "--overflow", "block")
        self.assertEqual(json.loads(run.stdout)["output"]["overflow"], "block")

    def test_an_unknown_policy_is_a_usage_error(self):
        run = self.run_wsgather("--overflow", "drop", "ws://127.0.0.1:9/")
        self.assertStatus(run, 2)
        self.assertEqual(run.err_lines, ["wsgather: invalid overflow policy 'drop' for --overflow: "
                                         "use block, drop-oldest or drop-newest"])


if __name__ == "__main__":
    unittest.main()
