"""Output files: several sinks, --output-per-feed, SIGHUP reopening, rotation by size and by time,
--rotate-compress, and the errors of their misuse."""

import collections
import datetime
import glob
import os
import re
import shutil
import signal
import subprocess
import time
import unittest

from harness import REPO, WAIT, WSGATHER, HarnessError, IntegrationTest
from test_output import MIXED_RAW

# A rotated file of output `<stem>.jsonl`: the UTC time goes before the extension.
STAMP = r"\d{8}T\d{6}\.\d{6}Z"
ROTATED_RE = re.compile(r"^(\w+)\.(" + STAMP + r")\.jsonl$")
COMPRESSED_RE = re.compile(r"^(\w+)\.(" + STAMP + r")\.jsonl\.zst$")
LIMIT = 10 * 1024  # --rotate-size 10KiB
STEADY = "/count?n=100000&rate=200&close=none"  # 200 messages a second until stopped


def rotate_compress_status():
    """(True, "") when --rotate-compress is there to test, else (False, why not)."""
    try:
        shown = subprocess.run([WSGATHER, "--help"], stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"cannot run {WSGATHER} --help: {e}"
    if b"--rotate-compress" not in shown.stdout:
        return False, "wsgather --help lists no --rotate-compress"
    lib = os.path.join(os.environ.get("WSGATHER_SOURCE_DIR") or REPO, "lib")
    if not os.path.exists(os.path.join(lib, "zstd_file.cpp")):
        return False, f"{lib} has no zstd_file.cpp"
    callers = []
    for path in glob.glob(os.path.join(lib, "*.cpp")):
        if os.path.basename(path) != "zstd_file.cpp":
            with open(path, encoding="utf-8", errors="replace") as f:
                if "compress_file(" in f.read():
                    callers.append(path)
    if not callers:
        return False, ("--rotate-compress is parsed, but nothing in lib/ calls compress_file yet "
                       "(the sinks are not given a compression callback)")
    if shutil.which("zstd") is None:
        return False, "the zstd command is not installed"
    return True, ""


COMPRESS_LANDED, COMPRESS_MISSING = rotate_compress_status()


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def stamp_time(stamp):
    return datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=datetime.timezone.utc)


def line_time(ts):
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def complete_lines(path):
    """The whole lines in a file being written; 0 when it is not there (yet)."""
    try:
        return read_bytes(path).count(b"\n")
    except FileNotFoundError:
        return 0


def runs(numbers):
    """[1, 2, 3, 7] as "1-3, 7"."""
    spans = []
    for k in numbers:
        if spans and spans[-1][1] == k - 1:
            spans[-1][1] = k
        else:
            spans.append([k, k])
    return ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in spans) or "none"


def greedy_files(lines, limit):
    """What --rotate-size must make of `lines` (bytes, each with its newline) in a new file:
    each file takes the lines that fit; a line that does not fit starts a new file, and a
    line longer than the limit fills one alone."""
    files = [b""]
    for line in lines:
        if files[-1] and len(files[-1]) + len(line) > limit:
            files.append(b"")
        files[-1] += line
    return files


class OutputFileTest(IntegrationTest):

    def wait_file(self, predicate, what, timeout=WAIT):
        """Polls until predicate() is true: no event tells a test that a file grew,
        so it is looked at every 10 ms, for at most `timeout`."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise HarnessError(f"no {what} within {timeout}s (files: {sorted(os.listdir(self.tmp))})")
            time.sleep(0.01)

    def assertCountsUp(self, lines, feed, n=None):
        """Lines of one feed whose seq and data.i are both 1..len (or 1..n)."""
        self.assertEqual({line["feed"] for line in lines}, {feed})
        expected = list(range(1, (len(lines) if n is None else n) + 1))
        for key, got in (("seq", [line["seq"] for line in lines]), ("data.i", [line["data"]["i"] for line in lines])):
            if got != expected:
                # Thousands of numbers say less than where they go wrong.
                wrong = next(k for k, (a, b) in enumerate(zip(got + [None], expected + [None])) if a != b)
                doubled = sorted(v for v, times in collections.Counter(got).items() if times > 1)
                self.fail(f"{key} of feed {feed}: {len(got)} lines, {len(expected)} expected; missing "
                          f"{runs(sorted(set(expected) - set(got)))}, doubled {runs(doubled)}; first wrong at "
                          f"line {wrong + 1}: {got[max(0, wrong - 2):wrong + 3]}")

    def rotated_outputs(self, directory, stem, before, after, pattern=ROTATED_RE):
        """The rotated files of output `<stem>.jsonl` in name order; checks their names' times."""
        names = sorted(name for name in os.listdir(directory)
                       if (m := pattern.match(name)) and m.group(1) == stem)
        for name in names:
            when = stamp_time(pattern.match(name).group(2))
            self.assertLessEqual(before - datetime.timedelta(milliseconds=1), when, name)
            self.assertLessEqual(when, after + datetime.timedelta(milliseconds=1), name)
        return names

    def check_size_rotation(self, contents, names, n, feed, limit=LIMIT):
        """`contents` are the bytes of the rotated files and then of the current one."""
        self.assertGreaterEqual(len(contents), 3, names)
        for name, content in zip(names, contents):
            self.assertLessEqual(len(content), limit, name)
            self.assertTrue(content.endswith(b"\n"), f"{name} ends in a torn line")
        whole = b"".join(contents)
        self.assertCountsUp(self.lines_of(whole), feed, n)
        # Exactly where a file of at most LIMIT bytes must end, whatever the
        # blocks the writer was handed.
        self.assertEqual([len(c) for c in contents],
                         [len(c) for c in greedy_files(whole.splitlines(keepends=True), limit)])


class SeveralSinks(OutputFileTest):

    def test_every_sink_gets_every_line_appended(self):
        server = self.start_server("beast")
        a, b = os.path.join(self.tmp, "a.jsonl"), os.path.join(self.tmp, "b.jsonl")
        old_a, old_b = b"old line of a\n", b'{"old":"b"}\n'
        for path, old in ((a, old_a), (b, old_b)):
            with open(path, "wb") as f:
                f.write(old)
        run = self.run_wsgather("--no-reconnect", "-o", a, "-o", b, "-o", "-",
                                "x=" + server.url("/count?n=500&size=100"), "y=" + server.url("/count?n=300"))
        self.assertStatus(run, 0)
        lines = self.lines_of(run)
        self.assertEqual(self.assertSeqContiguous(lines), {"x": 500, "y": 300})
        content_a, content_b = read_bytes(a), read_bytes(b)
        self.assertTrue(content_a.startswith(old_a))
        self.assertTrue(content_b.startswith(old_b))
        self.assertEqual(content_a[len(old_a):], run.stdout)
        self.assertEqual(content_b[len(old_b):], run.stdout)


class PerFeed(OutputFileTest):

    def per_feed_lines(self, content, feed, n):
        lines = self.lines_of(content)
        self.assertCountsUp(lines, feed, n)
        return lines

    def test_each_feed_its_own_file(self):
        server = self.start_server("beast")
        directory = os.path.join(self.tmp, "feeds")  # not there yet: made
        run = self.run_wsgather("--no-reconnect", "--output-per-feed", directory,
                                "a=" + server.url("/count?n=400"), "b/c=" + server.url("/count?n=250&size=60"))
        self.assertStatus(run, 0)
        self.assertEqual(run.stdout, b"", "nothing on stdout without -o")
        self.assertEqual(sorted(os.listdir(directory)), ["a.jsonl", "b_c.jsonl"])
        self.per_feed_lines(read_bytes(os.path.join(directory, "a.jsonl")), "a", 400)
        self.per_feed_lines(read_bytes(os.path.join(directory, "b_c.jsonl")), "b/c", 250)

    def test_with_stdout_and_existing_directory(self):
        server = self.start_server("beast")
        directory = os.path.join(self.tmp, "feeds")
        os.mkdir(directory)
        old = b"kept\n"
        with open(os.path.join(directory, "a.jsonl"), "wb") as f:
            f.write(old)
        run = self.run_wsgather("--no-reconnect", "--output-per-feed", directory, "-o", "-",
                                "a=" + server.url("/count?n=400"), "b/c=" + server.url("/count?n=250&size=60"))
        self.assertStatus(run, 0)
        self.assertEqual(self.assertSeqContiguous(self.lines_of(run)), {"a": 400, "b/c": 250})
        self.assertEqual(sorted(os.listdir(directory)), ["a.jsonl", "b_c.jsonl"])
        file_a = read_bytes(os.path.join(directory, "a.jsonl"))
        self.assertTrue(file_a.startswith(old))
        # Byte for byte the feed's lines on stdout.
        for feed, content in (("a", file_a[len(old):]), ("b/c", read_bytes(os.path.join(directory, "b_c.jsonl")))):
            head = b'{"feed":"%s",' % feed.encode()
            self.assertEqual(content, b"".join(line for line in run.stdout.splitlines(keepends=True)
                                               if line.startswith(head)), feed)

    def test_raw_format_makes_txt_files(self):
        server = self.start_server("beast")
        directory = os.path.join(self.tmp, "raw")
        run = self.run_wsgather("--no-reconnect", "--format", "raw", "--output-per-feed", directory,
                                "a=" + server.url("/count?n=3"), "b/c=" + server.url("/mixed"))
        self.assertStatus(run, 0)
        self.assertEqual(run.stdout, b"")
        self.assertEqual(sorted(os.listdir(directory)), ["a.txt", "b_c.txt"])
        self.assertEqual(read_bytes(os.path.join(directory, "a.txt")), b'{"i":1}\n{"i":2}\n{"i":3}\n')
        self.assertEqual(read_bytes(os.path.join(directory, "b_c.txt")), MIXED_RAW)


class Reopen(OutputFileTest):

    def moved_on_sighup(self, extra_args, paths, feed="f"):
        """Runs a steady feed into `paths` (all get its lines), moves each to
        PATH.1 after some lines, sends SIGHUP, and checks that no line is lost
        or doubled across the two files."""
        server = self.start_server("beast")
        proc, out, err = self.start_wsgather(*extra_args, f"{feed}=" + server.url(STEADY))
        self.wait_file(lambda: all(complete_lines(p) >= 20 for p in paths), "20 lines in every file")
        for path in paths:
            os.rename(path, path + ".1")
        proc.send_signal(signal.SIGHUP)
        err.wait_for(r"^wsgather: reopening output files \(SIGHUP\)$")
        self.wait_file(lambda: all(complete_lines(p) >= 20 for p in paths), "20 lines in every reopened file")
        self.assertIsNone(proc.poll(), "wsgather ended after SIGHUP")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(proc), 0, err.lines)
        self.assertEqual(out.wait_eof(), b"")
        self.assertEqual(err.wait_eof(), [
            f"[{feed}] connected to {server.url(STEADY)} (conn 1)",
            "wsgather: reopening output files (SIGHUP)",
            "wsgather: stopping: terminated",
        ])
        for path in paths:
            before, after = read_bytes(path + ".1"), read_bytes(path)
            self.assertGreaterEqual(before.count(b"\n"), 20, path)
            self.assertGreaterEqual(after.count(b"\n"), 20, path)
            self.assertCountsUp(self.lines_of(before + after), feed)
        return [read_bytes(path + ".1") + read_bytes(path) for path in paths]

    def test_sighup_reopens_moved_file(self):
        path = os.path.join(self.tmp, "out.jsonl")
        self.moved_on_sighup(["-o", path], [path])

    def test_sighup_reopens_every_file_and_per_feed_file(self):
        a = os.path.join(self.tmp, "a.jsonl")
        b = os.path.join(self.tmp, "b.jsonl")
        directory = os.path.join(self.tmp, "feeds")
        per_feed = os.path.join(directory, "f.jsonl")
        contents = self.moved_on_sighup(["-o", a, "-o", b, "--output-per-feed", directory], [a, b, per_feed])
        self.assertEqual(contents[0], contents[1])
        self.assertEqual(contents[0], contents[2])

    def test_sighup_while_stopping_is_logged_once(self):
        # /mute never answers the close handshake: the stop waits for it
        # (2 s), and SIGHUP in that time must be handled once, as before.
        server = self.start_server("beast")
        path = os.path.join(self.tmp, "out.jsonl")
        proc, out, err = self.start_wsgather("-o", path, "m=" + server.url("/mute"))
        err.wait_for(r"^\[m\] connected to ")
        proc.send_signal(signal.SIGTERM)
        err.wait_for(r"^wsgather: stopping: terminated$")
        proc.send_signal(signal.SIGHUP)
        err.wait_for(r"^wsgather: reopening output files \(SIGHUP\)$")
        self.assertEqual(self.wait_exit(proc), 0, err.lines)
        self.assertEqual(err.wait_eof(), [
            f"[m] connected to {server.url('/mute')} (conn 1)",
            "wsgather: stopping: terminated",
            "wsgather: reopening output files (SIGHUP)",
        ])


class RotateBySize(OutputFileTest):

    def test_fast_feed_rotates_between_lines(self):
        server = self.start_server("beast")
        path = os.path.join(self.tmp, "out.jsonl")
        n = 3000  # lines of about 110 bytes: 30 files or so
        before = utc_now()
        run = self.run_wsgather("--no-reconnect", "--rotate-size", "10KiB", "-o", path,
                                "r=" + server.url(f"/count?n={n}&size=20"))
        after = utc_now()
        self.assertStatus(run, 0)
        self.assertEqual(run.stdout, b"")
        rotated = self.rotated_outputs(self.tmp, "out", before, after)
        self.assertEqual(sorted(os.listdir(self.tmp)), sorted(rotated + ["out.jsonl"]))
        contents = [read_bytes(os.path.join(self.tmp, name)) for name in rotated + ["out.jsonl"]]
        self.check_size_rotation(contents, rotated + ["out.jsonl"], n, "r")

    def test_per_feed_files_rotate(self):
        server = self.start_server("beast")
        directory = os.path.join(self.tmp, "feeds")
        n = 1000
        before = utc_now()
        run = self.run_wsgather("--no-reconnect", "--rotate-size", "10KiB", "--output-per-feed", directory,
                                "a=" + server.url(f"/count?n={n}&size=20"),
                                "b=" + server.url(f"/count?n={n}&size=40"))
        after = utc_now()
        self.assertStatus(run, 0)
        self.assertEqual(run.stdout, b"")
        everything = []
        for feed in ("a", "b"):
            rotated = self.rotated_outputs(directory, feed, before, after)
            everything += rotated + [f"{feed}.jsonl"]
            names = rotated + [f"{feed}.jsonl"]
            contents = [read_bytes(os.path.join(directory, name)) for name in names]
            self.check_size_rotation(contents, names, n, feed)
        self.assertEqual(sorted(os.listdir(directory)), sorted(everything))

    def test_line_longer_than_limit_gets_a_file_of_its_own(self):
        server = self.start_server("beast")
        path = os.path.join(self.tmp, "out.jsonl")
        big = '{"pad":"%s"}' % ("x" * 20000)
        small = '{"small":"%s"}' % ("y" * 100)
        sent = [small, big, small, small, big, big, small]
        args = [a for message in sent for a in ("-s", message)]
        before = utc_now()
        run = self.run_wsgather("-n", len(sent), "--rotate-size", "10KiB", "-o", path, *args,
                                "e=" + server.url("/echo"))
        after = utc_now()
        self.assertStatus(run, 0)
        rotated = self.rotated_outputs(self.tmp, "out", before, after)
        self.assertEqual(sorted(os.listdir(self.tmp)), sorted(rotated + ["out.jsonl"]))
        files = [self.lines_of(read_bytes(os.path.join(self.tmp, name))) for name in rotated + ["out.jsonl"]]
        # The small lines before and after a big one share a file; each big line is alone.
        self.assertEqual([[line["seq"] for line in lines] for lines in files], [[1], [2], [3, 4], [5], [6], [7]])
        self.assertEqual([line["data"] for lines in files for line in lines], [
            {"small": "y" * 100}, {"pad": "x" * 20000}, {"small": "y" * 100}, {"small": "y" * 100},
            {"pad": "x" * 20000}, {"pad": "x" * 20000}, {"small": "y" * 100}])


class RotateByInterval(OutputFileTest):

    def test_rotates_every_second(self):
        server = self.start_server("beast")
        path = os.path.join(self.tmp, "out.jsonl")
        before = utc_now()
        proc, out, err = self.start_wsgather("--rotate-interval", "1s", "-o", path, "t=" + server.url(STEADY))
        # Two whole-second boundaries: nominally 1 to 2 s.
        self.wait_file(lambda: len([n for n in os.listdir(self.tmp) if ROTATED_RE.match(n)]) >= 2,
                       "2 rotated files", timeout=2 * WAIT)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(proc), 0, err.lines)
        after = utc_now()
        self.assertEqual(out.wait_eof(), b"")
        rotated = self.rotated_outputs(self.tmp, "out", before, after)
        self.assertEqual(sorted(os.listdir(self.tmp)), sorted(rotated + ["out.jsonl"]))
        self.assertGreaterEqual(len(rotated), 2)
        whole = b""
        for name in rotated + ["out.jsonl"]:
            content = read_bytes(os.path.join(self.tmp, name))
            self.assertTrue(content.endswith(b"\n"), f"{name} is empty or ends in a torn line")
            whole += content
        self.assertCountsUp(self.lines_of(whole), "t")
        stamps = [stamp_time(ROTATED_RE.match(name).group(2)) for name in rotated]
        # One rotation per interval, each at the first write after its boundary.
        seconds = [stamp.replace(microsecond=0) for stamp in stamps]
        self.assertEqual(len(set(seconds)), len(seconds), rotated)
        # Every line in a rotated file was received before it was set aside.
        for name, stamp in zip(rotated, stamps):
            for line in self.lines_of(read_bytes(os.path.join(self.tmp, name))):
                self.assertLessEqual(line_time(line["ts"]), stamp, (name, line))


@unittest.skipUnless(COMPRESS_LANDED, COMPRESS_MISSING)
class RotateCompress(OutputFileTest):

    def test_rotated_files_become_zst(self):
        server = self.start_server("beast")
        path = os.path.join(self.tmp, "out.jsonl")
        n = 3000
        before = utc_now()
        # 1 KiB: about 300 files, often many rotations per block written, so
        # that rotation runs alongside compressions that finish (and remove
        # the originals). close=none: wsgather keeps running meanwhile.
        proc, out, err = self.start_wsgather("--rotate-size", "1KiB", "--rotate-compress", "-o", path,
                                             "z=" + server.url(f"/count?n={n}&size=20&close=none"))

        def last_seq_written():
            try:
                tail = read_bytes(path).rsplit(b"\n", 2)
            except FileNotFoundError:
                return False
            return len(tail) >= 2 and tail[-2].startswith(b'{"feed":"z","seq":%d,' % n)

        self.wait_file(last_seq_written, f"line {n} in {path}")
        self.wait_file(lambda: not any(ROTATED_RE.match(name) for name in os.listdir(self.tmp)),
                       "compression of every rotated file", timeout=4 * WAIT)  # 2 fsyncs a file
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(proc), 0, err.lines)
        after = utc_now()
        self.assertEqual(out.wait_eof(), b"")
        compressed = self.rotated_outputs(self.tmp, "out", before, after, COMPRESSED_RE)
        # No uncompressed original and no temporary file is left.
        self.assertEqual(sorted(os.listdir(self.tmp)), sorted(compressed + ["out.jsonl"]))
        contents = []
        for name in compressed:
            result = subprocess.run(["zstd", "-dc", os.path.join(self.tmp, name)], stdin=subprocess.DEVNULL,
                                    capture_output=True, timeout=30)
            self.assertEqual(result.returncode, 0, (name, result.stderr))
            contents.append(result.stdout)
        contents.append(read_bytes(path))
        self.check_size_rotation(contents, compressed + ["out.jsonl"], n, "z", limit=1024)


class Misuse(OutputFileTest):

    def test_usage_errors(self):
        server = self.start_server("beast")
        url = server.url("/count?n=1")
        path = os.path.join(self.tmp, "out.jsonl")
        directory = os.path.join(self.tmp, "feeds")
        there_is_none = "rotates output files, and there is none: add -o FILE or --output-per-feed DIR"
        cases = [
            (["--rotate-size", "1MiB", url], f"wsgather: --rotate-size {there_is_none}"),
            (["--rotate-size", "1MiB", "-o", "-", url], f"wsgather: --rotate-size {there_is_none}"),
            (["--rotate-interval", "1h", "-o", "-", url], f"wsgather: --rotate-interval {there_is_none}"),
            (["--rotate-compress", "-o", path, url],
             "wsgather: --rotate-compress needs rotation to compress: add --rotate-size or --rotate-interval"),
            (["-o", path, "-o", path, url],
             f"wsgather: output file '{path}' given twice for --output: its lines would be written twice"),
            (["-o", "-", "-o", "-", url],
             "wsgather: output file '-' given twice for --output: its lines would be written twice"),
            (["-o", path, "-o", os.path.join(self.tmp, ".", "sub", "..", "out.jsonl"), url],
             f"wsgather: output file '{self.tmp}/./sub/../out.jsonl' given twice for --output (as '{path}'): "
             "its lines would be written twice"),
            (["-o", os.path.join(directory, "f.jsonl"), "--output-per-feed", directory + "/", "f=" + url],
             f"wsgather: output file '{directory}/f.jsonl' is also feed 'f''s file (--output-per-feed): "
             "its lines would be written twice"),
            (["--output-per-feed", directory, "a/b=" + url, "a_b=" + url],
             f"wsgather: feeds 'a/b' and 'a_b' would both write to '{directory}/a_b.jsonl' (--output-per-feed): "
             "give them other names"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                run = self.run_wsgather("--no-reconnect", *args)
                self.assertStatus(run, 2)
                self.assertEqual(run.err_lines, [message], run.describe())
                self.assertEqual(run.stdout, b"")
                self.assertEqual(os.listdir(self.tmp), [], "a usage error made a file")
        self.assertEqual(server.event_lines(), [])

    def test_per_feed_directory_cannot_be_made(self):
        server = self.start_server("beast")
        regular = os.path.join(self.tmp, "regular")
        with open(regular, "wb") as f:
            f.write(b"x\n")
        directory = os.path.join(regular, "feeds")
        run = self.run_wsgather("--no-reconnect", "--output-per-feed", directory, "a=" + server.url("/count?n=1"))
        self.assertStatus(run, 1)
        self.assertEqual(run.err_lines,
                         [f"wsgather: error: cannot make directory '{directory}' for --output-per-feed: "
                          "Not a directory"])
        self.assertEqual(run.stdout, b"")
        self.assertEqual(read_bytes(regular), b"x\n")
        self.assertEqual(server.event_lines(), [])


if __name__ == "__main__":
    unittest.main()
