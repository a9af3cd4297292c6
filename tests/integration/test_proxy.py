"""HTTP proxies: CONNECT tunnels through connect_proxy.py, chosen with
--proxy, by the environment (ws_proxy, http_proxy, https_proxy, no_proxy...)
or by a feed's "proxy" key in the config file.

Every test checks wsgather's output and log lines and what the proxy saw.
The harness removed every proxy variable from the environment at import:
a test sets the ones it wants for one wsgather run (run_with_env).
"""

import os
import re
import socket
import unittest
from unittest import mock

from harness import HERE, PYTHON, WAIT, HelperProcess, IntegrationTest, STATS_LINE_RE, WithCertificates
from test_output import mixed_lines

CONNECT_PROXY = os.path.join(HERE, "connect_proxy.py")

FAST_BACKOFF = ["--backoff-min", "10ms", "--backoff-max", "20ms"]
# The end of a warning that a failed attempt will be retried (FAST_BACKOFF).
RECONNECTING = r"; reconnecting in \d+ms$"

# Basic credentials "alice:s3cret" as a proxy must receive them.
ALICE = "Basic YWxpY2U6czNjcmV0"


class ConnectProxy(HelperProcess):
    """A running connect_proxy.py: its port and a reader of its event lines."""

    def __init__(self, *args):
        self._probes = 0
        self._taken = 0  # event lines take() returned
        self._closed = 0  # CLOSED lines among them
        super().__init__([PYTHON, CONNECT_PROXY, *args], "connect proxy")

    def url(self, userinfo=""):
        return f"http://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}"

    @property
    def name(self):
        """How wsgather names this proxy in its messages."""
        return f"127.0.0.1:{self.port}"

    def take(self, tunnels=0):
        """The event lines since the previous take(), once `tunnels` more
        tunnels have closed.

        The proxy prints a request's line before it answers, so a finished
        wsgather run's requests are all printed by then; a probe request of
        our own, answered only after its line, marks the end of them. A
        tunnel's CLOSED may come after wsgather's exit: those are waited for.
        """
        if tunnels:
            self.events.wait_count(r"^CLOSED ", self._closed + tunnels)
        self._probes += 1
        target = f"/probe-{self._probes}"
        with socket.create_connection(("127.0.0.1", self.port), timeout=WAIT) as sock:
            sock.sendall(f"GET {target} HTTP/1.1\r\nHost: probe\r\n\r\n".encode())
            while sock.recv(4096):
                pass
        self.events.wait_count("^REFUSED 405 " + re.escape(target) + "$", 1)
        lines = [line for line in self.events.lines[1:] if " /probe-" not in line]
        new, self._taken = lines[self._taken:], len(lines)
        self._closed = sum(line.startswith("CLOSED ") for line in lines)
        return new


class ProxyTest(IntegrationTest):

    def start_proxy(self, *args):
        proxy = ConnectProxy(*args)
        self._procs.append(proxy.proc)
        return proxy

    def run_with_env(self, env, *args, **kwargs):
        """run_wsgather with these variables added to its environment.

        wsgather inherits os.environ; it gets `env` for this one run, and
        os.environ is as before when the run is over, pass or fail.
        """
        with mock.patch.dict(os.environ, env):
            return self.run_wsgather(*args, **kwargs)

    def closed_port(self):
        """A loopback port that nothing listens on (bound, read, closed)."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    def assertConnections(self, server, targets):
        """The server saw exactly these connections, each closed with 1000."""
        for target in targets:
            server.events.wait_count("^CLOSE " + re.escape(target) + " ", targets.count(target))
        expected = [line for target in targets for line in (f"OPEN {target}", f"CLOSE {target} 1000")]
        self.assertEqual(server.event_lines(), expected)

    def assertLog(self, run, patterns):
        """stderr is exactly these lines (the -v summary aside): str compared as is, re.Pattern matched whole."""
        lines = [line for line in run.err_lines if not STATS_LINE_RE.match(line)]
        self.assertEqual(len(lines), len(patterns), run.describe())
        for line, pattern in zip(lines, patterns):
            if isinstance(pattern, re.Pattern):
                self.assertIsNotNone(pattern.fullmatch(line), f"{line!r} does not match {pattern.pattern!r}"
                                     + run.describe())
            else:
                self.assertEqual(line, pattern, run.describe())

    def count_lines(self, feed, n, conn=1):
        return [(feed, k, conn, "json", {"i": k}) for k in range(1, n + 1)]

    def summary(self, run):
        return [(l["feed"], l["seq"], l["conn"], l["type"], l["data"]) for l in self.lines_of(run)]


# --------------------------------------------------------------------------

class ProxyOption(ProxyTest):

    def test_messages_arrive_as_without_proxy(self):
        server = self.start_server("beast")
        proxy = self.start_proxy()
        url = server.url("/mixed")
        direct = self.run_wsgather("--no-reconnect", "m=" + url)
        self.assertStatus(direct, 0)
        self.assertOutputExceptTs(direct.stdout, mixed_lines("m"))
        self.assertLog(direct, [f"[m] connected to {url} (conn 1)", "[m] server closed the connection (code 1000)"])
        self.assertEqual(proxy.take(), [])

        # `host:port` without a scheme is an http:// proxy, as for curl.
        for value in (proxy.url(), proxy.name):
            with self.subTest(proxy=value):
                run = self.run_wsgather("--no-reconnect", "--proxy", value, "m=" + url)
                self.assertStatus(run, 0)
                self.assertOutputExceptTs(run.stdout, mixed_lines("m"))
                self.assertLog(run, [
                    f"[m] connected to {url} (conn 1, through proxy {proxy.name})",
                    "[m] server closed the connection (code 1000)",
                ])
                self.assertEqual(proxy.take(tunnels=1),
                                 [f"CONNECT 127.0.0.1:{server.port} -", f"CLOSED 127.0.0.1:{server.port}"])
        self.assertConnections(server, ["/mixed"] * 3)

    def test_long_stream_through_tunnel(self):
        server = self.start_server("beast")
        proxy = self.start_proxy()
        run = self.run_wsgather("--no-reconnect", "--proxy", proxy.url(), "c=" + server.url("/count?n=5000&size=200"))
        self.assertStatus(run, 0)
        lines = self.lines_of(run)
        self.assertEqual([(l["seq"], l["conn"], l["data"]["i"]) for l in lines],
                         [(k, 1, k) for k in range(1, 5001)])
        self.assertEqual(proxy.take(tunnels=1),
                         [f"CONNECT 127.0.0.1:{server.port} -", f"CLOSED 127.0.0.1:{server.port}"])
        self.assertConnections(server, ["/count?n=5000&size=200"])


class Environment(ProxyTest):

    def check_through(self, env, proxy, server, *args, others=()):
        """A ws:// run with `env` went through `proxy`, and none of `others` saw anything."""
        url = server.url("/count?n=2")
        run = self.run_with_env(env, "--no-reconnect", *args, "f=" + url)
        self.assertStatus(run, 0)
        self.assertEqual(self.summary(run), self.count_lines("f", 2))
        self.assertLog(run, [f"[f] connected to {url} (conn 1, through proxy {proxy.name})",
                             "[f] server closed the connection (code 1000)"])
        self.assertEqual(proxy.take(tunnels=1),
                         [f"CONNECT 127.0.0.1:{server.port} -", f"CLOSED 127.0.0.1:{server.port}"])
        for other in others:
            self.assertEqual(other.take(), [], "a proxy that should not have been used")

    def check_direct(self, env, proxies, server, *args):
        """A ws:// run with `env` connected directly: no proxy saw anything."""
        url = server.url("/count?n=2")
        run = self.run_with_env(env, "--no-reconnect", *args, "f=" + url)
        self.assertStatus(run, 0)
        self.assertEqual(self.summary(run), self.count_lines("f", 2))
        self.assertLog(run, [f"[f] connected to {url} (conn 1)", "[f] server closed the connection (code 1000)"])
        for proxy in proxies:
            self.assertEqual(proxy.take(), [], "a direct connection went through a proxy")

    def test_ws_variables_in_order(self):
        server = self.start_server("beast")
        first, second = self.start_proxy(), self.start_proxy()
        for env in (
            {"http_proxy": first.url()},
            {"ws_proxy": first.url(), "http_proxy": second.url()},
            {"WS_PROXY": first.url(), "http_proxy": second.url()},
            {"ws_proxy": first.url(), "WS_PROXY": second.url()},
            {"http_proxy": first.url(), "all_proxy": second.url()},
            {"all_proxy": first.url(), "ALL_PROXY": second.url()},
            {"ALL_PROXY": first.url()},
            # Set but empty counts as unset.
            {"ws_proxy": "", "http_proxy": first.url()},
            # wss:// variables are not for ws://.
            {"https_proxy": second.url(), "http_proxy": first.url()},
        ):
            with self.subTest(env=env):
                self.check_through(env, first, server, others=[second])
        self.assertConnections(server, ["/count?n=2"] * 9)

    def test_upper_case_http_proxy_is_ignored(self):
        # httpoxy: a CGI program finds a request's "Proxy:" header in HTTP_PROXY.
        server = self.start_server("beast")
        proxy = self.start_proxy()
        self.check_direct({"HTTP_PROXY": proxy.url()}, [proxy], server)
        # ...also for wss:// variables that ws:// does not read.
        self.check_direct({"https_proxy": proxy.url(), "HTTPS_PROXY": proxy.url(), "wss_proxy": proxy.url()},
                          [proxy], server)
        self.assertConnections(server, ["/count?n=2"] * 2)

    def test_no_proxy_bypasses(self):
        server = self.start_server("beast")
        proxy = self.start_proxy()
        through = {"http_proxy": proxy.url()}
        for no_proxy in ({"no_proxy": "127.0.0.1"},
                         {"no_proxy": "example.com, 127.0.0.1"},
                         {"no_proxy": f"127.0.0.1:{server.port}"},
                         {"no_proxy": "127.0.0.0/8"},
                         {"no_proxy": "*"},
                         {"NO_PROXY": "127.0.0.1"},
                         # no_proxy set but empty: NO_PROXY decides.
                         {"no_proxy": "", "NO_PROXY": "127.0.0.1"}):
            with self.subTest(bypass=no_proxy):
                self.check_direct({**through, **no_proxy}, [proxy], server)
        for no_proxy in ({"no_proxy": "localhost"},  # names are not resolved
                         {"no_proxy": "127.0.0.2"},
                         {"no_proxy": "127.0.0.1:1"},
                         # no_proxy wins over NO_PROXY.
                         {"no_proxy": "example.com", "NO_PROXY": "127.0.0.1"}):
            with self.subTest(through=no_proxy):
                self.check_through({**through, **no_proxy}, proxy, server)
        self.assertConnections(server, ["/count?n=2"] * 11)

    def test_proxy_option_overrides_environment(self):
        server = self.start_server("beast")
        named, from_env = self.start_proxy(), self.start_proxy()
        env = {"http_proxy": from_env.url(), "ws_proxy": from_env.url(), "all_proxy": from_env.url()}
        with self.subTest("--proxy direct"):
            self.check_direct(env, [named, from_env], server, "--proxy", "direct")
        with self.subTest("--proxy URL"):
            self.check_through(env, named, server, "--proxy", named.url(), others=[from_env])
        with self.subTest("--proxy URL, and no_proxy names the server"):
            # no_proxy is part of the environment's choice, not of --proxy's.
            self.check_through({**env, "no_proxy": "127.0.0.1"}, named, server, "--proxy", named.url(),
                               others=[from_env])
        self.assertConnections(server, ["/count?n=2"] * 3)


class Tls(WithCertificates, ProxyTest):

    def test_wss_through_https_proxy(self):
        server = self.start_tls_server()
        proxy, other = self.start_proxy(), self.start_proxy()
        url = server.url("/count?n=3", scheme="wss", host="localhost")
        feed = f"localhost:{server.port}/count"
        for env in ({"https_proxy": proxy.url()},
                    {"HTTPS_PROXY": proxy.url(), "all_proxy": other.url()},
                    {"wss_proxy": proxy.url(), "https_proxy": other.url()},
                    {"WSS_PROXY": proxy.url(), "HTTPS_PROXY": other.url()},
                    # ws:// variables are not for wss://.
                    {"all_proxy": proxy.url(), "http_proxy": other.url(), "ws_proxy": other.url()}):
            with self.subTest(env=env):
                run = self.run_with_env(env, "--ca-file", self.certs["ca"], "--no-reconnect", url)
                self.assertStatus(run, 0)
                self.assertEqual(self.summary(run), self.count_lines(feed, 3))
                self.assertLog(run, [f"[{feed}] connected to {url} (conn 1, through proxy {proxy.name})",
                                     f"[{feed}] server closed the connection (code 1000)"])
                # The proxy saw the server's name, resolved nothing and saw
                # only TLS: the server's certificate for localhost was verified.
                self.assertEqual(proxy.take(tunnels=1),
                                 [f"CONNECT localhost:{server.port} -", f"CLOSED localhost:{server.port}"])
                self.assertEqual(other.take(), [])
        self.assertConnections(server, ["/count?n=3"] * 5)

    def test_certificate_checked_through_tunnel(self):
        # The tunnel does not weaken verification: wss://127.0.0.1 still
        # mismatches the certificate made for localhost, and is given up.
        server = self.start_tls_server()
        proxy = self.start_proxy()
        url = server.url("/count?n=3", scheme="wss")
        feed = f"127.0.0.1:{server.port}/count"
        run = self.run_with_env({"https_proxy": proxy.url()}, "--ca-file", self.certs["ca"], *FAST_BACKOFF, url)
        self.assertStatus(run, 1)
        self.assertEqual(run.stdout, b"")
        self.assertLog(run, [f"[{feed}] error: TLS certificate of 127.0.0.1:{server.port} rejected: "
                             "IP address mismatch; giving up"])
        self.assertEqual(proxy.take(tunnels=1),
                         [f"CONNECT 127.0.0.1:{server.port} -", f"CLOSED 127.0.0.1:{server.port}"])
        self.assertEqual(server.event_lines(), [])

    def test_http_proxy_alone_is_not_for_wss(self):
        server = self.start_tls_server()
        proxy = self.start_proxy()
        url = server.url("/count?n=1", scheme="wss", host="localhost")
        feed = f"localhost:{server.port}/count"
        run = self.run_with_env({"http_proxy": proxy.url(), "ws_proxy": proxy.url()},
                                "--ca-file", self.certs["ca"], "--no-reconnect", url)
        self.assertStatus(run, 0)
        self.assertEqual(self.summary(run), self.count_lines(feed, 1))
        self.assertLog(run, [f"[{feed}] connected to {url} (conn 1)",
                             f"[{feed}] server closed the connection (code 1000)"])
        self.assertEqual(proxy.take(), [])
        self.assertConnections(server, ["/count?n=1"])


class Auth(ProxyTest):

    def test_credentials_from_url(self):
        server = self.start_server("beast")
        proxy = self.start_proxy("--auth", "alice:s3cret")
        url = server.url("/count?n=2")
        # Percent-escapes in the URL are decoded before they are sent.
        for userinfo in ("alice:s3cret", "al%69ce:s3cr%65t"):
            for verbose in ([], ["-v"]):
                with self.subTest(userinfo=userinfo, verbose=verbose):
                    run = self.run_wsgather(*verbose, "--no-reconnect", "--proxy", proxy.url(userinfo), "f=" + url)
                    self.assertStatus(run, 0)
                    self.assertEqual(self.summary(run), self.count_lines("f", 2))
                    self.assertIn(f"[f] connected to {url} (conn 1, through proxy {proxy.name})", run.err_lines)
                    if not verbose:
                        self.assertLog(run, [f"[f] connected to {url} (conn 1, through proxy {proxy.name})",
                                             "[f] server closed the connection (code 1000)"])
                    for secret in ("s3cret", "s3cr%65t", ALICE.split()[1]):
                        self.assertNotIn(secret, run.err_text, run.describe())
                    self.assertEqual(proxy.take(tunnels=1), [f"CONNECT 127.0.0.1:{server.port} {ALICE}",
                                                             f"CLOSED 127.0.0.1:{server.port}"])
        self.assertConnections(server, ["/count?n=2"] * 4)

    def test_credentials_from_environment(self):
        server = self.start_server("beast")
        proxy = self.start_proxy("--auth", "alice:s3cret")
        url = server.url("/count?n=1")
        run = self.run_with_env({"http_proxy": proxy.url("alice:s3cret")}, "-v", "--no-reconnect", "f=" + url)
        self.assertStatus(run, 0)
        self.assertEqual(self.summary(run), self.count_lines("f", 1))
        self.assertNotIn("s3cret", run.err_text)
        self.assertEqual(proxy.take(tunnels=1), [f"CONNECT 127.0.0.1:{server.port} {ALICE}",
                                                 f"CLOSED 127.0.0.1:{server.port}"])
        self.assertConnections(server, ["/count?n=1"])

    def test_refused_credentials_give_up_at_once(self):
        server = self.start_server("beast")
        proxy = self.start_proxy("--auth", "alice:s3cret")
        url = server.url("/count?n=2")
        refused = (f"[f] error: proxy {proxy.name} refused the tunnel to 127.0.0.1:{server.port}: "
                   "HTTP 407 Proxy Authentication Required; giving up")
        # base64 of "alice:wrong", "bob:s3cret"; none at all.
        for userinfo, sent in (("alice:wrong", "Basic YWxpY2U6d3Jvbmc="),
                               ("bob:s3cret", "Basic Ym9iOnMzY3JldA=="),
                               ("", "-")):
            for verbose in ([], ["-v"]):
                with self.subTest(userinfo=userinfo, verbose=verbose):
                    # Retries allowed: the same credentials would be refused again.
                    run = self.run_wsgather(*verbose, *FAST_BACKOFF, "--max-retries", "5",
                                            "--proxy", proxy.url(userinfo), "f=" + url)
                    self.assertStatus(run, 1)
                    self.assertEqual(run.stdout, b"")
                    self.assertLog(run, [refused])
                    for secret in ("wrong", "s3cret", *sent.split()[1:]):
                        self.assertNotIn(secret, run.err_text, run.describe())
                    self.assertEqual(proxy.take(), [f"CONNECT 127.0.0.1:{server.port} {sent}",
                                                    f"REFUSED 407 127.0.0.1:{server.port}"])
        self.assertEqual(server.event_lines(), [])


class Refusals(ProxyTest):

    def test_503_is_retried_then_given_up(self):
        server = self.start_server("beast")
        proxy = self.start_proxy("--refuse", "503")
        url = server.url("/count?n=2")
        problem = f"proxy {proxy.name} refused the tunnel to 127.0.0.1:{server.port}: HTTP 503 Service Unavailable"
        run = self.run_wsgather(*FAST_BACKOFF, "--max-retries", "2", "--proxy", proxy.url(), "f=" + url)
        self.assertStatus(run, 1)
        self.assertEqual(run.stdout, b"")
        self.assertLog(run, [re.compile(re.escape(f"[f] warning: {problem}") + RECONNECTING),
                             f"[f] error: {problem}; giving up after 2 failed attempts"])
        self.assertEqual(proxy.take(), [f"CONNECT 127.0.0.1:{server.port} -", f"REFUSED 503 127.0.0.1:{server.port}"]
                         * 2)
        self.assertEqual(server.event_lines(), [])

    def test_refusal_with_no_reconnect(self):
        server = self.start_server("beast")
        proxy = self.start_proxy("--refuse", "502")
        run = self.run_wsgather("--no-reconnect", "--proxy", proxy.url(), "f=" + server.url("/count?n=2"))
        self.assertStatus(run, 1)
        self.assertEqual(run.stdout, b"")
        self.assertLog(run, [f"[f] error: proxy {proxy.name} refused the tunnel to 127.0.0.1:{server.port}: "
                             "HTTP 502 Bad Gateway"])
        self.assertEqual(proxy.take(), [f"CONNECT 127.0.0.1:{server.port} -", f"REFUSED 502 127.0.0.1:{server.port}"])


class BadProxy(ProxyTest):

    def test_unsupported_proxy_url_is_usage_error(self):
        server = self.start_server("beast")
        for value, shown, problem in (
            ("socks5://127.0.0.1:1", "socks5://127.0.0.1:1", "only http:// proxies are supported (HTTP CONNECT)"),
            ("https://alice:s3cret@127.0.0.1:1", "https://alice:***@127.0.0.1:1",
             "only http:// proxies are supported (HTTP CONNECT)"),
            ("http://127.0.0.1:99999", "http://127.0.0.1:99999",
             "bad port '99999': a port is a number from 1 to 65535"),
            ("http://127.0.0.1:1/x", "http://127.0.0.1:1/x", "a proxy URL cannot have a path ('/x')"),
            ("", "", "empty"),
        ):
            with self.subTest(proxy=value):
                run = self.run_wsgather("--proxy", value, server.url("/count?n=1"))
                self.assertStatus(run, 2)
                self.assertEqual(run.stdout, b"")
                self.assertLog(run, [f"wsgather: --proxy: invalid proxy URL '{shown}': {problem}"])
        self.assertEqual(server.event_lines(), [])

    def test_bad_environment_value_fails_only_its_feeds(self):
        server = self.start_server("beast")
        secure = server.url("/count?n=1", scheme="wss", host="localhost")
        plain = server.url("/count?n=2")
        # https_proxy is for wss:// only: the ws:// feed runs as usual.
        run = self.run_with_env({"https_proxy": "socks5://alice:s3cret@127.0.0.1:1"},
                                "--no-reconnect", "s=" + secure, "p=" + plain)
        self.assertStatus(run, 1)
        self.assertEqual(self.summary(run), self.count_lines("p", 2))
        self.assertEqual(sorted(run.err_lines), [
            f"[p] connected to {plain} (conn 1)",
            "[p] server closed the connection (code 1000)",
            "[s] error: invalid proxy URL 'socks5://alice:***@127.0.0.1:1': only http:// proxies are supported "
            "(HTTP CONNECT) (from the environment); giving up",
        ], run.describe())
        self.assertNotIn("s3cret", run.err_text)
        self.assertConnections(server, ["/count?n=2"])

    def test_bad_environment_value_for_ws(self):
        server = self.start_server("beast")
        run = self.run_with_env({"http_proxy": "http://127.0.0.1:0"}, *FAST_BACKOFF, "f=" + server.url("/count?n=1"))
        self.assertStatus(run, 1)
        self.assertEqual(run.stdout, b"")
        self.assertLog(run, ["[f] error: invalid proxy URL 'http://127.0.0.1:0': bad port '0': a port is a number "
                             "from 1 to 65535 (from the environment); giving up"])
        self.assertEqual(server.event_lines(), [])

    def test_proxy_not_listening(self):
        server = self.start_server("beast")
        port = self.closed_port()
        problem = f"cannot connect to proxy 127.0.0.1:{port}: Connection refused"
        for how, env, args in (("--proxy", {}, ["--proxy", f"http://127.0.0.1:{port}"]),
                               ("environment", {"http_proxy": f"http://127.0.0.1:{port}"}, [])):
            with self.subTest(how):
                run = self.run_with_env(env, *FAST_BACKOFF, "--max-retries", "2", *args,
                                        "f=" + server.url("/count?n=1"))
                self.assertStatus(run, 1)
                self.assertEqual(run.stdout, b"")
                self.assertLog(run, [re.compile(re.escape(f"[f] warning: {problem}") + RECONNECTING),
                                     f"[f] error: {problem}; giving up after 2 failed attempts"])
        self.assertEqual(server.event_lines(), [])

    def test_silent_proxy_times_out(self):
        # A listener nobody accepts on: the kernel completes the TCP
        # handshake, and the CONNECT is never answered.
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(listener.close)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        server = self.start_server("beast")
        run = self.run_wsgather("--connect-timeout", "300ms", "--no-reconnect", "--proxy", f"http://127.0.0.1:{port}",
                                "f=" + server.url("/count?n=1"), timeout=10)
        self.assertStatus(run, 1)
        self.assertGreaterEqual(run.elapsed, 0.25, run.describe())
        self.assertLog(run, [f"[f] error: no answer from proxy 127.0.0.1:{port} to CONNECT within 300ms"])
        self.assertEqual(server.event_lines(), [])


class Config(ProxyTest):

    def test_proxy_per_feed(self):
        server = self.start_server("beast")
        named, from_env = self.start_proxy(), self.start_proxy("--auth", "alice:s3cret")
        urls = {name: server.url(f"/count?n=1&feed={name}") for name in ("a", "b", "c")}
        config = os.path.join(self.tmp, "proxy.json")
        with open(config, "w") as f:
            f.write("""{
  "feeds": [
    {"name": "a", "url": "%s", "proxy": "%s"},
    {"name": "b", "url": "%s", "proxy": "direct"},
    // No "proxy": the environment's.
    {"name": "c", "url": "%s"}
  ]
}
""" % (urls["a"], named.url(), urls["b"], urls["c"]))
        run = self.run_with_env({"http_proxy": from_env.url("alice:s3cret")}, "--no-reconnect", "-c", config)
        self.assertStatus(run, 0)
        self.assertEqual(sorted(self.summary(run)), [(name, 1, 1, "json", {"i": 1}) for name in ("a", "b", "c")])
        self.assertEqual(sorted(run.err_lines), [
            f"[a] connected to {urls['a']} (conn 1, through proxy {named.name})",
            "[a] server closed the connection (code 1000)",
            f"[b] connected to {urls['b']} (conn 1)",
            "[b] server closed the connection (code 1000)",
            f"[c] connected to {urls['c']} (conn 1, through proxy {from_env.name})",
            "[c] server closed the connection (code 1000)",
        ])
        self.assertEqual(named.take(tunnels=1),
                         [f"CONNECT 127.0.0.1:{server.port} -", f"CLOSED 127.0.0.1:{server.port}"])
        self.assertEqual(from_env.take(tunnels=1),
                         [f"CONNECT 127.0.0.1:{server.port} {ALICE}", f"CLOSED 127.0.0.1:{server.port}"])
        for name in ("a", "b", "c"):
            server.events.wait_count(re.escape(f"CLOSE /count?n=1&feed={name} 1000"), 1)

    def test_check_hides_the_proxy_password(self):
        config = os.path.join(self.tmp, "proxy.json")
        with open(config, "w") as f:
            f.write('{"feeds": [{"name": "a", "url": "ws://127.0.0.1:1/x", "proxy": "http://alice:s3cret@127.0.0.1:1"}]}')
        run = self.run_wsgather("--check", "-c", config)
        self.assertStatus(run, 0)
        self.assertIn(b'"proxy": "http://alice:***@127.0.0.1:1"', run.stdout)
        self.assertNotIn(b"s3cret", run.stdout + run.stderr)


if __name__ == "__main__":
    unittest.main()
