"""--events: connection lifecycle records among the output lines.

Each record is a line with "type":"event" and no "seq" (seq counts
messages only): connected, disconnected (with the close code, 1006 when
there was no close frame, and the reason as logged), retrying (with the
delay, as logged) and gave_up.
"""

import re
import signal
import unittest

from harness import IntegrationTest, WAIT


class Events(IntegrationTest):

    def events_of(self, lines):
        return [line["data"] for line in lines if line["type"] == "event"]

    def test_a_connection_from_start_to_end(self):
        server = self.start_server("beast")
        url = server.url("/count?n=2")
        run = self.run_wsgather("--events", "--no-reconnect", "n=" + url)
        self.assertStatus(run, 0)
        self.assertOutputExceptTs(run.stdout, [
            '{"feed":"n","conn":1,"ts":"TS","type":"event","data":{"event":"connected","url":"%s"}}' % url,
            '{"feed":"n","seq":1,"conn":1,"ts":"TS","type":"json","data":{"i":1}}',
            '{"feed":"n","seq":2,"conn":1,"ts":"TS","type":"json","data":{"i":2}}',
            '{"feed":"n","conn":1,"ts":"TS","type":"event","data":{"event":"disconnected","code":1000,'
            '"reason":"server closed the connection (code 1000)"}}',
        ])

    def test_reconnects_show_the_gap(self):
        # The server closes with 1001 after one message, then hangs up
        # without a close frame: each connection's end and each wait is
        # recorded, with what the log says.
        server = self.start_server("beast")
        going_away, dropped = server.url("/count?n=1&close=1001"), server.url("/count?n=1&close=drop")
        run = self.run_wsgather("--events", "--backoff-min", "50ms", "--backoff-max", "100ms", "-n", "3",
                                "a=" + going_away)
        self.assertStatus(run, 0)
        lines = self.lines_of(run)
        self.assertEqual([(l["type"], l.get("seq"), l["conn"]) for l in lines][:6], [
            ("event", None, 1), ("json", 1, 1), ("event", None, 1), ("event", None, 1),
            ("event", None, 2), ("json", 2, 2)])
        events = self.events_of(lines)
        self.assertEqual(events[1], {"event": "disconnected", "code": 1001,
                                     "reason": "server closed the connection (code 1001)"})
        self.assertEqual(events[2]["event"], "retrying")
        self.assertEqual(events[2]["reason"], "server closed the connection (code 1001)")
        logged = re.search(r"reconnecting in (\d+)ms", run.err_text)
        self.assertIsNotNone(logged, run.describe())
        self.assertEqual(events[2]["delay_ms"], int(logged.group(1)))

        run = self.run_wsgather("--events", "--no-reconnect", "b=" + dropped)
        self.assertStatus(run, 1)
        self.assertEqual(self.events_of(self.lines_of(run))[1:], [
            {"event": "disconnected", "code": 1006, "reason": "server dropped the connection without a close frame"},
            {"event": "gave_up", "reason": "server dropped the connection without a close frame"}])

    def test_giving_up(self):
        server = self.start_server("beast")
        run = self.run_wsgather("--events", "--backoff-min", "20ms", "--backoff-max", "40ms", "--max-retries", "2",
                                "s=" + server.url("/status/503"))
        self.assertStatus(run, 1)
        events = self.events_of(self.lines_of(run))
        self.assertEqual([e["event"] for e in events], ["retrying", "gave_up"])
        self.assertEqual(events[1], {"event": "gave_up", "reason": events[0]["reason"]})
        self.assertTrue(events[0]["reason"].startswith("server refused the WebSocket upgrade: HTTP 503"), events)
        self.assertTrue(20 <= events[0]["delay_ms"] <= 40, events)

    def test_a_stop_ends_the_connection_record(self):
        server = self.start_server("beast")
        proc, out, err = self.start_wsgather("--events", "m=" + server.url("/count?n=0&close=none"))
        err.wait_for(r"connected to")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(proc), 0)
        lines = self.lines_of(out.wait_eof())
        self.assertEqual([l["data"]["event"] for l in lines], ["connected", "disconnected"])
        self.assertEqual(lines[1]["data"], {"event": "disconnected", "code": 1000, "reason": "stopped"})

    def test_events_do_not_count_as_messages(self):
        server = self.start_server("beast")
        run = self.run_wsgather("--events", "-n", "2", "c=" + server.url("/count?n=5&close=none"))
        self.assertStatus(run, 0)
        lines = self.lines_of(run)
        self.assertEqual([l.get("seq") for l in lines if l["type"] != "event"], [1, 2])
        self.assertEqual([l["data"]["event"] for l in lines if l["type"] == "event"], ["connected", "disconnected"])

    def test_raw_output_has_no_room_for_events(self):
        run = self.run_wsgather("--events", "--format", "raw", "ws://127.0.0.1:1/")
        self.assertStatus(run, 2)
        self.assertEqual(run.err_lines, ["wsgather: --events needs the jsonl format: raw output holds payloads only"])


if __name__ == "__main__":
    unittest.main()
