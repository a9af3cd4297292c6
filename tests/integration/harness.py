"""Shared helpers for the wsgather integration tests.

The tests run the real `wsgather` binary against real WebSocket servers on
127.0.0.1: the Beast test server (tests/server) or the Python one
(py_server.py). Servers bind port 0 and report it on stdout as `PORT <n>`;
their later stdout lines are events (OPEN, RECV, CLOSE, ...) that tests wait
for. Every wait here is bounded, and every process a test starts is killed
when the test ends, pass or fail.
"""

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# CTest sets these; the fallbacks let a developer run `python3 -m unittest`
# by hand in this directory after building into build-it/.
WSGATHER = os.environ.get("WSGATHER_BIN") or os.path.join(REPO, "build-it", "app", "wsgather")
TEST_SERVER = os.environ.get("WSGATHER_TEST_SERVER") or os.path.join(
    REPO, "build-it", "tests", "server", "wsgather-test-server")
PY_SERVER = os.path.join(HERE, "py_server.py")
# Raw-socket server that breaks the WebSocket protocol on purpose (test_hostile).
HOSTILE_SERVER = os.path.join(HERE, "hostile_server.py")
# Built with a sanitizer: memory figures say nothing about wsgather.
SANITIZED = os.environ.get("WSGATHER_SANITIZED") == "1"
# The Python that has the websockets package (Debian's, not pyenv's).
PYTHON = "/usr/bin/python3"

# A proxy set for this machine must not come between wsgather and the test
# servers: tests that want one set these themselves (test_proxy).
PROXY_VARIABLES = ["http_proxy", "https_proxy", "ws_proxy", "wss_proxy", "all_proxy", "no_proxy",
                   "HTTP_PROXY", "HTTPS_PROXY", "WS_PROXY", "WSS_PROXY", "ALL_PROXY", "NO_PROXY"]
for _name in PROXY_VARIABLES:
    os.environ.pop(_name, None)

VERSION = "0.1.0"

# How long a test waits for one thing that should happen "now".
WAIT = 5.0
# Hard limit for a wsgather run that is expected to end by itself.
RUN_TIMEOUT = 20.0

TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
LINE_KEYS = ["feed", "seq", "conn", "ts", "type", "data"]
EVENT_KEYS = ["feed", "conn", "ts", "type", "data"]
LOG_LINE_RE = re.compile(r"^\[\S+\] \S")
STATS_LINE_RE = re.compile(r'^\{"type":"(stats|summary)",')
COUNTER_KEYS = ["messages", "bytes", "reconnects", "drops", "last_message_age_ms"]


class HarnessError(AssertionError):
    """A bounded wait ran out, or a helper process misbehaved."""


# --------------------------------------------------------------------------
# Reading a process's output without blocking the test

class _Collector:
    """Reads a stream on a thread; waits on what has arrived, with a deadline."""

    def __init__(self, stream, name):
        self.name = name
        self._stream = stream
        self._eof = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"reader-{name}", daemon=True)
        self._thread.start()

    def _run(self):
        try:
            self._read_all()
        except (OSError, ValueError):
            pass
        finally:
            with self._cond:
                self._eof = True
                self._cond.notify_all()

    def _add(self, item):
        with self._cond:
            self._store(item)
            self._cond.notify_all()

    @property
    def eof(self):
        with self._cond:
            return self._eof

    def _wait(self, check, timeout, what):
        """Returns check()'s first result that is not None; check runs under the lock.

        `what` names the awaited thing in the error, and may be a callable
        for a description that depends on what arrived.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = check()
                if result is not None:
                    return result
                described = what() if callable(what) else what
                if self._eof:
                    raise HarnessError(f"{self.name}: ended before {described}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise HarnessError(f"{self.name}: no {described} within {timeout}s")
                self._cond.wait(left)


class LineReader(_Collector):
    """Collects the lines of a binary stream on a thread, for bounded waits.

    `wait_for(pattern)` returns the first line at or after the cursor that
    matches, and moves the cursor past it; lines are never lost, so a test
    can also look at everything seen so far with `lines`.
    """

    def __init__(self, stream, name, transform=None):
        self._lines = []
        self.cursor = 0
        # transform(line) -> the line to keep, or None to drop it: for a
        # server whose events sit inside other output (a log).
        self._transform = transform
        super().__init__(stream, name)

    def _read_all(self):
        for raw in iter(self._stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if self._transform is not None:
                line = self._transform(line)
                if line is None:
                    continue
            self._add(line)

    def _store(self, line):
        self._lines.append(line)

    @property
    def lines(self):
        with self._cond:
            return list(self._lines)

    def wait_for(self, pattern, timeout=WAIT):
        """Waits for a line matching the regex `pattern` (re.search)."""
        regex = re.compile(pattern)

        def check():
            while self.cursor < len(self._lines):
                line = self._lines[self.cursor]
                self.cursor += 1
                if regex.search(line):
                    return line
            return None

        return self._wait(check, timeout,
                          lambda: f"line matching {pattern!r} (last lines: {self._lines[-20:]!r})")

    def wait_count(self, pattern, count, timeout=WAIT):
        """Waits until `count` lines in all (cursor ignored) match; returns them."""
        regex = re.compile(pattern)

        def matching():
            return [line for line in self._lines if regex.search(line)]

        def check():
            found = matching()
            return found if len(found) >= count else None

        return self._wait(check, timeout,
                          lambda: f"{count} lines matching {pattern!r} (saw {len(matching())})")

    def wait_eof(self, timeout=WAIT):
        return self._wait(lambda: list(self._lines) if self._eof else None, timeout, "end of stream")


class ChunkReader(_Collector):
    """Collects all bytes of a stream on a thread; for wsgather's stdout."""

    def __init__(self, stream, name):
        self._chunks = []
        self._newlines = 0
        super().__init__(stream, name)

    def _read_all(self):
        while True:
            chunk = self._stream.read1(65536) if hasattr(self._stream, "read1") else \
                os.read(self._stream.fileno(), 65536)
            if not chunk:
                return
            self._add(chunk)

    def _store(self, chunk):
        self._chunks.append(chunk)
        self._newlines += chunk.count(b"\n")

    def data(self):
        with self._cond:
            return b"".join(self._chunks)

    def wait_lines(self, count, timeout=WAIT):
        """Waits until at least `count` complete lines have arrived."""
        return self._wait(lambda: True if self._newlines >= count else None, timeout,
                          lambda: f"{count} lines (saw {self._newlines})")

    def wait_until(self, predicate, timeout=WAIT, what="condition"):
        """Waits until predicate(all bytes so far) is true; returns those bytes."""
        def check():
            data = b"".join(self._chunks)
            return data if predicate(data) else None

        return self._wait(check, timeout, what)

    def wait_eof(self, timeout=WAIT):
        return self._wait(lambda: b"".join(self._chunks) if self._eof else None, timeout, "end of stream")


# --------------------------------------------------------------------------
# Processes

def _popen(args, **kwargs):
    return subprocess.Popen(args, stdin=subprocess.DEVNULL, **kwargs)


def free_port():
    """A loopback TCP port that was free a moment ago, for a server that cannot bind port 0.

    Another process may take it before the server binds it: start such a
    server in a loop that tries a new port when it fails (see wait_listening).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port, proc, timeout=10.0):
    """Waits until 127.0.0.1:port accepts connections; False if `proc` ended first.

    Raises HarnessError when neither happens within `timeout`.
    """
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise HarnessError(f"nothing listens on port {port} after {timeout}s ({proc.args})")
        time.sleep(0.02)


def kill_process(proc):
    """Kills `proc` if it still runs and reaps it. Only ever our own children."""
    if proc is None:
        return
    if proc.poll() is None:
        try:
            proc.kill()
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=WAIT)
    except subprocess.TimeoutExpired:
        pass
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass


class HelperProcess:
    """A helper process that prints "PORT <n>" once listening, then event
    lines: its port, and readers of its stdout and stderr."""

    def __init__(self, command, name):
        self.command = command
        self.proc = _popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.events = LineReader(self.proc.stdout, f"{name} events")
        self.errors = LineReader(self.proc.stderr, f"{name} stderr")
        try:
            first = self.events.wait_for(r"^PORT \d+$", timeout=10)
        except HarnessError:
            kill_process(self.proc)
            raise HarnessError(f"{name} did not start: {command}; "
                               f"stdout {self.events.lines!r}, stderr {self.errors.lines!r}")
        self.port = int(first.split()[1])

    def wait_for(self, pattern, timeout=WAIT):
        return self.events.wait_for(pattern, timeout)

    def stop(self):
        kill_process(self.proc)


class Server(HelperProcess):
    """A running test server: its port and a reader of its event lines."""

    def __init__(self, kind, args, port=0):
        self.kind = kind
        if kind == "beast":
            command = [TEST_SERVER]
        elif kind == "python":
            command = [PYTHON, PY_SERVER]
        elif kind == "hostile":
            command = [PYTHON, HOSTILE_SERVER]
        else:
            raise ValueError(kind)
        if port:
            command += ["--port", str(port)]
        super().__init__(command + list(args), f"{kind} server")

    def url(self, target, scheme="ws", host="127.0.0.1"):
        return f"{scheme}://{host}:{self.port}{target}"

    def event_lines(self, prefixes=("OPEN", "CLOSE", "RECV", "RECVBIN", "HEADER")):
        """The event lines so far, without debug noise the server may print."""
        return [line for line in self.events.lines if line.split(" ", 1)[0] in prefixes]


class Run:
    """Result of a finished wsgather run."""

    def __init__(self, args, status, stdout, stderr, elapsed):
        self.args = args
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed

    @property
    def err_lines(self):
        return self.stderr.decode("utf-8", "replace").splitlines()

    @property
    def err_text(self):
        return self.stderr.decode("utf-8", "replace")

    def describe(self):
        out = self.stdout.decode("utf-8", "replace")
        if len(out) > 2000:
            out = out[:1000] + "\n...\n" + out[-1000:]
        return (f"\n$ wsgather {' '.join(self.args)}\nstatus {self.status} after {self.elapsed:.2f}s"
                f"\n--- stdout\n{out}\n--- stderr\n{self.err_text}")


def parse_lines(stdout):
    """Parses JSONL output; every line must be complete and valid JSON."""
    text = stdout.decode("utf-8")
    if text and not text.endswith("\n"):
        raise HarnessError(f"output ends with an incomplete line: {text[-200:]!r}")
    return [json.loads(line) for line in text.splitlines()]


def make_certificates(directory):
    """A test CA and a server certificate for DNS:localhost only, with openssl.

    Returns dict(ca=..., cert=..., key=...): wss://localhost:PORT verifies
    against ca; wss://127.0.0.1:PORT is a host-name mismatch.
    """
    paths = {name: os.path.join(directory, f"{name}.pem") for name in ("ca", "ca_key", "cert", "key", "csr")}
    ext = os.path.join(directory, "server.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=DNS:localhost\n")

    def openssl(*args):
        result = subprocess.run(["openssl", *args], stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        if result.returncode != 0:
            raise HarnessError(f"openssl {' '.join(args)} failed: {result.stderr.decode()}")

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", paths["ca_key"], "-out", paths["ca"], "-days", "2",
            "-subj", "/CN=wsgather test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-new", *ec, "-keyout", paths["key"], "-out", paths["csr"],
            "-subj", "/CN=wsgather test server")
    openssl("x509", "-req", "-in", paths["csr"], "-CA", paths["ca"], "-CAkey", paths["ca_key"],
            "-set_serial", "1", "-days", "2", "-extfile", ext, "-out", paths["cert"])
    return {"ca": paths["ca"], "ca_key": paths["ca_key"], "cert": paths["cert"], "key": paths["key"]}


class IntegrationTest(unittest.TestCase):
    """Base class: process bookkeeping, wsgather runs and output checks."""

    maxDiff = None

    def setUp(self):
        super().setUp()
        for path, what in ((WSGATHER, "WSGATHER_BIN"), (TEST_SERVER, "WSGATHER_TEST_SERVER")):
            if not os.access(path, os.X_OK):
                self.fail(f"{what}: {path} is not an executable (build first, or set {what})")
        self._procs = []
        self.addCleanup(self._kill_all)
        self.tmp = tempfile.mkdtemp(prefix="wsgather-it-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def _kill_all(self):
        for proc in reversed(self._procs):
            kill_process(proc)

    # -- servers

    def start_server(self, kind="beast", *args, port=0):
        server = Server(kind, args, port=port)
        self._procs.append(server.proc)
        return server

    # -- wsgather

    def run_wsgather(self, *args, timeout=RUN_TIMEOUT):
        """Runs wsgather to its end; returns a Run. Kills it after `timeout`."""
        args = [str(a) for a in args]
        start = time.monotonic()
        proc = _popen([WSGATHER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._procs.append(proc)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            run = Run(args, None, out, err, time.monotonic() - start)
            self.fail(f"wsgather still running after {timeout}s" + run.describe())
        run = Run(args, proc.returncode, out, err, time.monotonic() - start)
        self.check_log_lines(run)
        return run

    def start_wsgather(self, *args, stdout=subprocess.PIPE):
        """Starts wsgather in the background; returns (proc, stdout reader, stderr reader)."""
        args = [str(a) for a in args]
        proc = _popen([WSGATHER, *args], stdout=stdout, stderr=subprocess.PIPE)
        proc.args_for_report = args
        self._procs.append(proc)
        out = ChunkReader(proc.stdout, "wsgather stdout") if stdout == subprocess.PIPE else None
        err = LineReader(proc.stderr, "wsgather stderr")
        return proc, out, err

    def wait_exit(self, proc, timeout=WAIT):
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.fail(f"wsgather {getattr(proc, 'args_for_report', '')} did not exit within {timeout}s")

    # -- checks

    def check_log_lines(self, run):
        """Every stderr line is `[feed] ...`, `wsgather: ...`, or a counters line (--stats, -v)."""
        for line in run.err_lines:
            if not (line.startswith("wsgather: ") or LOG_LINE_RE.match(line) or STATS_LINE_RE.match(line)):
                self.fail(f"stray stderr line {line!r}" + run.describe())

    def counter_lines(self, err_lines):
        """The --stats and summary lines among stderr lines, parsed, each
        checked for its keys in order."""
        lines = [json.loads(line) for line in err_lines if STATS_LINE_RE.match(line)]
        for line in lines:
            self.assertEqual(list(line.keys()), ["type", "ts", "queue", "feeds"], line)
            for counters in line["feeds"].values():
                self.assertEqual(list(counters.keys()), COUNTER_KEYS, line)
        return lines

    def check_shape(self, line):
        """Checks one parsed output line's keys, their order and their types."""
        if line.get("type") == "event":
            # --events: no seq, and conn is 0 before the first connection.
            self.assertEqual(list(line.keys()), EVENT_KEYS, line)
            self.assertIsInstance(line["conn"], int, line)
            self.assertRegex(line["ts"], TS_RE)
            self.assertIn(line["data"].get("event"), ("connected", "disconnected", "retrying", "gave_up", "dropped"), line)
            return
        self.assertEqual(list(line.keys()), LINE_KEYS, line)
        self.assertIsInstance(line["feed"], str, line)
        self.assertIsInstance(line["seq"], int, line)
        self.assertIsInstance(line["conn"], int, line)
        self.assertGreaterEqual(line["seq"], 1, line)
        self.assertGreaterEqual(line["conn"], 1, line)
        self.assertRegex(line["ts"], TS_RE)
        self.assertIn(line["type"], ("json", "text", "binary"), line)
        if line["type"] == "text":
            self.assertIsInstance(line["data"], str, line)
        if line["type"] == "binary":
            base64.b64decode(line["data"], validate=True)

    def lines_of(self, run_or_bytes):
        """Parses output, checks every line's shape, returns the parsed lines."""
        stdout = run_or_bytes.stdout if isinstance(run_or_bytes, Run) else run_or_bytes
        try:
            lines = parse_lines(stdout)
        except (ValueError, HarnessError) as e:
            extra = run_or_bytes.describe() if isinstance(run_or_bytes, Run) else ""
            self.fail(f"bad output: {e}{extra}")
        for line in lines:
            self.check_shape(line)
        return lines

    def assertStatus(self, run, status):
        self.assertEqual(run.status, status, f"unexpected exit status" + run.describe())

    def assertSeqContiguous(self, lines, feed=None):
        """Every feed's seq is exactly 1..n in order; returns {feed: n}."""
        by_feed = {}
        for line in lines:
            if feed is None or line["feed"] == feed:
                by_feed.setdefault(line["feed"], []).append(line["seq"])
        for name, seqs in by_feed.items():
            self.assertEqual(seqs, list(range(1, len(seqs) + 1)), f"seq of feed {name}")
        return {name: len(seqs) for name, seqs in by_feed.items()}

    def assertOutputExceptTs(self, stdout, template_lines):
        """Compares output text exactly, except that each ts is checked by regex."""
        text = stdout.decode("utf-8")
        actual = []
        for line in text.splitlines():
            m = re.search(r'"ts":"([^"]*)"', line)
            self.assertIsNotNone(m, line)
            self.assertRegex(m.group(1), TS_RE)
            actual.append(line[:m.start(1)] + "TS" + line[m.end(1):])
        self.assertEqual(actual, template_lines)
        self.assertTrue(text.endswith("\n"))


class WithCertificates:
    """Mixin, before IntegrationTest: a test CA and server certificate made
    once for the class (self.certs, as make_certificates returns them), and
    the Beast server over TLS with them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cert_dir = tempfile.mkdtemp(prefix="wsgather-it-certs-")
        cls.certs = make_certificates(cls.cert_dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.cert_dir, True)
        super().tearDownClass()

    def start_tls_server(self):
        return self.start_server("beast", "--tls", self.certs["cert"], self.certs["key"])


def vmhwm_kib(pid):
    """Peak resident set size of a live process, from /proc; None if gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class PeakRss:
    """Follows a process's VmHWM (peak RSS, KiB) on a thread until it ends.

    Not getrusage(): ru_maxrss of a child also counts the parent's memory
    that the child held between fork and exec (Linux keeps the larger
    high-water mark across exec), which says nothing about wsgather.
    """

    def __init__(self, pid, interval=0.01):
        self.pid = pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._run, name=f"rss-{pid}", daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            value = vmhwm_kib(self.pid)
            if value is None:  # gone, or a zombie without memory
                break
            self.peak_kib = max(self.peak_kib, value)
            self._stop.wait(self._interval)

    def stop(self):
        self._stop.set()
        self._thread.join(WAIT)
        return self.peak_kib
