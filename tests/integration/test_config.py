"""The config file (-c FILE): feeds and settings from JSON with comments.

Each feed gets its own headers and messages; settings layer as built-in <
the file's "defaults" < the command line < the feed's own keys; ${VAR} comes
from the environment; --check prints the resolved run and connects nowhere;
every mistake is exit 2 and one line naming the file and the JSON path;
--heartbeat sends a text message every interval after the `send` messages.
"""

import itertools
import json
import os
import re
import signal
import unittest
from unittest import mock

from harness import VERSION, IntegrationTest

_probe_ids = itertools.count(1)

# Headers every handshake has; what a test set is the rest.
HANDSHAKE_HEADERS = {"host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version"}
USER_AGENT = ("User-Agent", f"wsgather/{VERSION}")

# The variables the tests set; each test starts with none of them set.
ENV_NAMES = ("WSG_TEST_TOKEN", "WSG_TEST_REGION", "WSG_TEST_EMPTY", "WSG_TEST_PORT", "WSG_TEST_KEY",
             "WSG_TEST_NAME_UNSET")


class ConfigTest(IntegrationTest):

    def setUp(self):
        super().setUp()
        # wsgather inherits the environment: keep the tests' variables to the test.
        patcher = mock.patch.dict(os.environ)
        patcher.start()
        self.addCleanup(patcher.stop)
        for name in ENV_NAMES:
            os.environ.pop(name, None)

    def write_config(self, content, name="wsgather.json"):
        """Writes a config file (text as is, anything else as JSON); returns its path."""
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(content if isinstance(content, str) else json.dumps(content, indent=2))
        return path

    def connections(self, server, targets):
        """Waits for each target's CLOSE; returns {target: {"headers", "recv", "close"}}:
        the headers a test may set, as (name, value), the texts received, the close code.

        A /headers connection's HEADER lines come together just before its
        OPEN, so each block of them belongs to the OPEN that ends it.
        """
        for target in targets:
            server.events.wait_count(r"^CLOSE " + re.escape(target) + " ", 1)
        result = {}
        pending = []
        for line in server.events.lines:
            kind, _, rest = line.partition(" ")
            if kind == "HEADER":
                name, _, value = rest.partition(": ")
                if name.lower() not in HANDSHAKE_HEADERS:
                    pending.append((name, value))
            elif kind == "OPEN":
                self.assertNotIn(rest, result, f"two connections to {rest}")
                result[rest] = {"headers": pending, "recv": [], "close": None}
                pending = []
            elif kind in ("RECV", "RECVBIN", "CLOSE"):
                target, _, payload = rest.partition(" ")
                if kind == "RECV":
                    result[target]["recv"].append(payload)
                elif kind == "RECVBIN":
                    result[target]["recv"].append(("binary", payload))
                else:
                    result[target]["close"] = payload
        self.assertEqual(sorted(result), sorted(targets), server.events.lines)
        return result

    def by_feed(self, lines):
        """Output lines grouped by feed: {feed: [(seq, conn, type, data)]}."""
        feeds = {}
        for line in lines:
            feeds.setdefault(line["feed"], []).append((line["seq"], line["conn"], line["type"], line["data"]))
        return feeds

    def assertNoConnection(self, server):
        """The runs before made no connection to `server`.

        Rather than sleep and look for nothing: a probe run's OPEN must be
        the server's first.
        """
        probe = f"/count?n=1&probe={next(_probe_ids)}"
        run = self.run_wsgather("-n", "1", server.url(probe))
        self.assertStatus(run, 0)
        self.assertEqual(server.wait_for(r"^(OPEN|HTTP) "), f"OPEN {probe}",
                         "a run before the probe connected to the server")

    def assertUsageError(self, run, line):
        """Exit 2, nothing on stdout, and exactly `line` on stderr."""
        self.assertStatus(run, 2)
        self.assertEqual(run.stdout, b"", run.describe())
        self.assertEqual(run.err_lines, [line], run.describe())


class Feeds(ConfigTest):

    def test_each_feed_gets_its_own_headers_and_messages(self):
        for kind in ("beast", "python"):
            with self.subTest(server=kind):
                server = self.start_server(kind)
                trades, quotes = "/headers?feed=trades", "/headers?feed=quotes"
                config = self.write_config("""// Two feeds on one server, each with its own subscription.
{
  "feeds": [
    {
      "name": "trades",  /* the output's "feed" */
      "url": "%s",
      "headers": {"X-Channel": "trades", "X-Only-Trades": "t"},
      // Strings go as they are; other JSON goes as compact JSON text.
      "send": ["hello trades", {"op": "subscribe", "args": ["BTC-USD", 1.5, true, null]}, 42]
    },
    {
      "name": "quotes",
      "url": "%s",
      "headers": {"X-Channel": "quotes"},
      "send": "{\\"op\\": \\"subscribe\\",  \\"args\\": [\\"ETH-USD\\"]}"
    }
  ]
}
""" % (server.url(trades), server.url(quotes)))
                run = self.run_wsgather("-c", config, "-n", "4")
                self.assertStatus(run, 0)
                self.assertEqual(self.by_feed(self.lines_of(run)), {
                    "trades": [(1, 1, "text", "hello trades"),
                               (2, 1, "json", {"op": "subscribe", "args": ["BTC-USD", 1.5, True, None]}),
                               (3, 1, "json", 42)],
                    "quotes": [(1, 1, "json", {"op": "subscribe", "args": ["ETH-USD"]})],
                })
                seen = self.connections(server, [trades, quotes])
                self.assertEqual(seen[trades]["headers"],
                                 [USER_AGENT, ("X-Channel", "trades"), ("X-Only-Trades", "t")])
                self.assertEqual(seen[quotes]["headers"], [USER_AGENT, ("X-Channel", "quotes")])
                self.assertEqual(seen[trades]["recv"],
                                 ["hello trades", '{"op":"subscribe","args":["BTC-USD",1.5,true,null]}', "42"])
                self.assertEqual(seen[quotes]["recv"], ['{"op": "subscribe",  "args": ["ETH-USD"]}'])
                self.assertEqual((seen[trades]["close"], seen[quotes]["close"]), ("1000", "1000"))

    def test_command_line_url_joins_the_file_feeds(self):
        # Built-in < "defaults" < command line < the feed's own keys; a URL
        # on the command line is a feed with "defaults" and the command line.
        server = self.start_server("beast")
        own, plain, cli = "/headers?feed=own", "/headers?feed=plain", "/headers?feed=cli"
        config = self.write_config({
            "defaults": {
                "headers": {"X-Layer": "defaults", "X-From-Defaults": "d"},
                "send": ["from defaults"],
            },
            "feeds": [
                {"name": "own", "url": server.url(own), "headers": {"x-layer": "own"}, "send": ["from own"]},
                {"name": "plain", "url": server.url(plain)},
            ],
        })
        run = self.run_wsgather("-c", config, "-H", "X-LAYER: command line", "-H", "X-From-Cli: c",
                                "-s", "from command line", "-n", "3", "cli=" + server.url(cli))
        self.assertStatus(run, 0)
        self.assertEqual(self.by_feed(self.lines_of(run)), {
            "own": [(1, 1, "text", "from own")],
            "plain": [(1, 1, "text", "from command line")],
            "cli": [(1, 1, "text", "from command line")],
        })
        seen = self.connections(server, [own, plain, cli])
        # Headers merge by name whatever its case; the last layer's spelling
        # goes out, in the place of the first; new names follow, layer by layer.
        def headers(layer):
            return [USER_AGENT, layer, ("X-From-Defaults", "d"), ("X-From-Cli", "c")]
        self.assertEqual(seen[own]["headers"], headers(("x-layer", "own")))
        self.assertEqual(seen[plain]["headers"], headers(("X-LAYER", "command line")))
        self.assertEqual(seen[cli]["headers"], headers(("X-LAYER", "command line")))
        self.assertEqual({t: c["recv"] for t, c in seen.items()},
                         {own: ["from own"], plain: ["from command line"], cli: ["from command line"]})

    def test_precedence_of_every_layer_in_check(self):
        config = self.write_config({
            "defaults": {"ping_interval": "3s", "connect_timeout": "3s", "max_message_size": "1KiB",
                         "secret_headers": ["X-S1"], "reconnect": {"min": "100ms"}},
            "feeds": [
                {"name": "own", "url": "ws://127.0.0.1:1/own", "ping_interval": "4s", "secret_headers": ["X-S3"],
                 "reconnect": {"min": "300ms"}},
                {"name": "plain", "url": "ws://127.0.0.1:1/plain", "ping_interval": None},
            ],
        })
        run = self.run_wsgather("-c", config, "--ping-interval", "5s", "--connect-timeout", "5s",
                                "--secret-header", "X-S2", "--backoff-min", "200ms", "cli=ws://127.0.0.1:1/cli",
                                "--check")
        self.assertStatus(run, 0)
        self.assertEqual(run.err_lines, [])
        feeds = json.loads(run.stdout)["feeds"]
        picked = [(f["name"], f["ping_interval"], f["connect_timeout"], f["max_message_size"],
                   f["secret_headers"], f["reconnect"]["min"]) for f in feeds]
        self.assertEqual(picked, [
            ("own", "4s", "5s", "1KiB", ["X-S1", "X-S2", "X-S3"], "300ms"),
            # null is the built-in default, and stands in the feed's own layer.
            ("plain", "20s", "5s", "1KiB", ["X-S1", "X-S2"], "200ms"),
            ("cli", "5s", "5s", "1KiB", ["X-S1", "X-S2"], "200ms"),
        ])


class Environment(ConfigTest):

    def env_config(self):
        return self.write_config("""{
  "feeds": [{
    "name": "${WSG_TEST_NAME_UNSET:-env}",
    "url": "ws://127.0.0.1:${WSG_TEST_PORT}/headers?feed=env",
    "headers": {
      "Authorization": "Bearer ${WSG_TEST_TOKEN}",
      "X-Region": "${WSG_TEST_REGION:-eu-west}",
      "X-Empty": "${WSG_TEST_EMPTY:-fallback}",
      "X-Literal": "$${NOT_A_VAR} costs $5"
    },
    "send": [{"op": "auth", "token": "${WSG_TEST_TOKEN}"}, "region=${WSG_TEST_REGION:-eu-west}"]
  }]
}
""")

    def test_variables_reach_the_server(self):
        server = self.start_server("python")
        config = self.env_config()
        os.environ.update(WSG_TEST_TOKEN="t0k3n", WSG_TEST_PORT=str(server.port), WSG_TEST_EMPTY="")
        run = self.run_wsgather("-v", "-c", config, "-n", "2")
        self.assertStatus(run, 0)
        self.assertEqual(self.by_feed(self.lines_of(run)), {
            "env": [(1, 1, "json", {"op": "auth", "token": "t0k3n"}), (2, 1, "text", "region=eu-west")],
        })
        target = "/headers?feed=env"
        seen = self.connections(server, [target])[target]
        self.assertEqual(seen["headers"], [
            USER_AGENT,
            ("Authorization", "Bearer t0k3n"),
            ("X-Region", "eu-west"),
            # Set but empty takes the default, as in the shell.
            ("X-Empty", "fallback"),
            ("X-Literal", "${NOT_A_VAR} costs $5"),
        ])
        self.assertEqual(seen["recv"], ['{"op":"auth","token":"t0k3n"}', "region=eu-west"])
        self.assertIn(f"[env] connected to ws://127.0.0.1:{server.port}/headers?feed=env (conn 1)", run.err_lines)
        self.assertNotIn("t0k3n", run.err_text)

    def test_unset_variable_is_an_error(self):
        server = self.start_server("beast")
        config = self.env_config()
        os.environ.update(WSG_TEST_PORT=str(server.port))
        run = self.run_wsgather("-c", config)
        self.assertUsageError(run, f"wsgather: {config}: feeds[0].headers.Authorization: environment variable "
                                   "WSG_TEST_TOKEN is not set (set it, or give a default with "
                                   "${WSG_TEST_TOKEN:-default})")
        # The same inside a JSON message: the path goes down into it.
        config = self.write_config({"feeds": [{"url": server.url("/echo"),
                                               "send": [{"op": "auth", "key": "${WSG_TEST_KEY}"}]}]}, "send.json")
        run = self.run_wsgather("-c", config, "--check")
        self.assertUsageError(run, f"wsgather: {config}: feeds[0].send[0].key: environment variable WSG_TEST_KEY "
                                   "is not set (set it, or give a default with ${WSG_TEST_KEY:-default})")
        self.assertNoConnection(server)


class Check(ConfigTest):

    def test_check_prints_the_resolved_run(self):
        server = self.start_server("beast")
        config = self.write_config("""{
  // Every feed's, unless a feed or the command line says otherwise.
  "defaults": {"ping_interval": 2, "secret_headers": ["X-Api-Key"], "reconnect": {"max_retries": 3}},
  "feeds": [{
    "name": "main",
    "url": "ws://user:pa55@127.0.0.1:%d/echo?check=1",
    "headers": {"X-Api-Key": "k3y", "Authorization": "Bearer t0k", "X-Plain": "visible"},
    "send": [{"op": "auth", "key": "${WSG_TEST_KEY}"}, "hello"],
    "heartbeat": {"text": "hb", "interval": "1500ms"},
    "subprotocols": ["v2"],
    "connect_timeout": 0.25,
    "max_message_size": "64KiB",
    "coalesce": "2ms",
    "compress": true
  }],
  "output": {"format": "raw", "buffer": 64, "overflow": "drop-newest"},
  "run": {"duration": "90s", "threads": 2},
  "log": "verbose"
}
""" % server.port)
        os.environ["WSG_TEST_KEY"] = "s3cr3t"
        run = self.run_wsgather("-c", config, "--backoff-max", "5s", "extra=" + server.url("/echo?check=2"),
                                "--check")
        self.assertStatus(run, 0)
        self.assertEqual(run.err_lines, [])
        common = {
            "ping_timeout": "20s",
            "reconnect": {"enabled": True, "min": "500ms", "max": "5s", "max_retries": 3},
            "tls": {"ca_file": None, "cert": None, "key": None, "insecure": False},
            "proxy": None,
        }
        expected = {
            "feeds": [
                {
                    "name": "main",
                    "url": f"ws://user:***@127.0.0.1:{server.port}/echo?check=1",
                    "headers": {"X-Api-Key": "***", "Authorization": "***", "X-Plain": "visible"},
                    "secret_headers": ["X-Api-Key"],
                    "subprotocols": ["v2"],
                    # As written: the key from the environment stays out of sight.
                    "send": [{"op": "auth", "key": "${WSG_TEST_KEY}"}, "hello"],
                    "heartbeat": {"text": "hb", "interval": "1.5s"},
                    "connect_timeout": "250ms",
                    "ping_interval": "2s",
                    "ping_timeout": common["ping_timeout"],
                    "max_message_size": "64KiB",
                    "compress": True,
                    "coalesce": "2ms",
                    "reconnect": common["reconnect"],
                    "tls": common["tls"],
                    "proxy": None,
                },
                {
                    "name": "extra",
                    "url": server.url("/echo?check=2"),
                    "headers": {},
                    "secret_headers": ["X-Api-Key"],
                    "subprotocols": [],
                    "send": [],
                    "heartbeat": {"text": None, "interval": "15s"},
                    "connect_timeout": "10s",
                    "ping_interval": "2s",
                    "ping_timeout": common["ping_timeout"],
                    "max_message_size": "16MiB",
                    "compress": False,
                    "coalesce": "auto",
                    "reconnect": common["reconnect"],
                    "tls": common["tls"],
                    "proxy": None,
                },
            ],
            "output": {"format": "raw", "file": [], "per_feed_dir": None,
                       "rotate": {"size": None, "interval": None, "compress": False},
                       "buffer": 64, "overflow": "drop-newest", "events": False},
            "run": {"count": None, "duration": "90s", "threads": 2, "stats": None},
            "log": "verbose",
        }
        text = run.stdout.decode("utf-8")
        self.assertEqual(json.loads(text), expected)
        # Pretty, and in the order a config file would have it.
        self.assertEqual(text, json.dumps(expected, indent=2, ensure_ascii=False) + "\n")
        for secret in ("pa55", "k3y", "t0k", "s3cr3t"):
            self.assertNotIn(secret, text)
        self.assertNoConnection(server)

    def test_check_of_resolved_json_messages(self):
        # `send` is shown as given: JSON stays JSON, a lone message becomes a list.
        config = self.write_config({"feeds": [{"url": "ws://127.0.0.1:1/x",
                                               "send": [{"op": "sub", "n": [1, 2]}, 7, "as is"]},
                                              {"url": "ws://127.0.0.1:1/y", "send": "alone"}]})
        run = self.run_wsgather("-c", config, "--check")
        self.assertStatus(run, 0)
        feeds = json.loads(run.stdout)["feeds"]
        self.assertEqual([(f["name"], f["send"]) for f in feeds],
                         [("127.0.0.1:1/x", [{"op": "sub", "n": [1, 2]}, 7, "as is"]),
                          ("127.0.0.1:1/y", ["alone"])])

    def test_check_of_a_bad_config(self):
        server = self.start_server("beast")
        config = self.write_config({"feeds": [{"url": server.url("/echo"), "ping_timeout": "0"}]})
        run = self.run_wsgather("-c", config, "--check")
        self.assertUsageError(run, f"wsgather: {config}: invalid duration '0' for feeds[0].ping_timeout: "
                                   "must be more than zero")
        self.assertNoConnection(server)


class Errors(ConfigTest):

    def test_errors_name_the_file_and_the_json_path(self):
        server = self.start_server("beast")
        url = server.url("/echo?from=bad-config")
        feed = {"url": url}
        cases = [
            ("unknown key", {"feeds": [{**feed, "ping_intervall": "1s"}]},
             "unknown key 'ping_intervall' in feeds[0]: did you mean 'ping_interval'?"),
            ("unknown nested key", {"feeds": [{**feed, "tls": {"ca_flie": "ca.pem"}}]},
             "unknown key 'ca_flie' in feeds[0].tls: did you mean 'ca_file'?"),
            ("key at the wrong depth", {"defaults": {"ca_file": "ca.pem"}, "feeds": [feed]},
             "unknown key 'ca_file' in defaults: did you mean 'tls.ca_file'?"),
            ("feed setting at the top", {"ping_interval": "1s", "feeds": [feed]},
             "unknown key 'ping_interval' at the top level: 'ping_interval' is a feed setting: put it in "
             "\"defaults\" or in a feed"),
            ("bad duration", {"feeds": [{**feed, "ping_timeout": "abc"}]},
             "invalid duration 'abc' for feeds[0].ping_timeout: use a number with ms, s, m or h, such as 250ms, "
             "10s, 5m, 1h, or plain seconds"),
            ("zero backoff", {"defaults": {"reconnect": {"min": 0}}, "feeds": [feed]},
             "invalid duration '0' for defaults.reconnect.min: must be more than zero"),
            ("bad URL", {"feeds": [feed, {"url": "ws://"}]}, "feeds[1].url: invalid URL 'ws://': no host"),
            ("http URL", {"feeds": [{"url": "http://127.0.0.1:1/x"}]},
             "feeds[0].url: unsupported scheme 'http' in 'http://127.0.0.1:1/x': use ws:// or wss://"),
            ("missing url", {"feeds": [feed, {"name": "b"}]}, "feeds[1]: no \"url\" given"),
            ("feeds not a list", {"feeds": feed}, "feeds: expected a list of feeds, not object"),
            ("bad feed name", {"feeds": [{**feed, "name": "a b"}]},
             "feeds[0].name: invalid feed name \"a b\": a name must be a non-empty string, without spaces or "
             "control characters"),
            ("bad header value", {"feeds": [{**feed, "headers": {"X-N": 5}}]},
             "invalid header value 5 for feeds[0].headers.X-N: expected a string"),
            ("no feeds", {"feeds": []}, "no feeds: list them in \"feeds\", or give URLs on the command line"),
            ("not an object", [feed], "expected a JSON object at the top level"),
            ("duplicate key", '{"feeds": [{"url": "%s", "url": "ws://127.0.0.1:1/y"}]}' % url,
             "duplicate key 'url' in feeds[0]: each key may appear once"),
            ("invalid JSON", '{\n  // a comment\n  "feeds": [\n    {"url": "%s",}\n  ]\n}\n' % url,
             "invalid JSON at line 4, column %d: syntax error while parsing object key - unexpected '}'; "
             "expected string literal" % (len('    {"url": "%s",' % url) + 1)),
            ("unclosed comment", '{"feeds": [{"url": "%s"}]} /* to the end' % url,
             "invalid JSON at line 1, column %d: syntax error while parsing value - invalid comment; "
             "missing closing '*/'; last read: '\"%s\"}]} /* to the end'; expected end of input"
             % (len('{"feeds": [{"url": "%s"}]} /* to the end' % url) + 1, url)),
            ("unclosed variable", {"feeds": [{**feed, "send": ["${WSG_TEST_KEY"]}]},
             "feeds[0].send[0]: '${' without a closing '}' (write $${ for a literal ${)"),
            ("bad variable name", {"feeds": [{**feed, "headers": {"X-A": "${1X}"}}]},
             "feeds[0].headers.X-A: invalid variable name '1X' in '${1X}'"),
            ("bad log level", {"log": "loud", "feeds": [feed]},
             "invalid log level 'loud' for log: use quiet, normal or verbose"),
        ]
        for what, content, message in cases:
            with self.subTest(what):
                config = self.write_config(content)
                run = self.run_wsgather("-c", config)
                self.assertUsageError(run, f"wsgather: {config}: {message}")
        self.assertNoConnection(server)

    def test_duplicate_names_across_file_and_command_line(self):
        config = self.write_config({"feeds": [{"name": "a", "url": "ws://127.0.0.1:1/x"},
                                              {"url": "ws://127.0.0.1:1/y"}]})
        for argument, given_as in (("a=ws://127.0.0.1:1/z", "'a=ws://127.0.0.1:1/z'"),
                                   ("ws://u:pw@127.0.0.1:1/y", "'ws://u:***@127.0.0.1:1/y'")):
            with self.subTest(argument=argument):
                run = self.run_wsgather("-c", config, argument, "--check")
                name = "a" if argument.startswith("a=") else "127.0.0.1:1/y"
                index = 0 if name == "a" else 1
                self.assertUsageError(run, f"wsgather: duplicate feed name '{name}' (for feeds[{index}] in {config} "
                                           f"and {given_as}): give each feed its own name")

    def test_unreadable_config(self):
        missing = os.path.join(self.tmp, "missing.json")
        for path, reason in ((self.tmp, "Is a directory"), (missing, "No such file or directory")):
            with self.subTest(path=path):
                run = self.run_wsgather("-c", path, "ws://127.0.0.1:1/x")
                self.assertUsageError(run, f"wsgather: cannot read config file '{path}': {reason}")
        run = self.run_wsgather("--config=", "ws://127.0.0.1:1/x")
        self.assertUsageError(run, "wsgather: invalid file '' for --config: give a file name")


class Heartbeat(ConfigTest):

    def test_heartbeat_from_the_command_line(self):
        server = self.start_server("beast")
        target = "/echo?hb=cli"
        run = self.run_wsgather("--heartbeat", "ping", "--heartbeat-interval", "200ms", "-t", "1.1s",
                                "-s", "first", "-s", '{"op":"subscribe"}', "hb=" + server.url(target))
        self.assertStatus(run, 0)
        recv = self.connections(server, [target])[target]["recv"]
        # The subscribe messages first, then one heartbeat each 200ms of the 1.1s.
        self.assertEqual(recv[:2], ["first", '{"op":"subscribe"}'])
        beats = len(recv) - 2
        self.assertEqual(recv[2:], ["ping"] * beats)
        self.assertTrue(3 <= beats <= 6, f"{beats} heartbeats in 1.1s at 200ms" + run.describe())
        # The echoes: the last heartbeat's may be cut off by the end of the run.
        lines = self.lines_of(run)
        data = [(l["type"], l["data"]) for l in lines]
        self.assertIn(len(lines) - 2, (beats, beats - 1), run.describe())
        self.assertEqual(data, [("text", "first"), ("json", {"op": "subscribe"})] + [("text", "ping")] * (len(lines) - 2))
        # Never faster than the interval (echo times, so a little jitter).
        stamps = [_seconds(l["ts"]) for l in lines[2:]]
        for earlier, later in zip(stamps, stamps[1:]):
            self.assertGreaterEqual(later - earlier, 0.15, stamps)

    def test_heartbeat_from_the_config_is_per_feed(self):
        server = self.start_server("python")
        beat, quiet = "/echo?feed=beat", "/echo?feed=quiet"
        config = self.write_config({
            "feeds": [
                {"name": "beat", "url": server.url(beat), "send": ["sub"],
                 "heartbeat": {"text": '{"op":"ping"}', "interval": "100ms"}},
                {"name": "quiet", "url": server.url(quiet), "send": ["sub quiet"]},
            ],
        })
        proc, out, err = self.start_wsgather("-c", config)
        server.events.wait_count(r"^RECV /echo\?feed=beat \{\"op\":\"ping\"\}$", 4)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(proc), 0, err.lines)
        seen = self.connections(server, [beat, quiet])
        recv = seen[beat]["recv"]
        self.assertEqual(recv, ["sub"] + ['{"op":"ping"}'] * (len(recv) - 1))
        self.assertEqual(seen[quiet]["recv"], ["sub quiet"])
        lines = self.by_feed(self.lines_of(out.wait_eof()))
        self.assertEqual(lines["quiet"], [(1, 1, "text", "sub quiet")])
        # Echoes of the heartbeats, at most one per heartbeat the server got.
        echoes = len(lines["beat"]) - 1
        self.assertTrue(1 <= echoes <= len(recv) - 1, lines["beat"])
        self.assertEqual(lines["beat"], [(1, 1, "text", "sub")] +
                         [(k, 1, "json", {"op": "ping"}) for k in range(2, echoes + 2)])


def _seconds(ts):
    """Seconds of the day from an output line's ts (2026-01-02T10:11:12.123456Z)."""
    clock = ts[11:-1]
    hours, minutes, seconds = clock.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


if __name__ == "__main__":
    unittest.main()
