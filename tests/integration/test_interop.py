"""The interop matrix: wsgather against WebSocket servers written by others.

Every server here is a real process from a Debian package, on a loopback
port; its program is in tests/interop/. The run writes docs/interop.md (the
table: rows are servers, columns are the cases below, cells pass / FAIL /
n/a) and fails if any cell FAILed. `scripts/test -L interop` runs it.

The contract every server program speaks
----------------------------------------

A server binds 127.0.0.1 port 0 and prints `PORT <n>` (websocketd and nginx
cannot: the test picks a free port for them and retries on a clash). It then
prints flushed event lines on stdout, each naming the request target (path
and query, as the client sent it; the test gives every case its own query, so
events of different cases never mix):

    HEADER <target> x-wsgather-test: <value>   (/headers only)
    PROTO <target> <subprotocol>               (when one was selected)
    EXT <target> <extension>                   (each negotiated extension)
    OPEN <target>                              (handshake done)
    CLOSE <target> <code>                      (connection over; the code of
                                                the client's close frame, or
                                                `none` without one)

Paths (anything else is refused with HTTP 404):

    /json     one text message, contract.JSON: JSON with spaces between tokens
    /text     one text message that is not JSON (contract.TEXT, not ASCII)
    /binary   one binary message, every byte value once (contract.BINARY)
    /big      one 4 MiB text message, a 64-byte block repeated (contract.BIG)
    /headers  prints the HEADER event and sends the header's value back as text
    /close    closes at once with code 4000, reason "bye"
    /hold     sends nothing

After sending, every path stays open, reads until the client closes, and
prints CLOSE. A server selects the subprotocol v2.wsgather whenever the client
offers it, and accepts permessage-deflate whenever the client offers it and
the library can. tests/interop/contract.py holds the messages (ws_server.js
and websocketd_script.sh repeat them).

websocketd runs one program per connection with its stdout as the WebSocket,
so its events come from its log: the program writes them to stderr, which
websocketd logs, and the CLOSE event is websocketd's own debug line `Cannot
receive: websocket: close <code>`. nginx terminates TLS in front of the
websockets server, whose events are the row's.

The cases (columns)
-------------------

Each case is one wsgather run against one path with exact checks; every run
but the server-close one also waits for the server's CLOSE event with code
1000 (wsgather stops with -n 1 or SIGTERM and closes with 1000).

    json          -n 1 /json: the output line, ts aside, is exactly the
                  expected one (data with the spaces removed, 2.50 kept)
    text          -n 1 /text: the exact line, type text
    binary        -n 1 /binary: the exact line, type binary, exact base64
    big           -n 1 /big: one text line whose data is exactly the 4 MiB
    deflate       --compress -n 1 /big: as `big`, and the server reports
                  EXT permessage-deflate
    subprotocol   --subprotocol v1.x --subprotocol v2.wsgather -n 1 /json:
                  wsgather logs `(conn 1, subprotocol v2.wsgather)`, the
                  server reports PROTO v2.wsgather, the data is exact
    header        -H 'X-Wsgather-Test: hello' -n 1 /headers: the server
                  reports the header and sends back exactly "hello"
    server close  --no-reconnect /close: no output, exit status 1, and the
                  log says `server closed the connection (code 4000 "bye")`
    client close  /hold, SIGTERM once connected: exit status 0, no output,
                  and the server reports CLOSE 1000
"""

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

from harness import (PYTHON, REPO, WAIT, HarnessError, IntegrationTest, LineReader, free_port, kill_process,
                     make_certificates, wait_listening)

INTEROP = os.path.join(REPO, "tests", "interop")
sys.path.insert(0, INTEROP)
import contract as c  # noqa: E402  (tests/interop is not a package)

SOURCE_DIR = os.environ.get("WSGATHER_SOURCE_DIR") or REPO
DOC = os.path.join(SOURCE_DIR, "docs", "interop.md")

# Bounds: a server's start, one wsgather run.
START_TIMEOUT = 10.0
RUN_TIMEOUT = 15.0
# Every run: a handshake that hangs fails within this.
COMMON_ARGS = ["--connect-timeout", "5s"]

CASES = [
    ("json", "JSON text"),
    ("text", "text"),
    ("binary", "binary"),
    ("big", "4 MiB"),
    ("deflate", "deflate"),
    ("subprotocol", "subprotocol"),
    ("header", "header"),
    ("server_close", "server close"),
    ("client_close", "client close"),
]

# Why a server cannot do a case: the footnotes of the table. Each was tried.
NOTES = {
    "websocketd-subprotocol": (
        "websocketd 0.4.1 selects no subprotocol: its gorilla/websocket Upgrader gets no list of them, and a "
        "program only sees the offer (HTTP_SEC_WEBSOCKET_PROTOCOL) after the handshake. `--header-ws` could add "
        "a fixed `Sec-WebSocket-Protocol` to every answer, whatever the client offered: that is not negotiation."),
    "websocketd-deflate": (
        "websocketd 0.4.1 has no option to enable permessage-deflate (gorilla's EnableCompression is never set): "
        "it answers `--compress` without the extension, which wsgather accepts."),
    "websocketd-server_close": (
        "websocketd sends no close frame of its own: when the program exits it drops the TCP connection (wsgather "
        "logs `server dropped the connection without a close frame`), so no program can close with 4000 \"bye\"."),
}
REMARKS = {
    "websocketd": (
        "websocketd: text messages are the program's stdout lines (the 4 MiB message is one line); the binary case "
        "uses a second websocketd started with `--binary`, where each write of the program is one binary message."),
    "nginx": (
        "nginx: `wss://localhost:PORT/...` with `--ca-file` (a test CA made by the run); nginx terminates TLS and "
        "proxies HTTP/1.1 with the Upgrade and Connection headers (tests/interop/nginx.conf.in) to the websockets "
        "server, which negotiates the subprotocol and permessage-deflate through it."),
}

# Diagnoses of cells that FAIL for a known reason, printed under the table
# while they fail. A FAIL without one says: see the output of the test run.
KNOWN_FAILURES = {
    ("nginx", "server_close"): (
        "a wsgather bug. nginx passes the server's close frame (4000 \"bye\") on, and a Python websockets "
        "client behind the same nginx gets it every time; but nginx ends the TCP connection as soon as the close "
        "handshake is over, so the TLS teardown Beast runs after answering the close frame fails (stream "
        "truncated, connection reset, or ENOTCONN from shutdown), and Beast's read then completes with that "
        "error instead of `websocket::error::closed`. wsgather judges the error alone and logs `server dropped "
        "the connection without a close frame` or `connection lost: ...`, although `ws.reason()` holds the "
        "code and reason; for the same reason a normal close (1000) through nginx ends with status 1 under "
        "`--no-reconnect`."),
}

# The rows, in table order: (key, title, Debian packages, n/a cases).
SERVERS = [
    ("websockets", "Python websockets (asyncio)", ["python3-websockets"], {}),
    ("aiohttp", "aiohttp (web.WebSocketResponse)", ["python3-aiohttp"], {}),
    ("tornado", "tornado (WebSocketHandler)", ["python3-tornado"], {}),
    ("autobahn", "Autobahn (asyncio)", ["python3-autobahn"], {}),
    ("node_ws", "Node ws (WebSocketServer)", ["node-ws", "nodejs"], {}),
    ("websocketd", "websocketd + sh script", ["websocketd"],
     {"subprotocol": "websocketd-subprotocol", "deflate": "websocketd-deflate",
      "server_close": "websocketd-server_close"}),
    ("nginx", "nginx TLS proxy → websockets", ["nginx", "python3-websockets"], {}),
]

# Filled by the test methods: {server key: {case key: "pass" | "FAIL" | "n/a"}}.
RESULTS = {}


def package_version(package):
    try:
        result = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else "not installed"


def program(name):
    """A program from PATH, or from /usr/sbin (nginx) when PATH lacks it."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if not found:
        raise HarnessError(f"{name} not found (install the Debian package, see scripts/common.sh)")
    return found


# --------------------------------------------------------------------------
# websocketd's log as contract events

_WSD_URL = re.compile(r"url:'[a-z]+://[^/']*(/[^']*)'")
_WSD_CLOSE = re.compile(r"^Cannot receive: websocket: close (\d+)")


def websocketd_event(line):
    """One line of websocketd's log (--loglevel debug) -> a contract event, or None.

    `... | ERROR  | stderr     | url:'...' ... | OPEN /json?case=json`: the program's event.
    `... | DEBUG  | websocket  | url:'...' ... | Cannot receive: websocket: close 1000 (normal)`: CLOSE.
    """
    parts = line.split(" | ", 4)
    if len(parts) != 5:
        return None
    _, _, category, scope, message = (p.strip() for p in parts)
    if category == "stderr":
        return message
    if category == "websocket" and message.startswith("Cannot receive: "):
        url = _WSD_URL.search(scope)
        if not url:
            return None
        code = _WSD_CLOSE.match(message)
        return c.close_event(url.group(1), int(code.group(1)) if code else None)
    return None


# --------------------------------------------------------------------------
# Servers

class Process:
    """One server process: its event lines (a LineReader) and its stderr."""

    def __init__(self, test, command, name, transform=None, cwd=None):
        self.name = name
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=cwd)
        test._procs.append(self.proc)
        self.events = LineReader(self.proc.stdout, f"{name} events", transform=transform)
        self.errors = LineReader(self.proc.stderr, f"{name} stderr")

    def describe(self):
        return f"{self.name}: events {self.events.lines[-20:]!r}; stderr {self.errors.lines[-20:]!r}"


def start_port_zero(test, command, name):
    """A server that binds port 0 and prints `PORT <n>`; returns (Process, port)."""
    server = Process(test, command, name, cwd=INTEROP)
    try:
        line = server.events.wait_for(r"^PORT \d+$", timeout=START_TIMEOUT)
    except HarnessError:
        kill_process(server.proc)
        raise HarnessError(f"{name} did not start: {server.describe()}")
    return server, int(line.split()[1])


def start_fixed_port(test, make_command, name, transform=None, attempts=5):
    """A server given a free port on its command line; tries another port if it cannot bind."""
    for _ in range(attempts):
        port = free_port()
        server = Process(test, make_command(port), name, transform=transform, cwd=INTEROP)
        if wait_listening(port, server.proc, timeout=START_TIMEOUT):
            time.sleep(0.05)  # one that lost the port to another process exits at once
            if server.proc.poll() is None:
                return server, port
        kill_process(server.proc)
    raise HarnessError(f"{name} did not start in {attempts} attempts: {server.describe()}")


class Endpoint:
    """Where a row's cases connect, and where their events show."""

    def __init__(self, scheme, host, ports, servers, args=()):
        self.scheme = scheme
        self.host = host
        self.ports = ports      # {path or None: port}; None for every other path
        self.servers = servers  # {path or None: Process whose events tell about that path}
        self.args = list(args)

    def _pick(self, mapping, target):
        return mapping.get(target.split("?", 1)[0], mapping[None])

    def url(self, target):
        return f"{self.scheme}://{self.host}:{self._pick(self.ports, target)}{target}"

    def server(self, target):
        return self._pick(self.servers, target)


def python_server(test, script):
    server, port = start_port_zero(test, [PYTHON, os.path.join(INTEROP, script)], script)
    return Endpoint("ws", "127.0.0.1", {None: port}, {None: server})


def start_websockets(test):
    return python_server(test, "websockets_server.py")


def start_aiohttp(test):
    return python_server(test, "aiohttp_server.py")


def start_tornado(test):
    return python_server(test, "tornado_server.py")


def start_autobahn(test):
    return python_server(test, "autobahn_server.py")


def start_node_ws(test):
    server, port = start_port_zero(test, [program("node"), os.path.join(INTEROP, "ws_server.js")], "ws_server.js")
    return Endpoint("ws", "127.0.0.1", {None: port}, {None: server})


def start_websocketd(test):
    script = os.path.join(INTEROP, "websocketd_script.sh")
    ports, servers = {}, {}
    for path, extra in ((None, []), ("/binary", ["--binary"])):
        def command(port, extra=extra):
            return [program("websocketd"), f"--port={port}", "--address=127.0.0.1", "--loglevel=debug", *extra,
                    "/bin/sh", script]
        name = "websocketd" + (" --binary" if extra else "")
        servers[path], ports[path] = start_fixed_port(test, command, name, transform=websocketd_event)
    return Endpoint("ws", "127.0.0.1", ports, servers)


def start_nginx(test):
    backend, backend_port = start_port_zero(test, [PYTHON, os.path.join(INTEROP, "websockets_server.py")],
                                            "websockets_server.py behind nginx")
    directory = os.path.join(test.tmp, "nginx")
    os.mkdir(directory)
    certs = make_certificates(directory)
    with open(os.path.join(INTEROP, "nginx.conf.in")) as f:
        template = f.read()
    conf = os.path.join(directory, "nginx.conf")

    def command(port):
        text = template
        for name, value in (("DIR", directory), ("PORT", port), ("BACKEND_PORT", backend_port),
                            ("CERT", certs["cert"]), ("KEY", certs["key"])):
            text = text.replace(f"@{name}@", str(value))
        with open(conf, "w") as f:
            f.write(text)
        return [program("nginx"), "-e", os.path.join(directory, "error.log"), "-p", directory, "-c", conf,
                "-g", "daemon off;"]

    _, port = start_fixed_port(test, command, "nginx")
    return Endpoint("wss", "localhost", {None: port}, {None: backend}, args=["--ca-file", certs["ca"]])


STARTERS = {
    "websockets": start_websockets,
    "aiohttp": start_aiohttp,
    "tornado": start_tornado,
    "autobahn": start_autobahn,
    "node_ws": start_node_ws,
    "websocketd": start_websocketd,
    "nginx": start_nginx,
}


# --------------------------------------------------------------------------
# The table

def render_table():
    lines = [
        "# Interop matrix",
        "",
        "<!-- Generated by tests/integration/test_interop.py; do not edit. -->",
        "",
        "wsgather against WebSocket servers written by others, each a real process from an installed package on",
        "a loopback port, at the versions dpkg reported when the table was made. `scripts/test -L interop` (CTest",
        "test `interop.test_interop`) runs every case and writes this file again; the cases, the paths and the",
        "events the servers print are described at the top of `tests/integration/test_interop.py`, and the",
        "server programs are in `tests/interop/`. A cell is `pass` when every exact check of the case held,",
        "`FAIL` when one did not, and `n/a` when the server cannot do the case (the notes say why).",
        "",
    ]
    header = ["server", "packages (dpkg)"] + [title for _, title in CASES]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---" for _ in header) + "|")
    footnotes = []
    for key, title, packages, not_applicable in SERVERS:
        row = RESULTS.get(key, {})
        cells = [title, "<br>".join(f"{p} {package_version(p)}" for p in packages)]
        for case, _ in CASES:
            cell = row.get(case, "FAIL")
            if cell == "n/a":
                note = not_applicable[case]
                if note not in footnotes:
                    footnotes.append(note)
                cell = f"n/a ({footnotes.index(note) + 1})"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    if footnotes:
        lines.append("Not applicable:")
        lines.append("")
        for number, note in enumerate(footnotes, 1):
            lines.append(f"{number}. {NOTES[note]}")
        lines.append("")
    failures = [(key, title, case, case_title) for key, title, _, _ in SERVERS for case, case_title in CASES
                if RESULTS.get(key, {}).get(case, "FAIL") == "FAIL"]
    if failures:
        lines.append("Failures:")
        lines.append("")
        for key, title, case, case_title in failures:
            why = KNOWN_FAILURES.get((key, case), "see the output of the test run.")
            lines.append(f"- {title}, {case_title}: {why}")
        lines.append("")
    lines.append("Notes:")
    lines.append("")
    for key, _, _, _ in SERVERS:
        if key in REMARKS:
            lines.append(f"- {REMARKS[key]}")
    lines.append("")
    return "\n".join(lines)


def write_table():
    text = render_table()
    try:
        with open(DOC) as f:
            if f.read() == text:
                return
    except OSError:
        pass
    os.makedirs(os.path.dirname(DOC), exist_ok=True)
    with open(DOC + ".tmp", "w") as f:
        f.write(text)
    os.replace(DOC + ".tmp", DOC)


# --------------------------------------------------------------------------
# The matrix

class Interop(IntegrationTest):

    @classmethod
    def tearDownClass(cls):
        # Only a full run rewrites the table: `-k websockets` leaves it alone.
        if all(key in RESULTS for key, _, _, _ in SERVERS):
            write_table()
        super().tearDownClass()

    def run_row(self, key):
        _, _, _, not_applicable = next(s for s in SERVERS if s[0] == key)
        row = RESULTS.setdefault(key, {})
        for case, _ in CASES:
            row[case] = "n/a" if case in not_applicable else "FAIL"
        endpoint = STARTERS[key](self)
        for case, _ in CASES:
            if case in not_applicable:
                continue
            with self.subTest(server=key, case=case):
                getattr(self, f"case_{case}")(endpoint, f"case={case}")
                row[case] = "pass"

    def test_websockets(self):
        self.run_row("websockets")

    def test_aiohttp(self):
        self.run_row("aiohttp")

    def test_tornado(self):
        self.run_row("tornado")

    def test_autobahn(self):
        self.run_row("autobahn")

    def test_node_ws(self):
        self.run_row("node_ws")

    def test_websocketd(self):
        self.run_row("websocketd")

    def test_nginx(self):
        self.run_row("nginx")

    # -- helpers

    def event(self, endpoint, target, kind, mark, timeout=WAIT):
        """The first `<kind> <target>...` event at or after index `mark`, waited for."""
        events = endpoint.server(target).events
        events.cursor = mark
        line = events.wait_for(rf"^{kind} {re.escape(target)}( |$)", timeout=timeout)
        return line[len(f"{kind} {target}"):].strip()

    def mark(self, endpoint, target):
        return len(endpoint.server(target).events.lines)

    def run_case(self, endpoint, target, *args):
        """Runs wsgather on one feed named `f`; returns (Run, event mark)."""
        mark = self.mark(endpoint, target)
        run = self.run_wsgather(*COMMON_ARGS, *endpoint.args, *args, f"f={endpoint.url(target)}",
                                timeout=RUN_TIMEOUT)
        return run, mark

    def assertClientClosed(self, endpoint, target, mark, run=None):
        code = self.event(endpoint, target, "CLOSE", mark)
        self.assertEqual(code, "1000", f"the server saw close code {code}" + (run.describe() if run else ""))

    def assertOneLine(self, run, kind, data_json):
        """Exactly one line, ts aside: feed f, seq 1, conn 1, type `kind`, data as JSON text."""
        self.assertStatus(run, 0)
        self.lines_of(run)
        self.assertOutputExceptTs(
            run.stdout, ['{"feed":"f","seq":1,"conn":1,"ts":"TS","type":"%s","data":%s}' % (kind, data_json)])

    def assertBig(self, run):
        self.assertStatus(run, 0)
        lines = self.lines_of(run)
        self.assertEqual(len(lines), 1, run.describe())
        line = lines[0]
        self.assertEqual((line["seq"], line["conn"], line["type"]), (1, 1, "text"))
        data = line["data"]
        if data != c.BIG:
            first = next((i for i, (a, b) in enumerate(zip(data, c.BIG)) if a != b), min(len(data), len(c.BIG)))
            self.fail(f"4 MiB message differs: {len(data)} characters instead of {len(c.BIG)}, first difference "
                      f"at {first}: {data[first:first + 64]!r} instead of {c.BIG[first:first + 64]!r}")

    # -- the cases

    def case_json(self, endpoint, query):
        target = f"/json?{query}"
        run, mark = self.run_case(endpoint, target, "-n", "1")
        self.assertOneLine(run, "json", '{"a":[1,2.50,true,null],"b":"x\\"y"}')
        self.assertClientClosed(endpoint, target, mark, run)

    def case_text(self, endpoint, query):
        target = f"/text?{query}"
        run, mark = self.run_case(endpoint, target, "-n", "1")
        self.assertOneLine(run, "text", json.dumps(c.TEXT, ensure_ascii=False))
        self.assertClientClosed(endpoint, target, mark, run)

    def case_binary(self, endpoint, query):
        target = f"/binary?{query}"
        run, mark = self.run_case(endpoint, target, "-n", "1")
        self.assertOneLine(run, "binary", json.dumps(base64.b64encode(c.BINARY).decode()))
        self.assertClientClosed(endpoint, target, mark, run)

    def case_big(self, endpoint, query):
        target = f"/big?{query}"
        run, mark = self.run_case(endpoint, target, "-n", "1")
        self.assertBig(run)
        self.assertClientClosed(endpoint, target, mark, run)

    def case_deflate(self, endpoint, query):
        target = f"/big?{query}"
        run, mark = self.run_case(endpoint, target, "--compress", "-n", "1")
        self.assertBig(run)
        self.assertEqual(self.event(endpoint, target, "EXT", mark), "permessage-deflate")
        self.assertClientClosed(endpoint, target, mark, run)

    def case_subprotocol(self, endpoint, query):
        target = f"/json?{query}"
        run, mark = self.run_case(endpoint, target, "--subprotocol", "v1.x", "--subprotocol", c.SUBPROTOCOL,
                                  "-n", "1")
        self.assertOneLine(run, "json", '{"a":[1,2.50,true,null],"b":"x\\"y"}')
        self.assertIn(f"[f] connected to {endpoint.url(target)} (conn 1, subprotocol {c.SUBPROTOCOL})",
                      run.err_lines, run.describe())
        self.assertEqual(self.event(endpoint, target, "PROTO", mark), c.SUBPROTOCOL)
        self.assertClientClosed(endpoint, target, mark, run)

    def case_header(self, endpoint, query):
        target = f"/headers?{query}"
        run, mark = self.run_case(endpoint, target, "-H", "X-Wsgather-Test: hello", "-n", "1")
        self.assertOneLine(run, "text", '"hello"')
        self.assertEqual(self.event(endpoint, target, "HEADER", mark), f"{c.HEADER}: hello")
        self.assertClientClosed(endpoint, target, mark, run)

    def case_server_close(self, endpoint, query):
        target = f"/close?{query}"
        run, mark = self.run_case(endpoint, target, "--no-reconnect")
        self.assertStatus(run, 1)
        self.assertEqual(run.stdout, b"", run.describe())
        self.assertIn(f'[f] error: server closed the connection (code {c.CLOSE_CODE} "{c.CLOSE_REASON}")',
                      run.err_lines, run.describe())
        self.event(endpoint, target, "CLOSE", mark)  # the connection is over on the server's side too

    def case_client_close(self, endpoint, query):
        target = f"/hold?{query}"
        mark = self.mark(endpoint, target)
        url = endpoint.url(target)
        proc, out, err = self.start_wsgather(*COMMON_ARGS, *endpoint.args, f"f={url}")
        err.wait_for(rf"^\[f\] connected to {re.escape(url)} \(conn 1\)$")
        self.event(endpoint, target, "OPEN", mark)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(proc, timeout=WAIT), 0, err.lines)
        self.assertEqual(out.wait_eof(), b"")
        self.assertClientClosed(endpoint, target, mark)


if __name__ == "__main__":
    unittest.main()
